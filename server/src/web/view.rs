//! What every page template shares: the frame ([`Chrome`]) and small formatting helpers
//! for dates and for user-written text in any script.

use casesync_core::case::Role;
use chrono::NaiveDate;

use super::fmt::Fmt;
use super::i18n::Tr;
use super::session::Signed;

/// The page frame: navigation, the signed-in user, the sign-out form's CSRF token.
pub struct Chrome {
    /// The translator.
    pub t: Tr,
    /// Dates, times and numbers.
    pub f: Fmt,
    /// The signed-in user.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// This session's CSRF token (every POST form carries it).
    pub csrf: String,
    /// The navigation entry of this page.
    pub active: &'static str,
    /// This page's path (language links point back here).
    pub path: String,
}

impl Chrome {
    /// The frame of a page at `path` for `s`.
    pub fn new(s: &Signed, active: &'static str, path: impl Into<String>) -> Self {
        Chrome {
            t: s.tr(),
            f: s.fmt(),
            user: s.user.user_id.clone(),
            role: s.user.role,
            csrf: s.session.csrf.clone(),
            active,
            path: path.into(),
        }
    }

    /// The user is a coordinator (sees the coordinator-only entries and actions).
    pub fn coordinator(&self) -> bool {
        self.role == Role::Coordinator
    }

    /// The user is an admin (sees the users page only).
    pub fn admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The user is an agency's staff (sees their agency's referrals only).
    pub fn agency(&self) -> bool {
        self.role == Role::Agency
    }

    /// `class="on"` for the active navigation entry.
    pub fn on(&self, entry: &str) -> &'static str {
        if self.active == entry {
            "on"
        } else {
            ""
        }
    }
}

/// Languages written right to left, by BCP 47 primary subtag.
const RTL: &[&str] = &["ar", "fa", "he", "ps", "ur", "ckb", "dv", "sd", "yi"];

/// The `dir` of user text in `lang` (a client's language code): `rtl` when the language
/// is written right to left, else `auto` (the browser follows the first strong letter).
pub fn dir_of(lang: Option<&str>) -> &'static str {
    let primary = lang
        .and_then(|l| l.split(['-', '_']).next())
        .map(str::to_ascii_lowercase);
    match primary {
        Some(p) if RTL.contains(&p.as_str()) => "rtl",
        _ => "auto",
    }
}

/// A `lang` attribute value for user text (empty when unknown: the page's language
/// then applies, which is harmless for names in another script).
pub fn lang_of(lang: Option<&str>) -> String {
    lang.filter(|l| {
        !l.is_empty() && l.len() <= 35 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
    .unwrap_or_default()
    .to_owned()
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the Unix epoch.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// `YYYY-MM-DD` of an optional date, or the "none" mark.
pub fn fmt_date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

/// A conflict value as text (`null`, an object written twice, has no text).
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_follows_the_language() {
        assert_eq!(dir_of(Some("fa")), "rtl");
        assert_eq!(dir_of(Some("fa-IR")), "rtl");
        assert_eq!(dir_of(Some("bn")), "auto");
        assert_eq!(dir_of(None), "auto");
        assert_eq!(lang_of(Some("th")), "th");
        assert_eq!(lang_of(Some("x\" onload=")), "");
    }
}
