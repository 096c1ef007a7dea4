//! The agency's page (`/dashboard/agency`): the referrals addressed to the signed-in
//! agency user's agency, only what each shares (`crate::agencies`), with the forms to
//! accept, decline (with a reason) and complete (with the outcome). Each answer is a
//! change to the referral entry made through the sync engine as that user
//! (`crate::agencies::answer`), which reaches the referring worker's phone at its next
//! sync and the case's timeline.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Redirect, Response};
use axum::Form;
use casesync_core::case::{ReferralAnswer, Role};
use casesync_core::protocol::SharedReferral;
use serde::Deserialize;

use super::error::WebError;
use super::pages::html;
use super::session::Signed;
use super::view::Chrome;
use crate::agencies;
use crate::error::AppError;
use crate::state::AppState;

/// Where the page lives.
const AGENCY_PAGE: &str = "/dashboard/agency";

/// One referral row.
pub struct Row {
    /// What the referral shares.
    pub r: SharedReferral,
    /// Where its forms post.
    pub path: String,
    /// When it was made, formatted.
    pub made: String,
    /// When it was last answered, formatted (empty: not yet).
    pub answered: String,
}

#[derive(Template)]
#[template(path = "agency.html")]
struct AgencyView {
    c: Chrome,
    agency_name: String,
    rows: Vec<Row>,
}

fn agency_only(s: &Signed) -> Result<(), WebError> {
    match s.user.role {
        Role::Agency => Ok(()),
        _ => Err(WebError::Forbidden),
    }
}

/// `GET /dashboard/agency`.
pub async fn page(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    agency_only(&s)?;
    let list = agencies::referrals_async(&st, &s.user).await?;
    let name = match s.user.agency.as_deref() {
        Some(id) => agencies::get(st.store.as_ref(), id)?
            .map(|a| a.name_in(s.lang.code()).to_owned())
            .unwrap_or_else(|| id.to_owned()),
        None => String::new(),
    };
    let fm = s.fmt();
    let rows = list
        .into_iter()
        .map(|r| Row {
            path: format!(
                "{AGENCY_PAGE}/referrals/{}/{}",
                super::data::percent(&r.case_id),
                super::data::percent(&r.referral_id)
            ),
            made: fm.date(r.date),
            answered: r
                .completed_on
                .or(r.declined_on)
                .or(r.accepted_on)
                .map(|d| fm.date(d))
                .unwrap_or_default(),
            r,
        })
        .collect();
    html(&AgencyView {
        c: Chrome::new(&s, "agency", AGENCY_PAGE),
        agency_name: name,
        rows,
    })
}

/// An answer form.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    /// `accept`, `decline` or `complete`.
    #[serde(default)]
    action: String,
    /// The decline reason or the outcome.
    #[serde(default)]
    text: String,
}

/// `POST /dashboard/agency/referrals/{case}/{referral}`: the signed-in agency user's
/// answer, dated today in their time zone.
pub async fn answer(
    State(st): State<AppState>,
    s: Signed,
    Path((case_id, referral_id)): Path<(String, String)>,
    Form(f): Form<AnswerForm>,
) -> Result<Redirect, WebError> {
    agency_only(&s)?;
    s.check_csrf(&f.csrf)?;
    let date = s.fmt().today(crate::now_ms());
    let text = f.text.trim().to_owned();
    let a = match f.action.as_str() {
        "accept" => ReferralAnswer::Accept { date },
        "decline" => ReferralAnswer::Decline { date, reason: text },
        "complete" => ReferralAnswer::Complete {
            date,
            outcome: text,
        },
        _ => {
            return Err(WebError::BadRequest(
                "action: accept, decline or complete".into(),
            ))
        }
    };
    match agencies::answer_async(&st, &s.user, &case_id, &referral_id, a).await {
        Ok(_) => Ok(Redirect::to(AGENCY_PAGE)),
        Err(AppError::Conflict(m)) | Err(AppError::BadRequest(m)) => Err(WebError::Refused(m)),
        Err(e) => Err(e.into()),
    }
}
