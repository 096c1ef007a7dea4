//! Possible duplicate clients: is the person being registered (or the client of a case)
//! already one of the cases we hold? Pure functions and an in-memory index; no I/O.
//!
//! A client is compared on what a registration records ([`Person`]): name, phone, birth
//! year (from the birth date or the estimated age), sex, village and household members.
//! Each piece of evidence adds or removes points ([`score::weight`]); a pair is listed
//! from [`MATCH_THRESHOLD`] with its reasons ([`MatchReason`]: "same phone", "name in
//! another script", "same mother", and the counter-evidence such as "different phone").
//!
//! **Names** ([`normalize`]) are folded per script: Unicode NFKC; lower case; Latin and
//! Vietnamese diacritics removed (Nguyễn = nguyen, đ = d); Persian/Arabic letter variants
//! unified (ي ى → ی, ك → ک, ة → ه, أ إ آ → ا), harakat, ZWNJ/ZWJ and tatweel removed;
//! the Bengali nukta dropped (য় and য + ় alike). Across scripts they meet through a
//! transliteration key and its consonant skeleton: "করিম" → `krim` → `krm`, "Karim" →
//! `krm`; "สมชาย" → `smchay` → `smc`, "Somchai" → `smc`. Thai is first put in spoken
//! order (leading vowels after their consonant, letters silenced by ์ dropped, final
//! consonants as they sound: "จันทร์เพ็ญ" → `chanphen`). Similarity is Jaro-Winkler
//! (`strsim`), word order ignored.
//!
//! **Transliteration: `any_ascii`** rather than `deunicode`: both are small, pure-Rust,
//! table-driven and without dependencies; `any_ascii` covers more scripts and writes
//! Bengali and Thai closer to common romanisations (বেগম → `begm`, ทองดี → `thongdi`,
//! where `deunicode` gives `th\`ngdii` and doubles long vowels), which keeps the keys
//! short. ICU4X's transliterator would be more faithful but is a large dependency with
//! data to ship, too much for a phone library and a 2-core build.
//!
//! **Phones: a digit-only normaliser** ([`phone`]) rather than the `phonenumber` crate:
//! matching needs only "is this the same number", which the national significant number
//! answers (digits in any script, a known country code and the trunk `0` removed, last
//! 8 digits when one side has a code we do not know). `phonenumber` would validate and
//! format too, but brings libphonenumber's whole metadata, `regex` and a long compile
//! to the core that every phone build links.
//!
//! **Listing**: the person checked is one client, so a check lists the best candidate
//! and those within [`LIST_MARGIN`] of it ([`list_best`]), not every case from the
//! threshold: a common name in the same village (the benchmark caseload's names are
//! shared by ~6 clients per village) at an age further off is the best match's namesake.
//! Ties are all listed. Callers leave out decided pairs before the listing chooses, so a
//! weaker candidate behind a decided one still shows. Birth years one year apart count
//! more than two ([`score::weight::AGE_CLOSE_STEP`]).
//!
//! **Speed**: [`DuplicateIndex`] keeps every case prepared once and blocks on the phone's
//! last digits and each name word's skeleton (whole and first two classes), so a check
//! scores only the cases sharing a key with the query (hundreds, not all 10,000).

use std::collections::HashMap;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::case::{Case, HouseholdMember, Sex};

pub mod normalize;
pub mod phone;
pub mod score;

use score::Prepared;

/// Score from which a pair is listed as a possible duplicate.
pub const MATCH_THRESHOLD: f32 = 6.0;
/// Most matches one check returns (best first).
pub const MAX_MATCHES: usize = 10;
/// A check lists the best match and those at most this many points below it: the
/// person being checked is one client, so a candidate clearly weaker than the best is
/// that one's namesake (the same common name in the same village, an age further off),
/// not a second chance. Ties are all listed: two equally likely cases are both shown.
pub const LIST_MARGIN: f32 = 0.25;
/// Most candidates [`DuplicateIndex::candidates`] returns (the listing's input).
pub const MAX_CANDIDATES: usize = 50;

/// What a registration knows of a client, as compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Name, any script.
    pub name: String,
    /// Sex, when recorded.
    pub sex: Option<Sex>,
    /// Birth year: from the birth date, else the registration year less the age estimate.
    pub birth_year: Option<i32>,
    /// Phone number as typed.
    pub phone: Option<String>,
    /// Village.
    pub village: String,
    /// Household members (name, relation).
    pub household: Vec<HouseholdMember>,
}

/// Birth year from a birth date or an age estimated in `year` (the year of registration).
pub fn birth_year(
    birth_date: Option<chrono::NaiveDate>,
    age_estimate: Option<u32>,
    year: i32,
) -> Option<i32> {
    birth_date
        .map(|d| d.year())
        .or_else(|| age_estimate.map(|a| year - a.min(150) as i32))
}

impl Person {
    /// The client of `case` (an estimated age counts from the year the case was created).
    pub fn from_case(case: &Case) -> Self {
        let created_year =
            chrono::DateTime::from_timestamp_millis(case.created_at).map_or(1970, |t| t.year());
        Person {
            name: case.client.name.clone(),
            sex: case.client.sex,
            birth_year: birth_year(
                case.client.birth_date,
                case.client.age_estimate,
                created_year,
            ),
            phone: case.client.phone.clone(),
            village: case.village.clone(),
            household: case.client.household.values().cloned().collect(),
        }
    }
}

/// Why a pair was (or was not quite) taken for the same person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum MatchReason {
    /// The same phone number (however it was typed).
    SamePhone,
    /// The same name (after folding case, diacritics and letter variants).
    SameName,
    /// A similar name (a typo, a missing word).
    SimilarName,
    /// The same or a similar name written in another script.
    NameInAnotherScript,
    /// The same birth year.
    SameBirthYear,
    /// Birth years within the tolerance.
    AgeClose,
    /// The same village.
    SameVillage,
    /// The village spelled differently.
    SimilarVillage,
    /// A household member in common ("same mother").
    SameHouseholdMember {
        /// Their relation to the client, as written ("mother").
        relation: String,
    },
    /// Counter-evidence: both phones recorded and different.
    DifferentPhone,
    /// Counter-evidence: birth years far apart.
    AgeFarApart,
    /// Counter-evidence: both sexes recorded and different.
    DifferentSex,
    /// Counter-evidence: different villages.
    DifferentVillage,
}

impl MatchReason {
    /// Whether this speaks against the match.
    pub fn is_counter_evidence(&self) -> bool {
        matches!(
            self,
            MatchReason::DifferentPhone
                | MatchReason::AgeFarApart
                | MatchReason::DifferentSex
                | MatchReason::DifferentVillage
        )
    }

    /// A short English description ("same phone", "same mother").
    pub fn describe(&self) -> String {
        match self {
            MatchReason::SamePhone => "same phone".into(),
            MatchReason::SameName => "same name".into(),
            MatchReason::SimilarName => "similar name".into(),
            MatchReason::NameInAnotherScript => "name in another script".into(),
            MatchReason::SameBirthYear => "same birth year".into(),
            MatchReason::AgeClose => "age within 2 years".into(),
            MatchReason::SameVillage => "same village".into(),
            MatchReason::SimilarVillage => "village spelled differently".into(),
            MatchReason::SameHouseholdMember { relation } if !relation.is_empty() => {
                format!("same {relation}")
            }
            MatchReason::SameHouseholdMember { .. } => "same household member".into(),
            MatchReason::DifferentPhone => "different phone".into(),
            MatchReason::AgeFarApart => "ages far apart".into(),
            MatchReason::DifferentSex => "different sex".into(),
            MatchReason::DifferentVillage => "different village".into(),
        }
    }
}

/// A case that may be the same client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DuplicateMatch {
    /// The case.
    pub case_id: String,
    /// Its score (from [`MATCH_THRESHOLD`]; higher is likelier).
    pub score: f32,
    /// The evidence, supporting first.
    pub reasons: Vec<MatchReason>,
}

#[derive(Debug)]
struct Entry {
    id: String,
    prepared: Prepared,
    keys: Vec<String>,
}

/// The cases a check runs against, each prepared once, with blocking keys.
#[derive(Debug, Default)]
pub struct DuplicateIndex {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    blocks: HashMap<String, Vec<u32>>,
}

impl DuplicateIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of cases held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no case is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds case `id` with its client, replacing what it held for `id`.
    pub fn insert(&mut self, id: &str, person: &Person) {
        self.remove(id);
        let prepared = Prepared::new(person);
        let keys = prepared.keys();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        for k in &keys {
            self.blocks.entry(k.clone()).or_default().push(slot);
        }
        self.slots[slot as usize] = Some(Entry {
            id: id.to_owned(),
            prepared,
            keys,
        });
        self.by_id.insert(id.to_owned(), slot);
    }

    /// Removes case `id`; whether it was held.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        if let Some(entry) = self.slots[slot as usize].take() {
            for k in &entry.keys {
                if let Some(v) = self.blocks.get_mut(k) {
                    v.retain(|&s| s != slot);
                    if v.is_empty() {
                        self.blocks.remove(k);
                    }
                }
            }
        }
        self.free.push(slot);
        true
    }

    /// The held cases that may be `person`, best first, at most [`MAX_MATCHES`], never
    /// `exclude` (the case being checked itself): the candidates from
    /// [`MATCH_THRESHOLD`], listed by [`list_best`].
    pub fn check(&self, person: &Person, exclude: Option<&str>) -> Vec<DuplicateMatch> {
        let found = self.candidates(person, exclude, MATCH_THRESHOLD);
        let Ok(listed) = list_best(found, LIST_MARGIN, |_| {
            Ok::<_, std::convert::Infallible>(true)
        });
        listed
    }

    /// Every held case scoring at least `threshold` against `person`, best first (ties
    /// by id), at most [`MAX_CANDIDATES`], never `exclude`: what a listing chooses from
    /// (after leaving out the pairs a coordinator decided), and the benchmark's
    /// trade-off table.
    pub fn candidates(
        &self,
        person: &Person,
        exclude: Option<&str>,
        threshold: f32,
    ) -> Vec<DuplicateMatch> {
        let q = Prepared::new(person);
        if !q.is_matchable() {
            return Vec::new();
        }
        let mut slots: Vec<u32> = q
            .keys()
            .iter()
            .filter_map(|k| self.blocks.get(k))
            .flatten()
            .copied()
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let mut out: Vec<DuplicateMatch> = slots
            .into_iter()
            .filter_map(|s| self.slots[s as usize].as_ref())
            .filter(|e| Some(e.id.as_str()) != exclude)
            .filter_map(|e| {
                let s = score::score(&q, &e.prepared);
                (s.score >= threshold).then(|| DuplicateMatch {
                    case_id: e.id.clone(),
                    score: s.score,
                    reasons: s.reasons,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.case_id.cmp(&b.case_id))
        });
        out.truncate(MAX_CANDIDATES);
        out
    }
}

/// The listing of `found` (best first, as [`DuplicateIndex::candidates`] gives it): the
/// best candidate `keep` accepts and the accepted ones at most `margin` points below it,
/// at most [`MAX_MATCHES`]. `keep` leaves out pairs already decided (it may read them
/// from a store, hence the error); it is asked only while a candidate can still be
/// listed.
pub fn list_best<E>(
    found: Vec<DuplicateMatch>,
    margin: f32,
    mut keep: impl FnMut(&DuplicateMatch) -> Result<bool, E>,
) -> Result<Vec<DuplicateMatch>, E> {
    let mut out: Vec<DuplicateMatch> = Vec::new();
    for m in found {
        if out.len() >= MAX_MATCHES || out.first().is_some_and(|b| m.score < b.score - margin) {
            break;
        }
        if keep(&m)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// Whether a coordinator already decided about cases `a` and `b`: different people (a
/// `distinct` mark in either), or one closed as a duplicate (it left the pool of
/// clients: it is never offered again as a match). The phone's
/// `possibleDuplicatesOfCase` leaves such pairs out, as the server's review queue does.
pub fn already_decided(a: &Case, b: &Case) -> bool {
    let closed_as_duplicate = |c: &Case| {
        c.closure
            .as_ref()
            .is_some_and(|cl| cl.reason == crate::case::ClosureReason::Duplicate)
    };
    a.distinct_from.contains(&b.id)
        || b.distinct_from.contains(&a.id)
        || closed_as_duplicate(a)
        || closed_as_duplicate(b)
}

/// Scores two clients directly (no index): for explaining a pair.
pub fn compare(a: &Person, b: &Person) -> score::Scored {
    score::score(&Prepared::new(a), &Prepared::new(b))
}

#[cfg(test)]
mod tests;
