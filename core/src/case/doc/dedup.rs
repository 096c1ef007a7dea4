//! The coordinator's two decisions on a possible duplicate client (`crate::dedup`):
//! the same person (this case is closed as a duplicate of the surviving one) or
//! different people (the pair is recorded in both cases, never flagged again).

use super::*;

impl CaseDoc {
    /// Closes this case as a duplicate of case `of` (coordinators only): reason
    /// [`ClosureReason::Duplicate`], `duplicate_of = of`, without the client's agreement
    /// (an administrative act), the summary as the coordinator wrote it.
    pub fn close_as_duplicate(
        &mut self,
        ctx: &EditCtx,
        of: &str,
        date: NaiveDate,
        summary: &str,
    ) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "close a case as a duplicate")?;
        validate_case_id(of)?;
        if self.id()? == of {
            return Err(CaseError::Invalid {
                field: "duplicate_of",
                reason: "a case is not a duplicate of itself".into(),
            });
        }
        let input = ClosureInput {
            date,
            reason: ClosureReason::Duplicate,
            client_agreed: false,
            summary: summary.to_owned(),
        };
        self.write_closure(ctx, &input, Some(of))
    }

    /// Records that case `other` is another person (coordinators only); a pair already
    /// recorded is refused (nothing written).
    pub fn mark_distinct(&mut self, ctx: &EditCtx, other: &str) -> Result<(), CaseError> {
        Self::ensure_coordinator(ctx, "decide two cases are different people")?;
        validate_case_id(other)?;
        if self.id()? == other {
            return Err(CaseError::Invalid {
                field: "distinct_from",
                reason: "a case is not another person than itself".into(),
            });
        }
        let client = Self::map_in(&self.doc, &ROOT, "client")?;
        let key = format!("{}{other}", schema::DISTINCT_PREFIX);
        if self.doc.get(&client, key.as_str())?.is_some() {
            return Err(CaseError::Invalid {
                field: "distinct_from",
                reason: "already recorded as different people".into(),
            });
        }
        self.change(ctx, "marked a different person", |d| {
            d.put(&client, key.as_str(), true)?;
            Ok(())
        })
    }
}
