//! Where a push's operations land, judged on the document they apply to: restricted
//! fields, unknown keys, what the summary reads, what the lifecycle rules read.

use std::collections::{HashMap, HashSet};

use automerge::{legacy, AutoCommit};
use casesync_core::case::rules;
use casesync_core::case::{is_root_key, RESTRICTED_FIELDS};

use crate::sync::scope::RoutingOp;

/// Top-level sections of a case that neither the summary nor the checks of a case read
/// (see `casesync_core::case::CaseDoc::summary`): changes only inside them leave both as
/// they were.
pub(super) const SECTIONS_OUTSIDE_SUMMARY: &[&str] =
    &["intake", "assessment", "closure", "evaluation"];

/// What a push's operations may have changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Touches {
    /// A restricted field: an operation on a root key of [`RESTRICTED_FIELDS`] (a value
    /// put, deleted or put in conflict) or on any object under one (e.g. the characters
    /// of a Text value).
    pub(super) restricted: bool,
    /// An operation on a root key the case schema does not define
    /// ([`is_root_key`](casesync_core::case::is_root_key)).
    pub(super) unknown_key: bool,
    /// What the summary or the checks of a case read: any operation on the root, or on
    /// an object that is not inside one of [`SECTIONS_OUTSIDE_SUMMARY`] (or whose place
    /// cannot be told).
    pub(super) summary: bool,
}

/// The root key an object of `doc` hangs under (`None`: the root itself, or its place
/// cannot be told).
pub(super) fn top_level(doc: &AutoCommit, obj: &legacy::ObjectId) -> Option<String> {
    use automerge::ReadDoc;
    let legacy::ObjectId::Id(legacy::OpId(counter, actor)) = obj else {
        return None;
    };
    // The actor index is looked up by the document when it is not this one.
    let exid = automerge::ObjId::Id(*counter, actor.clone(), usize::MAX);
    let parents = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        doc.parents(&exid).ok()?.last().map(|p| p.prop)
    }))
    .ok()??;
    match parents {
        automerge::Prop::Map(k) => Some(k),
        automerge::Prop::Seq(_) => None,
    }
}

/// The map keys from the root to an object of `doc` (`None` for a list position);
/// `None` if its place cannot be told (e.g. an object the document does not hold yet).
fn path_of(doc: &AutoCommit, obj: &legacy::ObjectId) -> Option<Vec<Option<String>>> {
    use automerge::ReadDoc;
    let legacy::ObjectId::Id(legacy::OpId(counter, actor)) = obj else {
        return Some(Vec::new());
    };
    let exid = automerge::ObjId::Id(*counter, actor.clone(), usize::MAX);
    let parents = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        doc.parents(&exid).ok().map(|p| p.collect::<Vec<_>>())
    }))
    .ok()??;
    Some(
        parents
            .into_iter()
            .rev()
            .map(|p| match p.prop {
                automerge::Prop::Map(k) => Some(k),
                automerge::Prop::Seq(_) => None,
            })
            .collect(),
    )
}

/// Whether any operation of `changes`, judged on `doc` before they are applied, may
/// change what the lifecycle rules read ([`rules::may_change_facts`]); an operation on
/// an object `doc` does not hold yet counts as one that may.
pub(super) fn may_change_facts(doc: &AutoCommit, changes: &[automerge::ExpandedChange]) -> bool {
    let mut paths: HashMap<&legacy::ObjectId, Option<Vec<Option<String>>>> = HashMap::new();
    changes.iter().flat_map(|c| c.operations.iter()).any(|op| {
        let key = match &op.key {
            legacy::Key::Map(k) => Some(k.as_str()),
            legacy::Key::Seq(_) => None,
        };
        let path = paths
            .entry(&op.obj)
            .or_insert_with(|| path_of(doc, &op.obj));
        match path {
            None => true,
            Some(p) => {
                let p: Vec<Option<&str>> = p.iter().map(Option::as_deref).collect();
                rules::may_change_facts(&p, key)
            }
        }
    })
}

/// Where the operations of `changes` (applied to `doc`) land (see [`Touches`]). An
/// object whose place cannot be told counts as touching the summary, which is then read
/// again: a restricted value changed through it shows as a changed routing, which the
/// caller compares as well.
pub(super) fn touches(doc: &AutoCommit, changes: &[automerge::ExpandedChange]) -> Touches {
    let mut t = Touches::default();
    let mut seen: HashSet<&legacy::ObjectId> = HashSet::new();
    for op in changes.iter().flat_map(|c| c.operations.iter()) {
        if op.obj == legacy::ObjectId::Root {
            t.summary = true;
            match &op.key {
                legacy::Key::Map(k) => {
                    t.restricted |= RESTRICTED_FIELDS.contains(&k.as_str());
                    t.unknown_key |= !is_root_key(k);
                }
                legacy::Key::Seq(_) => t.unknown_key = true,
            }
        } else if seen.insert(&op.obj) {
            match top_level(doc, &op.obj) {
                Some(k) => {
                    t.restricted |= RESTRICTED_FIELDS.contains(&k.as_str());
                    t.summary |= !SECTIONS_OUTSIDE_SUMMARY.contains(&k.as_str());
                }
                None => t.summary = true,
            }
        }
        if t.restricted && t.summary && t.unknown_key {
            break;
        }
    }
    t
}

/// The operations of `changes` (applied to `doc`) on or under a restricted root field,
/// in order (see [`RoutingOp`]).
pub(super) fn routing_ops(
    doc: &AutoCommit,
    changes: &[automerge::ExpandedChange],
) -> Vec<RoutingOp> {
    use automerge::ScalarValue;
    let mut out = Vec::new();
    let mut under: HashMap<&legacy::ObjectId, bool> = HashMap::new();
    for op in changes.iter().flat_map(|c| c.operations.iter()) {
        if op.obj == legacy::ObjectId::Root {
            let legacy::Key::Map(k) = &op.key else {
                continue;
            };
            if !RESTRICTED_FIELDS.contains(&k.as_str()) {
                continue;
            }
            out.push(match (k.as_str(), &op.action, op.insert) {
                ("district", legacy::OpType::Put(ScalarValue::Str(v)), false) => {
                    RoutingOp::District(v.to_string())
                }
                ("assigned_to", legacy::OpType::Put(ScalarValue::Str(v)), false) => {
                    RoutingOp::Assignee(v.to_string())
                }
                ("sensitive", legacy::OpType::Put(ScalarValue::Boolean(v)), false) => {
                    RoutingOp::Sensitive(*v)
                }
                _ => RoutingOp::Other,
            });
        } else {
            let restricted = *under.entry(&op.obj).or_insert_with(|| {
                top_level(doc, &op.obj).is_some_and(|k| RESTRICTED_FIELDS.contains(&k.as_str()))
            });
            if restricted {
                out.push(RoutingOp::Other);
            }
        }
    }
    out
}
