//! Rows for `POST /v1/sync`.

use super::*;

pub(super) fn sync_rows(m: &Material) -> Vec<Row> {
    let t = m.chw_a.as_str();
    let dev = "phone-a";
    let ok_req = sync_request(dev, vec![], vec![]);
    let ok_plain = plain_req(&ok_req);
    let s =
        |name: &str, body: Vec<u8>| Row::new(name, "POST", "/v1/sync").bearer(t).sync_body(body);
    let push = |doc_id: &str, changes: Vec<Vec<u8>>| {
        encode_request(&sync_request(
            dev,
            vec![],
            vec![DocPush {
                doc_id: doc_id.into(),
                changes,
            }],
        ))
    };
    let chw = ctx("chw-a", Role::Chw);
    let visit_a1 = edit(load(&m.a1), m.actor_a.clone(), |d| {
        d.add_visit(&chw, &visit("মা ও শিশু সুস্থ")).map(|_| ())
    });
    let two = edit(load(&m.a1), m.actor_a.clone(), |d| {
        d.add_visit(&chw, &visit("প্রথম"))?;
        d.add_visit(&chw, &visit("দ্বিতীয়")).map(|_| ())
    });
    let restricted = |key: &'static str, value: automerge::ScalarValue| {
        edit(load(&m.a1), m.actor_a.clone(), move |d| {
            d.automerge().put(automerge::ROOT, key, value)?;
            d.automerge().commit();
            Ok(())
        })
    };
    let delete_sensitive = edit(load(&m.a1), m.actor_a.clone(), |d| {
        d.automerge().delete(automerge::ROOT, "sensitive")?;
        d.automerge().commit();
        Ok(())
    });
    let foreign = edit(load(&m.a1), device_actor("phone-b"), |d| {
        d.add_visit(&chw, &visit("زهرا احمدی")).map(|_| ())
    });
    let out_of_scope = edit(load(&m.b1), m.actor_a.clone(), |d| {
        d.add_visit(&chw, &visit("สมชาย")).map(|_| ())
    });
    let mut not_a_case = AutoCommit::new().with_actor(m.actor_a.clone());
    not_a_case
        .put(automerge::ROOT, "id", "case-evil")
        .expect("put");
    not_a_case.commit();
    let not_a_case: Vec<Vec<u8>> = not_a_case
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let mut new_z = CaseDoc::create(
        &chw,
        m.actor_a.clone(),
        &new_case("case-z", DHAKA, "chw-a", "Nguyễn Thị Hoa", false),
    )
    .expect("create");
    let new_z = all_changes(&mut new_z);
    let mut other_district = CaseDoc::create(
        &chw,
        m.actor_a.clone(),
        &new_case("case-k", KHULNA, "chw-a", "রহিমা খাতুন", false),
    )
    .expect("create");
    let other_district = all_changes(&mut other_district);
    let mut foreign_new = CaseDoc::create(
        &chw,
        device_actor("someone-elses-phone"),
        &new_case("case-f", DHAKA, "chw-a", "Trần Văn Nam", false),
    )
    .expect("create");
    let foreign_new = all_changes(&mut foreign_new);
    // A change chunk header with a correct checksum over garbage.
    let mut corrupt_body = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0x01, 40];
    corrupt_body.extend((0..40u8).map(|i| i.wrapping_mul(73) ^ 0x5a));
    fix_checksum(&mut corrupt_body);
    let tiny_changes = |n: usize| vec![vec![0u8; 10]; n];
    let zstd_bomb = {
        let zeros = vec![0u8; 40 * 1024 * 1024];
        let mut b = b"CS".to_vec();
        b.extend_from_slice(&[PROTOCOL_VERSION as u8, 1]);
        b.extend_from_slice(&zstd::bulk::compress(&zeros, 19).expect("zstd"));
        b
    };
    // Automerge bytes that Automerge itself would inflate or expand without bound.
    let inflating = hostile::gib_change_bomb().to_vec();
    let eight_bombs: Vec<Vec<u8>> = (0..8).map(|_| inflating.clone()).collect();
    let half_million = edit(load(&m.a1), m.actor_a.clone(), |d| {
        hostile::run_length_change(d, "nulls", 500_000);
        Ok(())
    });
    let over_doc = edit(load(&m.a1), m.actor_a.clone(), |d| {
        for i in 0..5 {
            hostile::run_length_change(d, &format!("n{i}"), 45_000);
        }
        Ok(())
    });
    let unknown_key = edit(load(&m.a1), m.actor_a.clone(), |d| {
        d.automerge().put(automerge::ROOT, "not_in_the_schema", 1)?;
        d.automerge().commit();
        Ok(())
    });
    let head = |body: &[u8]| cat(&[&varint(1), &pstr(dev), body]);
    let long_cursor = plain_req(&sync_request(dev, vec![7; 1025], vec![]));
    let mut version2 = ok_req.clone();
    version2.version = 2;
    let mut trailing = ok_plain.clone();
    trailing.extend_from_slice(b"\0\0\0");

    vec![
        s("empty body", vec![]).expect(400, "bad_message"),
        s("one byte", b"C".to_vec()).expect(400, "bad_message"),
        s("magic only", b"CS".to_vec()).expect(400, "bad_message"),
        s("wrong magic", cat(&[b"XX", &ok_plain[2..]])).expect(400, "bad_message"),
        s(
            "JSON instead of the wire format",
            br#"{"version":1}"#.to_vec(),
        )
        .expect(400, "bad_message"),
        s("garbage bytes", (0..=255u8).cycle().take(4096).collect()).expect(400, "bad_message"),
        s("header version 0", cat(&[b"CS\x00\x00", &ok_plain[4..]]))
            .expect(400, "unsupported_version"),
        s("header version 2", cat(&[b"CS\x02\x00", &ok_plain[4..]]))
            .expect(400, "unsupported_version"),
        s("header version 255", cat(&[b"CS\xff\x00", &ok_plain[4..]]))
            .expect(400, "unsupported_version"),
        s(
            "body version 2 under a version-1 header",
            plain_req(&version2),
        )
        .expect(400, "unsupported_version"),
        s(
            "unknown compression id",
            cat(&[b"CS\x01\x07", &ok_plain[4..]]),
        )
        .expect(400, "bad_message"),
        s(
            "zstd flag over garbage",
            cat(&[b"CS\x01\x01", b"not zstd at all"]),
        )
        .expect(400, "bad_message"),
        s("zstd bomb: 40 MiB of zeros in a few KiB", zstd_bomb).expect(400, "bad_message"),
        s(
            "compressed change chunk: 1 GiB of zeros in 1 MB",
            push("case-a1", vec![inflating]),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "eight compressed change chunks of 1 GiB each",
            push("case-a1", eight_bombs),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "a document chunk pushed as a change (a column inflating to 256 MiB)",
            push("case-a1", vec![hostile::deflated_document_bomb(256 << 20)]),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "a bundle chunk pushed as a change",
            push("case-a1", vec![hostile::bundle_chunk()]),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "one change of 500,000 operations in ~100 bytes",
            push("case-a1", half_million),
        )
        .refused(vec![("case-a1", RefusalCode::TooLarge)]),
        s(
            "five changes of 45,000 operations (over the document's limit)",
            push("case-a1", over_doc),
        )
        .refused(vec![("case-a1", RefusalCode::TooLarge)]),
        s(
            "an operation on a root key the schema does not define",
            push("case-a1", unknown_key),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "valid request cut in half",
            ok_plain[..ok_plain.len() / 2].to_vec(),
        )
        .expect(400, "bad_message"),
        s("trailing bytes after the body", trailing).expect(400, "bad_message"),
        s("varint overflow", cat(&[b"CS\x01\x00", &[0xff; 11]])).expect(400, "bad_message"),
        s(
            "device id length 2^60",
            plain(&cat(&[&varint(1), &varint(1 << 60), b"phone-a"])),
        )
        .expect(400, "bad_message"),
        s(
            "cursor length 2^60",
            plain(&head(&cat(&[&varint(1 << 60), b"xyz"]))),
        )
        .expect(400, "bad_message"),
        s(
            "push count 2^60",
            plain(&head(&cat(&[&varint(0), &varint(1 << 60)]))),
        )
        .expect(400, "bad_message"),
        s(
            "change count 2^60",
            plain(&head(&cat(&[
                &varint(0),
                &varint(1),
                &pstr("case-a1"),
                &varint(1 << 60),
            ]))),
        )
        .expect(400, "bad_message"),
        s(
            "change length 2^60",
            plain(&head(&cat(&[
                &varint(0),
                &varint(1),
                &pstr("case-a1"),
                &varint(1),
                &varint(1 << 60),
                &[0x85, 0x6f, 0x4a, 0x83],
            ]))),
        )
        .expect(400, "bad_message"),
        s(
            "10 001 documents claimed, none present",
            plain(&head(&cat(&[&varint(0), &varint(10_001)]))),
        )
        .expect(400, "bad_message"),
        s("cursor of 1025 bytes", long_cursor).expect(400, "bad_message"),
        s(
            "cursor not made by this server",
            encode_request(&sync_request(
                dev,
                b"forged-cursor-0123456789".to_vec(),
                vec![],
            )),
        )
        .expect(400, "bad_cursor"),
        s(
            "another device's id in the body",
            encode_request(&sync_request("phone-b", vec![], vec![])),
        )
        .expect(403, "device_mismatch"),
        s(
            "empty device id",
            encode_request(&sync_request("", vec![], vec![])),
        )
        .expect(400, "bad_message"),
        s(
            "NUL in the device id",
            plain_req(&sync_request("phone-a\0", vec![], vec![])),
        )
        .expect(400, "bad_message"),
        s(
            "RTL override in the device id",
            encode_request(&sync_request("\u{202e}a-enohp", vec![], vec![])),
        )
        .expect(403, "device_mismatch"),
        s(
            "emoji ZWJ sequence as device id",
            encode_request(&sync_request("👩\u{200d}⚕\u{fe0f}📱", vec![], vec![])),
        )
        .expect(403, "device_mismatch"),
        s(
            "device id of 129 bytes",
            plain_req(&sync_request(&"x".repeat(129), vec![], vec![])),
        )
        .expect(400, "bad_message"),
        s(
            "doc id with ../",
            push("../../etc/passwd", visit_a1.clone()),
        )
        .expect(400, "bad_message"),
        s("doc id with NUL", push("case-a1\0", visit_a1.clone())).expect(400, "bad_message"),
        s(
            "doc id with a zero-width joiner",
            push("case\u{200d}a1", visit_a1.clone()),
        )
        .expect(400, "bad_message"),
        s(
            "doc id of 65 characters",
            push(&"a".repeat(65), visit_a1.clone()),
        )
        .expect(400, "bad_message"),
        s(
            "the same doc twice in one push",
            encode_request(&sync_request(
                dev,
                vec![],
                vec![
                    DocPush {
                        doc_id: "case-a1".into(),
                        changes: visit_a1.clone(),
                    },
                    DocPush {
                        doc_id: "case-a1".into(),
                        changes: visit_a1.clone(),
                    },
                ],
            )),
        )
        .expect(400, "bad_message"),
        s("a change of 9 bytes", push("case-a1", vec![vec![0x85; 9]])).expect(400, "bad_message"),
        s(
            "a change over 1 MiB",
            push("case-a1", vec![vec![0x85; 1024 * 1024 + 1]]),
        )
        .expect(400, "bad_message"),
        s(
            "10 001 changes for one doc",
            push("case-a1", tiny_changes(10_001)),
        )
        .expect(400, "bad_message"),
        s(
            "12 000 changes over two docs (server budget 10 000)",
            encode_request(&sync_request(
                dev,
                vec![],
                vec![
                    DocPush {
                        doc_id: "case-a1".into(),
                        changes: tiny_changes(6_000),
                    },
                    DocPush {
                        doc_id: "case-a2".into(),
                        changes: tiny_changes(6_000),
                    },
                ],
            )),
        )
        .refused(vec![
            ("case-a1", RefusalCode::Invalid),
            ("case-a2", RefusalCode::TooLarge),
        ]),
        s(
            "garbage change",
            push("case-a1", vec![b"0123456789abcdef".to_vec()]),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "change chunk with a valid checksum over garbage",
            push("case-a1", vec![corrupt_body]),
        )
        .refused(vec![("case-a1", RefusalCode::Invalid)]),
        s(
            "second change without its dependency",
            push("case-a1", vec![two[1].clone()]),
        )
        .refused(vec![("case-a1", RefusalCode::MissingDependencies)]),
        s(
            "new case: second change without the first",
            push("case-z", vec![two[1].clone()]),
        )
        .refused(vec![("case-z", RefusalCode::MissingDependencies)]),
        s("new doc that is not a case", push("case-evil", not_a_case))
            .refused(vec![("case-evil", RefusalCode::Invalid)]),
        s(
            "new case pushed under another id",
            push("case-y", new_z.clone()),
        )
        .refused(vec![("case-y", RefusalCode::Invalid)]),
        s(
            "a CHW creating a case in another district",
            push("case-k", other_district),
        )
        .refused(vec![("case-k", RefusalCode::OutOfScope)]),
        s(
            "new case signed by another device",
            push("case-f", foreign_new),
        )
        .refused(vec![("case-f", RefusalCode::ForeignActor)]),
        s("edit signed by another device", push("case-a1", foreign))
            .refused(vec![("case-a1", RefusalCode::ForeignActor)]),
        s(
            "edit of another district's case",
            push("case-b1", out_of_scope),
        )
        .refused(vec![("case-b1", RefusalCode::OutOfScope)]),
        s(
            "CHW reassigns",
            push("case-a1", restricted("assigned_to", "chw-b".into())),
        )
        .refused(vec![("case-a1", RefusalCode::RestrictedField)]),
        s(
            "CHW moves district",
            push("case-a1", restricted("district", KHULNA.into())),
        )
        .refused(vec![("case-a1", RefusalCode::RestrictedField)]),
        s(
            "CHW flips sensitive",
            push("case-a1", restricted("sensitive", true.into())),
        )
        .refused(vec![("case-a1", RefusalCode::RestrictedField)]),
        s("CHW deletes sensitive", push("case-a1", delete_sensitive))
            .refused(vec![("case-a1", RefusalCode::RestrictedField)]),
        s("edit of an erased case", push("case-e", visit_a1.clone()))
            .refused(vec![("case-e", RefusalCode::Erased)]),
        Row::new("admin pushes a valid change", "POST", "/v1/sync")
            .bearer(&m.admin)
            .sync_body(encode_request(&sync_request(
                "admin-laptop",
                vec![],
                vec![DocPush {
                    doc_id: "case-a1".into(),
                    changes: visit_a1.clone(),
                }],
            )))
            .refused(vec![("case-a1", RefusalCode::OutOfScope)]),
        // Content type and framing.
        Row::new("sync as JSON content type", "POST", "/v1/sync")
            .bearer(t)
            .json(ok_plain.clone())
            .expect(415, "unsupported_media_type"),
        Row::new("sync without content type", "POST", "/v1/sync")
            .bearer(t)
            .expect(415, "unsupported_media_type"),
        Row::new("sync with a look-alike content type", "POST", "/v1/sync")
            .bearer(t)
            .header("content-type", "application/x-casesync-evil")
            .expect(415, "unsupported_media_type"),
        s("9 MiB body (over the 8 MiB limit)", vec![0u8; 9 << 20]).expect(413, "payload_too_large"),
        s("9 MiB chunked body", chunked(&vec![0u8; 9 << 20]))
            .header("transfer-encoding", "chunked")
            .raw_framing()
            .expect(413, "payload_too_large"),
        s(
            "Content-Length 9 MiB, 10 bytes sent",
            b"CS\x01\x00012345".to_vec(),
        )
        .header("content-length", (9u32 << 20).to_string())
        .raw_framing()
        .expect(413, "payload_too_large"),
        s(
            "Content-Length longer than the body, then EOF",
            ok_plain.clone(),
        )
        .header("content-length", "4096")
        .raw_framing()
        .half_close()
        .expect(400, "bad_request"),
        s("Content-Length shorter than the body", ok_plain.clone())
            .header("content-length", "4")
            .raw_framing()
            .expect(400, "bad_message"),
        s("Content-Length not a number", ok_plain.clone())
            .header("content-length", "12abc")
            .raw_framing()
            .bare(400),
        s("two different Content-Lengths", ok_plain.clone())
            .header("content-length", ok_plain.len().to_string())
            .header("content-length", "2")
            .raw_framing()
            .bare(400),
        Row::new("GET on the sync route", "GET", "/v1/sync")
            .bearer(t)
            .expect(405, "method_not_allowed"),
        Row::new("PUT on the sync route", "PUT", "/v1/sync")
            .bearer(t)
            .sync_body(ok_plain.clone())
            .expect(405, "method_not_allowed"),
        s("Transfer-Encoding gzip (not chunked)", ok_plain.clone())
            .header("transfer-encoding", "gzip")
            .raw_framing()
            .bare(400),
        // Authorization.
        Row::new("sync without Authorization", "POST", "/v1/sync")
            .sync_body(ok_plain.clone())
            .expect(401, "unauthorized"),
        Row::new("Bearer garbage", "POST", "/v1/sync")
            .bearer("garbage")
            .sync_body(ok_plain.clone())
            .expect(401, "invalid_token"),
        Row::new("Bearer and nothing", "POST", "/v1/sync")
            .header("authorization", "Bearer ")
            .sync_body(ok_plain.clone())
            .expect(401, "unauthorized"),
        Row::new("Basic credentials", "POST", "/v1/sync")
            .header("authorization", "Basic Y2h3LWE6cHctY2h3LWEtc2VjcmV0")
            .sync_body(ok_plain.clone())
            .expect(401, "unauthorized"),
        Row::new("token with a flipped signature byte", "POST", "/v1/sync")
            .bearer(&flip_last(t))
            .sync_body(ok_plain.clone())
            .expect(401, "invalid_token"),
        Row::new("token with non-ASCII bytes", "POST", "/v1/sync")
            .header(
                "authorization",
                cat(&[b"Bearer ", t.as_bytes(), b"\xff\xfe"]),
            )
            .sync_body(ok_plain.clone())
            .expect(401, "unauthorized"),
        Row::new("duplicate Authorization, garbage first", "POST", "/v1/sync")
            .bearer("garbage")
            .bearer(t)
            .sync_body(ok_plain.clone())
            .expect(401, "ambiguous_credentials"),
        Row::new(
            "duplicate Authorization, valid first, hostile body",
            "POST",
            "/v1/sync",
        )
        .bearer(t)
        .bearer("garbage")
        .sync_body(b"garbage".to_vec())
        .expect(401, "ambiguous_credentials"),
        Row::new(
            "duplicate Authorization, the same token twice",
            "POST",
            "/v1/sync",
        )
        .bearer(t)
        .bearer(t)
        .sync_body(ok_plain.clone())
        .expect(401, "ambiguous_credentials"),
        Row::new(
            "duplicate Authorization, a coordinator's token second",
            "POST",
            "/v1/sync",
        )
        .bearer(t)
        .bearer(&m.coord)
        .sync_body(ok_plain.clone())
        .expect(401, "ambiguous_credentials"),
        Row::new(
            "duplicate Authorization, Basic then Bearer",
            "POST",
            "/v1/sync",
        )
        .header("authorization", "Basic Y2h3LWE6cHctY2h3LWEtc2VjcmV0")
        .bearer(t)
        .sync_body(ok_plain.clone())
        .expect(401, "ambiguous_credentials"),
        Row::new("64 KiB bearer token", "POST", "/v1/sync")
            .bearer(&"A".repeat(64 * 1024))
            .sync_body(ok_plain.clone())
            .expect(401, "invalid_token"),
        Row::new("1 MiB header", "POST", "/v1/sync")
            .bearer(t)
            .header("x-junk", "j".repeat(1 << 20))
            .sync_body(ok_plain.clone())
            .bare(431),
        {
            let mut r = Row::new("500 headers", "POST", "/v1/sync").bearer(t);
            for i in 0..500 {
                r = r.header(&format!("x-h{i}"), "v");
            }
            r.sync_body(ok_plain.clone()).bare(431)
        },
    ]
}
