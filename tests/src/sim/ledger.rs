//! What devices recorded, for the no-loss invariant: every case, visit, goal, referral
//! and household member a device created, and every token it wrote into a note.

use std::collections::BTreeSet;

use casesync_core::case::Case;

/// Something a device recorded that must survive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The case itself (created on the device).
    Case,
    /// A visit, by id.
    Visit(String),
    /// A goal, by id.
    Goal(String),
    /// A referral, by id.
    Referral(String),
    /// A household member, by id.
    Household(String),
    /// A token written into a visit's notes.
    VisitNote {
        /// Visit id.
        visit: String,
        /// The token.
        token: String,
    },
    /// A token written into the assessment's strengths.
    Strength(String),
}

/// One recorded item.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Device slot that recorded it.
    pub device: usize,
    /// Case id.
    pub case: String,
    /// What.
    pub item: Item,
    /// Step at which it was recorded.
    pub step: usize,
    /// Sequence number of the device's change that recorded it (what a discard of the
    /// device's unacknowledged changes drops).
    pub seq: u64,
}

/// The worker discarded their refused edits of a case (the app's "discard" after a
/// refusal that cannot resolve itself, e.g. a permission lost): what they recorded on
/// it and the server never accepted is gone by their choice, not lost.
#[derive(Debug, Clone)]
pub struct Discard {
    /// Device slot.
    pub device: usize,
    /// Case id.
    pub case: String,
    /// The device's acknowledged sequence number at the discard (changes above it were
    /// dropped).
    pub acked: u64,
    /// Entries before this index were recorded before the discard.
    pub before: usize,
}

/// Everything recorded in a run, in order.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Entries in the order they were made.
    pub entries: Vec<Entry>,
    /// Every case id created (in order).
    pub cases: Vec<String>,
    /// Household members removed by someone (legitimately absent).
    pub removed_household: BTreeSet<String>,
    /// Refused edits the workers discarded.
    pub discards: Vec<Discard>,
}

impl Ledger {
    /// Records an item.
    pub fn record(&mut self, device: usize, case: &str, item: Item, step: usize, seq: u64) {
        if item == Item::Case {
            self.cases.push(case.to_owned());
        }
        self.entries.push(Entry {
            device,
            case: case.to_owned(),
            item,
            step,
            seq,
        });
    }

    /// Device `device` discarded its changes to `case` above `acked`.
    pub fn discard(&mut self, device: usize, case: &str, acked: u64) {
        self.discards.push(Discard {
            device,
            case: case.to_owned(),
            acked,
            before: self.entries.len(),
        });
    }

    /// Whether entry `i` was dropped by a discard (recorded before it, by that device,
    /// on that case, in a change the server never acknowledged).
    pub fn discarded(&self, i: usize) -> bool {
        let Some(entry) = self.entries.get(i) else {
            return false;
        };
        self.discards.iter().any(|x| {
            i < x.before && x.device == entry.device && x.case == entry.case && entry.seq > x.acked
        })
    }

    /// Ids of items of one kind in `case`, in the order they were recorded.
    pub fn ids_of(&self, case: &str, kind: fn(&Item) -> Option<&String>) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.case == case)
            .filter_map(|e| kind(&e.item).cloned())
            .collect()
    }
}

/// Whether `item` is present in `case`.
pub fn present(case: &Case, item: &Item) -> bool {
    match item {
        Item::Case => true,
        Item::Visit(id) => case.visits.contains_key(id),
        Item::Goal(id) => case.plan.goals.contains_key(id),
        Item::Referral(id) => case.referrals.contains_key(id),
        Item::Household(id) => case.client.household.contains_key(id),
        Item::VisitNote { visit, token } => case
            .visits
            .get(visit)
            .is_some_and(|v| v.notes.contains(token.as_str())),
        Item::Strength(token) => case
            .assessment
            .as_ref()
            .is_some_and(|a| a.strengths.contains(token.as_str())),
    }
}

/// Selectors for [`Ledger::ids_of`].
pub mod kind {
    use super::Item;

    /// Visit ids.
    pub fn visit(i: &Item) -> Option<&String> {
        match i {
            Item::Visit(id) => Some(id),
            _ => None,
        }
    }
    /// Goal ids.
    pub fn goal(i: &Item) -> Option<&String> {
        match i {
            Item::Goal(id) => Some(id),
            _ => None,
        }
    }
    /// Referral ids.
    pub fn referral(i: &Item) -> Option<&String> {
        match i {
            Item::Referral(id) => Some(id),
            _ => None,
        }
    }
    /// Household member ids.
    pub fn household(i: &Item) -> Option<&String> {
        match i {
            Item::Household(id) => Some(id),
            _ => None,
        }
    }
}
