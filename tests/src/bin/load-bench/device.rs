//! One simulated device: its full sync (core session over an in-memory store) and its
//! local edits.

use super::*;

/// One simulated device.
pub(crate) struct LoadDevice {
    pub(crate) device_id: String,
    pub(crate) user: String,
    pub(crate) role: Role,
    pub(crate) token: String,
    pub(crate) store: DeviceStore,
    /// Cases it edits in the `changes` phase (in its scope, open).
    pub(crate) editable: Vec<String>,
    /// Wire-level state (see [`sync_wire`]).
    pub(crate) wire: Mutex<WireState>,
}

impl LoadDevice {
    /// This device's user editing in edit round `round` (each round at its own time).
    pub(crate) fn edit_ctx(&self, round: u64) -> EditCtx {
        EditCtx::new(
            self.user.clone(),
            self.role,
            1_800_000_000_000 + i64::try_from(round).unwrap_or(0),
        )
    }
}

/// One complete sync session (until up to date, by the core's loop); returns its round
/// trips.
pub(crate) async fn sync_once(http: &reqwest::Client, url: &str, d: &LoadDevice) -> Result<u32> {
    let mut session = SyncSession::new(&d.store, &d.device_id, DEFAULT_PAGE_BYTES)?;
    let mut transport = casesync_tests::drive::Http {
        http,
        url,
        token: &d.token,
    };
    let finished = casesync_tests::drive::run(
        &mut session,
        &mut transport,
        casesync_tests::drive::NO_RETRIES,
    )
    .await?;
    if finished.step == Step::Wiped {
        bail!("device told to wipe");
    }
    if let Some(r) = session.progress().refused.first() {
        bail!("push refused: {} {:?} {}", r.doc_id, r.code, r.message);
    }
    Ok(session.progress().pages)
}

/// Edits `n` of the device's cases locally (one assessment field each).
pub(crate) fn edit_cases(d: &LoadDevice, round: u64, n: usize) -> Result<()> {
    if d.editable.is_empty() {
        return Ok(());
    }
    let ctx = d.edit_ctx(round);
    let actor = d.store.actor(&d.device_id)?;
    let start = usize::try_from(round).unwrap_or(0).wrapping_mul(n);
    for k in 0..n.min(d.editable.len()) {
        let id = &d.editable[(start + k) % d.editable.len()];
        let mut doc = d.store.load_case(id)?;
        doc.set_actor(actor.clone());
        let value = ExtraValue::Int(i64::try_from(round).unwrap_or(0));
        doc.set_extra(&ctx, "load_round", &value)?;
        d.store.save_local(&mut doc)?;
    }
    Ok(())
}

/// The cases a device can edit: in its store, open, and (for a worker) assigned to it.
pub(crate) fn editable_cases(d: &LoadDevice) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let ctx = d.edit_ctx(0);
    for id in d.store.case_ids()? {
        let mut doc = d.store.load_case(&id)?;
        let case = doc.read()?;
        let mine = d.role == Role::Coordinator || case.assigned_to == d.user;
        // Probe an edit on a copy: closed cases and the like refuse it.
        let probe = doc.set_extra(&ctx, "load_probe", &ExtraValue::Bool(true));
        if mine && probe.is_ok() {
            out.push(id);
        }
    }
    Ok(out)
}

/// One `POST /v1/sync` of `body`: the answer's bytes, or an error naming a status that
/// is not a success.
pub(crate) async fn post_sync(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<impl std::ops::Deref<Target = [u8]>> {
    let resp = http
        .post(endpoint)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        bail!("sync: {status} {}", String::from_utf8_lossy(&bytes));
    }
    Ok(bytes)
}
