//! Possible duplicate clients among the cases on this phone, offline
//! (`casesync_core::dedup`): for a registration before it is created, and for an
//! existing case on demand.
//!
//! The phone keeps the cases prepared for matching in memory ([`DedupCache`]), filled at
//! the first check and brought up to date at each later one: a case is prepared again
//! when its summary's `updated_at` moved or this phone edited it, and every case when a
//! sync moved the store's cursor (a page can bring an older edit that leaves `updated_at`
//! as it was). Only cases on the phone are compared, so a match is always a case the
//! worker may read.

use std::collections::HashMap;

use casesync_core::case::{CaseSummary, HouseholdMember, Sex};
use casesync_core::dedup::{self, DuplicateIndex, MatchReason, Person};
use casesync_core::store::{DeviceStore, SummaryFilter};
use chrono::Datelike;

use crate::error::CasesyncError;
use crate::store::{lock, now_ms, CaseStore};

/// What a registration screen knows of the client being registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct RegistrationQuery {
    /// Name, any script.
    pub name: String,
    /// Sex.
    #[uniffi(default = None)]
    pub sex: Option<Sex>,
    /// Date of birth (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub birth_date: Option<chrono::NaiveDate>,
    /// Estimated age in years (used when there is no birth date).
    #[uniffi(default = None)]
    pub age_estimate: Option<u32>,
    /// Phone, as typed.
    #[uniffi(default = None)]
    pub phone: Option<String>,
    /// Village.
    #[uniffi(default = "")]
    pub village: String,
    /// Household members named so far.
    #[uniffi(default = [])]
    pub household: Vec<HouseholdMemberInput>,
}

/// A household member named at registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdMemberInput {
    /// Name, any script.
    pub name: String,
    /// Relation to the client ("mother").
    pub relation: String,
}

/// A local case that may be the same client.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PossibleDuplicate {
    /// The case as listed.
    pub summary: CaseSummary,
    /// Match score (higher is likelier; listed from the core's threshold, 6).
    pub score: f32,
    /// The evidence, supporting first ("same phone", "name in another script", ...).
    pub reasons: Vec<MatchReason>,
}

/// The phone's cases prepared for matching.
#[derive(Debug, Default)]
pub(crate) struct DedupCache {
    index: DuplicateIndex,
    /// `updated_at` of each case as prepared.
    seen: HashMap<String, i64>,
    /// The sync cursor the cache was brought up to date under.
    cursor: Option<Vec<u8>>,
}

impl DedupCache {
    /// Forgets case `id`, so the next check prepares it again (after a local edit).
    pub(crate) fn forget(&mut self, id: &str) {
        self.seen.remove(id);
    }

    /// Brings the cache up to date with `store`; the summaries of every case by id.
    fn refresh(
        &mut self,
        store: &DeviceStore,
    ) -> Result<HashMap<String, CaseSummary>, CasesyncError> {
        let cursor = store.cursor()?;
        if self.cursor.as_ref() != Some(&cursor) {
            self.seen.clear();
            self.cursor = Some(cursor);
        }
        let listing = store.list_summaries(&SummaryFilter::default())?;
        let summaries: HashMap<String, CaseSummary> = listing
            .summaries
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let gone: Vec<String> = self
            .index_ids()
            .filter(|id| !summaries.contains_key(*id))
            .map(str::to_owned)
            .collect();
        for id in gone {
            self.index.remove(&id);
            self.seen.remove(&id);
        }
        for (id, s) in &summaries {
            if self.seen.get(id) == Some(&s.updated_at) {
                continue;
            }
            // A case that cannot be read is left out of matching, never fatal (the
            // listing reports it as corrupt).
            match store.load_case(id).map(|mut d| d.read()) {
                Ok(Ok(case)) => {
                    self.index.insert(id, &Person::from_case(&case));
                    self.seen.insert(id.clone(), s.updated_at);
                }
                _ => {
                    self.index.remove(id);
                    self.seen.remove(id);
                }
            }
        }
        Ok(summaries)
    }

    fn index_ids(&self) -> impl Iterator<Item = &str> {
        self.seen.keys().map(String::as_str)
    }
}

fn person_of(q: &RegistrationQuery, year: i32) -> Result<Person, CasesyncError> {
    let birth_date = q.birth_date;
    Ok(Person {
        name: q.name.clone(),
        sex: q.sex,
        birth_year: dedup::birth_year(birth_date, q.age_estimate, year),
        phone: q.phone.clone(),
        village: q.village.clone(),
        household: q
            .household
            .iter()
            .map(|m| HouseholdMember {
                name: m.name.clone(),
                relation: m.relation.clone(),
            })
            .collect(),
    })
}

impl CaseStore {
    /// The listing for `person` (see `dedup::list_best`), leaving out the candidates
    /// `decided` says a coordinator already decided about.
    fn duplicates(
        &self,
        person: &Person,
        exclude: Option<&str>,
        mut decided: impl FnMut(&str) -> Result<bool, CasesyncError>,
    ) -> Result<Vec<PossibleDuplicate>, CasesyncError> {
        let mut cache = lock(&self.dedup);
        let summaries = cache.refresh(&self.store)?;
        let found = cache
            .index
            .candidates(person, exclude, dedup::MATCH_THRESHOLD);
        let listed = dedup::list_best(found, dedup::LIST_MARGIN, |m| {
            Ok::<_, CasesyncError>(summaries.contains_key(&m.case_id) && !decided(&m.case_id)?)
        })?;
        Ok(listed
            .into_iter()
            .filter_map(|m| {
                Some(PossibleDuplicate {
                    summary: summaries.get(&m.case_id)?.clone(),
                    score: m.score,
                    reasons: m.reasons,
                })
            })
            .collect())
    }
}

#[uniffi::export]
impl CaseStore {
    /// The cases on this phone that may be the client being registered, best first (at
    /// most 10), offline. Call it before `createCase`, from what the screen has so far.
    /// A malformed birth date is `Invalid`.
    pub fn possible_duplicates(
        &self,
        query: RegistrationQuery,
    ) -> Result<Vec<PossibleDuplicate>, CasesyncError> {
        let year = chrono::DateTime::from_timestamp_millis(now_ms()).map_or(1970, |t| t.year());
        let person = person_of(&query, year)?;
        self.duplicates(&person, None, |_| Ok(false))
    }

    /// The other cases on this phone that may be the same client as case `case_id`,
    /// best first (at most 10), without the pairs a coordinator decided (different
    /// people, or one closed as a duplicate). `NotFound` when the case is not on the
    /// phone.
    pub fn possible_duplicates_of_case(
        &self,
        case_id: String,
    ) -> Result<Vec<PossibleDuplicate>, CasesyncError> {
        let case = self.store.load_case(&case_id)?.read()?;
        // Only the candidates the listing may still take are read (at most a few).
        self.duplicates(&Person::from_case(&case), Some(&case_id), |other| {
            let other = self.store.load_case(other)?.read()?;
            Ok(dedup::already_decided(&case, &other))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_birth_date_gives_the_year_else_the_age_estimate() {
        let q = RegistrationQuery {
            name: "রহিমা খাতুন".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1990, 3, 14),
            age_estimate: Some(30),
            ..Default::default()
        };
        assert_eq!(person_of(&q, 2026).expect("valid").birth_year, Some(1990));
        let q = RegistrationQuery {
            birth_date: None,
            ..q
        };
        assert_eq!(person_of(&q, 2026).expect("valid").birth_year, Some(1996));
    }
}
