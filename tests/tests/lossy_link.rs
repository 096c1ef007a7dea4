//! A 2G link that drops before a whole page can cross still finishes the initial sync
//! (issue #17 item 4): each lost answer halves the page the phone asks for, so pages get
//! small enough to arrive between drops; nothing is lost or applied twice.
//!
//! A real server on loopback behind the bench's shaping proxy (`casesync_tests::link`),
//! which here cuts every connection one second after it opened.

use std::time::Duration;

use anyhow::{bail, Result};
use casesync_core::case::Role;
use casesync_core::sync::{Step, SyncSession, DEFAULT_PAGE_BYTES, MIN_PAGE_BYTES};
use casesync_tests::caseload::{to_case, CaseloadSource};
use casesync_tests::dump::{addr_of, post_sync};
use casesync_tests::harness::{
    http_client, import_cases, login, Device, ServerProc, UserSpec, IMPORT_BATCH,
};
use casesync_tests::link::{Link, LinkSpec};

/// Cases imported: well over two default pages (~280 bytes on the wire each).
const CASES: usize = 600;
/// Most requests the phone makes before the test gives up.
const MAX_ATTEMPTS: usize = 60;

/// 100 kB/s down: a default page (256 KiB) needs ~2.6 s, more than a connection lives.
const LINK: LinkSpec = LinkSpec {
    delay: Duration::from_millis(20),
    down_kbit: 800,
    up_kbit: 400,
    drop_after: Some(Duration::from_secs(1)),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_sync_over_a_link_that_keeps_dropping_finishes_with_smaller_pages() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let coord = UserSpec::new("coord-lossy", Role::Coordinator, "lossy");
    let cases: Vec<_> = CaseloadSource::Generated { seed: 17 }
        .load(CASES)?
        .iter()
        .map(|b| to_case(b, "lossy"))
        .collect();
    let mut users = vec![coord.clone()];
    let chws: std::collections::BTreeSet<&str> =
        cases.iter().map(|c| c.assigned_to.as_str()).collect();
    users.extend(chws.iter().map(|c| UserSpec::new(c, Role::Chw, "lossy")));
    let server = ServerProc::start(&dir.path().join("server"), &users)?;
    let http = http_client();
    let importer = login(
        &http,
        &server.url,
        &coord.username,
        &coord.password,
        "importer",
    )
    .await?;
    import_cases(
        &http,
        &server.url,
        &importer.access_token,
        &cases,
        IMPORT_BATCH,
    )
    .await?;

    let link = Link::start(addr_of(&server.url), LINK).await?;
    let phone = Device::login(&server.url, dir.path(), &coord, "phone-lossy").await?;
    let mut session = SyncSession::new(&phone.store, &phone.device_id, DEFAULT_PAGE_BYTES)?;
    let mut lost = 0;
    let mut smallest = DEFAULT_PAGE_BYTES;
    for _ in 0..MAX_ATTEMPTS {
        smallest = smallest.min(session.page_bytes());
        let req = session.next_request()?;
        // A new client each time: the proxy cut the connection the last one had.
        match post_sync(&http_client(), &link.url, &phone.token, req).await {
            Ok((200, body)) => match session.handle_response(&body)? {
                Step::Continue => continue,
                Step::Done => {
                    let held = phone.store.case_ids()?;
                    assert_eq!(held.len(), CASES, "every case, once");
                    assert!(lost > 0, "the link dropped at least one page");
                    assert!(smallest < DEFAULT_PAGE_BYTES);
                    assert!(smallest >= MIN_PAGE_BYTES);
                    return Ok(());
                }
                Step::Wiped => bail!("wiped"),
            },
            Ok((status, body)) => bail!("{status} {}", String::from_utf8_lossy(&body)),
            Err(_) => {
                lost += 1;
                session.abandon_request();
            }
        }
    }
    bail!(
        "not finished after {MAX_ATTEMPTS} requests ({lost} lost answers, {} of {CASES} cases held)",
        phone.store.case_ids()?.len()
    )
}
