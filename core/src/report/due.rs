//! Due follow-ups of one worker.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::case::{Case, CaseId, FollowUpKind, Stage};
use crate::store::{DeviceStore, StoreError, SummaryFilter};

/// One follow-up a worker has to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FollowUp {
    /// The case.
    pub case_id: CaseId,
    /// The client's name.
    pub client_name: String,
    /// What is due.
    pub kind: FollowUpKind,
    /// The visit, goal or referral the date belongs to (empty for the plan review).
    pub item_id: String,
    /// When it is (or was) due.
    pub due: NaiveDate,
    /// Days since it was due: positive when overdue, 0 when due today, negative when due
    /// in the future.
    pub days_overdue: i64,
    /// The case's village (workers plan their day by village).
    pub village: String,
}

/// [`due_follow_ups`] over the cases on a device: the store's index narrows them to
/// `worker`'s cases with a follow-up on or before `on + horizon_days` (a summary's
/// `next_due` is its case's earliest open follow-up), and only those are loaded.
pub fn due_on_device(
    store: &DeviceStore,
    worker: &str,
    on: NaiveDate,
    horizon_days: u32,
) -> Result<Vec<FollowUp>, StoreError> {
    let until = on
        .checked_add_days(Days::new(u64::from(horizon_days)))
        .unwrap_or(NaiveDate::MAX);
    let filter = SummaryFilter {
        assigned_to: Some(worker.to_owned()),
        due_on_or_before: Some(until),
        ..Default::default()
    };
    let cases = store
        .list_summaries(&filter)?
        .summaries
        .iter()
        .map(|s| Ok(store.load_case(&s.id)?.read()?))
        .collect::<Result<Vec<Case>, StoreError>>()?;
    Ok(due_follow_ups(&cases, worker, on, horizon_days))
}

/// The follow-ups of the open cases assigned to `worker` that are due on or before
/// `on + horizon_days` (every overdue one included, however old).
///
/// Sorted overdue first, most overdue first, then by due date, then by client name
/// (ties broken by case id, kind and item id so the order is fully deterministic).
/// Closed cases contribute nothing, whatever their stored dates.
pub fn due_follow_ups<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    worker: &str,
    on: NaiveDate,
    horizon_days: u32,
) -> Vec<FollowUp> {
    let until = on
        .checked_add_days(Days::new(u64::from(horizon_days)))
        .unwrap_or(NaiveDate::MAX);
    let mut out: Vec<FollowUp> = cases
        .into_iter()
        .filter(|c| c.assigned_to == worker && c.stage != Stage::Closed)
        .flat_map(|c| {
            c.follow_up_dates()
                .into_iter()
                .filter(|(_, _, due)| *due <= until)
                .map(move |(kind, item_id, due)| FollowUp {
                    case_id: c.id.clone(),
                    client_name: c.client.name.clone(),
                    kind,
                    item_id,
                    due,
                    days_overdue: (on - due).num_days(),
                    village: c.village.clone(),
                })
        })
        .collect();
    out.sort_by(|a, b| {
        // Ascending due date puts the most overdue first and future ones last.
        a.due
            .cmp(&b.due)
            .then_with(|| a.client_name.cmp(&b.client_name))
            .then_with(|| a.case_id.cmp(&b.case_id))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.item_id.cmp(&b.item_id))
    });
    out
}
