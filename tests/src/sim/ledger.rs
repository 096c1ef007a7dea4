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
}

impl Ledger {
    /// Records an item.
    pub fn record(&mut self, device: usize, case: &str, item: Item, step: usize) {
        if item == Item::Case {
            self.cases.push(case.to_owned());
        }
        self.entries.push(Entry {
            device,
            case: case.to_owned(),
            item,
            step,
        });
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
