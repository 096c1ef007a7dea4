//! What refusing the worst requests costs the server.

use super::*;

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
