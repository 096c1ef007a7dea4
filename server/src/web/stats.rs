//! The overview's numbers, computed once for the page, the JSON and the CSV export:
//! [`casesync_core::report::district_indicators`] over the cases in the user's scope, a
//! month-by-month series of new and closed cases, and the overdue follow-ups of every
//! health worker of the user's districts (zero included).

use std::collections::BTreeMap;

use casesync_core::case::{Case, Role, Stage};
use casesync_core::report::{district_indicators, Indicators};
use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use crate::store::UserRecord;

/// Months in the new-versus-closed series (the current one included).
pub const MONTHS: u32 = 6;

/// New and closed cases of one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    /// Cases whose intake (or, without one, creation) falls in the month.
    pub new: u32,
    /// Closed cases whose closure date falls in the month.
    pub closed: u32,
}

/// Everything the overview shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// The core's indicators over the cases in scope.
    pub indicators: Indicators,
    /// New and closed per month, oldest first.
    pub months: Vec<MonthCount>,
    /// Overdue follow-ups of every health worker of the user's districts (zero
    /// included), and of any other assignee with overdue ones.
    pub overdue_by_worker: BTreeMap<String, u32>,
    /// Cases with conflicting edits.
    pub cases_with_conflicts: u32,
}

/// The health workers of `user`'s districts (a CHW: themselves), by id.
pub fn workers_of(user: &UserRecord, users: &[UserRecord]) -> Vec<String> {
    let mut out: Vec<String> = match user.role {
        Role::Chw => vec![user.user_id.clone()],
        Role::Admin | Role::Agency => Vec::new(),
        Role::Coordinator => users
            .iter()
            .filter(|u| {
                u.role == Role::Chw && u.districts.iter().any(|d| user.districts.contains(d))
            })
            .map(|u| u.user_id.clone())
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// The first day of the month `back` months before `today`'s.
fn month_start(today: NaiveDate, back: u32) -> NaiveDate {
    let first = today.with_day(1).unwrap_or(today);
    first.checked_sub_months(Months::new(back)).unwrap_or(first)
}

/// Computes the overview of `cases` (already limited to the user's scope).
pub fn overview(cases: &[&Case], conflicts: u32, workers: &[String], today: NaiveDate) -> Overview {
    let indicators = district_indicators(cases.iter().copied(), None, today);
    let months = (0..MONTHS)
        .rev()
        .map(|back| {
            let start = month_start(today, back);
            let new = district_indicators(cases.iter().copied(), None, start).new_this_month;
            let closed = cases
                .iter()
                .filter(|c| c.stage == Stage::Closed)
                .filter_map(|c| c.closure.as_ref())
                .filter(|cl| cl.date.year() == start.year() && cl.date.month() == start.month())
                .count() as u32;
            MonthCount {
                month: start.format("%Y-%m").to_string(),
                new,
                closed,
            }
        })
        .collect();
    let mut overdue_by_worker: BTreeMap<String, u32> =
        workers.iter().map(|w| (w.clone(), 0)).collect();
    for (w, n) in &indicators.overdue_by_worker {
        overdue_by_worker.insert(w.clone(), *n);
    }
    Overview {
        indicators,
        months,
        overdue_by_worker,
        cases_with_conflicts: conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_back_from_this_one() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 31).expect("date");
        assert_eq!(month_start(d, 0).to_string(), "2025-03-01");
        assert_eq!(month_start(d, 3).to_string(), "2024-12-01");
        let o = overview(&[], 0, &["chw1".into()], d);
        assert_eq!(o.months.len(), MONTHS as usize);
        assert_eq!(o.months[0].month, "2024-10");
        assert_eq!(o.months[5].month, "2025-03");
        assert_eq!(o.overdue_by_worker.get("chw1"), Some(&0));
    }
}
