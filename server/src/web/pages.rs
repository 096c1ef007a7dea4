//! The dashboard's pages (GET handlers). Each reads the cases in the user's scope, builds
//! a view and renders its template.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use casesync_core::case::{ClosureReason, Conflict, HistoryEntry, Role, Stage};
use casesync_core::report::due_follow_ups;

use super::charts::{self, Bar, Series};
use super::data::{self, Filters, Loaded};
use super::error::WebError;
use super::session::Signed;
use super::stats::{self, Overview};
use super::view::{dir_of, fmt_date, fmt_ms, lang_of, value_text, Chrome};
use crate::http::AppState;
use crate::store::UserRecord;
use crate::sync::scope::can_read;

/// Cases per page of the case list.
pub const PAGE_SIZE: usize = 50;

/// The cases `s` may read, from the dashboard cache.
pub(crate) async fn scoped(st: &AppState, s: &Signed) -> Result<Vec<Arc<Loaded>>, WebError> {
    let store = st.store.clone();
    let web = s.web.clone();
    let user = s.user.clone();
    Ok(tokio::task::spawn_blocking(move || web.cache.cases_for(store.as_ref(), &user)).await??)
}

/// The overview numbers of `s`'s scope.
pub(crate) async fn overview_of(st: &AppState, s: &Signed) -> Result<Overview, WebError> {
    let cases = scoped(st, s).await?;
    let users = st.store.users()?;
    let workers = stats::workers_of(&s.user, &users);
    let refs: Vec<_> = cases.iter().map(|l| &l.case).collect();
    let conflicts = cases.iter().filter(|l| !l.conflicts.is_empty()).count() as u32;
    Ok(stats::overview(&refs, conflicts, &workers, data::today()))
}

fn html<T: Template>(view: &T) -> Result<Response, WebError> {
    Ok(Html(view.render()?).into_response())
}

/// `GET /`: the login page for visitors, else the user's home page.
pub async fn root(signed: Result<Signed, WebError>) -> Redirect {
    match signed {
        Ok(s) if s.user.role == Role::Admin => Redirect::to("/dashboard/admin"),
        Ok(_) => Redirect::to("/dashboard"),
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
}

/// `GET /dashboard`: the district overview with its charts.
pub async fn overview(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.case_reader()?;
    let o = overview_of(&st, &s).await?;
    let t = s.tr();
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
    let months: Vec<String> = o.months.iter().map(|m| m.month.clone()).collect();
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
                "stage",
                &t.get("chart-stage"),
                &empty,
                "#2a6f97",
                &stage_bars,
            ),
        ),
        (
            t.get("chart-months"),
            charts::columns("months", &t.get("chart-months"), &months, &series),
        ),
        (
            t.get("chart-overdue"),
            charts::bars(
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
        .map_or_else(|| t.get("none"), |m| format!("{m}"));
    let kpis = vec![
        Kpi {
            key: "kpi-total",
            id: "total",
            value: i.total_cases.to_string(),
        },
        Kpi {
            key: "kpi-active",
            id: "active",
            value: i.active_cases.to_string(),
        },
        Kpi {
            key: "kpi-overdue",
            id: "overdue",
            value: i.overdue_follow_ups.to_string(),
        },
        Kpi {
            key: "kpi-new-month",
            id: "new-month",
            value: i.new_this_month.to_string(),
        },
        Kpi {
            key: "kpi-closed-goals",
            id: "closed-goals",
            value: i.closed_with_goals_achieved.to_string(),
        },
        Kpi {
            key: "kpi-median-days",
            id: "median-days",
            value: median,
        },
        Kpi {
            key: "kpi-after-closure",
            id: "after-closure",
            value: i.activity_after_closure.to_string(),
        },
        Kpi {
            key: "kpi-conflicts",
            id: "conflicts",
            value: o.cases_with_conflicts.to_string(),
        },
    ];
    let scope = t.args(
        "overview-scope",
        &[
            ("count", i.total_cases.to_string()),
            ("districts", s.user.districts.join(", ")),
        ],
    );
    html(&OverviewView {
        c: Chrome::new(&s, "overview", "/dashboard"),
        scope,
        today: t.arg("overview-today", "date", &i.on.to_string()),
        kpis,
        charts,
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
    let today = data::today();
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
                    .map(fmt_ms),
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

/// One value of a conflict, ready to show.
pub struct ValueRow {
    /// As text.
    pub text: String,
    /// JSON, posted back to choose it.
    pub json: String,
    /// Who wrote it.
    pub user: String,
    /// When.
    pub when: String,
    /// Can be chosen (a scalar).
    pub choosable: bool,
}

/// One conflicting field of a case.
pub struct ConflictRow {
    /// Case id.
    pub case_id: String,
    /// Client's name.
    pub name: String,
    /// `lang` of the name.
    pub lang: String,
    /// `dir` of the name.
    pub dir: &'static str,
    /// Field path.
    pub path: String,
    /// Values, the one shown now first.
    pub values: Vec<ValueRow>,
}

fn conflict_rows(case: &casesync_core::case::Case, conflicts: &[Conflict]) -> Vec<ConflictRow> {
    let lang = case.client.language.as_deref();
    conflicts
        .iter()
        .map(|c| ConflictRow {
            case_id: case.id.clone(),
            name: case.client.name.clone(),
            lang: lang_of(lang),
            dir: dir_of(lang),
            path: c.path.clone(),
            values: c
                .values
                .iter()
                .map(|v| ValueRow {
                    text: value_text(&v.value),
                    json: v.value.to_string(),
                    user: v.user.clone(),
                    when: fmt_ms(v.time_ms),
                    choosable: !v.value.is_null(),
                })
                .collect(),
        })
        .collect()
}

/// A case in a list.
pub struct CaseRow {
    /// Id.
    pub id: String,
    /// Client's name.
    pub name: String,
    /// `lang` of the name.
    pub lang: String,
    /// `dir` of the name.
    pub dir: &'static str,
    /// Stage (stable name).
    pub stage: &'static str,
    /// Assigned worker.
    pub chw: String,
    /// Village.
    pub village: String,
    /// Next follow-up.
    pub next_due: String,
    /// Last change.
    pub updated: String,
    /// Has an overdue follow-up.
    pub overdue: bool,
    /// Sensitive.
    pub sensitive: bool,
    /// Has conflicting edits.
    pub conflict: bool,
    /// Activity after closure.
    pub after_closure: bool,
}

fn case_row(l: &Loaded, today: chrono::NaiveDate) -> CaseRow {
    let c = &l.case;
    let lang = c.client.language.as_deref();
    CaseRow {
        id: c.id.clone(),
        name: c.client.name.clone(),
        lang: lang_of(lang),
        dir: dir_of(lang),
        stage: c.stage.as_str(),
        chw: c.assigned_to.clone(),
        village: c.village.clone(),
        next_due: fmt_date(c.summary().next_due),
        updated: fmt_ms(c.updated_at),
        overdue: data::overdue(c, today),
        sensitive: c.sensitive,
        conflict: !l.conflicts.is_empty(),
        after_closure: c.activity_after_closure,
    }
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewView {
    c: Chrome,
    back: &'static str,
    conflicts: Vec<ConflictRow>,
    after_closure: Vec<CaseRow>,
}

/// `GET /dashboard/review`: conflicting edits and activity after closure.
pub async fn review(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.coordinator()?;
    let cases = scoped(&st, &s).await?;
    let today = data::today();
    let conflicts = cases
        .iter()
        .flat_map(|l| conflict_rows(&l.case, &l.conflicts))
        .collect();
    let after_closure = cases
        .iter()
        .filter(|l| l.case.activity_after_closure)
        .map(|l| case_row(l, today))
        .collect();
    html(&ReviewView {
        c: Chrome::new(&s, "review", "/dashboard/review"),
        back: "review",
        conflicts,
        after_closure,
    })
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesView {
    c: Chrome,
    f: Filters,
    rows: Vec<CaseRow>,
    found: usize,
    page: usize,
    pages: usize,
    query: String,
    page_label: String,
    stages: Vec<Opt>,
    chws: Vec<Opt>,
    villages: Vec<Opt>,
}

/// An option of a filter's select.
pub struct Opt {
    /// Value.
    pub value: String,
    /// Label.
    pub label: String,
    /// Selected now.
    pub selected: bool,
}

fn opts(
    values: impl IntoIterator<Item = String>,
    current: &str,
    label: impl Fn(&str) -> String,
) -> Vec<Opt> {
    let mut v: Vec<String> = values.into_iter().collect();
    v.sort();
    v.dedup();
    v.into_iter()
        .map(|value| Opt {
            label: label(&value),
            selected: value == current,
            value,
        })
        .collect()
}

/// The cases of `cases` passing `f`, by id.
pub(crate) fn filtered<'a>(cases: &'a [Arc<Loaded>], f: &Filters) -> Vec<&'a Arc<Loaded>> {
    let today = data::today();
    cases.iter().filter(|l| f.matches(&l.case, today)).collect()
}

/// `GET /dashboard/cases`: search and filters.
pub async fn cases(
    State(st): State<AppState>,
    s: Signed,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    s.case_reader()?;
    let all = scoped(&st, &s).await?;
    let today = data::today();
    let hits = filtered(&all, &f);
    let pages = hits.len().div_ceil(PAGE_SIZE).max(1);
    let page = f.page.trim().parse::<usize>().unwrap_or(1).clamp(1, pages);
    let rows = hits
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|l| case_row(l, today))
        .collect();
    let t = s.tr();
    let chws = opts(
        all.iter().map(|l| l.case.assigned_to.clone()),
        &f.chw,
        str::to_owned,
    );
    let villages = opts(
        all.iter().map(|l| l.case.village.clone()),
        &f.village,
        str::to_owned,
    );
    let stages = Stage::ALL
        .iter()
        .map(|st| Opt {
            value: st.as_str().to_owned(),
            label: t.term("stage", st.as_str()),
            selected: f.stage == st.as_str(),
        })
        .collect();
    let page_label = t.args(
        "cases-page",
        &[("page", page.to_string()), ("pages", pages.to_string())],
    );
    html(&CasesView {
        c: Chrome::new(&s, "cases", "/dashboard/cases"),
        query: f.query(),
        found: hits.len(),
        f,
        rows,
        page,
        pages,
        page_label,
        stages,
        chws,
        villages,
    })
}

/// A change in the case's timeline.
pub struct HistRow {
    /// When (UTC).
    pub when: String,
    /// Who.
    pub user: String,
    /// What the editor said it did.
    pub summary: String,
    /// Fields it touched.
    pub fields: Vec<String>,
}

/// A visit, goal or referral line of the case page.
pub struct Item {
    /// Date or status shown first.
    pub head: String,
    /// User text (notes, goal text, agency).
    pub text: String,
    /// Extra detail.
    pub detail: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CaseView {
    c: Chrome,
    back: &'static str,
    row: CaseRow,
    case: casesync_core::case::Case,
    problem: String,
    visits: Vec<Item>,
    goals: Vec<Item>,
    referrals: Vec<Item>,
    closure: Option<String>,
    conflicts: Vec<ConflictRow>,
    history: Vec<HistRow>,
    chws: Vec<String>,
    reasons: Vec<&'static str>,
    today: String,
}

/// `GET /dashboard/cases/{id}`: the case, its timeline, and the coordinator's actions.
pub async fn case_page(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    s.case_reader()?;
    let (loaded, history) = load_one(&st, &s.user, &id).await?;
    let t = s.tr();
    let case = loaded.case.clone();
    let today = data::today();
    let mut visits: Vec<_> = case.visits.values().collect();
    visits.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
    let visits = visits
        .into_iter()
        .map(|v| Item {
            head: format!("{} · {} · {}", v.date, v.kind, v.by),
            text: v.notes.clone(),
            detail: v
                .next_visit_date
                .map(|d| t.arg("case-visit-next", "date", &d.to_string()))
                .unwrap_or_default(),
        })
        .collect();
    let goals = case
        .plan
        .goals
        .values()
        .map(|g| Item {
            head: g.status.to_string(),
            text: g.text.clone(),
            detail: fmt_date(g.evaluate_by),
        })
        .collect();
    let referrals = case
        .referrals
        .values()
        .map(|r| Item {
            head: format!("{} · {}", r.date, t.term("referral", r.status.as_str())),
            text: r.agency.clone(),
            detail: format!("{} · {}", r.service, fmt_date(r.follow_up_date)),
        })
        .collect();
    let closure = case.closure.as_ref().map(|c| {
        t.args(
            "case-closed-on",
            &[
                ("date", c.date.to_string()),
                ("reason", t.term("reason", c.reason.as_str())),
            ],
        )
    });
    let users = st.store.users()?;
    let chws = users
        .iter()
        .filter(|u| {
            u.role == Role::Chw
                && !u.disabled
                && u.districts.contains(&case.district)
                && u.user_id != case.assigned_to
        })
        .map(|u| u.user_id.clone())
        .collect();
    let history = history
        .into_iter()
        .rev()
        .map(|h| HistRow {
            when: fmt_ms(h.time_ms),
            user: h.user,
            summary: h.summary,
            fields: h.fields,
        })
        .collect();
    html(&CaseView {
        c: Chrome::new(
            &s,
            "cases",
            format!("/dashboard/cases/{}", data::percent(&case.id)),
        ),
        back: "",
        row: case_row(&loaded, today),
        problem: case
            .intake
            .as_ref()
            .map(|i| i.presenting_problem.clone())
            .unwrap_or_default(),
        visits,
        goals,
        referrals,
        closure,
        conflicts: conflict_rows(&case, &loaded.conflicts),
        history,
        chws,
        reasons: ClosureReason::ALL.iter().map(|r| r.as_str()).collect(),
        today: today.to_string(),
        case,
    })
}

/// Reads one case `user` may read, with its history (404 otherwise).
pub(crate) async fn load_one(
    st: &AppState,
    user: &UserRecord,
    id: &str,
) -> Result<(Loaded, Vec<HistoryEntry>), WebError> {
    let rec = st
        .store
        .doc(id)?
        .filter(|r| !r.erased)
        .ok_or(WebError::NotFound)?;
    if !can_read(user, &rec.routing) {
        return Err(WebError::NotFound);
    }
    let store = st.store.clone();
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let (l, mut doc) = data::load(store.as_ref(), &id)?.ok_or(WebError::NotFound)?;
        Ok((l, doc.history()))
    })
    .await?
}

/// A user row of the admin page.
pub struct UserRow {
    /// The record.
    pub u: UserRecord,
}

/// A device row of the admin page.
pub struct DeviceRow {
    /// Device id.
    pub id: String,
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
}

/// `GET /dashboard/admin`: users and devices (admins; no case content).
pub async fn admin(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    if s.user.role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    let users = st
        .store
        .users()?
        .into_iter()
        .map(|u| UserRow { u })
        .collect();
    let devices = st
        .store
        .devices()?
        .into_iter()
        .map(|d| DeviceRow {
            id: d.device_id,
            user: d.user_id,
            revoked: d.revoked,
            created: fmt_ms(d.created_ms),
            last_sync: d.last_sync_ms.map(fmt_ms).unwrap_or_default(),
        })
        .collect();
    html(&AdminView {
        c: Chrome::new(&s, "admin", "/dashboard/admin"),
        users,
        devices,
    })
}
