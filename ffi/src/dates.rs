//! Dates cross the FFI as `"YYYY-MM-DD"` strings.

use chrono::NaiveDate;

use crate::error::CasesyncError;

/// Formats a date as `YYYY-MM-DD`.
pub(crate) fn fmt(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Formats an optional date.
pub(crate) fn fmt_opt(d: Option<NaiveDate>) -> Option<String> {
    d.map(fmt)
}

/// Parses a `YYYY-MM-DD` date; `what` names the field in the error message.
pub(crate) fn parse(what: &str, s: &str) -> Result<NaiveDate, CasesyncError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        CasesyncError::Invalid(format!(
            "{what}: \"{s}\" is not a date (expected YYYY-MM-DD)"
        ))
    })
}

/// Parses an optional `YYYY-MM-DD` date.
pub(crate) fn parse_opt(
    what: &str,
    s: &Option<String>,
) -> Result<Option<NaiveDate>, CasesyncError> {
    s.as_deref().map(|s| parse(what, s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusal() {
        let d = parse("date", "2025-03-09").expect("valid date");
        assert_eq!(fmt(d), "2025-03-09");
        assert!(matches!(
            parse("visit date", "09/03/2025"),
            Err(CasesyncError::Invalid(m)) if m.contains("visit date")
        ));
        assert_eq!(parse_opt("d", &None).expect("none is fine"), None);
    }
}
