//! CSV exports of the cases in scope (with the case list's filters) and of the
//! overview's indicators.
//!
//! Cells are written by the `csv` crate (quoting, UTF-8 with a byte-order mark so
//! spreadsheet programs pick the right encoding for Bengali, Thai, Farsi and Vietnamese
//! text). Spreadsheet formula injection is defused: a text cell starting with `=`, `+`,
//! `-`, `@`, a tab or a carriage return gets a leading apostrophe.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::case_list::filtered;
use super::case_page::load_one;
use super::data::Filters;
use super::error::WebError;
use super::i18n::Tr;
use super::pages::{overview_of, scoped};
use super::session::Signed;
use super::stats::Overview;
use super::view::{fmt_date, fmt_ms};
use crate::state::AppState;

/// A cell safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return (what spreadsheets read as a formula) gets an apostrophe in front.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn csv_response(name: &str, bytes: Vec<u8>) -> Response {
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend(bytes);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn write_rows(rows: Vec<Vec<String>>) -> Result<Vec<u8>, WebError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|c| cell(c).into_owned()))
            .map_err(|e| WebError::Internal(format!("csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| WebError::Internal(format!("csv: {e}")))
}

/// A header row in the reader's language: the column `next_due` is the message
/// `csv-next-due` (English keeps these column names, for scripts).
pub fn header_row(t: &Tr, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|c| t.get(&format!("csv-{}", c.replace('_', "-"))))
        .collect()
}

/// The columns of the cases export (its English header).
pub const CASES_HEADER: [&str; 7] = [
    "id", "name", "stage", "chw", "village", "next_due", "updated",
];

/// `GET /dashboard/export/cases.csv`: the cases in scope passing the list's filters.
pub async fn cases_csv(
    State(st): State<AppState>,
    s: Signed,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    s.coordinator()?;
    let all = scoped(&st, &s).await?;
    let mut rows = vec![header_row(&s.tr(), &CASES_HEADER)];
    for l in filtered(&all, &f, &s.fmt()) {
        let c = &l.case;
        rows.push(vec![
            c.id.clone(),
            c.client.name.clone(),
            c.stage.as_str().to_owned(),
            c.assigned_to.clone(),
            c.village.clone(),
            fmt_date(c.summary().next_due).replace('—', ""),
            fmt_ms(c.updated_at),
        ]);
    }
    tracing::info!(user = %s.user.user_id, rows = rows.len() - 1, "cases exported");
    Ok(csv_response("cases.csv", write_rows(rows)?))
}

/// The columns of a case's history export: the server's record (who pushed, from which
/// device, received when; empty when not recorded) beside the device's claim.
pub const HISTORY_HEADER: [&str; 9] = [
    "hash",
    "server_user",
    "server_device",
    "received",
    "recorded",
    "claimed_user",
    "claimed_time",
    "summary",
    "fields",
];

/// `GET /dashboard/cases/{id}/history.csv`: the case's timeline, oldest first (who may
/// read the case).
pub async fn history_csv(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    s.case_reader()?;
    let (_, history) = load_one(&st, &s.user, &id).await?;
    let t = s.tr();
    let mut rows = vec![header_row(&t, &HISTORY_HEADER)];
    for h in history {
        let (user, device, received) = match &h.server {
            Some(a) => (
                a.user_id.clone(),
                a.device_id.clone(),
                fmt_ms(a.received_ms),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        rows.push(vec![
            h.claimed.hash.clone(),
            user,
            device,
            received,
            t.get(if h.server.is_some() {
                "csv-yes"
            } else {
                "csv-not-recorded"
            }),
            h.claimed.user.clone(),
            fmt_ms(h.claimed.time_ms),
            h.claimed.summary.clone(),
            h.claimed.fields.join(" "),
        ]);
    }
    tracing::info!(user = %s.user.user_id, doc = %id, rows = rows.len() - 1, "history exported");
    Ok(csv_response("history.csv", write_rows(rows)?))
}

/// The columns of the indicators export.
pub const INDICATORS_HEADER: [&str; 3] = ["indicator", "key", "value"];

/// The indicators as `indicator,key,value` rows (indicator names and keys stay the
/// stable English names; only the header row follows the language).
pub fn indicator_rows(t: &Tr, o: &Overview) -> Vec<Vec<String>> {
    let i = &o.indicators;
    let mut rows: Vec<Vec<String>> = vec![header_row(t, &INDICATORS_HEADER)];
    let mut add = |a: &str, k: &str, v: String| rows.push(vec![a.into(), k.into(), v]);
    add("on", "", i.on.to_string());
    add("total_cases", "", i.total_cases.to_string());
    add("active_cases", "", i.active_cases.to_string());
    add("new_this_month", "", i.new_this_month.to_string());
    add("closed_total", "", i.closed_total.to_string());
    add(
        "closed_with_goals_achieved",
        "",
        i.closed_with_goals_achieved.to_string(),
    );
    add("overdue_follow_ups", "", i.overdue_follow_ups.to_string());
    add(
        "median_days_intake_to_assessment",
        "",
        i.median_days_intake_to_assessment
            .map(|m| m.to_string())
            .unwrap_or_default(),
    );
    add(
        "activity_after_closure",
        "",
        i.activity_after_closure.to_string(),
    );
    add(
        "cases_with_conflicts",
        "",
        o.cases_with_conflicts.to_string(),
    );
    for (k, v) in &i.cases_by_stage {
        add("cases_by_stage", k.as_str(), v.to_string());
    }
    for (k, v) in &i.referrals_by_status {
        add("referrals_by_status", k.as_str(), v.to_string());
    }
    for (agency, by) in &i.referrals_by_agency {
        for (k, v) in by {
            add(
                "referrals_by_agency",
                &format!("{agency}/{}", k.as_str()),
                v.to_string(),
            );
        }
    }
    let opt = |m: Option<f64>| m.map(|m| m.to_string()).unwrap_or_default();
    add(
        "median_days_referral_to_accepted",
        "",
        opt(i.median_days_referral_to_accepted),
    );
    add(
        "median_days_referral_to_completed",
        "",
        opt(i.median_days_referral_to_completed),
    );
    add(
        "referrals_declined_share",
        "",
        opt(i.referrals_declined_share),
    );
    add(
        "duplicate_service_cases",
        "",
        i.duplicate_service_cases.to_string(),
    );
    for (k, v) in &o.overdue_by_worker {
        add("overdue_by_worker", k, v.to_string());
    }
    for m in &o.months {
        add("new_by_month", &m.month, m.new.to_string());
        add("closed_by_month", &m.month, m.closed.to_string());
    }
    rows
}

/// `GET /dashboard/export/indicators.csv`.
pub async fn indicators_csv(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.coordinator()?;
    let o = overview_of(&st, &s).await?;
    Ok(csv_response(
        "indicators.csv",
        write_rows(indicator_rows(&s.tr(), &o))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("নাসরিন"), "নাসরিন");
        assert_eq!(cell("a=b"), "a=b");
        let out =
            write_rows(vec![vec!["=1+1".into(), "a,\"b\"".into(), "مریم".into()]]).expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "'=1+1,\"a,\"\"b\"\"\",مریم\n"
        );
    }
}
