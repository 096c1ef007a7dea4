//! Sync over the simulated network: requests sent, delivered, answered, lost,
//! duplicated or given up on, and responses applied.

use casesync_core::sync::{Step, SyncSession};

use super::{e, Packet, Payload, Sim, Status, R};

impl<'a> Sim<'a> {
    /// Device `d` sends its next sync request (opening a session if none is open).
    /// Nothing happens if it already waits for a response; with its link cut, the
    /// request fails at once.
    pub fn sync(&mut self, d: usize) -> R<()> {
        // A phone whose last refresh answer was lost refreshes first (its access token is
        // due), with the spent token: the same successor within the grace window, a
        // password login after it.
        if self.dev(d)?.lost_successor.is_some() && self.dev(d)?.waiting.is_none() {
            self.refresh(d, false)?;
        }
        let up = self.net.is_up(d);
        let id = self.next_request + 1;
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        if dev.status == Status::Wiped || dev.waiting.is_some() || dev.signed_out {
            return Ok(());
        }
        if dev.session.is_none() {
            dev.session = Some(SyncSession::new(dev.store, &dev.id, self.page_bytes).map_err(e)?);
        }
        let Some(session) = dev.session.as_mut() else {
            return Ok(());
        };
        let bytes = session
            .next_request()
            .map_err(|x| format!("next_request: {x}"))?;
        if !up {
            session.abandon_request();
            dev.session = None;
            self.stats.lost += 1;
            self.note(format!("{} cannot connect (link down)", self.name(d)));
            return Ok(());
        }
        self.next_request = id;
        dev.waiting = Some(id);
        self.net.send(Packet {
            device: d,
            payload: Payload::Request {
                id,
                bytes,
                orphan: false,
            },
        });
        self.note(format!("{} sends req#{id}", self.name(d)));
        Ok(())
    }

    /// Delivers the `i`-th message in flight (any device's: reordering), or loses it
    /// if its device's link is cut.
    pub fn deliver(&mut self, i: usize) -> R<()> {
        let Some(p) = self.net.take(i) else {
            return Ok(());
        };
        if !self.net.is_up(p.device) {
            self.stats.lost += 1;
            self.note(format!("{} lost (link down)", p.describe()));
            return Ok(());
        }
        match p.payload {
            Payload::Request { id, bytes, orphan } => {
                let served = self.server.serve(&bytes)?;
                self.stats.served += 1;
                let r = &served.response;
                self.note(format!(
                    "server answers req#{id}{} of {}: {} acked, {} refused{}, {} docs, {} removed{}{}{}",
                    if orphan { " (dup)" } else { "" },
                    self.name(p.device),
                    r.acked.len(),
                    r.refused.len(),
                    refusals(r),
                    r.docs.len(),
                    r.removed.len(),
                    if r.more { ", more" } else { "" },
                    if r.wipe { ", WIPE" } else { "" },
                    page_items(r),
                ));
                if !orphan {
                    self.net.send(Packet {
                        device: p.device,
                        payload: Payload::Response {
                            id,
                            bytes: served.bytes,
                        },
                    });
                }
                Ok(())
            }
            Payload::Response { id, bytes } => self.receive(p.device, id, &bytes),
        }
    }

    /// Device `d` applies the response to request `id` (ignored if it gave up on it).
    pub(super) fn receive(&mut self, d: usize, id: u64, bytes: &[u8]) -> R<()> {
        let name = self.name(d);
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        if dev.waiting != Some(id) {
            self.note(format!("{name} ignores resp#{id} (gave up on it)"));
            return Ok(());
        }
        dev.waiting = None;
        let Some(session) = dev.session.as_mut() else {
            return Err(format!("{name} waits without a session"));
        };
        let step = session
            .handle_response(bytes)
            .map_err(|x| format!("{name} failed to apply resp#{id}: {x}"))?;
        match step {
            Step::Continue => {}
            Step::Done => dev.session = None,
            Step::Wiped => {
                if dev.status != Status::Revoked {
                    return Err(format!(
                        "WIPED WITHOUT ADMIN REVOKE: {name} was told to wipe by resp#{id}"
                    ));
                }
                dev.session = None;
                dev.status = Status::Wiped;
            }
        }
        self.note(format!("{name} applies resp#{id}: {step:?}"));
        self.check_no_leak(d)?;
        if step == Step::Continue {
            self.sync(d)?;
        }
        Ok(())
    }

    /// Device `d` stops waiting for its response (time-out): the request may still
    /// reach the server, whose answer is then lost. `end`: it also closes the session.
    pub fn timeout(&mut self, d: usize, end: bool) -> R<()> {
        let name = self.name(d);
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        let Some(id) = dev.waiting.take() else {
            return Ok(());
        };
        if let Some(s) = dev.session.as_mut() {
            s.abandon_request();
        }
        if end {
            dev.session = None;
        }
        self.note(format!(
            "{name} times out on req#{id}{}",
            if end { " and ends its session" } else { "" }
        ));
        Ok(())
    }

    /// Loses the `i`-th message in flight.
    pub fn drop_message(&mut self, i: usize) -> R<()> {
        if let Some(p) = self.net.take(i) {
            self.stats.lost += 1;
            self.note(format!("{} dropped", p.describe()));
        }
        Ok(())
    }

    /// Duplicates the `i`-th message in flight if it is a request: the copy reaches the
    /// server later and its answer is thrown away.
    pub fn duplicate(&mut self, i: usize) -> R<()> {
        if self.net.in_flight.is_empty() {
            return Ok(());
        }
        let i = i % self.net.in_flight.len();
        let p = self.net.in_flight[i].clone();
        if let Payload::Request { id, bytes, .. } = p.payload {
            self.stats.duplicated += 1;
            self.net.send(Packet {
                device: p.device,
                payload: Payload::Request {
                    id,
                    bytes,
                    orphan: true,
                },
            });
            self.note(format!("req#{id} of {} duplicated", self.name(p.device)));
        }
        Ok(())
    }
}

/// The refusals of a response, for the trace.
/// The page's documents (`id:S` a snapshot, `id:Cn` n changes) and removals, for the
/// step log.
pub(super) fn page_items(r: &casesync_core::protocol::SyncResponse) -> String {
    use casesync_core::protocol::DocBody;
    let docs: Vec<String> = r
        .docs
        .iter()
        .map(|d| match &d.body {
            DocBody::Changes(cs) => format!("{}:C{}", d.doc_id, cs.len()),
            DocBody::Snapshot { .. } => format!("{}:S", d.doc_id),
        })
        .collect();
    format!(" {{{}; -{}}}", docs.join(" "), r.removed.join(" -"))
}

pub(super) fn refusals(r: &casesync_core::protocol::SyncResponse) -> String {
    if r.refused.is_empty() {
        return String::new();
    }
    let list: Vec<String> = r
        .refused
        .iter()
        .map(|x| format!("{}:{:?}", x.doc_id, x.code))
        .collect();
    format!(" [{}]", list.join(", "))
}
