//! Case endpoints for coordinators and tools: read one case as JSON, create, import,
//! erase (consent withdrawn).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use casesync_core::case::{device_actor, validate_case_id, Case, CaseDoc, EditCtx, NewCase, Role};
use casesync_core::protocol::MAX_OPS_PER_REQUEST;
use serde_json::{json, Value};

use super::extract::{AuthUser, JsonBody, PathParam};
use super::AppState;
use crate::admin::import::Problem;
use crate::auth::Authenticated;
use crate::case_import::{self, CaseImportReport, CsvImport};
use crate::error::AppError;
use crate::history::{audited_history, AuditedEntry};
use crate::store::{ChangeAudit, DocRecord, Routing};
use crate::sync::scope::{can_read, may_register};

fn active(who: &Authenticated) -> Result<(), AppError> {
    if who.revoked {
        return Err(AppError::DeviceRevoked);
    }
    if matches!(who.user.role, Role::Admin | Role::Agency) {
        return Err(AppError::Forbidden(
            "admins and agency staff do not see case content",
        ));
    }
    Ok(())
}

fn ctx(who: &Authenticated) -> EditCtx {
    EditCtx::new(who.user.user_id.clone(), who.user.role, crate::now_ms())
}

/// Whether `who` may register a case with this routing (`scope::may_register`: their
/// districts, and an assignee `can_assign` accepts); 403 naming the rule otherwise.
fn may_create(
    st: &AppState,
    who: &Authenticated,
    district: &str,
    assigned_to: &str,
    sensitive: bool,
) -> Result<(), AppError> {
    let routing = Routing {
        district: district.into(),
        assigned_to: assigned_to.into(),
        sensitive,
    };
    may_register(&who.user, &routing, |u| st.store.user(u))?.map_err(AppError::Forbidden)
}

/// The device id of changes the server makes for `user_id` (as the dashboard's).
fn server_device(user_id: &str) -> String {
    format!("server:{user_id}")
}

fn server_actor(who: &Authenticated) -> automerge::ActorId {
    device_actor(&server_device(&who.user.user_id))
}

/// Stores new documents under the writer lock; 409 if any id exists (nothing stored).
async fn store_new(
    st: &AppState,
    who: &Authenticated,
    docs: Vec<CaseDoc>,
) -> Result<usize, AppError> {
    let audit = ChangeAudit {
        user_id: who.user.user_id.clone(),
        device_id: server_device(&who.user.user_id),
        received_ms: crate::now_ms(),
    };
    let guard = st.writer.clone().lock_owned().await;
    let engine = st.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _g = guard;
        let mut docs = docs;
        for d in &docs {
            let id = d.id().map_err(|e| AppError::InvalidCase(e.to_string()))?;
            if engine.store().doc(&id)?.is_some() {
                return Err(AppError::Conflict(format!("case {id} exists")));
            }
        }
        for d in &mut docs {
            engine.store_new(d, Some(audit.clone()))?;
        }
        engine.store().flush()?;
        Ok(docs.len())
    })
    .await?
}

/// The stored record of case `id` if `who` may read it (active, in scope, not erased);
/// 404 otherwise, as for a case that does not exist.
fn readable(st: &AppState, who: &Authenticated, id: &str) -> Result<DocRecord, AppError> {
    active(who)?;
    let rec = st
        .store
        .doc(id)?
        .filter(|r| !r.erased)
        .ok_or(AppError::NotFound)?;
    if !can_read(&who.user, &rec.routing) {
        return Err(AppError::NotFound);
    }
    Ok(rec)
}

/// `GET /v1/cases/{id}`: the case as JSON, for users whose scope includes it.
pub async fn get_case(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
) -> Result<Json<Case>, AppError> {
    readable(&st, &who, &id)?;
    let bytes = st.store.doc_bytes(&id)?.ok_or(AppError::NotFound)?;
    let case =
        tokio::task::spawn_blocking(move || CaseDoc::load(&bytes).and_then(|mut d| d.read()))
            .await?
            .map_err(|e| AppError::Internal(format!("stored case {id}: {e}")))?;
    Ok(Json(case))
}

/// `GET /v1/cases/{id}/history`: every change of the case in causal order, each with
/// the device's claim (`user`, `time_ms` from the change message) and the server's
/// record (`server`: `user_id`, `device_id`, `received_ms`; `null`: not recorded), for
/// users whose scope includes the case.
pub async fn history(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<AuditedEntry>>, AppError> {
    readable(&st, &who, &id)?;
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || {
        let bytes = store.doc_bytes(&id)?.ok_or(AppError::NotFound)?;
        let mut doc = CaseDoc::load(&bytes)
            .map_err(|e| AppError::Internal(format!("stored case {id}: {e}")))?;
        Ok(Json(audited_history(store.as_ref(), &id, &mut doc)?))
    })
    .await?
}

/// `POST /v1/cases`: creates a case from a `NewCase` (201 with the case).
pub async fn create(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    JsonBody(new): JsonBody<NewCase>,
) -> Result<(StatusCode, Json<Case>), AppError> {
    active(&who)?;
    may_create(&st, &who, &new.district, &new.assigned_to, new.sensitive)?;
    let mut doc = CaseDoc::create(&ctx(&who), server_actor(&who), &new)
        .map_err(|e| AppError::InvalidCase(e.to_string()))?;
    let case = doc
        .read()
        .map_err(|e| AppError::InvalidCase(e.to_string()))?;
    store_new(&st, &who, vec![doc]).await?;
    tracing::info!(doc = %case.id, user = %who.user.user_id, "case created");
    Ok((StatusCode::CREATED, Json(case)))
}

/// `POST /v1/cases/import`: a JSON array of whole `Case` values (coordinators, their
/// districts). All or nothing: 409 if any id exists.
pub async fn import(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    JsonBody(cases): JsonBody<Vec<Case>>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    active(&who)?;
    if who.user.role != Role::Coordinator {
        return Err(AppError::Forbidden("only coordinators import cases"));
    }
    let ctx = ctx(&who);
    let mut docs = Vec::with_capacity(cases.len());
    let mut ops = 0u64;
    for case in &cases {
        validate_case_id(&case.id).map_err(|e| AppError::InvalidCase(e.to_string()))?;
        may_create(&st, &who, &case.district, &case.assigned_to, case.sensitive)?;
        let doc = CaseDoc::import(&ctx, server_actor(&who), case)
            .map_err(|e| AppError::InvalidCase(format!("case {}: {e}", case.id)))?;
        ops += doc.op_count();
        if ops > MAX_OPS_PER_REQUEST {
            return Err(AppError::InvalidCase(format!(
                "the import holds more than {MAX_OPS_PER_REQUEST} operations: send it in parts"
            )));
        }
        docs.push(doc);
    }
    let n = store_new(&st, &who, docs).await?;
    tracing::info!(count = n, user = %who.user.user_id, "cases imported");
    Ok((StatusCode::CREATED, Json(json!({ "imported": n }))))
}

/// Query of a CSV import.
#[derive(Debug, serde::Deserialize)]
pub struct ImportQuery {
    /// Check only; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /v1/cases/import/csv[?dry_run=true]`: cases from a CSV text and a column
/// mapping (`case_import`), coordinators, their districts. Every line is checked as the
/// JSON import checks a case; a dry run answers every problem by line (200), a real
/// import with any problem is refused whole (400, the problems listed, nothing stored),
/// else 201 with the ids stored.
pub async fn import_csv(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    Query(q): Query<ImportQuery>,
    JsonBody(body): JsonBody<CsvImport>,
) -> Result<(StatusCode, Json<CaseImportReport>), AppError> {
    active(&who)?;
    if who.user.role != Role::Coordinator {
        return Err(AppError::Forbidden("only coordinators import cases"));
    }
    let ctx = ctx(&who);
    let (cases, mut problems) = case_import::parse(&body, &who.user.user_id, crate::now_ms())?;
    let rows = cases.len() + problems.len();
    let mut docs = Vec::with_capacity(cases.len());
    let mut ops = 0u64;
    for (line, case) in &cases {
        let mut wrong = |message: String| {
            problems.push(Problem {
                line: *line,
                message,
            })
        };
        if let Err(e) = validate_case_id(&case.id) {
            wrong(e.to_string());
            continue;
        }
        if let Err(e) = may_create(&st, &who, &case.district, &case.assigned_to, case.sensitive) {
            wrong(e.to_string());
            continue;
        }
        if st.store.doc(&case.id)?.is_some() {
            wrong(format!("case {} exists", case.id));
            continue;
        }
        match CaseDoc::import(&ctx, server_actor(&who), case) {
            Ok(doc) => {
                ops += doc.op_count();
                if ops > MAX_OPS_PER_REQUEST {
                    wrong(format!(
                        "the import holds more than {MAX_OPS_PER_REQUEST} operations from here \
                         on: send it in parts"
                    ));
                }
                docs.push(doc);
            }
            Err(e) => wrong(e.to_string()),
        }
    }
    let mut report = CaseImportReport::new(q.dry_run, rows, problems);
    if q.dry_run {
        return Ok((StatusCode::OK, Json(report)));
    }
    if report.problem_count > 0 {
        return Err(AppError::BadRequest(format!(
            "import refused, nothing stored ({} problems):\n{}",
            report.problem_count,
            report.problems_text()
        )));
    }
    let ids: Vec<String> = docs.iter().filter_map(|d| d.id().ok()).collect();
    let n = store_new(&st, &who, docs).await?;
    tracing::info!(count = n, user = %who.user.user_id, "cases imported from CSV");
    report.imported = ids;
    Ok((StatusCode::CREATED, Json(report)))
}

/// `POST /v1/cases/{id}/erase`: removes the case's content (consent withdrawn); every
/// device drops it at its next sync. Coordinators of its district.
pub async fn erase(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, AppError> {
    active(&who)?;
    if who.user.role != Role::Coordinator {
        return Err(AppError::Forbidden(
            "only a coordinator of the case's district erases it",
        ));
    }
    let rec = st.store.doc(&id)?.ok_or(AppError::NotFound)?;
    if !can_read(&who.user, &rec.routing) {
        return Err(AppError::Forbidden(
            "only a coordinator of the case's district erases it",
        ));
    }
    let guard = st.writer.clone().lock_owned().await;
    let (store, engine) = (st.store.clone(), st.engine.clone());
    let doc_id = id.clone();
    let seq = tokio::task::spawn_blocking(move || {
        let _g = guard;
        let seq = store.erase(&doc_id)?;
        store.flush()?;
        // The engine's loaded copy goes now (the key is gone, the content must too).
        engine.forget_doc(&doc_id);
        Ok::<_, AppError>(seq)
    })
    .await??;
    tracing::info!(doc = %id, user = %who.user.user_id, seq, "case erased");
    Ok(Json(json!({ "erased": id })))
}
