//! Edits of the client's sections: identity and household, intake and consent, the
//! assessment and the extra fields.

use super::*;

impl CaseDoc {
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
}
