//! Rows for `/v1/cases` and the dashboard.

use super::*;

pub(super) fn case_rows(m: &Material) -> Vec<Row> {
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
