//! Decoding untrusted Automerge change bytes.

use automerge::{AutoCommit, Change};

use super::error::CaseError;
use super::scan::scan_change;

/// Decodes one raw change from untrusted bytes and checks its checksum.
///
/// The bytes are first counted by [`scan_change`] (no compressed chunk, at most
/// `MAX_OPS_PER_CHANGE` operations, every length within the bytes): Automerge would
/// otherwise inflate or expand them without bound. [`decode_change_counted`] also hands
/// back the operation count, for callers that budget a whole request.
///
/// `Change::from_bytes` does not verify the chunk's checksum (bytes 4..8, the first four
/// bytes of the SHA-256 the change hash is made of). A change whose checksum is wrong
/// would be stored and then make the whole document fail to load, so it is refused here.
pub fn decode_change(bytes: Vec<u8>) -> Result<Change, CaseError> {
    decode_change_counted(bytes).map(|(change, _)| change)
}

/// [`decode_change`], with the change's operation count.
pub fn decode_change_counted(bytes: Vec<u8>) -> Result<(Change, u64), CaseError> {
    let ops = scan_change(&bytes)?.ops;
    let stored: Option<[u8; 4]> = bytes.get(4..8).and_then(|s| s.try_into().ok());
    let change =
        Change::from_bytes(bytes).map_err(|e| CaseError::Corrupt(format!("change: {e}")))?;
    match stored {
        Some(sum) if sum[..] == change.hash().0[..4] => {}
        _ => return Err(CaseError::Corrupt("change checksum does not match".into())),
    }
    // Only the canonical encoding is accepted: a change whose bytes do not survive a
    // decode/re-encode loads on its own but breaks the document once it is re-saved
    // ("mismatching heads"), which would brick the case on the server and the phones.
    let canonical = Change::from(change.decode());
    if canonical.raw_bytes() != change.raw_bytes() {
        return Err(CaseError::Corrupt(
            "change is not canonically encoded".into(),
        ));
    }
    Ok((change, ops))
}

/// Applies untrusted changes to `doc`. Automerge can panic on some hostile changes
/// (seen by fuzzing: "Missing from Index"); the panic is caught and reported as
/// [`CaseError::Corrupt`]. After an error `doc` must be discarded (reload it).
pub fn apply_untrusted(doc: &mut AutoCommit, changes: Vec<Change>) -> Result<(), CaseError> {
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(changes)));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CaseError::Automerge(e)),
        Err(_) => Err(CaseError::Corrupt("changes could not be applied".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{device_actor, CaseDoc, EditCtx, NewCase, Role};

    #[test]
    fn a_flipped_checksum_is_refused() {
        let ctx = EditCtx::new("u", Role::Chw, 1);
        let mut doc = CaseDoc::create(
            &ctx,
            device_actor("d"),
            &NewCase {
                id: "c1".into(),
                district: "d".into(),
                village: String::new(),
                assigned_to: "u".into(),
                sensitive: false,
                client_name: "Nguyễn Thị Hoa".into(),
            },
        )
        .expect("create");
        doc.add_household_member(&ctx, "زهرا احمدی", "mother")
            .expect("member");
        for c in doc.changes_since(&[]) {
            assert!(
                decode_change(c.raw_bytes().to_vec()).is_ok(),
                "genuine changes pass"
            );
        }
        let raw = doc.changes_since(&[])[0].raw_bytes().to_vec();
        assert!(decode_change(raw.clone()).is_ok());
        for i in 4..8 {
            let mut bad = raw.clone();
            bad[i] ^= 0xff;
            assert!(decode_change(bad).is_err(), "byte {i}");
        }
        assert!(decode_change(vec![1, 2, 3]).is_err());
    }
}
