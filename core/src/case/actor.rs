//! Binding Automerge actors to devices.
//!
//! Every replica signs its changes with an actor id. casesync makes the first
//! [`DEVICE_PREFIX_LEN`] bytes a hash of the device id and the rest random (a fresh value
//! per store, so a wiped and re-registered phone never reuses sequence numbers). The
//! server checks the prefix of every pushed change against the authenticated device.

use automerge::ActorId;
use sha2::{Digest, Sha256};

use super::IdSource;

/// Bytes of the actor id derived from the device id.
pub const DEVICE_PREFIX_LEN: usize = 8;
/// Total actor id length.
pub const ACTOR_LEN: usize = 16;

fn prefix(device_id: &str) -> [u8; DEVICE_PREFIX_LEN] {
    let digest = Sha256::digest(device_id.as_bytes());
    let mut p = [0u8; DEVICE_PREFIX_LEN];
    p.copy_from_slice(&digest[..DEVICE_PREFIX_LEN]);
    p
}

/// A new actor id for a replica on `device_id` (random half from the OS).
pub fn device_actor(device_id: &str) -> ActorId {
    device_actor_with(device_id, &IdSource::os())
}

/// [`device_actor`] with the random half from `ids`.
pub(crate) fn device_actor_with(device_id: &str, ids: &IdSource) -> ActorId {
    let mut bytes = [0u8; ACTOR_LEN];
    bytes[..DEVICE_PREFIX_LEN].copy_from_slice(&prefix(device_id));
    ids.fill(&mut bytes[DEVICE_PREFIX_LEN..]);
    ActorId::from(&bytes[..])
}

/// Whether `actor` was made by [`device_actor`] for `device_id`.
pub fn actor_belongs_to(actor: &ActorId, device_id: &str) -> bool {
    let b = actor.to_bytes();
    b.len() == ACTOR_LEN && b[..DEVICE_PREFIX_LEN] == prefix(device_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_bound_to_their_device() {
        let a = device_actor("phone-1");
        let b = device_actor("phone-1");
        assert_ne!(a, b, "a fresh random part per replica");
        assert!(actor_belongs_to(&a, "phone-1"));
        assert!(!actor_belongs_to(&a, "phone-2"));
        assert!(!actor_belongs_to(&ActorId::random(), "phone-1"));
    }
}
