//! Bulk user import from CSV (`casesync-server user import FILE [--dry-run]`, `POST
//! /v1/admin/import/users`): a header row naming the columns `user`, `role`,
//! `districts` (`;`-separated), `sensitive` and `password` (any order), then one user a
//! line. A dry run lists every problem by line number; a real import with any problem
//! is refused whole and stores nothing. The size and the row count are checked before
//! anything is parsed.

use casesync_core::case::Role;
use serde::{Deserialize, Serialize};

use super::{check_new_user, NewUser};
use crate::auth::hash_password;
use crate::error::AppError;
use crate::now_ms;
use crate::store::{Storage, UserRecord};

/// Largest import file, bytes.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;
/// Most users in one import (lines after the header).
pub const MAX_IMPORT_ROWS: usize = 2_000;
/// Most problems listed in one report (the count of all is given).
pub const MAX_PROBLEMS_LISTED: usize = 200;
/// The columns, as the header names them.
pub const COLUMNS: [&str; 5] = ["user", "role", "districts", "sensitive", "password"];

/// One problem of an import file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Line of the file (1: the header).
    pub line: u64,
    /// What is wrong (no password in it).
    pub message: String,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Nothing was to be stored.
    pub dry_run: bool,
    /// User lines read.
    pub rows: usize,
    /// Users stored (none on a dry run or when refused).
    pub created: Vec<String>,
    /// Every problem, by line (at most [`MAX_PROBLEMS_LISTED`]).
    pub problems: Vec<Problem>,
    /// How many problems there were in all.
    pub problem_count: usize,
}

impl ImportReport {
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

/// Checks the size and the number of lines of `bytes`, before any parsing.
fn check_bounds(bytes: &[u8]) -> Result<(), AppError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(AppError::PayloadTooLarge(MAX_IMPORT_BYTES));
    }
    // Newlines bound the records from above (a quoted field may hold one more).
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    let last_unterminated = usize::from(bytes.last().is_some_and(|b| *b != b'\n'));
    if (lines + last_unterminated).saturating_sub(1) > MAX_IMPORT_ROWS {
        return Err(AppError::BadRequest(format!(
            "import: at most {MAX_IMPORT_ROWS} users in one file"
        )));
    }
    Ok(())
}

fn parse_sensitive(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Some(false),
        "true" | "yes" | "1" => Some(true),
        _ => None,
    }
}

/// The users of an import file that passed every check, each with its line.
pub type Lines = Vec<(u64, NewUser)>;

/// The users of an import file, each with its line, and every problem found. Errors
/// only for what makes the file unreadable as a whole (size, row count, header).
pub fn parse(bytes: &[u8]) -> Result<(Lines, Vec<Problem>), AppError> {
    check_bounds(bytes)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| AppError::BadRequest(format!("import: line 1: {e}")))?
        .clone();
    let mut at = [usize::MAX; 5];
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        if let Some(c) = COLUMNS.iter().position(|c| *c == name) {
            at[c] = i;
        }
    }
    if let Some(missing) = at.iter().position(|i| *i == usize::MAX) {
        return Err(AppError::BadRequest(format!(
            "import: line 1: the header needs the columns {} (missing: {})",
            COLUMNS.join(","),
            COLUMNS[missing]
        )));
    }
    let mut users = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(Problem {
                    line,
                    message: match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
                        _ => "not a CSV line".into(),
                    },
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |c: usize| record.get(at[c]).map(str::trim);
        let (Some(user), Some(role), Some(districts), Some(sensitive), Some(password)) =
            (field(0), field(1), field(2), field(3), record.get(at[4]))
        else {
            problems.push(Problem {
                line,
                message: format!("{} columns, {} expected", record.len(), header.len()),
            });
            continue;
        };
        let Some(role) = Role::parse(&role.to_ascii_lowercase()).filter(|r| *r != Role::Agency)
        else {
            problems.push(Problem {
                line,
                message: "role: chw, coordinator or admin".into(),
            });
            continue;
        };
        let Some(sensitive) = parse_sensitive(sensitive) else {
            problems.push(Problem {
                line,
                message: "sensitive: true or false (or empty)".into(),
            });
            continue;
        };
        let new = NewUser {
            username: user.to_owned(),
            role,
            districts: districts
                .split(';')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            sensitive_access: sensitive,
            password: password.to_owned(),
            agency: None,
            time_zone: None,
        };
        match check_new_user(&new) {
            Ok(new) => {
                let key = new.username.to_ascii_lowercase();
                if let Some(first) = seen.insert(key, line) {
                    problems.push(Problem {
                        line,
                        message: format!("user {} is on line {first} already", new.username),
                    });
                    continue;
                }
                users.push((line, new));
            }
            Err(e) => problems.push(Problem {
                line,
                message: e.to_string(),
            }),
        }
    }
    Ok((users, problems))
}

/// Imports the users of a CSV file (see the module docs) into `store`: nothing stored
/// on a dry run, nor when any line has a problem (then the refusal lists them all).
/// A user that exists already is a problem of its line.
pub fn import_users(
    store: &dyn Storage,
    bytes: &[u8],
    dry_run: bool,
) -> Result<ImportReport, AppError> {
    let (users, mut problems) = parse(bytes)?;
    let rows = users.len() + problems.len();
    for (line, u) in &users {
        if store.user(&u.username)?.is_some() {
            problems.push(Problem {
                line: *line,
                message: format!("user {} exists", u.username),
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    let problem_count = problems.len();
    problems.truncate(MAX_PROBLEMS_LISTED);
    let mut report = ImportReport {
        dry_run,
        rows,
        created: Vec::new(),
        problems,
        problem_count,
    };
    if dry_run {
        return Ok(report);
    }
    if report.problem_count > 0 {
        return Err(AppError::BadRequest(format!(
            "import refused, nothing stored ({} problems):\n{}",
            report.problem_count,
            report.problems_text()
        )));
    }
    // Every check is done: hash first (the slow part), then write.
    let now = now_ms();
    let mut records = Vec::with_capacity(users.len());
    for (_, u) in users {
        records.push(UserRecord {
            password_hash: hash_password(&u.password).map_err(AppError::Internal)?,
            user_id: u.username,
            role: u.role,
            districts: u.districts,
            sensitive_access: u.sensitive_access,
            disabled: false,
            created_ms: now,
            must_change_password: false,
            time_zone: None,
            agency: None,
        });
    }
    for r in &records {
        store.put_user(r)?;
    }
    store.flush()?;
    report.created = records.into_iter().map(|r| r.user_id).collect();
    tracing::info!(
        users = report.created.len(),
        "users imported by an administrator"
    );
    Ok(report)
}
