//! A small pool of dedicated threads, each owning one blocking `postgres::Client`.
//!
//! The [`Storage`](crate::store::Storage) trait is synchronous and is called both from
//! `spawn_blocking` threads (the sync engine) and directly from async handlers (token
//! checks, `GET /v1/cases/{id}`). The blocking `postgres` client drives its own
//! current-thread runtime, which must not be entered from inside another runtime; so
//! every database call is shipped to one of these threads and the caller waits on a
//! plain channel. That works from any context — async worker, blocking thread, plain
//! test — and bounds the number of connections an instance holds.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement, Transaction};

use crate::store::StoreError;

/// A unit of work run on a pool thread with its connection.
type Job = Box<dyn FnOnce(Result<&mut Conn, StoreError>) + Send>;

/// Query parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One connection and its prepared statements (each SQL text is parsed once per
/// connection: a query is then one round trip instead of two).
pub(crate) struct Conn {
    client: Client,
    stmts: HashMap<String, Statement>,
}

/// A transaction on a [`Conn`], sharing its prepared statements.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    stmts: &'a mut HashMap<String, Statement>,
}

/// Queries through cached prepared statements. A statement that fails is dropped from
/// the cache (it may have been invalidated by a schema change), so the next use
/// prepares it again.
pub(crate) trait Db {
    /// The prepared statement for `sql`.
    fn stmt(&mut self, sql: &str) -> Result<Statement, postgres::Error>;
    /// Forgets the statement for `sql`.
    fn forget(&mut self, sql: &str);
    /// Runs a query: every row.
    fn rows(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, postgres::Error>;
    /// Runs a statement: rows affected.
    fn exec(&mut self, sql: &str, params: Params<'_>) -> Result<u64, postgres::Error>;
    /// At most one row (an error if more).
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, postgres::Error>;
    /// Exactly one row (an error if none or more).
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, postgres::Error>;
}

macro_rules! cached_db {
    ($ty:ty, $client:ident) => {
        impl Db for $ty {
            fn stmt(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
                if let Some(s) = self.stmts.get(sql) {
                    return Ok(s.clone());
                }
                let s = self.$client.prepare(sql)?;
                self.stmts.insert(sql.to_owned(), s.clone());
                Ok(s)
            }

            fn forget(&mut self, sql: &str) {
                self.stmts.remove(sql);
            }

            fn rows(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, postgres::Error> {
                let st = self.stmt(sql)?;
                self.$client
                    .query(&st, params)
                    .inspect_err(|_| self.forget(sql))
            }

            fn exec(&mut self, sql: &str, params: Params<'_>) -> Result<u64, postgres::Error> {
                let st = self.stmt(sql)?;
                self.$client
                    .execute(&st, params)
                    .inspect_err(|_| self.forget(sql))
            }

            fn query_opt(
                &mut self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Option<Row>, postgres::Error> {
                let st = self.stmt(sql)?;
                self.$client
                    .query_opt(&st, params)
                    .inspect_err(|_| self.forget(sql))
            }

            fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, postgres::Error> {
                let st = self.stmt(sql)?;
                self.$client
                    .query_one(&st, params)
                    .inspect_err(|_| self.forget(sql))
            }
        }
    };
}

cached_db!(Conn, client);
cached_db!(Tx<'_>, tx);

impl Conn {
    /// Starts a transaction.
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>, postgres::Error> {
        Ok(Tx {
            tx: self.client.transaction()?,
            stmts: &mut self.stmts,
        })
    }

    /// The client itself (for statements that are not worth preparing).
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Tx<'_> {
    /// Commits.
    pub(crate) fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}

/// The connection threads.
pub(crate) struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// A database error as a [`StoreError`], with the SQLSTATE and server message when the
/// server sent one (the default `Display` says only "db error").
pub(crate) fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Db(format!("{} {}", db.code().code(), db.message())),
        None => StoreError::Db(e.to_string()),
    }
}

fn connect(config: &Config) -> Result<Conn, StoreError> {
    let mut client = config.connect(NoTls).map_err(pg_err)?;
    // An acknowledged push must survive a crash of the database server: never run with
    // asynchronous commit, whatever the database's default is.
    let mode = client
        .query_one("SHOW synchronous_commit", &[])
        .and_then(|r| r.try_get::<_, String>(0))
        .map_err(pg_err)?;
    if mode == "off" {
        client
            .batch_execute("SET synchronous_commit TO on")
            .map_err(pg_err)?;
    }
    Ok(Conn {
        client,
        stmts: HashMap::new(),
    })
}

fn worker(config: Config, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut client: Option<Conn> = None;
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return, // the pool was dropped
            }
        };
        if client.as_ref().is_some_and(|c| c.client.is_closed()) {
            client = None;
        }
        if client.is_none() {
            match connect(&config) {
                Ok(c) => client = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to PostgreSQL");
                    job(Err(e));
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(c)))).is_err() {
            // The connection may be mid-transaction: start afresh.
            client = None;
        }
    }
}

impl Pool {
    /// Starts `size` threads for the database at `config` (connections are opened at
    /// first use and re-opened after a failure).
    pub(crate) fn new(mut config: Config, size: usize) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("casesync-server");
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..size.max(1) {
            let config = config.clone();
            let rx = rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("casesync-pg-{i}"))
                .spawn(move || worker(config, rx))
                .map_err(|e| StoreError::Db(format!("cannot start a database thread: {e}")))?;
            threads.push(t);
        }
        Ok(Pool {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
        })
    }

    /// Runs `f` with a connection on a pool thread and waits for its result.
    pub(crate) fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let out = client.and_then(f);
            let _ = reply.send(out);
        });
        {
            let guard = self
                .jobs
                .lock()
                .map_err(|_| StoreError::Db("database pool poisoned".into()))?;
            let tx = guard
                .as_ref()
                .ok_or_else(|| StoreError::Db("database pool closed".into()))?;
            tx.send(job)
                .map_err(|_| StoreError::Db("database pool stopped".into()))?;
        }
        result
            .recv()
            .map_err(|_| StoreError::Db("database call panicked".into()))?
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Ok(mut threads) = self.threads.lock() {
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}
