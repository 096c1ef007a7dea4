//! The on-disk layout of a device store directory, and opening it with a key.
//!
//! ```text
//! <dir>/keycheck   the sealed key-check value (a copy of the record in the database)
//! <dir>/sled/      the sled database
//! ```
//!
//! sled rewrites files whenever it opens a database, so the key is checked against
//! `keycheck` first: a wrong key is refused before sled is opened and nothing in the
//! directory changes.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::batch::KEY_CHECK;
use super::crypto::Sealer;
use super::{SledBackend, StoreError, KEY_CHECK_PLAIN};

/// Name of the key-check file in a store directory.
const KEY_CHECK_FILE: &str = "keycheck";
/// Name of the sled database directory in a store directory.
const SLED_DIR: &str = "sled";

fn io_err(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{what}: {}", e.kind()))
}

/// Whether the key-check file in `dir` opens with `sealer`; `None` when there is none.
pub(crate) fn check_key_file(dir: &Path, sealer: &Sealer) -> Result<Option<bool>, StoreError> {
    match fs::read(dir.join(KEY_CHECK_FILE)) {
        Ok(bytes) => Ok(Some(
            sealer.open(KEY_CHECK, &bytes).as_deref() == Some(KEY_CHECK_PLAIN),
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading the key check", e)),
    }
}

/// Opens the sled database of store directory `dir`, creating the directory if needed.
pub(crate) fn open_sled(dir: &Path) -> Result<SledBackend, StoreError> {
    fs::create_dir_all(dir).map_err(|e| io_err("creating the store directory", e))?;
    SledBackend::open(&dir.join(SLED_DIR))
}

/// Writes the key-check file of `dir` atomically (temporary file, fsync, rename).
pub(crate) fn write_key_file(dir: &Path, sealed: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{KEY_CHECK_FILE}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(|e| io_err("writing the key check", e))?;
    f.write_all(sealed)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("writing the key check", e))?;
    fs::rename(&tmp, dir.join(KEY_CHECK_FILE)).map_err(|e| io_err("writing the key check", e))?;
    // Make the rename durable where the platform allows syncing a directory.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
