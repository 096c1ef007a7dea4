//! An emulated slow link: a shaping TCP proxy on loopback (`sync-bench --link edge`).
//!
//! Every connection through the proxy shares one FIFO per direction: a chunk read from
//! one side waits until the link is free, takes its serialisation time at the link's
//! rate (`bytes × 8 / kbit`), then the one-way propagation delay, before it is written
//! to the other side. A new connection first waits one round trip (the TCP handshake).
//! The bytes counted are what crosses the proxy: HTTP headers and bodies (TCP/IP
//! headers, retransmissions and TLS are not emulated).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

/// Largest chunk moved at once: one TCP segment, so the far side receives bytes as they
/// arrive rather than a whole response at once.
const SEGMENT: usize = 1460;

/// A link's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Downstream rate (server to device), kbit/s.
    pub down_kbit: u32,
    /// Upstream rate (device to server), kbit/s.
    pub up_kbit: u32,
    /// The link drops: every connection is cut this long after it opened (`None`: never).
    pub drop_after: Option<Duration>,
}

impl LinkSpec {
    /// EDGE (2G) as the issue measures it: 300 ms each way, 150 kbit/s down, 60 up.
    pub const EDGE: LinkSpec = LinkSpec {
        delay: Duration::from_millis(300),
        down_kbit: 150,
        up_kbit: 60,
        drop_after: None,
    };
    /// A poor 3G link (Chrome's "Regular 3G"): 100 ms each way, 750 down, 250 up.
    pub const G3: LinkSpec = LinkSpec {
        delay: Duration::from_millis(100),
        down_kbit: 750,
        up_kbit: 250,
        drop_after: None,
    };

    /// `edge` or `3g`.
    pub fn named(name: &str) -> Result<LinkSpec> {
        match name {
            "edge" | "2g" => Ok(Self::EDGE),
            "3g" => Ok(Self::G3),
            other => bail!("unknown link {other:?}: edge or 3g"),
        }
    }

    /// `300ms/150/60 kbit`-style description.
    pub fn describe(&self) -> String {
        format!(
            "{} ms each way, {} kbit/s down, {} kbit/s up",
            self.delay.as_millis(),
            self.down_kbit,
            self.up_kbit
        )
    }
}

/// What crossed the link so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes device to server.
    pub up: AtomicU64,
    /// Bytes server to device.
    pub down: AtomicU64,
    /// TCP connections opened.
    pub connections: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes device to server.
    pub up: u64,
    /// Bytes server to device.
    pub down: u64,
    /// TCP connections opened.
    pub connections: u64,
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;
    fn sub(self, o: Traffic) -> Traffic {
        Traffic {
            up: self.up - o.up,
            down: self.down - o.down,
            connections: self.connections - o.connections,
        }
    }
}

/// One direction of the link: when it is next free.
struct Direction {
    bits_per_sec: f64,
    delay: Duration,
    free_at: Mutex<Option<Instant>>,
}

impl Direction {
    fn new(kbit: u32, delay: Duration) -> Self {
        Direction {
            bits_per_sec: f64::from(kbit.max(1)) * 1000.0,
            delay,
            free_at: Mutex::new(None),
        }
    }

    /// When `n` bytes that arrive at `now` are delivered at the far end.
    fn schedule(&self, now: Instant, n: usize) -> Instant {
        let mut free = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        let start = free.map_or(now, |f| f.max(now));
        let end = start + Duration::from_secs_f64(n as f64 * 8.0 / self.bits_per_sec);
        *free = Some(end);
        end + self.delay
    }
}

/// A running shaping proxy to one upstream address.
pub struct Link {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub url: String,
    /// Its shape.
    pub spec: LinkSpec,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Link {
    /// Starts a proxy on an ephemeral loopback port forwarding to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: &str, spec: LinkSpec) -> Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let counters = Arc::new(Counters::default());
        let up = Arc::new(Direction::new(spec.up_kbit, spec.delay));
        let down = Arc::new(Direction::new(spec.down_kbit, spec.delay));
        let upstream = upstream.to_owned();
        let c = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.connections.fetch_add(1, Ordering::Relaxed);
                let (up, down, c, upstream) =
                    (up.clone(), down.clone(), c.clone(), upstream.clone());
                tokio::spawn(async move {
                    // The handshake: the client's first bytes leave one round trip later.
                    sleep(spec.delay * 2).await;
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let both = async {
                        tokio::join!(
                            pump(cr, sw, up, c.clone(), true),
                            pump(sr, cw, down, c, false)
                        )
                    };
                    match spec.drop_after {
                        // Dropping the halves closes both sockets mid-transfer.
                        Some(life) => {
                            let _ = tokio::time::timeout(life, both).await;
                        }
                        None => {
                            both.await;
                        }
                    }
                });
            }
        });
        Ok(Link {
            url,
            spec,
            counters,
            task,
        })
    }

    /// What crossed the link so far.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Moves bytes from `r` to `w` through `dir`, in order.
async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    dir: Arc<Direction>,
    counters: Arc<Counters>,
    upward: bool,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, Instant)>();
    let reader = async move {
        let mut buf = vec![0u8; SEGMENT];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let counter = if upward { &counters.up } else { &counters.down };
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    let at = dir.schedule(Instant::now(), n);
                    if tx.send((buf[..n].to_vec(), at)).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((chunk, at)) = rx.recv().await {
            sleep_until(at).await;
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_queues_behind_earlier_bytes_then_adds_the_delay() {
        let d = Direction::new(80, Duration::from_millis(300)); // 10 bytes per ms
        let t0 = Instant::now();
        let a = d.schedule(t0, 1000); // 100 ms on the wire
        let b = d.schedule(t0, 500); // queued behind it: 50 ms more
        assert_eq!(a - t0, Duration::from_millis(400));
        assert_eq!(b - t0, Duration::from_millis(450));
        // Once the link is idle again, only the bytes' own time and the delay count.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(d.schedule(t1, 10) - t1, Duration::from_millis(301));
    }
}
