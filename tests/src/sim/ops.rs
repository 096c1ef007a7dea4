//! Edits a device makes to a case: every kind of the case API, with text in Bengali,
//! Farsi, Thai and Vietnamese. Each edit draws its parameters from its own RNG, so the
//! main schedule does not depend on what the edit found in the document.

use casesync_core::case::{
    AssessmentUpdate, CaseDoc, CaseError, ClientUpdate, ClosureInput, ClosureReason, EditCtx,
    Evaluation, ExtraValue, GoalInput, GoalStatus, GoalUpdate, IntakeInput, IntakeSource,
    ReferralInput, ReferralService, ReferralStatus, ReferralUpdate, SafetyRisk, Sex, Stage,
    VisitInput, VisitKind, VisitUpdate,
};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::Rng;

use super::ledger::{kind, Item, Ledger};

/// Field notes in the programme's languages (Farsi is right-to-left).
pub const PHRASES: &[&str] = &[
    "শিশুর টিকা বাকি আছে",
    "মা আজ বাড়িতে ছিলেন না",
    "مادر در خانه نبود",
    "پیگیری هفته آینده",
    "ลูกยังไม่ได้ฉีดวัคซีน",
    "นัดติดตามสัปดาห์หน้า",
    "Trẻ chưa được tiêm chủng",
    "Hẹn tái khám tuần sau",
];

/// A random phrase.
pub fn phrase(rng: &mut StdRng) -> String {
    PHRASES[rng.gen_range(0..PHRASES.len())].to_owned()
}

/// A date near the simulated day.
pub fn date(day: i64, rng: &mut StdRng) -> NaiveDate {
    let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    base + chrono::Duration::days(day + rng.gen_range(-3..30))
}

/// Every kind of edit, with its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    /// `update_client`.
    UpdateClient,
    /// `add_household_member`.
    AddHousehold,
    /// `remove_household_member`.
    RemoveHousehold,
    /// `record_intake`.
    RecordIntake,
    /// `record_consent`.
    RecordConsent,
    /// `update_assessment` (a token inserted into the strengths).
    UpdateAssessment,
    /// `set_extra`.
    SetExtra,
    /// `add_goal`.
    AddGoal,
    /// `update_goal`.
    UpdateGoal,
    /// `set_review_date`.
    SetReviewDate,
    /// `add_referral`.
    AddReferral,
    /// `update_referral`.
    UpdateReferral,
    /// `add_visit` (notes carry a token).
    AddVisit,
    /// `update_visit` (a token inserted into the notes: merged by character).
    UpdateVisit,
    /// `advance`.
    Advance,
    /// `close`.
    Close,
    /// `reopen` (coordinators).
    Reopen,
    /// `evaluate`.
    Evaluate,
    /// `set_village`.
    SetVillage,
    /// `acknowledge_activity_after_closure` (coordinators).
    AcknowledgeAfterClosure,
    /// `reassign` (coordinators).
    Reassign,
    /// `set_sensitive` (coordinators).
    SetSensitive,
}

/// Edit kinds and weights.
pub const KINDS: &[(EditKind, u32)] = &[
    (EditKind::UpdateClient, 4),
    (EditKind::AddHousehold, 3),
    (EditKind::RemoveHousehold, 1),
    (EditKind::RecordIntake, 3),
    (EditKind::RecordConsent, 3),
    (EditKind::UpdateAssessment, 5),
    (EditKind::SetExtra, 2),
    (EditKind::AddGoal, 4),
    (EditKind::UpdateGoal, 3),
    (EditKind::SetReviewDate, 1),
    (EditKind::AddReferral, 3),
    (EditKind::UpdateReferral, 3),
    (EditKind::AddVisit, 8),
    (EditKind::UpdateVisit, 8),
    (EditKind::Advance, 4),
    (EditKind::Close, 2),
    (EditKind::Reopen, 2),
    (EditKind::Evaluate, 1),
    (EditKind::SetVillage, 1),
    (EditKind::AcknowledgeAfterClosure, 1),
    (EditKind::Reassign, 4),
    (EditKind::SetSensitive, 1),
];

/// Picks an edit kind by weight.
pub fn pick_kind(rng: &mut StdRng) -> EditKind {
    let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
    let mut r = rng.gen_range(0..total);
    for (k, w) in KINDS {
        if r < *w {
            return *k;
        }
        r -= w;
    }
    EditKind::AddVisit
}

/// What an edit needs besides the document.
pub struct EditEnv<'l> {
    /// Who, when.
    pub ctx: &'l EditCtx,
    /// What has been recorded (to pick existing entries in a stable order).
    pub ledger: &'l Ledger,
    /// The CHWs of [`DISTRICT`](super::DISTRICT) (a case of the other district is
    /// assigned to [`OUTSIDER`](super::OUTSIDER)).
    pub chws: &'l [String],
    /// A token unique in the run, for notes.
    pub token: String,
    /// Simulated day.
    pub day: i64,
}

fn pick<'a>(rng: &mut StdRng, items: &'a [String]) -> Option<&'a String> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.gen_range(0..items.len()))
    }
}

/// Inserts `token` (with a phrase) at a random word boundary of `text` (never inside
/// an earlier token or a grapheme cluster).
fn insert_token(rng: &mut StdRng, text: &str, token: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let bounds: Vec<usize> = (0..=chars.len())
        .filter(|&i| i == 0 || i == chars.len() || chars[i - 1] == ' ')
        .collect();
    let at = bounds[rng.gen_range(0..bounds.len())];
    let mut out: String = text.chars().take(at).collect();
    out.push_str(&format!(" {token} {} ", phrase(rng)));
    out.extend(text.chars().skip(at));
    out
}

fn one_of<T: Copy>(rng: &mut StdRng, all: &[T]) -> T {
    all[rng.gen_range(0..all.len())]
}

/// Applies one edit of `kind` to `doc`. Returns a description and the items recorded.
/// A rule error (closed case, wrong role, missing entry...) leaves the document as it was.
pub fn apply(
    doc: &mut CaseDoc,
    case_id: &str,
    kind_: EditKind,
    rng: &mut StdRng,
    env: &EditEnv<'_>,
) -> Result<(String, Vec<Item>), CaseError> {
    let ctx = env.ctx;
    let day = env.day;
    let present = |doc: &mut CaseDoc,
                   ids: Vec<String>,
                   sel: fn(&casesync_core::case::Case, &str) -> bool|
     -> Result<Vec<String>, CaseError> {
        let case = doc.read()?;
        Ok(ids.into_iter().filter(|id| sel(&case, id)).collect())
    };
    let mut items = Vec::new();
    let what = match kind_ {
        EditKind::UpdateClient => {
            let u = ClientUpdate {
                name: rng.gen_bool(0.3).then(|| phrase(rng)),
                sex: rng.gen_bool(0.5).then(|| one_of(rng, Sex::ALL)),
                birth_date: None,
                age_estimate: rng.gen_bool(0.5).then(|| rng.gen_range(1..90)),
                phone: rng
                    .gen_bool(0.5)
                    .then(|| format!("+880{}", rng.gen_range(1000..9999))),
                language: rng
                    .gen_bool(0.3)
                    .then(|| one_of(rng, &["bn", "fa", "th", "vi"]).to_owned()),
            };
            doc.update_client(ctx, &u)?;
            "update_client".to_owned()
        }
        EditKind::AddHousehold => {
            let id = doc.add_household_member(
                ctx,
                &phrase(rng),
                one_of(rng, &["mother", "son", "aunt"]),
            )?;
            items.push(Item::Household(id.clone()));
            format!("add_household {id}")
        }
        EditKind::RemoveHousehold => {
            let ids = present(doc, env.ledger.ids_of(case_id, kind::household), |c, id| {
                c.client.household.contains_key(id)
            })?;
            let Some(id) = pick(rng, &ids) else {
                return Err(CaseError::NotFound {
                    kind: "household member",
                    id: String::new(),
                });
            };
            doc.remove_household_member(ctx, id)?;
            format!("remove_household {id}")
        }
        EditKind::RecordIntake => {
            let source = one_of(rng, IntakeSource::ALL);
            let i = IntakeInput {
                date: date(day, rng),
                source,
                referred_by: (source == IntakeSource::AgencyReferral || rng.gen_bool(0.3))
                    .then(|| "BRAC".to_owned()),
                presenting_problem: phrase(rng),
            };
            doc.record_intake(ctx, &i)?;
            "record_intake".to_owned()
        }
        EditKind::RecordConsent => {
            doc.record_consent(
                ctx,
                rng.gen_bool(0.85),
                date(day, rng),
                "services, referrals",
            )?;
            "record_consent".to_owned()
        }
        EditKind::UpdateAssessment => {
            let strengths = doc
                .read()?
                .assessment
                .map(|a| a.strengths)
                .unwrap_or_default();
            let u = AssessmentUpdate {
                date: rng.gen_bool(0.7).then(|| date(day, rng)),
                physical_health: rng.gen_bool(0.3).then(|| phrase(rng)),
                mental_health: rng.gen_bool(0.3).then(|| phrase(rng)),
                family: rng.gen_bool(0.3).then(|| phrase(rng)),
                safety_risk: rng.gen_bool(0.4).then(|| one_of(rng, SafetyRisk::ALL)),
                strengths: Some(insert_token(rng, &strengths, &env.token)),
                ..AssessmentUpdate::default()
            };
            doc.update_assessment(ctx, &u)?;
            items.push(Item::Strength(env.token.clone()));
            format!("update_assessment {}", env.token)
        }
        EditKind::SetExtra => {
            let key = one_of(
                rng,
                &["water_source", "distance_km", "has_birth_certificate"],
            );
            let v = match rng.gen_range(0..4) {
                0 => ExtraValue::Bool(rng.gen()),
                1 => ExtraValue::Int(rng.gen_range(0..50)),
                2 => ExtraValue::Float(f64::from(rng.gen_range(0..100u32)) / 4.0),
                _ => ExtraValue::Text(phrase(rng)),
            };
            doc.set_extra(ctx, key, &v)?;
            format!("set_extra {key}")
        }
        EditKind::AddGoal => {
            let g = GoalInput {
                text: phrase(rng),
                priority: rng.gen_range(1..4),
                method: rng.gen_bool(0.5).then(|| phrase(rng)),
                target_date: rng.gen_bool(0.5).then(|| date(day, rng)),
                evaluate_by: rng.gen_bool(0.5).then(|| date(day, rng)),
            };
            let id = doc.add_goal(ctx, &g)?;
            items.push(Item::Goal(id.clone()));
            format!("add_goal {id}")
        }
        EditKind::UpdateGoal => {
            let ids = present(doc, env.ledger.ids_of(case_id, kind::goal), |c, id| {
                c.plan.goals.contains_key(id)
            })?;
            let Some(id) = pick(rng, &ids) else {
                return Err(CaseError::NotFound {
                    kind: "goal",
                    id: String::new(),
                });
            };
            let u = GoalUpdate {
                priority: rng.gen_bool(0.5).then(|| rng.gen_range(1..4)),
                status: rng.gen_bool(0.5).then(|| one_of(rng, GoalStatus::ALL)),
                method: rng.gen_bool(0.3).then(|| phrase(rng)),
                ..GoalUpdate::default()
            };
            doc.update_goal(ctx, id, &u)?;
            format!("update_goal {id}")
        }
        EditKind::SetReviewDate => {
            doc.set_review_date(ctx, date(day, rng))?;
            "set_review_date".to_owned()
        }
        EditKind::AddReferral => {
            let r = ReferralInput {
                service: one_of(rng, ReferralService::ALL),
                agency: one_of(
                    rng,
                    &["Upazila Health Complex", "مرکز بهداشت", "โรงพยาบาลชุมชน"],
                )
                .to_owned(),
                date: date(day, rng),
                follow_up_date: rng.gen_bool(0.5).then(|| date(day, rng)),
                agency_id: None,
                reason: None,
                share_sensitive: false,
            };
            let id = doc.add_referral(ctx, &r)?;
            items.push(Item::Referral(id.clone()));
            format!("add_referral {id}")
        }
        EditKind::UpdateReferral => {
            let ids = present(doc, env.ledger.ids_of(case_id, kind::referral), |c, id| {
                c.referrals.contains_key(id)
            })?;
            let Some(id) = pick(rng, &ids) else {
                return Err(CaseError::NotFound {
                    kind: "referral",
                    id: String::new(),
                });
            };
            let u = ReferralUpdate {
                status: Some(one_of(rng, ReferralStatus::ALL)),
                outcome: rng.gen_bool(0.5).then(|| phrase(rng)),
                follow_up_date: rng.gen_bool(0.3).then(|| date(day, rng)),
            };
            doc.update_referral(ctx, id, &u)?;
            format!("update_referral {id}")
        }
        EditKind::AddVisit => {
            let v = VisitInput {
                date: date(day, rng),
                kind: one_of(rng, VisitKind::ALL),
                notes: format!("{} {} {}", phrase(rng), env.token, phrase(rng)),
                progress: rng.gen_bool(0.5).then(|| phrase(rng)),
                obstacles: rng.gen_bool(0.3).then(|| phrase(rng)),
                actions: rng.gen_bool(0.3).then(|| phrase(rng)),
                next_visit_date: rng.gen_bool(0.6).then(|| date(day, rng)),
            };
            let id = doc.add_visit(ctx, &v)?;
            items.push(Item::Visit(id.clone()));
            items.push(Item::VisitNote {
                visit: id.clone(),
                token: env.token.clone(),
            });
            format!("add_visit {id} {}", env.token)
        }
        EditKind::UpdateVisit => {
            let ids = present(doc, env.ledger.ids_of(case_id, kind::visit), |c, id| {
                c.visits.contains_key(id)
            })?;
            let Some(id) = pick(rng, &ids).cloned() else {
                return Err(CaseError::NotFound {
                    kind: "visit",
                    id: String::new(),
                });
            };
            let notes = doc
                .read()?
                .visits
                .get(&id)
                .map(|v| v.notes.clone())
                .unwrap_or_default();
            let u = VisitUpdate {
                notes: Some(insert_token(rng, &notes, &env.token)),
                progress: rng.gen_bool(0.3).then(|| phrase(rng)),
                next_visit_date: rng.gen_bool(0.3).then(|| date(day, rng)),
                ..VisitUpdate::default()
            };
            doc.update_visit(ctx, &id, &u)?;
            items.push(Item::VisitNote {
                visit: id.clone(),
                token: env.token.clone(),
            });
            format!("update_visit {id} {}", env.token)
        }
        EditKind::Advance => {
            let to = one_of(rng, &Stage::ALL[..Stage::ALL.len() - 1]);
            doc.advance(ctx, to)?;
            format!("advance -> {to}")
        }
        EditKind::Close => {
            let c = ClosureInput {
                date: date(day, rng),
                // Not `duplicate` (the last): `close` refuses it, it is the review
                // queue's `close_as_duplicate`.
                reason: one_of(rng, &ClosureReason::ALL[..ClosureReason::ALL.len() - 1]),
                client_agreed: rng.gen_bool(0.7),
                summary: phrase(rng),
            };
            doc.close(ctx, &c)?;
            format!("close ({})", c.reason)
        }
        EditKind::Reopen => {
            doc.reopen(ctx)?;
            "reopen".to_owned()
        }
        EditKind::Evaluate => {
            let goals = doc.read()?.plan.goals.len() as u32;
            let e = Evaluation {
                goals_achieved: rng.gen_range(0..=goals),
                satisfaction: rng.gen_range(1..=5),
            };
            doc.evaluate(ctx, &e)?;
            "evaluate".to_owned()
        }
        EditKind::SetVillage => {
            let v = one_of(rng, &["Char Kukri", "ده نو", "บ้านหนองบัว", "Xã An Phú"]);
            doc.set_village(ctx, v)?;
            format!("set_village {v}")
        }
        EditKind::AcknowledgeAfterClosure => {
            doc.acknowledge_activity_after_closure(ctx)?;
            "acknowledge_activity_after_closure".to_owned()
        }
        EditKind::Reassign => {
            // The app offers the health workers of the case's district (the server
            // refuses any other assignee: `can_assign`).
            let outsider = [super::OUTSIDER.to_owned()];
            let district = doc.summary()?.district;
            let team = if district == super::OTHER_DISTRICT {
                &outsider[..]
            } else {
                env.chws
            };
            let Some(to) = pick(rng, team) else {
                return Err(CaseError::NotFound {
                    kind: "chw",
                    id: String::new(),
                });
            };
            doc.reassign(ctx, to)?;
            format!("reassign -> {to}")
        }
        EditKind::SetSensitive => {
            let s = rng.gen_bool(0.5);
            doc.set_sensitive(ctx, s)?;
            format!("set_sensitive {s}")
        }
    };
    Ok((what, items))
}

/// Whether an edit kind is for coordinators only (CHWs would be refused locally).
pub fn coordinator_only(k: EditKind) -> bool {
    matches!(
        k,
        EditKind::Reopen
            | EditKind::AcknowledgeAfterClosure
            | EditKind::Reassign
            | EditKind::SetSensitive
    )
}
