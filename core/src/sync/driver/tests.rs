//! The loop against a scripted transport over a real (in-memory) store.

use std::collections::VecDeque;

use super::*;
use crate::protocol::{self, SyncResponse, PROTOCOL_VERSION};
use crate::store::DeviceStore;
use crate::sync::DEFAULT_PAGE_BYTES;

const KEY: [u8; 32] = [9; 32];
const DEVICE: &str = "dev-driver";

fn page(more: bool) -> Vec<u8> {
    protocol::encode_response(&SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![1],
        docs: Vec::new(),
        removed: Vec::new(),
        acked: Vec::new(),
        refused: Vec::new(),
        more,
        remaining_estimate: 0,
        wipe: false,
    })
}

/// Answers from a script; records what it was asked.
#[derive(Default)]
struct Script {
    answers: VecDeque<Result<Vec<u8>, Failure>>,
    posts: usize,
    page_sizes: Vec<u32>,
    refreshes: usize,
    expiring: bool,
}

impl Script {
    fn new(answers: Vec<Result<Vec<u8>, Failure>>) -> Self {
        Script {
            answers: answers.into(),
            ..Default::default()
        }
    }
}

impl Transport for Script {
    type Error = Failure;
    fn post(&mut self, request: &[u8]) -> Result<Vec<u8>, Failure> {
        self.posts += 1;
        let req = protocol::decode_request(request).expect("a request");
        self.page_sizes.push(req.max_page_bytes);
        self.answers.pop_front().unwrap_or(Err(Failure::Final))
    }
    fn failure(&self, e: &Failure) -> Failure {
        *e
    }
    fn token_expiring(&self) -> bool {
        self.expiring
    }
    fn refresh(&mut self) -> Result<(), Failure> {
        self.refreshes += 1;
        self.expiring = false;
        Ok(())
    }
}

/// Never cancelled unless told; waits are recorded, not slept.
#[derive(Default)]
struct Caller {
    cancel_at_wait: Option<usize>,
    waits: Vec<Duration>,
    pages: usize,
    cancelled: bool,
}

impl Control for Caller {
    fn cancelled(&self) -> bool {
        self.cancelled
    }
    fn wait(&mut self, d: Duration) -> bool {
        self.waits.push(d);
        if self.cancel_at_wait == Some(self.waits.len()) {
            self.cancelled = true;
            return false;
        }
        true
    }
    fn page_saved(&mut self, _session: &SyncSession<'_>, _retries: u32) {
        self.pages += 1;
    }
}

const POLICY: Policy = Policy {
    max_retries: 3,
    backoff_initial: Duration::from_millis(100),
    backoff_max: Duration::from_millis(1_000),
};

fn drive(script: &mut Script, caller: &mut Caller) -> (Result<Finished, RunError<Failure>>, u32) {
    let store = DeviceStore::in_memory(&KEY);
    let mut session = SyncSession::new(&store, DEVICE, DEFAULT_PAGE_BYTES).expect("session");
    let r = run(&mut session, script, &POLICY, caller);
    (r, session.progress().pages)
}

#[test]
fn a_lost_answer_is_sent_again_asking_for_half_the_page() {
    let mut script = Script::new(vec![Ok(page(true)), Err(Failure::Lost), Ok(page(false))]);
    let mut caller = Caller::default();
    let (r, pages) = drive(&mut script, &mut caller);
    assert_eq!(
        r.expect("finished"),
        Finished {
            step: Step::Done,
            retries: 1
        }
    );
    assert_eq!((pages, caller.pages, script.posts), (2, 2, 3));
    assert_eq!(
        script.page_sizes,
        vec![
            DEFAULT_PAGE_BYTES,
            DEFAULT_PAGE_BYTES,
            DEFAULT_PAGE_BYTES / 2
        ]
    );
    assert_eq!(caller.waits.len(), 1);
}

#[test]
fn an_unavailable_server_is_retried_then_the_failure_returned() {
    let mut script = Script::new(vec![Err(Failure::Unavailable); 10]);
    let mut caller = Caller::default();
    let (r, pages) = drive(&mut script, &mut caller);
    assert!(matches!(r, Err(RunError::Transport(Failure::Unavailable))));
    assert_eq!(pages, 0);
    // The first try and max_retries more; nothing was applied, so no page halving.
    assert_eq!(script.posts, 1 + POLICY.max_retries as usize);
    assert!(script.page_sizes.iter().all(|&p| p == DEFAULT_PAGE_BYTES));
    // Each wait within [cap/2, cap], the cap doubling: 100, 200, 400 ms.
    for (i, w) in caller.waits.iter().enumerate() {
        let cap = Duration::from_millis(100 << i);
        assert!(
            *w >= cap / 2 && *w <= cap,
            "wait {i}: {w:?} against {cap:?}"
        );
    }
}

#[test]
fn a_page_that_arrives_resets_the_retry_count() {
    use Failure::Unavailable as U;
    let mut script = Script::new(vec![
        Err(U),
        Err(U),
        Err(U),
        Ok(page(true)),
        Err(U),
        Err(U),
        Err(U),
        Ok(page(false)),
    ]);
    let mut caller = Caller::default();
    let (r, pages) = drive(&mut script, &mut caller);
    assert_eq!(r.expect("finished").retries, 6);
    assert_eq!(pages, 2);
}

#[test]
fn an_expired_token_is_refreshed_once_then_the_second_expiry_returned() {
    let mut script = Script::new(vec![Err(Failure::TokenExpired), Ok(page(false))]);
    let mut caller = Caller::default();
    let (r, _) = drive(&mut script, &mut caller);
    assert_eq!(r.expect("finished").retries, 0);
    assert_eq!((script.refreshes, script.posts), (1, 2));

    let mut script = Script::new(vec![Err(Failure::TokenExpired), Err(Failure::TokenExpired)]);
    let (r, _) = drive(&mut script, &mut Caller::default());
    assert!(matches!(r, Err(RunError::Transport(Failure::TokenExpired))));
    assert_eq!(script.refreshes, 1);

    // Expiring before the round trip: refreshed first, nothing refused.
    let mut script = Script::new(vec![Ok(page(false))]);
    script.expiring = true;
    let (r, _) = drive(&mut script, &mut Caller::default());
    assert!(r.is_ok());
    assert_eq!((script.refreshes, script.posts), (1, 1));
}

#[test]
fn cancelling_stops_before_the_next_round_trip_or_during_a_wait() {
    let mut script = Script::new(vec![Ok(page(false))]);
    let mut caller = Caller {
        cancelled: true,
        ..Default::default()
    };
    let (r, _) = drive(&mut script, &mut caller);
    assert!(matches!(r, Err(RunError::Cancelled)));
    assert_eq!(script.posts, 0, "nothing sent once cancelled");

    let mut script = Script::new(vec![Ok(page(true)), Err(Failure::Lost), Ok(page(false))]);
    let mut caller = Caller {
        cancel_at_wait: Some(1),
        ..Default::default()
    };
    let (r, pages) = drive(&mut script, &mut caller);
    assert!(matches!(r, Err(RunError::Cancelled)));
    assert_eq!((pages, script.posts), (1, 2), "the saved page stays");
}

#[test]
fn a_final_failure_is_returned_at_once() {
    let mut script = Script::new(vec![Err(Failure::Final), Ok(page(false))]);
    let mut caller = Caller::default();
    let (r, _) = drive(&mut script, &mut caller);
    assert!(matches!(r, Err(RunError::Transport(Failure::Final))));
    assert_eq!((script.posts, caller.waits.len()), (1, 0));
}

#[test]
fn the_backoff_cap_doubles_up_to_the_maximum() {
    assert_eq!(POLICY.backoff_cap(1), Duration::from_millis(100));
    assert_eq!(POLICY.backoff_cap(3), Duration::from_millis(400));
    assert_eq!(POLICY.backoff_cap(40), Duration::from_millis(1_000));
}
