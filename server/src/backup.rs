//! `casesync-server backup` and `restore`, and the control socket through which the CLI
//! asks a running server for a backup.
//!
//! A running server holds sled's lock on its data directory, so no other process can
//! open the store. At start it creates `<data>/control.sock` ([`CONTROL_SOCKET_NAME`],
//! mode 0600: only its own user, or root, may connect) and removes it at shutdown. The
//! CLI sends one line of JSON (`{"backup":{"to":"/abs/dir"}}`) and reads one line back;
//! the server writes the copy itself ([`Storage::backup`]: consistent, see
//! `store/sled_store/export.rs`). With no server answering, the CLI opens the store
//! directly. PostgreSQL is backed up with `pg_dump` (docs/DEPLOYMENT.md).
//!
//! The master key is never in a backup: a backup is useless without it, and a stolen
//! backup useless to a thief who does not also have it. `--keys-to` copies it apart when
//! it lives in the data directory (`<data>/master.key`); a key given through the
//! environment is kept wherever that is set.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::config::StoreLocation;
use crate::store::seal::{MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, MASTER_KEY_FILE_NAME};
use crate::store::{BackupInfo, MasterKey, RestoreMark, SledStorage, Storage, StoreError};

/// The control socket's name in the data directory.
pub const CONTROL_SOCKET_NAME: &str = "control.sock";
/// Longest request line on the control socket.
pub const MAX_CONTROL_REQUEST_BYTES: u64 = 16 * 1024;
/// Longest wait for a connection's request line.
pub const CONTROL_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept on the control socket (e.g. out of file descriptors).
pub const CONTROL_ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Longest answer line the CLI reads.
pub const MAX_CONTROL_REPLY_BYTES: u64 = 64 * 1024;

/// Why a backup or restore failed. Nothing is restored into a directory by a failed
/// check; a failed backup leaves an unfinished directory (no manifest) to delete.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed or the backup is damaged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(String),
    /// The request cannot be done as given.
    #[error("{0}")]
    Refused(String),
    /// The running server answered with an error.
    #[error("the running server: {0}")]
    Server(String),
}

fn io_err(what: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(format!("{}: {e}", what.display()))
}

/// A request on the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ControlRequest {
    /// A backup into this directory (absolute; new or empty).
    Backup {
        /// The directory.
        to: PathBuf,
    },
}

/// The answer on the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ControlReply {
    /// The backup is made.
    Backup(BackupInfo),
    /// It failed.
    Error(String),
}

/// The server's control socket; removed when dropped.
#[derive(Debug)]
pub struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlSocket {
    /// Creates `<data>/control.sock` (mode 0600) and answers on it. A socket file left
    /// by a server that is gone is replaced; one a live server answers on is refused.
    /// Call inside the Tokio runtime.
    pub fn start(data: &Path, store: Arc<dyn Storage>) -> Result<Self, BackupError> {
        let path = data.join(CONTROL_SOCKET_NAME);
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(BackupError::Refused(format!(
                    "a server already answers on {}",
                    path.display()
                )));
            }
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        let listener = bind_private(data, &path)?;
        listener.set_nonblocking(true).map_err(io_err(&path))?;
        let listener = tokio::net::UnixListener::from_std(listener).map_err(io_err(&path))?;
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    tokio::time::sleep(CONTROL_ACCEPT_RETRY).await;
                    continue;
                };
                tokio::spawn(answer(conn, store.clone(), busy.clone()));
            }
        });
        Ok(ControlSocket { path, task })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket in a new owner-only directory, makes it 0600, then moves it to
/// `path`: it is never reachable with wider permissions.
fn bind_private(data: &Path, path: &Path) -> Result<std::os::unix::net::UnixListener, BackupError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    // Short names: a socket path is at most 107 bytes.
    let dir = data.join(format!(".c{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(io_err(&dir))?;
    let made = (|| {
        let tmp = dir.join("s");
        let l = std::os::unix::net::UnixListener::bind(&tmp).map_err(io_err(&tmp))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))?;
        Ok(l)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    made
}

async fn answer(
    conn: tokio::net::UnixStream,
    store: Arc<dyn Storage>,
    busy: Arc<tokio::sync::Mutex<()>>,
) {
    let (read, mut write) = conn.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(MAX_CONTROL_REQUEST_BYTES));
    let reply = match tokio::time::timeout(CONTROL_REQUEST_TIMEOUT, reader.read_line(&mut line))
        .await
    {
        Err(_) => ControlReply::Error("no request line in time".into()),
        Ok(Err(e)) => ControlReply::Error(format!("reading the request: {e}")),
        Ok(Ok(_)) => match serde_json::from_str::<ControlRequest>(line.trim()) {
            Err(e) => ControlReply::Error(format!("not a control request: {e}")),
            Ok(ControlRequest::Backup { to }) => match busy.try_lock() {
                Err(_) => ControlReply::Error("a backup is already running".into()),
                Ok(_held) => {
                    if !to.is_absolute() {
                        ControlReply::Error("the backup directory must be an absolute path".into())
                    } else {
                        tracing::info!("backup requested on the control socket");
                        let started = std::time::Instant::now();
                        match tokio::task::spawn_blocking(move || store.backup(&to)).await {
                            Ok(Ok(info)) => {
                                tracing::info!(
                                    last_seq = info.last_seq,
                                    entries = info.entries,
                                    bytes = info.bytes,
                                    ms = started.elapsed().as_millis() as u64,
                                    "backup made"
                                );
                                ControlReply::Backup(info)
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "backup failed");
                                ControlReply::Error(e.to_string())
                            }
                            Err(_) => ControlReply::Error("the backup task failed".into()),
                        }
                    }
                }
            },
        },
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    let _ = write.write_all(&out).await;
    let _ = write.shutdown().await;
}

/// Options of `casesync-server backup`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// Directory to write the backup into (new or empty).
    #[arg(long)]
    pub to: PathBuf,
    /// Also copy the master key (`<data>/master.key`) into this directory, kept apart
    /// from the backup. Only when the key lives in the data directory.
    #[arg(long)]
    pub keys_to: Option<PathBuf>,
}

/// Options of `casesync-server restore` (into the `--data` directory, new or empty).
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The backup directory (`backup --to`).
    #[arg(long)]
    pub from: PathBuf,
    /// A directory (or file) holding the master key (`backup --keys-to`): it is copied
    /// to `<data>/master.key`. Without it the key comes from `CASESYNC_MASTER_KEY` or
    /// `CASESYNC_MASTER_KEY_FILE`, as the restored server will be started with.
    #[arg(long)]
    pub keys_from: Option<PathBuf>,
}

/// How a backup was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupRoute {
    /// By the running server, through its control socket.
    Server,
    /// By this process, on a store no server had open.
    Direct,
}

/// Where the master key of the store in `data` comes from (as [`MasterKey::resolve`]
/// finds it, without creating one): `None` when from the environment itself.
fn master_key_file(data: &Path) -> Option<PathBuf> {
    if std::env::var(MASTER_KEY_ENV).is_ok_and(|t| !t.trim().is_empty()) {
        return None;
    }
    Some(
        std::env::var_os(MASTER_KEY_FILE_ENV)
            .filter(|p| !p.is_empty())
            .map_or_else(|| data.join(MASTER_KEY_FILE_NAME), PathBuf::from),
    )
}

fn canonical(p: &Path) -> Result<PathBuf, BackupError> {
    std::fs::canonicalize(p).map_err(io_err(p))
}

/// Checks where `--keys-to` may copy the key from; the key file's path.
fn key_to_copy(data: &Path, keys_to: &Path, backup: &Path) -> Result<PathBuf, BackupError> {
    let in_data = data.join(MASTER_KEY_FILE_NAME);
    let Some(file) = master_key_file(data) else {
        return Err(BackupError::Refused(format!(
            "--keys-to: the master key comes from {MASTER_KEY_ENV}, not the data directory; \
             back it up from wherever that is set"
        )));
    };
    if file != in_data {
        return Err(BackupError::Refused(format!(
            "--keys-to: the master key is {} ({MASTER_KEY_FILE_ENV}), outside the data \
             directory; back that file up apart",
            file.display()
        )));
    }
    if !file.is_file() {
        return Err(BackupError::Refused(format!(
            "--keys-to: there is no master key at {}",
            file.display()
        )));
    }
    let abs_keys = std::path::absolute(keys_to).map_err(io_err(keys_to))?;
    if abs_keys.starts_with(backup) || backup.starts_with(&abs_keys) {
        return Err(BackupError::Refused(
            "--keys-to must be apart from the backup directory: whoever has both can read \
             every case"
                .into(),
        ));
    }
    if abs_keys.join(MASTER_KEY_FILE_NAME).exists() {
        return Err(BackupError::Refused(format!(
            "--keys-to: {} already exists",
            abs_keys.join(MASTER_KEY_FILE_NAME).display()
        )));
    }
    Ok(file)
}

/// Copies the key file `from` into directory `dir` (created 0700) as `master.key`.
fn copy_key(from: &Path, dir: &Path) -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    let text = std::fs::read(from).map_err(io_err(from))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let dest = dir.join(MASTER_KEY_FILE_NAME);
    write_key_file(&dest, &text)?;
    Ok(dest)
}

/// Writes a new key file (refusing to replace one), owner-only, durably.
fn write_key_file(dest: &Path, text: &[u8]) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(io_err(dest))?;
    f.write_all(text)
        .and_then(|()| f.sync_all())
        .map_err(io_err(dest))
}

/// `casesync-server backup`: through the running server if one answers on the control
/// socket, else directly on the store.
pub fn run_backup(
    at: &StoreLocation,
    args: &BackupArgs,
) -> Result<(BackupInfo, BackupRoute), BackupError> {
    let StoreLocation::Sled { dir, cache_bytes } = at else {
        return Err(BackupError::Refused(
            "PostgreSQL is backed up with pg_dump, restored with pg_restore \
             (docs/DEPLOYMENT.md, \"Backups\")"
                .into(),
        ));
    };
    if !dir.join("db").is_file() {
        return Err(BackupError::Refused(format!(
            "no store in {} (give the server's --data)",
            dir.display()
        )));
    }
    let data = canonical(dir)?;
    let to = std::path::absolute(&args.to).map_err(io_err(&args.to))?;
    if to.starts_with(&data) {
        return Err(BackupError::Refused(
            "the backup directory must be outside the data directory".into(),
        ));
    }
    let key = match &args.keys_to {
        Some(k) => Some((key_to_copy(&data, k, &to)?, k.clone())),
        None => None,
    };
    crate::store::prepare_empty_dir(&to)?;
    let to = canonical(&to)?;
    let made = match ask_server(&data.join(CONTROL_SOCKET_NAME), &to)? {
        Some(info) => (info, BackupRoute::Server),
        None => {
            let store = SledStorage::open_with(&data, *cache_bytes).map_err(|e| {
                BackupError::Refused(format!(
                    "no server answers on {}, and the store does not open ({e}); is a \
                     server of an older version running on it?",
                    data.join(CONTROL_SOCKET_NAME).display()
                ))
            })?;
            (store.export_to(&to)?, BackupRoute::Direct)
        }
    };
    if let Some((file, dir)) = key {
        copy_key(&file, &dir)?;
    }
    Ok(made)
}

/// Asks the server on `socket` for a backup into `to`; `None` if no server answers.
fn ask_server(socket: &Path, to: &Path) -> Result<Option<BackupInfo>, BackupError> {
    let mut conn = match std::os::unix::net::UnixStream::connect(socket) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(BackupError::Refused(format!(
                "{}: permission denied: run `backup` as the server's user",
                socket.display()
            )))
        }
        // No server (or none reachable by socket): the store is opened directly, which
        // a running server's lock refuses with its own message.
        Err(_) => return Ok(None),
    };
    let mut line = serde_json::to_vec(&ControlRequest::Backup { to: to.to_owned() })
        .map_err(|e| BackupError::Io(e.to_string()))?;
    line.push(b'\n');
    conn.write_all(&line).map_err(io_err(socket))?;
    let mut reply = String::new();
    BufReader::new(std::io::Read::take(&mut conn, MAX_CONTROL_REPLY_BYTES))
        .read_line(&mut reply)
        .map_err(io_err(socket))?;
    match serde_json::from_str::<ControlReply>(reply.trim()) {
        Ok(ControlReply::Backup(info)) => Ok(Some(info)),
        Ok(ControlReply::Error(e)) => Err(BackupError::Server(e)),
        Err(_) => Err(BackupError::Server(
            "no answer (did it stop during the backup?)".into(),
        )),
    }
}

/// The master key a restore uses: `--keys-from` (a directory holding `master.key`, or
/// the file), else the environment's; its text when it is to be written into the new
/// data directory.
fn restore_key(args: &RestoreArgs) -> Result<(MasterKey, Option<String>), BackupError> {
    if let Some(from) = &args.keys_from {
        let file = if from.is_dir() {
            from.join(MASTER_KEY_FILE_NAME)
        } else {
            from.clone()
        };
        let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
        let key = MasterKey::from_text(&text)?;
        return Ok((key, Some(text)));
    }
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        if !text.trim().is_empty() {
            return Ok((MasterKey::from_text(&text)?, None));
        }
    }
    if let Some(file) = std::env::var_os(MASTER_KEY_FILE_ENV).filter(|p| !p.is_empty()) {
        let file = PathBuf::from(file);
        let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
        return Ok((MasterKey::from_text(&text)?, None));
    }
    Err(BackupError::Refused(format!(
        "no master key: give --keys-from (the `backup --keys-to` directory), or set \
         {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV} as the restored server will have it. \
         Without the key the backup cannot be read"
    )))
}

/// `casesync-server restore`: the backup in `--from` into the (new or empty) sled data
/// directory of `at`, checked, with the sequence number moved forward; then opened once
/// to check it.
pub fn run_restore(at: &StoreLocation, args: &RestoreArgs) -> Result<RestoreMark, BackupError> {
    let StoreLocation::Sled { dir, cache_bytes } = at else {
        return Err(BackupError::Refused(
            "restore writes a sled store (--data); PostgreSQL is restored with pg_restore \
             (docs/DEPLOYMENT.md, \"Backups\")"
                .into(),
        ));
    };
    let (key, text) = restore_key(args)?;
    let mark = crate::store::restore_sled(&args.from, dir, &key, *cache_bytes)?;
    if let Some(text) = text {
        write_key_file(&dir.join(MASTER_KEY_FILE_NAME), text.as_bytes())?;
    }
    let store = SledStorage::open_keyed(dir, *cache_bytes, key)?;
    let seq = store.last_seq()?;
    if seq != mark.restored_seq {
        return Err(BackupError::Io(format!(
            "the restored store opens at sequence number {seq}, not {}",
            mark.restored_seq
        )));
    }
    store.flush()?;
    Ok(mark)
}
