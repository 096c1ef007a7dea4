//! Several `casesync-server` processes on one PostgreSQL database (a fresh one per test
//! on the server named by `CASESYNC_TEST_DATABASE_URL`; skipped without it). Devices
//! sync through whichever instance, each round trip possibly through another one (no
//! sticky sessions), and one instance is killed with SIGKILL mid-run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use casesync_core::sync::Step;
use casesync_tests::fixtures::{new_case, visit};
use casesync_tests::harness::{Device, ServerProc, TestDatabase, UserSpec};
use casesync_tests::scenario::{self, users, DISTRICT as D};

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
async fn sync_via(dev: &Device, url: &str) -> Result<()> {
    match dev.sync_via(url).await?.1 {
        Step::Wiped => bail!("wiped"),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_editing_offline_converge_through_three_instances() {
    let Some(c) = Cluster::start(3, users(2)) else {
        return;
    };
    let urls = c.urls();
    // Each device logs in through a different instance: tokens work on all of them.
    let chw1 = c.device("chw1", "phone-chw1", 0).await;
    let chw2 = c.device("chw2", "phone-chw2", 1).await;
    let coord = c.device("coord", "laptop-coord", 2).await;
    // Every sync goes through another instance than the device's previous one.
    scenario::create_edit_offline_and_converge(&chw1, &chw2, &coord, async |d, turn| {
        sync_via(d, &urls[(turn.device + turn.round) % urls.len()]).await
    })
    .await;
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
            // What this device saw acknowledged: case id -> visit notes.
            let mut acked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut failures = 0;
            for round in 0..ROUNDS {
                let id = format!("case-{w}-{}", round % 3);
                if round < 3 {
                    dev.create(
                        &new_case(&id, D, &user, &format!("client {w}"), false),
                        1_000,
                    )
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
                    match sync_via(&dev, url).await {
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
                    let case = dev.case(&cid).expect("case");
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
    sync_via(&coord, &c.urls()[0]).await.expect("sync");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for id in coord.store.case_ids().expect("ids") {
        let case = coord.case(&id).expect("case");
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
