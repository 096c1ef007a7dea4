//! Reading a case document (at its heads or at past heads) into plain values.

use std::collections::BTreeMap;

use automerge::{ChangeHash, ObjId, ReadDoc, Value, ROOT};
use chrono::NaiveDate;

use super::error::CaseError;
use super::model::*;
use super::schema::{DISTINCT_PREFIX, SCHEMA_VERSION};

/// A read view of a document at given heads (`None` = current).
pub(crate) struct Reader<'a, D: ReadDoc> {
    pub doc: &'a D,
    pub heads: Option<&'a [ChangeHash]>,
}

impl<'a, D: ReadDoc> Reader<'a, D> {
    fn value(&self, obj: &ObjId, key: &str) -> Option<(Value<'a>, ObjId)> {
        let got = match self.heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        };
        got.ok().flatten()
    }

    /// The object stored at `key`, if it is one.
    pub fn obj(&self, obj: &ObjId, key: &str) -> Option<ObjId> {
        match self.value(obj, key)? {
            (Value::Object(_), id) => Some(id),
            _ => None,
        }
    }

    /// Every object stored concurrently at `key`: more than one when replicas created an
    /// object there concurrently (a record written as a whole, such as `closure.known`).
    pub fn objs(&self, obj: &ObjId, key: &str) -> Vec<ObjId> {
        let all = match self.heads {
            Some(h) => self.doc.get_all_at(obj, key, h),
            None => self.doc.get_all(obj, key),
        };
        all.unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| matches!(v, Value::Object(_)).then_some(id))
            .collect()
    }

    /// A string: a scalar string or the content of a Text object.
    pub fn string(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.value(obj, key)? {
            (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
            (Value::Object(automerge::ObjType::Text), id) => match self.heads {
                Some(h) => self.doc.text_at(&id, h).ok(),
                None => self.doc.text(&id).ok(),
            },
            _ => None,
        }
    }

    /// An integer.
    pub fn int(&self, obj: &ObjId, key: &str) -> Option<i64> {
        match self.value(obj, key)? {
            (Value::Scalar(s), _) => s.as_i64(),
            _ => None,
        }
    }

    /// A boolean.
    pub fn bool(&self, obj: &ObjId, key: &str) -> Option<bool> {
        match self.value(obj, key)? {
            (Value::Scalar(s), _) => s.as_bool(),
            _ => None,
        }
    }

    /// A date stored as `YYYY-MM-DD`.
    pub fn date(&self, obj: &ObjId, key: &str) -> Option<NaiveDate> {
        self.string(obj, key)
            .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
    }

    /// Keys of a map object.
    pub fn keys(&self, obj: &ObjId) -> Vec<String> {
        match self.heads {
            Some(h) => self.doc.keys_at(obj, h).collect(),
            None => self.doc.keys(obj).collect(),
        }
    }

    fn required_str(&self, obj: &ObjId, key: &'static str) -> Result<String, CaseError> {
        self.string(obj, key)
            .ok_or_else(|| CaseError::Malformed(key.to_owned()))
    }

    /// The schema version (refused if newer than this build reads) and the stage: the
    /// root checks every read of a case starts with.
    fn schema_and_stage(&self) -> Result<(i64, Stage), CaseError> {
        let schema = self
            .int(&ROOT, "schema")
            .ok_or_else(|| CaseError::Malformed("schema".into()))?;
        if schema as u64 > SCHEMA_VERSION {
            return Err(CaseError::UnsupportedSchema {
                found: schema as u64,
                supported: SCHEMA_VERSION,
            });
        }
        let stage = self
            .string(&ROOT, "stage")
            .and_then(|s| Stage::parse(&s))
            .ok_or_else(|| CaseError::Malformed("stage".into()))?;
        Ok((schema, stage))
    }

    /// Reads the whole case. `updated_at` is filled by the caller.
    pub fn case(&self) -> Result<Case, CaseError> {
        let (schema, stage) = self.schema_and_stage()?;
        let closure = self.closure();
        let plan = self.plan();
        let referrals = self.referrals();
        let visits = self.visits();
        let activity_after_closure = stage == Stage::Closed && {
            // `known` is a set written whole by each closure: concurrent closures make
            // concurrent maps, and an entry any of them saw is known (their union).
            let known: std::collections::BTreeSet<String> = self
                .obj(&ROOT, "closure")
                .map(|c| self.objs(&c, "known"))
                .unwrap_or_default()
                .iter()
                .flat_map(|k| self.keys(k))
                .collect();
            visits
                .keys()
                .chain(plan.goals.keys())
                .chain(referrals.keys())
                .any(|id| !known.contains(id))
        };
        Ok(Case {
            schema: schema as u32,
            id: self.required_str(&ROOT, "id")?,
            created_at: self.int(&ROOT, "created_at").unwrap_or_default(),
            created_by: self.string(&ROOT, "created_by").unwrap_or_default(),
            district: self.required_str(&ROOT, "district")?,
            village: self.string(&ROOT, "village").unwrap_or_default(),
            assigned_to: self.required_str(&ROOT, "assigned_to")?,
            sensitive: self.bool(&ROOT, "sensitive").unwrap_or(false),
            stage,
            client: self.client(),
            intake: self.intake(),
            assessment: self.assessment(),
            plan,
            referrals,
            visits,
            closure,
            evaluation: self.evaluation(),
            activity_after_closure,
            distinct_from: self.distinct_from(),
            updated_at: 0,
        })
    }

    /// Reads only what the listing summary needs (routing, name, stage, what is due),
    /// with the same checks as [`case`](Self::case): a document `case` refuses is refused
    /// here too (only root fields can make `case` fail). Equal to `case()?.summary()`
    /// without reading notes, assessments, household, intake or closure: the server
    /// computes it for every push. `updated_at` is filled by the caller.
    pub fn summary(&self) -> Result<CaseSummary, CaseError> {
        let (_, stage) = self.schema_and_stage()?;
        let id = self.required_str(&ROOT, "id")?;
        let district = self.required_str(&ROOT, "district")?;
        let assigned_to = self.required_str(&ROOT, "assigned_to")?;
        let name = self
            .obj(&ROOT, "client")
            .and_then(|c| self.string(&c, "name"))
            .unwrap_or_default();
        let next_due = if stage == Stage::Closed {
            None
        } else {
            self.next_due()
        };
        Ok(CaseSummary {
            id,
            name,
            stage,
            assigned_to,
            district,
            village: self.string(&ROOT, "village").unwrap_or_default(),
            sensitive: self.bool(&ROOT, "sensitive").unwrap_or(false),
            next_due,
            updated_at: 0,
        })
    }

    /// The earliest open follow-up date of an open case, as [`Case::follow_up_dates`]
    /// computes it from what [`case`](Self::case) reads (entries `case` skips are
    /// skipped here too).
    fn next_due(&self) -> Option<NaiveDate> {
        let mut due: Option<NaiveDate> = None;
        let mut note = |d: Option<NaiveDate>| {
            if let Some(d) = d {
                due = Some(due.map_or(d, |x| x.min(d)));
            }
        };
        // The latest visit (by date, then id) that has a date: its next visit.
        if let Some(v) = self.obj(&ROOT, "visits") {
            let latest = self
                .keys(&v)
                .into_iter()
                .filter_map(|id| {
                    let m = self.obj(&v, &id)?;
                    Some((self.date(&m, "date")?, id, m))
                })
                .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            if let Some((_, _, m)) = latest {
                note(self.date(&m, "next_visit_date"));
            }
        }
        if let Some(p) = self.obj(&ROOT, "plan") {
            if let Some(g) = self.obj(&p, "goals") {
                for id in self.keys(&g) {
                    let Some(m) = self.obj(&g, &id) else {
                        continue;
                    };
                    let status = self
                        .string(&m, "status")
                        .and_then(|s| GoalStatus::parse(&s))
                        .unwrap_or(GoalStatus::Active);
                    if status == GoalStatus::Active {
                        note(self.date(&m, "evaluate_by"));
                    }
                }
            }
            note(self.date(&p, "review_date"));
        }
        if let Some(r) = self.obj(&ROOT, "referrals") {
            for id in self.keys(&r) {
                let Some(m) = self.obj(&r, &id) else {
                    continue;
                };
                // `case` skips referrals without a known service or a date.
                let listed = self
                    .string(&m, "service")
                    .and_then(|s| ReferralService::parse(&s))
                    .is_some()
                    && self.date(&m, "date").is_some();
                let status = self
                    .string(&m, "status")
                    .and_then(|s| ReferralStatus::parse(&s))
                    .unwrap_or(ReferralStatus::Made);
                if listed && matches!(status, ReferralStatus::Made | ReferralStatus::Accepted) {
                    note(self.date(&m, "follow_up_date"));
                }
            }
        }
        due
    }

    fn client(&self) -> Client {
        let Some(c) = self.obj(&ROOT, "client") else {
            return Client::default();
        };
        let household = self
            .obj(&c, "household")
            .map(|h| {
                self.keys(&h)
                    .into_iter()
                    .filter_map(|id| {
                        let m = self.obj(&h, &id)?;
                        Some((
                            id,
                            HouseholdMember {
                                name: self.string(&m, "name").unwrap_or_default(),
                                relation: self.string(&m, "relation").unwrap_or_default(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Client {
            name: self.string(&c, "name").unwrap_or_default(),
            sex: self.string(&c, "sex").and_then(|s| Sex::parse(&s)),
            birth_date: self.date(&c, "birth_date"),
            age_estimate: self.int(&c, "age_estimate").map(|a| a as u32),
            phone: self.string(&c, "phone"),
            language: self.string(&c, "language"),
            household,
        }
    }

    fn intake(&self) -> Option<Intake> {
        let i = self.obj(&ROOT, "intake")?;
        let consent = self.obj(&i, "consent").and_then(|c| {
            Some(Consent {
                given: self.bool(&c, "given")?,
                date: self.date(&c, "date")?,
                scope: self.string(&c, "scope").unwrap_or_default(),
                recorded_by: self.string(&c, "recorded_by").unwrap_or_default(),
            })
        });
        Some(Intake {
            date: self.date(&i, "date")?,
            source: self
                .string(&i, "source")
                .and_then(|s| IntakeSource::parse(&s))?,
            referred_by: self.string(&i, "referred_by"),
            presenting_problem: self.string(&i, "presenting_problem").unwrap_or_default(),
            consent,
        })
    }

    fn assessment(&self) -> Option<Assessment> {
        let a = self.obj(&ROOT, "assessment")?;
        let extra: BTreeMap<String, ExtraValue> = self
            .obj(&a, "extra")
            .map(|x| {
                self.keys(&x)
                    .into_iter()
                    .filter_map(|k| {
                        let v = match self.value(&x, &k)? {
                            (Value::Scalar(s), _) => scalar_to_extra(&s)?,
                            (Value::Object(automerge::ObjType::Text), _) => {
                                ExtraValue::Text(self.string(&x, &k)?)
                            }
                            _ => return None,
                        };
                        Some((k, v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let out = Assessment {
            date: self.date(&a, "date"),
            physical_health: self.string(&a, "physical_health"),
            mental_health: self.string(&a, "mental_health"),
            social: self.string(&a, "social"),
            behavioural: self.string(&a, "behavioural"),
            family: self.string(&a, "family"),
            housing: self.string(&a, "housing"),
            income: self.string(&a, "income"),
            education: self.string(&a, "education"),
            safety_risk: self
                .string(&a, "safety_risk")
                .and_then(|s| SafetyRisk::parse(&s)),
            strengths: self.string(&a, "strengths").unwrap_or_default(),
            problem_origin: self.string(&a, "problem_origin"),
            causes: self.string(&a, "causes"),
            extra,
        };
        (out != Assessment::default()).then_some(out)
    }

    fn plan(&self) -> Plan {
        let Some(p) = self.obj(&ROOT, "plan") else {
            return Plan::default();
        };
        let goals = self
            .obj(&p, "goals")
            .map(|g| {
                self.keys(&g)
                    .into_iter()
                    .filter_map(|id| {
                        let m = self.obj(&g, &id)?;
                        Some((
                            id.clone(),
                            Goal {
                                id,
                                text: self.string(&m, "text").unwrap_or_default(),
                                priority: self.int(&m, "priority").unwrap_or(1) as u32,
                                method: self.string(&m, "method"),
                                target_date: self.date(&m, "target_date"),
                                evaluate_by: self.date(&m, "evaluate_by"),
                                status: self
                                    .string(&m, "status")
                                    .and_then(|s| GoalStatus::parse(&s))
                                    .unwrap_or(GoalStatus::Active),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Plan {
            goals,
            review_date: self.date(&p, "review_date"),
        }
    }

    fn referrals(&self) -> BTreeMap<String, Referral> {
        let Some(r) = self.obj(&ROOT, "referrals") else {
            return BTreeMap::new();
        };
        self.keys(&r)
            .into_iter()
            .filter_map(|id| {
                let m = self.obj(&r, &id)?;
                Some((
                    id.clone(),
                    Referral {
                        id,
                        service: self
                            .string(&m, "service")
                            .and_then(|s| ReferralService::parse(&s))?,
                        agency: self.string(&m, "agency").unwrap_or_default(),
                        date: self.date(&m, "date")?,
                        status: self
                            .string(&m, "status")
                            .and_then(|s| ReferralStatus::parse(&s))
                            .unwrap_or(ReferralStatus::Made),
                        outcome: self.string(&m, "outcome"),
                        follow_up_date: self.date(&m, "follow_up_date"),
                        agency_id: self.string(&m, "agency_id"),
                        reason: self.string(&m, "reason"),
                        share_sensitive: self.bool(&m, "share_sensitive").unwrap_or(false),
                        answered_by: self.string(&m, "answered_by"),
                        accepted_on: self.date(&m, "accepted_on"),
                        completed_on: self.date(&m, "completed_on"),
                        declined_on: self.date(&m, "declined_on"),
                        decline_reason: self.string(&m, "decline_reason"),
                        made_by: self.string(&m, "made_by"),
                    },
                ))
            })
            .collect()
    }

    fn visits(&self) -> BTreeMap<String, Visit> {
        let Some(v) = self.obj(&ROOT, "visits") else {
            return BTreeMap::new();
        };
        self.keys(&v)
            .into_iter()
            .filter_map(|id| {
                let m = self.obj(&v, &id)?;
                Some((
                    id.clone(),
                    Visit {
                        id,
                        date: self.date(&m, "date")?,
                        by: self.string(&m, "by").unwrap_or_default(),
                        kind: self
                            .string(&m, "kind")
                            .and_then(|s| VisitKind::parse(&s))
                            .unwrap_or(VisitKind::Home),
                        notes: self.string(&m, "notes").unwrap_or_default(),
                        progress: self.string(&m, "progress"),
                        obstacles: self.string(&m, "obstacles"),
                        actions: self.string(&m, "actions"),
                        next_visit_date: self.date(&m, "next_visit_date"),
                    },
                ))
            })
            .collect()
    }

    fn closure(&self) -> Option<Closure> {
        let c = self.obj(&ROOT, "closure")?;
        Some(Closure {
            date: self.date(&c, "date")?,
            reason: self
                .string(&c, "reason")
                .and_then(|s| ClosureReason::parse(&s))?,
            client_agreed: self.bool(&c, "client_agreed").unwrap_or(false),
            summary: self.string(&c, "summary").unwrap_or_default(),
            duplicate_of: self.string(&c, "duplicate_of"),
        })
    }

    /// The case ids under [`DISTINCT_PREFIX`] in the client map (scalars: a set that
    /// merges without a container made after creation; see `schema`).
    fn distinct_from(&self) -> Vec<String> {
        let Some(c) = self.obj(&ROOT, "client") else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .keys(&c)
            .into_iter()
            .filter_map(|k| k.strip_prefix(DISTINCT_PREFIX).map(str::to_owned))
            .collect();
        v.sort();
        v
    }

    fn evaluation(&self) -> Option<Evaluation> {
        let e = self.obj(&ROOT, "evaluation")?;
        Some(Evaluation {
            goals_achieved: self.int(&e, "goals_achieved")? as u32,
            satisfaction: self.int(&e, "satisfaction")? as u8,
        })
    }
}

fn scalar_to_extra(s: &automerge::ScalarValue) -> Option<ExtraValue> {
    use automerge::ScalarValue as S;
    Some(match s {
        S::Boolean(b) => ExtraValue::Bool(*b),
        S::Int(i) => ExtraValue::Int(*i),
        S::Uint(u) => ExtraValue::Int(i64::try_from(*u).ok()?),
        S::F64(f) => ExtraValue::Float(*f),
        S::Str(t) => ExtraValue::Text(t.to_string()),
        _ => return None,
    })
}
