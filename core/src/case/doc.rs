//! [`CaseDoc`]: the typed, rule-checked API over one case's Automerge document. This file
//! holds creating, loading, saving and merging, reading, and the checks every edit shares;
//! the edits themselves are by section: `doc/client.rs` (client, household, intake,
//! consent, assessment, extra fields), `doc/plan.rs` (goals, referrals, visits) and
//! `doc/lifecycle.rs` (stages, closure, evaluation, the coordinator's fields).

use super::ids::IdSource;
use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ROOT,
};
use chrono::NaiveDate;

use super::error::CaseError;
use super::input::*;
use super::model::*;
use super::read::Reader;
use super::schema::{self, SCHEMA_VERSION};

mod client;
mod dedup;
mod lifecycle;
mod plan;

/// Who is editing, with which role, and when (time is passed in: the core has no clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditCtx {
    /// User id of the editor.
    pub user_id: String,
    /// Their role.
    pub role: Role,
    /// Now, ms since the Unix epoch.
    pub now_ms: i64,
}

impl EditCtx {
    /// `user_id` editing as `role` at `now_ms` (ms since the Unix epoch).
    pub fn new(user_id: impl Into<String>, role: Role, now_ms: i64) -> Self {
        EditCtx {
            user_id: user_id.into(),
            role,
            now_ms,
        }
    }
}

/// Separates the user id from the readable summary in a change message.
pub(crate) const MESSAGE_SEP: char = '\u{1f}';

/// Keys of the root that only coordinators may change after creation.
pub const RESTRICTED_FIELDS: &[&str] = &["district", "assigned_to", "sensitive"];

/// One case document.
#[derive(Debug, Clone)]
pub struct CaseDoc {
    pub(crate) doc: AutoCommit,
    /// Where the ids of new entries come from.
    pub(crate) ids: IdSource,
}

/// A fresh random id for a goal, visit, referral or household member (from the OS;
/// a document's edits use its [`IdSource`], see [`CaseDoc::set_id_source`]).
pub fn new_entry_id() -> String {
    IdSource::os().entry_id()
}

/// Checks a case id: 1..=64 of `[A-Za-z0-9_-]`.
pub fn validate_case_id(id: &str) -> Result<(), CaseError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CaseError::Invalid {
            field: "id",
            reason: "1 to 64 letters, digits, '-' or '_'".into(),
        })
    }
}

pub(crate) fn check_text(field: &'static str, s: &str, limit: usize) -> Result<(), CaseError> {
    if s.chars().count() > limit {
        return Err(CaseError::TooLarge { field, limit });
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(CaseError::Invalid {
            field,
            reason: "contains control characters".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_required(field: &'static str, s: &str, limit: usize) -> Result<(), CaseError> {
    if s.trim().is_empty() {
        return Err(CaseError::Invalid {
            field,
            reason: "is required".into(),
        });
    }
    check_text(field, s, limit)
}

pub(crate) fn check_opt(
    field: &'static str,
    s: &Option<String>,
    limit: usize,
) -> Result<(), CaseError> {
    s.as_deref().map_or(Ok(()), |s| check_text(field, s, limit))
}

pub(crate) fn date_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Writes `text` into the Text object at `key` (creating it if missing) as a
/// character-level diff, so concurrent edits of the same note merge.
pub(crate) fn put_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    text: &str,
) -> Result<(), CaseError> {
    let id = match doc.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Text), id)) => id,
        _ => doc.put_object(obj, key, ObjType::Text)?,
    };
    doc.update_text(&id, text)?;
    Ok(())
}

pub(crate) fn put_opt_str(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    v: &Option<String>,
) -> Result<(), CaseError> {
    if let Some(v) = v {
        doc.put(obj, key, v.as_str())?;
    }
    Ok(())
}

pub(crate) fn put_opt_date(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    v: Option<NaiveDate>,
) -> Result<(), CaseError> {
    if let Some(v) = v {
        doc.put(obj, key, date_str(v))?;
    }
    Ok(())
}

impl CaseDoc {
    /// Creates a new case in the intake stage. A CHW may only create cases assigned to
    /// themselves; admins create none.
    pub fn create(ctx: &EditCtx, actor: ActorId, new: &NewCase) -> Result<Self, CaseError> {
        validate_case_id(&new.id)?;
        check_required("district", &new.district, MAX_SHORT_TEXT)?;
        check_text("village", &new.village, MAX_SHORT_TEXT)?;
        check_required("assigned_to", &new.assigned_to, MAX_SHORT_TEXT)?;
        check_required("client name", &new.client_name, MAX_SHORT_TEXT)?;
        match ctx.role {
            Role::Admin | Role::Agency => {
                return Err(CaseError::Forbidden {
                    role: ctx.role,
                    action: "create cases",
                })
            }
            Role::Chw if new.assigned_to != ctx.user_id => {
                return Err(CaseError::Forbidden {
                    role: ctx.role,
                    action: "create a case assigned to someone else",
                })
            }
            _ => {}
        }
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA_VERSION as i64)?;
        doc.put(ROOT, "id", new.id.as_str())?;
        doc.put(ROOT, "created_at", ctx.now_ms)?;
        doc.put(ROOT, "created_by", ctx.user_id.as_str())?;
        doc.put(ROOT, "district", new.district.as_str())?;
        doc.put(ROOT, "village", new.village.as_str())?;
        doc.put(ROOT, "assigned_to", new.assigned_to.as_str())?;
        doc.put(ROOT, "sensitive", new.sensitive)?;
        doc.put(ROOT, "stage", Stage::Intake.as_str())?;
        schema::ensure_structure(&mut doc)?;
        let client = Self::map_in(&doc, &ROOT, "client")?;
        put_text(&mut doc, &client, "name", &new.client_name)?;
        doc.commit_with(message(ctx, "case created"));
        Ok(CaseDoc {
            doc,
            ids: IdSource::os(),
        })
    }

    /// Opens a saved document, checking it is a case this build can read. The bytes are
    /// counted first ([`scan_document`](super::scan_document)): nothing over a decoding
    /// limit reaches Automerge.
    pub fn load(bytes: &[u8]) -> Result<Self, CaseError> {
        super::scan::scan_document(bytes)?;
        let doc = AutoCommit::load(bytes).map_err(|e| CaseError::Corrupt(e.to_string()))?;
        let mut this = CaseDoc {
            doc,
            ids: IdSource::os(),
        };
        this.read()?;
        Ok(this)
    }

    /// Builds a document from raw changes (a case that reached this device as changes).
    pub fn from_changes(changes: Vec<Change>) -> Result<Self, CaseError> {
        let mut doc = AutoCommit::new();
        super::change::apply_untrusted(&mut doc, changes)?;
        if !doc.get_missing_deps(&[]).is_empty() {
            return Err(CaseError::Corrupt(
                "changes depend on changes that are missing".into(),
            ));
        }
        let mut this = CaseDoc {
            doc,
            ids: IdSource::os(),
        };
        this.read()?;
        Ok(this)
    }

    /// This replica's own changes (by `actor`) with sequence number above `after_seq`,
    /// in order: what a device still has to push when the server acknowledged up to
    /// `after_seq`. Returns the changes and the highest sequence number among them.
    pub fn own_changes_after(&mut self, actor: &ActorId, after_seq: u64) -> (Vec<Change>, u64) {
        let mut max = after_seq;
        let changes: Vec<Change> = self
            .doc
            .get_changes(&[])
            .into_iter()
            .filter(|c| c.actor_id() == actor && c.seq() > after_seq)
            .inspect(|c| max = max.max(c.seq()))
            .collect();
        (changes, max)
    }

    /// Opens a saved document for editing as `actor`, migrating it forward if needed.
    pub fn load_for_edit(bytes: &[u8], actor: ActorId, ctx: &EditCtx) -> Result<Self, CaseError> {
        let mut this = Self::load(bytes)?;
        this.doc.set_actor(actor);
        if schema::migrate(&mut this.doc)? {
            this.doc.commit_with(message(ctx, "schema migrated"));
        }
        Ok(this)
    }

    /// Sets the actor that signs this replica's future changes.
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// Sets where the ids of entries added from now on come from (the OS by default;
    /// a seeded source in a simulation that must replay exactly).
    pub fn set_id_source(&mut self, ids: IdSource) {
        self.ids = ids;
    }

    /// The compacted document.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The case id.
    pub fn id(&self) -> Result<CaseId, CaseError> {
        Reader {
            doc: &self.doc,
            heads: None,
        }
        .string(&ROOT, "id")
        .ok_or_else(|| CaseError::Malformed("id".into()))
    }

    /// User id of whoever registered the case (`None` if the document lacks it), read
    /// without reading the rest of the case.
    pub fn created_by(&self) -> Option<String> {
        Reader {
            doc: &self.doc,
            heads: None,
        }
        .string(&ROOT, "created_by")
    }

    /// Current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes not reachable from `have` (what a peer that has `have` is missing).
    pub fn changes_since(&mut self, have: &[ChangeHash]) -> Vec<Change> {
        self.doc.get_changes(have)
    }

    /// Applies changes from elsewhere (idempotent: known changes are ignored).
    pub fn apply_changes(&mut self, changes: Vec<Change>) -> Result<(), CaseError> {
        super::change::apply_untrusted(&mut self.doc, changes)?;
        Ok(())
    }

    /// Merges another replica of the same case into this one.
    pub fn merge(&mut self, other: &mut CaseDoc) -> Result<(), CaseError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// The underlying Automerge document (for sync and validation).
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The Automerge operations the document holds (its whole history; see
    /// [`MAX_OPS_PER_DOC`](crate::protocol::MAX_OPS_PER_DOC)).
    pub fn op_count(&self) -> u64 {
        use automerge::ReadDoc;
        self.doc.stats().num_ops
    }

    /// The case as plain values.
    pub fn read(&mut self) -> Result<Case, CaseError> {
        let mut case = Reader {
            doc: &self.doc,
            heads: None,
        }
        .case()?;
        case.updated_at = self.updated_at();
        Ok(case)
    }

    /// The listing summary: equal to `read()?.summary()` (and refused for the same
    /// documents), but reads only the fields the summary needs.
    pub fn summary(&mut self) -> Result<CaseSummary, CaseError> {
        let mut summary = Reader {
            doc: &self.doc,
            heads: None,
        }
        .summary()?;
        summary.updated_at = self.updated_at();
        debug_assert_eq!(
            Some(&summary),
            self.read().map(|c| c.summary()).ok().as_ref(),
            "the summary read differs from the whole case read"
        );
        Ok(summary)
    }

    /// Time of the latest change (the newest head), ms since the Unix epoch.
    pub fn updated_at(&mut self) -> i64 {
        let heads = self.doc.get_heads();
        heads
            .iter()
            .filter_map(|h| self.doc.get_change_meta_by_hash(h).map(|m| m.timestamp))
            .max()
            .unwrap_or_default()
    }

    fn map_in(doc: &AutoCommit, parent: &ObjId, key: &'static str) -> Result<ObjId, CaseError> {
        Reader { doc, heads: None }
            .obj(parent, key)
            .ok_or_else(|| CaseError::Malformed(key.to_owned()))
    }

    fn entry(
        &self,
        parent: &'static str,
        kind: &'static str,
        id: &str,
    ) -> Result<ObjId, CaseError> {
        let coll = Self::map_in(&self.doc, &ROOT, parent)?;
        self.entry_in(&coll, kind, id)
    }

    fn entry_in(&self, coll: &ObjId, kind: &'static str, id: &str) -> Result<ObjId, CaseError> {
        Reader {
            doc: &self.doc,
            heads: None,
        }
        .obj(coll, id)
        .ok_or_else(|| CaseError::NotFound {
            kind,
            id: id.to_owned(),
        })
    }

    fn stage(&self) -> Result<Stage, CaseError> {
        Reader {
            doc: &self.doc,
            heads: None,
        }
        .string(&ROOT, "stage")
        .and_then(|s| Stage::parse(&s))
        .ok_or_else(|| CaseError::Malformed("stage".into()))
    }

    fn ensure_open(&self) -> Result<(), CaseError> {
        if self.stage()? == Stage::Closed {
            Err(CaseError::Closed)
        } else {
            Ok(())
        }
    }

    fn ensure_can_edit(&self, ctx: &EditCtx) -> Result<(), CaseError> {
        if matches!(ctx.role, Role::Admin | Role::Agency) {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "edit case content",
            });
        }
        Ok(())
    }

    /// A reader of the document as it is now.
    fn reader(&self) -> Reader<'_, AutoCommit> {
        Reader {
            doc: &self.doc,
            heads: None,
        }
    }

    fn ensure_coordinator(ctx: &EditCtx, action: &'static str) -> Result<(), CaseError> {
        if ctx.role != Role::Coordinator {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action,
            });
        }
        Ok(())
    }

    fn count(&self, parent: &ObjId) -> usize {
        self.doc.length(parent)
    }

    /// Runs `f` as one change: commits it with a message on success, rolls every
    /// operation back on failure (so a refused edit leaves the document untouched).
    pub(crate) fn change<R>(
        &mut self,
        ctx: &EditCtx,
        summary: &str,
        f: impl FnOnce(&mut AutoCommit) -> Result<R, CaseError>,
    ) -> Result<R, CaseError> {
        match f(&mut self.doc) {
            Ok(r) => {
                self.doc.commit_with(message(ctx, summary));
                Ok(r)
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

pub(crate) fn message(ctx: &EditCtx, summary: &str) -> CommitOptions {
    CommitOptions::default()
        .with_message(format!("{}{MESSAGE_SEP}{summary}", ctx.user_id))
        .with_time(ctx.now_ms)
}

/// The user id and readable summary carried by a change's message.
pub fn split_message(msg: Option<&str>) -> (String, String) {
    match msg.and_then(|m| m.split_once(MESSAGE_SEP)) {
        Some((u, s)) => (u.to_owned(), s.to_owned()),
        None => (String::new(), msg.unwrap_or_default().to_owned()),
    }
}
