//! The one door into the sync engine: [`SyncEngine::handle`] runs a `POST /v1/sync`
//! round trip from the request's bytes to the response's bytes, for the HTTP route and
//! the simulation alike, and owns the writer lock its commits take.

use std::collections::HashSet;

use casesync_core::protocol::{decode_request, SyncRequest, SyncResponse};

use super::push::{self, PushOutcome};
use super::{phase, Cursor, Pushed, SyncEngine, SyncError, SyncStats};
use crate::auth::Authenticated;
use crate::store::{StoreError, UserRecord};

/// What [`SyncEngine::handle`] answered.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The encoded response: what goes on the wire.
    pub wire: Vec<u8>,
    /// The same response, decoded (for logs and the simulation's checks).
    pub response: SyncResponse,
    /// Its counts.
    pub stats: SyncStats,
}

impl SyncEngine {
    /// One sync round trip for the authenticated `who`: `body` is the request as it
    /// came (bounded by the caller), the answer is what to send back. A revoked device
    /// is told to wipe; a request that does not decode, or names another device than
    /// the token's, fails as a whole ([`SyncError`], mapped to HTTP once, in
    /// `crate::error`). Every pushed document is checked, validated and applied
    /// without the writer lock (requests do that in parallel), then committed under
    /// it, revalidated first if its case moved on meanwhile; the flush and the pull
    /// run without it. Blocking: call it from a blocking thread (it takes the writer
    /// lock with `blocking_lock`).
    pub fn handle(&self, who: &Authenticated, body: &[u8]) -> Result<Handled, SyncError> {
        let handled = self.round_trip(who, body)?;
        if !who.revoked {
            self.note_sync(&who.device_id, crate::now_ms())?;
        }
        Ok(handled)
    }

    /// [`handle`](Self::handle) without recording the device's last sync time.
    fn round_trip(&self, who: &Authenticated, body: &[u8]) -> Result<Handled, SyncError> {
        if who.revoked {
            tracing::info!(device = %who.device_id, "revoked device told to wipe");
            let response = SyncResponse::wipe();
            return Ok(Handled {
                wire: casesync_core::protocol::encode_response(&response),
                response,
                stats: SyncStats::default(),
            });
        }
        let req = decode_request(body)?;
        if req.device_id != who.device_id {
            return Err(SyncError::DeviceMismatch);
        }
        let cursor = Cursor::decode(&req.cursor)?;
        let pushed = if req.push.is_empty() {
            Pushed::default()
        } else {
            self.push_all(&who.user, &who.device_id, &req)?
        };
        let (response, stats, wire) = self.respond(&who.user, &req, cursor, pushed)?;
        Ok(Handled {
            wire,
            response,
            stats,
        })
    }

    /// [`handle`](Self::handle) for an in-process caller that has a decoded request (the
    /// fuzz targets and the engine's own tests): the request is encoded and goes through
    /// the same door, as `user` on `device_id`, not revoked; the device's last sync time
    /// is not recorded (so such a caller can compare the store byte for byte). Takes the
    /// writer lock itself, so the caller must not hold it.
    pub fn sync(
        &self,
        user: &UserRecord,
        device_id: &str,
        req: &SyncRequest,
    ) -> Result<(SyncResponse, SyncStats), SyncError> {
        let who = Authenticated {
            user: user.clone(),
            device_id: device_id.to_owned(),
            revoked: false,
        };
        let body = casesync_core::protocol::encode_request(req);
        self.round_trip(&who, &body).map(|h| (h.response, h.stats))
    }

    /// The push half of a round trip. Every document is checked, validated and applied
    /// to a copy of the loaded document without the writer lock, so requests do that
    /// work in parallel; then, under the writer lock, each is stored if its stored
    /// record is still the one it was validated against, or else validated again under
    /// the lock and stored. The lock is held only for the commits (in sequence order),
    /// and what is stored was validated against exactly the state it is stored on top
    /// of.
    pub(crate) fn push_all(
        &self,
        user: &UserRecord,
        device_id: &str,
        req: &SyncRequest,
    ) -> Result<Pushed, SyncError> {
        enum Step<'a> {
            Done(PushOutcome),
            Pending(push::Checked<'a>, Box<push::Prepared>),
        }
        let mut clock = std::time::Instant::now();
        let mut budget = push::PushBudget::for_request(self.settings.max_changes_per_request);
        let mut steps = Vec::with_capacity(req.push.len());
        for p in &req.push {
            let step = match self.check_push(user, p, &mut budget) {
                Err(refused) => Step::Done(refused),
                Ok(checked) => match self.prepare_push(user, device_id, &checked)? {
                    push::Decision::Done(outcome) => Step::Done(outcome),
                    push::Decision::Commit(prepared) => Step::Pending(checked, prepared),
                },
            };
            steps.push(step);
        }
        let pending = steps.iter().any(|s| matches!(s, Step::Pending(..)));
        phase("validate", &mut clock);
        let _guard = pending.then(|| self.writer.blocking_lock());
        phase("writer_wait", &mut clock);
        // Current pushes are gathered and stored in one store commit; one that must be
        // validated again (its case moved on), or a case met a second time, first
        // stores what was gathered, so it is checked against this request's own commits.
        let mut slots: Vec<Option<PushOutcome>> = Vec::with_capacity(steps.len());
        let mut batch: Vec<(usize, push::Prepared)> = Vec::new();
        let mut in_batch: HashSet<String> = HashSet::new();
        for step in steps {
            let idx = slots.len();
            slots.push(None);
            match step {
                Step::Done(outcome) => slots[idx] = Some(outcome),
                Step::Pending(checked, prepared) => {
                    if in_batch.contains(prepared.doc_id()) {
                        self.commit_batch(&mut batch, &mut slots)?;
                        in_batch.clear();
                    }
                    if self.is_current(&prepared)? {
                        in_batch.insert(prepared.doc_id().to_owned());
                        batch.push((idx, *prepared));
                        continue;
                    }
                    self.commit_batch(&mut batch, &mut slots)?;
                    in_batch.clear();
                    metrics::counter!("casesync_push_revalidated_total").increment(1);
                    slots[idx] = Some(match self.prepare_push(user, device_id, &checked)? {
                        push::Decision::Done(outcome) => outcome,
                        push::Decision::Commit(p) => self.commit_prepared(*p)?,
                    });
                }
            }
        }
        self.commit_batch(&mut batch, &mut slots)?;
        phase("commit", &mut clock);
        let mut out = Pushed::default();
        for outcome in slots.into_iter().flatten() {
            out.record(outcome);
        }
        Ok(out)
    }

    /// Stores the gathered pushes of `batch` in one store commit and puts their outcomes
    /// in their slots.
    fn commit_batch(
        &self,
        batch: &mut Vec<(usize, push::Prepared)>,
        slots: &mut [Option<PushOutcome>],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (idx, prepared): (Vec<usize>, Vec<push::Prepared>) = batch.drain(..).unzip();
        for (i, outcome) in idx.into_iter().zip(self.commit_prepared_all(prepared)?) {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(outcome);
            }
        }
        Ok(())
    }
}
