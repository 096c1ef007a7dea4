//! Edits of the case's lifecycle: stage changes, closure and reopening, evaluation, and
//! the coordinator's fields (assignment, sensitivity, district, village).

use super::*;

impl CaseDoc {
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
        if c.reason == ClosureReason::Duplicate {
            return Err(CaseError::Invalid {
                field: "closure reason",
                reason: "a duplicate is closed by a coordinator naming the surviving case".into(),
            });
        }
        self.write_closure(ctx, c, None)
    }

    /// [`close`](Self::close), and for a duplicate the surviving case.
    pub(super) fn write_closure(
        &mut self,
        ctx: &EditCtx,
        c: &ClosureInput,
        duplicate_of: Option<&str>,
    ) -> Result<(), CaseError> {
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
            ClosureReason::Deceased
                | ClosureReason::Moved
                | ClosureReason::LostToFollowUp
                | ClosureReason::Duplicate
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
            match duplicate_of {
                Some(of) => d.put(&o, "duplicate_of", of)?,
                None if d.get(&o, "duplicate_of")?.is_some() => d.delete(&o, "duplicate_of")?,
                None => {}
            }
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
            for k in ["date", "reason", "client_agreed", "known", "duplicate_of"] {
                if d.get(&o, k)?.is_some() {
                    d.delete(&o, k)?;
                }
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
