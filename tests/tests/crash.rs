//! Crash safety (DESIGN §4: durable acknowledgement, pages committed atomically).
//!
//! Server: several devices edit and sync continuously against the real server binary
//! while it is killed with SIGKILL at random (seeded) moments and restarted on the same
//! sled directory. Every change hash the server acknowledged in a response that reached
//! a device must be in the store after the last restart, every device must converge to
//! what the server serves, and the store must open clean (every case loads and reads).
//!
//! Device: response pages are applied over a store backend that fails the Nth write (as
//! a crash before the commit would), or are dropped unapplied; the store is reopened and
//! synced again: the same cases as the server, each equal to the server's copy, with the
//! local edits stored once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use automerge::ChangeHash;
use casesync_core::case::*;
use casesync_core::protocol::decode_response;
use casesync_core::store::{DeviceStore, MemoryBackend, SummaryFilter};
use casesync_core::sync::{Step, SyncSession};
use casesync_tests::dump::*;
use casesync_tests::fixtures::visit;
use casesync_tests::harness::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const D: &str = "cox-bazar";
const NAMES: &[&str] = &[
    "রহিমা খাতুন",
    "زهرا احمدی",
    "สมชาย จันทร์เพ็ญ",
    "Nguyễn Thị Hoa",
    "আব্দুল করিম",
    "فاطمه رضایی",
    "กาญจนา ศรีสุข",
    "Trần Văn Nam",
];

fn new_case(id: &str, assigned: &str, name: &str) -> NewCase {
    casesync_tests::fixtures::new_case(id, D, assigned, name, false)
}

fn users(chws: usize) -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, D);
    coord.sensitive_access = true;
    let mut v = vec![coord];
    v.extend((1..=chws).map(|i| UserSpec::new(&format!("chw{i}"), Role::Chw, D)));
    v
}

/// `(doc id, change hash)` pairs a server acknowledged to a device.
type Acked = Arc<Mutex<BTreeSet<(String, [u8; 32])>>>;

/// A phone that syncs with whatever address the server has now, and records every
/// acknowledgement that reaches it.
struct Phone {
    user: String,
    device_id: String,
    token: String,
    store: DeviceStore,
}

impl Phone {
    fn ctx(&self, now_ms: i64) -> EditCtx {
        EditCtx::new(self.user.clone(), Role::Chw, now_ms)
    }

    fn edit(
        &self,
        id: &str,
        now_ms: i64,
        f: impl FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError>,
    ) -> Result<()> {
        let mut doc = self.store.load_case(id)?;
        doc.set_actor(self.store.actor(&self.device_id)?);
        f(&mut doc, &self.ctx(now_ms))?;
        self.store.save_local(&mut doc)?;
        Ok(())
    }

    /// Syncs until done, retrying through connection failures (the server is being
    /// killed) until `deadline`.
    async fn sync(
        &self,
        http: &reqwest::Client,
        url: &RwLock<String>,
        acked: &Acked,
        deadline: Instant,
    ) -> Result<()> {
        let mut session = SyncSession::new(&self.store, &self.device_id, 8 * 1024)?;
        let mut transport = Recording {
            http,
            url,
            token: &self.token,
            device_id: &self.device_id,
            acked,
            deadline,
        };
        // Killed mid-request, or not listening yet: the core's loop resends the same
        // request (a link failure is a lost answer), every 25-50 ms, until the deadline.
        let policy = casesync_core::sync::driver::Policy {
            max_retries: u32::MAX,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(50),
        };
        let finished = casesync_tests::drive::run(&mut session, &mut transport, policy).await?;
        if finished.step == Step::Wiped {
            bail!("wiped");
        }
        Ok(())
    }
}

/// `POST /v1/sync` to the server's current address, recording every acknowledged change
/// hash (what the server promised to keep) before the page is applied.
struct Recording<'a> {
    http: &'a reqwest::Client,
    url: &'a RwLock<String>,
    token: &'a str,
    device_id: &'a str,
    acked: &'a Acked,
    deadline: Instant,
}

impl casesync_tests::drive::AsyncTransport for Recording<'_> {
    async fn post(&mut self, request: Vec<u8>) -> Result<Vec<u8>> {
        if Instant::now() > self.deadline {
            bail!("{}: no complete sync before the deadline", self.device_id);
        }
        let base = self
            .url
            .read()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone();
        let (status, body) = post_sync(self.http, &base, self.token, request).await?;
        if status != 200 {
            bail!(
                "{}: {status} {}",
                self.device_id,
                String::from_utf8_lossy(&body)
            );
        }
        let resp = decode_response(&body)?;
        {
            let mut a = self.acked.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            for ack in &resp.acked {
                for h in &ack.hashes {
                    a.insert((ack.doc_id.clone(), *h));
                }
            }
        }
        if !resp.refused.is_empty() {
            bail!("{}: refused {:?}", self.device_id, resp.refused);
        }
        Ok(body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_kill_9() {
    const PHONES: usize = 3;
    const KILLS: usize = 5;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let users = users(PHONES);
    let server = ServerProc::start(&data, &users).expect("server");
    let url = Arc::new(RwLock::new(server.url.clone()));
    let server = Arc::new(Mutex::new(server));
    let http = http_client();
    let acked: Acked = Arc::default();

    let mut phones = Vec::new();
    for u in &users[1..] {
        let device_id = format!("phone-{}", u.username);
        let first_url = url.read().expect("lock").clone();
        let l = login(&http, &first_url, &u.username, &u.password, &device_id)
            .await
            .expect("login");
        let store = DeviceStore::open(&dir.path().join(&device_id), &test_key()).expect("store");
        phones.push(Arc::new(Phone {
            user: u.username.clone(),
            device_id,
            token: l.access_token,
            store,
        }));
    }

    let start = Instant::now();
    let deadline = start + Duration::from_secs(45);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (n, phone) in phones.iter().enumerate() {
        let (phone, http, url, acked, stop) = (
            phone.clone(),
            http.clone(),
            url.clone(),
            acked.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(0xC0FFEE + n as u64);
            let mut ids: Vec<String> = Vec::new();
            let mut round = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                round += 1;
                let now = 1_000 * round;
                if ids.len() < 4 || rng.gen_bool(0.2) {
                    let id = format!("{}-c{}", phone.user, ids.len());
                    let name = NAMES[rng.gen_range(0..NAMES.len())];
                    let mut doc = CaseDoc::create(
                        &phone.ctx(now),
                        phone.store.actor(&phone.device_id)?,
                        &new_case(&id, &phone.user, name),
                    )?;
                    phone.store.save_local(&mut doc)?;
                    ids.push(id);
                }
                for _ in 0..rng.gen_range(1..4) {
                    let id = &ids[rng.gen_range(0..ids.len())];
                    let note = format!("{} {round}", NAMES[rng.gen_range(0..NAMES.len())]);
                    if rng.gen_bool(0.7) {
                        phone.edit(id, now, |d, c| d.add_visit(c, &visit(note)).map(|_| ()))?;
                    } else {
                        phone.edit(id, now, |d, c| {
                            d.update_client(
                                c,
                                &ClientUpdate {
                                    phone: Some(format!("+88017{round:08}")),
                                    ..Default::default()
                                },
                            )
                        })?;
                    }
                }
                phone.sync(&http, &url, &acked, deadline).await?;
            }
            Ok::<_, anyhow::Error>(round)
        }));
    }

    // The killer: SIGKILL at seeded random moments, restart on the same directory.
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..2_000))).await;
        let before = acked.lock().expect("lock").len();
        let down_for = Duration::from_millis(rng.gen_range(0..400));
        let (server2, url2, data2) = (server.clone(), url.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            server2.lock().expect("lock").kill();
            std::thread::sleep(down_for);
            let s = ServerProc::serve(&data2).expect("restart after kill -9");
            *url2.write().expect("lock") = s.url.clone();
            *server2.lock().expect("lock") = s;
        })
        .await
        .expect("restart");
        kills.push((start.elapsed().as_millis(), before));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut rounds = Vec::new();
    for t in tasks {
        rounds.push(t.await.expect("task").expect("phone"));
    }
    // One last sync each, then a final kill right after the last acknowledgements.
    for p in &phones {
        p.sync(&http, &url, &acked, deadline)
            .await
            .expect("final sync");
        assert!(
            p.store.outbox().expect("outbox").is_empty(),
            "{}: all acknowledged",
            p.device_id
        );
    }
    {
        let mut s = server.lock().expect("lock");
        s.kill();
        *s = ServerProc::serve(&data).expect("restart");
        *url.write().expect("lock") = s.url.clone();
    }
    let base = url.read().expect("lock").clone();
    let acked = acked.lock().expect("lock").clone();
    println!(
        "rounds per phone {rounds:?}; kills (ms, acks so far) {kills:?}; {} acknowledged changes",
        acked.len()
    );
    assert!(acked.len() >= 30, "enough traffic: {}", acked.len());

    // Every acknowledged change is served by the restarted server.
    let coord = &users[0];
    let l = login(
        &http,
        &base,
        &coord.username,
        &coord.password,
        "laptop-verify",
    )
    .await
    .expect("login");
    let mut served = pull_all(&http, &base, &l.access_token, "laptop-verify")
        .await
        .expect("pull");
    let mut missing = Vec::new();
    for (doc_id, h) in &acked {
        let present = served
            .get_mut(doc_id)
            .is_some_and(|d| d.automerge().get_change_by_hash(&ChangeHash(*h)).is_some());
        if !present {
            missing.push(format!("{doc_id}:{}", ChangeHash(*h)));
        }
    }
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");

    // Every phone converges to the server's copy.
    for p in &phones {
        p.sync(
            &http,
            &url,
            &Acked::default(),
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .expect("sync");
        let ids = p.store.case_ids().expect("ids");
        let want: Vec<String> = served
            .iter_mut()
            .filter_map(|(id, d)| {
                d.read()
                    .is_ok_and(|c| c.assigned_to == p.user)
                    .then(|| id.clone())
            })
            .collect();
        assert_eq!(ids, want, "{}", p.device_id);
        for id in &ids {
            assert_eq!(
                p.store.load_case(id).expect("case").read().expect("read"),
                served.get_mut(id).expect("served").read().expect("read"),
                "{id}"
            );
        }
    }

    // The store opens clean: every case record loads and reads as itself.
    server.lock().expect("lock").kill();
    let stored = {
        use casesync_server::store::{SledStorage, Storage};
        let store = SledStorage::open(&data).expect("store opens after kill -9");
        let ids: Vec<String> = store
            .dump()
            .expect("dump")
            .into_iter()
            .filter_map(|(k, _)| {
                k.strip_prefix(b"d/")
                    .map(|id| String::from_utf8_lossy(id).into_owned())
            })
            .collect();
        for id in &ids {
            let bytes = store.doc_bytes(id).expect("read").expect("bytes");
            let case = CaseDoc::load(&bytes)
                .and_then(|mut d| d.read())
                .expect("case loads");
            assert_eq!(&case.id, id);
        }
        ids.len()
    };
    assert_eq!(stored, served.len());
}

// ---- device side ----------------------------------------------------------------------

/// How a page's application is interrupted.
#[derive(Debug, Clone, Copy)]
enum Interrupt {
    /// The store's write of page N fails (crash before commit).
    FailWrite(u32),
    /// Page N arrives but the app dies before applying it.
    Drop(u32),
}

/// Syncs `store` with an interruption; returns whether it happened. The session is
/// abandoned at the interruption, as the app would be.
async fn sync_interrupted(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    store: &DeviceStore,
    mem: &MemoryBackend,
    device_id: &str,
    how: Interrupt,
) -> Result<bool> {
    let mut session = SyncSession::new(store, device_id, 512)?;
    let mut transport = Interrupting {
        http,
        url,
        token,
        mem,
        how,
        page: 0,
        interrupted: false,
    };
    let result = casesync_tests::drive::run(
        &mut session,
        &mut transport,
        casesync_tests::drive::NO_RETRIES,
    )
    .await;
    match (transport.interrupted, result) {
        (false, Ok(_)) => Ok(false),
        // The failed write was reported (or the page dropped): the session ends there.
        (true, Err(_)) => Ok(true),
        (true, Ok(_)) => bail!("the failed write was not reported"),
        (false, Err(e)) => Err(e),
    }
}

/// `POST /v1/sync`, interrupting page N as told: its store write set to fail, or the
/// page dropped before it is applied (an error the core's loop does not retry).
struct Interrupting<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    token: &'a str,
    mem: &'a MemoryBackend,
    how: Interrupt,
    page: u32,
    interrupted: bool,
}

impl casesync_tests::drive::AsyncTransport for Interrupting<'_> {
    async fn post(&mut self, request: Vec<u8>) -> Result<Vec<u8>> {
        self.page += 1;
        let (status, body) = post_sync(self.http, self.url, self.token, request).await?;
        if status != 200 {
            bail!("{status}");
        }
        match self.how {
            Interrupt::FailWrite(n) if n == self.page => {
                self.mem.fail_next_apply();
                self.interrupted = true;
            }
            Interrupt::Drop(n) if n == self.page => {
                self.interrupted = true;
                bail!("page {n} dropped before it was applied");
            }
            _ => {}
        }
        Ok(body)
    }
}

/// The phone equals the server: same case ids (no duplicates, a clean index), each case
/// equal, nothing left to send.
fn assert_same(store: &DeviceStore, served: &mut BTreeMap<String, CaseDoc>, what: &str) {
    let ids = store.case_ids().expect("ids");
    assert_eq!(
        ids,
        served.keys().cloned().collect::<Vec<_>>(),
        "{what}: same cases"
    );
    let listing = store
        .list_summaries(&SummaryFilter::default())
        .expect("list");
    assert!(listing.corrupt.is_empty(), "{what}: {:?}", listing.corrupt);
    let mut listed: Vec<String> = listing.summaries.iter().map(|s| s.id.clone()).collect();
    listed.sort();
    assert_eq!(listed, ids, "{what}: the index lists each case once");
    for (id, doc) in served.iter_mut() {
        assert_eq!(
            store.load_case(id).expect("case").read().expect("read"),
            doc.read().expect("read"),
            "{what}: {id}"
        );
    }
    assert!(
        store.outbox().expect("outbox").is_empty(),
        "{what}: all sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_interrupted_on_the_phone_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = users(1);
    let server = ServerProc::start(&dir.path().join("server"), &users).expect("server");
    let url = server.url.clone();
    let http = http_client();
    let coord = Device::login(&url, dir.path(), &users[0], "laptop-coord")
        .await
        .expect("login");
    let chw = &users[1];
    // 24 cases for chw1, a few KB each: several 4 KB pages.
    for i in 0..24 {
        let r = http
            .post(format!("{url}/v1/cases"))
            .bearer_auth(&coord.token)
            .json(&new_case(
                &format!("case-{i:02}"),
                "chw1",
                NAMES[i % NAMES.len()],
            ))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status().as_u16(), 201);
    }
    coord.sync().await.expect("sync");
    let served = |http: reqwest::Client, url: String, token: String| async move {
        pull_all(&http, &url, &token, "laptop-coord")
            .await
            .expect("pull")
    };

    let mut runs = Vec::new();
    for n in 1..=6 {
        runs.push(Interrupt::FailWrite(n));
    }
    runs.extend([Interrupt::Drop(1), Interrupt::Drop(3)]);
    for (k, how) in runs.into_iter().enumerate() {
        let device_id = format!("phone-{k}");
        let l = login(&http, &url, &chw.username, &chw.password, &device_id)
            .await
            .expect("login");
        let mem = MemoryBackend::new();
        let what = format!("{how:?}");

        // The phone restarts: its store reopened over the same memory, synced to the
        // end, then equal to what the server serves.
        let reopen_sync_and_compare = async |label: String| {
            let store =
                DeviceStore::with_backend(Box::new(mem.clone()), &test_key()).expect("reopen");
            sync_store(&http, &url, &l.access_token, &store, &device_id, 512)
                .await
                .expect("sync");
            let mut want = served(http.clone(), url.clone(), coord.token.clone()).await;
            assert_same(&store, &mut want, &label);
            (store, want)
        };

        // From zero, interrupted, reopened, synced.
        let store = DeviceStore::with_backend(Box::new(mem.clone()), &test_key()).expect("store");
        let hit = sync_interrupted(&http, &url, &l.access_token, &store, &mem, &device_id, how)
            .await
            .expect("sync");
        assert!(hit, "{what}: the interruption happened");
        drop(store);
        let (store, _) = reopen_sync_and_compare(format!("{what}, initial")).await;

        // Local edits on 3 cases while the coordinator edits others; the page carrying
        // the acknowledgement (and the coordinator's edits) is interrupted.
        let actor = store.actor(&device_id).expect("actor");
        let ctx = EditCtx::new(chw.username.clone(), Role::Chw, 10_000 + k as i64);
        for i in 0..3 {
            let mut doc = store.load_case(&format!("case-{i:02}")).expect("case");
            doc.set_actor(actor.clone());
            doc.add_visit(&ctx, &visit(format!("{what} visit {i}")))
                .expect("visit");
            store.save_local(&mut doc).expect("save");
        }
        for i in 10..16 {
            coord
                .edit(&format!("case-{i:02}"), 20_000 + k as i64, |d, c| {
                    d.add_visit(c, &visit(format!("coordinator {what} {i}")))
                        .map(|_| ())
                })
                .expect("coord edit");
        }
        coord.sync().await.expect("sync");
        let hit = sync_interrupted(&http, &url, &l.access_token, &store, &mem, &device_id, how)
            .await
            .expect("sync");
        drop(store);
        let (_store, mut want) =
            reopen_sync_and_compare(format!("{what} (hit: {hit}), incremental")).await;
        for i in 0..3 {
            let case = want
                .get_mut(&format!("case-{i:02}"))
                .expect("case")
                .read()
                .expect("read");
            let mine = case
                .visits
                .values()
                .filter(|v| v.notes == format!("{what} visit {i}"))
                .count();
            assert_eq!(mine, 1, "{what}: the local visit is stored exactly once");
        }
    }
}
