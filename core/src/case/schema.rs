//! The document schema number and forward migration.
//!
//! Every case document carries `schema`. A document with a lower number is migrated
//! forward when it is opened for editing ([`migrate`]); a higher number means a newer app
//! wrote it, and it is refused with [`CaseError::UnsupportedSchema`] rather than
//! misread.
//!
//! Containers are created with the case ([`ensure_structure`]), in its first change. A
//! container created later is unsafe: two replicas creating a map at one key create two
//! objects, Automerge shows one, and what was written into the other is hidden. So the
//! 0 -> 1 migration below (it adds containers) is safe only because schema 0 was
//! pre-release; a future migration adds scalars only. The two maps made after creation
//! are records written whole, where a concurrent twin hides nothing: `intake.consent`
//! (a conflict of whole consents, either can be chosen) and `closure.known` (a set read
//! as the union of concurrent closures'). See docs/DESIGN.md §3.1.

use automerge::{transaction::Transactable, AutoCommit, ObjType, ReadDoc, ROOT};

use super::error::CaseError;

/// Newest schema this build writes and reads.
pub const SCHEMA_VERSION: u64 = 1;

/// The containers every schema-1 document has, created with the case so that concurrent
/// edits never create the same map twice (two creations would make one of them invisible).
pub(crate) const ROOT_MAPS: &[&str] = &[
    "client",
    "intake",
    "assessment",
    "plan",
    "referrals",
    "visits",
    "closure",
    "evaluation",
];

/// Prefix of the keys in the `client` map that record "another person than case X"
/// (`distinct:<case id>` = true): scalars, so two coordinators' decisions merge, and no
/// container is created after the case (see the module notes).
pub const DISTINCT_PREFIX: &str = "distinct:";

/// The scalar keys at the root of a schema-1 document.
const ROOT_SCALARS: &[&str] = &[
    "id",
    "schema",
    "created_at",
    "created_by",
    "district",
    "village",
    "assigned_to",
    "sensitive",
    "stage",
];

/// Whether `key` is one the root of a schema-1 document may hold: its scalars and
/// [`ROOT_MAPS`]. A pushed operation on any other root key is refused by the server.
pub fn is_root_key(key: &str) -> bool {
    ROOT_SCALARS.contains(&key) || ROOT_MAPS.contains(&key)
}

/// Creates whatever schema-1 structure is missing; returns whether anything was written.
pub(crate) fn ensure_structure(doc: &mut AutoCommit) -> Result<bool, CaseError> {
    let mut wrote = false;
    for key in ROOT_MAPS {
        if !matches!(
            doc.get(ROOT, *key)?,
            Some((automerge::Value::Object(ObjType::Map), _))
        ) {
            doc.put_object(ROOT, *key, ObjType::Map)?;
            wrote = true;
        }
    }
    let nested: &[(&str, &str, ObjType)] = &[
        ("client", "name", ObjType::Text),
        ("client", "household", ObjType::Map),
        ("intake", "presenting_problem", ObjType::Text),
        ("assessment", "strengths", ObjType::Text),
        ("assessment", "extra", ObjType::Map),
        ("plan", "goals", ObjType::Map),
        ("closure", "summary", ObjType::Text),
    ];
    for (parent, key, ty) in nested {
        let Some((_, p)) = doc.get(ROOT, *parent)? else {
            continue;
        };
        if doc.get(&p, *key)?.is_none() {
            doc.put_object(&p, *key, *ty)?;
            wrote = true;
        }
    }
    Ok(wrote)
}

/// Brings a document forward to [`SCHEMA_VERSION`]. Returns whether it changed
/// (the caller commits). Fails for documents from a newer schema.
pub(crate) fn migrate(doc: &mut AutoCommit) -> Result<bool, CaseError> {
    let found = match doc.get(ROOT, "schema")? {
        Some((automerge::Value::Scalar(s), _)) => {
            s.as_u64().or_else(|| s.as_i64().map(|i| i.max(0) as u64))
        }
        _ => None,
    }
    .ok_or_else(|| CaseError::Malformed("schema".into()))?;
    if found > SCHEMA_VERSION {
        return Err(CaseError::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(false);
    }
    // Schema 0 (pre-release documents) lacked some containers; 0 -> 1 adds them.
    ensure_structure(doc)?;
    doc.put(ROOT, "schema", SCHEMA_VERSION as i64)?;
    Ok(true)
}
