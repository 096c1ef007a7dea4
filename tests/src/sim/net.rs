//! The simulated network: one link per device that can be cut (partition), and the
//! messages in flight, which the simulation delivers in any order (delay, reordering
//! across devices), drops or duplicates.

/// What travels.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Device to server. `orphan`: a duplicate nobody waits for.
    Request {
        /// Request number (unique in the run).
        id: u64,
        /// Encoded request.
        bytes: Vec<u8>,
        /// A duplicate: its response is thrown away.
        orphan: bool,
    },
    /// Server to device.
    Response {
        /// Number of the request it answers.
        id: u64,
        /// Encoded response.
        bytes: Vec<u8>,
    },
}

/// A message in flight for a device slot.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Device slot.
    pub device: usize,
    /// The message.
    pub payload: Payload,
}

impl Packet {
    /// Short text for the trace.
    pub fn describe(&self) -> String {
        match &self.payload {
            Payload::Request { id, orphan, .. } => format!(
                "req#{id}{} of d{}",
                if *orphan { " (dup)" } else { "" },
                self.device
            ),
            Payload::Response { id, .. } => format!("resp#{id} to d{}", self.device),
        }
    }
}

/// Links and messages in flight.
#[derive(Debug, Default)]
pub struct Net {
    up: Vec<bool>,
    /// Messages in flight, in the order they were sent.
    pub in_flight: Vec<Packet>,
}

impl Net {
    /// Adds a link (up) for a new device slot.
    pub fn add_link(&mut self) {
        self.up.push(true);
    }

    /// Whether a device's link is up.
    pub fn is_up(&self, device: usize) -> bool {
        self.up.get(device).copied().unwrap_or(false)
    }

    /// Cuts a device's link: what is in flight to or from it is lost on delivery.
    pub fn partition(&mut self, device: usize) {
        if let Some(u) = self.up.get_mut(device) {
            *u = false;
        }
    }

    /// Restores a device's link.
    pub fn heal(&mut self, device: usize) {
        if let Some(u) = self.up.get_mut(device) {
            *u = true;
        }
    }

    /// Restores every link.
    pub fn heal_all(&mut self) {
        self.up.iter_mut().for_each(|u| *u = true);
    }

    /// Sends a message.
    pub fn send(&mut self, packet: Packet) {
        self.in_flight.push(packet);
    }

    /// Takes the `i`-th message in flight (modulo their number).
    pub fn take(&mut self, i: usize) -> Option<Packet> {
        if self.in_flight.is_empty() {
            return None;
        }
        let i = i % self.in_flight.len();
        Some(self.in_flight.remove(i))
    }

    /// Whether a device has a message in flight for request `id`.
    pub fn carries(&self, device: usize, id: u64) -> bool {
        self.in_flight.iter().any(|p| {
            p.device == device
                && match &p.payload {
                    Payload::Request { id: r, orphan, .. } => *r == id && !orphan,
                    Payload::Response { id: r, .. } => *r == id,
                }
        })
    }
}
