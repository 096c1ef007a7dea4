//! Possible duplicate clients on the server (issue #15 §1): the review queue's pairs and
//! the coordinator's two decisions.
//!
//! **Where matches are checked.** Each district's cases, as the dashboard's
//! [`CaseCache`](super::data::CaseCache) holds them, are kept in a
//! [`DuplicateIndex`] ([`Dups`]): built when the district is first read, then every case
//! the change log names (created by a push, `POST /v1/cases`, an import or the
//! dashboard; edited; closed; erased) is taken out and checked again against the others
//! before it goes back in. So every new case is checked against its district, and the
//! pairs found are kept with their score and reasons. Nothing of the queue is stored:
//! it is derived from the cases, and a decision lives in the case documents.
//!
//! **Who sees a pair.** A coordinator of the district, when they may read both cases
//! (a sensitive case only with sensitive access); a pair one of whose cases lists the
//! other in `distinct_from` is not shown; a case closed as a duplicate leaves the index.
//!
//! **The decisions** (coordinators, CSRF-checked like every dashboard action):
//! `POST /dashboard/duplicates/same` closes `close` as a duplicate of `keep`
//! ([`CaseDoc::close_as_duplicate`](casesync_core::case::CaseDoc::close_as_duplicate));
//! `POST /dashboard/duplicates/distinct` records each of `a`, `b` in the other's
//! `distinct_from` ([`CaseDoc::mark_distinct`](casesync_core::case::CaseDoc::mark_distinct)).
//! Both go through the sync engine, so they are in the timeline and reach the phones.
//! A pair that is not in the queue now (already decided, or no longer a match) is
//! refused with 409 and nothing changes; unknown or unreadable ids are 404.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Redirect;
use axum::Form;
use casesync_core::case::{validate_case_id, Case, ClosureReason};
use casesync_core::dedup::{
    self, DuplicateIndex, MatchReason, Person, LIST_MARGIN, MATCH_THRESHOLD,
};
use chrono::NaiveDate;
use serde::Deserialize;

use super::actions::write_case;
use super::case_list::{case_row, CaseRow};
use super::data::Loaded;
use super::error::WebError;
use super::fmt::Fmt;
use super::i18n::Tr;
use super::session::Signed;
use crate::state::AppState;
use crate::store::{Routing, UserRecord};
use crate::sync::scope::can_read;

/// Most characters of the summary written on a duplicate closure.
pub const MAX_DUPLICATE_SUMMARY: usize = 2_000;
/// Most pairs the review page lists (best first); the rest wait for these.
pub const MAX_SHOWN_PAIRS: usize = 100;

/// Whether `case` was closed as a duplicate (it then leaves the index).
fn closed_as_duplicate(case: &Case) -> bool {
    case.closure
        .as_ref()
        .is_some_and(|c| c.reason == ClosureReason::Duplicate)
}

/// The routing fields of a case as read.
fn routing_of(case: &Case) -> Routing {
    Routing {
        district: case.district.clone(),
        assigned_to: case.assigned_to.clone(),
        sensitive: case.sensitive,
    }
}

#[derive(Debug, Clone)]
struct Found {
    score: f32,
    reasons: Vec<MatchReason>,
}

/// One district's cases prepared for matching, and the pairs found (by ids, the smaller
/// first).
#[derive(Debug, Default)]
pub struct Dups {
    index: DuplicateIndex,
    /// The client of each case held, as last checked.
    persons: HashMap<String, Person>,
    pairs: BTreeMap<(String, String), Found>,
}

fn pair_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

impl Dups {
    /// Takes case `id` out: of the index and of every pair.
    pub fn remove(&mut self, id: &str) {
        if self.persons.remove(id).is_some() {
            self.index.remove(id);
            self.pairs.retain(|(a, b), _| a != id && b != id);
        }
    }

    /// Checks `case` (new or changed) against the others, then holds it (unless closed
    /// as a duplicate). One [`DuplicateIndex::check`]: the cases sharing a blocking key
    /// with it are scored, not the whole district. A case whose client reads as it did
    /// (a visit, a goal, a note) keeps its pairs without a check.
    pub fn update(&mut self, case: &Case) {
        let person = (!closed_as_duplicate(case)).then(|| Person::from_case(case));
        if let (Some(p), Some(held)) = (&person, self.persons.get(&case.id)) {
            if p == held {
                return;
            }
        }
        self.remove(&case.id);
        let Some(person) = person else {
            return;
        };
        // The pairs decided "different people" stay out before the listing picks the
        // best (the marks are in both documents), so a weaker candidate behind a decided
        // one is still listed.
        let found = self
            .index
            .candidates(&person, Some(&case.id), MATCH_THRESHOLD);
        let listed = dedup::list_best(found, LIST_MARGIN, |m| {
            Ok::<_, std::convert::Infallible>(!case.distinct_from.contains(&m.case_id))
        });
        let Ok(listed) = listed;
        for m in listed {
            self.pairs.insert(
                pair_key(&case.id, &m.case_id),
                Found {
                    score: m.score,
                    reasons: m.reasons,
                },
            );
        }
        self.index.insert(&case.id, &person);
        self.persons.insert(case.id.clone(), person);
    }

    /// The pairs `user` may see among `docs` (the district's cases).
    pub fn pairs_in(
        &self,
        docs: &BTreeMap<String, Arc<Loaded>>,
        user: &UserRecord,
    ) -> Vec<DupPair> {
        self.pairs
            .iter()
            .filter_map(|((a, b), f)| {
                let (la, lb) = (docs.get(a)?, docs.get(b)?);
                let readable = |l: &Loaded| can_read(user, &routing_of(&l.case));
                if !readable(la) || !readable(lb) {
                    return None;
                }
                if la.case.distinct_from.contains(b) || lb.case.distinct_from.contains(a) {
                    return None;
                }
                let (newer, older) = if (la.case.created_at, a) >= (lb.case.created_at, b) {
                    (la.clone(), lb.clone())
                } else {
                    (lb.clone(), la.clone())
                };
                Some(DupPair {
                    newer,
                    older,
                    score: f.score,
                    reasons: f.reasons.clone(),
                })
            })
            .collect()
    }
}

/// A pair in the review queue.
#[derive(Debug, Clone)]
pub struct DupPair {
    /// The case registered later (by default the one closed).
    pub newer: Arc<Loaded>,
    /// The other.
    pub older: Arc<Loaded>,
    /// Match score.
    pub score: f32,
    /// The evidence.
    pub reasons: Vec<MatchReason>,
}

impl DupPair {
    /// Whether this is the pair of `a` and `b` (either order).
    pub fn is(&self, a: &str, b: &str) -> bool {
        let (n, o) = (self.newer.case.id.as_str(), self.older.case.id.as_str());
        (n == a && o == b) || (n == b && o == a)
    }
}

/// The open pairs `s` may see (blocking work on a blocking task).
pub(crate) async fn pairs_for(st: &AppState, s: &Signed) -> Result<Vec<DupPair>, WebError> {
    let engine = st.engine.clone();
    let web = s.web.clone();
    let user = s.user.clone();
    Ok(tokio::task::spawn_blocking(move || web.cache.duplicates_for(&engine, &user)).await??)
}

/// Checks both ids, that `s` may read both (404 otherwise), and that they are an open
/// pair of the queue (409 otherwise: decided already, or no longer a match).
async fn open_pair(st: &AppState, s: &Signed, a: &str, b: &str) -> Result<(), WebError> {
    for id in [a, b] {
        validate_case_id(id).map_err(|e| WebError::BadRequest(e.to_string()))?;
    }
    if a == b {
        return Err(WebError::BadRequest(
            "two different cases are needed".into(),
        ));
    }
    for id in [a, b] {
        st.store
            .doc(id)?
            .filter(|r| !r.erased && can_read(&s.user, &r.routing))
            .ok_or(WebError::NotFound)?;
    }
    if !pairs_for(st, s).await?.iter().any(|p| p.is(a, b)) {
        return Err(WebError::Refused(
            "these two cases are not an open possible duplicate (decided already?)".into(),
        ));
    }
    Ok(())
}

/// The "same person" form.
#[derive(Debug, Deserialize)]
pub struct SameForm {
    #[serde(default)]
    csrf: String,
    /// The surviving case.
    #[serde(default)]
    keep: String,
    /// The case closed as its duplicate.
    #[serde(default)]
    close: String,
    #[serde(default)]
    summary: String,
}

/// `POST /dashboard/duplicates/same`: `close` is closed as a duplicate of `keep`.
pub async fn same_person(
    State(st): State<AppState>,
    s: Signed,
    Form(f): Form<SameForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    if f.summary.chars().count() > MAX_DUPLICATE_SUMMARY {
        return Err(WebError::BadRequest("summary too long".into()));
    }
    open_pair(&st, &s, &f.keep, &f.close).await?;
    let keep = f.keep.clone();
    let summary = f.summary.clone();
    let date = super::data::today();
    write_case(
        &st,
        &s.user,
        &f.close,
        "close as duplicate",
        move |doc, ctx| doc.close_as_duplicate(ctx, &keep, date, &summary),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/dashboard/cases/{}",
        super::data::percent(&f.keep)
    )))
}

/// The "different people" form.
#[derive(Debug, Deserialize)]
pub struct DistinctForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

/// `POST /dashboard/duplicates/distinct`: `a` and `b` are recorded as different people
/// (in both documents).
pub async fn different_people(
    State(st): State<AppState>,
    s: Signed,
    Form(f): Form<DistinctForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    open_pair(&st, &s, &f.a, &f.b).await?;
    for (this, other) in [(&f.a, &f.b), (&f.b, &f.a)] {
        let other = other.clone();
        write_case(&st, &s.user, this, "mark distinct", move |doc, ctx| {
            doc.mark_distinct(ctx, &other)
        })
        .await?;
    }
    Ok(Redirect::to("/dashboard/review"))
}

/// A pair as the review page shows it.
pub struct DupRow {
    /// The case registered later.
    pub newer_id: String,
    /// The other.
    pub older_id: String,
    /// Both, the newer first.
    pub sides: Vec<CaseRow>,
    /// Score, formatted.
    pub score: String,
    /// Reasons, translated (supporting first).
    pub reasons: Vec<String>,
    /// Label of "same person, keep the older".
    pub keep_older: String,
    /// Label of "same person, keep the newer".
    pub keep_newer: String,
}

/// A reason in the reader's language (`match-<reason>`).
pub fn reason_text(t: &Tr, r: &MatchReason) -> String {
    let key = match r {
        MatchReason::SameHouseholdMember { relation } => {
            return t.arg("match-same_household_member", "relation", relation)
        }
        MatchReason::SamePhone => "same_phone",
        MatchReason::SameName => "same_name",
        MatchReason::SimilarName => "similar_name",
        MatchReason::NameInAnotherScript => "name_in_another_script",
        MatchReason::SameBirthYear => "same_birth_year",
        MatchReason::AgeClose => "age_close",
        MatchReason::SameVillage => "same_village",
        MatchReason::SimilarVillage => "similar_village",
        MatchReason::DifferentPhone => "different_phone",
        MatchReason::AgeFarApart => "age_far_apart",
        MatchReason::DifferentSex => "different_sex",
        MatchReason::DifferentVillage => "different_village",
    };
    t.get(&format!("match-{key}"))
}

/// The review page's rows (at most [`MAX_SHOWN_PAIRS`]).
pub(crate) fn dup_rows(pairs: &[DupPair], t: &Tr, today: NaiveDate, f: &Fmt) -> Vec<DupRow> {
    pairs
        .iter()
        .take(MAX_SHOWN_PAIRS)
        .map(|p| {
            let (n, o) = (p.newer.case.id.clone(), p.older.case.id.clone());
            let label = |keep: &str, close: &str| {
                t.args(
                    "review-same-person",
                    &[("keep", keep.to_owned()), ("close", close.to_owned())],
                )
            };
            DupRow {
                keep_older: label(&o, &n),
                keep_newer: label(&n, &o),
                sides: vec![case_row(&p.newer, today, f), case_row(&p.older, today, f)],
                score: t.arg("review-score", "score", &f.dec(f64::from(p.score))),
                reasons: p.reasons.iter().map(|r| reason_text(t, r)).collect(),
                newer_id: n,
                older_id: o,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
