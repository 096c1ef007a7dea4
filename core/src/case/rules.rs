//! The lifecycle rules of a case as a comparison of two states (issue #14): what a
//! change did to a case — the case before it and after it — and the rule it broke, if
//! any. The honest API ([`CaseDoc`]'s edits) never produces a change that breaks one;
//! the server runs [`check_changes`] on every push, so a hand-made change cannot do
//! what the app would refuse.
//!
//! The rules read only [`Facts`]: identity fields, stage, consent, assessment date,
//! the ids of visits, goals and referrals (with a visit's author), closure and
//! evaluation — never note texts, so the check stays cheap on the push path.
//!
//! Concurrency: the rules compare the case as stored (what the change lands on) with
//! the case once the change is in. Entries, identity fields and the review of activity
//! after closure are judged there alone: no honest concurrent edit deletes an entry,
//! rewrites an identity field or marks activity reviewed. Stage is the one field two
//! honest offline edits can set concurrently (a worker advances the case while a
//! coordinator closes it): when the stage read after the push is a conflict of
//! concurrent values, each pushed change that moved the stage is judged against the
//! state its author saw (the document at the change's dependencies), which is the state
//! the honest API checked. A hand-made change built on an old state then gains nothing
//! an honest offline edit could not do, and the conflict stays visible
//! ([`CaseDoc::conflicts`]).

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Change, ChangeHash, ReadDoc, ROOT};

use super::doc::CaseDoc;
use super::model::{ClosureReason, GoalStatus, ReferralService, ReferralStatus, Role, Stage};
use super::read::Reader;
use super::schema::DISTINCT_PREFIX;

/// What of a case the lifecycle rules read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Case id.
    pub id: Option<String>,
    /// Creation time.
    pub created_at: Option<i64>,
    /// Registrar.
    pub created_by: Option<String>,
    /// Stage (`None`: the document has none, e.g. before its first change).
    pub stage: Option<Stage>,
    /// The stage is a conflict of concurrent values.
    pub stage_contested: bool,
    /// Consent recorded: given or refused (`None`: none recorded).
    pub consent_given: Option<bool>,
    /// The assessment has a date.
    pub assessment_dated: bool,
    /// Goals by id, with their status.
    pub goals: BTreeMap<String, GoalStatus>,
    /// Visits (those the case lists: with a date) by id, with their author.
    pub visits: BTreeMap<String, String>,
    /// Referrals the case lists (a known service and a date), by id.
    pub referrals: BTreeMap<String, ReferralFacts>,
    /// Closure record (reason, client agreed), when it reads as one.
    pub closure: Option<(ClosureReason, bool)>,
    /// Entry ids reviewed at closure (`closure.known`).
    pub known: BTreeSet<String>,
    /// An evaluation is recorded.
    pub evaluated: bool,
    /// The surviving case a duplicate closure names (`closure.duplicate_of`).
    pub duplicate_of: Option<String>,
    /// Cases decided to be other people (the `client` map's `distinct:<id>` keys).
    pub distinct: BTreeSet<String>,
}

impl Facts {
    /// A visit, goal or referral recorded while the case is closed awaits a
    /// coordinator's review (as [`Case::activity_after_closure`](super::Case) reads it).
    pub fn activity_after_closure(&self) -> bool {
        self.stage == Some(Stage::Closed)
            && self
                .visits
                .keys()
                .chain(self.goals.keys())
                .chain(self.referrals.keys())
                .any(|id| !self.known.contains(id))
    }
}

/// What the rules read of a referral: the registered agency it is addressed to, and
/// the answer (which, for a registered agency, only the agency gives).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralFacts {
    /// The registered agency's id (`agency_id`), if any.
    pub agency_id: Option<String>,
    /// The answer.
    pub answer: ReferralAnswerFacts,
}

/// A referral's answer fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralAnswerFacts {
    /// Status (`None`: none stored, read as made).
    pub status: Option<ReferralStatus>,
    /// `answered_by`.
    pub answered_by: Option<String>,
    /// `accepted_on`, `completed_on`, `declined_on` as stored.
    pub dates: [Option<String>; 3],
    /// `decline_reason`.
    pub decline_reason: Option<String>,
}

impl ReferralAnswerFacts {
    fn status(&self) -> ReferralStatus {
        self.status.unwrap_or(ReferralStatus::Made)
    }

    /// Not answered: made, nothing else set.
    fn unanswered(&self) -> bool {
        self.status() == ReferralStatus::Made
            && self.answered_by.is_none()
            && self.dates.iter().all(Option::is_none)
            && self.decline_reason.is_none()
    }
}

/// Whether a registered agency's answer may move a referral from `from` to `to`:
/// accepted once made, declined before completion, completed once accepted.
pub fn referral_step_allowed(from: ReferralStatus, to: ReferralStatus) -> bool {
    use ReferralStatus::*;
    matches!(
        (from, to),
        (Made, Accepted) | (Made, Declined) | (Accepted, Declined) | (Accepted, Completed)
    )
}

/// What kind of rule a change broke (mapped by the server onto its refusal codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// An act the pusher's role may not do (a coordinator's act by a worker).
    Role,
    /// An act no one may do (delete a record, rewrite an identity field, skip a stage).
    Lifecycle,
}

/// The rule a change broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct RuleBroken {
    /// Kind of rule.
    pub kind: RuleKind,
    /// The rule, in words (no personal data).
    pub reason: &'static str,
}

fn role(reason: &'static str) -> RuleBroken {
    RuleBroken {
        kind: RuleKind::Role,
        reason,
    }
}

fn lifecycle(reason: &'static str) -> RuleBroken {
    RuleBroken {
        kind: RuleKind::Lifecycle,
        reason,
    }
}

/// Root keys whose value, or anything under which, [`Facts`] read (directly or as the
/// section they sit in).
const FACT_ROOT_KEYS: &[&str] = &[
    "id",
    "created_at",
    "created_by",
    "stage",
    "intake",
    "assessment",
    "plan",
    "visits",
    "referrals",
    "closure",
    "evaluation",
];

/// Whether an operation on `key` (`None`: a list position, or not known) of the object
/// at `path` (the map keys from the root to it; `None` in it: a list position, or a
/// place that cannot be told) may change what [`Facts`] read. Errs on the side of
/// `true`: a push none of whose operations may change them cannot break a rule, and
/// the server then skips reading the facts at all (the common push: an assessment
/// field, a client detail). Keep in step with `read_facts`.
pub fn may_change_facts(path: &[Option<&str>], key: Option<&str>) -> bool {
    let is = |k: &str| key.is_none_or(|x| x == k);
    match path {
        [] => key.is_none_or(|k| FACT_ROOT_KEYS.contains(&k)),
        [Some("client")] => key.is_none_or(|k| k.starts_with(DISTINCT_PREFIX)),
        [Some("client"), ..] => false,
        [Some("assessment")] => is("date"),
        [Some("assessment"), ..] => false,
        [Some("intake")] => is("consent"),
        [Some("intake"), Some("consent"), ..] => true,
        [Some("intake"), ..] => false,
        [Some("plan")] => is("goals"),
        [Some("plan"), Some("goals"), ..] => true,
        [Some("plan"), ..] => false,
        _ => true,
    }
}

impl CaseDoc {
    /// The [`Facts`] of the case now.
    pub fn facts(&self) -> Facts {
        read_facts(&self.doc, None)
    }

    /// The [`Facts`] of the case as it was at `heads`.
    pub fn facts_at(&self, heads: &[ChangeHash]) -> Facts {
        read_facts(&self.doc, Some(heads))
    }
}

fn read_facts<D: ReadDoc>(doc: &D, heads: Option<&[ChangeHash]>) -> Facts {
    let r = Reader { doc, heads };
    let stage_values = match heads {
        Some(h) => doc.get_all_at(ROOT, "stage", h),
        None => doc.get_all(ROOT, "stage"),
    }
    .map(|v| v.len())
    .unwrap_or(0);
    let mut f = Facts {
        id: r.string(&ROOT, "id"),
        created_at: r.int(&ROOT, "created_at"),
        created_by: r.string(&ROOT, "created_by"),
        stage: r.string(&ROOT, "stage").and_then(|s| Stage::parse(&s)),
        stage_contested: stage_values > 1,
        ..Facts::default()
    };
    if let Some(i) = r.obj(&ROOT, "intake") {
        if let Some(c) = r.obj(&i, "consent") {
            if r.date(&c, "date").is_some() {
                f.consent_given = r.bool(&c, "given");
            }
        }
    }
    if let Some(a) = r.obj(&ROOT, "assessment") {
        f.assessment_dated = r.date(&a, "date").is_some();
    }
    if let Some(g) = r.obj(&ROOT, "plan").and_then(|p| r.obj(&p, "goals")) {
        for id in r.keys(&g) {
            if let Some(m) = r.obj(&g, &id) {
                let status = r
                    .string(&m, "status")
                    .and_then(|s| GoalStatus::parse(&s))
                    .unwrap_or(GoalStatus::Active);
                f.goals.insert(id, status);
            }
        }
    }
    if let Some(v) = r.obj(&ROOT, "visits") {
        for id in r.keys(&v) {
            if let Some(m) = r.obj(&v, &id) {
                if r.date(&m, "date").is_some() {
                    f.visits.insert(id, r.string(&m, "by").unwrap_or_default());
                }
            }
        }
    }
    if let Some(rf) = r.obj(&ROOT, "referrals") {
        for id in r.keys(&rf) {
            if let Some(m) = r.obj(&rf, &id) {
                let listed = r
                    .string(&m, "service")
                    .and_then(|s| ReferralService::parse(&s))
                    .is_some()
                    && r.date(&m, "date").is_some();
                if listed {
                    let answer = ReferralAnswerFacts {
                        status: r
                            .string(&m, "status")
                            .and_then(|s| ReferralStatus::parse(&s)),
                        answered_by: r.string(&m, "answered_by"),
                        dates: ["accepted_on", "completed_on", "declined_on"]
                            .map(|k| r.string(&m, k)),
                        decline_reason: r.string(&m, "decline_reason"),
                    };
                    let agency_id = r.string(&m, "agency_id");
                    f.referrals.insert(id, ReferralFacts { agency_id, answer });
                }
            }
        }
    }
    if let Some(c) = r.obj(&ROOT, "closure") {
        if r.date(&c, "date").is_some() {
            if let Some(reason) = r
                .string(&c, "reason")
                .and_then(|s| ClosureReason::parse(&s))
            {
                f.closure = Some((reason, r.bool(&c, "client_agreed").unwrap_or(false)));
            }
        }
        if let Some(k) = r.obj(&c, "known") {
            f.known = r.keys(&k).into_iter().collect();
        }
        f.duplicate_of = r.string(&c, "duplicate_of");
    }
    if let Some(c) = r.obj(&ROOT, "client") {
        f.distinct = r
            .keys(&c)
            .into_iter()
            .filter_map(|k| k.strip_prefix(DISTINCT_PREFIX).map(str::to_owned))
            .collect();
    }
    if let Some(e) = r.obj(&ROOT, "evaluation") {
        f.evaluated = r.int(&e, "goals_achieved").is_some() && r.int(&e, "satisfaction").is_some();
    }
    f
}

/// Whether the closure reason leaves the client able to agree (not deceased, moved or
/// lost to follow-up): then the closure needs their agreement.
fn agreement_possible(reason: ClosureReason) -> bool {
    !matches!(
        reason,
        ClosureReason::Deceased
            | ClosureReason::Moved
            | ClosureReason::LostToFollowUp
            | ClosureReason::Duplicate
    )
}

/// Whether a move of the stage from `before` to `after` by a user of role `by` is one
/// the honest API makes ([`CaseDoc::advance`], [`close`](CaseDoc::close),
/// [`reopen`](CaseDoc::reopen)); preconditions are read on `after` (what the move needs
/// is recorded by then, in the same change or before it).
pub fn check_stage(before: &Facts, after: &Facts, by: Role) -> Result<(), RuleBroken> {
    let (Some(from), Some(to)) = (before.stage, after.stage) else {
        return match (before.stage, after.stage) {
            (Some(_), None) => Err(lifecycle("a case always has a stage")),
            // A case begins where `CaseDoc::create` begins it (imports, which take a
            // migrated record's stage as recorded, are stored by the server itself).
            (None, Some(to)) if to != Stage::Intake => {
                Err(lifecycle("a new case begins at intake"))
            }
            _ => Ok(()),
        };
    };
    if from == to {
        return Ok(());
    }
    if from == Stage::Closed {
        if by != Role::Coordinator {
            return Err(role("only a coordinator reopens a closed case"));
        }
        if to != Stage::Monitoring {
            return Err(lifecycle("a reopened case returns to monitoring"));
        }
        return Ok(());
    }
    if to == Stage::Closed {
        let Some((reason, agreed)) = after.closure else {
            return Err(lifecycle("closing needs a closure record with its reason"));
        };
        if agreement_possible(reason) && !agreed {
            return Err(lifecycle("closure needs the client's agreement"));
        }
        if reason == ClosureReason::Duplicate && by != Role::Coordinator {
            return Err(role("only a coordinator closes a case as a duplicate"));
        }
        if reason == ClosureReason::Duplicate && after.duplicate_of.is_none() {
            return Err(lifecycle("a duplicate closure names the surviving case"));
        }
        if !agreed && by != Role::Coordinator {
            return Err(role(
                "without the client's agreement only a coordinator may close",
            ));
        }
        return Ok(());
    }
    if to < from {
        if by != Role::Coordinator {
            return Err(role("only a coordinator moves a case back"));
        }
        return Ok(());
    }
    if to >= Stage::Assessment && after.consent_given != Some(true) {
        return Err(lifecycle("intake with the client's consent comes first"));
    }
    if to >= Stage::Planning && !after.assessment_dated {
        return Err(lifecycle("the assessment (with its date) comes first"));
    }
    if to >= Stage::Implementation && !after.goals.values().any(|s| *s != GoalStatus::Dropped) {
        return Err(lifecycle("the service plan needs at least one goal"));
    }
    Ok(())
}

/// The rules on what a change did to a case, stage aside: identity fields, records
/// that are only ever added, and the review of activity after closure.
pub fn check_records(before: &Facts, after: &Facts, by: Role) -> Result<(), RuleBroken> {
    // The coordinator's decisions on possible duplicates (also on a case being created).
    if by != Role::Coordinator && before.duplicate_of != after.duplicate_of {
        return Err(role("only a coordinator closes a case as a duplicate"));
    }
    if before
        .distinct
        .iter()
        .any(|id| !after.distinct.contains(id))
    {
        return Err(lifecycle(
            "a decision that two cases are different people is never deleted",
        ));
    }
    if by != Role::Coordinator && before.distinct != after.distinct {
        return Err(role(
            "only a coordinator decides that two cases are different people",
        ));
    }
    if before.id.is_none() {
        // No case before: it begins here.
        return Ok(());
    }
    if before.id != after.id {
        return Err(lifecycle("the case id is set at creation"));
    }
    if before.created_at != after.created_at || before.created_by != after.created_by {
        return Err(lifecycle(
            "who registered the case, and when, is set at creation",
        ));
    }
    for (id, author) in &before.visits {
        match after.visits.get(id) {
            None => return Err(lifecycle("a visit is never deleted")),
            Some(a) if a != author => {
                return Err(lifecycle("a visit's author is set when it is recorded"))
            }
            Some(_) => {}
        }
    }
    if before.goals.keys().any(|id| !after.goals.contains_key(id)) {
        return Err(lifecycle("a goal is never deleted (it is dropped)"));
    }
    if before
        .referrals
        .keys()
        .any(|id| !after.referrals.contains_key(id))
    {
        return Err(lifecycle("a referral is never deleted"));
    }
    check_referrals(before, after, by)?;
    if before.consent_given.is_some() && after.consent_given.is_none() {
        return Err(lifecycle(
            "recorded consent is never deleted (it is recorded again)",
        ));
    }
    if before.evaluated && !after.evaluated {
        return Err(lifecycle("an evaluation is never deleted"));
    }
    if by != Role::Coordinator
        && before.stage == Some(Stage::Closed)
        && after.stage == Some(Stage::Closed)
        && before.activity_after_closure()
        && !after.activity_after_closure()
    {
        return Err(role(
            "only a coordinator reviews activity recorded after closure",
        ));
    }
    Ok(())
}

/// The rules on referrals to registered agencies (issue #15): made with the client's
/// consent to share, addressed once, answered by the agency alone, step by step; and
/// an agency's user changes nothing but such an answer.
fn check_referrals(before: &Facts, after: &Facts, by: Role) -> Result<(), RuleBroken> {
    for (id, a) in &after.referrals {
        match before.referrals.get(id) {
            None => {
                if by == Role::Agency {
                    return Err(role("agency staff do not make referrals"));
                }
                if a.agency_id.is_some() {
                    if after.consent_given != Some(true) {
                        return Err(lifecycle(
                            "referring to a registered agency needs the client's consent to share",
                        ));
                    }
                    if !a.answer.unanswered() {
                        return Err(role("only the agency answers a referral addressed to it"));
                    }
                }
            }
            Some(b) => {
                if b.agency_id != a.agency_id {
                    return Err(lifecycle(
                        "the agency a referral is addressed to is set when it is made",
                    ));
                }
                if b.answer == a.answer {
                    continue;
                }
                match (&a.agency_id, by) {
                    (Some(_), Role::Agency) => {
                        if !referral_step_allowed(b.answer.status(), a.answer.status()) {
                            return Err(lifecycle(
                                "an agency's answer moves a referral one step: accepted, then completed, or declined",
                            ));
                        }
                    }
                    (Some(_), _) => {
                        return Err(role("only the agency answers a referral addressed to it"))
                    }
                    (None, Role::Agency) => {
                        return Err(role("agency staff answer only referrals addressed to them"))
                    }
                    (None, _) => {}
                }
            }
        }
    }
    if by == Role::Agency {
        let unanswered = |f: &Facts| {
            let mut f = f.clone();
            for r in f.referrals.values_mut() {
                r.answer = ReferralAnswerFacts::default();
            }
            f
        };
        if unanswered(before) != unanswered(after) {
            return Err(role("agency staff change only their answer to a referral"));
        }
    }
    Ok(())
}

/// Checks what `changes` (already applied to `doc`) did to a case that read as
/// `before` at `before_heads` when they arrived (empty for a case the push creates),
/// pushed by a user of role `by`.
///
/// A push that creates the case is judged change by change (below). Otherwise, first
/// the whole push at once: [`check_records`] and [`check_stage`] on the case
/// before and after it (the stage, when a conflict of concurrent values after it, on
/// each change that moved it against the state its author saw: see the module notes).
/// A push whose net effect breaks a rule is then judged change by change, each on the
/// state it lands on (the case as stored with the push's earlier changes in): a
/// coordinator who reopens a case and moves it on in one push makes two legal moves,
/// not one illegal jump. Only such pushes pay for reading past states.
pub fn check_changes(
    before: &Facts,
    before_heads: &[ChangeHash],
    doc: &CaseDoc,
    changes: &[Change],
    by: Role,
) -> Result<(), RuleBroken> {
    if !before_heads.is_empty() {
        let after = doc.facts();
        let whole = check_step(before, &after, doc, changes, by);
        if whole.is_ok() || changes.len() < 2 {
            return whole;
        }
    }
    let mut heads: BTreeSet<ChangeHash> = before_heads.iter().copied().collect();
    let mut prev = before.clone();
    for c in in_dependency_order(changes) {
        for d in c.deps() {
            heads.remove(d);
        }
        heads.insert(c.hash());
        let at: Vec<ChangeHash> = heads.iter().copied().collect();
        let now = doc.facts_at(&at);
        check_step(&prev, &now, doc, std::slice::from_ref(c), by)?;
        prev = now;
    }
    Ok(())
}

/// [`check_records`] and [`check_stage`] from `before` to `after`, the state once
/// `changes` are in.
fn check_step(
    before: &Facts,
    after: &Facts,
    doc: &CaseDoc,
    changes: &[Change],
    by: Role,
) -> Result<(), RuleBroken> {
    check_records(before, after, by)?;
    if before.stage == Some(Stage::Closed)
        && after.stage == Some(Stage::Closed)
        && before.closure != after.closure
    {
        for c in changes {
            let base = doc.facts_at(c.deps());
            let own = doc.facts_at(&[c.hash()]);
            if base.stage == Some(Stage::Closed) && own.closure != base.closure {
                check_closure_edit(&own, by)?;
            }
        }
    }
    if !after.stage_contested {
        return check_stage(before, after, by);
    }
    for c in changes {
        let base = doc.facts_at(c.deps());
        let own = doc.facts_at(&[c.hash()]);
        if base.stage != own.stage {
            check_stage(&base, &own, by)?;
        }
    }
    Ok(())
}

/// The closure record of a case that stays closed, as a change left it (`after`, the
/// state its author produced): only a coordinator edits it, it stays a closure record,
/// and it keeps the rule of closing (the client's agreement unless the reason makes it
/// impossible). Judged per change on its author's state, as the stage is: two honest
/// concurrent closures may merge into a record neither wrote.
pub fn check_closure_edit(after: &Facts, by: Role) -> Result<(), RuleBroken> {
    if by != Role::Coordinator {
        return Err(role(
            "only a coordinator edits the closure record of a closed case",
        ));
    }
    let Some((reason, agreed)) = after.closure else {
        return Err(lifecycle("a closed case keeps its closure record"));
    };
    if agreement_possible(reason) && !agreed {
        return Err(lifecycle("closure needs the client's agreement"));
    }
    Ok(())
}

/// `changes` ordered so that each comes after those of them it depends on (the
/// others it depends on are already in the document).
fn in_dependency_order(changes: &[Change]) -> Vec<&Change> {
    let pushed: BTreeSet<ChangeHash> = changes.iter().map(Change::hash).collect();
    let mut done: BTreeSet<ChangeHash> = BTreeSet::new();
    let mut out = Vec::with_capacity(changes.len());
    let mut left: Vec<&Change> = changes.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|c| {
            let ready = c
                .deps()
                .iter()
                .all(|d| !pushed.contains(d) || done.contains(d));
            if ready {
                done.insert(c.hash());
                out.push(*c);
            }
            !ready
        });
        if left.len() == before {
            // A cycle cannot be hashed; keep the rest as pushed.
            out.append(&mut left);
        }
    }
    out
}

#[cfg(test)]
mod tests;
