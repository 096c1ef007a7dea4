//! Comparing two prepared clients: similarities, weights, reasons.

use std::collections::HashSet;

use strsim::jaro_winkler;

use super::normalize::{self, Script, Word};
use super::phone;
use super::{MatchReason, Person};
use crate::case::Sex;

/// Years two birth years may differ and still count as the same person's (ages are often
/// estimated, and a registration a year later adds one).
pub const AGE_TOLERANCE_YEARS: u32 = 2;
/// Beyond this many years apart two birth years count against a match.
pub const AGE_FAR_YEARS: u32 = 5;

/// Name similarity from which a name counts as the same.
pub const SAME_NAME: f32 = 0.95;
/// Name similarity from which a name counts as similar (a typo, a transliteration).
pub const SIMILAR_NAME: f32 = 0.86;
/// Name similarity from which a name is still weak evidence.
pub const WEAK_NAME: f32 = 0.78;
/// Similarity given to two words whose consonant skeletons are equal (and not too short
/// to mean anything): "Karim" and "করিম" are both `krm`.
pub const SKELETON_EQUAL: f32 = 0.93;
/// Skeletons shorter than this are not compared (the words' own letters are).
pub const MIN_SKELETON: usize = 2;
/// A name with fewer words than the other scores this share of its word match.
pub const FEWER_WORDS_FACTOR: f32 = 0.92;
/// Village similarity from which two villages count as the same.
pub const SAME_VILLAGE: f32 = 0.95;
/// Village similarity from which two villages count as similarly spelled.
pub const SIMILAR_VILLAGE: f32 = 0.85;
/// Similarity from which two household members' names count as the same.
pub const SAME_MEMBER: f32 = 0.9;

/// Weights of the evidence (log-odds-like points; a pair is listed from
/// [`super::MATCH_THRESHOLD`]).
pub mod weight {
    /// Same name.
    pub const SAME_NAME: f32 = 4.0;
    /// Similar name.
    pub const SIMILAR_NAME: f32 = 2.5;
    /// Weakly similar name.
    pub const WEAK_NAME: f32 = 0.5;
    /// Names that do not match.
    pub const OTHER_NAME: f32 = -4.0;
    /// Same phone number.
    pub const SAME_PHONE: f32 = 5.0;
    /// Different phone numbers (phones change, so not decisive).
    pub const DIFFERENT_PHONE: f32 = -3.0;
    /// Same birth year.
    pub const SAME_BIRTH_YEAR: f32 = 2.0;
    /// Birth years a year apart (within the tolerance, each further year counts
    /// [`AGE_CLOSE_STEP`] less: the closer two estimated ages, the likelier one person).
    pub const AGE_CLOSE: f32 = 1.5;
    /// What each year apart beyond the first takes from [`AGE_CLOSE`].
    pub const AGE_CLOSE_STEP: f32 = 0.5;
    /// Birth years far apart.
    pub const AGE_FAR: f32 = -4.0;
    /// Both sexes recorded and different.
    pub const DIFFERENT_SEX: f32 = -5.0;
    /// Same village.
    pub const SAME_VILLAGE: f32 = 1.5;
    /// Similarly spelled village.
    pub const SIMILAR_VILLAGE: f32 = 1.0;
    /// Different villages (people move: weak).
    pub const DIFFERENT_VILLAGE: f32 = -1.0;
    /// Each household member in common (at most [`MAX_MEMBER_POINTS`] in all).
    pub const SAME_MEMBER: f32 = 2.0;
    /// Most points household members add.
    pub const MAX_MEMBER_POINTS: f32 = 4.0;
}

/// A household member prepared for comparison.
#[derive(Debug, Clone)]
pub struct PreparedMember {
    words: Vec<Word>,
    /// Relation, folded ("mother").
    relation: String,
    /// Relation as written (for the reason).
    relation_text: String,
}

/// A client prepared for comparison (computed once per case by the index).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) name: Vec<Word>,
    name_latin_joined: String,
    pub(crate) phone: Option<String>,
    birth_year: Option<i32>,
    sex: Option<Sex>,
    village: Vec<Word>,
    village_latin_joined: String,
    household: Vec<PreparedMember>,
}

/// Most household members looked at.
pub const MAX_MEMBERS: usize = 20;

fn joined(words: &[Word]) -> String {
    words.iter().map(|w| w.latin.as_str()).collect()
}

impl Prepared {
    /// Prepares `p`.
    pub fn new(p: &Person) -> Self {
        let name = normalize::words(&p.name);
        let village = normalize::village_words(&p.village);
        Prepared {
            name_latin_joined: joined(&name),
            name,
            phone: p.phone.as_deref().and_then(phone::national_number),
            birth_year: p.birth_year,
            sex: p.sex.filter(|s| *s != Sex::Unknown),
            village_latin_joined: joined(&village),
            village,
            household: p
                .household
                .iter()
                .take(MAX_MEMBERS)
                .map(|m| PreparedMember {
                    words: normalize::words(&m.name),
                    relation: normalize::fold_words(&m.relation).join(" "),
                    relation_text: m.relation.trim().to_owned(),
                })
                .filter(|m| !m.words.is_empty())
                .collect(),
        }
    }

    /// Whether there is anything to match on (a name or a phone).
    pub fn is_matchable(&self) -> bool {
        !self.name.is_empty() || self.phone.is_some()
    }

    /// Blocking keys: a candidate shares at least one with its query.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = HashSet::new();
        if let Some(p) = &self.phone {
            keys.insert(format!("p{}", phone::tail(p)));
        }
        for w in &self.name {
            if w.skeleton.is_empty() {
                keys.insert(format!("l{}", w.latin));
            } else {
                keys.insert(format!("s{}", w.skeleton));
                let prefix: String = w.skeleton.chars().take(2).collect();
                keys.insert(format!("k{prefix}"));
            }
        }
        keys.into_iter().collect()
    }
}

fn word_sim(a: &Word, b: &Word) -> f32 {
    let mut s = jaro_winkler(&a.latin, &b.latin) as f32;
    if a.script == b.script && a.script != Script::Latin {
        s = s.max(jaro_winkler(&a.native, &b.native) as f32);
    }
    // One-consonant skeletons ("علی" and "لیلا" are both `r`) say nothing.
    if a.skeleton.len() >= MIN_SKELETON && b.skeleton.len() >= MIN_SKELETON {
        if a.skeleton == b.skeleton {
            s = s.max(SKELETON_EQUAL);
        } else {
            s = s.max(jaro_winkler(&a.skeleton, &b.skeleton) as f32 * 0.9);
        }
    }
    s
}

/// Similarity of two names (0..=1), word order ignored, and whether the best word match
/// crossed scripts.
pub fn name_sim(a: &[Word], b: &[Word], a_joined: &str, b_joined: &str) -> (f32, bool) {
    if a.is_empty() || b.is_empty() {
        return (0.0, false);
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    // Greedy one-to-one word alignment, best pairs first (names have few words).
    let mut pairs = Vec::with_capacity(short.len() * long.len());
    for (i, x) in short.iter().enumerate() {
        for (j, y) in long.iter().enumerate() {
            pairs.push((word_sim(x, y), i, j));
        }
    }
    pairs.sort_by(|p, q| q.0.total_cmp(&p.0));
    let (mut used_s, mut used_l) = (0u32, 0u32);
    let (mut total, mut worst) = (0.0, 1.0f32);
    for (s, i, j) in pairs {
        if used_s & (1 << i) == 0 && used_l & (1 << j) == 0 {
            used_s |= 1 << i;
            used_l |= 1 << j;
            total += s;
            worst = worst.min(s);
        }
    }
    // Half the mean, half the worst word: one different word ("علی" / "لیلا" beside the
    // same surname) is not averaged away.
    let mut sim = (total / short.len() as f32 + worst) / 2.0;
    if short.len() < long.len() {
        sim *= FEWER_WORDS_FACTOR;
    }
    // Words written together or apart ("محمدرضا", "محمد رضا").
    if !a_joined.is_empty() && !b_joined.is_empty() {
        sim = sim.max(jaro_winkler(a_joined, b_joined) as f32 * 0.95);
    }
    let cross = a[0].script != b[0].script;
    (sim.min(1.0), cross)
}

/// The score of a pair and the reasons behind it (positive evidence first).
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Sum of the evidence weights.
    pub score: f32,
    /// The evidence.
    pub reasons: Vec<MatchReason>,
}

/// Compares a query with a candidate.
pub fn score(q: &Prepared, c: &Prepared) -> Scored {
    let mut score = 0.0;
    let mut reasons = Vec::new();

    let (sim, cross) = name_sim(&q.name, &c.name, &q.name_latin_joined, &c.name_latin_joined);
    // A transliteration is the same name: across scripts, equal skeletons count as same.
    if sim >= SAME_NAME || (cross && sim >= SKELETON_EQUAL) {
        score += weight::SAME_NAME;
        reasons.push(if cross {
            MatchReason::NameInAnotherScript
        } else {
            MatchReason::SameName
        });
    } else if sim >= SIMILAR_NAME {
        score += weight::SIMILAR_NAME;
        reasons.push(if cross {
            MatchReason::NameInAnotherScript
        } else {
            MatchReason::SimilarName
        });
    } else if sim >= WEAK_NAME {
        score += weight::WEAK_NAME;
        reasons.push(MatchReason::SimilarName);
    } else if !q.name.is_empty() && !c.name.is_empty() {
        score += weight::OTHER_NAME;
    }

    match (&q.phone, &c.phone) {
        (Some(a), Some(b)) if phone::same_phone(a, b) => {
            score += weight::SAME_PHONE;
            reasons.push(MatchReason::SamePhone);
        }
        (Some(_), Some(_)) => {
            score += weight::DIFFERENT_PHONE;
            reasons.push(MatchReason::DifferentPhone);
        }
        _ => {}
    }

    if let (Some(a), Some(b)) = (q.birth_year, c.birth_year) {
        let d = a.abs_diff(b);
        if d == 0 {
            score += weight::SAME_BIRTH_YEAR;
            reasons.push(MatchReason::SameBirthYear);
        } else if d <= AGE_TOLERANCE_YEARS {
            score += weight::AGE_CLOSE - weight::AGE_CLOSE_STEP * (d - 1) as f32;
            reasons.push(MatchReason::AgeClose);
        } else if d > AGE_FAR_YEARS {
            score += weight::AGE_FAR;
            reasons.push(MatchReason::AgeFarApart);
        }
    }

    if let (Some(a), Some(b)) = (q.sex, c.sex) {
        if a != b {
            score += weight::DIFFERENT_SEX;
            reasons.push(MatchReason::DifferentSex);
        }
    }

    if !q.village.is_empty() && !c.village.is_empty() {
        let (v, _) = name_sim(
            &q.village,
            &c.village,
            &q.village_latin_joined,
            &c.village_latin_joined,
        );
        if v >= SAME_VILLAGE {
            score += weight::SAME_VILLAGE;
            reasons.push(MatchReason::SameVillage);
        } else if v >= SIMILAR_VILLAGE {
            score += weight::SIMILAR_VILLAGE;
            reasons.push(MatchReason::SimilarVillage);
        } else {
            score += weight::DIFFERENT_VILLAGE;
            reasons.push(MatchReason::DifferentVillage);
        }
    }

    let mut member_points = 0.0;
    for m in &q.household {
        let mj = joined(&m.words);
        let found = c.household.iter().find(|n| {
            (m.relation.is_empty() || n.relation.is_empty() || m.relation == n.relation)
                && name_sim(&m.words, &n.words, &mj, &joined(&n.words)).0 >= SAME_MEMBER
        });
        if let Some(n) = found {
            if member_points < weight::MAX_MEMBER_POINTS {
                member_points += weight::SAME_MEMBER;
                let relation = if m.relation_text.is_empty() {
                    &n.relation_text
                } else {
                    &m.relation_text
                };
                reasons.push(MatchReason::SameHouseholdMember {
                    relation: relation.clone(),
                });
            }
        }
    }
    score += member_points;

    // Supporting evidence first, counter-evidence after.
    reasons.sort_by_key(|r| r.is_counter_evidence());
    Scored { score, reasons }
}
