//! District indicators for coordinators.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::case::{Case, ClosureReason, ReferralStatus, Stage};

/// Indicators of a district (or of every case given) on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicators {
    /// The district, `None` for all the cases given.
    pub district: Option<String>,
    /// The date the indicators were computed for.
    pub on: NaiveDate,
    /// Cases counted (every stage).
    pub total_cases: u32,
    /// Cases in each stage; every stage is present, zero included.
    pub cases_by_stage: BTreeMap<Stage, u32>,
    /// Cases not closed.
    pub active_cases: u32,
    /// Cases whose intake date (or creation date when no intake is recorded yet) falls in
    /// the calendar month of `on`.
    pub new_this_month: u32,
    /// Closed cases.
    pub closed_total: u32,
    /// Closed cases that reached their goals: closed with reason `goals_achieved`, or
    /// evaluated with at least one goal achieved (a transfer after some goals were met
    /// counts; a case closed for another reason and not evaluated does not).
    pub closed_with_goals_achieved: u32,
    /// Follow-ups of open cases due before `on` (same list as the due follow-ups:
    /// next visit, goal evaluations, referral follow-ups, plan review).
    pub overdue_follow_ups: u32,
    /// Overdue follow-ups by assigned worker; only workers with at least one appear.
    pub overdue_by_worker: BTreeMap<String, u32>,
    /// Referrals in each status, over all counted cases (closed ones included); every
    /// status is present, zero included.
    pub referrals_by_status: BTreeMap<ReferralStatus, u32>,
    /// Median days from intake to assessment, over the cases with both dates; an
    /// assessment dated before its intake is a data-entry error and is left out. `None`
    /// when no case qualifies.
    pub median_days_intake_to_assessment: Option<f64>,
    /// Closed cases with a visit, goal or referral recorded after closure (to review).
    pub activity_after_closure: u32,
    /// Referrals by agency and status (issue #15): registered agencies by their id,
    /// every agency outside the system under [`OUTSIDE_AGENCY`]; only agencies with a
    /// referral appear, each with every status (zero included).
    #[serde(default)]
    pub referrals_by_agency: BTreeMap<String, BTreeMap<ReferralStatus, u32>>,
    /// Median days from a referral to a registered agency being made to its acceptance,
    /// over those accepted (an answer dated before the referral is left out).
    #[serde(default)]
    pub median_days_referral_to_accepted: Option<f64>,
    /// Median days from made to completed, over those completed.
    #[serde(default)]
    pub median_days_referral_to_completed: Option<f64>,
    /// Of the referrals answered (accepted, completed or declined), the share declined;
    /// `None` when none is answered.
    #[serde(default)]
    pub referrals_declined_share: Option<f64>,
    /// Cases with two or more referrals under way (made or accepted) for the same
    /// service: a possible duplicate service, for the coordinator's review.
    #[serde(default)]
    pub duplicate_service_cases: u32,
}

/// The key of [`Indicators::referrals_by_agency`] for agencies outside the system.
pub const OUTSIDE_AGENCY: &str = "-";

/// Computes the indicators of the cases in `district` (`None`: every case given) on
/// `today`.
pub fn district_indicators<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    district: Option<&str>,
    today: NaiveDate,
) -> Indicators {
    let mut out = Indicators {
        district: district.map(str::to_owned),
        on: today,
        total_cases: 0,
        cases_by_stage: Stage::ALL.iter().map(|s| (*s, 0)).collect(),
        active_cases: 0,
        new_this_month: 0,
        closed_total: 0,
        closed_with_goals_achieved: 0,
        overdue_follow_ups: 0,
        overdue_by_worker: BTreeMap::new(),
        referrals_by_status: ReferralStatus::ALL.iter().map(|s| (*s, 0)).collect(),
        median_days_intake_to_assessment: None,
        activity_after_closure: 0,
        referrals_by_agency: BTreeMap::new(),
        median_days_referral_to_accepted: None,
        median_days_referral_to_completed: None,
        referrals_declined_share: None,
        duplicate_service_cases: 0,
    };
    let mut intake_to_assessment = Vec::new();
    let (mut to_accepted, mut to_completed) = (Vec::new(), Vec::new());
    let (mut answered, mut declined) = (0u32, 0u32);
    for case in cases
        .into_iter()
        .filter(|c| district.is_none_or(|d| c.district == d))
    {
        out.total_cases += 1;
        *out.cases_by_stage.entry(case.stage).or_default() += 1;
        if let Some(start) = start_date(case) {
            if start.year() == today.year() && start.month() == today.month() {
                out.new_this_month += 1;
            }
        }
        if case.stage == Stage::Closed {
            out.closed_total += 1;
            if goals_achieved(case) {
                out.closed_with_goals_achieved += 1;
            }
        } else {
            out.active_cases += 1;
        }
        if case.activity_after_closure {
            out.activity_after_closure += 1;
        }
        let overdue = case
            .follow_up_dates()
            .iter()
            .filter(|(_, _, due)| *due < today)
            .count() as u32;
        if overdue > 0 {
            out.overdue_follow_ups += overdue;
            *out.overdue_by_worker
                .entry(case.assigned_to.clone())
                .or_default() += overdue;
        }
        for r in case.referrals.values() {
            *out.referrals_by_status.entry(r.status).or_default() += 1;
            let agency = r.agency_id.as_deref().unwrap_or(OUTSIDE_AGENCY);
            *out.referrals_by_agency
                .entry(agency.to_owned())
                .or_insert_with(|| ReferralStatus::ALL.iter().map(|s| (*s, 0)).collect())
                .entry(r.status)
                .or_default() += 1;
            if r.status != ReferralStatus::Made {
                answered += 1;
            }
            if r.status == ReferralStatus::Declined {
                declined += 1;
            }
            for (on, into) in [
                (r.accepted_on, &mut to_accepted),
                (r.completed_on, &mut to_completed),
            ] {
                if let Some(days) = on.map(|d| (d - r.date).num_days()).filter(|d| *d >= 0) {
                    into.push(days);
                }
            }
        }
        if duplicate_service(case) {
            out.duplicate_service_cases += 1;
        }
        let dates = case
            .intake
            .as_ref()
            .map(|i| i.date)
            .zip(case.assessment.as_ref().and_then(|a| a.date));
        if let Some((intake, assessed)) = dates {
            let days = (assessed - intake).num_days();
            if days >= 0 {
                intake_to_assessment.push(days);
            }
        }
    }
    out.median_days_intake_to_assessment = median(&mut intake_to_assessment);
    out.median_days_referral_to_accepted = median(&mut to_accepted);
    out.median_days_referral_to_completed = median(&mut to_completed);
    out.referrals_declined_share =
        (answered > 0).then(|| f64::from(declined) / f64::from(answered));
    out
}

/// Whether `case` has two or more referrals under way for one service.
pub fn duplicate_service(case: &Case) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    case.referrals
        .values()
        .filter(|r| r.is_active())
        .any(|r| !seen.insert(r.service))
}

/// When the case started: its intake date, else the (UTC) date it was created.
fn start_date(case: &Case) -> Option<NaiveDate> {
    case.intake
        .as_ref()
        .map(|i| i.date)
        .or_else(|| DateTime::from_timestamp_millis(case.created_at).map(|t| t.date_naive()))
}

fn goals_achieved(case: &Case) -> bool {
    case.closure
        .as_ref()
        .is_some_and(|c| c.reason == ClosureReason::GoalsAchieved)
        || case
            .evaluation
            .as_ref()
            .is_some_and(|e| e.goals_achieved > 0)
}

fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    })
}
