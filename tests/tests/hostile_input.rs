//! Hostile input against the real server binary (DESIGN §5: bad input of any kind gets a
//! clear 4xx, never a panic, and never corrupts stored data).
//!
//! One table of malformed and hostile requests, sent over raw TCP (so nothing is
//! normalised or refused by a client library first). Each row states its expected status
//! and the error contract's body — `Content-Type: application/json`, an object of exactly
//! `code` (as expected) and a non-empty `message` — or, for a sync round trip that is
//! answered 200, the expected push refusals. The only answers without the JSON body are
//! hyper's, for request heads it refuses before any service runs (a bare status, no
//! body: it has no hook for one; `server/README.md`), and the dashboard's HTML pages.
//! After every row the server must still answer `/healthz`, and what the API
//! serves — every case read as a coordinator of both districts with sensitive access,
//! and the heads of every case a full pull yields — must equal the baseline. Around the
//! whole table the server is stopped and its sled directory dumped: the two dumps must
//! be identical except for the keys listed in [`legitimately_written`].

use std::fmt::Write as _;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit};
use casesync_core::case::*;
use casesync_core::protocol::{
    encode_request, encode_response, DocBody, DocPush, DocUpdate, PushAck, Refusal, RefusalCode,
    SyncRequest, SyncResponse, CONTENT_TYPE, PROTOCOL_VERSION,
};
use casesync_tests::dump::*;
use casesync_tests::fixtures::*;
use casesync_tests::harness::*;
use casesync_tests::hostile;

const DHAKA: &str = "dhaka";
const KHULNA: &str = "khulna";

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, DHAKA);
    coord.districts.push(KHULNA.into());
    coord.sensitive_access = true;
    vec![
        coord,
        UserSpec::new("chw-a", Role::Chw, DHAKA),
        UserSpec::new("chw-b", Role::Chw, KHULNA),
        UserSpec::new("admin", Role::Admin, DHAKA),
    ]
}

fn spec(name: &str) -> UserSpec {
    users()
        .into_iter()
        .find(|u| u.username == name)
        .expect("known user")
}

/// [`changes_by`] for material known to be editable.
fn edit(
    doc: CaseDoc,
    actor: ActorId,
    f: impl FnOnce(&mut CaseDoc) -> Result<(), CaseError>,
) -> Vec<Vec<u8>> {
    changes_by(doc, actor, f).expect("edit")
}

// ---- wire-format building blocks for hand-made bodies ------------------------------

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn pstr(s: &str) -> Vec<u8> {
    let mut out = varint(s.len() as u64);
    out.extend_from_slice(s.as_bytes());
    out
}

/// Header for an uncompressed body of the current version.
fn plain(body: &[u8]) -> Vec<u8> {
    let mut out = b"CS".to_vec();
    out.extend_from_slice(&[PROTOCOL_VERSION as u8, 0]);
    out.extend_from_slice(body);
    out
}

/// A request encoded without compression, whatever its content.
fn plain_req(req: &SyncRequest) -> Vec<u8> {
    plain(&postcard::to_allocvec(req).expect("postcard"))
}

/// Rewrites an Automerge chunk's checksum (bytes 4..8: the first 4 bytes of the SHA-256
/// of everything after them) to match its content.
fn fix_checksum(chunk: &mut [u8]) {
    use sha2::Digest;
    let sum = sha2::Sha256::digest(&chunk[8..]);
    chunk[4..8].copy_from_slice(&sum[..4]);
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---- the table -----------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Expect {
    /// This status with the contract's JSON body of this `code`.
    Code(u16, &'static str),
    /// This status and no body at all: hyper refused the request head before any
    /// service ran, and it writes a status line only.
    Bare(u16),
    /// This status as a dashboard page (HTML).
    Page(u16),
    /// 200 sync answer refusing exactly these pushes (and acknowledging none).
    Refused(Vec<(&'static str, RefusalCode)>),
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    method: &'static str,
    /// The request target, raw bytes (may be what no client would send).
    path: Vec<u8>,
    version: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Send `Content-Length: <body length>` (off: the headers say how the body is framed).
    auto_length: bool,
    /// Half-close the connection after the body.
    close_after: bool,
    expect: Expect,
}

impl Row {
    fn new(name: impl Into<String>, method: &'static str, path: impl Into<Vec<u8>>) -> Row {
        Row {
            name: name.into(),
            method,
            path: path.into(),
            version: "HTTP/1.1",
            headers: Vec::new(),
            body: Vec::new(),
            auto_length: true,
            close_after: false,
            expect: Expect::Bare(0),
        }
    }
    fn header(mut self, k: &str, v: impl Into<Vec<u8>>) -> Row {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn bearer(self, token: &str) -> Row {
        self.header("authorization", format!("Bearer {token}"))
    }
    fn json(self, body: impl Into<Vec<u8>>) -> Row {
        self.body("application/json", body)
    }
    fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Row {
        let mut r = self.header("content-type", content_type);
        r.body = body.into();
        r
    }
    fn version(mut self, v: &'static str) -> Row {
        self.version = v;
        self
    }
    fn sync_body(self, body: Vec<u8>) -> Row {
        let mut r = self.header("content-type", CONTENT_TYPE);
        r.body = body;
        r
    }
    fn raw_framing(mut self) -> Row {
        self.auto_length = false;
        self
    }
    fn half_close(mut self) -> Row {
        self.close_after = true;
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Row {
        self.expect = Expect::Code(status, code);
        self
    }
    fn bare(mut self, status: u16) -> Row {
        self.expect = Expect::Bare(status);
        self
    }
    fn page(mut self, status: u16) -> Row {
        self.expect = Expect::Page(status);
        self
    }
    fn refused(mut self, r: Vec<(&'static str, RefusalCode)>) -> Row {
        self.expect = Expect::Refused(r);
        self
    }

    fn head(&self, addr: &str) -> Vec<u8> {
        let mut h = format!("{} ", self.method).into_bytes();
        h.extend_from_slice(&self.path);
        h.extend_from_slice(
            format!(" {}\r\nhost: {addr}\r\nconnection: close\r\n", self.version).as_bytes(),
        );
        for (k, v) in &self.headers {
            h.extend_from_slice(k.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v);
            h.extend_from_slice(b"\r\n");
        }
        if self.auto_length {
            h.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        h
    }
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(256 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// What the hostile requests need: tokens and case material prepared before the baseline.
struct Material {
    chw_a: String,
    coord: String,
    admin: String,
    /// chw-a's store actor on `phone-a`.
    actor_a: ActorId,
    /// chw-a's copy of case-a1.
    a1: Vec<u8>,
    /// The coordinator's copy of case-b1 (chw-a never had it).
    b1: Vec<u8>,
    /// A `Case` JSON of case-a1 as the API serves it.
    a1_json: serde_json::Value,
}

fn load(bytes: &[u8]) -> CaseDoc {
    CaseDoc::load(bytes).expect("load")
}

fn sync_rows(m: &Material) -> Vec<Row> {
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

fn flip_last(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        *last = if *last == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(b).expect("ascii")
}

fn login_body(user: &str, password: &str, device: &str) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"username": user, "password": password, "device_id": device}),
    )
    .expect("json")
}

fn auth_rows() -> Vec<Row> {
    let l = |name: &str| Row::new(name, "POST", "/v1/auth/login");
    let pw_a = spec("chw-a").password;
    let pw_b = spec("chw-b").password;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        l("login: missing password")
            .json(r#"{"username":"chw-a","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: username is a number")
            .json(r#"{"username":42,"password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: password is null")
            .json(r#"{"username":"chw-a","password":null,"device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: username is an array")
            .json(r#"{"username":["chw-a"],"password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: not JSON").json("garbage{").expect(400, "bad_request"),
        l("login: empty body").json("").expect(400, "bad_request"),
        l("login: duplicate keys")
            .json(r#"{"username":"chw-b","username":"chw-a","password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: 5000-deep nesting")
            .json(deep)
            .expect(400, "bad_request"),
        l("login: lone surrogate in username")
            .json(r#"{"username":"\ud800","password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: lone surrogate in password")
            .json(r#"{"username":"chw-a","password":"\udfff","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: no content type")
            .header("x-none", "1")
            .expect(415, "unsupported_media_type"),
        {
            let mut r = l("login: text/plain").header("content-type", "text/plain");
            r.body = login_body("chw-a", &pw_a, "p");
            r.expect(415, "unsupported_media_type")
        },
        l("login: 10 MB password")
            .json(login_body("chw-a", &"p".repeat(10_000_000), "phone-x"))
            .expect(413, "payload_too_large"),
        l("login: 1 MB wrong password")
            .json(login_body("coord", &"p".repeat(1_000_000), "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: NUL in username")
            .json(login_body("chw-a\0", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: RTL override username")
            .json(login_body("\u{202e}a-whc", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: emoji username")
            .json(login_body("👩\u{200d}⚕\u{fe0f}", "x", "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: fullwidth look-alike username")
            .json(login_body("ｃｈｗ-ａ", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: 100 KB username")
            .json(login_body(&"u".repeat(100_000), "x", "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: empty device id")
            .json(login_body("chw-a", &pw_a, ""))
            .expect(400, "bad_request"),
        l("login: device id of 129 bytes")
            .json(login_body("chw-a", &pw_a, &"d".repeat(129)))
            .expect(400, "bad_request"),
        l("login: device id of 33 emoji (132 bytes)")
            .json(login_body("chw-a", &pw_a, &"😀".repeat(33)))
            .expect(400, "bad_request"),
        l("login: NUL device id")
            .json(login_body("chw-a", &pw_a, "\0"))
            .expect(400, "bad_request"),
        l("login: BEL in device id")
            .json(login_body("chw-a", &pw_a, "phone\u{7}"))
            .expect(400, "bad_request"),
        l("login: C1 control (NEL) in device id")
            .json(login_body("chw-a", &pw_a, "phone\u{85}"))
            .expect(400, "bad_request"),
        l("login: another user's device")
            .json(login_body("chw-b", &pw_b, "phone-a"))
            .expect(403, "device_taken"),
        Row::new("refresh: garbage token", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage","device_id":"phone-a"}"#)
            .expect(401, "invalid_token"),
        Row::new("refresh: unknown device", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage","device_id":"no-such-phone"}"#)
            .expect(401, "invalid_token"),
        Row::new("refresh: missing device id", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage"}"#)
            .expect(400, "bad_request"),
        Row::new("refresh: 1 MB token", "POST", "/v1/auth/refresh")
            .json(
                serde_json::to_vec(&serde_json::json!({"refresh_token": "r".repeat(1_000_000), "device_id": "phone-a"}))
                    .expect("json"),
            )
            .expect(401, "invalid_token"),
    ]
}

fn case_rows(m: &Material) -> Vec<Row> {
    let c = m.coord.as_str();
    let get = |name: &str, path: &str| Row::new(name, "GET", path).bearer(c);
    let new = |n: NewCase| serde_json::to_vec(&n).expect("json");
    let mut renamed = m.a1_json.clone();
    renamed["id"] = "case-new1".into();
    // 30 notes of 9,000 characters: 270,000 operations, over the per-document limit.
    let mut long_notes = m.a1_json.clone();
    long_notes["id"] = "case-new2".into();
    long_notes["visits"] = (1..=30)
        .map(|i| {
            let v = Visit {
                id: format!("v{i}"),
                date: date("2025-01-01"),
                by: "coord".into(),
                kind: VisitKind::Home,
                notes: "ঘর পরিদর্শন ".repeat(750),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None,
            };
            (v.id.clone(), serde_json::to_value(v).expect("json"))
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    vec![
        get("GET ..%2F..%2Fetc", "/v1/cases/..%2F..%2Fetc").expect(404, "not_found"),
        get("GET %00", "/v1/cases/%00").expect(404, "not_found"),
        get("GET case-a1%00", "/v1/cases/case-a1%00").expect(404, "not_found"),
        get("GET emoji id", "/v1/cases/%F0%9F%98%80").expect(404, "not_found"),
        get("GET RTL override id", "/v1/cases/%E2%80%AEcase-a1").expect(404, "not_found"),
        get("GET percent-encoded lone surrogate", "/v1/cases/%ED%A0%80").expect(400, "bad_request"),
        get("GET percent-encoded 0xFF", "/v1/cases/%FF").expect(400, "bad_request"),
        Row::new("erase percent-encoded 0xFF", "POST", "/v1/cases/%FF/erase")
            .bearer(c)
            .expect(400, "bad_request"),
        Row::new("GET a raw 0xFF byte in the path", "GET", b"/v1/cases/\xff".to_vec())
            .bearer(c)
            .bare(400),
        get("GET a raw space in the path", "/v1/cases/case a1").bare(400),
        get("GET as HTTP/9.9", "/v1/cases/case-a1").version("HTTP/9.9").bare(400),
        get("GET a 20 KB path", &format!("/v1/{}", "a".repeat(20_000))).expect(404, "not_found"),
        get("GET unnormalised ../", "/v1/../v1/cases/case-a1").expect(404, "not_found"),
        get("GET case-a1/../case-b1", "/v1/cases/case-a1/../case-b1").expect(404, "not_found"),
        get("GET an 8 KB id", &format!("/v1/cases/{}", "a".repeat(8_000))).expect(404, "not_found"),
        get("GET a 100 KB path", &format!("/v1/{}", "a".repeat(100_000))).bare(414),
        get("GET /v1/cases/", "/v1/cases/").expect(404, "not_found"),
        Row::new("GET another district's case as a CHW", "GET", "/v1/cases/case-b1")
            .bearer(&m.chw_a)
            .expect(404, "not_found"),
        Row::new("GET a case as admin", "GET", "/v1/cases/case-a1")
            .bearer(&m.admin)
            .expect(403, "forbidden"),
        Row::new("erase as a CHW", "POST", "/v1/cases/case-a1/erase")
            .bearer(&m.chw_a)
            .expect(403, "forbidden"),
        Row::new("erase without a token", "POST", "/v1/cases/case-a1/erase")
            .expect(401, "unauthorized"),
        Row::new("erase ..%2F..%2Fetc", "POST", "/v1/cases/..%2F..%2Fetc/erase")
            .bearer(c)
            .expect(404, "not_found"),
        Row::new("create with id ../../etc", "POST", "/v1/cases")
            .bearer(c)
            .json(new(new_case("../../etc", DHAKA, "chw-a", "x", false)))
            .expect(400, "invalid_case"),
        Row::new("create with NUL in the name", "POST", "/v1/cases")
            .bearer(c)
            .json(new(new_case("case-n", DHAKA, "chw-a", "রহিমা\0খাতুন", false)))
            .expect(400, "invalid_case"),
        Row::new("create with a 100 KB name", "POST", "/v1/cases")
            .bearer(c)
            .json(new(new_case("case-n", DHAKA, "chw-a", &"ก".repeat(30_000), false)))
            .expect(400, "invalid_case"),
        Row::new("create over an existing id", "POST", "/v1/cases")
            .bearer(c)
            .json(new(new_case("case-a1", DHAKA, "chw-a", "زهرا احمدی", false)))
            .expect(409, "conflict"),
        Row::new("create in a foreign district", "POST", "/v1/cases")
            .bearer(c)
            .json(new(new_case("case-n", "sylhet", "chw-a", "Lê Văn Tám", false)))
            .expect(403, "forbidden"),
        Row::new("CHW creates a case for another CHW", "POST", "/v1/cases")
            .bearer(&m.chw_a)
            .json(new(new_case("case-n", DHAKA, "chw-b", "Lê Văn Tám", false)))
            .expect(403, "forbidden"),
        Row::new("create with wrong JSON types", "POST", "/v1/cases")
            .bearer(c)
            .json(r#"{"id":1,"district":[],"village":{},"assigned_to":null,"sensitive":"yes","client_name":2}"#)
            .expect(400, "bad_request"),
        Row::new("import an object, not an array", "POST", "/v1/cases/import")
            .bearer(c)
            .json("{}")
            .expect(400, "bad_request"),
        Row::new("import as a CHW", "POST", "/v1/cases/import")
            .bearer(&m.chw_a)
            .json("[]")
            .expect(403, "forbidden"),
        Row::new("import: a case of 270,000 operations", "POST", "/v1/cases/import")
            .bearer(c)
            .json(serde_json::to_vec(&serde_json::json!([long_notes])).expect("json"))
            .expect(400, "invalid_case"),
        Row::new("import: one new, one existing (all or nothing)", "POST", "/v1/cases/import")
            .bearer(c)
            .json(serde_json::to_vec(&serde_json::json!([renamed, m.a1_json])).expect("json"))
            .expect(409, "conflict"),
        Row::new("unknown route", "GET", "/v1/etc/passwd")
            .bearer(c)
            .expect(404, "not_found"),
        Row::new("DELETE a case", "DELETE", "/v1/cases/case-a1")
            .bearer(c)
            .expect(405, "method_not_allowed"),
        Row::new("GET the erase route", "GET", "/v1/cases/case-a1/erase")
            .bearer(c)
            .expect(405, "method_not_allowed"),
        Row::new("POST /healthz", "POST", "/healthz").expect(405, "method_not_allowed"),
        Row::new("dashboard login form without its fields", "POST", "/login")
            .body("application/x-www-form-urlencoded", "a=b")
            .page(422),
        Row::new("GET a case with two tokens", "GET", "/v1/cases/case-s")
            .bearer(&m.chw_a)
            .bearer(c)
            .expect(401, "ambiguous_credentials"),
        Row::new("erase as a CHW with a coordinator's token second", "POST", "/v1/cases/case-a2/erase")
            .bearer(&m.chw_a)
            .bearer(c)
            .expect(401, "ambiguous_credentials"),
        // Last: on a server that takes the first header, this one creates a case.
        Row::new("create with a coordinator's token first, a CHW's second", "POST", "/v1/cases")
            .bearer(c)
            .bearer(&m.chw_a)
            .json(new(new_case("case-dup", DHAKA, "chw-a", "Lê Văn Tám", false)))
            .expect(401, "ambiguous_credentials"),
    ]
}

/// Keys any request may legitimately write, excluded from the sled comparison:
/// `t/<device>` in tree `casesync` is the device's last-sync time, written by every
/// `POST /v1/sync` answered 200 — which includes the refused pushes above (a refusal is
/// part of a successful round trip) and the baseline reads (a full pull per row).
fn legitimately_written(tree: &[u8], key: &[u8]) -> bool {
    tree == b"casesync" && key.starts_with(b"t/")
}

const IDS: &[&str] = &[
    "case-a1",
    "case-a2",
    "case-s",
    "case-b1",
    "case-e",
    "case-z",
    "case-new1",
    "case-new2",
    "case-dup",
    "nope",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let mut server = ServerProc::start(&data, &users()).expect("server");
    let url = server.url.clone();
    let http = http_client();

    // Setup: cases in two districts, a sensitive one, an erased one.
    let chw_a = Device::login(&url, dir.path(), &spec("chw-a"), "phone-a")
        .await
        .expect("login");
    let chw_b = Device::login(&url, dir.path(), &spec("chw-b"), "phone-b")
        .await
        .expect("login");
    let coord = Device::login(&url, dir.path(), &spec("coord"), "laptop-coord")
        .await
        .expect("login");
    let admin = login(
        &http,
        &url,
        "admin",
        &spec("admin").password,
        "admin-laptop",
    )
    .await
    .expect("admin login");
    chw_a
        .create(
            &new_case("case-a1", DHAKA, "chw-a", "রহিমা খাতুন", false),
            1_000,
        )
        .expect("create");
    chw_a
        .edit("case-a1", 2_000, |d, c| {
            d.add_visit(c, &visit("মা ও শিশু সুস্থ"))
        })
        .expect("visit");
    chw_a
        .create(
            &new_case("case-a2", DHAKA, "chw-a", "زهرا احمدی", false),
            1_000,
        )
        .expect("create");
    chw_a
        .create(
            &new_case("case-s", DHAKA, "chw-a", "Nguyễn Thị Hoa", true),
            1_000,
        )
        .expect("create");
    chw_a
        .create(
            &new_case("case-e", DHAKA, "chw-a", "Lê Văn Tám", false),
            1_000,
        )
        .expect("create");
    chw_b
        .create(
            &new_case("case-b1", KHULNA, "chw-b", "สมชาย จันทร์เพ็ญ", false),
            1_000,
        )
        .expect("create");
    chw_a.sync().await.expect("sync");
    chw_b.sync().await.expect("sync");
    let erase = http
        .post(format!("{url}/v1/cases/case-e/erase"))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("erase");
    assert_eq!(erase.status().as_u16(), 200);
    coord.sync().await.expect("sync");
    chw_a.sync().await.expect("sync");

    let a1_json: serde_json::Value = http
        .get(format!("{url}/v1/cases/case-a1"))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let m = Material {
        chw_a: chw_a.token.clone(),
        coord: coord.token.clone(),
        admin: admin.access_token.clone(),
        actor_a: chw_a.store.actor("phone-a").expect("actor"),
        a1: chw_a.store.load_case("case-a1").expect("a1").save(),
        b1: coord.store.load_case("case-b1").expect("b1").save(),
        a1_json,
    };
    let mut rows = sync_rows(&m);
    rows.extend(auth_rows());
    rows.extend(case_rows(&m));

    // Baseline: the store as set up, then what the API serves.
    server.kill();
    let before = sled_dump(&data).expect("dump");
    let server = ServerProc::serve(&data).expect("restart");
    let url = server.url.clone();
    let addr = addr_of(&url).to_owned();
    let baseline = api_dump(&http, &url, &coord.token, "laptop-coord", IDS)
        .await
        .expect("baseline");
    assert_eq!(
        baseline.pulled.len(),
        4,
        "a1, a2, s, b1: {:?}",
        baseline.pulled.keys()
    );

    let mut failures = String::new();
    let mut report = String::new();
    for row in &rows {
        let resp = match raw_http(&addr, row.head(&addr), row.body.clone(), row.close_after).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(failures, "{}: no response: {e:#}", row.name);
                continue;
            }
        };
        let code = resp.code();
        let _ = writeln!(
            report,
            "{:>3} {:<24} {}",
            resp.status,
            code.as_deref().unwrap_or("-"),
            row.name
        );
        let ok = match &row.expect {
            Expect::Code(s, c) => resp.status == *s && code.as_deref() == Some(*c),
            Expect::Bare(s) => resp.status == *s && resp.body.is_empty(),
            Expect::Page(s) => {
                resp.status == *s
                    && resp
                        .header("content-type")
                        .is_some_and(|t| t.starts_with("text/html"))
            }
            Expect::Refused(want) => {
                resp.status == 200
                    && casesync_core::protocol::decode_response(&resp.body).is_ok_and(|r| {
                        let got: Vec<_> = r
                            .refused
                            .iter()
                            .map(|x| (x.doc_id.as_str(), x.code))
                            .collect();
                        r.acked.is_empty() && got == *want
                    })
            }
        };
        if !ok {
            let detail = match casesync_core::protocol::decode_response(&resp.body) {
                Ok(r) => format!("acked {:?} refused {:?}", r.acked, r.refused),
                Err(_) => {
                    String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]).into_owned()
                }
            };
            let _ = writeln!(
                failures,
                "{}: expected {:?}, got {} {}",
                row.name, row.expect, resp.status, detail
            );
        }
        let health = http.get(format!("{url}/healthz")).send().await;
        if !health.is_ok_and(|h| h.status().is_success()) {
            let _ = writeln!(failures, "{}: the server stopped answering", row.name);
            break;
        }
        match api_dump(&http, &url, &coord.token, "laptop-coord", IDS).await {
            Ok(after) if after == baseline => {}
            Ok(_) => {
                let _ = writeln!(failures, "{}: served data changed", row.name);
            }
            Err(e) => {
                let _ = writeln!(failures, "{}: reading back failed: {e:#}", row.name);
            }
        }
    }
    println!("{} hostile requests:\n{report}", rows.len());
    assert!(rows.len() >= 50);

    // The store itself, byte for byte.
    let mut server = server;
    server.kill();
    let after = sled_dump(&data).expect("dump");
    for d in dump_diff(&before, &after, legitimately_written) {
        let _ = writeln!(failures, "stored data: {d}");
    }
    assert!(failures.is_empty(), "{failures}");
}

/// BUG (found by this suite): the server acknowledges and stores a change whose chunk
/// checksum is wrong. `Change::from_bytes` does not verify the checksum, the change hash
/// is computed over the content (so it equals the genuine change's hash), and the stored
/// raw bytes then make the case fail to load: every later push to it is 500, and every
/// device in its scope gets a snapshot it cannot load, so their syncs fail — one CHW
/// bricks a case and the district's sync with 1 flipped byte. The genuine change is
/// then also lost: its hash is "already stored".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_with_a_wrong_checksum_is_refused_and_the_case_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProc::start(&dir.path().join("server"), &users()).expect("server");
    let url = server.url.clone();
    let http = http_client();
    let chw = Device::login(&url, dir.path(), &spec("chw-a"), "phone-a")
        .await
        .expect("login");
    let coord = Device::login(&url, dir.path(), &spec("coord"), "laptop-coord")
        .await
        .expect("login");
    chw.create(
        &new_case("case-c", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let baseline = api_dump(&http, &url, &coord.token, "laptop-coord", &["case-c"])
        .await
        .expect("baseline");

    let chw_ctx = ctx("chw-a", Role::Chw);
    let genuine = edit(
        chw.store.load_case("case-c").expect("case"),
        chw.store.actor("phone-a").expect("actor"),
        |d| d.add_visit(&chw_ctx, &visit("মা ও শিশু সুস্থ")).map(|_| ()),
    );
    let mut flipped = genuine[0].clone();
    flipped[5] ^= 0xff; // inside the checksum (bytes 4..8)
    let resp = push(&http, &url, &chw.token, "phone-a", "case-c", vec![flipped])
        .await
        .expect("push");
    let served = api_dump(&http, &url, &coord.token, "laptop-coord", &["case-c"]).await;
    assert!(
        resp.acked.is_empty() && resp.refused.first().map(|r| r.code) == Some(RefusalCode::Invalid),
        "a change with a wrong checksum must be refused Invalid; got acked {:?} refused {:?}",
        resp.acked,
        resp.refused
    );
    assert_eq!(
        served.expect("the case still loads"),
        baseline,
        "nothing stored"
    );
    // The genuine change is then stored normally.
    let resp = push(&http, &url, &chw.token, "phone-a", "case-c", genuine)
        .await
        .expect("push");
    assert_eq!(resp.acked.len(), 1, "{:?}", resp.refused);
    coord.sync().await.expect("the coordinator still syncs");
}

/// BUG (found by `fuzz/push_change`, input in `fuzz/regressions/push_change`): a change
/// whose bytes do not survive a re-encode (one byte of a column header changed, checksum
/// recomputed) is accepted by the server; its raw bytes load, but once the case is
/// re-saved — by the background compaction on the server, or by every device that
/// applies it — the document no longer loads ("mismatching heads"): the case is bricked
/// on the server and corrupt on the phones. Runs the server's sync engine in-process.
#[test]
fn a_change_that_does_not_survive_a_re_save_is_refused() {
    use casesync_server::config::Settings;
    use casesync_server::store::{SledStorage, Storage, UserRecord};
    use casesync_server::sync::SyncEngine;
    use std::sync::Arc;

    let base = include_bytes!("../../fuzz/fixtures/base_case.automerge");
    let input = include_bytes!("../../fuzz/regressions/push_change/non-canonical-change");
    // Framing of the fuzz input: flags, u16 length, the change.
    let mut change = input[3..].to_vec();
    fix_checksum(&mut change);
    let store = Arc::new(SledStorage::temporary().expect("sled"));
    let engine = SyncEngine::new(store.clone(), Settings::default());
    engine
        .store_new(&mut load(base), None)
        .expect("store the base case");
    let coord = UserRecord {
        user_id: "coord".into(),
        role: Role::Coordinator,
        districts: vec!["fuzz-district".into()],
        sensitive_access: true,
        password_hash: String::new(),
        disabled: false,
        created_ms: 0,
    };
    let req = sync_request(
        "fuzz-phone",
        vec![],
        vec![DocPush {
            doc_id: "fuzz-case".into(),
            changes: vec![change],
        }],
    );
    let (resp, _) = engine.sync(&coord, "fuzz-phone", &req).expect("sync");
    engine.compact(0).expect("compact");
    let bytes = store.doc_bytes("fuzz-case").expect("read").expect("stored");
    assert!(
        CaseDoc::load(&bytes).is_ok(),
        "after compaction the case no longer loads; the push was acked {:?}, refused {:?}",
        resp.acked,
        resp.refused
    );
}

/// BUG (found by `fuzz/push_change`, input in `fuzz/regressions/push_change`):
/// automerge 0.12 panics ("Obj ... Missing from Index", op_set2/change/batch.rs) applying
/// a hostile change with a valid checksum. The server survives (the panic is inside
/// `spawn_blocking`) and stores nothing, but answers 500 instead of refusing the push,
/// and a device applying such a change would panic mid-sync.
#[tokio::test]
async fn a_change_that_panics_automerge_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chw = UserSpec::new("chw1", Role::Chw, "fuzz-district");
    let server =
        ServerProc::start(&dir.path().join("server"), std::slice::from_ref(&chw)).expect("server");
    let http = http_client();
    let l = login(&http, &server.url, "chw1", &chw.password, "fuzz-phone")
        .await
        .expect("login");
    let base = include_bytes!("../../fuzz/fixtures/base_case.automerge");
    let r = push(
        &http,
        &server.url,
        &l.access_token,
        "fuzz-phone",
        "fuzz-case",
        all_changes(&mut load(base)),
    )
    .await
    .expect("push the base case");
    assert_eq!(r.acked.len(), 1, "{:?}", r.refused);
    let input = include_bytes!("../../fuzz/regressions/push_change/automerge-panic");
    let mut change = input[3..].to_vec();
    fix_checksum(&mut change);
    let req = sync_request(
        "fuzz-phone",
        vec![],
        vec![DocPush {
            doc_id: "fuzz-case".into(),
            changes: vec![change],
        }],
    );
    let (status, body) = post_sync(&http, &server.url, &l.access_token, encode_request(&req))
        .await
        .expect("sync");
    let refused = casesync_core::protocol::decode_response(&body)
        .ok()
        .and_then(|r| r.refused.first().map(|x| x.code));
    assert_eq!(
        (status, refused),
        (200, Some(RefusalCode::Invalid)),
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
}

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

/// A page from a compromised server (or a forged one) carrying Automerge bytes that
/// Automerge would inflate or expand without bound: the phone refuses the page, stores
/// nothing of it, and a genuine page afterwards still applies.
#[test]
fn a_hostile_page_changes_nothing_on_the_phone() {
    use casesync_core::protocol::decode_response;
    use casesync_core::store::{DeviceStore, SummaryFilter};
    use casesync_core::sync::SyncSession;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = DeviceStore::open(&dir.path().join("store"), &test_key()).expect("store");
    let chw = ctx("chw-a", Role::Chw);
    let mut genuine = CaseDoc::create(
        &chw,
        device_actor("server"),
        &new_case("case-h1", DHAKA, "chw-a", "ফাতেমা বেগম", false),
    )
    .expect("create");
    let summary = genuine.summary().expect("summary");
    let mut many = CaseDoc::load(&genuine.save()).expect("load");
    many.set_actor(device_actor("server"));
    let rle = hostile::run_length_change(&mut many, "nulls", 500_000);
    let page = |body: DocBody| SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: b"c1".to_vec(),
        docs: vec![DocUpdate {
            doc_id: "case-h1".into(),
            body,
        }],
        removed: vec![],
        acked: vec![],
        refused: vec![],
        more: false,
        remaining_estimate: 0,
        wipe: false,
    };
    let snapshot = |doc: Vec<u8>| DocBody::Snapshot {
        doc,
        summary: summary.clone(),
    };
    let hostile_pages = [
        (
            "snapshot: a document column inflating to 256 MiB",
            snapshot(hostile::deflated_document_bomb(256 << 20)),
        ),
        (
            "snapshot: a compressed change chunk of 1 GiB",
            snapshot(hostile::gib_change_bomb().to_vec()),
        ),
        ("snapshot: a bundle", snapshot(hostile::bundle_chunk())),
        (
            "changes: a compressed change chunk of 1 GiB",
            DocBody::Changes(vec![hostile::gib_change_bomb().to_vec()]),
        ),
        ("changes: 500,000 operations", DocBody::Changes(vec![rle])),
    ];
    let empty = store
        .list_summaries(&SummaryFilter::default())
        .expect("list");
    for (name, body) in hostile_pages {
        let bytes = encode_response(&page(body));
        assert!(
            decode_response(&bytes).is_ok(),
            "{name}: the page itself is well formed"
        );
        let mut session = SyncSession::new(&store, "phone-h", 64 * 1024).expect("session");
        session.next_request().expect("request");
        assert!(session.handle_response(&bytes).is_err(), "{name}: refused");
        assert!(
            store.load_case("case-h1").is_err(),
            "{name}: nothing stored"
        );
        assert_eq!(
            store
                .list_summaries(&SummaryFilter::default())
                .expect("list"),
            empty,
            "{name}: the index is unchanged"
        );
    }
    let mut session = SyncSession::new(&store, "phone-h", 64 * 1024).expect("session");
    session.next_request().expect("request");
    let ok = encode_response(&page(snapshot(genuine.save())));
    session
        .handle_response(&ok)
        .expect("a genuine page applies");
    assert_eq!(
        store
            .load_case("case-h1")
            .expect("stored")
            .read()
            .expect("read")
            .client
            .name,
        "ফাতেমা বেগম"
    );
}

/// Peak resident memory (VmHWM) and CPU time (user + system) of a process, from /proc.
fn peak_and_cpu(pid: u32) -> (u64, Duration) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').expect("stat").1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().expect("ticks"))
        .collect();
    let ticks = f.iter().sum::<u64>();
    (hwm_kb * 1024, Duration::from_millis(ticks * 10))
}

/// Most the server's peak resident memory may grow while refusing one hostile request.
const MAX_HOSTILE_PEAK_GROWTH: u64 = 64 * 1024 * 1024;

/// The worst request of each kind that fits the body limit, sent to a fresh server
/// process each: refused, and the server's peak memory grows by at most
/// [`MAX_HOSTILE_PEAK_GROWTH`]. Prints the figures (peak growth, CPU) for the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_the_worst_requests_costs_the_server_little_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let chw = spec("chw-a");
    let coord = spec("coord");
    let mut server = ServerProc::start(&data, &users()).expect("server");
    let phone = Device::login(&server.url, dir.path(), &chw, "phone-a")
        .await
        .expect("login");
    phone
        .create(
            &new_case("case-a1", DHAKA, "chw-a", "রহিমা খাতুন", false),
            1_000,
        )
        .expect("create");
    phone.sync().await.expect("sync");
    let a1 = phone.store.load_case("case-a1").expect("case").save();
    let actor = phone.store.actor("phone-a").expect("actor");
    server.kill();

    // The decoded request may hold at most MAX_DECODED_BYTES of changes: as many 1 GiB
    // bombs as fit.
    let bomb = hostile::gib_change_bomb().to_vec();
    let fit = (casesync_core::protocol::MAX_DECODED_BYTES - 4096) / (bomb.len() + 8);
    let bombs = encode_request(&sync_request(
        "phone-a",
        vec![],
        vec![DocPush {
            doc_id: "case-a1".into(),
            changes: vec![bomb; fit],
        }],
    ));
    let rle = encode_request(&sync_request(
        "phone-a",
        vec![],
        vec![DocPush {
            doc_id: "case-a1".into(),
            changes: edit(load(&a1), actor.clone(), |d| {
                hostile::run_length_change(d, "nulls", 2_000_000);
                Ok(())
            }),
        }],
    ));
    let mut big = serde_json::to_value(load(&a1).read().expect("read")).expect("json");
    big["id"] = "case-big".into();
    big["visits"] = (1..=100)
        .map(|i| {
            let notes = "ঘর পরিদর্শন ".repeat(800);
            (format!("v{i}"), serde_json::json!({"id": format!("v{i}"), "date": "2025-01-01", "by": "coord", "kind": "home", "notes": notes}))
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let import = serde_json::to_vec(&serde_json::json!([big])).expect("json");

    println!("| hostile request | body bytes | server peak growth | server CPU |");
    println!("|---|---|---|---|");
    for (name, path, body, by_coord) in [
        (
            format!("{fit} compressed change chunks of 1 GiB each"),
            "/v1/sync",
            bombs,
            false,
        ),
        (
            "one change of 2,000,000 operations".to_owned(),
            "/v1/sync",
            rle,
            false,
        ),
        (
            "import: 100 notes of 9,600 characters".to_owned(),
            "/v1/cases/import",
            import,
            true,
        ),
    ] {
        let server = ServerProc::serve(&data).expect("server");
        let http = http_client();
        let who = if by_coord { &coord } else { &chw };
        let l = login(
            &http,
            &server.url,
            &who.username,
            &who.password,
            if by_coord { "laptop-coord" } else { "phone-a" },
        )
        .await
        .expect("login");
        let pid = server.pid().expect("pid");
        let (peak0, cpu0) = peak_and_cpu(pid);
        let ct = if by_coord {
            "application/json"
        } else {
            CONTENT_TYPE
        };
        let resp = http
            .post(format!("{}{path}", server.url))
            .bearer_auth(&l.access_token)
            .header("content-type", ct)
            .body(body.clone())
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let answer = resp.bytes().await.expect("body");
        let (peak1, cpu1) = peak_and_cpu(pid);
        if by_coord {
            assert_eq!(status, 400, "{name}: {}", String::from_utf8_lossy(&answer));
        } else {
            assert_eq!(status, 200, "{name}");
            let r = casesync_core::protocol::decode_response(&answer).expect("response");
            assert!(
                r.acked.is_empty() && r.refused.len() == 1,
                "{name}: {:?}",
                r.refused
            );
        }
        let growth = peak1.saturating_sub(peak0);
        println!(
            "| {name} | {} | {:.1} MiB | {} ms |",
            body.len(),
            growth as f64 / (1024.0 * 1024.0),
            (cpu1 - cpu0).as_millis()
        );
        assert!(
            growth <= MAX_HOSTILE_PEAK_GROWTH,
            "{name}: the server's peak memory grew by {growth} bytes"
        );
    }
}

// ---- slow and idle clients -----------------------------------------------------------

/// The slow-client tests' settings: 1 s without a byte, 3 s per body in total.
const SLOW_ENV: [(&str, &str); 2] = [
    ("CASESYNC_INACTIVITY_TIMEOUT_SECS", "1"),
    ("CASESYNC_BODY_TIMEOUT_SECS", "3"),
];

/// What a slow client saw: the status and error code of the answer (if any), and when
/// the server closed the connection (if it did within the wait).
#[derive(Debug, Clone, Default)]
struct Seen {
    status: Option<u16>,
    code: Option<String>,
    closed_after: Option<std::time::Duration>,
}

/// Connects to `addr`, writes `head`, then each of `pieces` after waiting `every`
/// (then nothing more, the connection held open), and reads until the server closes
/// the connection or `within` has passed.
async fn slow_client(
    addr: String,
    head: Vec<u8>,
    pieces: Vec<Vec<u8>>,
    every: std::time::Duration,
    within: std::time::Duration,
) -> Seen {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = std::time::Instant::now();
    let Ok(stream) = tokio::net::TcpStream::connect(&addr).await else {
        return Seen::default();
    };
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(&head).await.is_err() {
            return;
        }
        for p in pieces {
            tokio::time::sleep(every).await;
            if wr.write_all(&p).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut seen = Seen::default();
    let read = async {
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    seen.closed_after = tokio::time::timeout(within, read).await.ok();
    writer.abort();
    let text = String::from_utf8_lossy(&buf).into_owned();
    seen.status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    seen.code = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
    seen
}

fn post_head(addr: &str, path: &str, headers: &[(&str, &str)], length: usize) -> Vec<u8> {
    let mut h = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(h, "{k}: {v}\r\n");
    }
    let _ = write!(h, "content-length: {length}\r\n\r\n");
    h.into_bytes()
}

/// Issue #13, failure 5: only headers and `/v1/sync` bodies had an inactivity timeout;
/// a login, refresh, import or dashboard body that stops half-way held its connection
/// and task forever. Every body now gets 408 `request_timeout` once no byte came for the
/// inactivity timeout, and a body that keeps trickling in is cut at the total body
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_trickling_bodies_time_out_on_every_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let server = ServerProc::start_with_env(&data, &users(), &SLOW_ENV).expect("server");
    let http = http_client();
    let coord = login(
        &http,
        &server.url,
        "coord",
        &spec("coord").password,
        "laptop",
    )
    .await
    .expect("login");
    let addr = addr_of(&server.url).to_owned();
    let bearer = format!("Bearer {}", coord.access_token);
    let json = ("content-type", "application/json");
    let auth = ("authorization", bearer.as_str());
    let routes: Vec<(&str, Vec<u8>)> = vec![
        ("login", post_head(&addr, "/v1/auth/login", &[json], 1000)),
        (
            "refresh",
            post_head(&addr, "/v1/auth/refresh", &[json], 1000),
        ),
        (
            "import",
            post_head(&addr, "/v1/cases/import", &[json, auth], 1000),
        ),
        ("create", post_head(&addr, "/v1/cases", &[json, auth], 1000)),
        (
            "dashboard login",
            post_head(
                &addr,
                "/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                1000,
            ),
        ),
        (
            "sync",
            post_head(
                &addr,
                "/v1/sync",
                &[("content-type", CONTENT_TYPE), auth],
                1000,
            ),
        ),
    ];
    let wait = std::time::Duration::from_secs(8);
    let mut tasks = Vec::new();
    for (name, head) in &routes {
        // Ten bytes, then nothing.
        tasks.push((
            format!("{name}: stalled"),
            tokio::spawn(slow_client(
                addr.clone(),
                head.clone(),
                vec![b"{\"username".to_vec()],
                std::time::Duration::from_millis(10),
                wait,
            )),
        ));
        // A byte every 300 ms: never idle, but over the 3 s a body may take.
        tasks.push((
            format!("{name}: trickling"),
            tokio::spawn(slow_client(
                addr.clone(),
                head.clone(),
                vec![b"x".to_vec(); 900],
                std::time::Duration::from_millis(300),
                wait,
            )),
        ));
    }
    let mut failures = String::new();
    for (name, t) in tasks {
        let seen = t.await.expect("client");
        let late = if name.ends_with("stalled") { 4.0 } else { 6.0 };
        let ok = seen.status == Some(408)
            && seen.code.as_deref() == Some("request_timeout")
            && seen
                .closed_after
                .is_some_and(|d| d.as_secs_f64() > 0.9 && d.as_secs_f64() < late);
        if !ok {
            let _ = writeln!(failures, "{name}: {seen:?}");
        }
    }
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert!(failures.is_empty(), "not timed out:\n{failures}");
}

/// A slow-loris crowd on loopback — idle connections, headers sent a byte at a time,
/// bodies sent a byte at a time — does not stop the server: health checks and a real
/// login are answered promptly throughout, and every slow connection is closed by the
/// server within its time-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_crowd_does_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let server = ServerProc::start_with_env(&data, &users(), &SLOW_ENV).expect("server");
    let addr = addr_of(&server.url).to_owned();
    let every = std::time::Duration::from_millis(200);
    let wait = std::time::Duration::from_secs(10);
    let mut crowd = Vec::new();
    for i in 0..120 {
        let (kind, head, pieces) = match i % 3 {
            0 => ("idle", Vec::new(), Vec::new()),
            1 => (
                "header",
                b"POST /v1/auth/login HTTP/1.1\r\nx-slow: ".to_vec(),
                vec![b"a".to_vec(); 200],
            ),
            _ => (
                "body",
                post_head(
                    &addr,
                    "/v1/auth/login",
                    &[("content-type", "application/json")],
                    100_000,
                ),
                vec![b" ".to_vec(); 200],
            ),
        };
        crowd.push((
            kind,
            tokio::spawn(slow_client(addr.clone(), head, pieces, every, wait)),
        ));
    }
    // Meanwhile, other clients.
    let http = http_client();
    let mut worst_health = std::time::Duration::ZERO;
    let mut worst_login = std::time::Duration::ZERO;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < until {
        let t = std::time::Instant::now();
        let h = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            http.get(format!("{}/healthz", server.url)).send(),
        )
        .await;
        assert!(
            h.is_ok_and(|r| r.is_ok_and(|r| r.status().is_success())),
            "healthz answered"
        );
        worst_health = worst_health.max(t.elapsed());
        let t = std::time::Instant::now();
        let l = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            login(
                &http,
                &server.url,
                "chw-a",
                &spec("chw-a").password,
                "phone-a",
            ),
        )
        .await;
        assert!(l.is_ok_and(|r| r.is_ok()), "login answered");
        worst_login = worst_login.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!("beside 120 slow clients: healthz at worst {worst_health:?}, login {worst_login:?}");
    assert!(worst_health < std::time::Duration::from_secs(1));
    assert!(worst_login < std::time::Duration::from_secs(3));
    let mut failures = String::new();
    for (kind, t) in crowd {
        let seen = t.await.expect("client");
        // Idle and header: the 1 s header timeout; body: 1 s of headers, then 3 s.
        let limit = if kind == "body" { 5.5 } else { 2.5 };
        if !seen.closed_after.is_some_and(|d| d.as_secs_f64() < limit) {
            let _ = writeln!(failures, "{kind}: {seen:?}");
        }
    }
    assert!(
        failures.is_empty(),
        "slow connections left open:\n{failures}"
    );
}

/// At most `--max-connections` connections are served at once: past it the server
/// stops accepting (connections wait in the listen backlog) until one ends, here when
/// the idle connections holding every slot time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let env = [
        ("CASESYNC_INACTIVITY_TIMEOUT_SECS", "2"),
        ("CASESYNC_MAX_CONNECTIONS", "8"),
    ];
    let server = ServerProc::start_with_env(&data, &users(), &env).expect("server");
    let addr = addr_of(&server.url).to_owned();
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let head = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let seen = slow_client(
        addr.clone(),
        head.into_bytes(),
        Vec::new(),
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(8),
    )
    .await;
    let took = seen.closed_after.map(|d| d.as_secs_f64());
    assert_eq!(seen.status, Some(200), "{seen:?}");
    assert!(
        took.is_some_and(|t| t > 1.0 && t < 5.0),
        "answered once an idle connection timed out, not before: {took:?}"
    );
    drop(idle);
}
