//! Dates the app submits as `"YYYY-MM-DD"` strings, parsed into a clear error (the
//! dates the app reads are formatted by casesync-core's `NaiveDate` custom type).

use chrono::NaiveDate;

use casesync_core::messages::Code;

use crate::error::CasesyncError;

/// Parses a `YYYY-MM-DD` date; `what` names the field in the error message.
pub(crate) fn parse(what: &str, s: &str) -> Result<NaiveDate, CasesyncError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        CasesyncError::invalid(
            Code::InputBadDate,
            vec![("field", what.into()), ("value", s.into())],
            format!("{what}: \"{s}\" is not a date (expected YYYY-MM-DD)"),
        )
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
    fn parse_and_refusal() {
        let d = parse("date", "2025-03-09").expect("valid date");
        assert_eq!(NaiveDate::from_ymd_opt(2025, 3, 9), Some(d));
        assert!(matches!(
            parse("visit date", "09/03/2025"),
            Err(e @ CasesyncError::Invalid { .. })
                if e.to_string().contains("visit date") && e.code() == "input.bad_date"
        ));
        assert_eq!(parse_opt("d", &None).expect("none is fine"), None);
    }
}
