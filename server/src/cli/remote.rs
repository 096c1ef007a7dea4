//! The admin API of a running server, from the CLI (ureq, blocking): sign in as an
//! administrator, then one request per act. A refusal is reported with the server's
//! code and message.

use std::time::Duration;

use anyhow::{bail, Context};
use casesync_core::protocol::{ErrorBody, LoginRequest, PasswordChangeRequest, TokenResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Longest wait to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for an answer's next bytes (an import hashes every password first).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest answer read, bytes (a user or device list of a big programme).
const MAX_ANSWER_BYTES: u64 = 32 * 1024 * 1024;

/// A signed-in administrator's connection to a server.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    token: String,
}

/// The device id the CLI signs in with (one per administrator; listed among devices).
fn cli_device(admin: &str) -> String {
    format!("casesync-cli-{admin}")
}

/// `POST /v1/auth/password` at `base`: `username` changes `old` to `new` (no sign-in).
pub fn change_password(base: &str, username: &str, old: &str, new: &str) -> anyhow::Result<()> {
    let c = Client::connect(base)?;
    let body = PasswordChangeRequest {
        username: username.to_owned(),
        old_password: old.to_owned(),
        new_password: new.to_owned(),
    };
    let _: serde_json::Value = c.post_json("/v1/auth/password", &body)?;
    Ok(())
}

impl Client {
    /// A connection to `base` (`http://host:port` or `https://...`), not signed in.
    fn connect(base: &str) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {base}: give an http:// or https:// URL");
        }
        if cfg!(not(feature = "https-client")) && base.starts_with("https://") {
            bail!(
                "--server {base}: this casesync-server was built without https \
                 (--no-default-features); give the server's own http:// address on its \
                 machine (http://127.0.0.1:PORT) or build with the default features"
            );
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout_read(READ_TIMEOUT)
            .build();
        Ok(Client {
            base,
            agent,
            token: String::new(),
        })
    }

    /// Signs `admin` in at `base` (`http://host:port` or `https://...`).
    pub fn login(base: &str, admin: &str, password: &str) -> anyhow::Result<Self> {
        let mut c = Client::connect(base)?;
        let login = LoginRequest {
            username: admin.to_owned(),
            password: password.to_owned(),
            device_id: cli_device(admin),
        };
        let tokens: TokenResponse = c
            .send(
                "POST",
                "/v1/auth/login",
                Some(("application/json", json(&login)?)),
            )
            .context("signing in")?;
        if tokens.role != casesync_core::case::Role::Admin {
            bail!("{admin} is not an administrator");
        }
        c.token = tokens.access_token;
        Ok(c)
    }

    /// `GET path`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send("POST", path, Some(("application/json", json(body)?)))
    }

    /// `POST path` without a body.
    pub fn post_empty<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send("POST", path, Some(("application/json", Vec::new())))
    }

    /// `POST path` with a CSV body.
    pub fn post_csv<T: DeserializeOwned>(&self, path: &str, csv: &[u8]) -> anyhow::Result<T> {
        self.send("POST", path, Some(("text/csv", csv.to_vec())))
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.request(method, &url);
        if !self.token.is_empty() {
            req = req.set("Authorization", &format!("Bearer {}", self.token));
        }
        let result = match body {
            Some((ctype, bytes)) => req.set("Content-Type", ctype).send_bytes(&bytes),
            None => req.call(),
        };
        match result {
            Ok(resp) => {
                let text = read(resp)?;
                serde_json::from_str(&text).with_context(|| format!("the answer of {path}"))
            }
            Err(ureq::Error::Status(status, resp)) => {
                let text = read(resp).unwrap_or_default();
                match serde_json::from_str::<ErrorBody>(&text) {
                    Ok(e) => bail!("the server refused ({status} {}): {}", e.code, e.message),
                    Err(_) => bail!("the server answered {status}"),
                }
            }
            Err(ureq::Error::Transport(t)) => bail!("cannot reach {}: {t}", self.base),
        }
    }
}

fn json<B: Serialize>(body: &B) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(body)?)
}

fn read(resp: ureq::Response) -> anyhow::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    resp.into_reader()
        .take(MAX_ANSWER_BYTES)
        .read_to_string(&mut text)?;
    Ok(text)
}
