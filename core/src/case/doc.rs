//! [`CaseDoc`]: the typed, rule-checked API over one case's Automerge document.

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
            Role::Admin => {
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
        if ctx.role == Role::Admin {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "edit case content",
            });
        }
        Ok(())
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

    /// Changes client fields.
    pub fn update_client(&mut self, ctx: &EditCtx, u: &ClientUpdate) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        if let Some(n) = &u.name {
            check_required("client name", n, MAX_SHORT_TEXT)?;
        }
        check_opt("phone", &u.phone, MAX_SHORT_TEXT)?;
        check_opt("language", &u.language, 35)?;
        if u.age_estimate.is_some_and(|a| a > 130) {
            return Err(CaseError::Invalid {
                field: "age_estimate",
                reason: "over 130".into(),
            });
        }
        let c = Self::map_in(&self.doc, &ROOT, "client")?;
        self.change(ctx, "client updated", |d| {
            if let Some(n) = &u.name {
                put_text(d, &c, "name", n)?;
            }
            if let Some(s) = u.sex {
                d.put(&c, "sex", s.as_str())?;
            }
            put_opt_date(d, &c, "birth_date", u.birth_date)?;
            if let Some(a) = u.age_estimate {
                d.put(&c, "age_estimate", a as i64)?;
            }
            put_opt_str(d, &c, "phone", &u.phone)?;
            put_opt_str(d, &c, "language", &u.language)
        })
    }

    /// Adds a household member; returns their id.
    pub fn add_household_member(
        &mut self,
        ctx: &EditCtx,
        name: &str,
        relation: &str,
    ) -> Result<String, CaseError> {
        self.ensure_can_edit(ctx)?;
        check_required("household member name", name, MAX_SHORT_TEXT)?;
        check_text("relation", relation, MAX_SHORT_TEXT)?;
        let c = Self::map_in(&self.doc, &ROOT, "client")?;
        let h = Self::map_in(&self.doc, &c, "household")?;
        if self.count(&h) >= MAX_ENTRIES {
            return Err(CaseError::TooLarge {
                field: "household",
                limit: MAX_ENTRIES,
            });
        }
        let id = self.ids.entry_id();
        self.change(ctx, "household member added", |d| {
            let m = d.put_object(&h, id.as_str(), ObjType::Map)?;
            d.put(&m, "name", name)?;
            d.put(&m, "relation", relation)?;
            Ok(id.clone())
        })
    }

    /// Removes a household member.
    pub fn remove_household_member(&mut self, ctx: &EditCtx, id: &str) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        let c = Self::map_in(&self.doc, &ROOT, "client")?;
        let h = Self::map_in(&self.doc, &c, "household")?;
        self.entry_in(&h, "household member", id)?;
        self.change(ctx, "household member removed", |d| Ok(d.delete(&h, id)?))
    }

    /// Records the intake.
    pub fn record_intake(&mut self, ctx: &EditCtx, i: &IntakeInput) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_opt("referred_by", &i.referred_by, MAX_SHORT_TEXT)?;
        check_text("presenting_problem", &i.presenting_problem, MAX_LONG_TEXT)?;
        if i.source == IntakeSource::AgencyReferral
            && i.referred_by.as_deref().unwrap_or("").trim().is_empty()
        {
            return Err(CaseError::Invalid {
                field: "referred_by",
                reason: "an agency referral names the referring agency".into(),
            });
        }
        let o = Self::map_in(&self.doc, &ROOT, "intake")?;
        self.change(ctx, "intake recorded", |d| {
            d.put(&o, "date", date_str(i.date))?;
            d.put(&o, "source", i.source.as_str())?;
            put_opt_str(d, &o, "referred_by", &i.referred_by)?;
            put_text(d, &o, "presenting_problem", &i.presenting_problem)
        })
    }

    /// Records the client's consent (given or refused) and its scope.
    pub fn record_consent(
        &mut self,
        ctx: &EditCtx,
        given: bool,
        date: NaiveDate,
        scope: &str,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        check_required("consent scope", scope, MAX_SHORT_TEXT)?;
        let o = Self::map_in(&self.doc, &ROOT, "intake")?;
        // A consent is one act, written whole as a new map that supersedes the previous
        // one. Two replicas recording consent concurrently make two maps at one key: a
        // conflict of whole records (`conflicts()` lists both, either can be chosen),
        // never a mix of one's date and the other's scope, and nothing hidden.
        self.change(ctx, "consent recorded", |d| {
            let c = d.put_object(&o, "consent", ObjType::Map)?;
            d.put(&c, "given", given)?;
            d.put(&c, "date", date_str(date))?;
            d.put(&c, "scope", scope)?;
            d.put(&c, "recorded_by", ctx.user_id.as_str())?;
            Ok(())
        })
    }

    /// Changes assessment fields.
    pub fn update_assessment(
        &mut self,
        ctx: &EditCtx,
        u: &AssessmentUpdate,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        let shorts: [(&'static str, &Option<String>); 10] = [
            ("physical_health", &u.physical_health),
            ("mental_health", &u.mental_health),
            ("social", &u.social),
            ("behavioural", &u.behavioural),
            ("family", &u.family),
            ("housing", &u.housing),
            ("income", &u.income),
            ("education", &u.education),
            ("problem_origin", &u.problem_origin),
            ("causes", &u.causes),
        ];
        for (k, v) in &shorts {
            check_opt(k, v, MAX_LONG_TEXT)?;
        }
        check_opt("strengths", &u.strengths, MAX_LONG_TEXT)?;
        let a = Self::map_in(&self.doc, &ROOT, "assessment")?;
        self.change(ctx, "assessment updated", |d| {
            put_opt_date(d, &a, "date", u.date)?;
            for (k, v) in &shorts {
                put_opt_str(d, &a, k, v)?;
            }
            if let Some(r) = u.safety_risk {
                d.put(&a, "safety_risk", r.as_str())?;
            }
            if let Some(s) = &u.strengths {
                put_text(d, &a, "strengths", s)?;
            }
            Ok(())
        })
    }

    /// Sets a programme-defined assessment field.
    pub fn set_extra(
        &mut self,
        ctx: &EditCtx,
        key: &str,
        value: &ExtraValue,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_required("extra field name", key, 64)?;
        if let ExtraValue::Text(t) = value {
            check_text("extra field value", t, MAX_LONG_TEXT)?;
        }
        if let ExtraValue::Float(f) = value {
            if !f.is_finite() {
                return Err(CaseError::Invalid {
                    field: "extra field value",
                    reason: "not a finite number".into(),
                });
            }
        }
        let a = Self::map_in(&self.doc, &ROOT, "assessment")?;
        let x = Self::map_in(&self.doc, &a, "extra")?;
        if self.count(&x) >= MAX_ENTRIES {
            return Err(CaseError::TooLarge {
                field: "extra",
                limit: MAX_ENTRIES,
            });
        }
        self.change(ctx, &format!("assessment.extra.{key} set"), |d| {
            match value {
                ExtraValue::Bool(b) => d.put(&x, key, *b)?,
                ExtraValue::Int(i) => d.put(&x, key, *i)?,
                ExtraValue::Float(f) => d.put(&x, key, *f)?,
                ExtraValue::Text(t) => d.put(&x, key, t.as_str())?,
            }
            Ok(())
        })
    }

    /// Adds a service-plan goal; returns its id.
    pub fn add_goal(&mut self, ctx: &EditCtx, g: &GoalInput) -> Result<String, CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_required("goal", &g.text, MAX_LONG_TEXT)?;
        check_opt("method", &g.method, MAX_LONG_TEXT)?;
        if g.priority == 0 {
            return Err(CaseError::Invalid {
                field: "priority",
                reason: "1 is the highest".into(),
            });
        }
        let p = Self::map_in(&self.doc, &ROOT, "plan")?;
        let goals = Self::map_in(&self.doc, &p, "goals")?;
        if self.count(&goals) >= MAX_ENTRIES {
            return Err(CaseError::TooLarge {
                field: "goals",
                limit: MAX_ENTRIES,
            });
        }
        let id = self.ids.entry_id();
        self.change(ctx, "goal added", |d| {
            let m = d.put_object(&goals, id.as_str(), ObjType::Map)?;
            put_text(d, &m, "text", &g.text)?;
            d.put(&m, "priority", g.priority as i64)?;
            put_opt_str(d, &m, "method", &g.method)?;
            put_opt_date(d, &m, "target_date", g.target_date)?;
            put_opt_date(d, &m, "evaluate_by", g.evaluate_by)?;
            d.put(&m, "status", GoalStatus::Active.as_str())?;
            Ok(id.clone())
        })
    }

    /// Changes a goal (priority, method, dates, achieved / dropped).
    pub fn update_goal(
        &mut self,
        ctx: &EditCtx,
        id: &str,
        u: &GoalUpdate,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        if let Some(t) = &u.text {
            check_required("goal", t, MAX_LONG_TEXT)?;
        }
        check_opt("method", &u.method, MAX_LONG_TEXT)?;
        if u.priority == Some(0) {
            return Err(CaseError::Invalid {
                field: "priority",
                reason: "1 is the highest".into(),
            });
        }
        let p = Self::map_in(&self.doc, &ROOT, "plan")?;
        let goals = Self::map_in(&self.doc, &p, "goals")?;
        let m = self.entry_in(&goals, "goal", id)?;
        self.change(ctx, &format!("goal {id} updated"), |d| {
            if let Some(t) = &u.text {
                put_text(d, &m, "text", t)?;
            }
            if let Some(p) = u.priority {
                d.put(&m, "priority", p as i64)?;
            }
            put_opt_str(d, &m, "method", &u.method)?;
            put_opt_date(d, &m, "target_date", u.target_date)?;
            put_opt_date(d, &m, "evaluate_by", u.evaluate_by)?;
            if let Some(s) = u.status {
                d.put(&m, "status", s.as_str())?;
            }
            Ok(())
        })
    }

    /// Sets the plan's review date.
    pub fn set_review_date(&mut self, ctx: &EditCtx, date: NaiveDate) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        let p = Self::map_in(&self.doc, &ROOT, "plan")?;
        self.change(ctx, "plan review date set", |d| {
            Ok(d.put(&p, "review_date", date_str(date))?)
        })
    }

    /// Makes a referral; returns its id.
    pub fn add_referral(&mut self, ctx: &EditCtx, r: &ReferralInput) -> Result<String, CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_required("agency", &r.agency, MAX_SHORT_TEXT)?;
        let refs = Self::map_in(&self.doc, &ROOT, "referrals")?;
        if self.count(&refs) >= MAX_ENTRIES {
            return Err(CaseError::TooLarge {
                field: "referrals",
                limit: MAX_ENTRIES,
            });
        }
        let id = self.ids.entry_id();
        self.change(ctx, "referral made", |d| {
            let m = d.put_object(&refs, id.as_str(), ObjType::Map)?;
            d.put(&m, "service", r.service.as_str())?;
            d.put(&m, "agency", r.agency.as_str())?;
            d.put(&m, "date", date_str(r.date))?;
            d.put(&m, "status", ReferralStatus::Made.as_str())?;
            put_opt_date(d, &m, "follow_up_date", r.follow_up_date)?;
            Ok(id.clone())
        })
    }

    /// Updates a referral's status, outcome or follow-up date.
    pub fn update_referral(
        &mut self,
        ctx: &EditCtx,
        id: &str,
        u: &ReferralUpdate,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        check_opt("outcome", &u.outcome, MAX_LONG_TEXT)?;
        let m = self.entry("referrals", "referral", id)?;
        self.change(ctx, &format!("referral {id} updated"), |d| {
            if let Some(s) = u.status {
                d.put(&m, "status", s.as_str())?;
            }
            put_opt_str(d, &m, "outcome", &u.outcome)?;
            put_opt_date(d, &m, "follow_up_date", u.follow_up_date)
        })
    }

    /// Records a visit; returns its id.
    pub fn add_visit(&mut self, ctx: &EditCtx, v: &VisitInput) -> Result<String, CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_text("notes", &v.notes, MAX_LONG_TEXT)?;
        check_opt("progress", &v.progress, MAX_LONG_TEXT)?;
        check_opt("obstacles", &v.obstacles, MAX_LONG_TEXT)?;
        check_opt("actions", &v.actions, MAX_LONG_TEXT)?;
        let visits = Self::map_in(&self.doc, &ROOT, "visits")?;
        if self.count(&visits) >= MAX_ENTRIES {
            return Err(CaseError::TooLarge {
                field: "visits",
                limit: MAX_ENTRIES,
            });
        }
        let id = self.ids.entry_id();
        self.change(ctx, "visit recorded", |d| {
            let m = d.put_object(&visits, id.as_str(), ObjType::Map)?;
            d.put(&m, "date", date_str(v.date))?;
            d.put(&m, "by", ctx.user_id.as_str())?;
            d.put(&m, "kind", v.kind.as_str())?;
            put_text(d, &m, "notes", &v.notes)?;
            put_opt_str(d, &m, "progress", &v.progress)?;
            put_opt_str(d, &m, "obstacles", &v.obstacles)?;
            put_opt_str(d, &m, "actions", &v.actions)?;
            put_opt_date(d, &m, "next_visit_date", v.next_visit_date)?;
            Ok(id.clone())
        })
    }

    /// Changes a visit (notes merge by character with concurrent edits).
    pub fn update_visit(
        &mut self,
        ctx: &EditCtx,
        id: &str,
        u: &VisitUpdate,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        check_opt("notes", &u.notes, MAX_LONG_TEXT)?;
        check_opt("progress", &u.progress, MAX_LONG_TEXT)?;
        check_opt("obstacles", &u.obstacles, MAX_LONG_TEXT)?;
        check_opt("actions", &u.actions, MAX_LONG_TEXT)?;
        let m = self.entry("visits", "visit", id)?;
        self.change(ctx, &format!("visit {id} updated"), |d| {
            if let Some(n) = &u.notes {
                put_text(d, &m, "notes", n)?;
            }
            put_opt_str(d, &m, "progress", &u.progress)?;
            put_opt_str(d, &m, "obstacles", &u.obstacles)?;
            put_opt_str(d, &m, "actions", &u.actions)?;
            put_opt_date(d, &m, "next_visit_date", u.next_visit_date)
        })
    }

    /// Moves the case to another open stage. Forward moves follow the process rules;
    /// moving back is for coordinators. Closing goes through [`close`](Self::close).
    pub fn advance(&mut self, ctx: &EditCtx, to: Stage) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        let from = self.stage()?;
        let bad = |reason| Err(CaseError::BadTransition { from, to, reason });
        if from == Stage::Closed {
            return bad("the case is closed; a coordinator reopens it");
        }
        if to == Stage::Closed {
            return bad("closing needs a reason and the client's agreement: use close");
        }
        if to == from {
            return bad("already there");
        }
        let case = self.read()?;
        if to < from {
            if ctx.role != Role::Coordinator {
                return bad("only a coordinator moves a case back");
            }
        } else {
            if to >= Stage::Assessment
                && !case
                    .intake
                    .as_ref()
                    .and_then(|i| i.consent.as_ref())
                    .is_some_and(|c| c.given)
            {
                return bad("intake with the client's consent comes first");
            }
            if to >= Stage::Planning && case.assessment.as_ref().and_then(|a| a.date).is_none() {
                return bad("the assessment (with its date) comes first");
            }
            if to >= Stage::Implementation
                && !case
                    .plan
                    .goals
                    .values()
                    .any(|g| g.status != GoalStatus::Dropped)
            {
                return bad("the service plan needs at least one goal");
            }
        }
        self.change(ctx, &format!("stage {from} -> {to}"), |d| {
            Ok(d.put(ROOT, "stage", to.as_str())?)
        })
    }

    /// Closes the case. Needs a reason; the client's agreement is required unless the
    /// reason makes it impossible (deceased, moved, lost to follow-up), and then only a
    /// coordinator may close.
    pub fn close(&mut self, ctx: &EditCtx, c: &ClosureInput) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        let from = self.stage()?;
        check_text("closure summary", &c.summary, MAX_LONG_TEXT)?;
        let bad = |reason| {
            Err(CaseError::BadTransition {
                from,
                to: Stage::Closed,
                reason,
            })
        };
        if from == Stage::Closed {
            return bad("already closed");
        }
        let agreement_possible = !matches!(
            c.reason,
            ClosureReason::Deceased | ClosureReason::Moved | ClosureReason::LostToFollowUp
        );
        if agreement_possible && !c.client_agreed {
            return bad("closure needs the client's agreement");
        }
        if !c.client_agreed && ctx.role != Role::Coordinator {
            return bad("without the client's agreement only a coordinator may close");
        }
        let case = self.read()?;
        let known: Vec<String> = case
            .visits
            .keys()
            .chain(case.plan.goals.keys())
            .chain(case.referrals.keys())
            .cloned()
            .collect();
        let o = Self::map_in(&self.doc, &ROOT, "closure")?;
        self.change(ctx, &format!("case closed ({})", c.reason), |d| {
            d.put(&o, "date", date_str(c.date))?;
            d.put(&o, "reason", c.reason.as_str())?;
            d.put(&o, "client_agreed", c.client_agreed)?;
            put_text(d, &o, "summary", &c.summary)?;
            // The set of entries this closure saw, written whole; concurrent closures'
            // sets are read as their union (see `Reader::case`).
            let k = d.put_object(&o, "known", ObjType::Map)?;
            for id in &known {
                d.put(&k, id.as_str(), true)?;
            }
            d.put(ROOT, "stage", Stage::Closed.as_str())?;
            Ok(())
        })
    }

    /// Reopens a closed case (coordinators only); it returns to monitoring.
    pub fn reopen(&mut self, ctx: &EditCtx) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "reopen a case")?;
        if self.stage()? != Stage::Closed {
            return Err(CaseError::BadTransition {
                from: self.stage()?,
                to: Stage::Monitoring,
                reason: "only a closed case is reopened",
            });
        }
        let o = Self::map_in(&self.doc, &ROOT, "closure")?;
        self.change(ctx, "case reopened", |d| {
            for k in ["date", "reason", "client_agreed", "known"] {
                d.delete(&o, k)?;
            }
            d.put(ROOT, "stage", Stage::Monitoring.as_str())?;
            Ok(())
        })
    }

    /// Marks activity recorded after closure as reviewed (coordinators only).
    pub fn acknowledge_activity_after_closure(&mut self, ctx: &EditCtx) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "review activity after closure")?;
        let case = self.read()?;
        if !case.activity_after_closure {
            return Err(CaseError::NoConflict("activity_after_closure".into()));
        }
        let o = Self::map_in(&self.doc, &ROOT, "closure")?;
        let k = Self::map_in(&self.doc, &o, "known")?;
        self.change(ctx, "activity after closure reviewed", |d| {
            for id in case
                .visits
                .keys()
                .chain(case.plan.goals.keys())
                .chain(case.referrals.keys())
            {
                d.put(&k, id.as_str(), true)?;
            }
            Ok(())
        })
    }

    /// Records the evaluation of a closed case.
    pub fn evaluate(&mut self, ctx: &EditCtx, e: &Evaluation) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        let from = self.stage()?;
        if from != Stage::Closed {
            return Err(CaseError::BadTransition {
                from,
                to: Stage::Closed,
                reason: "evaluation follows closure",
            });
        }
        if !(1..=5).contains(&e.satisfaction) {
            return Err(CaseError::Invalid {
                field: "satisfaction",
                reason: "1 to 5".into(),
            });
        }
        let goals = self.read()?.plan.goals.len() as u32;
        if e.goals_achieved > goals {
            return Err(CaseError::Invalid {
                field: "goals_achieved",
                reason: format!("the plan has {goals} goals"),
            });
        }
        let o = Self::map_in(&self.doc, &ROOT, "evaluation")?;
        self.change(ctx, "case evaluated", |d| {
            d.put(&o, "goals_achieved", e.goals_achieved as i64)?;
            d.put(&o, "satisfaction", e.satisfaction as i64)?;
            Ok(())
        })
    }

    /// Reassigns the case to another worker (coordinators only).
    pub fn reassign(&mut self, ctx: &EditCtx, to_user: &str) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "reassign a case")?;
        check_required("assigned_to", to_user, MAX_SHORT_TEXT)?;
        self.change(ctx, "case reassigned", |d| {
            Ok(d.put(ROOT, "assigned_to", to_user)?)
        })
    }

    /// Marks the case sensitive or not (coordinators only).
    pub fn set_sensitive(&mut self, ctx: &EditCtx, sensitive: bool) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "change sensitivity")?;
        self.change(ctx, "sensitivity changed", |d| {
            Ok(d.put(ROOT, "sensitive", sensitive)?)
        })
    }

    /// Moves the case to another district (coordinators only).
    pub fn move_district(&mut self, ctx: &EditCtx, district: &str) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "move a case to another district")?;
        check_required("district", district, MAX_SHORT_TEXT)?;
        self.change(ctx, "district changed", |d| {
            Ok(d.put(ROOT, "district", district)?)
        })
    }

    /// Changes the village.
    pub fn set_village(&mut self, ctx: &EditCtx, village: &str) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        check_text("village", village, MAX_SHORT_TEXT)?;
        self.change(ctx, "village changed", |d| {
            Ok(d.put(ROOT, "village", village)?)
        })
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
