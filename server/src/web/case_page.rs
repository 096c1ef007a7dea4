//! The case page: the case, its timeline (who changed what, when) and the
//! coordinator's actions.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use casesync_core::case::{ClosureReason, GoalStatus, ReferralStatus, Role};

use super::case_list::{case_row, conflict_rows, CaseRow, ConflictRow};
use super::data::{self, Loaded};
use super::error::WebError;
use super::fmt::Fmt;
use super::i18n::Tr;
use super::pages::{html, scoped};
use super::session::Signed;
use super::view::Chrome;
use crate::history::{audited_history, AuditedEntry};
use crate::state::AppState;
use crate::store::UserRecord;
use crate::sync::scope::can_read;

/// A change in the case's timeline: who and when as the server recorded them (the
/// authenticated user and device, the receive time), the device's claim beside them.
/// A change stored before the server recorded audits shows the claim only, marked as
/// not recorded.
pub struct HistRow {
    /// When (UTC): received by the server; the device's claim when not recorded.
    pub when: String,
    /// Who: the authenticated user; the claimed user when not recorded.
    pub user: String,
    /// The server's record is there.
    pub recorded: bool,
    /// The device it came from (recorded only).
    pub device: String,
    /// The user the change's message names.
    pub claimed_user: String,
    /// The time the change's message carries (UTC).
    pub claimed_when: String,
    /// What the editor said it did.
    pub summary: String,
    /// Fields it touched, grouped by section (`visits: date, notes`).
    pub fields: String,
}

/// A visit, goal or referral line of the case page.
pub struct Item {
    /// Date or status shown first.
    pub head: String,
    /// User text (notes, goal text, agency).
    pub text: String,
    /// Extra detail.
    pub detail: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CaseView {
    c: Chrome,
    back: &'static str,
    row: CaseRow,
    case: casesync_core::case::Case,
    problem: String,
    visits: Vec<Item>,
    goals: Vec<Item>,
    referrals: Vec<Item>,
    closure: Option<(String, String)>,
    conflicts: Vec<ConflictRow>,
    history: Vec<HistRow>,
    chws: Vec<String>,
    reasons: Vec<&'static str>,
    today: String,
    /// The surviving case this one was closed into, when the reader may read it.
    duplicate_of: Option<String>,
    /// The cases closed as duplicates of this one, with their open items.
    merged: Vec<Merged>,
}

/// A case closed as a duplicate of the one shown: its open goals and referrals and its
/// visits, which the surviving case now carries on.
pub struct Merged {
    /// The duplicate.
    pub row: CaseRow,
    /// Its open goals, open referrals and visits.
    pub items: Vec<Item>,
}

/// `GET /dashboard/cases/{id}`: the case, its timeline, and the coordinator's actions.
pub async fn case_page(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    s.case_reader()?;
    let (loaded, history) = load_one(&st, &s.user, &id).await?;
    let in_scope = scoped(&st, &s).await?;
    let t = s.tr();
    let fm = s.fmt();
    let case = loaded.case.clone();
    let today = fm.today(crate::now_ms());
    let visits = visit_items(case.visits.values(), &t, &fm);
    let goals = goal_items(case.plan.goals.values(), &t, &fm);
    let referrals = referral_items(case.referrals.values(), &t, &fm);
    let (duplicate_of, merged) = duplicate_links(&st, &s, &in_scope, &case, today, &t, &fm)?;
    let closure = case.closure.as_ref().map(|c| {
        (
            t.args(
                "case-closed-on",
                &[
                    ("date", fm.date(c.date)),
                    ("reason", t.term("reason", c.reason.as_str())),
                ],
            ),
            c.summary.clone(),
        )
    });
    let users = st.store.users()?;
    let chws = users
        .iter()
        .filter(|u| {
            u.role == Role::Chw
                && !u.disabled
                && u.districts.contains(&case.district)
                && u.user_id != case.assigned_to
        })
        .map(|u| u.user_id.clone())
        .collect();
    let history = history
        .into_iter()
        .rev()
        .map(|h| hist_row(h, &fm, &t))
        .collect();
    html(&CaseView {
        c: Chrome::new(
            &s,
            "cases",
            format!("/dashboard/cases/{}", data::percent(&case.id)),
        ),
        back: "",
        row: case_row(&loaded, today, &fm),
        problem: case
            .intake
            .as_ref()
            .map(|i| i.presenting_problem.clone())
            .unwrap_or_default(),
        visits,
        goals,
        referrals,
        closure,
        conflicts: conflict_rows(&case, &loaded.conflicts, &fm),
        history,
        chws,
        // A duplicate is closed from the review queue, naming the surviving case.
        reasons: ClosureReason::ALL
            .iter()
            .filter(|r| **r != ClosureReason::Duplicate)
            .map(|r| r.as_str())
            .collect(),
        duplicate_of,
        merged,
        today: today.to_string(),
        case,
    })
}

fn visit_items<'a>(
    visits: impl Iterator<Item = &'a casesync_core::case::Visit>,
    t: &Tr,
    fm: &Fmt,
) -> Vec<Item> {
    let mut visits: Vec<_> = visits.collect();
    visits.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
    visits
        .into_iter()
        .map(|v| Item {
            head: format!(
                "{} · {} · {}",
                fm.date(v.date),
                t.term("visit", v.kind.as_str()),
                v.by
            ),
            text: v.notes.clone(),
            detail: v
                .next_visit_date
                .map(|d| t.arg("case-visit-next", "date", &fm.date(d)))
                .unwrap_or_default(),
        })
        .collect()
}

fn goal_items<'a>(
    goals: impl Iterator<Item = &'a casesync_core::case::Goal>,
    t: &Tr,
    fm: &Fmt,
) -> Vec<Item> {
    goals
        .map(|g| Item {
            head: t.term("goal", g.status.as_str()),
            text: g.text.clone(),
            detail: fm.date_opt(g.evaluate_by),
        })
        .collect()
}

fn referral_items<'a>(
    referrals: impl Iterator<Item = &'a casesync_core::case::Referral>,
    t: &Tr,
    fm: &Fmt,
) -> Vec<Item> {
    referrals
        .map(|r| Item {
            head: format!(
                "{} · {}",
                fm.date(r.date),
                t.term("referral", r.status.as_str())
            ),
            text: r.agency.clone(),
            detail: format!(
                "{} · {}",
                t.term("service", r.service.as_str()),
                fm.date_opt(r.follow_up_date)
            ),
        })
        .collect()
}

/// The surviving case a duplicate names (when `s` may read it), and the cases `s` may
/// read that were closed as duplicates of `case`, each with its open goals (active),
/// open referrals (made or accepted) and visits. The cases are the dashboard's read
/// model of `s`'s scope (no document is loaded).
fn duplicate_links(
    st: &AppState,
    s: &Signed,
    in_scope: &[std::sync::Arc<Loaded>],
    case: &casesync_core::case::Case,
    today: chrono::NaiveDate,
    t: &Tr,
    fm: &Fmt,
) -> Result<(Option<String>, Vec<Merged>), WebError> {
    let of = case.closure.as_ref().and_then(|c| c.duplicate_of.clone());
    let duplicate_of = match of {
        Some(of) => st
            .store
            .doc(&of)?
            .filter(|r| !r.erased && can_read(&s.user, &r.routing))
            .map(|_| of),
        None => None,
    };
    let merged = in_scope
        .iter()
        .filter(|l| {
            l.case
                .closure
                .as_ref()
                .is_some_and(|c| c.duplicate_of.as_deref() == Some(case.id.as_str()))
        })
        .map(|l| {
            let d = &l.case;
            let tag = |key: &str, items: Vec<Item>| {
                let section = t.get(key);
                items.into_iter().map(move |mut i| {
                    i.head = format!("{section} · {}", i.head);
                    i
                })
            };
            let goals = d
                .plan
                .goals
                .values()
                .filter(|g| g.status == GoalStatus::Active);
            let referrals = d
                .referrals
                .values()
                .filter(|r| matches!(r.status, ReferralStatus::Made | ReferralStatus::Accepted));
            let items = tag("case-goals", goal_items(goals, t, fm))
                .chain(tag("case-referrals", referral_items(referrals, t, fm)))
                .chain(tag("case-visits", visit_items(d.visits.values(), t, fm)))
                .collect();
            Merged {
                row: case_row(l, today, fm),
                items,
            }
        })
        .collect();
    Ok((duplicate_of, merged))
}

/// A timeline row of a change.
pub fn hist_row(h: AuditedEntry, f: &Fmt, t: &Tr) -> HistRow {
    let claimed_when = f.ms(h.claimed.time_ms);
    let (when, user, device) = match h.server {
        Some(a) => (f.ms(a.received_ms), a.user_id, a.device_id),
        None => (claimed_when.clone(), h.claimed.user.clone(), String::new()),
    };
    HistRow {
        when,
        user,
        recorded: !device.is_empty(),
        device,
        claimed_user: h.claimed.user,
        claimed_when,
        summary: h.claimed.summary,
        fields: compact_fields(&h.claimed.fields, |name| t.field(name)),
    }
}

/// Reads one case `user` may read, with its history and audit records (404 otherwise).
pub(crate) async fn load_one(
    st: &AppState,
    user: &UserRecord,
    id: &str,
) -> Result<(Loaded, Vec<AuditedEntry>), WebError> {
    let rec = st
        .store
        .doc(id)?
        .filter(|r| !r.erased)
        .ok_or(WebError::NotFound)?;
    if !can_read(user, &rec.routing) {
        return Err(WebError::NotFound);
    }
    let store = st.store.clone();
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let (l, mut doc) = data::load(store.as_ref(), &id)?.ok_or(WebError::NotFound)?;
        let history = audited_history(store.as_ref(), &id, &mut doc)?;
        Ok((l, history))
    })
    .await?
}

/// Whether a path segment is an entry id (a visit, goal, referral or household member).
fn is_entry_id(seg: &str) -> bool {
    seg.len() >= 8 && seg.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The fields a change touched, grouped by their section, entry ids left out, each name
/// shown by `label`: `visits.1f2e…9a.notes` and `visits.1f2e…9a.date` read
/// `visits: date, notes` (in English: `Visits: Date, Notes`).
pub fn compact_fields(fields: &[String], label: impl Fn(&str) -> String) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for f in fields {
        // `client.distinct:<id>` reads `client: distinct` (the other case's id is not
        // shown: the reader may not be allowed to know it).
        let segs: Vec<&str> = f
            .split('.')
            .filter(|s| !is_entry_id(s))
            .map(|s| {
                if s.starts_with(casesync_core::case::DISTINCT_PREFIX) {
                    "distinct"
                } else {
                    s
                }
            })
            .collect();
        let (section, leaf) = match segs.as_slice() {
            [] => continue,
            [one] => ((*one).to_owned(), None),
            [first, .., last] => ((*first).to_owned(), Some((*last).to_owned())),
        };
        let i = match groups.iter().position(|g| g.0 == section) {
            Some(i) => i,
            None => {
                groups.push((section, Vec::new()));
                groups.len() - 1
            }
        };
        if let Some(l) = leaf {
            if !groups[i].1.contains(&l) {
                groups[i].1.push(l);
            }
        }
    }
    groups
        .into_iter()
        .map(|(s, leaves)| {
            if leaves.is_empty() {
                label(&s)
            } else {
                let leaves: Vec<String> = leaves.iter().map(|l| label(l.as_str())).collect();
                format!("{}: {}", label(&s), leaves.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_grouped_without_entry_ids() {
        let f: Vec<String> = [
            "stage",
            "visits.533132de495ba7aa.date",
            "visits.533132de495ba7aa.notes",
            "closure.known.1ed5880ca6e0344",
            "closure.date",
            "client.distinct:demo-0042",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            compact_fields(&f, str::to_owned),
            "stage; visits: date, notes; closure: known, date; client: distinct"
        );
    }
}
