//! The pages' content: charts, actions, search, exports, languages, sizes.

use super::*;

#[tokio::test]
async fn charts_show_the_indicators_of_the_coordinators_scope() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let r = send(&d.app, get("/dashboard", &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let cases = all_cases(&d.st);
    assert_eq!(cases.len(), 200);
    let today = crate::web::data::today();
    let ind = district_indicators(&cases, Some(DEMO_DISTRICT), today);
    let stages = chart_values(&r.body, "stage");
    assert_eq!(stages.len(), Stage::ALL.len());
    for (k, v) in &stages {
        let stage = Stage::parse(k).expect("stage");
        assert_eq!(ind.cases_by_stage[&stage], *v, "{k}");
    }
    assert_eq!(stages.iter().map(|s| s.1).sum::<u32>(), 200);
    let overdue = chart_values(&r.body, "overdue");
    assert_eq!(
        overdue.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        ["chw1", "chw2", "chw3"]
    );
    for (w, v) in &overdue {
        assert_eq!(
            ind.overdue_by_worker.get(w).copied().unwrap_or(0),
            *v,
            "{w}"
        );
    }
    assert!(overdue.iter().any(|o| o.1 > 0));
    for (k, v) in chart_values(&r.body, "referrals") {
        let s = casesync_core::case::ReferralStatus::parse(&k).expect("status");
        assert_eq!(ind.referrals_by_status[&s], v);
    }
    let months = chart_values(&r.body, "months");
    assert_eq!(months.len(), 12);
    let this_month = today.format("%Y-%m").to_string();
    let closed_now = cases
        .iter()
        .filter(|c| {
            c.closure
                .as_ref()
                .is_some_and(|cl| cl.date.format("%Y-%m").to_string() == this_month)
        })
        .count() as u32;
    assert!(months.contains(&(format!("new:{this_month}"), ind.new_this_month)));
    assert!(months.contains(&(format!("closed:{this_month}"), closed_now)));
    assert!(r.body.contains(r#"data-kpi="total"><b>200</b>"#));
    assert!(r.body.contains(r#"data-kpi="after-closure"><b>1</b>"#));
    assert!(r.body.contains(r#"data-kpi="conflicts"><b>1</b>"#));
    // The JSON has the same numbers.
    let j = send(&d.app, get("/dashboard/indicators.json", &jar)).await;
    let v: serde_json::Value = serde_json::from_str(&j.body).expect("json");
    assert_eq!(v["indicators"]["total_cases"], 200);
    assert_eq!(
        v["indicators"]["cases_by_stage"]["closed"],
        ind.cases_by_stage[&Stage::Closed]
    );
    // A coordinator without sensitive access sees fewer cases; another district none.
    let jar = sign_in(&d.app, "coordns").await;
    let r = send(&d.app, get("/dashboard", &jar)).await;
    let visible = cases.iter().filter(|c| !c.sensitive).count() as u32;
    assert_eq!(
        chart_values(&r.body, "stage")
            .iter()
            .map(|s| s.1)
            .sum::<u32>(),
        visible
    );
    let jar = sign_in(&d.app, "coord2").await;
    let r = send(&d.app, get("/dashboard", &jar)).await;
    assert_eq!(
        chart_values(&r.body, "stage")
            .iter()
            .map(|s| s.1)
            .sum::<u32>(),
        0
    );
}

#[tokio::test]
async fn actions_become_case_changes_that_reach_devices() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let before = d.st.store.last_seq().expect("seq");

    // The seeded conflict is in the review queue with both values and who wrote them.
    let r = send(&d.app, get("/dashboard/review", &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let csrf = csrf_of(&r.body);
    assert!(r
        .body
        .contains(r#"data-case="demo-0007" data-path="assessment.safety_risk""#));
    assert!(r.body.contains("medium") && r.body.contains("high") && r.body.contains("chw2"));
    assert!(r.body.contains(r#"<li data-case="demo-0005">"#));
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0007/resolve",
            &jar,
            &[
                ("csrf", &csrf),
                ("path", "assessment.safety_risk"),
                ("value", "\"medium\""),
                ("back", "review"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard/review");
    // A value that is not one of the conflict's is refused.
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0007/resolve",
            &jar,
            &[
                ("csrf", &csrf),
                ("path", "assessment.safety_risk"),
                ("value", "\"low\""),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0005/acknowledge",
            &jar,
            &[("csrf", &csrf), ("back", "review")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&d.app, get("/dashboard/review", &jar)).await;
    assert!(!r.body.contains(r#"data-case="demo-0007""#));
    assert!(!r.body.contains(r#"data-case="demo-0005""#));

    // Reassign demo-0001 (chw2) to chw1; close demo-0004 (monitoring, chw2).
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0001/reassign",
            &jar,
            &[("csrf", &csrf), ("to", "chw1")],
        ),
    )
    .await;
    assert_eq!(r.location(), "/dashboard/cases/demo-0001");
    // Not a health worker of the district: refused.
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0002/reassign",
            &jar,
            &[("csrf", &csrf), ("to", "coord")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Closing for goals achieved needs the client's agreement.
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0004/close",
            &jar,
            &[
                ("csrf", &csrf),
                ("reason", "goals_achieved"),
                ("summary", "done"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("agreement"));
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0004/close",
            &jar,
            &[
                ("csrf", &csrf),
                ("reason", "goals_achieved"),
                ("agreed", "on"),
                ("summary", "লক্ষ্য অর্জিত"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let cases = all_cases(&d.st);
    let by_id = |id: &str| cases.iter().find(|c| c.id == id).expect("case");
    assert_eq!(by_id("demo-0001").assigned_to, "chw1");
    assert_eq!(by_id("demo-0004").stage, Stage::Closed);
    assert!(!by_id("demo-0005").activity_after_closure);
    assert_eq!(
        by_id("demo-0007")
            .assessment
            .as_ref()
            .and_then(|a| a.safety_risk),
        Some(casesync_core::case::SafetyRisk::Medium)
    );
    // Each is in the change log, under the workers' keys, so devices pull it.
    let logged: Vec<String> =
        d.st.store
            .log(&ScopeKey::District(DEMO_DISTRICT.into()), before, u64::MAX)
            .expect("log")
            .into_iter()
            .map(|e| e.doc_id)
            .collect();
    for id in ["demo-0001", "demo-0004", "demo-0005", "demo-0007"] {
        assert!(logged.iter().any(|l| l == id), "{id}");
    }
    let chw1 = d.st.store.user("chw1").expect("u").expect("chw1");
    let page =
        d.st.engine
            .pull(&chw1, None, usize::MAX, &crate::sync::Echo::default())
            .expect("pull");
    assert!(page.docs.iter().any(|doc| doc.doc_id == "demo-0001"));
    // The timeline says who did it: the signed-in user, recorded by the server.
    let r = send(&d.app, get("/dashboard/cases/demo-0007", &jar)).await;
    assert!(r
        .body
        .contains("resolved conflicting edits of assessment.safety_risk"));
    assert!(r
        .body
        .contains(r#"<li data-user="coord" data-recorded="true">"#));
    assert!(r.body.contains("server:coord"), "the dashboard's device");
    let r = send(&d.app, get("/dashboard/cases/demo-0001", &jar)).await;
    assert!(r.body.contains(r#"id="chw" data-value="chw1""#));
    assert!(r.body.contains("reassigned the case"));
    // The dashboard's cache follows the log: the list shows the new assignee.
    let r = send(&d.app, get("/dashboard/cases?chw=chw1&q=", &jar)).await;
    assert!(r.body.contains(r#"data-case="demo-0001""#));
}

#[tokio::test]
async fn search_and_filters_work_in_every_script() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let cases = all_cases(&d.st);
    let count = |body: &str| -> usize {
        let m = r#"id="found" data-count=""#;
        body.find(m)
            .and_then(|i| body[i + m.len()..].split('"').next())
            .and_then(|n| n.parse().ok())
            .expect("count")
    };
    for (q, expect_name) in [
        ("নাসরিন", "নাসরিন আক্তার"),
        ("NGUYỄN", "Nguyễn Thị Lan"),
        // Decomposed (NFD) input finds the composed name.
        ("nguye\u{302}\u{303}n", "Nguyễn Thị Lan"),
        ("ใจดี", "สมชาย ใจดี"),
        ("احمدی", "مریم احمدی"),
    ] {
        let r = send(
            &d.app,
            get(&format!("/dashboard/cases?q={}", percent(q)), &jar),
        )
        .await;
        let expected = cases
            .iter()
            .filter(|c| c.client.name == expect_name)
            .count();
        assert!(expected > 0);
        assert_eq!(count(&r.body), expected, "{q}");
        assert!(r.body.contains(expect_name));
    }
    let r = send(&d.app, get("/dashboard/cases?stage=closed&chw=chw3", &jar)).await;
    let expected = cases
        .iter()
        .filter(|c| c.stage == Stage::Closed && c.assigned_to == "chw3")
        .count();
    assert_eq!(count(&r.body), expected);
    let today = crate::web::data::today();
    let r = send(&d.app, get("/dashboard/cases?overdue=1", &jar)).await;
    let expected = cases
        .iter()
        .filter(|c| crate::web::data::overdue(c, today))
        .count();
    assert!(expected > 0);
    assert_eq!(count(&r.body), expected);
    let village = cases[0].village.clone();
    let r = send(
        &d.app,
        get(
            &format!("/dashboard/cases?village={}", percent(&village)),
            &jar,
        ),
    )
    .await;
    assert_eq!(
        count(&r.body),
        cases.iter().filter(|c| c.village == village).count()
    );
    // The CSV export applies the same filters.
    let r = send(&d.app, get("/dashboard/export/cases.csv?overdue=1", &jar)).await;
    assert_eq!(r.body.lines().count() - 1, expected);
}

#[tokio::test]
async fn csv_exports_defuse_formulas_and_keep_every_script() {
    let d = demo_app().await;
    let ctx = EditCtx::new("coord", Role::Coordinator, crate::now_ms());
    let mut doc = CaseDoc::create(
        &ctx,
        device_actor("server:coord"),
        &NewCase {
            id: "evil-1".into(),
            district: DEMO_DISTRICT.into(),
            village: "@SUM(A1)".into(),
            assigned_to: "chw1".into(),
            sensitive: false,
            client_name: "=HYPERLINK(\"http://x\",\"y\")".into(),
        },
    )
    .expect("case");
    d.st.engine.store_new(&mut doc, None).expect("store");
    let jar = sign_in(&d.app, "coord").await;
    let r = send(&d.app, get("/dashboard/export/cases.csv", &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let body = r.body.trim_start_matches('\u{feff}');
    let mut rd = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        rd.headers().expect("header").iter().collect::<Vec<_>>(),
        crate::web::export::CASES_HEADER
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 201);
    let evil = rows.iter().find(|r| &r[0] == "evil-1").expect("row");
    assert_eq!(&evil[1], "'=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(&evil[4], "'@SUM(A1)");
    assert!(rows.iter().any(|r| &r[1] == "مریم احمدی"));
    assert!(rows.iter().any(|r| &r[1] == "Nguyễn Thị Lan"));
    let r = send(&d.app, get("/dashboard/export/indicators.csv", &jar)).await;
    assert!(r.body.contains("total_cases,,201"));
    assert!(r.body.contains("cases_by_stage,closed,"));
}

#[tokio::test]
async fn languages_and_directions() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let r = send(&d.app, get("/dashboard?lang=bn", &jar)).await;
    assert!(r
        .body
        .starts_with("<!doctype html>\n<html lang=\"bn\" dir=\"ltr\">"));
    assert!(r.body.contains("জেলার সারসংক্ষেপ"));
    assert!(r.cookies().iter().any(|c| c.starts_with("lang=bn;")));
    // The cookie keeps it; Accept-Language picks it for a new visitor.
    let r = send(&d.app, get("/dashboard/cases", &format!("{jar}; lang=bn"))).await;
    assert!(r.body.contains("<html lang=\"bn\" dir=\"ltr\">"));
    let req = Request::get("/login")
        .header(header::ACCEPT_LANGUAGE, "bn-BD,bn;q=0.9,en;q=0.5")
        .body(Body::empty())
        .expect("req");
    assert!(send(&d.app, req).await.body.contains("ব্যবহারকারীর নাম"));
    // Error pages follow the language too.
    let r = send(&d.app, get("/dashboard/cases/nope?lang=bn", &jar)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("পাওয়া যায়নি"));
    // A Farsi name is marked right-to-left; Thai and Bengali carry their language.
    let r = send(&d.app, get("/dashboard/cases/demo-0005", &jar)).await;
    assert!(r
        .body
        .contains(r#"<bdi id="client-name" dir="rtl" lang="fa">مریم احمدی</bdi>"#));
    let r = send(
        &d.app,
        get(&format!("/dashboard/cases?q={}", percent("สมชาย")), &jar),
    )
    .await;
    assert!(r.body.contains(r#"dir="auto" lang="th">สมชาย ใจดี</bdi>"#));
}

#[tokio::test]
async fn every_page_is_under_100_kb() {
    let d = demo_app().await;
    // A health worker with a synced phone (the CHWs page shows its last sync).
    d.st.store
        .set_last_sync("phone-chw1", crate::now_ms())
        .expect("sync time");
    let jar = sign_in(&d.app, "coord").await;
    let mut paths: Vec<String> = [
        "/dashboard",
        "/dashboard/chws",
        "/dashboard/review",
        "/dashboard/cases",
        "/dashboard/cases?page=4",
        "/dashboard/cases?lang=bn",
        "/dashboard/indicators.json",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    paths.extend(
        (0..200)
            .step_by(7)
            .map(|i| format!("/dashboard/cases/demo-{i:04}")),
    );
    let mut largest = (0, String::new());
    for p in &paths {
        let r = send(&d.app, get(p, &jar)).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        assert!(r.body.len() < 100 * 1024, "{p}: {} bytes", r.body.len());
        if r.body.len() > largest.0 {
            largest = (r.body.len(), p.clone());
        }
    }
    let r = send(&d.app, get("/login", "")).await;
    assert!(r.body.len() < 100 * 1024);
    let admin = sign_in(&d.app, "admin").await;
    let r = send(&d.app, get("/dashboard/admin", &admin)).await;
    assert!(r.body.len() < 100 * 1024);
    eprintln!("largest page: {} ({} bytes)", largest.1, largest.0);
}

/// Issue #14: the timeline and the history CSV show who pushed a change (the
/// authenticated user and device) and when the server received it, with what the
/// change's message claims beside them.
#[tokio::test]
async fn the_timeline_shows_the_server_record_beside_the_claim() {
    let d = demo_app().await;
    let case = all_cases(&d.st)
        .into_iter()
        .find(|c| c.assigned_to == "chw1" && c.closure.is_none() && !c.sensitive)
        .expect("an open case of chw1");
    let bytes = d.st.store.doc_bytes(&case.id).expect("bytes").expect("doc");
    let mut doc = CaseDoc::load(&bytes).expect("load");
    doc.set_actor(device_actor("phone-1"));
    let claimed = EditCtx::new("coord", Role::Coordinator, 0);
    let h = doc.heads();
    doc.add_visit(
        &claimed,
        &casesync_core::case::VisitInput {
            date: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("date"),
            kind: casesync_core::case::VisitKind::Home,
            notes: "ঘরে কেউ ছিল না".into(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        },
    )
    .expect("visit");
    let push = casesync_core::protocol::DocPush {
        doc_id: case.id.clone(),
        changes: doc
            .changes_since(&h)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect(),
    };
    let chw1 = d.st.store.user("chw1").expect("u").expect("chw1");
    let mut budget = crate::sync::PushBudget::for_request(usize::MAX);
    let out =
        d.st.engine
            .push_doc(&chw1, "phone-1", &push, &mut budget)
            .expect("push");
    assert!(
        matches!(out, crate::sync::PushOutcome::Accepted { .. }),
        "{out:?}"
    );
    let jar = sign_in(&d.app, "coord").await;
    let url = format!("/dashboard/cases/{}", percent(&case.id));
    let r = send(&d.app, get(&url, &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let newest = r
        .body
        .split(r#"id="timeline""#)
        .nth(1)
        .and_then(|t| t.split("<li ").nth(1))
        .expect("a timeline row");
    assert!(
        newest.starts_with(r#"data-user="chw1" data-recorded="true""#),
        "{newest}"
    );
    assert!(
        newest.contains("phone-1")
            && newest.contains("<bdi>coord</bdi>, Jan 1, 1970, 12:00\u{202f}AM")
    );
    // Demo cases were stored by the server for the demo user.
    assert!(r.body.contains(r#"data-user="demo" data-recorded="true""#));

    let r = send(&d.app, get(&format!("{url}/history.csv"), &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.body.trim_start_matches('\u{feff}');
    let mut rd = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        rd.headers().expect("header").iter().collect::<Vec<_>>(),
        crate::web::export::HISTORY_HEADER
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    let last = rows.last().expect("rows");
    assert_eq!((&last[1], &last[2], &last[4]), ("chw1", "phone-1", "yes"));
    assert_eq!((&last[5], &last[6]), ("coord", "1970-01-01 00:00"));
    // A case out of scope: the same 404 as its page.
    let jar2 = sign_in(&d.app, "coord2").await;
    let r = send(&d.app, get(&format!("{url}/history.csv"), &jar2)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_page_in_every_language_shows_no_english_and_no_key() {
    use crate::web::i18n::{fallbacks, Lang, Tr};
    let d = demo_app().await;
    d.st.store
        .set_last_sync("phone-chw1", crate::now_ms())
        .expect("sync time");
    let jar = sign_in(&d.app, "coord").await;
    let en = Lang::parse("en").expect("en");
    let en_t = Tr::new(en);
    let keys: Vec<String> = crate::web::i18n::keys(en)
        .iter()
        .filter(|(_, vars)| vars.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    let paths = [
        "/dashboard",
        "/dashboard/cases",
        "/dashboard/cases/demo-0005",
        "/dashboard/cases/demo-0007",
        "/dashboard/review",
        "/dashboard/chws",
        "/dashboard/cases/nope",
    ];
    let before = fallbacks();
    for lang in Lang::all().filter(|l| l.code() != "en") {
        let t = Tr::new(lang);
        // English texts of this page's vocabulary that this language says otherwise.
        // (A key the language lacks counts as English: its text would fall back.)
        let own: Vec<&str> = crate::web::i18n::keys(lang)
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        let english: Vec<String> = keys
            .iter()
            .map(|k| (en_t.get(k), t.get(k), own.contains(&k.as_str())))
            .filter(|(e, mine, has)| {
                (e != mine || !has) && e.chars().count() >= 6 && e.contains(' ')
            })
            .map(|(e, _, _)| e)
            .collect();
        assert!(english.len() > 50, "{}", english.len());
        for p in paths {
            let r = send(&d.app, get(&format!("{p}?lang={}", lang.code()), &jar)).await;
            let head = format!("<html lang=\"{}\" dir=\"{}\">", lang.code(), lang.dir());
            assert!(r.body.contains(&head), "{p} {}", lang.code());
            if p == "/dashboard" {
                // All four charts drawn in the page's direction.
                let d = format!(r#"direction="{}""#, lang.dir());
                assert_eq!(r.body.matches(&d).count(), 4, "{}", lang.code());
            }
            for e in &english {
                assert!(!r.body.contains(e.as_str()), "{p} {}: {e:?}", lang.code());
            }
            for k in &keys {
                assert!(
                    !r.body.contains(&format!(">{k}<")),
                    "{p} {}: raw key {k}",
                    lang.code()
                );
            }
        }
    }
    assert_eq!(fallbacks(), before, "a message was shown in English");
}

#[tokio::test]
async fn search_folds_and_the_list_sorts_in_the_readers_order() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    // "nguyen" finds "Nguyễn"; Arabic ي finds Persian ی.
    let r = send(&d.app, get("/dashboard/cases?q=nguyen", &jar)).await;
    assert!(r.body.contains("Nguyễn Thị Lan"), "nguyen");
    let r = send(
        &d.app,
        get(&format!("/dashboard/cases?q={}", percent("مريم")), &jar),
    )
    .await;
    assert!(r.body.contains("مریم احمدی"), "Arabic yeh");
    // Sorted by name in Vietnamese collation: every name not after the next one.
    let r = send(&d.app, get("/dashboard/cases?sort=name&lang=vi", &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<String> = r
        .body
        .split(r#"<bdi class="name""#)
        .skip(1)
        .filter_map(|s| {
            s.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</bdi>"))
        })
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(names.len(), 50);
    let vi = crate::web::fmt::Fmt::new(
        crate::web::i18n::Lang::parse("vi").expect("vi"),
        &crate::config::Display::default(),
    );
    for w in names.windows(2) {
        assert_ne!(
            vi.compare(&w[0], &w[1]),
            std::cmp::Ordering::Greater,
            "{} before {}",
            w[0],
            w[1]
        );
    }
    // The pager keeps the order.
    assert!(r.body.contains("sort=name&amp;page=2"));
}
