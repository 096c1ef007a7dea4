//! Listing cases from the summary index: filters and order.

use chrono::NaiveDate;

use crate::case::{CaseSummary, Stage};

/// Which cases to list. Every field set must match (an empty filter lists everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryFilter {
    /// Only cases in this stage.
    pub stage: Option<Stage>,
    /// Only cases in this village (exact match).
    pub village: Option<String>,
    /// Only cases assigned to this user id.
    pub assigned_to: Option<String>,
    /// Only cases with a follow-up due on or before this date.
    pub due_on_or_before: Option<NaiveDate>,
    /// Only cases whose client name contains this text, ignoring case.
    pub text: Option<String>,
}

impl SummaryFilter {
    /// Whether `s` passes this filter. `text_lower` is `self.text` in lower case.
    fn matches(&self, s: &CaseSummary, text_lower: Option<&str>) -> bool {
        self.stage.is_none_or(|st| s.stage == st)
            && self.village.as_deref().is_none_or(|v| s.village == v)
            && self
                .assigned_to
                .as_deref()
                .is_none_or(|a| s.assigned_to == a)
            && self
                .due_on_or_before
                .is_none_or(|d| s.next_due.is_some_and(|due| due <= d))
            && text_lower.is_none_or(|t| s.name.to_lowercase().contains(t))
    }
}

/// The result of listing: every readable matching summary, and the ids of cases whose
/// summary record could not be read (so one bad record never hides the others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Listing {
    /// Matching summaries, by next due date (none last), then name, then id.
    pub summaries: Vec<CaseSummary>,
    /// Cases whose summary record is corrupt, in id order.
    pub corrupt: Vec<String>,
}

/// Keeps the summaries that pass `filter` and sorts them for display.
pub(crate) fn select(mut all: Vec<CaseSummary>, filter: &SummaryFilter) -> Vec<CaseSummary> {
    let text = filter.text.as_deref().map(str::to_lowercase);
    all.retain(|s| filter.matches(s, text.as_deref()));
    all.sort_by(|a, b| {
        let due = match (a.next_due, b.next_due) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        due.then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    all
}
