//! Edits of the plan: goals and the review date, referrals, visits.

use super::*;
use crate::case::rules;

impl CaseDoc {
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

    /// Makes a referral; returns its id. A referral to a registered agency
    /// (`agency_id`) needs the client's consent to share, given at intake
    /// ([`CaseError::ReferralNeedsConsent`]), and, for a confidential case, the client's
    /// explicit consent on this referral ([`CaseError::ReferralNeedsSensitiveConsent`]).
    pub fn add_referral(&mut self, ctx: &EditCtx, r: &ReferralInput) -> Result<String, CaseError> {
        self.ensure_can_edit(ctx)?;
        self.ensure_open()?;
        check_required("agency", &r.agency, MAX_SHORT_TEXT)?;
        check_opt("referral reason", &r.reason, MAX_LONG_TEXT)?;
        if let Some(a) = &r.agency_id {
            check_required("agency id", a, MAX_SHORT_TEXT)?;
            let facts = self.facts();
            if facts.consent_given != Some(true) {
                return Err(CaseError::ReferralNeedsConsent);
            }
            let sensitive = self.reader().bool(&ROOT, "sensitive").unwrap_or(false);
            if sensitive && !r.share_sensitive {
                return Err(CaseError::ReferralNeedsSensitiveConsent);
            }
        }
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
            d.put(&m, "made_by", ctx.user_id.as_str())?;
            put_opt_str(d, &m, "agency_id", &r.agency_id)?;
            put_opt_str(d, &m, "reason", &r.reason)?;
            if r.share_sensitive {
                d.put(&m, "share_sensitive", true)?;
            }
            Ok(id.clone())
        })
    }

    /// Updates a referral's status, outcome or follow-up date. The status of a referral
    /// to a registered agency is the agency's answer ([`CaseDoc::answer_referral`]),
    /// not the worker's.
    pub fn update_referral(
        &mut self,
        ctx: &EditCtx,
        id: &str,
        u: &ReferralUpdate,
    ) -> Result<(), CaseError> {
        self.ensure_can_edit(ctx)?;
        check_opt("outcome", &u.outcome, MAX_LONG_TEXT)?;
        let m = self.entry("referrals", "referral", id)?;
        if u.status.is_some() && self.reader().string(&m, "agency_id").is_some() {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "answer a referral addressed to a registered agency",
            });
        }
        self.change(ctx, &format!("referral {id} updated"), |d| {
            if let Some(s) = u.status {
                d.put(&m, "status", s.as_str())?;
            }
            put_opt_str(d, &m, "outcome", &u.outcome)?;
            put_opt_date(d, &m, "follow_up_date", u.follow_up_date)
        })
    }

    /// Records a registered agency's answer to referral `id` (the agency's user, on the
    /// server): accepted (once made), declined with a reason (before completion), or
    /// completed with its outcome (once accepted). Declined and completed are final.
    /// Writes only the referral's answer fields: its status, `answered_by` (the user),
    /// the date of this answer, and the decline reason or the outcome.
    pub fn answer_referral(
        &mut self,
        ctx: &EditCtx,
        id: &str,
        answer: &ReferralAnswer,
    ) -> Result<(), CaseError> {
        if ctx.role != Role::Agency {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "answer a referral for an agency",
            });
        }
        let m = self.entry("referrals", "referral", id)?;
        let r = self.reader();
        if r.string(&m, "agency_id").is_none() {
            return Err(CaseError::Invalid {
                field: "referral",
                reason: "not addressed to a registered agency".into(),
            });
        }
        let status = r
            .string(&m, "status")
            .and_then(|s| ReferralStatus::parse(&s))
            .unwrap_or(ReferralStatus::Made);
        let to = answer.status();
        let (date, key, text) = match answer {
            ReferralAnswer::Accept { date } => (*date, "accepted_on", None),
            ReferralAnswer::Decline { date, reason } => (
                *date,
                "declined_on",
                Some(("decline_reason", "decline reason", reason)),
            ),
            ReferralAnswer::Complete { date, outcome } => {
                (*date, "completed_on", Some(("outcome", "outcome", outcome)))
            }
        };
        if let Some((_, field, t)) = text {
            check_required(field, t, MAX_LONG_TEXT)?;
        }
        if !rules::referral_step_allowed(status, to) {
            return Err(CaseError::Invalid {
                field: "referral status",
                reason: format!("a referral that is {status} cannot become {to}"),
            });
        }
        let summary = match to {
            ReferralStatus::Accepted => format!("referral {id} accepted"),
            ReferralStatus::Declined => format!("referral {id} declined"),
            _ => format!("referral {id} completed"),
        };
        self.change(ctx, &summary, |d| {
            d.put(&m, "status", to.as_str())?;
            d.put(&m, "answered_by", ctx.user_id.as_str())?;
            d.put(&m, key, date_str(date))?;
            if let Some((k, _, t)) = text {
                d.put(&m, k, t.as_str())?;
            }
            Ok(())
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
}
