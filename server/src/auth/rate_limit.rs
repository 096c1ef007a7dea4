//! Login failure counting: per key (username or client address), per fixed window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key; a key over its limit is refused until its window ends.
#[derive(Debug)]
pub struct FailureLimiter {
    window: Duration,
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

impl FailureLimiter {
    /// A limiter with this window.
    pub fn new(window: Duration) -> Self {
        FailureLimiter {
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` has reached `limit` failures in the current window.
    pub fn is_limited(&self, key: &str, limit: u32) -> bool {
        let Ok(map) = self.entries.lock() else {
            return false;
        };
        map.get(key)
            .is_some_and(|(start, n)| start.elapsed() < self.window && *n >= limit)
    }

    /// Records a failure for `key`.
    pub fn fail(&self, key: &str) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        if map.len() >= SWEEP_AT {
            let w = self.window;
            map.retain(|_, (start, _)| start.elapsed() < w);
        }
        let e = map.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= self.window {
            *e = (Instant::now(), 0);
        }
        e.1 += 1;
    }

    /// Forgets `key`'s failures (after a successful login).
    pub fn reset(&self, key: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_after_n_failures_and_resets() {
        let l = FailureLimiter::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(!l.is_limited("chw1", 3));
            l.fail("chw1");
        }
        assert!(l.is_limited("chw1", 3));
        assert!(!l.is_limited("chw2", 3));
        l.reset("chw1");
        assert!(!l.is_limited("chw1", 3));
        let short = FailureLimiter::new(Duration::from_millis(1));
        short.fail("x");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!short.is_limited("x", 1));
    }
}
