//! The core's sync loop (`casesync_core::sync::driver::Driver`) for the async tests and
//! benches: [`run`] interprets it over an [`AsyncTransport`] with tokio's sleep, as the
//! phone's blocking `driver::run` does over ureq. No test or bench keeps a retry loop of
//! its own; the few that step `SyncSession` by hand do so to inject a fault between two
//! steps (crash, hostile pages, the simulation's scripted network).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use casesync_core::sync::driver::{Driver, Failure, Finished, Next, Policy, Recovery};
use casesync_core::sync::SyncSession;

use crate::dump::post_sync;

/// Fail on the first failed round trip (what most tests want: a failure is a finding).
pub const NO_RETRIES: Policy = Policy {
    max_retries: 0,
    backoff_initial: Duration::ZERO,
    backoff_max: Duration::ZERO,
};

/// The device's side of a round trip, async.
#[allow(
    async_fn_in_trait,
    reason = "used in this crate only, with concrete transports"
)]
pub trait AsyncTransport {
    /// Sends one encoded request; the encoded response, or the error to classify.
    async fn post(&mut self, request: Vec<u8>) -> Result<Vec<u8>>;
    /// What the loop does about `error` (default: a lost answer for a link failure, a
    /// final failure for a status the server answered).
    fn failure(&self, error: &anyhow::Error) -> Failure {
        if error.downcast_ref::<reqwest::Error>().is_some() {
            Failure::Lost
        } else {
            Failure::Final
        }
    }
    /// Called after each saved page (progress, last_page).
    fn page_saved(&mut self, _session: &SyncSession<'_>) {}
}

/// Syncs until up to date or wiped, by the core's rules under `policy`; the error of the
/// round trip that ended it otherwise. (No token refresh: test tokens outlive a test.)
pub async fn run<T: AsyncTransport>(
    session: &mut SyncSession<'_>,
    transport: &mut T,
    policy: Policy,
) -> Result<Finished> {
    let mut driver = Driver::new(policy);
    loop {
        let request = match driver.next(session, false)? {
            Next::Send(r) => r,
            Next::Refresh => bail!("the driver asked for a refresh it was not offered"),
        };
        match transport.post(request).await {
            Ok(response) => {
                let (step, finished) = driver.answered(session, &response)?;
                if step != casesync_core::sync::Step::Wiped {
                    transport.page_saved(session);
                }
                if let Some(f) = finished {
                    return Ok(f);
                }
            }
            Err(e) => {
                let failure = transport.failure(&e);
                // (A statement of its own: the thread's rng must not live across the await.)
                let recovery = driver.failed(session, failure, &mut rand::thread_rng());
                match recovery {
                    Ok(Recovery::Wait(d)) => tokio::time::sleep(d).await,
                    Ok(Recovery::Refresh) => bail!("token expired in a test: {e}"),
                    Err(_) => return Err(e),
                }
            }
        }
    }
}

/// `POST {url}/v1/sync` with `token`; a status other than 200 is an error (final).
#[derive(Debug)]
pub struct Http<'a> {
    /// The client.
    pub http: &'a reqwest::Client,
    /// The server's base URL.
    pub url: &'a str,
    /// The access token.
    pub token: &'a str,
}

impl AsyncTransport for Http<'_> {
    async fn post(&mut self, request: Vec<u8>) -> Result<Vec<u8>> {
        let (status, body) = post_sync(self.http, self.url, self.token, request).await?;
        if status != 200 {
            return Err(anyhow!(
                "sync refused: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}
