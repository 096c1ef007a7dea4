//! Backups that restore (issue #18; docs/DESIGN.md "Backups and restore").
//!
//! The real server binary on 127.0.0.1 with a real sled store: devices edit and sync
//! while `casesync-server backup` asks the running server for a copy through its control
//! socket; the copy is restored with `casesync-server restore` into a new directory and
//! a new server starts on it. Every change acknowledged before the backup is there, the
//! sequence number jumped forward, and the devices resume against the restored server
//! without a full re-download, including one whose cursor is beyond the backup (it must
//! still receive what is pushed after the restore). Then a backup of the stopped store,
//! restored and compared entry by entry, and the refusals: a non-empty target, a wrong
//! master key, a damaged backup.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};
use automerge::ChangeHash;
use casesync_core::case::{CaseDoc, Role};
use casesync_core::protocol::RefusalCode;
use casesync_core::store::DeviceStore;
use casesync_core::sync::Step;
use casesync_server::store::RESTORE_SEQ_GAP;
use casesync_tests::dump::{pull_all, sled_dump};
use casesync_tests::fixtures::{new_case, visit};
use casesync_tests::harness::*;

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
/// Cases each CHW creates before the backup.
const CASES_PER_CHW: usize = 12;

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, D);
    coord.sensitive_access = true;
    vec![
        coord,
        UserSpec::new("chw1", Role::Chw, D),
        UserSpec::new("chw2", Role::Chw, D),
    ]
}

fn cli(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Result<Output> {
    let out = Command::new(server_bin()?)
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("CASESYNC_MASTER_KEY")
        .env_remove("CASESYNC_MASTER_KEY_FILE")
        .envs(env.iter().copied())
        .output()?;
    Ok(out)
}

fn ok(out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "command failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn refused(out: Output) -> Result<String> {
    if out.status.success() {
        bail!(
            "command succeeded, should be refused: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every change hash of every case a device store holds.
fn changes_of(store: &DeviceStore, ids: &[String]) -> Result<BTreeSet<(String, ChangeHash)>> {
    let mut out = BTreeSet::new();
    for id in ids {
        let Ok(mut doc) = store.load_case(id) else {
            continue;
        };
        for c in doc.automerge().get_changes(&[]) {
            out.insert((id.clone(), c.hash()));
        }
    }
    Ok(out)
}

/// Every case id a device holds.
fn ids(store: &DeviceStore) -> Result<Vec<String>> {
    Ok(store.case_ids()?)
}

async fn done(dev: &Device, url: &str) -> Result<casesync_core::sync::SyncProgress> {
    let (p, step) = dev.sync_via(url).await?;
    if step != Step::Done {
        bail!("{} did not finish its sync: {step:?}", dev.device_id);
    }
    if !p.refused.is_empty() {
        bail!("{} had pushes refused: {:?}", dev.device_id, p.refused);
    }
    Ok(p)
}

/// Every case the coordinator of a fresh device receives from `url`.
async fn everything(
    url: &str,
    spec: &UserSpec,
    device_id: &str,
) -> Result<BTreeMap<String, CaseDoc>> {
    let http = http_client();
    let t = login(&http, url, &spec.username, &spec.password, device_id).await?;
    pull_all(&http, url, &t.access_token, device_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_server_restores_and_devices_resume() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let users = users();
    let data = dir.path().join("server");
    let mut server = ServerProc::start(&data, &users)?;
    assert!(
        data.join("control.sock").exists(),
        "the running server has its control socket"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("control.sock"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "control socket is owner-only");
    }
    let (coord, chw1, chw2) = (&users[0], &users[1], &users[2]);
    let a = Device::login(&server.url, dir.path(), chw1, "phone-a").await?;
    let b = Device::login(&server.url, dir.path(), chw2, "phone-b").await?;
    // `stale` stops syncing before the backup; `ahead` syncs until the server stops.
    let stale = Device::login(&server.url, dir.path(), coord, "tablet-stale").await?;
    let ahead = Device::login(&server.url, dir.path(), coord, "tablet-ahead").await?;

    let mut n = 0;
    for (dev, who) in [(&a, "chw1"), (&b, "chw2")] {
        for i in 0..CASES_PER_CHW {
            let id = format!("{who}-case-{i:02}");
            dev.create(
                &new_case(&id, D, who, NAMES[n % NAMES.len()], i % 5 == 0),
                1_000,
            )?;
            n += 1;
        }
        done(dev, &server.url).await?;
    }
    done(&stale, &server.url).await?;
    done(&ahead, &server.url).await?;
    let total = ids(&ahead.store)?.len();
    assert_eq!(total, 2 * CASES_PER_CHW);

    // Edits before the backup, synced: acknowledged.
    for i in 0..4 {
        a.edit(&format!("chw1-case-{i:02}"), 2_000, |d, c| {
            d.add_visit(c, &visit("জ্বর নেই, খাবার খাচ্ছে"))
        })?;
        b.edit(&format!("chw2-case-{i:02}"), 2_000, |d, c| {
            d.add_visit(c, &visit("ไม่มีไข้"))
        })?;
    }
    done(&a, &server.url).await?;
    done(&b, &server.url).await?;
    done(&ahead, &server.url).await?;
    let all_ids = ids(&ahead.store)?;
    let mut acked = changes_of(&a.store, &all_ids)?;
    acked.extend(changes_of(&b.store, &all_ids)?);

    // The backup, taken while both CHWs edit and sync.
    let backup = dir.path().join("backup");
    let keys = dir.path().join("keys-apart");
    let (bin_data, bin_backup, bin_keys) = (data.clone(), backup.clone(), keys.clone());
    let job = tokio::task::spawn_blocking(move || {
        cli(
            &[
                "backup",
                "--to",
                bin_backup.to_str().unwrap_or_default(),
                "--keys-to",
                bin_keys.to_str().unwrap_or_default(),
            ],
            &bin_data,
            &[],
        )
    });
    let mut round = 0;
    while !job.is_finished() || round < 3 {
        let i = 4 + round % 4;
        a.edit(
            &format!("chw1-case-{i:02}"),
            3_000 + round as i64,
            |d, c| d.add_visit(c, &visit(format!("Lần thăm {round}"))),
        )?;
        b.edit(
            &format!("chw2-case-{i:02}"),
            3_000 + round as i64,
            |d, c| d.add_visit(c, &visit(format!("ملاقات {round}"))),
        )?;
        let (pa, pb) = tokio::join!(a.sync(), b.sync());
        let (pa, pb) = (pa?, pb?);
        assert_eq!((pa.1, pb.1), (Step::Done, Step::Done));
        done(&ahead, &server.url).await?;
        round += 1;
        if round > 200 {
            bail!("the backup did not finish");
        }
    }
    let said = ok(job.await??)?;
    assert!(said.contains("by the running server"), "{said}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("casesync-backup.json"))?)?;
    let backup_seq = manifest["last_seq"].as_u64().context("last_seq")?;
    assert!(keys.join("master.key").exists(), "--keys-to copied the key");
    assert!(
        !backup.join("master.key").exists(),
        "the master key is never in the backup"
    );

    // After the backup, until the server is lost: acknowledged by the old server only.
    a.edit("chw1-case-11", 4_000, |d, c| {
        d.add_visit(c, &visit("ہفتے بعد"))
    })?;
    done(&a, &server.url).await?;
    let ahead_final = done(&ahead, &server.url).await?;
    assert!(ahead_final.docs_received >= 1);
    assert_eq!(
        server.terminate(std::time::Duration::from_secs(20))?.code(),
        Some(0)
    );
    assert!(!data.join("control.sock").exists(), "removed at shutdown");

    // Restore into a new directory; a new server on it.
    let restored = dir.path().join("restored");
    let said = ok(cli(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap_or_default(),
            "--keys-from",
            keys.to_str().unwrap_or_default(),
        ],
        &restored,
        &[],
    )?)?;
    assert!(
        said.contains(&format!(
            "continuing after {}",
            backup_seq + RESTORE_SEQ_GAP
        )),
        "{said}"
    );
    let server2 = ServerProc::serve(&restored)?;

    // Every change acknowledged before the backup is there.
    let served = everything(&server2.url, coord, "tablet-check").await?;
    assert_eq!(served.len(), total, "every case restored");
    let mut missing = Vec::new();
    for (id, h) in &acked {
        let mut doc = served.get(id).context("case restored")?.clone();
        if doc.automerge().get_change_by_hash(h).is_none() {
            missing.push(id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, lost: {missing:?}"
    );

    // Devices resume without a full re-download.
    let stale_p = done(&stale, &server2.url).await?;
    assert!(
        stale_p.docs_received > 0 && stale_p.docs_received < total as u64,
        "the stale tablet gets the cases changed before the backup, not all {total}: {}",
        stale_p.docs_received
    );
    let ahead_p = done(&ahead, &server2.url).await?;
    assert_eq!(
        ahead_p.docs_received, 0,
        "a cursor beyond the backup: nothing new yet"
    );
    for dev in [&a, &b] {
        let p = done(dev, &server2.url).await?;
        assert!(
            p.docs_received < total as u64,
            "{}: re-downloaded {} of {total}",
            dev.device_id,
            p.docs_received
        );
    }

    // New work on the restored server reaches the tablet whose cursor is ahead of the
    // backup: the counter jumped past every cursor, so none skips it.
    b.create(
        &new_case("chw2-case-new", D, "chw2", "Trần Thị Mai", false),
        5_000,
    )?;
    b.edit("chw2-case-00", 5_000, |d, c| {
        d.add_visit(c, &visit("بعد از بازیابی"))
    })?;
    done(&b, &server2.url).await?;
    let ahead_p = done(&ahead, &server2.url).await?;
    assert_eq!(ahead_p.docs_received, 2, "the new case and the new visit");
    assert!(ahead.case("chw2-case-new").is_ok());
    let stale_p = done(&stale, &server2.url).await?;
    assert_eq!(stale_p.docs_received, 2);

    // The gap that is still open (docs/DESIGN.md §6.3): the visit acknowledged after
    // the backup is lost, the phone does not send it again, and its next edit of that
    // case depends on it: refused and parked, nothing stored.
    a.edit("chw1-case-11", 6_000, |d, c| {
        d.add_visit(c, &visit("Lần sau"))
    })?;
    let (p, _) = a.sync_via(&server2.url).await?;
    assert!(
        p.refused
            .iter()
            .any(|r| r.doc_id == "chw1-case-11" && r.code == RefusalCode::MissingDependencies),
        "{:?}",
        p.refused
    );
    Ok(())
}

#[test]
fn a_backup_of_a_stopped_store_restores_entry_for_entry() -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let users = users();
    let data = dir.path().join("server");
    let mut server = ServerProc::start(&data, &users)?;
    rt.block_on(async {
        let a = Device::login(&server.url, dir.path(), &users[1], "phone-a").await?;
        for (i, name) in NAMES.iter().enumerate() {
            a.create(&new_case(&format!("c{i}"), D, "chw1", name, false), 1_000)?;
        }
        done(&a, &server.url).await.map(|_| ())
    })?;
    server.terminate(std::time::Duration::from_secs(20))?;

    // Refused: a target that is not empty, the key beside the backup, no store.
    let full = dir.path().join("full");
    std::fs::create_dir_all(&full)?;
    std::fs::write(full.join("x"), b"x")?;
    let err = refused(cli(
        &["backup", "--to", full.to_str().unwrap_or_default()],
        &data,
        &[],
    )?)?;
    assert!(err.contains("not empty"), "{err}");
    let backup = dir.path().join("backup");
    let inside = backup.join("key");
    let err = refused(cli(
        &[
            "backup",
            "--to",
            backup.to_str().unwrap_or_default(),
            "--keys-to",
            inside.to_str().unwrap_or_default(),
        ],
        &data,
        &[],
    )?)?;
    assert!(err.contains("apart"), "{err}");
    let err = refused(cli(
        &[
            "backup",
            "--to",
            dir.path().join("b0").to_str().unwrap_or_default(),
        ],
        &dir.path().join("nothing-here"),
        &[],
    )?)?;
    assert!(err.contains("no store"), "{err}");

    let said = ok(cli(
        &["backup", "--to", backup.to_str().unwrap_or_default()],
        &data,
        &[],
    )?)?;
    assert!(said.contains("from the stopped store"), "{said}");
    let key = std::fs::read_to_string(data.join("master.key"))?;
    let key = key.trim();

    // Refused: no key, a wrong key, a damaged backup; nothing is written.
    let target = dir.path().join("restored");
    let from = backup.to_str().unwrap_or_default();
    let err = refused(cli(&["restore", "--from", from], &target, &[])?)?;
    assert!(err.contains("no master key"), "{err}");
    let wrong = "11".repeat(32);
    let err = refused(cli(
        &["restore", "--from", from],
        &target,
        &[("CASESYNC_MASTER_KEY", wrong.as_str())],
    )?)?;
    assert!(err.contains("does not open this store"), "{err}");
    assert!(!target.exists(), "a refused restore writes nothing");
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(damaged.join("keys"))?;
    for entry in std::fs::read_dir(&backup)? {
        let entry = entry?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), damaged.join(entry.file_name()))?;
        }
    }
    let mut bytes = std::fs::read(damaged.join("store.bin"))?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(damaged.join("store.bin"), bytes)?;
    let err = refused(cli(
        &["restore", "--from", damaged.to_str().unwrap_or_default()],
        &target,
        &[("CASESYNC_MASTER_KEY", key)],
    )?)?;
    assert!(err.contains("does not match"), "{err}");
    assert!(!target.exists());
    let err = refused(cli(
        &["restore", "--from", from],
        &full,
        &[("CASESYNC_MASTER_KEY", key)],
    )?)?;
    assert!(err.contains("not empty"), "{err}");

    ok(cli(
        &["restore", "--from", from],
        &target,
        &[("CASESYNC_MASTER_KEY", key)],
    )?)?;

    // Entry for entry the same store, but for the counter and the restore's mark.
    let before = sled_dump(&data)?;
    let after = sled_dump(&target)?;
    let differs = |d: &casesync_tests::dump::SledDump| {
        d.iter()
            .filter(|((_, k), _)| k.as_slice() != b"m/seq" && k.as_slice() != b"m/restored")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(differs(&before), differs(&after));
    let seq = |d: &casesync_tests::dump::SledDump| -> Result<u64> {
        let v = d
            .iter()
            .find(|((_, k), _)| k.as_slice() == b"m/seq")
            .map(|(_, v)| v.clone())
            .context("m/seq")?;
        Ok(u64::from_be_bytes(v.as_slice().try_into()?))
    };
    assert_eq!(seq(&after)?, seq(&before)? + RESTORE_SEQ_GAP);
    let names = |p: &Path| -> Result<BTreeSet<std::ffi::OsString>> {
        Ok(std::fs::read_dir(p)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?)
    };
    assert_eq!(names(&data.join("keys"))?, names(&target.join("keys"))?);
    assert_eq!(names(&data.join("keys"))?.len(), NAMES.len());

    // And it serves: the restored server on the key from the environment.
    let server2 = ServerProc::start_with_env(&target, &[], &[("CASESYNC_MASTER_KEY", key)])?;
    let got = rt.block_on(everything(&server2.url, &users[0], "tablet"))?;
    assert_eq!(got.len(), NAMES.len());
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// PostgreSQL: `pg_dump` of a running server's database, `pg_restore` into a new one,
/// the counter moved forward by the documented statement (docs/DEPLOYMENT.md), a new
/// server on it: acknowledged changes there, devices resume, new work reaches a device
/// whose cursor is beyond the dump.
#[tokio::test]
async fn postgres_pg_dump_and_pg_restore_with_the_counter_jump() -> Result<()> {
    let Some(db) = TestDatabase::from_env()? else {
        eprintln!("SKIPPED: {TEST_DATABASE_ENV} is not set (scripts/pg start)");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let users = users();
    let mut server = ServerProc::start_with_database(&db.url, &dir.path().join("n1"), &users)?;
    let a = Device::login(&server.url, dir.path(), &users[1], "phone-a").await?;
    let ahead = Device::login(&server.url, dir.path(), &users[0], "tablet-ahead").await?;
    for (i, name) in NAMES.iter().enumerate() {
        a.create(&new_case(&format!("pg-{i}"), D, "chw1", name, false), 1_000)?;
    }
    done(&a, &server.url).await?;
    done(&ahead, &server.url).await?;
    let all = ids(&ahead.store)?;
    let acked = changes_of(&a.store, &all)?;

    let dump = dir.path().join("casesync.dump");
    run(Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "-f"])
        .arg(&dump)
        .arg(&db.url))?;
    // After the dump: the tablet's cursor moves beyond it.
    a.edit("pg-1", 2_000, |d, c| d.add_visit(c, &visit("زیارت بعدی")))?;
    done(&a, &server.url).await?;
    done(&ahead, &server.url).await?;
    server.terminate(std::time::Duration::from_secs(20))?;

    let Some(db2) = TestDatabase::from_env()? else {
        bail!("the second database");
    };
    run(Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "-d"])
        .arg(&db2.url)
        .arg(&dump))?;
    let jump = format!("UPDATE log_counter SET seq = seq + {RESTORE_SEQ_GAP} WHERE id = 1");
    run(Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-c", &jump])
        .arg(&db2.url))?;
    let server2 = ServerProc::serve_with_database(&db2.url, &dir.path().join("n2"))?;
    let served = everything(&server2.url, &users[0], "tablet-check").await?;
    assert_eq!(served.len(), NAMES.len());
    for (id, h) in &acked {
        let mut doc = served.get(id).context("restored")?.clone();
        assert!(
            doc.automerge().get_change_by_hash(h).is_some(),
            "{id} lost a change"
        );
    }
    assert_eq!(done(&ahead, &server2.url).await?.docs_received, 0);
    a.create(&new_case("pg-new", D, "chw1", "Trần Văn Nam", false), 3_000)?;
    done(&a, &server2.url).await?;
    assert_eq!(done(&ahead, &server2.url).await?.docs_received, 1);
    assert!(ahead.case("pg-new").is_ok());
    Ok(())
}
