//! The coordinator's actions (POST handlers): reassign, close, resolve a conflict,
//! acknowledge activity after closure.
//!
//! Each one checks the role and the session's CSRF token, then edits the case through the
//! sync engine ([`crate::sync::SyncEngine::edit_case`]) as the actor
//! `device_actor("server:<user_id>")`: the change is made through the core's rules
//! ([`CaseDoc`]) and judged by the checks a pushed change meets (scope, restricted
//! fields, lifecycle rules), then committed with a log sequence number and delivered to
//! every device in scope at its next sync.

use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::Form;
use casesync_core::case::{CaseDoc, CaseError, ClosureInput, ClosureReason, EditCtx};
use chrono::NaiveDate;
use serde::Deserialize;

use super::error::WebError;
use super::session::Signed;
use crate::state::AppState;
use crate::store::UserRecord;
use crate::sync::scope::{can_assign, can_read};
use crate::sync::EditRefused;

/// The device id (and actor prefix) of changes made on the dashboard by `user_id`.
pub fn server_device(user_id: &str) -> String {
    format!("server:{user_id}")
}

/// Applies `edit` to the stored case `id` as `user` through the sync engine
/// ([`SyncEngine::edit_case`](crate::sync::SyncEngine::edit_case)): the changes are
/// judged as a push of them would be and committed under the writer lock.
pub async fn write_case<F>(
    st: &AppState,
    user: &UserRecord,
    id: &str,
    what: &'static str,
    edit: F,
) -> Result<(), WebError>
where
    F: FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError> + Send + 'static,
{
    let engine = st.engine.clone();
    let user = user.clone();
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let device = server_device(&user.user_id);
        match engine.edit_case(&user, &device, &id, edit) {
            Ok(()) => {
                tracing::info!(doc = %id, user = %user.user_id, action = what, "dashboard change stored");
                Ok(())
            }
            Err(EditRefused::NotFound) => Err(WebError::NotFound),
            Err(EditRefused::Store(e)) => Err(e.into()),
            Err(EditRefused::Edit(e)) => Err(WebError::Refused(e.to_string())),
            Err(EditRefused::Refused(r)) => {
                tracing::info!(doc = %id, user = %user.user_id, code = ?r.code, "dashboard change refused");
                Err(WebError::Refused(r.message))
            }
        }
    })
    .await?
}

fn back_to(back: &str, id: &str) -> Redirect {
    if back == "review" {
        Redirect::to("/dashboard/review")
    } else {
        Redirect::to(&format!("/dashboard/cases/{}", super::data::percent(id)))
    }
}

/// The reassign form.
#[derive(Debug, Deserialize)]
pub struct ReassignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// `POST /dashboard/cases/{id}/reassign`: to a health worker of the case's district.
pub async fn reassign(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<ReassignForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    let rec = st
        .store
        .doc(&id)?
        .filter(|r| !r.erased && can_read(&s.user, &r.routing))
        .ok_or(WebError::NotFound)?;
    if !can_assign(st.store.user(&f.to)?.as_ref(), &rec.routing.district) {
        return Err(WebError::BadRequest(
            "choose a health worker of the case's district".into(),
        ));
    }
    let to = f.to.clone();
    write_case(&st, &s.user, &id, "reassign", move |doc, ctx| {
        doc.reassign(ctx, &to)
    })
    .await?;
    Ok(back_to("", &id))
}

/// The close form.
#[derive(Debug, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    agreed: String,
    #[serde(default)]
    summary: String,
}

/// `POST /dashboard/cases/{id}/close`: reason, date, client's agreement, summary.
pub async fn close(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CloseForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    let reason = ClosureReason::parse(&f.reason)
        .ok_or_else(|| WebError::BadRequest("unknown closure reason".into()))?;
    let date = if f.date.trim().is_empty() {
        super::data::today()
    } else {
        NaiveDate::parse_from_str(f.date.trim(), "%Y-%m-%d")
            .map_err(|_| WebError::BadRequest("date: YYYY-MM-DD".into()))?
    };
    let input = ClosureInput {
        date,
        reason,
        client_agreed: matches!(f.agreed.as_str(), "on" | "1" | "true" | "yes"),
        summary: f.summary,
    };
    write_case(&st, &s.user, &id, "close", move |doc, ctx| {
        doc.close(ctx, &input)
    })
    .await?;
    Ok(back_to("", &id))
}

/// The resolve form: the conflicting field and the chosen value (JSON).
#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    back: String,
}

/// `POST /dashboard/cases/{id}/resolve`: keeps one of a field's concurrent values.
pub async fn resolve(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    let value: serde_json::Value =
        serde_json::from_str(&f.value).map_err(|_| WebError::BadRequest("value: JSON".into()))?;
    let path = f.path.clone();
    write_case(&st, &s.user, &id, "resolve", move |doc, ctx| {
        doc.resolve(ctx, &path, &value)
    })
    .await?;
    Ok(back_to(&f.back, &id))
}

/// The acknowledge form.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

/// `POST /dashboard/cases/{id}/acknowledge`: marks activity after closure reviewed.
pub async fn acknowledge(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> Result<Redirect, WebError> {
    s.coordinator()?;
    s.check_csrf(&f.csrf)?;
    write_case(&st, &s.user, &id, "acknowledge", |doc, ctx| {
        doc.acknowledge_activity_after_closure(ctx)
    })
    .await?;
    Ok(back_to(&f.back, &id))
}
