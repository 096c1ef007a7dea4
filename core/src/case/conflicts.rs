//! Fields that hold concurrent values, and resolving them.
//!
//! Automerge keeps every concurrently written value of a map key and picks the same
//! winner on every replica. The losers stay in the document until a later write
//! supersedes them; [`CaseDoc::conflicts`] lists them so a person can choose.
//!
//! A record written whole (the consent: a new map each time) that two replicas wrote
//! concurrently is two maps at one key: its values are the records' fields as JSON
//! objects, and choosing one writes it again as a new map. `closure.known` is not
//! listed: it is a set, read as the union of concurrent closures' sets; nor are the
//! `client.distinct:<id>` marks (each only ever `true`).

use automerge::{transaction::Transactable, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};

use super::doc::{split_message, CaseDoc, EditCtx, RESTRICTED_FIELDS};
use super::error::CaseError;
use super::model::Role;

/// One of the concurrent values of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictValue {
    /// The value: a scalar, or for a record written whole (the consent) its fields as a
    /// JSON object; `null` for any other object (e.g. a note created twice), which
    /// cannot be chosen. In Kotlin
    /// `valueJson`, the value as JSON text (e.g. `"high"`, `3`, `true`): pass it back to
    /// `resolveConflict`.
    #[cfg_attr(feature = "uniffi", uniffi(name = "value_json"))]
    pub value: serde_json::Value,
    /// User who wrote it (from the change, bound to a device by the server).
    pub user: String,
    /// Actor (device replica) that wrote it, hex.
    pub actor: String,
    /// When it was written, ms since the Unix epoch.
    pub time_ms: i64,
}

/// A field with concurrent values. The first value is the one everybody currently sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Conflict {
    /// Dotted path, e.g. `assessment.safety_risk` or `visits.<id>.next_visit_date`.
    pub path: String,
    /// The values, current winner first.
    pub values: Vec<ConflictValue>,
}

fn scalar_json(s: &ScalarValue) -> serde_json::Value {
    match s {
        ScalarValue::Str(t) => serde_json::Value::from(t.as_str()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => (*i).into(),
        ScalarValue::Uint(u) => (*u).into(),
        ScalarValue::F64(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        ScalarValue::Boolean(b) => (*b).into(),
        _ => serde_json::Value::Null,
    }
}

/// Paths that are sets read as the union of their concurrent values: never a conflict
/// (`closure.known`, and the `client.distinct:<id>` marks two coordinators may write
/// at once, both `true`).
fn is_union_set(path: &str) -> bool {
    path == "closure.known"
        || path.starts_with("closure.known.")
        || path
            .strip_prefix("client.")
            .is_some_and(|k| k.starts_with(super::schema::DISTINCT_PREFIX))
}

/// Upper bound on the fields of a record offered whole as a conflict value.
const MAX_RECORD_FIELDS: usize = 16;

impl CaseDoc {
    /// A map of scalars as a JSON object (a record written whole); `null` for any
    /// other object, which is not offered as a choice.
    fn record_json(&self, obj: &ObjId) -> serde_json::Value {
        if self.doc.object_type(obj).ok() != Some(ObjType::Map)
            || self.doc.length(obj) > MAX_RECORD_FIELDS
        {
            return serde_json::Value::Null;
        }
        let mut fields = serde_json::Map::new();
        for key in self.doc.keys(obj) {
            match self.doc.get(obj, key.as_str()).ok().flatten() {
                Some((Value::Scalar(s), _)) => {
                    let v = scalar_json(&s);
                    if v.is_null() {
                        return serde_json::Value::Null;
                    }
                    fields.insert(key, v);
                }
                _ => return serde_json::Value::Null,
            }
        }
        serde_json::Value::Object(fields)
    }

    /// Every field that holds concurrent values, in path order.
    pub fn conflicts(&mut self) -> Vec<Conflict> {
        let mut found = Vec::new();
        let mut stack: Vec<(ObjId, String)> = vec![(ROOT, String::new())];
        while let Some((obj, prefix)) = stack.pop() {
            let keys: Vec<String> = self.doc.keys(&obj).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let mut all = self.doc.get_all(&obj, key.as_str()).unwrap_or_default();
                let winner = self.doc.get(&obj, key.as_str()).ok().flatten();
                let winner_obj = match &winner {
                    Some((Value::Object(ObjType::Map), id)) => Some(id.clone()),
                    _ => None,
                };
                // get_all lists the values in op order (the winner last): put the value
                // everybody sees first, as documented on Conflict.
                if let Some(pos) =
                    winner.and_then(|(_, wid)| all.iter().position(|(_, id)| *id == wid))
                {
                    let w = all.remove(pos);
                    all.insert(0, w);
                }
                if all.len() > 1 && !is_union_set(&path) {
                    let vals: Vec<(serde_json::Value, automerge::ObjId)> = all
                        .into_iter()
                        .map(|(v, id)| match v {
                            Value::Scalar(s) => (scalar_json(&s), id),
                            Value::Object(_) => (self.record_json(&id), id),
                        })
                        .collect();
                    let values = vals
                        .into_iter()
                        .map(|(value, id)| self.attribute(value, &id))
                        .collect();
                    found.push(Conflict {
                        path: path.clone(),
                        values,
                    });
                }
                if let Some(child) = winner_obj {
                    stack.push((child, path));
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found
    }

    fn attribute(&mut self, value: serde_json::Value, id: &ObjId) -> ConflictValue {
        let actor = match id {
            ObjId::Id(_, a, _) => a.to_hex_string(),
            ObjId::Root => String::new(),
        };
        let meta = self
            .doc
            .hash_for_opid(id)
            .and_then(|h| self.doc.get_change_meta_by_hash(&h))
            .map(|m| (split_message(m.message.as_deref()).0, m.timestamp));
        let (user, time_ms) = meta.unwrap_or_default();
        ConflictValue {
            value,
            user,
            actor,
            time_ms,
        }
    }

    /// Resolves the conflict at `path` by writing `chosen`, which must be one of its
    /// current values. The write supersedes every concurrent value on every replica.
    pub fn resolve(
        &mut self,
        ctx: &EditCtx,
        path: &str,
        chosen: &serde_json::Value,
    ) -> Result<(), CaseError> {
        if matches!(ctx.role, Role::Admin | Role::Agency) {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "resolve conflicts",
            });
        }
        if RESTRICTED_FIELDS.contains(&path) && ctx.role != Role::Coordinator {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "resolve a restricted field",
            });
        }
        let conflict = self.conflicts().into_iter().find(|c| c.path == path);
        let ok = conflict.is_some_and(|c| {
            c.values
                .iter()
                .any(|v| &v.value == chosen && !v.value.is_null())
        });
        if !ok {
            return Err(CaseError::NoConflict(path.to_owned()));
        }
        let mut parts: Vec<&str> = path.split('.').collect();
        let key = parts.pop().unwrap_or_default().to_owned();
        let mut obj = ROOT;
        for p in parts {
            obj = match self.doc.get(&obj, p)? {
                Some((Value::Object(_), id)) => id,
                _ => return Err(CaseError::NoConflict(path.to_owned())),
            };
        }
        let chosen = chosen.clone();
        self.change(ctx, &format!("conflict at {path} resolved"), move |d| {
            match chosen {
                // A record written whole: written again whole, as a new map.
                serde_json::Value::Object(fields) => {
                    let m = d.put_object(&obj, key.as_str(), ObjType::Map)?;
                    for (k, v) in fields {
                        put_json_scalar(d, &m, &k, v, path)?;
                    }
                }
                v => put_json_scalar(d, &obj, &key, v, path)?,
            }
            Ok(())
        })
    }
}

/// Writes a JSON scalar (as listed by `conflicts`) at `key`.
fn put_json_scalar(
    d: &mut automerge::AutoCommit,
    obj: &ObjId,
    key: &str,
    v: serde_json::Value,
    path: &str,
) -> Result<(), CaseError> {
    match v {
        serde_json::Value::String(s) => d.put(obj, key, s)?,
        serde_json::Value::Bool(b) => d.put(obj, key, b)?,
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => d.put(obj, key, i)?,
            (None, Some(u), _) => d.put(obj, key, u)?,
            (None, None, Some(f)) => d.put(obj, key, f)?,
            _ => return Err(CaseError::NoConflict(path.to_owned())),
        },
        _ => return Err(CaseError::NoConflict(path.to_owned())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{device_actor, AssessmentUpdate, NewCase, SafetyRisk};

    fn ctx(user: &str, role: Role) -> EditCtx {
        EditCtx::new(user, role, 1_700_000_000_000)
    }

    #[test]
    fn the_value_everybody_sees_is_listed_first() {
        let new = NewCase {
            id: "c-1".into(),
            district: "d".into(),
            village: "v".into(),
            assigned_to: "amina".into(),
            sensitive: false,
            client_name: "Mai".into(),
        };
        let mut a =
            CaseDoc::create(&ctx("amina", Role::Chw), device_actor("a"), &new).expect("create");
        let mut b = CaseDoc::load(&a.save()).expect("load");
        b.set_actor(device_actor("b"));
        for (doc, user, role, risk) in [
            (&mut a, "amina", Role::Chw, SafetyRisk::High),
            (&mut b, "coord", Role::Coordinator, SafetyRisk::Medium),
        ] {
            let u = AssessmentUpdate {
                safety_risk: Some(risk),
                ..Default::default()
            };
            doc.update_assessment(&ctx(user, role), &u).expect("edit");
        }
        a.merge(&mut b).expect("merge");
        let seen = a
            .read()
            .expect("read")
            .assessment
            .and_then(|x| x.safety_risk);
        let c = a.conflicts();
        assert_eq!(c.len(), 1);
        let first = seen.map(|r| serde_json::Value::from(r.as_str()));
        assert_eq!(Some(&c[0].values[0].value), first.as_ref());
    }
}
