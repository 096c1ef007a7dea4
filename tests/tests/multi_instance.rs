//! Several `casesync-server` processes on one PostgreSQL database (a fresh one per test
//! on the server named by `CASESYNC_TEST_DATABASE_URL`; skipped without it). Devices
//! sync through whichever instance, each round trip possibly through another one (no
//! sticky sessions), and one instance is killed with SIGKILL mid-run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use casesync_core::case::{ClientUpdate, NewCase, Role, VisitInput, VisitKind, VisitUpdate};
use casesync_core::protocol::CONTENT_TYPE;
use casesync_core::sync::{Step, SyncSession, DEFAULT_PAGE_BYTES};
use casesync_tests::harness::{http_client, Device, ServerProc, TestDatabase, UserSpec};
use chrono::NaiveDate;

const D: &str = "sylhet";

fn users(chws: usize) -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, D);
    coord.sensitive_access = true;
    let mut out = vec![coord];
    out.extend((1..=chws).map(|i| UserSpec::new(&format!("chw{i}"), Role::Chw, D)));
    out
}

fn new_case(id: &str, assigned: &str, name: &str) -> NewCase {
    NewCase {
        id: id.into(),
        district: D.into(),
        village: "বালাগঞ্জ".into(),
        assigned_to: assigned.into(),
        sensitive: false,
        client_name: name.into(),
    }
}

fn visit(notes: &str) -> VisitInput {
    VisitInput {
        date: NaiveDate::from_ymd_opt(2025, 2, 1).expect("date"),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: NaiveDate::from_ymd_opt(2025, 3, 1),
    }
}

/// The instances of one test, some of which may have been killed.
struct Cluster {
    _db: TestDatabase,
    dir: tempfile::TempDir,
    servers: Mutex<Vec<ServerProc>>,
    users: Vec<UserSpec>,
}

impl Cluster {
    /// `n` instances on a fresh database (the first one creates the users); `None`
    /// without PostgreSQL.
    fn start(n: usize, users: Vec<UserSpec>) -> Option<Cluster> {
        let Some(db) = TestDatabase::from_env().expect("test database") else {
            eprintln!("skipped: CASESYNC_TEST_DATABASE_URL is not set (scripts/pg start)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut servers =
            vec![
                ServerProc::start_with_database(&db.url, &dir.path().join("s0"), &users)
                    .expect("first instance"),
            ];
        for i in 1..n {
            let data = dir.path().join(format!("s{i}"));
            servers.push(ServerProc::serve_with_database(&db.url, &data).expect("instance"));
        }
        Some(Cluster {
            _db: db,
            dir,
            servers: Mutex::new(servers),
            users,
        })
    }

    fn urls(&self) -> Vec<String> {
        self.servers
            .lock()
            .expect("servers")
            .iter()
            .map(|s| s.url.clone())
            .collect()
    }

    fn kill(&self, i: usize) -> String {
        let mut s = self.servers.lock().expect("servers");
        let mut dead = s.remove(i);
        dead.kill();
        dead.url.clone()
    }

    async fn device(&self, user: &str, device_id: &str, via: usize) -> Device {
        let spec = self
            .users
            .iter()
            .find(|u| u.username == user)
            .expect("user");
        let url = self.urls()[via % self.urls().len()].clone();
        Device::login(&url, self.dir.path(), spec, device_id)
            .await
            .expect("login")
    }
}

/// Syncs `dev` until up to date, every round trip through the instance at `url`.
async fn sync_via(dev: &Device, http: &reqwest::Client, url: &str) -> Result<()> {
    let mut session = SyncSession::new(&dev.store, &dev.device_id, DEFAULT_PAGE_BYTES)?;
    loop {
        let req = session.next_request()?;
        let resp = http
            .post(format!("{url}/v1/sync"))
            .bearer_auth(&dev.token)
            .header("content-type", CONTENT_TYPE)
            .body(req)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await?;
        if status != 200 {
            bail!("sync refused: {status} {}", String::from_utf8_lossy(&body));
        }
        match session.handle_response(&body)? {
            Step::Continue => continue,
            Step::Done => return Ok(()),
            Step::Wiped => bail!("wiped"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_editing_offline_converge_through_three_instances() {
    let Some(c) = Cluster::start(3, users(2)) else {
        return;
    };
    let urls = c.urls();
    let http = http_client();
    // Each device logs in through a different instance: tokens work on all of them.
    let chw1 = c.device("chw1", "phone-chw1", 0).await;
    let chw2 = c.device("chw2", "phone-chw2", 1).await;
    let coord = c.device("coord", "laptop-coord", 2).await;

    chw1.create(&new_case("case-a", "chw1", "রহিমা খাতুন"), 1_000)
        .expect("create");
    chw1.edit("case-a", 2_000, |d, x| {
        d.add_visit(x, &visit("মা ও শিশু সুস্থ"))
    })
    .expect("visit");
    chw2.create(&new_case("case-b", "chw2", "زهرا احمدی"), 1_500)
        .expect("create");
    sync_via(&chw1, &http, &urls[0]).await.expect("sync");
    sync_via(&chw2, &http, &urls[1]).await.expect("sync");
    sync_via(&coord, &http, &urls[2]).await.expect("sync");
    assert_eq!(coord.store.case_ids().expect("ids").len(), 2);

    // Concurrent offline edits of one case; every sync goes through another instance.
    let v = chw1
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read")
        .visits
        .keys()
        .next()
        .cloned()
        .expect("visit id");
    chw1.edit("case-a", 3_000, |d, x| {
        d.update_visit(
            x,
            &v,
            &VisitUpdate {
                notes: Some("আজ: মা ও শিশু সুস্থ".into()),
                ..Default::default()
            },
        )
    })
    .expect("edit");
    chw1.edit("case-a", 3_100, |d, x| {
        d.update_client(
            x,
            &ClientUpdate {
                phone: Some("+8801711000000".into()),
                ..Default::default()
            },
        )
    })
    .expect("phone");
    coord
        .edit("case-a", 3_200, |d, x| {
            d.update_visit(
                x,
                &v,
                &VisitUpdate {
                    notes: Some("মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে".into()),
                    ..Default::default()
                },
            )
        })
        .expect("coord edit");
    coord
        .edit("case-a", 3_300, |d, x| d.reassign(x, "chw2"))
        .expect("reassign");
    for round in 0..3 {
        sync_via(&chw1, &http, &urls[round % 3])
            .await
            .expect("sync");
        sync_via(&coord, &http, &urls[(round + 1) % 3])
            .await
            .expect("sync");
        sync_via(&chw2, &http, &urls[(round + 2) % 3])
            .await
            .expect("sync");
    }
    let at_coord = coord
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read");
    let at_chw2 = chw2
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read");
    assert_eq!(at_coord, at_chw2, "copies converge across instances");
    assert_eq!(
        at_coord.visits[&v].notes, "আজ: মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে",
        "both note edits kept"
    );
    assert_eq!(at_coord.client.phone.as_deref(), Some("+8801711000000"));
    assert_eq!(at_coord.assigned_to, "chw2");
    assert!(
        !chw1
            .store
            .case_ids()
            .expect("ids")
            .contains(&"case-a".into()),
        "reassigned away from chw1 (seen through any instance)"
    );
    for d in [&chw1, &chw2, &coord] {
        assert!(
            d.store.outbox().expect("outbox").is_empty(),
            "all acknowledged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_mid_run_loses_no_acknowledged_change() {
    const CHWS: usize = 4;
    const ROUNDS: usize = 12;
    let Some(c) = Cluster::start(3, users(CHWS)) else {
        return;
    };
    let c = Arc::new(c);
    let syncs = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 1..=CHWS {
        let (c, syncs) = (c.clone(), syncs.clone());
        tasks.spawn(async move {
            let user = format!("chw{w}");
            let dev = c.device(&user, &format!("phone-{user}"), w).await;
            let http = http_client();
            // What this device saw acknowledged: case id -> visit notes.
            let mut acked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut failures = 0;
            for round in 0..ROUNDS {
                let id = format!("case-{w}-{}", round % 3);
                if round < 3 {
                    dev.create(&new_case(&id, &user, &format!("client {w}")), 1_000)
                        .expect("create");
                }
                let note = format!("{user} round {round}");
                dev.edit(&id, 2_000 + round as i64, |d, x| {
                    d.add_visit(x, &visit(&note))
                })
                .expect("visit");
                // Through some instance; a dead one (killed mid-request) is skipped.
                let mut attempt = w + round;
                loop {
                    let urls = c.urls();
                    let url = &urls[attempt % urls.len()];
                    match sync_via(&dev, &http, url).await {
                        Ok(()) => break,
                        Err(_) => {
                            failures += 1;
                            assert!(failures < 50, "sync keeps failing");
                            attempt += 1;
                        }
                    }
                }
                syncs.fetch_add(1, Ordering::SeqCst);
                assert!(dev.store.outbox().expect("outbox").is_empty());
                for cid in dev.store.case_ids().expect("ids") {
                    let case = dev
                        .store
                        .load_case(&cid)
                        .expect("case")
                        .read()
                        .expect("read");
                    let notes = case.visits.values().map(|v| v.notes.clone());
                    acked.entry(cid).or_default().extend(notes);
                }
            }
            (user, acked, failures)
        });
    }
    // Kill instance 1 (SIGKILL) while the devices are in the middle of their rounds.
    let killer = {
        let (c, syncs) = (c.clone(), syncs.clone());
        tokio::spawn(async move {
            while syncs.load(Ordering::SeqCst) < CHWS * ROUNDS / 3 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            c.kill(1)
        })
    };
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut total_failures = 0;
    while let Some(r) = tasks.join_next().await {
        let (_, acked, failures) = r.expect("device task");
        total_failures += failures;
        for (id, notes) in acked {
            expected.entry(id).or_default().extend(notes);
        }
    }
    let dead = killer.await.expect("killer");
    assert_eq!(c.urls().len(), 2);
    assert!(!c.urls().contains(&dead));
    eprintln!("syncs that failed on the killed instance and were retried: {total_failures}");
    assert_eq!(expected.len(), CHWS * 3);

    // A fresh coordinator device, through a survivor, finds every acknowledged visit.
    let coord = c.device("coord", "laptop-coord-check", 0).await;
    sync_via(&coord, &http_client(), &c.urls()[0])
        .await
        .expect("sync");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for id in coord.store.case_ids().expect("ids") {
        let case = coord
            .store
            .load_case(&id)
            .expect("case")
            .read()
            .expect("read");
        found.insert(id, case.visits.values().map(|v| v.notes.clone()).collect());
    }
    assert_eq!(
        found, expected,
        "every acknowledged change survived the kill"
    );
    for (id, notes) in &found {
        assert_eq!(notes.len(), ROUNDS / 3, "{id}: one visit per round");
    }
}
