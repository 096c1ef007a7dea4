//! A 2G link that drops before a whole page can cross still finishes the initial sync
//! (issue #17 item 4): each lost answer halves the page the phone asks for, so pages get
//! small enough to arrive between drops; nothing is lost or applied twice.
//!
//! A real server on loopback behind the bench's shaping proxy (`casesync_tests::link`),
//! which here cuts every connection one second after it opened.

use std::time::Duration;

use anyhow::{bail, Result};
use casesync_core::case::Role;
use casesync_core::protocol::decode_request;
use casesync_core::sync::driver::Policy;
use casesync_core::sync::{Step, SyncSession, DEFAULT_PAGE_BYTES, MIN_PAGE_BYTES};
use casesync_tests::caseload::{to_case, CaseloadSource};
use casesync_tests::drive::AsyncTransport;
use casesync_tests::dump::{addr_of, post_sync};
use casesync_tests::harness::{
    http_client, import_cases, login, Device, ServerProc, UserSpec, IMPORT_BATCH,
};
use casesync_tests::link::{Link, LinkSpec};

/// Cases imported: well over two default pages (~280 bytes on the wire each).
const CASES: usize = 600;
/// Most lost answers in a row before the test gives up.
const MAX_ATTEMPTS: u32 = 60;

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
    let mut transport = Lossy {
        url: &link.url,
        token: &phone.token,
        page_sizes: Vec::new(),
    };
    // The core's loop: a dropped answer is a lost answer, resent at once with half the page.
    let policy = Policy {
        max_retries: MAX_ATTEMPTS,
        backoff_initial: Duration::ZERO,
        backoff_max: Duration::ZERO,
    };
    let finished = casesync_tests::drive::run(&mut session, &mut transport, policy).await;
    let held = phone.store.case_ids()?;
    let finished = finished.map_err(|e| {
        anyhow::anyhow!(
            "not finished ({e}; {} requests, {} of {CASES} cases held)",
            transport.page_sizes.len(),
            held.len()
        )
    })?;
    assert_eq!(finished.step, Step::Done);
    assert_eq!(held.len(), CASES, "every case, once");
    assert!(finished.retries > 0, "the link dropped at least one page");
    let smallest = transport
        .page_sizes
        .iter()
        .copied()
        .min()
        .unwrap_or(DEFAULT_PAGE_BYTES);
    assert!(smallest < DEFAULT_PAGE_BYTES);
    assert!(smallest >= MIN_PAGE_BYTES);
    Ok(())
}

/// Through the dropping link, a new client for each request (the proxy cut the connection
/// the last one had); records the page size each request asked for.
struct Lossy<'a> {
    url: &'a str,
    token: &'a str,
    page_sizes: Vec<u32>,
}

impl AsyncTransport for Lossy<'_> {
    async fn post(&mut self, request: Vec<u8>) -> Result<Vec<u8>> {
        self.page_sizes
            .push(decode_request(&request)?.max_page_bytes);
        match post_sync(&http_client(), self.url, self.token, request).await? {
            (200, body) => Ok(body),
            (status, body) => bail!("{status} {}", String::from_utf8_lossy(&body)),
        }
    }
}
