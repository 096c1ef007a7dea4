//! A consistent copy of a running sled store, and its restore (`casesync-server backup`
//! and `restore`, driven by [`crate::backup`]).
//!
//! Consistency: every multi-key write (commit, compaction, erasure, and the data key a
//! new case gets) is made under the store's record lock (module docs of `sled_store`).
//! The copy is made holding that lock, so no commit is half copied: the sequence
//! number, the log entries, the changes and the document records are those of one
//! moment between two commits, and every data key file the copied records need is
//! copied with them. Single-key writes (a device's token rotation, its last-sync time,
//! a user record) go on meanwhile; each is copied either before or after, whole.
//! Commits wait for the copy (it reads the tree and the key files once, writing them
//! out as it goes).
//!
//! The backup directory: [`DATA_FILE`] (every key and value of the tree, each as a
//! big-endian `u32` length and its bytes, key then value), `keys/` (the data key files,
//! wrapped under the master key: the master key itself is never in a backup), and
//! [`MANIFEST_FILE`] written last, so a backup without it is unfinished. The manifest
//! holds the SHA-256 of the data file, checked before a restore writes anything.
//!
//! Restore writes every entry into a new store with the sequence number moved forward
//! by [`RESTORE_SEQ_GAP`] (docs/DESIGN.md, "Backups and restore").

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{db_err, SledStorage, SEQ_KEY};
use crate::store::seal::{KeyFiles, MasterKey};
use crate::store::StoreError;

/// The data file of a backup directory.
pub const DATA_FILE: &str = "store.bin";
/// The manifest of a backup directory (written last).
pub const MANIFEST_FILE: &str = "casesync-backup.json";
/// The version of the backup layout this server writes and reads.
pub const BACKUP_FORMAT: u32 = 1;
/// How far a restore moves the sequence number forward. Devices that synced with the
/// server after the backup hold cursors beyond the backup's last sequence number; the
/// restored server numbers new changes from beyond any such cursor, so none of them
/// skips a change made after the restore. 2^32 changes is centuries of any programme's
/// traffic; the counter (u64) has room for 2^32 restores.
pub const RESTORE_SEQ_GAP: u64 = 1 << 32;
/// The meta key recording the last restore ([`RestoreMark`]).
pub const RESTORED_META: &[u8] = b"m/restored";
/// Longest key or value a data file may hold (a value is at most a document snapshot,
/// well under this): a longer length is a corrupt file, not an allocation.
pub const MAX_ENTRY_BYTES: u32 = 256 * 1024 * 1024;
/// The tree every record lives in (see `SledStorage::from_db`).
pub(super) const TREE: &str = "casesync";
/// The master key's check value in the tree (see `upgrade.rs`).
const MASTER_CHECK: &[u8] = b"m/master-check";

/// What a backup holds (its manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// [`BACKUP_FORMAT`].
    pub format: u32,
    /// The store's sequence number at the copy: every change up to it is in the backup.
    pub last_seq: u64,
    /// Keys and values in the data file.
    pub entries: u64,
    /// Bytes of the data file.
    pub bytes: u64,
    /// Data key files copied.
    pub key_files: u64,
    /// SHA-256 of the data file, hex.
    pub sha256: String,
    /// When the copy was made, ms since the Unix epoch.
    pub created_ms: i64,
    /// The server version that made it.
    pub server_version: String,
}

/// What a restore recorded in the new store (meta [`RESTORED_META`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreMark {
    /// The backup's last sequence number.
    pub backup_seq: u64,
    /// The sequence number the restored store continues after.
    pub restored_seq: u64,
    /// When the backup was made, ms since the Unix epoch.
    pub backup_ms: i64,
    /// When it was restored.
    pub restored_ms: i64,
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Db(format!("{}: {e}", what.display()))
}

/// Refuses a directory that exists and is not empty; creates it (owner only) if absent.
pub fn prepare_empty_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StoreError::Db(format!(
                    "{} is not empty: give a new or empty directory",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(io(dir))
        }
        Err(e) => Err(io(dir)(e)),
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_entry(w: &mut impl Write, k: &[u8], v: &[u8]) -> std::io::Result<()> {
    for part in [k, v] {
        let len = u32::try_from(part.len())
            .ok()
            .filter(|l| *l <= MAX_ENTRY_BYTES)
            .ok_or_else(|| std::io::Error::other("an entry is over the backup's entry limit"))?;
        w.write_all(&len.to_be_bytes())?;
        w.write_all(part)?;
    }
    Ok(())
}

/// Reads one length-prefixed part; `None` at a clean end of file (before a key only).
fn read_part(r: &mut impl Read, at_key: bool) -> Result<Option<Vec<u8>>, StoreError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 && at_key => return Ok(None),
            Ok(0) => {
                return Err(StoreError::Corrupt(
                    "the backup's data file is cut short".into(),
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::Db(e.to_string())),
        }
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_ENTRY_BYTES {
        return Err(StoreError::Corrupt(
            "the backup's data file holds an entry over the limit".into(),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)
        .map_err(|_| StoreError::Corrupt("the backup's data file is cut short".into()))?;
    Ok(Some(buf))
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Copies the data key files of `from` into directory `to` (created); their count.
fn copy_key_files(from: &Path, to: &Path) -> Result<u64, StoreError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    let mut n = 0u64;
    let entries = match std::fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(from)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        // A key being written (`<name>.new`, renamed into place when done) is not one yet.
        if Path::new(&name).extension().is_some() || !entry.path().is_file() {
            continue;
        }
        let dest = to.join(&name);
        std::fs::copy(entry.path(), &dest).map_err(io(&dest))?;
        sync_file(&dest)?;
        n += 1;
    }
    sync_file(to)?;
    Ok(n)
}

fn write_manifest(dir: &Path, info: &BackupInfo) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{MANIFEST_FILE}.new"));
    let text = serde_json::to_vec_pretty(info).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    sync_file(&tmp)?;
    let path = dir.join(MANIFEST_FILE);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_file(dir)
}

/// The manifest of the backup in `dir` (an error if it is not a finished backup of a
/// format this server reads).
pub fn read_manifest(dir: &Path) -> Result<BackupInfo, StoreError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| {
        StoreError::Db(format!(
            "{}: {e} (not a casesync backup, or an unfinished one)",
            path.display()
        ))
    })?;
    let info: BackupInfo = serde_json::from_slice(&text)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    if info.format != BACKUP_FORMAT {
        return Err(StoreError::Corrupt(format!(
            "backup format {} (this server reads {BACKUP_FORMAT})",
            info.format
        )));
    }
    Ok(info)
}

impl SledStorage {
    /// Writes a consistent copy of the store into `dir` (new or empty; see the module
    /// docs). Holds the record lock while it reads.
    pub fn export_to(&self, dir: &Path) -> Result<BackupInfo, StoreError> {
        prepare_empty_dir(dir)?;
        let data_path = dir.join(DATA_FILE);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&data_path)
            .map_err(io(&data_path))?;
        let mut out = Hashing {
            inner: BufWriter::new(file),
            hash: Sha256::new(),
            bytes: 0,
        };
        let (entries, last_seq, key_files) = {
            // No multi-key write is in progress while this is held (one an error left
            // unfinished is finished first).
            let _guard = self.lock_writes()?;
            let mut entries = 0u64;
            for kv in self.tree.iter() {
                let (k, v) = kv.map_err(db_err)?;
                write_entry(&mut out, &k, &v).map_err(io(&data_path))?;
                entries += 1;
            }
            let last_seq = crate::store::Storage::last_seq(self)?;
            let key_files = match self.keys.as_ref() {
                KeyFiles::Dir(from) => copy_key_files(from, &dir.join("keys"))?,
                KeyFiles::Memory(_) => {
                    return Err(StoreError::Db("a temporary store has no backup".into()))
                }
            };
            (entries, last_seq, key_files)
        };
        out.flush().map_err(io(&data_path))?;
        let Hashing {
            inner, hash, bytes, ..
        } = out;
        inner
            .into_inner()
            .map_err(|e| io(&data_path)(e.into_error()))?
            .sync_all()
            .map_err(io(&data_path))?;
        let info = BackupInfo {
            format: BACKUP_FORMAT,
            last_seq,
            entries,
            bytes,
            key_files,
            sha256: hex::encode(hash.finalize()),
            created_ms: crate::now_ms(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        write_manifest(dir, &info)?;
        Ok(info)
    }
}

/// Checks the data file of the backup in `from` against its manifest.
fn check_data_file(from: &Path, info: &BackupInfo) -> Result<(), StoreError> {
    let path = from.join(DATA_FILE);
    let mut f = BufReader::new(std::fs::File::open(&path).map_err(io(&path))?);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io(&path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    if hex::encode(hash.finalize()) != info.sha256 {
        return Err(StoreError::Corrupt(format!(
            "{} does not match its manifest (damaged or altered): nothing restored",
            path.display()
        )));
    }
    Ok(())
}

/// The master key's check value in the backup's data file, if any.
fn backup_master_check(from: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let path = from.join(DATA_FILE);
    let mut r = BufReader::new(std::fs::File::open(&path).map_err(io(&path))?);
    while let Some(k) = read_part(&mut r, true)? {
        let v = read_part(&mut r, false)?
            .ok_or_else(|| StoreError::Corrupt("the backup's data file is cut short".into()))?;
        if k == MASTER_CHECK {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Restores the backup in `from` into the new or empty directory `data`, checked
/// against `master` first (nothing is written if the data file is damaged or the key is
/// not the store's). The sequence number continues after the backup's plus
/// [`RESTORE_SEQ_GAP`]. The master key itself is the caller's to place.
pub fn restore(
    from: &Path,
    data: &Path,
    master: &MasterKey,
    cache_bytes: u64,
) -> Result<RestoreMark, StoreError> {
    let info = read_manifest(from)?;
    check_data_file(from, &info)?;
    if let Some(check) = backup_master_check(from)? {
        master.verify(&check)?;
    }
    prepare_empty_dir(data)?;
    let restored_seq = info
        .last_seq
        .checked_add(RESTORE_SEQ_GAP)
        .ok_or_else(|| StoreError::Corrupt("the sequence number has no room left".into()))?;
    let mark = RestoreMark {
        backup_seq: info.last_seq,
        restored_seq,
        backup_ms: info.created_ms,
        restored_ms: crate::now_ms(),
    };
    {
        let db = casesync_core::store::open_sled(
            &sled::Config::new().path(data).cache_capacity(cache_bytes),
        )
        .map_err(db_err)?;
        let tree = db.open_tree(TREE).map_err(db_err)?;
        let path = from.join(DATA_FILE);
        let mut r = BufReader::new(std::fs::File::open(&path).map_err(io(&path))?);
        let mut entries = 0u64;
        while let Some(k) = read_part(&mut r, true)? {
            let v = read_part(&mut r, false)?
                .ok_or_else(|| StoreError::Corrupt("the backup's data file is cut short".into()))?;
            tree.insert(k, v).map_err(db_err)?;
            entries += 1;
        }
        if entries != info.entries {
            return Err(StoreError::Corrupt(format!(
                "the backup holds {entries} entries, its manifest says {}",
                info.entries
            )));
        }
        tree.insert(SEQ_KEY, &restored_seq.to_be_bytes())
            .map_err(db_err)?;
        let m = serde_json::to_vec(&mark).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tree.insert(RESTORED_META, m).map_err(db_err)?;
        db.flush().map_err(db_err)?;
    }
    let keys: PathBuf = data.join("keys");
    let copied = copy_key_files(&from.join("keys"), &keys)?;
    if copied != info.key_files {
        return Err(StoreError::Corrupt(format!(
            "the backup holds {copied} key files, its manifest says {}",
            info.key_files
        )));
    }
    Ok(mark)
}
