//! Case import from CSV (issue #18): a programme's spreadsheet of existing clients, with a
//! column mapping that says which column holds which field of a case
//! (`POST /v1/cases/import/csv[?dry_run=true]`, coordinators, their districts).
//!
//! Each line becomes a whole [`Case`] that then goes the way of every import
//! (`http/cases.rs`): `CaseDoc::import`'s validation, the registration rules of the
//! importing coordinator (`scope::may_register`), one change per case bound to the
//! importing user in the audit. A dry run lists every problem by line number; a real
//! import with any problem stores nothing. Size and line count are checked before the
//! text is parsed.

use std::collections::{BTreeMap, BTreeSet};

use casesync_core::case::{Case, Client, Plan, Sex, Stage};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::admin::import::{Problem, MAX_PROBLEMS_LISTED};
use crate::error::AppError;

/// Largest CSV text of one import, bytes.
pub const MAX_CASE_CSV_BYTES: usize = 4 * 1024 * 1024;
/// Most cases in one import (lines after the header).
pub const MAX_CASE_CSV_ROWS: usize = 2_000;

/// The schema number the cases are given (`CaseDoc::import` writes today's layout and
/// refuses only numbers newer than it knows).
const CSV_CASE_SCHEMA: u32 = 1;

/// The case fields a column can fill, as the mapping names them.
pub const FIELDS: [&str; 13] = [
    "id",
    "client.name",
    "district",
    "village",
    "assigned_to",
    "sensitive",
    "stage",
    "created_at",
    "client.sex",
    "client.birth_date",
    "client.age_estimate",
    "client.phone",
    "client.language",
];
/// Fields every line must give (through a column or a default).
pub const REQUIRED: [&str; 5] = ["id", "client.name", "district", "village", "assigned_to"];

/// Which column holds which field; `defaults` gives a field one value for every line
/// (e.g. the district of a whole sheet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Field name (one of [`FIELDS`]) → column header.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Field name → value used when the line has no column (or an empty cell) for it.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

/// The body of `POST /v1/cases/import/csv`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvImport {
    /// The column mapping.
    pub mapping: Mapping,
    /// The CSV text, a header row first.
    pub csv: String,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseImportReport {
    /// Nothing was to be stored.
    pub dry_run: bool,
    /// Case lines read.
    pub rows: usize,
    /// Ids of the cases stored (none on a dry run or when refused).
    pub imported: Vec<String>,
    /// Problems by line (at most [`MAX_PROBLEMS_LISTED`]).
    pub problems: Vec<Problem>,
    /// How many problems there were in all.
    pub problem_count: usize,
}

impl CaseImportReport {
    /// A report of `rows` lines with `problems` (sorted by line and truncated here).
    pub fn new(dry_run: bool, rows: usize, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| p.line);
        let problem_count = problems.len();
        problems.truncate(MAX_PROBLEMS_LISTED);
        CaseImportReport {
            dry_run,
            rows,
            imported: Vec::new(),
            problems,
            problem_count,
        }
    }

    /// The problems as one text, a line each (`line 3: ...`).
    pub fn problems_text(&self) -> String {
        let mut out: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("line {}: {}", p.line, p.message))
            .collect();
        if self.problem_count > self.problems.len() {
            out.push(format!(
                "... {} more",
                self.problem_count - self.problems.len()
            ));
        }
        out.join("\n")
    }
}

fn problem(line: u64, message: impl Into<String>) -> Problem {
    Problem {
        line,
        message: message.into(),
    }
}

/// Checks the mapping: known fields only, every required field given a column or a
/// default. Errors name the field (the mapping is not a line of the file).
fn check_mapping(m: &Mapping) -> Result<(), AppError> {
    for f in m.columns.keys().chain(m.defaults.keys()) {
        if !FIELDS.contains(&f.as_str()) {
            return Err(AppError::BadRequest(format!(
                "mapping: unknown field {f:?} (known: {})",
                FIELDS.join(", ")
            )));
        }
    }
    for f in REQUIRED {
        if !m.columns.contains_key(f) && !m.defaults.contains_key(f) {
            return Err(AppError::BadRequest(format!(
                "mapping: the field {f} needs a column or a default"
            )));
        }
    }
    Ok(())
}

/// The good lines as `(line, case)`, and every problem by line.
pub type Parsed = (Vec<(u64, Case)>, Vec<Problem>);

/// Parses the CSV text into cases created by `user` at `now_ms`: `(line, case)` for the
/// good lines and every problem by line. Refused whole (an error, not a problem) when
/// the text is over the limits, the mapping is wrong, or the header lacks a mapped
/// column.
pub fn parse(body: &CsvImport, user: &str, now_ms: i64) -> Result<Parsed, AppError> {
    if body.csv.len() > MAX_CASE_CSV_BYTES {
        return Err(AppError::PayloadTooLarge(MAX_CASE_CSV_BYTES));
    }
    // Lines counted before parsing (a quoted cell may hold a newline: this is an upper
    // bound of the records).
    let lines = body.csv.bytes().filter(|&b| b == b'\n').count();
    if lines > MAX_CASE_CSV_ROWS + 1 {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_CASE_CSV_ROWS} cases in one import: send it in parts"
        )));
    }
    check_mapping(&body.mapping)?;
    let text = body.csv.strip_prefix('\u{feff}').unwrap_or(&body.csv);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::BadRequest(format!("line 1: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (field, column) in &body.mapping.columns {
        let at = header
            .iter()
            .position(|h| h == column.trim())
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "line 1: no column {column:?} (mapped to {field}) in the header"
                ))
            })?;
        index.insert(field.as_str(), at);
    }
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(problem(line, format!("not CSV: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |field: &str| -> Option<String> {
            index
                .get(field)
                .and_then(|&i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .or_else(|| body.mapping.defaults.get(field).cloned())
        };
        match case_of(&cell, user, now_ms) {
            Ok(case) => {
                if !ids.insert(case.id.clone()) {
                    problems.push(problem(
                        line,
                        format!("case id {} appears twice in the file", case.id),
                    ));
                } else {
                    cases.push((line, case));
                }
            }
            Err(why) => problems.push(problem(line, why)),
        }
    }
    Ok((cases, problems))
}

/// One line's case, or what is wrong with it (every problem of the line, joined).
fn case_of(cell: &dyn Fn(&str) -> Option<String>, user: &str, now_ms: i64) -> Result<Case, String> {
    let mut wrong = Vec::new();
    let mut required = |f: &str| {
        cell(f).unwrap_or_else(|| {
            wrong.push(format!("{f} is empty"));
            String::new()
        })
    };
    let id = required("id");
    let name = required("client.name");
    let district = required("district");
    let village = required("village");
    let assigned_to = required("assigned_to");
    let sensitive = match cell("sensitive")
        .as_deref()
        .map(str::to_lowercase)
        .as_deref()
    {
        None | Some("false" | "no" | "0") => false,
        Some("true" | "yes" | "1") => true,
        Some(v) => {
            wrong.push(format!("sensitive: {v:?} is not true/false"));
            false
        }
    };
    let stage = match cell("stage") {
        None => Stage::Intake,
        Some(v) => Stage::parse(&v).unwrap_or_else(|| {
            wrong.push(format!("stage: {v:?} is not a stage"));
            Stage::Intake
        }),
    };
    let mut date = |f: &str| -> Option<NaiveDate> {
        let v = cell(f)?;
        NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map_err(|_| wrong.push(format!("{f}: {v:?} is not a date (YYYY-MM-DD)")))
            .ok()
    };
    let created = date("created_at");
    let birth_date = date("client.birth_date");
    let sex = cell("client.sex").and_then(|v| {
        Sex::parse(&v.to_lowercase()).or_else(|| {
            wrong.push(format!("client.sex: {v:?} is not a sex"));
            None
        })
    });
    let age_estimate = cell("client.age_estimate").and_then(|v| {
        v.parse::<u32>()
            .map_err(|_| wrong.push(format!("client.age_estimate: {v:?} is not a number")))
            .ok()
    });
    if !wrong.is_empty() {
        return Err(wrong.join("; "));
    }
    let created_at = created
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now_ms, |t| t.and_utc().timestamp_millis());
    Ok(Case {
        schema: CSV_CASE_SCHEMA,
        id,
        created_at,
        created_by: user.to_owned(),
        district,
        village,
        assigned_to,
        sensitive,
        stage,
        client: Client {
            name,
            sex,
            birth_date,
            age_estimate,
            phone: cell("client.phone"),
            language: cell("client.language"),
            household: BTreeMap::new(),
        },
        intake: None,
        assessment: None,
        plan: Plan::default(),
        referrals: BTreeMap::new(),
        visits: BTreeMap::new(),
        closure: None,
        evaluation: None,
        activity_after_closure: false,
        distinct_from: Vec::new(),
        updated_at: now_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        let columns = [
            ("id", "Case no"),
            ("client.name", "নাম"),
            ("village", "Village"),
            ("assigned_to", "CHW"),
            ("client.birth_date", "DOB"),
            ("client.sex", "Sex"),
            ("sensitive", "Sensitive"),
        ];
        Mapping {
            columns: columns
                .iter()
                .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
                .collect(),
            defaults: [("district".to_owned(), "sylhet".to_owned())].into(),
        }
    }

    fn body(csv: &str) -> CsvImport {
        CsvImport {
            mapping: mapping(),
            csv: csv.to_owned(),
        }
    }

    #[test]
    fn lines_become_cases_in_every_script_and_problems_name_their_line() {
        let csv = "Case no,নাম,Village,CHW,DOB,Sex,Sensitive\n\
                   imp-1,রহিমা বেগম,গ্রাম,chw1,1990-04-02,female,no\n\
                   imp-2,زهرا حسینی,Hạ Long,chw1,,F,yes\n\
                   imp-3,สมศรี ใจดี,บ้านนา,chw1,02/04/1990,female,\n\
                   imp-4,Nguyễn Thị Hoa,,chw1,,,\n\
                   imp-1,again,x,chw1,,,\n";
        let (cases, problems) = parse(&body(csv), "coord", 1_700_000_000_000).expect("parsed");
        assert_eq!(cases.len(), 1, "{problems:?}");
        assert_eq!(cases[0].0, 2);
        let c = &cases[0].1;
        assert_eq!(
            (c.id.as_str(), c.client.name.as_str(), c.district.as_str()),
            ("imp-1", "রহিমা বেগম", "sylhet")
        );
        assert_eq!(c.created_by, "coord");
        assert_eq!(c.client.sex, Some(Sex::Female));
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{problems:?}");
        assert!(problems[0].message.contains("client.sex"), "{problems:?}");
        assert!(problems[1].message.contains("not a date"), "{problems:?}");
        assert!(
            problems[2].message.contains("village is empty"),
            "{problems:?}"
        );
        assert!(problems[3].message.contains("twice"), "{problems:?}");
    }

    #[test]
    fn a_wrong_mapping_or_header_or_size_is_refused_whole() {
        let mut b = body("Case no,নাম\n");
        assert!(matches!(parse(&b, "c", 0), Err(AppError::BadRequest(m)) if m.contains("line 1")));
        b.mapping
            .columns
            .insert("client.shoe_size".into(), "x".into());
        assert!(
            matches!(parse(&b, "c", 0), Err(AppError::BadRequest(m)) if m.contains("unknown field"))
        );
        let mut b = body("");
        b.mapping.defaults.clear();
        assert!(
            matches!(parse(&b, "c", 0), Err(AppError::BadRequest(m)) if m.contains("district"))
        );
        let b = body(&"\n".repeat(MAX_CASE_CSV_ROWS + 2));
        assert!(matches!(parse(&b, "c", 0), Err(AppError::BadRequest(m)) if m.contains("at most")));
        let b = body(&"a".repeat(MAX_CASE_CSV_BYTES + 1));
        assert!(matches!(
            parse(&b, "c", 0),
            Err(AppError::PayloadTooLarge(_))
        ));
    }
}
