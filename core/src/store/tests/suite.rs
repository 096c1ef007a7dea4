//! The behaviour every backend must show, one function per property.

use super::*;

pub(super) fn round_trip_multilingual(store: &DeviceStore) {
    save_all(store);
    for (id, name) in NAMES {
        let mut doc = store.load_case(id).expect("load");
        assert_eq!(doc.read().expect("read").client.name, name);
        let s = store.summary(id).expect("summary");
        assert_eq!(s, doc.summary().expect("doc summary"));
        assert_eq!(s.name, name);
    }
    let ids: Vec<String> = NAMES.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(store.case_ids().expect("ids"), ids);
    assert_eq!(store.outbox().expect("outbox"), ids);

    // A local edit of a loaded case is stored and listed.
    let bytes = store.load_case("fa-1").expect("load").save();
    let mut doc = CaseDoc::load_for_edit(&bytes, device_actor("dev"), &ctx()).expect("edit");
    let rename = ClientUpdate {
        name: Some("زهرا احمدی رضایی".into()),
        ..Default::default()
    };
    doc.update_client(&ctx(), &rename).expect("rename");
    store.save_local(&mut doc).expect("save");
    assert_eq!(
        store.summary("fa-1").expect("summary").name,
        "زهرا احمدی رضایی"
    );
    let found = store
        .list_summaries(&SummaryFilter {
            text: Some("رضایی".into()),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(found.summaries.len(), 1);
}

pub(super) fn missing_and_invalid(store: &DeviceStore) {
    assert!(matches!(store.load_case("nope"), Err(StoreError::NotFound(id)) if id == "nope"));
    assert!(matches!(
        store.summary("nope"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(store.load_case("../x"), Err(StoreError::Case(_))));
    assert!(matches!(store.load_case(""), Err(StoreError::Case(_))));
    assert_eq!(store.acked_seq("nope").expect("acked"), 0);
    assert!(store.deferred_removals().expect("deferred").is_empty());
    assert_eq!(store.cursor().expect("cursor"), Vec::<u8>::new());
    assert!(store.outbox().expect("outbox").is_empty());
    let listing = store
        .list_summaries(&SummaryFilter::default())
        .expect("list");
    assert_eq!(listing, Listing::default());
}

pub(super) fn corrupt_record_is_isolated(store: &DeviceStore) {
    save_all(store);
    let raw = store.backend();
    let junk = b"\x00garbage that is not a sealed value at all";
    let garbage = |k: &[u8]| BatchOp::Put(k.to_vec(), junk.to_vec());
    let bucket = |id: &str| index::bucket_key(index::bucket_of(id));
    let list = || {
        store
            .list_summaries(&SummaryFilter::default())
            .expect("list")
    };

    // A damaged document: that case fails to load, every other case loads, all list.
    raw.apply(vec![garbage(b"d/fa-1")]).expect("raw write");
    let err = store.load_case("fa-1").expect_err("corrupt");
    assert!(matches!(err, StoreError::Corrupt { case_id } if case_id == "fa-1"));
    for id in ["bn-1", "th-1", "vi-1"] {
        store.load_case(id).expect("other cases still load");
    }
    assert_eq!(list().summaries.len(), 4, "the index is intact");

    // A damaged index bucket is rebuilt from the documents; a case whose document is
    // damaged too is reported, the others still list.
    raw.apply(vec![garbage(&bucket("th-1")), garbage(&bucket("fa-1"))])
        .expect("raw write");
    assert_eq!(store.summary("th-1").expect("rebuilt").name, NAMES[2].1);
    assert!(matches!(
        store.summary("fa-1"),
        Err(StoreError::Corrupt { .. })
    ));
    let listing = list();
    assert_eq!(listing.corrupt, ["fa-1"]);
    let mut listed: Vec<&str> = listing.summaries.iter().map(|s| s.id.as_str()).collect();
    listed.sort();
    assert_eq!(listed, ["bn-1", "th-1", "vi-1"]);

    // The next write to a damaged bucket rewrites it whole.
    store
        .save_local(&mut new_doc("th-1", NAMES[2].1))
        .expect("save");
    let k = bucket("th-1");
    let v = raw.get(&k).expect("get").expect("present");
    let plain = Sealer::new(&KEY).open(&k, &v).expect("sealed again");
    let healed = index::decode(index::bucket_of("th-1"), &plain).expect("decodes");
    assert!(healed.iter().any(|s| s.id == "th-1"));

    // A valid sealed value moved under another case's key does not open there.
    let moved = raw.get(b"d/bn-1").expect("get").expect("present");
    raw.apply(vec![BatchOp::Put(b"d/vi-1".to_vec(), moved)])
        .expect("raw write");
    assert!(matches!(
        store.load_case("vi-1"),
        Err(StoreError::Corrupt { .. })
    ));
    // Garbage in an acknowledged sequence number and a truncated cursor are errors,
    // not panics.
    raw.apply(vec![
        garbage(b"a/bn-1"),
        BatchOp::Put(b"m/cursor".to_vec(), vec![1, 2, 3]),
    ])
    .expect("raw write");
    assert!(matches!(
        store.acked_seq("bn-1"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(store.cursor(), Err(StoreError::CorruptMeta(_))));
}

pub(super) fn values_do_not_leak_plaintext(store: &DeviceStore) {
    save_all(store);
    let all = store.backend().scan_prefix(b"").expect("scan");
    assert!(
        all.len() >= 4 * 2 + 2,
        "docs, outbox marks, index buckets and the key check"
    );
    for (_, v) in &all {
        for needle in NAMES
            .iter()
            .map(|(_, n)| *n)
            .chain(["Kanaighat", "Sylhet", "chw-7", "Nguy"])
        {
            let n = needle.as_bytes();
            assert!(
                !v.windows(n.len()).any(|w| w == n),
                "a stored value leaks {needle}"
            );
        }
    }
}

pub(super) fn batch_writes_every_kind(store: &DeviceStore) {
    save_all(store);
    let mut doc = new_doc("new-1", "Trần Văn Nam");
    let summary = doc.summary().expect("summary");
    let mut batch = StoreBatch::new();
    batch
        .put_case("new-1", doc.save(), &summary)
        .set_acked_seq("new-1", 9)
        .set_acked_seq("th-1", 4)
        .defer_removal("new-1")
        .defer_removal("vi-1")
        .cancel_removal("vi-1")
        .defer_removal("th-1")
        .clear_outbox("bn-1")
        .remove_case("th-1")
        .set_cursor(b"seq:42".to_vec());
    store.apply(batch).expect("apply");

    assert_eq!(store.summary("new-1").expect("summary"), summary);
    assert_eq!(store.acked_seq("new-1").expect("acked"), 9);
    assert_eq!(store.acked_seq("bn-1").expect("acked"), 0);
    assert_eq!(store.deferred_removals().expect("deferred"), ["new-1"]);
    assert_eq!(store.cursor().expect("cursor"), b"seq:42");
    assert_eq!(store.outbox().expect("outbox"), vec!["fa-1", "vi-1"]);
    assert!(matches!(
        store.load_case("th-1"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.case_ids().expect("ids"),
        vec!["bn-1", "fa-1", "new-1", "vi-1"]
    );
    assert!(store
        .backend()
        .scan_prefix(b"a/th-1")
        .expect("scan")
        .is_empty());

    // A batch with one bad op writes nothing at all.
    let before = store.backend().scan_prefix(b"").expect("scan");
    let mut bad = StoreBatch::new();
    bad.set_cursor(b"seq:99".to_vec())
        .mark_outbox("new-1")
        .remove_case("not/valid");
    assert!(matches!(store.apply(bad), Err(StoreError::Case(_))));
    let mut mismatched = StoreBatch::new();
    mismatched.put_case("other", doc.save(), &summary);
    assert!(store.apply(mismatched).is_err());
    assert_eq!(store.backend().scan_prefix(b"").expect("scan"), before);
}

fn summary(
    id: &str,
    name: &str,
    stage: Stage,
    village: &str,
    who: &str,
    due: Option<&str>,
) -> CaseSummary {
    CaseSummary {
        id: id.into(),
        name: name.into(),
        stage,
        assigned_to: who.into(),
        district: "Sylhet".into(),
        village: village.into(),
        sensitive: false,
        next_due: due.map(date),
        updated_at: 0,
    }
}

pub(super) fn listing_filters_and_order(store: &DeviceStore) {
    let doc_bytes = new_doc("x", "x").save();
    let rows = [
        (
            "c1",
            "Nguyễn Thị Hoa",
            Stage::Monitoring,
            "A",
            "u1",
            Some("2024-05-10"),
        ),
        ("c2", "রহিমা খাতুন", Stage::Intake, "B", "u2", None),
        (
            "c3",
            "NGUYỄN Văn An",
            Stage::Monitoring,
            "A",
            "u2",
            Some("2024-05-01"),
        ),
        (
            "c4",
            "สมชาย จันทร์เพ็ญ",
            Stage::Planning,
            "B",
            "u1",
            Some("2024-06-01"),
        ),
        ("c5", "Anh", Stage::Intake, "A", "u1", None),
    ];
    let mut batch = StoreBatch::new();
    for (id, name, stage, village, who, due) in rows {
        batch.put_case(
            id,
            doc_bytes.clone(),
            &summary(id, name, stage, village, who, due),
        );
    }
    store.apply(batch).expect("apply");
    let ids = |edit: fn(&mut SummaryFilter)| -> Vec<String> {
        let mut f = SummaryFilter::default();
        edit(&mut f);
        let l = store.list_summaries(&f).expect("list");
        assert!(l.corrupt.is_empty());
        l.summaries.into_iter().map(|s| s.id).collect()
    };
    assert_eq!(
        ids(|_| {}),
        ["c3", "c1", "c4", "c5", "c2"],
        "by due date, then name"
    );
    assert_eq!(ids(|f| f.stage = Some(Stage::Monitoring)), ["c3", "c1"]);
    assert_eq!(ids(|f| f.village = Some("B".into())), ["c4", "c2"]);
    assert_eq!(
        ids(|f| f.assigned_to = Some("u1".into())),
        ["c1", "c4", "c5"]
    );
    assert_eq!(
        ids(|f| f.due_on_or_before = Some(date("2024-05-10"))),
        ["c3", "c1"]
    );
    assert_eq!(ids(|f| f.text = Some("nguyễn".into())), ["c3", "c1"]);
    assert_eq!(ids(|f| f.text = Some("খাতুন".into())), ["c2"]);
    assert!(ids(|f| f.village = Some("Z".into())).is_empty());
    let all_three = |f: &mut SummaryFilter| {
        f.village = Some("A".into());
        f.assigned_to = Some("u1".into());
        f.stage = Some(Stage::Intake);
    };
    assert_eq!(ids(all_three), ["c5"]);
}

pub(super) fn actor_is_persisted(store: &DeviceStore) {
    let a = store.actor("phone-1").expect("actor");
    assert!(actor_belongs_to(&a, "phone-1"));
    assert_eq!(store.actor("phone-1").expect("actor"), a);
    let b = store.actor("phone-2").expect("actor");
    assert!(actor_belongs_to(&b, "phone-2"));
    assert_eq!(store.actor("phone-2").expect("actor"), b);
}

pub(super) fn wipe_removes_everything(store: &DeviceStore) {
    save_all(store);
    store.actor("phone-1").expect("actor");
    let mut batch = StoreBatch::new();
    batch
        .set_cursor(vec![1])
        .set_acked_seq("bn-1", 1)
        .defer_removal("bn-1");
    store.apply(batch).expect("apply");
    // The cases were made by another actor ("dev"): unsent cases, none of this
    // phone's changes.
    let unsent = store.unsent().expect("unsent");
    assert_eq!(unsent.unsent_cases, NAMES.len() as i64);
    assert_eq!(store.wipe().expect("wipe"), unsent);
    assert_eq!(store.unsent().expect("unsent"), WipeReport::default());
    let left = store.backend().scan_prefix(b"").expect("scan");
    assert_eq!(left.len(), 1, "only the key check is left");
    assert!(store.case_ids().expect("ids").is_empty());
    assert!(store.cursor().expect("cursor").is_empty());
    store
        .save_local(&mut new_doc("after", "Anh"))
        .expect("still usable");
}

pub(super) fn wipe_reports_the_unsent_changes_it_destroys(store: &DeviceStore) {
    let actor = store.actor("phone-1").expect("actor");
    let new = NewCase {
        id: "bn-9".into(),
        district: "Sylhet".into(),
        village: "Kanaighat".into(),
        assigned_to: "chw-7".into(),
        sensitive: false,
        client_name: "রহিমা".into(),
    };
    let mut doc = CaseDoc::create(&ctx(), actor.clone(), &new).expect("create");
    store.save_local(&mut doc).expect("save");
    let created = doc.own_changes_after(&actor, 0).0.len() as u64;
    let mut doc = store.load_case("bn-9").expect("load");
    doc.set_actor(actor.clone());
    doc.update_client(
        &ctx(),
        &ClientUpdate {
            phone: Some("01700000000".into()),
            ..Default::default()
        },
    )
    .expect("edit");
    store.save_local(&mut doc).expect("save");
    let all = doc.own_changes_after(&actor, 0).0.len() as u64;
    assert!(all > created);
    // The server acknowledged the creation: only the edit is unsent.
    let mut batch = StoreBatch::new();
    batch.set_acked_seq("bn-9", created);
    store.apply(batch).expect("ack");
    let report = store.wipe().expect("wipe");
    assert_eq!(
        report,
        WipeReport {
            unsent_cases: 1,
            unsent_changes: (all - created) as i64,
        }
    );
}
