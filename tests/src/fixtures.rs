//! Case material shared by the test files: dates, new cases, visits, edit contexts.

use casesync_core::case::{EditCtx, NewCase, Role, VisitInput, VisitKind};
use chrono::NaiveDate;

/// The village of every [`new_case`].
pub const VILLAGE: &str = "বালাগঞ্জ";

/// A date from `YYYY-MM-DD`.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// A new case in [`VILLAGE`].
pub fn new_case(id: &str, district: &str, assigned: &str, name: &str, sensitive: bool) -> NewCase {
    NewCase {
        id: id.into(),
        district: district.into(),
        village: VILLAGE.into(),
        assigned_to: assigned.into(),
        sensitive,
        client_name: name.into(),
    }
}

/// A home visit on `day` (`YYYY-MM-DD`), the next one on 2025-03-01.
pub fn visit_on(notes: impl Into<String>, day: &str) -> VisitInput {
    VisitInput {
        date: date(day),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: Some(date("2025-03-01")),
    }
}

/// A home visit on 2025-02-01.
pub fn visit(notes: impl Into<String>) -> VisitInput {
    visit_on(notes, "2025-02-01")
}

/// An edit context for `user` at a fixed time.
pub fn ctx(user: &str, role: Role) -> EditCtx {
    EditCtx::new(user, role, 1_700_000_000_000)
}
