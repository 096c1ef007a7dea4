//! Where fresh random ids come from: entry ids (goals, visits, referrals, household
//! members) and the random half of actor ids.
//!
//! [`IdSource::os`] (the default) draws from the operating system's randomness, as the
//! phone and the server always do. [`IdSource::seeded`] draws from a generator seeded by
//! the caller, so a deterministic simulation replays exactly: the same seed gives the
//! same ids, hence the same actor order, the same winner of concurrent writes and the
//! same map keys. A seeded source is for tests only: its ids are predictable.

use std::sync::{Arc, Mutex, PoisonError};

use automerge::ActorId;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// A source of random ids; clones share one generator.
#[derive(Clone, Default)]
pub struct IdSource {
    seeded: Option<Arc<Mutex<StdRng>>>,
}

impl std::fmt::Debug for IdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.seeded.is_some() {
            "IdSource(seeded)"
        } else {
            "IdSource(os)"
        })
    }
}

impl IdSource {
    /// The operating system's randomness (the default).
    pub fn os() -> Self {
        Self::default()
    }

    /// A generator seeded with `seed`: the same sequence of ids on every run (tests).
    pub fn seeded(seed: u64) -> Self {
        IdSource {
            seeded: Some(Arc::new(Mutex::new(StdRng::seed_from_u64(seed)))),
        }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&self, buf: &mut [u8]) {
        match &self.seeded {
            None => rand::thread_rng().fill_bytes(buf),
            Some(rng) => rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .fill_bytes(buf),
        }
    }

    /// A fresh id for a goal, visit, referral or household member (16 hex digits).
    pub fn entry_id(&self) -> String {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        hex::encode(b)
    }

    /// A new actor id for a replica on `device_id` (see
    /// [`device_actor`](super::device_actor)).
    pub fn device_actor(&self, device_id: &str) -> ActorId {
        super::actor::device_actor_with(device_id, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::actor_belongs_to;

    #[test]
    fn seeded_sources_repeat_and_the_os_does_not() {
        let (a, b) = (IdSource::seeded(7), IdSource::seeded(7));
        assert_eq!(a.entry_id(), b.entry_id());
        assert_eq!(a.device_actor("p"), b.device_actor("p"));
        assert_ne!(a.entry_id(), IdSource::seeded(8).entry_id());
        let os = IdSource::os();
        assert_ne!(os.entry_id(), os.entry_id());
        assert!(actor_belongs_to(&a.device_actor("phone-1"), "phone-1"));
        assert_eq!(a.entry_id().len(), 16);
    }
}
