//! The wire-level device of the measured syncs.

use super::*;

/// A wire-level device: its cursor and its editable cases kept loaded, so an edit is
/// one Automerge change and a sync is encode, post, decode. Pulled documents are
/// decoded and dropped (the server does all its work for them; the device does not).
#[derive(Default)]
pub(crate) struct WireState {
    pub(crate) cursor: Vec<u8>,
    pub(crate) docs: HashMap<String, CaseDoc>,
    /// Changes made since the last acknowledged push, per case.
    pub(crate) unsent: HashMap<String, Vec<Vec<u8>>>,
}

/// One complete wire-level sync: pushes the unsent changes, pulls until up to date.
pub(crate) async fn sync_wire(http: &reqwest::Client, url: &str, d: &LoadDevice) -> Result<u32> {
    let endpoint = format!("{url}/v1/sync");
    let (mut cursor, mut push) = {
        let w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
        let push: Vec<DocPush> = w
            .unsent
            .iter()
            .map(|(id, changes)| DocPush {
                doc_id: id.clone(),
                changes: changes.clone(),
            })
            .collect();
        (w.cursor.clone(), push)
    };
    let pushed = push.len();
    for trip in 1..=MAX_ROUND_TRIPS {
        let body = encode_request(&SyncRequest {
            version: PROTOCOL_VERSION,
            device_id: d.device_id.clone(),
            cursor: cursor.clone(),
            push: std::mem::take(&mut push),
            max_page_bytes: DEFAULT_PAGE_BYTES,
        });
        let bytes = post_sync(http, &endpoint, &d.token, body).await?;
        let r = decode_response(&bytes)?;
        if let Some(x) = r.refused.first() {
            bail!("push refused: {} {:?} {}", x.doc_id, x.code, x.message);
        }
        if trip == 1 && r.acked.len() != pushed {
            bail!(
                "{} of {pushed} pushed documents acknowledged",
                r.acked.len()
            );
        }
        if r.wipe {
            bail!("device told to wipe");
        }
        cursor = r.cursor;
        if trip == 1 {
            let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
            w.unsent.clear();
        }
        if !r.more {
            let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
            w.cursor = cursor;
            return Ok(trip);
        }
    }
    bail!("sync did not finish in {MAX_ROUND_TRIPS} round trips")
}

/// Wire-level edits: `n` of the device's loaded cases, one assessment field each.
pub(crate) fn edit_wire(d: &LoadDevice, round: u64, n: usize) -> Result<()> {
    if d.editable.is_empty() {
        return Ok(());
    }
    let ctx = d.edit_ctx(round);
    let value = ExtraValue::Int(i64::try_from(round).unwrap_or(0));
    let start = usize::try_from(round).unwrap_or(0).wrapping_mul(n);
    let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
    let WireState { docs, unsent, .. } = &mut *w;
    for k in 0..n.min(d.editable.len()) {
        let id = &d.editable[(start + k) % d.editable.len()];
        let doc = docs.get_mut(id).context("editable case not loaded")?;
        let before = doc.heads();
        doc.set_extra(&ctx, "load_round", &value)?;
        let entry = unsent.entry(id.clone()).or_default();
        entry.extend(
            doc.changes_since(&before)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec()),
        );
    }
    Ok(())
}

/// Moves a device that did its initial sync with a session onto the wire-level state.
pub(crate) fn start_wire(d: &LoadDevice) -> Result<()> {
    let actor = d.store.actor(&d.device_id)?;
    let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
    w.cursor = d.store.cursor()?;
    for id in &d.editable {
        let mut doc = d.store.load_case(id)?;
        doc.set_actor(actor.clone());
        w.docs.insert(id.clone(), doc);
    }
    Ok(())
}
