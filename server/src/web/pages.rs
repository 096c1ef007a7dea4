//! The dashboard's pages (GET handlers). Each reads the cases in the user's scope, builds
//! a view and renders its template.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use casesync_core::case::{Role, Stage};
use casesync_core::report::due_follow_ups;

use super::charts::{self, Bar, Group, Look, Series};
use super::data::Loaded;
use super::error::WebError;
use super::session::Signed;
use super::stats::{self, Overview};
use super::view::Chrome;
use crate::state::AppState;
use crate::store::UserRecord;

/// The cases `s` may read, from the dashboard cache.
pub(crate) async fn scoped(st: &AppState, s: &Signed) -> Result<Vec<Arc<Loaded>>, WebError> {
    let engine = st.engine.clone();
    let web = s.web.clone();
    let user = s.user.clone();
    Ok(tokio::task::spawn_blocking(move || web.cache.cases_for(&engine, &user)).await??)
}

/// The overview numbers of `s`'s scope.
pub(crate) async fn overview_of(st: &AppState, s: &Signed) -> Result<Overview, WebError> {
    let cases = scoped(st, s).await?;
    let users = st.store.users()?;
    let workers = stats::workers_of(&s.user, &users);
    let refs: Vec<_> = cases.iter().map(|l| &l.case).collect();
    let conflicts = cases.iter().filter(|l| !l.conflicts.is_empty()).count() as u32;
    Ok(stats::overview(
        &refs,
        conflicts,
        &workers,
        s.fmt().today(crate::now_ms()),
    ))
}

pub(crate) fn html<T: Template>(view: &T) -> Result<Response, WebError> {
    Ok(Html(view.render()?).into_response())
}

/// `GET /`: the login page for visitors, else the user's home page.
pub async fn root(signed: Result<Signed, WebError>) -> Redirect {
    match signed {
        Ok(s) => Redirect::to(super::session::home_of(s.user.role)),
        Err(_) => Redirect::to("/login"),
    }
}

/// A headline number.
pub struct Kpi {
    /// Message key of its label.
    pub key: &'static str,
    /// The value as shown.
    pub value: String,
    /// Stable id (`data-kpi`).
    pub id: &'static str,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewView {
    c: Chrome,
    scope: String,
    today: String,
    kpis: Vec<Kpi>,
    charts: Vec<(String, String)>,
    agencies: Vec<AgencyReferrals>,
    /// The referral statuses, in the order of each row's counts.
    statuses: Vec<&'static str>,
}

/// One row of the overview's referrals-by-agency table.
pub struct AgencyReferrals {
    /// Stable key (the agency's id, `-` for agencies outside the system).
    pub key: String,
    /// Its name in the reader's language.
    pub name: String,
    /// Made, accepted, completed, declined: formatted.
    pub counts: Vec<String>,
}

/// `GET /dashboard`: the district overview with its charts.
pub async fn overview(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.case_reader()?;
    let o = overview_of(&st, &s).await?;
    let t = s.tr();
    let fm = s.fmt();
    let i = &o.indicators;
    let stage_bars: Vec<Bar> = i
        .cases_by_stage
        .iter()
        .map(|(k, v)| Bar {
            key: k.as_str().into(),
            label: t.term("stage", k.as_str()),
            value: *v,
        })
        .collect();
    let overdue_bars: Vec<Bar> = o
        .overdue_by_worker
        .iter()
        .map(|(k, v)| Bar {
            key: k.clone(),
            label: k.clone(),
            value: *v,
        })
        .collect();
    let referral_bars: Vec<Bar> = i
        .referrals_by_status
        .iter()
        .map(|(k, v)| Bar {
            key: k.as_str().into(),
            label: t.term("referral", k.as_str()),
            value: *v,
        })
        .collect();
    let months: Vec<Group> = o
        .months
        .iter()
        .map(|m| Group {
            key: m.month.clone(),
            label: fm.month(&m.month),
        })
        .collect();
    let num = |n: u32| fm.num(n);
    let look = Look {
        rtl: t.lang.rtl(),
        num: &num,
    };
    let series = [
        Series {
            key: "new",
            label: t.get("series-new"),
            color: "#2a6f97",
            values: o.months.iter().map(|m| m.new).collect(),
        },
        Series {
            key: "closed",
            label: t.get("series-closed"),
            color: "#e07a1f",
            values: o.months.iter().map(|m| m.closed).collect(),
        },
    ];
    let empty = t.get("chart-empty");
    let charts = vec![
        (
            t.get("chart-stage"),
            charts::bars(
                &look,
                "stage",
                &t.get("chart-stage"),
                &empty,
                "#2a6f97",
                &stage_bars,
            ),
        ),
        (
            t.get("chart-months"),
            charts::columns(&look, "months", &t.get("chart-months"), &months, &series),
        ),
        (
            t.get("chart-overdue"),
            charts::bars(
                &look,
                "overdue",
                &t.get("chart-overdue"),
                &empty,
                "#c0392b",
                &overdue_bars,
            ),
        ),
        (
            t.get("chart-referrals"),
            charts::bars(
                &look,
                "referrals",
                &t.get("chart-referrals"),
                &empty,
                "#3c8d5a",
                &referral_bars,
            ),
        ),
    ];
    let median = i
        .median_days_intake_to_assessment
        .map_or_else(|| t.get("none"), |m| fm.dec(m));
    let kpis = vec![
        Kpi {
            key: "kpi-total",
            id: "total",
            value: fm.num(i.total_cases),
        },
        Kpi {
            key: "kpi-active",
            id: "active",
            value: fm.num(i.active_cases),
        },
        Kpi {
            key: "kpi-overdue",
            id: "overdue",
            value: fm.num(i.overdue_follow_ups),
        },
        Kpi {
            key: "kpi-new-month",
            id: "new-month",
            value: fm.num(i.new_this_month),
        },
        Kpi {
            key: "kpi-closed-goals",
            id: "closed-goals",
            value: fm.num(i.closed_with_goals_achieved),
        },
        Kpi {
            key: "kpi-median-days",
            id: "median-days",
            value: median,
        },
        Kpi {
            key: "kpi-after-closure",
            id: "after-closure",
            value: fm.num(i.activity_after_closure),
        },
        Kpi {
            key: "kpi-conflicts",
            id: "conflicts",
            value: fm.num(o.cases_with_conflicts),
        },
        Kpi {
            key: "kpi-days-to-accepted",
            id: "days-to-accepted",
            value: i
                .median_days_referral_to_accepted
                .map_or_else(|| t.get("none"), |m| fm.dec(m)),
        },
        Kpi {
            key: "kpi-days-to-completed",
            id: "days-to-completed",
            value: i
                .median_days_referral_to_completed
                .map_or_else(|| t.get("none"), |m| fm.dec(m)),
        },
        Kpi {
            key: "kpi-declined-share",
            id: "declined-share",
            value: i
                .referrals_declined_share
                .map_or_else(|| t.get("none"), |m| format!("{} %", fm.dec(m * 100.0))),
        },
        Kpi {
            key: "kpi-duplicate-services",
            id: "duplicate-services",
            value: fm.num(i.duplicate_service_cases),
        },
    ];
    let directory = crate::agencies::list(st.store.as_ref())?;
    let agencies = i
        .referrals_by_agency
        .iter()
        .map(|(key, by)| AgencyReferrals {
            name: match directory.iter().find(|a| &a.id == key) {
                Some(a) => a.name_in(t.lang.code()).to_owned(),
                None if key == casesync_core::report::OUTSIDE_AGENCY => t.get("agency-outside"),
                None => key.clone(),
            },
            counts: by.values().map(|n| fm.num(*n)).collect(),
            key: key.clone(),
        })
        .collect();
    let scope = t.args(
        "overview-scope",
        &[
            ("count", fm.num(i.total_cases)),
            ("districts", s.user.districts.join(", ")),
        ],
    );
    html(&OverviewView {
        c: Chrome::new(&s, "overview", "/dashboard"),
        scope,
        today: t.args(
            "overview-today",
            &[("date", fm.date(i.on)), ("zone", fm.zone_name().to_owned())],
        ),
        kpis,
        charts,
        agencies,
        statuses: casesync_core::case::ReferralStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect(),
    })
}

/// `GET /dashboard/indicators.json`: the overview's numbers.
pub async fn indicators_json(
    State(st): State<AppState>,
    s: Signed,
) -> Result<Json<Overview>, WebError> {
    s.case_reader()?;
    Ok(Json(overview_of(&st, &s).await?))
}

/// A row of the health workers page.
pub struct ChwRow {
    /// User id.
    pub id: String,
    /// Last sync of any of their phones.
    pub last_sync: Option<String>,
    /// Phones (not revoked).
    pub devices: usize,
    /// Open cases.
    pub cases: usize,
    /// Follow-ups due in the next 7 days (today included).
    pub due: usize,
    /// Overdue follow-ups.
    pub overdue: usize,
}

#[derive(Template)]
#[template(path = "chws.html")]
struct ChwsView {
    c: Chrome,
    rows: Vec<ChwRow>,
}

/// `GET /dashboard/chws`: the health workers of the coordinator's districts.
pub async fn chws(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.coordinator()?;
    let cases = scoped(&st, &s).await?;
    let refs: Vec<_> = cases.iter().map(|l| &l.case).collect();
    let users = st.store.users()?;
    let devices = st.store.devices()?;
    let fm = s.fmt();
    let today = fm.today(crate::now_ms());
    let rows = stats::workers_of(&s.user, &users)
        .into_iter()
        .map(|id| {
            let phones: Vec<_> = devices
                .iter()
                .filter(|d| d.user_id == id && !d.device_id.starts_with("web:"))
                .collect();
            let due = due_follow_ups(refs.iter().copied(), &id, today, 7);
            ChwRow {
                last_sync: phones
                    .iter()
                    .filter_map(|d| d.last_sync_ms)
                    .max()
                    .map(|ms| fm.ms(ms)),
                devices: phones.iter().filter(|d| !d.revoked).count(),
                cases: refs
                    .iter()
                    .filter(|c| c.assigned_to == id && c.stage != Stage::Closed)
                    .count(),
                overdue: due.iter().filter(|f| f.days_overdue > 0).count(),
                due: due.iter().filter(|f| f.days_overdue <= 0).count(),
                id,
            }
        })
        .collect();
    html(&ChwsView {
        c: Chrome::new(&s, "chws", "/dashboard/chws"),
        rows,
    })
}

/// A user row of the admin page.
pub struct UserRow {
    /// The record.
    pub u: UserRecord,
    /// The user id as a path segment (percent-encoded) of the row's forms.
    pub path: String,
    /// The user's own time zone, empty for the deployment's.
    pub zone: String,
}

/// A device row of the admin page.
pub struct DeviceRow {
    /// Device id.
    pub id: String,
    /// The device id as a path segment (percent-encoded) of the row's forms.
    pub path: String,
    /// User.
    pub user: String,
    /// Revoked.
    pub revoked: bool,
    /// First login.
    pub created: String,
    /// Last sync.
    pub last_sync: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminView {
    c: Chrome,
    users: Vec<UserRow>,
    devices: Vec<DeviceRow>,
    agencies: Vec<AgencyRow>,
    districts: Vec<crate::admin::DistrictView>,
}

/// One agency of the directory on the admin page.
pub struct AgencyRow {
    /// Id.
    pub id: String,
    /// Names, one `lang = name` per line (what the form takes back).
    pub names: String,
    /// Services, comma-separated stable names.
    pub services: String,
    /// Districts, comma-separated.
    pub districts: String,
    /// No longer taking referrals.
    pub disabled: bool,
}

/// `GET /dashboard/admin`: users and devices (admins; no case content), with the forms
/// of `admin_actions`.
pub async fn admin(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    if s.user.role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    let fm = s.fmt();
    let users = st
        .store
        .users()?
        .into_iter()
        .map(|u| UserRow {
            path: super::data::percent(&u.user_id),
            zone: u.time_zone.clone().unwrap_or_default(),
            u,
        })
        .collect();
    let devices = st
        .store
        .devices()?
        .into_iter()
        .map(|d| DeviceRow {
            path: super::data::percent(&d.device_id),
            id: d.device_id,
            user: d.user_id,
            revoked: d.revoked,
            created: fm.ms(d.created_ms),
            last_sync: d.last_sync_ms.map(|ms| fm.ms(ms)).unwrap_or_default(),
        })
        .collect();
    let agencies = crate::agencies::list(st.store.as_ref())?
        .into_iter()
        .map(|a| AgencyRow {
            names: a
                .names
                .iter()
                .map(|(l, n)| format!("{l} = {n}"))
                .collect::<Vec<_>>()
                .join("\n"),
            services: a
                .services
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            districts: a.districts.join(", "),
            disabled: a.disabled,
            id: a.id,
        })
        .collect();
    html(&AdminView {
        c: Chrome::new(&s, "admin", "/dashboard/admin"),
        users,
        devices,
        agencies,
        districts: crate::admin::list_districts(st.store.as_ref())?,
    })
}
