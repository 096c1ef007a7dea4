//! The case lists: the review queue (conflicts, activity after closure) and the case
//! list with its search and filters.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use casesync_core::case::{Case, Conflict, Stage};

use super::data::{self, Filters, Loaded};
use super::error::WebError;
use super::fmt::Fmt;
use super::pages::{html, scoped};
use super::session::Signed;
use super::view::{dir_of, lang_of, value_text, Chrome};
use crate::state::AppState;

/// Cases per page of the case list.
pub const PAGE_SIZE: usize = 50;

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

pub(crate) fn conflict_rows(case: &Case, conflicts: &[Conflict], f: &Fmt) -> Vec<ConflictRow> {
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
                    when: f.ms(v.time_ms),
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

pub(crate) fn case_row(l: &Loaded, today: chrono::NaiveDate, f: &Fmt) -> CaseRow {
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
        next_due: f.date_opt(c.summary().next_due),
        updated: f.ms(c.updated_at),
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
    duplicates: Vec<super::duplicates::DupRow>,
    /// Cases with a service referred twice, with those services.
    twice: Vec<(CaseRow, String)>,
}

/// `GET /dashboard/review`: conflicting edits, activity after closure and possible
/// duplicate clients.
pub async fn review(State(st): State<AppState>, s: Signed) -> Result<Response, WebError> {
    s.coordinator()?;
    let cases = scoped(&st, &s).await?;
    let pairs = super::duplicates::pairs_for(&st, &s).await?;
    let fm = s.fmt();
    let today = fm.today(crate::now_ms());
    let conflicts = cases
        .iter()
        .flat_map(|l| conflict_rows(&l.case, &l.conflicts, &fm))
        .collect();
    let after_closure = cases
        .iter()
        .filter(|l| l.case.activity_after_closure)
        .map(|l| case_row(l, today, &fm))
        .collect();
    let duplicates = super::duplicates::dup_rows(&pairs, &s.tr(), today, &fm);
    let t = s.tr();
    let twice = cases
        .iter()
        .filter(|l| casesync_core::report::duplicate_service(&l.case))
        .map(|l| {
            let mut seen = std::collections::BTreeMap::new();
            for r in l.case.referrals.values().filter(|r| r.is_active()) {
                *seen.entry(r.service).or_insert(0u32) += 1;
            }
            let services = seen
                .into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(svc, _)| t.term("service", svc.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            (case_row(l, today, &fm), services)
        })
        .collect();
    html(&ReviewView {
        c: Chrome::new(&s, "review", "/dashboard/review"),
        back: "review",
        conflicts,
        after_closure,
        duplicates,
        twice,
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
    fm: &Fmt,
) -> Vec<Opt> {
    let mut v: Vec<String> = values.into_iter().collect();
    v.sort_by(|a, b| fm.compare(a, b).then_with(|| a.cmp(b)));
    v.dedup();
    v.into_iter()
        .map(|value| Opt {
            label: label(&value),
            selected: value == current,
            value,
        })
        .collect()
}

/// The cases of `cases` passing `f`: by id, or (`sort=name`) by the client's name in the
/// reader's collation order.
pub(crate) fn filtered<'a>(
    cases: &'a [Arc<Loaded>],
    f: &Filters,
    fm: &Fmt,
) -> Vec<&'a Arc<Loaded>> {
    let today = fm.today(crate::now_ms());
    let mut hits: Vec<_> = cases.iter().filter(|l| f.matches(&l.case, today)).collect();
    if f.sort == "name" {
        hits.sort_by(|a, b| {
            fm.compare(&a.case.client.name, &b.case.client.name)
                .then_with(|| a.case.id.cmp(&b.case.id))
        });
    }
    hits
}

/// `GET /dashboard/cases`: search and filters.
pub async fn cases(
    State(st): State<AppState>,
    s: Signed,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    s.case_reader()?;
    let all = scoped(&st, &s).await?;
    let fm = s.fmt();
    let today = fm.today(crate::now_ms());
    let hits = filtered(&all, &f, &fm);
    let pages = hits.len().div_ceil(PAGE_SIZE).max(1);
    let page = f.page.trim().parse::<usize>().unwrap_or(1).clamp(1, pages);
    let rows = hits
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|l| case_row(l, today, &fm))
        .collect();
    let t = s.tr();
    let chws = opts(
        all.iter().map(|l| l.case.assigned_to.clone()),
        &f.chw,
        str::to_owned,
        &fm,
    );
    let villages = opts(
        all.iter().map(|l| l.case.village.clone()),
        &f.village,
        str::to_owned,
        &fm,
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
        &[("page", fm.num(page)), ("pages", fm.num(pages))],
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
