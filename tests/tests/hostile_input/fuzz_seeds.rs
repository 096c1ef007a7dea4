//! The fuzz fixture and seed corpora.

use super::*;

/// Writes the fuzz fixture and seed corpora (`fuzz/fixtures`, `fuzz/seeds/<target>`).
/// Run with `cargo test -p casesync-tests --test hostile_input -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files under fuzz/"]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join("seeds").join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write");
    };
    // Deterministic actor of device `fuzz-phone`.
    let mut actor = device_actor("fuzz-phone").to_bytes().to_vec();
    actor[DEVICE_PREFIX_LEN..].fill(0);
    let actor = ActorId::from(actor);
    let chw = ctx("chw1", Role::Chw);
    let mut base = CaseDoc::create(
        &chw,
        actor.clone(),
        &new_case("fuzz-case", "fuzz-district", "chw1", "রহিমা খাতুন", false),
    )
    .expect("create");
    base.add_visit(&chw, &visit("মা ও শিশু সুস্থ")).expect("visit");
    let base_bytes = base.save();
    std::fs::create_dir_all(root.join("fixtures")).expect("mkdir");
    std::fs::write(root.join("fixtures/base_case.automerge"), &base_bytes).expect("write");

    let edits: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "visit",
            edit(load(&base_bytes), actor.clone(), |d| {
                d.add_visit(&chw, &visit("زهرا احمدی: ok")).map(|_| ())
            }),
        ),
        (
            "client",
            edit(load(&base_bytes), actor.clone(), |d| {
                d.update_client(
                    &chw,
                    &ClientUpdate {
                        phone: Some("+8801711000000".into()),
                        ..Default::default()
                    },
                )
            }),
        ),
        (
            "restricted",
            edit(load(&base_bytes), actor.clone(), |d| {
                d.automerge().put(automerge::ROOT, "assigned_to", "chw2")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
    ];
    let mut new_doc = CaseDoc::create(
        &chw,
        actor.clone(),
        &new_case("fuzz-new", "fuzz-district", "chw1", "สมชาย", false),
    )
    .expect("create");
    let new_changes = all_changes(&mut new_doc);
    let framed = |flags: u8, changes: &[Vec<u8>]| {
        let mut out = vec![flags];
        for c in changes {
            out.extend_from_slice(&(c.len() as u16).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    };
    for (name, ch) in &edits {
        write("push_change", &format!("{name}-chw"), &framed(0, ch));
        write("push_change", &format!("{name}-coord"), &framed(4, ch));
    }
    write("push_change", "new-case", &framed(2, &new_changes));

    let push = vec![
        DocPush {
            doc_id: "fuzz-case".into(),
            changes: edits[0].1.clone(),
        },
        DocPush {
            doc_id: "fuzz-new".into(),
            changes: new_changes.clone(),
        },
    ];
    let req = sync_request("fuzz-phone", b"cursor".to_vec(), push);
    write(
        "decode_request",
        "empty",
        &encode_request(&sync_request("p", vec![], vec![])),
    );
    write("decode_request", "push-zstd", &encode_request(&req));
    write("decode_request", "push-plain", &plain_req(&req));

    let summary = load(&base_bytes).summary().expect("summary");
    let resp = SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: b"next".to_vec(),
        docs: vec![
            DocUpdate {
                doc_id: "fuzz-case".into(),
                body: DocBody::Snapshot {
                    doc: base_bytes.clone(),
                    summary,
                },
            },
            DocUpdate {
                doc_id: "fuzz-new".into(),
                body: DocBody::Changes(new_changes),
            },
        ],
        removed: vec!["gone-case".into()],
        acked: vec![PushAck {
            doc_id: "fuzz-case".into(),
            hashes: vec![[7; 32]],
        }],
        refused: vec![Refusal {
            doc_id: "other".into(),
            code: RefusalCode::RestrictedField,
            message: "only a coordinator changes district, assignment or sensitivity".into(),
        }],
        more: true,
        remaining_estimate: 3,
        wipe: false,
    };
    let encoded = encode_response(&resp);
    write("decode_response", "page-zstd", &encoded);
    write(
        "decode_response",
        "page-plain",
        &plain(&postcard::to_allocvec(&resp).expect("postcard")),
    );
    let wipe = SyncResponse {
        docs: vec![],
        removed: vec![],
        acked: vec![],
        refused: vec![],
        wipe: true,
        ..resp
    };
    write("decode_response", "wipe", &encode_response(&wipe));
}
