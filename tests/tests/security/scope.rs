//! Who reads and writes which case.

use super::*;

#[tokio::test]
async fn other_districts_are_neither_read_nor_written() {
    let w = World::start();
    let chw_a = w.device("chw-a", "phone-a").await;
    let coord_a = w.device("coord-a", "laptop-a").await;
    let coord_b = w.device("coord-b", "laptop-b").await;
    let chw_b = w.device("chw-b", "phone-b").await;
    let ids = ["case-a1", "case-k1"];
    let before = w
        .shared(
            &chw_a,
            &coord_a,
            new_case("case-a1", DHAKA, "chw-a", "রহিমা খাতুন", false),
            &ids,
        )
        .await;
    assert_eq!(before.pulled.len(), 1);

    for d in [&coord_b, &chw_b] {
        let pulled = pull_all(&w.http, &w.url(), &d.token, &d.device_id)
            .await
            .expect("pull");
        assert!(pulled.is_empty(), "{} pulls nothing of dhaka", d.user);
        assert_eq!(
            w.get(&d.token, "/v1/cases/case-a1").await,
            code(404, "not_found")
        );
        // An edit of a leaked copy.
        let c = ctx(&d.user, d.role);
        w.refuses_edit(
            d,
            &coord_a,
            "case-a1",
            actor(d),
            RefusalCode::OutOfScope,
            |doc| doc.add_visit(&c, &visit("ঘরে কেউ ছিল না")).map(|_| ()),
        )
        .await;
        // Replaying the case's own changes is no way in either.
        let known = all_changes(&mut doc_of(&coord_a, "case-a1"));
        refused_with(
            &w.push(d, "case-a1", known).await,
            "case-a1",
            RefusalCode::OutOfScope,
        );
    }
    // coord-b moves the case into their own district and reassigns it.
    let c = ctx("coord-b", Role::Coordinator);
    w.refuses_edit(
        &coord_b,
        &coord_a,
        "case-a1",
        actor(&coord_b),
        RefusalCode::OutOfScope,
        |doc| {
            doc.move_district(&c, KHULNA)?;
            doc.reassign(&c, "chw-b")
        },
    )
    .await;
    // Creating cases in the other district.
    w.cannot_create(
        &coord_b,
        new_case("case-k1", DHAKA, "chw-a", "زهرا احمدی", false),
    )
    .await;
    assert_eq!(
        w.post_json(
            &coord_b.token,
            "/v1/cases/case-a1/erase",
            serde_json::json!({})
        )
        .await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.served(&coord_a, &ids).await,
        before,
        "nothing stored changed"
    );
}

#[tokio::test]
async fn a_chw_cannot_change_restricted_fields() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-r", DHAKA, "chw-a", "สมชาย จันทร์เพ็ญ", false),
            &["case-r"],
        )
        .await;
    let c = ctx("chw-a", Role::Chw);
    use RefusalCode::{Invalid, RestrictedField};
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "assigned_to",
            RestrictedField,
            Box::new(|d| put(d, "assigned_to", "chw-a2".into())),
        ),
        (
            "district",
            RestrictedField,
            Box::new(|d| put(d, "district", KHULNA.into())),
        ),
        (
            "sensitive",
            RestrictedField,
            Box::new(|d| put(d, "sensitive", true.into())),
        ),
        (
            // Without a district it is no longer a case at all.
            "district deleted",
            Invalid,
            Box::new(|d| {
                d.automerge().delete(automerge::ROOT, "district")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a legit visit, then a reassignment in the same push",
            RestrictedField,
            Box::new(move |d| {
                d.add_visit(&c, &visit("Bà Nguyễn Thị Hoa khỏe"))?;
                put(d, "assigned_to", "chw-a2".into())
            }),
        ),
    ];
    for (what, want, f) in tampers {
        let changes = changes_by(doc_of(&chw, "case-r"), actor(&chw), f).expect("edit");
        let resp = w.push(&chw, "case-r", changes).await;
        assert!(resp.acked.is_empty(), "{what}");
        assert_eq!(
            resp.refused.first().map(|r| r.code),
            Some(want),
            "{what}: {:?}",
            resp.refused
        );
        assert_eq!(
            w.served(&coord, &["case-r"]).await,
            before,
            "{what}: nothing stored"
        );
    }
    // The typed API refuses it on the phone already.
    let mut doc = doc_of(&chw, "case-r");
    assert!(doc.reassign(&ctx("chw-a", Role::Chw), "chw-a2").is_err());
    // A coordinator may.
    coord
        .edit("case-r", 5_000, |d, c| d.reassign(c, "chw-a2"))
        .expect("reassign");
    let (p, _) = coord.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

#[tokio::test]
async fn sensitive_cases_reach_only_the_assignee_and_granted_coordinators() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let other_chw = w.device("chw-a2", "phone-a2").await;
    let granted = w.device("coord-a", "laptop-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    chw.create(
        &new_case("case-s", DHAKA, "chw-a", "زهرا احمدی", true),
        1_000,
    )
    .expect("create");
    chw.create(
        &new_case("case-n", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    for d in [&other_chw, &granted, &plain] {
        d.sync().await.expect("sync");
    }
    let ids = |d: &Device| d.store.case_ids().expect("ids");
    assert_eq!(ids(&chw), ["case-n", "case-s"]);
    assert_eq!(ids(&granted), ["case-n", "case-s"]);
    assert_eq!(
        ids(&plain),
        ["case-n"],
        "no sensitive case without the grant"
    );
    assert!(ids(&other_chw).is_empty(), "another CHW sees neither");
    assert_eq!(w.get(&chw.token, "/v1/cases/case-s").await.0, 200);
    assert_eq!(w.get(&granted.token, "/v1/cases/case-s").await.0, 200);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s").await,
        code(404, "not_found")
    );
    assert_eq!(
        w.get(&other_chw.token, "/v1/cases/case-s").await,
        code(404, "not_found")
    );
    let before = w.served(&granted, &["case-s", "case-n"]).await;

    // The ungranted coordinator can not edit a sensitive case.
    let pc = ctx("coord-plain", Role::Coordinator);
    w.refuses_edit(
        &plain,
        &granted,
        "case-s",
        actor(&plain),
        RefusalCode::OutOfScope,
        |d| d.add_visit(&pc, &visit("leaked copy")).map(|_| ()),
    )
    .await;
    // Nor can another CHW, even with a leaked copy.
    let oc = ctx("chw-a2", Role::Chw);
    w.refuses_edit(
        &other_chw,
        &granted,
        "case-s",
        actor(&other_chw),
        RefusalCode::OutOfScope,
        |d| d.add_visit(&oc, &visit("leaked copy")).map(|_| ()),
    )
    .await;
    assert_eq!(w.served(&granted, &["case-s", "case-n"]).await, before);

    // The ungranted coordinator may register a sensitive case in their district (a
    // registration is never stranded on the phone): the server takes it, and it leaves
    // their laptop like a case made sensitive, for the assigned worker.
    plain
        .create(
            &new_case("case-s2", DHAKA, "chw-a", "Lê Thị Mai", true),
            2_000,
        )
        .expect("create");
    let (p, _) = plain.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    assert_eq!((p.docs_pushed, p.docs_removed), (1, 1));
    assert_eq!(ids(&plain), ["case-n"]);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s2").await,
        code(404, "not_found")
    );
    chw.sync().await.expect("sync");
    assert_eq!(ids(&chw), ["case-n", "case-s", "case-s2"]);
    let body = serde_json::to_value(new_case("case-s3", DHAKA, "chw-a", "Lê Thị Mai", true))
        .expect("json");
    assert_eq!(w.post_json(&plain.token, "/v1/cases", body).await.0, 201);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s3").await,
        code(404, "not_found")
    );
    // Out of the district, still refused.
    let body = serde_json::to_value(new_case("case-s4", "Rangpur", "chw-a", "Lê Thị Mai", true))
        .expect("json");
    assert_eq!(
        w.post_json(&plain.token, "/v1/cases", body).await,
        code(403, "forbidden")
    );

    // A case made sensitive leaves the ungranted coordinator's laptop.
    granted
        .edit("case-n", 5_000, |d, c| d.set_sensitive(c, true))
        .expect("sensitive");
    granted.sync().await.expect("sync");
    let (p, _) = plain.sync().await.expect("sync");
    assert_eq!(p.docs_removed, 1);
    assert!(ids(&plain).is_empty());
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-n").await,
        code(404, "not_found")
    );
    chw.sync().await.expect("sync");
    assert_eq!(
        ids(&chw),
        ["case-n", "case-s", "case-s2", "case-s3"],
        "the assignee keeps them all"
    );
}

#[tokio::test]
async fn admins_see_and_write_no_case_content() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let admin = w.device("admin", "admin-laptop").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-x", DHAKA, "chw-a", "Phạm Văn Đồng", false),
            &["case-x"],
        )
        .await;
    let (p, _) = admin.sync().await.expect("sync");
    assert_eq!(p.docs_received, 0);
    assert!(admin.store.case_ids().expect("ids").is_empty());
    assert_eq!(
        w.get(&admin.token, "/v1/cases/case-x").await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.post_json(
            &admin.token,
            "/v1/cases/case-x/erase",
            serde_json::json!({})
        )
        .await,
        code(403, "forbidden")
    );
    let body = serde_json::to_value(new_case("case-y", DHAKA, "chw-a", "x", false)).expect("json");
    assert_eq!(
        w.post_json(&admin.token, "/v1/cases", body).await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.post_json(&admin.token, "/v1/cases/import", serde_json::json!([]))
            .await,
        code(403, "forbidden")
    );
    let ac = ctx("admin", Role::Admin);
    let edit = changes_by(doc_of(&coord, "case-x"), actor(&admin), |d| {
        d.add_visit(&ac, &visit("admin")).map(|_| ())
    });
    // The typed API already refuses an admin edit; push a raw one.
    let raw = match edit {
        Ok(c) => c,
        Err(_) => changes_by(doc_of(&coord, "case-x"), actor(&admin), |d| {
            put(d, "village", "x".into())
        })
        .expect("raw edit"),
    };
    refused_with(
        &w.push(&admin, "case-x", raw).await,
        "case-x",
        RefusalCode::OutOfScope,
    );
    assert_eq!(w.served(&coord, &["case-x"]).await, before);
}

/// Issue #13: a coordinator who loses sensitive access, then the district, has those
/// cases removed from the laptop at the next sync, after the edits it made offline
/// before are acknowledged.
#[tokio::test]
async fn a_coordinator_who_loses_sensitive_access_then_the_district_loses_those_cases() {
    let mut w = World::start();
    let chw = w.device("chw-b", "phone-b").await;
    let coord = w.device("coord-b", "laptop-b").await;
    chw.create(
        &new_case("case-k1", KHULNA, "chw-b", "Somchai Wongsa", false),
        1_000,
    )
    .expect("create");
    chw.create(
        &new_case("case-k2", KHULNA, "chw-b", "مریم احمدی", true),
        1_000,
    )
    .expect("create");
    chw.sync_via(&w.url()).await.expect("sync");
    coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(coord.store.case_ids().expect("ids"), ["case-k1", "case-k2"]);
    coord
        .edit("case-k2", 2_000, |d, c| {
            d.add_visit(c, &visit("made before the change"))
        })
        .expect("offline edit");

    w.while_stopped(|data| cli(data, &["user", "set-sensitive", "coord-b", "false"]));
    let (progress, step) = coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Done);
    assert!(progress.refused.is_empty(), "{:?}", progress.refused);
    assert_eq!(coord.store.case_ids().expect("ids"), ["case-k1"]);
    assert!(coord.store.outbox().expect("outbox").is_empty());
    chw.sync_via(&w.url()).await.expect("sync");
    assert_eq!(
        chw.case("case-k2").expect("case").visits.len(),
        1,
        "the edit is kept"
    );
    assert_eq!(
        w.get(&coord.token, "/v1/cases/case-k2").await,
        code(404, "not_found")
    );

    w.while_stopped(|data| {
        cli(
            data,
            &["user", "set-districts", "coord-b", "--district", DHAKA],
        )
    });
    let (_, step) = coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Done);
    assert!(coord.store.case_ids().expect("ids").is_empty());
    assert_eq!(
        w.get(&coord.token, "/v1/cases/case-k1").await,
        code(404, "not_found")
    );
}

/// Issue #14: a coordinator without sensitive access kept a copy of a case from
/// before it was made sensitive, flips `sensitive` true then false on it (its
/// operation counter beats the granted coordinator's put), and pushes. On main this was
/// accepted and the next pull served the visit written after the case became sensitive.
#[tokio::test]
async fn a_coordinator_without_sensitive_access_cannot_unmark_a_sensitive_case() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let granted = w.device("coord-a", "laptop-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    chw.create(
        &new_case("case-u", DHAKA, "chw-a", "زهرا احمدی", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    granted.sync().await.expect("sync");
    plain.sync().await.expect("sync");
    granted
        .edit("case-u", 2_000, |d, c| d.set_sensitive(c, true))
        .expect("sensitive");
    granted.sync().await.expect("sync");
    chw.sync().await.expect("sync");
    chw.edit("case-u", 3_000, |d, c| {
        d.add_visit(c, &visit("Chị Lê Thị Mai kể về bạo lực gia đình"))
            .map(|_| ())
    })
    .expect("visit");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);

    // From the old copy (the laptop did not sync since).
    let pc = ctx("coord-plain", Role::Coordinator);
    let flip = changes_by(doc_of(&plain, "case-u"), actor(&plain), |d| {
        d.set_sensitive(&pc, true)?;
        d.set_sensitive(&pc, false)
    })
    .expect("edit");
    let pc = ctx("coord-plain", Role::Coordinator);
    let unmark = changes_by(doc_of(&plain, "case-u"), actor(&plain), |d| {
        d.add_visit(&pc, &visit("ঘরে কেউ ছিল না"))?;
        d.set_sensitive(&pc, true)?;
        d.set_sensitive(&pc, false)
    })
    .expect("edit");
    let before = stored(&mut w);
    for (what, changes) in [
        ("true then false", flip),
        ("a visit, then true then false", unmark),
    ] {
        let resp = w.push(&plain, "case-u", changes).await;
        assert!(resp.acked.is_empty(), "{what}: {:?}", resp.acked);
        assert_eq!(
            resp.refused.iter().map(|r| r.code).collect::<Vec<_>>(),
            [RefusalCode::RestrictedField],
            "{what}: {:?}",
            resp.refused
        );
        assert!(
            resp.docs.iter().all(|d| d.doc_id != "case-u"),
            "{what}: nothing of the case served"
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused un-marking");
    let pulled = pull_all(&w.http, &w.url(), &plain.token, &plain.device_id)
        .await
        .expect("pull");
    assert!(!pulled.contains_key("case-u"), "the case stays hidden");
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-u").await,
        code(404, "not_found")
    );

    // Marking a case sensitive protects it: every coordinator of the district may.
    chw.create(
        &new_case("case-u2", DHAKA, "chw-a", "Nguyễn Văn An", false),
        4_000,
    )
    .expect("create");
    chw.sync_via(&w.url()).await.expect("sync");
    let pc = ctx("coord-plain", Role::Coordinator);
    let mut pulled = pull_all(&w.http, &w.url(), &plain.token, &plain.device_id)
        .await
        .expect("pull");
    let copy = pulled.remove("case-u2").expect("case-u2 pulled");
    let mark = changes_by(copy, actor(&plain), |d| d.set_sensitive(&pc, true)).expect("edit");
    let resp = w.push(&plain, "case-u2", mark).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    // The granted coordinator may un-mark it.
    granted.sync_via(&w.url()).await.expect("sync");
    granted
        .edit("case-u", 5_000, |d, c| d.set_sensitive(c, false))
        .expect("unmark");
    let (p, _) = granted.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

/// Issue #14: a coordinator moves a case only between districts they hold both of, and
/// assigns it only to an enabled health worker of its district (the rule the dashboard
/// applies too: `scope::can_assign`). On main the sync path took any of these.
#[tokio::test]
async fn a_coordinator_moves_and_assigns_cases_only_within_their_districts() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    let two = w.device("coord-two", "laptop-two").await;
    w.shared(
        &chw,
        &plain,
        new_case("case-m", DHAKA, "chw-a", "ফাতেমা বেগম", false),
        &["case-m"],
    )
    .await;
    two.sync().await.expect("sync");
    type Tamper = Box<dyn FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError>>;
    let tampers: Vec<(&str, &Device, Tamper)> = vec![
        (
            "moved to a district the pusher does not hold",
            &plain,
            Box::new(|d, c| {
                d.move_district(c, KHULNA)?;
                d.reassign(c, "chw-b")
            }),
        ),
        (
            "moved out and back in one push",
            &plain,
            Box::new(|d, c| {
                d.move_district(c, KHULNA)?;
                d.move_district(c, DHAKA)
            }),
        ),
        (
            "assigned to a worker of another district",
            &plain,
            Box::new(|d, c| d.reassign(c, "chw-b")),
        ),
        (
            "assigned to a coordinator",
            &plain,
            Box::new(|d, c| d.reassign(c, "coord-a")),
        ),
        (
            "assigned to nobody known",
            &plain,
            Box::new(|d, c| d.reassign(c, "শফিকুল")),
        ),
        (
            "assigned to nobody, then back",
            &plain,
            Box::new(|d, c| {
                d.reassign(c, "ghost")?;
                d.reassign(c, "chw-a")
            }),
        ),
        (
            "moved to a district whose workers do not include the assignee",
            &two,
            Box::new(|d, c| d.move_district(c, KHULNA)),
        ),
    ];
    let before = stored(&mut w);
    for (what, d, f) in tampers {
        let c = ctx(&d.user, d.role);
        let changes =
            changes_by(doc_of(&plain, "case-m"), actor(d), |doc| f(doc, &c)).expect("edit");
        let resp = w.push(d, "case-m", changes).await;
        assert!(resp.acked.is_empty(), "{what}: {:?}", resp.acked);
        assert_eq!(
            resp.refused.iter().map(|r| r.code).collect::<Vec<_>>(),
            [RefusalCode::RestrictedField],
            "{what}: {:?}",
            resp.refused
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused moves and assignments");

    // A coordinator of both districts moves it and hands it to a worker there.
    let c = ctx("coord-two", Role::Coordinator);
    let ok = changes_by(doc_of(&plain, "case-m"), actor(&two), |d| {
        d.move_district(&c, KHULNA)?;
        d.reassign(&c, "chw-b")
    })
    .expect("edit");
    let resp = w.push(&two, "case-m", ok).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(resp.acked.len(), 1);
}

/// Issue #14 item 2: a case is registered online only with an assignee `can_assign`
/// accepts (a health worker of its district), through `POST /v1/cases` and
/// `POST /v1/cases/import` alike; on main only later reassignments were checked, so a
/// coordinator could register a case for a worker of another district (who then read
/// it) or for another coordinator. (A registration pushed from an offline phone is not
/// judged on its assignee: docs/DESIGN.md §5.4.)
#[tokio::test]
async fn a_case_is_registered_only_for_a_health_worker_of_its_district() {
    let mut w = World::start();
    let coord = w.device("coord-a", "laptop-a").await;
    let before = stored(&mut w);
    for (i, assignee) in ["chw-b", "coord-plain", "nobody"].into_iter().enumerate() {
        let id = format!("case-n{i}");
        let new = new_case(&id, DHAKA, assignee, "Trần Thị Bích", false);
        let c = ctx("coord-a", Role::Coordinator);
        let mut doc = CaseDoc::create(&c, actor(&coord), &new).expect("create");
        let body = serde_json::to_value(&new).expect("json");
        assert_eq!(
            w.post_json(&coord.token, "/v1/cases", body).await,
            code(403, "forbidden"),
            "{assignee}"
        );
        let case = doc.read().expect("read");
        let body = serde_json::json!([case]);
        assert_eq!(
            w.post_json(&coord.token, "/v1/cases/import", body).await,
            code(403, "forbidden"),
            "{assignee}"
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused registrations");
    // A worker of the district.
    let new = new_case("case-ok", DHAKA, "chw-a", "Trần Thị Bích", false);
    let body = serde_json::to_value(&new).expect("json");
    assert_eq!(w.post_json(&coord.token, "/v1/cases", body).await.0, 201);
}

/// Issue #14 item 3: write scope through a routing a case once had ends. The previous
/// assignee's phone still delivers the visit it recorded offline before the
/// reassignment (in the sync that tells it to remove the case) and, within the grace
/// window, a push repeated after that; once the window after the removal was served is
/// over, a kept copy writes nothing. On main the old assignee could push to the case
/// forever.
#[tokio::test]
async fn a_previous_assignee_writes_only_until_the_window_after_the_removal_ends() {
    let w = World::start_with_env(&[("CASESYNC_REMOVED_WRITE_GRACE_SECS", "2")]);
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    chw.create(
        &new_case("case-w", DHAKA, "chw-a", "Phạm Thị Thu", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    // Recorded offline, before the phone hears of the reassignment.
    chw.edit("case-w", 2_000, |d, c| {
        d.add_visit(c, &visit("সে ভালো আছে")).map(|_| ())
    })
    .expect("offline visit");
    let kept = doc_of(&chw, "case-w");
    coord
        .edit("case-w", 3_000, |d, c| d.reassign(c, "chw-a2"))
        .expect("reassign");
    coord.sync().await.expect("sync");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(
        p.refused.is_empty(),
        "the offline visit arrives: {:?}",
        p.refused
    );
    assert!(
        chw.store.load_case("case-w").is_err(),
        "the phone removed the case"
    );
    let c = ctx("chw-a", Role::Chw);
    let mut copy = kept;
    copy.set_actor(actor(&chw));
    let mut late = |notes: &str| {
        let heads = copy.heads();
        copy.add_visit(&c, &visit(notes)).expect("edit");
        copy.changes_since(&heads)
            .iter()
            .map(|ch| ch.raw_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    // Within the window (a push repeated after a lost answer, say).
    let first = late("ยังอยู่ในช่วงผ่อนผัน");
    let second = late("پس از پایان مهلت");
    let resp = w.push(&chw, "case-w", first).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // (What the coordinator is served: a restart to read the raw store would lose the
    // test's short window setting.)
    let before = w.served(&coord, &["case-w"]).await;
    refused_with(
        &w.push(&chw, "case-w", second).await,
        "case-w",
        RefusalCode::OutOfScope,
    );
    assert_eq!(
        w.served(&coord, &["case-w"]).await,
        before,
        "a write after the window stores nothing"
    );
    // The new assignee writes as ever.
    let new = w.device("chw-a2", "phone-a2").await;
    new.sync().await.expect("sync");
    new.edit("case-w", 4_000, |d, c| {
        d.add_visit(c, &visit("Tôi đã đến thăm")).map(|_| ())
    })
    .expect("visit");
    let (p, _) = new.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}
