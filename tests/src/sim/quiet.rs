//! The quiet phase: heal, drain the network, then let every device sync over a perfect
//! link until a whole round moves nothing.

use rand::Rng;

use casesync_core::protocol::RefusalCode;

use super::exchange::refusals;
use super::{e, Failure, Payload, Sim, Status, MAX_QUIET_ROUNDS, MAX_TRIPS, R};

impl<'a> Sim<'a> {
    /// Heals every link, delivers everything in flight, times out whatever was lost,
    /// then lets every device sync until a whole round moves nothing.
    pub fn run_until_quiet(&mut self) -> Result<(), Failure> {
        self.quiet().map_err(|m| self.fail(m))
    }

    fn quiet(&mut self) -> R<()> {
        self.step += 1;
        self.net.heal_all();
        self.note("quiet phase: heal all, deliver everything in flight".to_owned());
        let mut guard = 0;
        while !self.net.in_flight.is_empty() {
            let i = self.rng.gen();
            self.deliver(i)?;
            guard += 1;
            if guard > 100_000 {
                return Err("the network never drained".into());
            }
        }
        for d in 0..self.devices.len() {
            self.timeout(d, false)?;
            // A phone whose refresh answer was lost retries it; one asked for the
            // password gets it from its worker.
            if self.dev(d)?.lost_successor.is_some() {
                self.refresh(d, false)?;
            }
            self.sign_in(d)?;
        }
        for round in 1..=MAX_QUIET_ROUNDS {
            self.step += 1;
            let mut moved = false;
            for d in 0..self.devices.len() {
                moved |= self.sync_direct(d)?;
                moved |= self.discard_lost_permissions(d)?;
            }
            self.note(format!("quiet round {round}: moved {moved}"));
            if !moved {
                return Ok(());
            }
        }
        Err(format!(
            "still moving after {MAX_QUIET_ROUNDS} rounds of sync"
        ))
    }

    /// The honest app lists device `d`'s refused edits, and its worker discards those
    /// refused for a permission they do not hold (nothing they can do makes the server
    /// take them; DESIGN §4.3): the case goes back to the server's copy, or leaves the
    /// phone when it has left their scope. Returns whether anything was discarded.
    fn discard_lost_permissions(&mut self, d: usize) -> R<bool> {
        let dev = self.dev(d)?;
        if dev.status == Status::Wiped {
            return Ok(false);
        }
        let mut discarded = Vec::new();
        for r in dev.store.refused().map_err(e)? {
            if !matches!(
                r.code,
                RefusalCode::RestrictedField | RefusalCode::OutOfScope
            ) {
                continue;
            }
            let acked = dev.store.acked_seq(&r.case_id).map_err(e)?;
            let done = dev.store.discard_refused(&r.case_id).map_err(e)?;
            discarded.push((r.case_id, r.code, acked, done));
        }
        let any = !discarded.is_empty();
        for (case, code, acked, done) in discarded {
            self.ledger.discard(d, &case, acked);
            self.note(format!(
                "{} discards its refused edits of {case} ({code:?}): {} changes dropped{}",
                self.name(d),
                done.changes,
                if done.case_removed {
                    ", case removed"
                } else {
                    ""
                }
            ));
        }
        Ok(any)
    }

    /// Device `d` syncs to the end over a perfect link. Returns whether anything moved.
    fn sync_direct(&mut self, d: usize) -> R<bool> {
        let mut moved = false;
        for _ in 0..MAX_TRIPS {
            if self.dev(d)?.status == Status::Wiped {
                return Ok(moved);
            }
            self.sync(d)?;
            let Some(id) = self.dev(d)?.waiting else {
                return Ok(moved);
            };
            let Some(i) = self.net.in_flight.iter().position(|p| p.device == d) else {
                return Err(format!("{} waits for nothing", self.name(d)));
            };
            let p = self.net.in_flight.remove(i);
            let Payload::Request { bytes, .. } = p.payload else {
                return Err("expected a request".into());
            };
            let served = self.server.serve(&bytes)?;
            self.stats.served += 1;
            let r = &served.response;
            moved |= !r.docs.is_empty() || !r.removed.is_empty() || !r.acked.is_empty() || r.wipe;
            self.note(format!(
                "{} quiet sync req#{id}: {} acked, {} refused{}, {} docs, {} removed{}{}",
                self.name(d),
                r.acked.len(),
                r.refused.len(),
                refusals(r),
                r.docs.len(),
                r.removed.len(),
                if r.wipe { ", WIPE" } else { "" },
                super::exchange::page_items(r),
            ));
            // `receive` sends the next request itself on `Continue`: take it back out.
            self.receive(d, id, &served.bytes)?;
            if self.dev(d)?.waiting.is_none() {
                return Ok(moved);
            }
            if let Some(dev) = self.devices.get_mut(d) {
                if let Some(s) = dev.session.as_mut() {
                    s.abandon_request();
                }
                dev.waiting = None;
            }
            self.net.in_flight.retain(|p| p.device != d);
        }
        Err(format!(
            "{} did not finish syncing in {MAX_TRIPS} round trips",
            self.name(d)
        ))
    }
}
