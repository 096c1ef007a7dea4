//! The one sync loop: drives a [`SyncSession`] over a [`Transport`] until the device is
//! up to date, with the field's rules for a bad link. The phone (casesync-ffi) runs it;
//! the transport and the caller's [`Control`] (cancel, wait, progress) are all it brings.
//!
//! - An answer that never came ([`Failure::Lost`]: timeout, reset) may have been applied
//!   by the server: the request is abandoned (sent again from the last saved page, the
//!   page asked for halved) and retried.
//! - An answer saying "not now" ([`Failure::Unavailable`]: 502, 503) was not applied: the
//!   request is forgotten and retried.
//! - Retries wait an exponential back-off with jitter ([`Policy::backoff`]), at most
//!   [`Policy::max_retries`] in a row; a page that arrives resets the count.
//! - An expiring or expired access token is refreshed once per page, then the round trip
//!   repeated; a second expiry in a row is an error.
//! - Cancellation is checked before every round trip and during waits; every page
//!   already saved stays.

use std::time::Duration;

use rand::Rng;

use super::{Step, SyncError, SyncSession};

/// How a failed round trip failed, as far as the loop is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer: the request may have been applied. Retried after an abandon.
    Lost,
    /// The server answered that it cannot serve now: nothing applied. Retried.
    Unavailable,
    /// The access token was refused as expired: refreshed once, then repeated.
    TokenExpired,
    /// Anything else (a refusal, a revoked device, bad TLS): returned as it is.
    Final,
}

/// The device's side of a round trip.
pub trait Transport {
    /// What a round trip or a refresh fails with.
    type Error;
    /// Sends one encoded sync request; the encoded response on a 200.
    fn post(&mut self, request: &[u8]) -> Result<Vec<u8>, Self::Error>;
    /// What the loop does about `error`.
    fn failure(&self, error: &Self::Error) -> Failure;
    /// Whether the access token expires too soon to send (refreshed first).
    fn token_expiring(&self) -> bool {
        false
    }
    /// Gets a new access token for the next round trips.
    fn refresh(&mut self) -> Result<(), Self::Error>;
}

/// The caller's side: cancellation, waiting, progress.
pub trait Control {
    /// Whether the caller asked the sync to stop.
    fn cancelled(&self) -> bool;
    /// Waits `d` before a retry; `false` when cancelled meanwhile.
    fn wait(&mut self, d: Duration) -> bool;
    /// A page was saved (`session.last_page()`, `session.progress()`); `retries` so far.
    fn page_saved(&mut self, _session: &SyncSession<'_>, _retries: u32) {}
    /// Retry `attempt` (1-based) comes after waiting `wait`.
    fn retrying(&mut self, _attempt: u32, _wait: Duration) {}
}

/// Retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries in a row before the failure is returned.
    pub max_retries: u32,
    /// The first wait.
    pub backoff_initial: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
}

impl Policy {
    /// The longest wait before retry `attempt` (1-based): `backoff_initial` doubled each
    /// time, at most `backoff_max`.
    pub fn backoff_cap(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }

    /// The wait before retry `attempt`: between half of [`Self::backoff_cap`] and all of
    /// it, at random, so phones that lost the same mast do not retry in step.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.backoff_cap(attempt);
        cap / 2 + cap.mul_f64(rng.gen_range(0.0..=0.5))
    }
}

/// Why [`run`] stopped early.
#[derive(Debug)]
pub enum RunError<E> {
    /// [`Control::cancelled`]: every page saved so far stays.
    Cancelled,
    /// The session refused a response or the store failed.
    Sync(SyncError),
    /// The transport's failure, final or after the retries.
    Transport(E),
}

impl<E> From<SyncError> for RunError<E> {
    fn from(e: SyncError) -> Self {
        RunError::Sync(e)
    }
}

/// How a finished sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// [`Step::Done`] (up to date) or [`Step::Wiped`] (the server revoked the device: the
    /// store was wiped, see `session.progress().wiped`).
    pub step: Step,
    /// Round trips retried.
    pub retries: u32,
}

/// What the caller of a [`Driver`] does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this encoded request; report with [`Driver::answered`] or [`Driver::failed`].
    Send(Vec<u8>),
    /// Get a new access token first, then call [`Driver::next`] again.
    Refresh,
}

/// What to do about a failed round trip ([`Driver::failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Get a new access token, then [`Driver::next`].
    Refresh,
    /// Wait this long, then [`Driver::next`].
    Wait(Duration),
}

/// The loop's rules as a state machine, for callers that cannot use the blocking [`run`]
/// (async tests and benches interpret it the same way: `next`, send, `answered` or
/// `failed`, until a `Finished`).
#[derive(Debug, Clone)]
pub struct Driver {
    policy: Policy,
    retries: u32,
    attempt: u32,
    refreshed: bool,
}

impl Driver {
    /// A driver for one sync.
    pub fn new(policy: Policy) -> Self {
        Driver {
            policy,
            retries: 0,
            attempt: 0,
            refreshed: false,
        }
    }

    /// Round trips retried so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The next thing to do: refresh an expiring token (once per page), else send the
    /// session's next request.
    pub fn next(
        &mut self,
        session: &mut SyncSession<'_>,
        token_expiring: bool,
    ) -> Result<Next, SyncError> {
        if !self.refreshed && token_expiring {
            self.refreshed = true;
            return Ok(Next::Refresh);
        }
        Ok(Next::Send(session.next_request()?))
    }

    /// The response arrived: applies it. `Some` when the sync is over.
    pub fn answered(
        &mut self,
        session: &mut SyncSession<'_>,
        response: &[u8],
    ) -> Result<(Step, Option<Finished>), SyncError> {
        let step = session.handle_response(response)?;
        self.attempt = 0;
        self.refreshed = false;
        let finished = (step != Step::Continue).then_some(Finished {
            step,
            retries: self.retries,
        });
        Ok((step, finished))
    }

    /// The round trip failed with `failure`: what to do, or `Err` to give up (the caller
    /// returns its own error).
    pub fn failed(
        &mut self,
        session: &mut SyncSession<'_>,
        failure: Failure,
        rng: &mut impl Rng,
    ) -> Result<Recovery, Failure> {
        if failure == Failure::Lost {
            session.abandon_request();
        } else {
            session.forget_request();
        }
        match failure {
            Failure::TokenExpired if !self.refreshed => {
                self.refreshed = true;
                Ok(Recovery::Refresh)
            }
            Failure::Lost | Failure::Unavailable if self.attempt < self.policy.max_retries => {
                self.attempt += 1;
                self.retries += 1;
                Ok(Recovery::Wait(self.policy.backoff(self.attempt, rng)))
            }
            f => Err(f),
        }
    }

    /// The retry number the last [`Recovery::Wait`] was for (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

/// Syncs until up to date (or wiped): see the module's rules. Blocking: the transport's
/// calls and [`Control::wait`] block.
pub fn run<T: Transport, C: Control>(
    session: &mut SyncSession<'_>,
    transport: &mut T,
    policy: &Policy,
    control: &mut C,
) -> Result<Finished, RunError<T::Error>> {
    let mut rng = rand::thread_rng();
    let mut driver = Driver::new(*policy);
    loop {
        if control.cancelled() {
            return Err(RunError::Cancelled);
        }
        let request = match driver.next(session, transport.token_expiring())? {
            Next::Refresh => {
                transport.refresh().map_err(RunError::Transport)?;
                continue;
            }
            Next::Send(request) => request,
        };
        match transport.post(&request) {
            Ok(response) => {
                let (step, finished) = driver.answered(session, &response)?;
                if step != Step::Wiped {
                    control.page_saved(session, driver.retries());
                }
                if let Some(f) = finished {
                    return Ok(f);
                }
            }
            Err(e) => match driver.failed(session, transport.failure(&e), &mut rng) {
                Ok(Recovery::Refresh) => transport.refresh().map_err(RunError::Transport)?,
                Ok(Recovery::Wait(wait)) => {
                    control.retrying(driver.attempt(), wait);
                    if !control.wait(wait) {
                        return Err(RunError::Cancelled);
                    }
                }
                Err(_) => return Err(RunError::Transport(e)),
            },
        }
    }
}

#[cfg(test)]
mod tests;
