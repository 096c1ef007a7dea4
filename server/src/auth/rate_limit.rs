//! Login throttling that cannot be turned against other users.
//!
//! Three failure counters, each a fixed window that starts at its first failure:
//!
//! * per **(account, client address)**: past `per_pair` failures in `pair_window` that
//!   pair alone is refused (429 with `Retry-After`) until its window ends;
//! * per **account** (from any client): past `per_account` failures in `window` every
//!   further attempt on it waits a delay before its password is checked, doubling from
//!   [`LOGIN_DELAY_STEP`] up to `max_delay` — slowed, never refused, so a flood from
//!   elsewhere never keeps the right password out;
//! * per **client address** (any usernames): the same delay past `per_client`.
//!
//! A username that is not a valid one ([`crate::auth::valid_username`]: at most 64
//! bytes) is never a key: it counts under its client's counter only. Keys are stored as
//! 16 bytes of their SHA-256 (no username is kept in memory), and the table holds at
//! most [`LOGIN_LIMITER_MAX_ENTRIES`] counters: expired ones are swept every
//! [`LOGIN_LIMITER_SWEEP_INTERVAL`] and when it is full; if it is still full, the eighth
//! that would expire soonest is dropped.
//!
//! An attempt is counted as a failure when it starts (so parallel guesses are all
//! counted) and forgiven when its password proves right.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The first delay of a throttled account or client; each further failure doubles it.
pub const LOGIN_DELAY_STEP: Duration = Duration::from_millis(100);
/// Most failure counters kept (each about 60 bytes: at most ~6 MiB).
pub const LOGIN_LIMITER_MAX_ENTRIES: usize = 100_000;
/// Expired failure counters are swept at least this often.
pub const LOGIN_LIMITER_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The limits of a [`LoginThrottle`] (from [`crate::config::Settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures per account per `window` before its attempts are delayed.
    pub per_account: u32,
    /// Failures per client per `window` before its attempts are delayed.
    pub per_client: u32,
    /// Window of the account and client counters.
    pub window: Duration,
    /// Failures per (account, client) per `pair_window`, then the pair is refused.
    pub per_pair: u32,
    /// Window of the pair counter.
    pub pair_window: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

type Key = [u8; 16];

#[derive(Debug, Clone, Copy)]
struct Entry {
    until: Instant,
    count: u32,
}

#[derive(Debug)]
struct Table {
    entries: HashMap<Key, Entry>,
    last_sweep: Instant,
}

/// The login failure counters (see the module documentation).
#[derive(Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    cap: usize,
    table: Mutex<Table>,
}

/// A login attempt let through: wait `delay`, check the password, and report a right one
/// with [`LoginThrottle::succeeded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// How long to wait before checking the password.
    pub delay: Duration,
    account: Option<Key>,
    pair: Option<Key>,
    client: Key,
}

fn key(kind: u8, parts: &[&str]) -> Key {
    let mut h = Sha256::new();
    h.update(b"casesync-login\0");
    h.update([kind]);
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// The delay after `failures` failures with `free` of them allowed.
fn delay_after(failures: u32, free: u32, max: Duration) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(20);
    LOGIN_DELAY_STEP.saturating_mul(1u32 << doublings).min(max)
}

impl Table {
    fn live(&self, k: &Key, now: Instant) -> u32 {
        self.entries
            .get(k)
            .filter(|e| e.until > now)
            .map_or(0, |e| e.count)
    }

    fn sweep(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.until > now);
        self.last_sweep = now;
    }

    /// Room for one more key: expired ones go, then (still full) the soonest to expire.
    fn make_room(&mut self, cap: usize, now: Instant) {
        if now.duration_since(self.last_sweep) >= LOGIN_LIMITER_SWEEP_INTERVAL {
            self.sweep(now);
        }
        if self.entries.len() < cap {
            return;
        }
        self.sweep(now);
        if self.entries.len() < cap {
            return;
        }
        let mut all: Vec<(Instant, Key)> =
            self.entries.iter().map(|(k, e)| (e.until, *k)).collect();
        let drop = (cap / 8).max(1).min(all.len());
        all.select_nth_unstable_by_key(drop - 1, |(until, _)| *until);
        for (_, k) in &all[..drop] {
            self.entries.remove(k);
        }
    }

    fn count(&mut self, k: Key, window: Duration, cap: usize, now: Instant) {
        if !self.entries.contains_key(&k) {
            self.make_room(cap, now);
        }
        let e = self.entries.entry(k).or_insert(Entry {
            until: now + window,
            count: 0,
        });
        if e.until <= now {
            *e = Entry {
                until: now + window,
                count: 0,
            };
        }
        e.count = e.count.saturating_add(1);
    }
}

impl LoginThrottle {
    /// Counters with `policy`, at most [`LOGIN_LIMITER_MAX_ENTRIES`] of them.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self::with_capacity(policy, LOGIN_LIMITER_MAX_ENTRIES)
    }

    /// Counters with `policy`, at most `cap` of them.
    pub fn with_capacity(policy: ThrottlePolicy, cap: usize) -> Self {
        LoginThrottle {
            policy,
            cap: cap.max(1),
            table: Mutex::new(Table {
                entries: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves consistent counters: keep counting
        // rather than letting every attempt through.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts an attempt on `account` (a valid, lower-cased username; `None` for a
    /// username that is not one) from `client`, and counts it as a failure. `Err` with
    /// the time until the pair's window ends if this pair is over its limit (nothing
    /// is counted then).
    pub fn begin(&self, account: Option<&str>, client: &str) -> Result<Attempt, Duration> {
        let p = self.policy;
        let now = Instant::now();
        let client_key = key(b'c', &[client]);
        let account_key = account.map(|a| key(b'a', &[a]));
        let pair_key = account.map(|a| key(b'p', &[a, client]));
        let mut t = self.table();
        if let Some(pk) = &pair_key {
            if t.live(pk, now) >= p.per_pair {
                let until = t.entries.get(pk).map_or(now, |e| e.until);
                return Err(until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)));
            }
        }
        let by_account = account_key.as_ref().map_or(Duration::ZERO, |k| {
            delay_after(t.live(k, now), p.per_account, p.max_delay)
        });
        let by_client = delay_after(t.live(&client_key, now), p.per_client, p.max_delay);
        t.count(client_key, p.window, self.cap, now);
        if let Some(k) = account_key {
            t.count(k, p.window, self.cap, now);
        }
        if let Some(k) = pair_key {
            t.count(k, p.pair_window, self.cap, now);
        }
        Ok(Attempt {
            delay: by_account.max(by_client),
            account: account_key,
            pair: pair_key,
            client: client_key,
        })
    }

    /// The attempt's password was right: the account's and the pair's failures are
    /// forgotten, and the client's counter takes this attempt back.
    pub fn succeeded(&self, attempt: &Attempt) {
        let mut t = self.table();
        for k in attempt.account.iter().chain(attempt.pair.iter()) {
            t.entries.remove(k);
        }
        if let Some(e) = t.entries.get_mut(&attempt.client) {
            e.count = e.count.saturating_sub(1);
        }
    }

    /// Counters held now (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.table().entries.len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            per_account: 5,
            per_client: 30,
            window: Duration::from_secs(900),
            per_pair: 3,
            pair_window: Duration::from_secs(60),
            max_delay: Duration::from_secs(2),
        }
    }

    #[test]
    fn only_the_pair_is_refused_and_the_account_is_slowed() {
        let t = LoginThrottle::new(policy());
        for _ in 0..3 {
            let a = t.begin(Some("chw1"), "10.0.0.1").expect("let through");
            assert_eq!(a.delay, Duration::ZERO);
        }
        let wait = t.begin(Some("chw1"), "10.0.0.1").expect_err("pair refused");
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        // The same account from elsewhere: let through, delayed once past 5 failures.
        let delays: Vec<_> = (0..8)
            .map(|i| {
                t.begin(Some("chw1"), &format!("10.1.0.{i}"))
                    .expect("other clients")
                    .delay
                    .as_millis()
            })
            .collect();
        assert_eq!(delays, [0, 0, 100, 200, 400, 800, 1600, 2000]);
        // Another account from the refused client: fine.
        let a = t.begin(Some("chw2"), "10.0.0.1").expect("other account");
        assert_eq!(a.delay, Duration::ZERO);
        // The right password forgives the account.
        let a = t.begin(Some("chw1"), "10.2.0.1").expect("through");
        assert_eq!(a.delay, Duration::from_secs(2));
        t.succeeded(&a);
        let a = t.begin(Some("chw1"), "10.2.0.2").expect("through");
        assert_eq!(a.delay, Duration::ZERO);
    }

    #[test]
    fn junk_usernames_only_slow_their_client() {
        let t = LoginThrottle::new(policy());
        for _ in 0..40 {
            let a = t.begin(None, "10.0.0.1").expect("never refused");
            assert!(a.delay <= Duration::from_secs(2));
        }
        assert_eq!(t.len(), 1, "junk is counted under its client only");
        let a = t
            .begin(Some("coord"), "10.0.0.1")
            .expect("right password not refused");
        assert_eq!(a.delay, Duration::from_secs(2), "the client is slowed");
        let a = t.begin(Some("coord"), "10.0.0.2").expect("elsewhere");
        assert_eq!(a.delay, Duration::ZERO, "other clients are not");
    }

    #[test]
    fn the_table_is_bounded_and_windows_end() {
        let t = LoginThrottle::with_capacity(policy(), 1_000);
        for i in 0..20_000 {
            let _ = t.begin(
                Some(&format!("user{i}")),
                &format!("10.0.{}.{}", i / 256, i % 256),
            );
            assert!(t.len() <= 1_000);
        }
        let short = LoginThrottle::new(ThrottlePolicy {
            pair_window: Duration::from_millis(5),
            per_pair: 1,
            ..policy()
        });
        let _ = short.begin(Some("x"), "c").expect("first");
        assert!(short.begin(Some("x"), "c").is_err());
        std::thread::sleep(Duration::from_millis(10));
        assert!(short.begin(Some("x"), "c").is_ok(), "window ended");
    }
}
