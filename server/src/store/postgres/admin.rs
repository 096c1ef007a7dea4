//! Database provisioning helpers: create and drop a database through a maintenance
//! connection. Used by the test suites (a fresh database per test) and handy for
//! operators scripting a new deployment.

use std::str::FromStr;

use postgres::{Config, NoTls};

use super::pool::pg_err;
use crate::store::StoreError;

/// Whether `name` is a safe database name (it is spliced into SQL): 1..=63 of
/// `[a-z0-9_]`, starting with a letter.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `url` with its database replaced by `name` (URL form: the path; key=value form:
/// `dbname=`).
pub fn with_database(url: &str, name: &str) -> Result<String, StoreError> {
    if !valid_name(name) {
        return Err(StoreError::Db(format!("bad database name {name:?}")));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority = before_query.split('/').next().unwrap_or(before_query);
        let mut out = format!("{scheme}://{authority}/{name}");
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        Ok(out)
    } else {
        let kept: Vec<&str> = url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .collect();
        Ok(format!("{} dbname={name}", kept.join(" ")))
    }
}

fn admin_run(url: &str, sql: &str) -> Result<(), StoreError> {
    let config =
        Config::from_str(url).map_err(|e| StoreError::Db(format!("bad database URL: {e}")))?;
    let sql = sql.to_owned();
    // The blocking client must not run on a thread inside a Tokio runtime.
    std::thread::spawn(move || -> Result<(), StoreError> {
        let mut c = config.connect(NoTls).map_err(pg_err)?;
        c.batch_execute(&sql).map_err(pg_err)
    })
    .join()
    .map_err(|_| StoreError::Db("database admin thread panicked".into()))?
}

/// Creates database `name` on the server of `admin_url` (a database the user can
/// connect to, with the right to create databases); returns the URL of the new one.
pub fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let url = with_database(admin_url, name)?;
    admin_run(admin_url, &format!("CREATE DATABASE {name}"))?;
    Ok(url)
}

/// Drops database `name` (if it exists), ending its sessions first.
pub fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    if !valid_name(name) {
        return Err(StoreError::Db(format!("bad database name {name:?}")));
    }
    admin_run(
        admin_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_rewritten() {
        let u = with_database("postgres://u:p@127.0.0.1:5433/postgres", "t_1").ok();
        assert_eq!(u.as_deref(), Some("postgres://u:p@127.0.0.1:5433/t_1"));
        let u = with_database("postgresql://u@h?host=/tmp/s", "x").ok();
        assert_eq!(u.as_deref(), Some("postgresql://u@h/x?host=/tmp/s"));
        let u = with_database("host=/tmp user=postgres dbname=postgres", "x").ok();
        assert_eq!(u.as_deref(), Some("host=/tmp user=postgres dbname=x"));
        assert!(with_database("postgres://h/db", "x; DROP").is_err());
        assert!(with_database("postgres://h/db", "").is_err());
    }
}
