//! Registered agencies (issue #15): the directory an administrator keeps (one JSON
//! record in the store's meta, `agencies`), what a referral shares with the agency it
//! is addressed to, and the agency's answers, made on the server as changes to the
//! referral entry through the sync engine, bound to the agency's user.
//!
//! What an agency's user sees is decided here alone ([`shares_with`]): a referral
//! whose `agency_id` is their agency, in a district the agency serves, and, for a
//! confidential (sensitive) case, only with the client's consent on that referral.
//! They never read a case: the view ([`shared_view`]) copies the shared fields out of
//! the read case. An agency's user has no sync scope (`sync::scope` gives the role
//! none) and cannot push (`http/sync_route.rs` answers 403).

use std::collections::BTreeSet;

use casesync_core::case::{Case, CaseError, Referral, ReferralAnswer, ReferralStatus, Role};
use casesync_core::protocol::{Agency, SharedReferral, MAX_AGENCIES};

use crate::auth::check_districts;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Storage, StoreError, UserRecord};
use crate::sync::{EditRefused, SyncEngine};
use crate::web::data::CaseCache;

/// The store's meta key of the directory (JSON: `[Agency]`, by id).
pub const AGENCIES_KEY: &str = "agencies";

/// The directory, by id.
pub fn list(store: &dyn Storage) -> Result<Vec<Agency>, StoreError> {
    match store.meta(AGENCIES_KEY)? {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| StoreError::Corrupt(format!("agency directory: {e}"))),
    }
}

/// One agency.
pub fn get(store: &dyn Storage, id: &str) -> Result<Option<Agency>, StoreError> {
    Ok(list(store)?.into_iter().find(|a| a.id == id))
}

/// What [`put_agency`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PutAgency {
    /// The agency as stored.
    pub agency: Agency,
    /// New to the directory (false: replaced, or already the same: nothing written).
    pub created: bool,
}

/// Adds an agency to the directory or replaces the one of that id (the admin's act, for
/// the API, the dashboard and the CLI). Every field is checked first; districts
/// deduplicated (first kept); the same agency again writes nothing. Run under the auth
/// records lock ([`crate::admin::run`]) on a running server, so two edits do not
/// interleave their read and write.
pub fn put_agency(store: &dyn Storage, a: &Agency) -> Result<PutAgency, AppError> {
    a.check().map_err(AppError::BadRequest)?;
    check_districts(&a.districts)?;
    let mut agency = a.clone();
    let mut seen = BTreeSet::new();
    agency.districts.retain(|d| seen.insert(d.clone()));
    let mut seen = BTreeSet::new();
    agency.services.retain(|s| seen.insert(*s));
    let mut all = list(store)?;
    let created = match all.iter_mut().find(|x| x.id == agency.id) {
        Some(x) if *x == agency => {
            return Ok(PutAgency {
                agency,
                created: false,
            })
        }
        Some(x) => {
            *x = agency.clone();
            false
        }
        None => {
            if all.len() >= MAX_AGENCIES {
                return Err(AppError::BadRequest(format!(
                    "the directory holds at most {MAX_AGENCIES} agencies"
                )));
            }
            all.push(agency.clone());
            all.sort_by(|x, y| x.id.cmp(&y.id));
            true
        }
    };
    let bytes = serde_json::to_vec(&all).map_err(|e| AppError::Internal(e.to_string()))?;
    store.set_meta(AGENCIES_KEY, &bytes)?;
    store.flush()?;
    tracing::info!(agency = %agency.id, created, "agency directory changed by an administrator");
    Ok(PutAgency { agency, created })
}

/// The agencies `user` may refer to or see: an administrator all of them; a worker or
/// coordinator those taking referrals in one of their districts; an agency's user
/// their own.
pub fn directory_for(store: &dyn Storage, user: &UserRecord) -> Result<Vec<Agency>, StoreError> {
    let all = list(store)?;
    Ok(match user.role {
        Role::Admin => all,
        Role::Agency => all
            .into_iter()
            .filter(|a| user.agency.as_deref() == Some(a.id.as_str()))
            .collect(),
        Role::Chw | Role::Coordinator => all
            .into_iter()
            .filter(|a| !a.disabled && a.districts.iter().any(|d| user.districts.contains(d)))
            .collect(),
    })
}

/// Whether `user`, of agency `agency`, may see referral `r` of `case`: addressed to
/// their agency, in a district it serves, and, for a confidential case, shared with the
/// client's consent on that referral.
pub fn shares_with(user: &UserRecord, agency: &Agency, case: &Case, r: &Referral) -> bool {
    user.role == Role::Agency
        && !user.disabled
        && user.agency.as_deref() == Some(agency.id.as_str())
        && r.agency_id.as_deref() == Some(agency.id.as_str())
        && agency.districts.contains(&case.district)
        && (!case.sensitive || r.share_sensitive)
}

/// What referral `r` of `case` shares with its agency.
pub fn shared_view(case: &Case, r: &Referral) -> SharedReferral {
    SharedReferral {
        case_id: case.id.to_string(),
        referral_id: r.id.clone(),
        client_name: case.client.name.clone(),
        client_phone: case.client.phone.clone(),
        service: r.service,
        reason: r.reason.clone(),
        referred_by: r
            .made_by
            .clone()
            .unwrap_or_else(|| case.assigned_to.clone()),
        date: r.date,
        status: r.status,
        accepted_on: r.accepted_on,
        completed_on: r.completed_on,
        declined_on: r.declined_on,
        decline_reason: r.decline_reason.clone(),
        outcome: r.outcome.clone(),
    }
}

/// The agency of an agency's user (403 for any other user, or one whose agency is not in
/// the directory).
fn agency_of(store: &dyn Storage, user: &UserRecord) -> Result<Agency, AppError> {
    if user.role != Role::Agency {
        return Err(AppError::Forbidden("agency staff only"));
    }
    let id = user
        .agency
        .as_deref()
        .ok_or(AppError::Forbidden("this user belongs to no agency"))?;
    get(store, id)?.ok_or(AppError::Forbidden("this user's agency is not registered"))
}

/// The referrals addressed to `user`'s agency that it may see: not yet answered first,
/// then the newest. Blocking.
pub fn referrals_for(
    engine: &SyncEngine,
    cache: &CaseCache,
    user: &UserRecord,
) -> Result<Vec<SharedReferral>, AppError> {
    let agency = agency_of(engine.store().as_ref(), user)?;
    let mut out = Vec::new();
    for d in &agency.districts {
        for l in cache.district_cases(engine, d)? {
            for r in l.case.referrals.values() {
                if shares_with(user, &agency, &l.case, r) {
                    out.push(shared_view(&l.case, r));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.status != ReferralStatus::Made)
            .cmp(&(b.status != ReferralStatus::Made))
            .then(b.date.cmp(&a.date))
            .then_with(|| a.case_id.cmp(&b.case_id))
            .then_with(|| a.referral_id.cmp(&b.referral_id))
    });
    Ok(out)
}

/// Records `user`'s answer to referral `referral_id` of case `case_id`, as a change to
/// the referral entry through the sync engine (device `server:<user>`, judged as a
/// push is, for the agency role: only the referral's answer fields may change). A
/// referral the user may not see is 404, as an unknown one (no confirmation that a
/// case exists). The same answer again (a 2G retry) stores nothing and answers the
/// referral as it is. Blocking.
pub fn answer(
    engine: &SyncEngine,
    user: &UserRecord,
    case_id: &str,
    referral_id: &str,
    answer: &ReferralAnswer,
) -> Result<SharedReferral, AppError> {
    let agency = agency_of(engine.store().as_ref(), user)?;
    let device = crate::web::actions::server_device(&user.user_id);
    let target = answer.status();
    let repeat = std::cell::Cell::new(false);
    let result = engine.edit_with(
        user,
        &device,
        case_id,
        |_, _, doc| {
            let case = doc.read().map_err(|_| EditRefused::NotFound)?;
            let r = case
                .referrals
                .get(referral_id)
                .filter(|r| shares_with(user, &agency, &case, r))
                .ok_or(EditRefused::NotFound)?;
            repeat.set(r.status == target && r.answered_by.as_deref() == Some(&user.user_id));
            Ok(())
        },
        |doc, ctx| {
            if repeat.get() {
                return Ok(());
            }
            doc.answer_referral(ctx, referral_id, answer)
        },
    );
    match result {
        Ok(()) => {}
        Err(EditRefused::NotFound) => return Err(AppError::NotFound),
        Err(EditRefused::Store(e)) => return Err(e.into()),
        Err(EditRefused::Edit(CaseError::Invalid {
            field: "referral status",
            reason,
        })) => return Err(AppError::Conflict(reason)),
        Err(EditRefused::Edit(e)) => return Err(AppError::BadRequest(e.to_string())),
        Err(EditRefused::Refused(r)) => {
            tracing::info!(doc = %case_id, user = %user.user_id, code = ?r.code, "agency answer refused");
            return Err(AppError::Forbidden("not an answer this agency may give"));
        }
    }
    tracing::info!(doc = %case_id, user = %user.user_id, status = %target, "agency answered a referral");
    let view = engine
        .with_case(case_id, |doc| doc.read().ok())?
        .flatten()
        .and_then(|c| c.referrals.get(referral_id).map(|r| shared_view(&c, r)))
        .ok_or(AppError::NotFound)?;
    Ok(view)
}

/// [`referrals_for`] on a blocking thread.
pub async fn referrals_async(
    st: &AppState,
    user: &UserRecord,
) -> Result<Vec<SharedReferral>, AppError> {
    let engine = st.engine.clone();
    let cache = st.cases.clone();
    let user = user.clone();
    tokio::task::spawn_blocking(move || referrals_for(&engine, &cache, &user)).await?
}

/// [`answer`] on a blocking thread.
pub async fn answer_async(
    st: &AppState,
    user: &UserRecord,
    case_id: &str,
    referral_id: &str,
    a: ReferralAnswer,
) -> Result<SharedReferral, AppError> {
    let engine = st.engine.clone();
    let user = user.clone();
    let (c, r) = (case_id.to_owned(), referral_id.to_owned());
    tokio::task::spawn_blocking(move || answer(&engine, &user, &c, &r, &a)).await?
}
