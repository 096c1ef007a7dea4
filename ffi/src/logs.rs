//! casesync's log events for the app: [`set_log_sink`] routes the `tracing` events of the
//! FFI (sync started and finished, pages, retries, refreshes, wipes, errors by code) to a
//! [`LogSink`] the app implements (Android: `android.util.Log`, i.e. Logcat).
//!
//! Events carry counts, codes and durations, never a name, a note or any other case
//! content, and never a token: what a support person may read off a phone.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// How serious an event is (most to least).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something went wrong and was handled (a retry, a refusal, a wipe).
    Warn,
    /// What a sync did, once per sync.
    Info,
    /// Per page and per round trip.
    Debug,
    /// Everything.
    Trace,
}

impl From<&Level> for LogLevel {
    fn from(l: &Level) -> Self {
        match *l {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// Receives casesync's log events. Called on the thread that logs; keep it short and
/// never let it throw.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// One event: `target` names the part (`casesync::sync`, ...), `message` is the text
    /// followed by its fields as `key=value`.
    fn log(&self, level: LogLevel, target: String, message: String);
}

type Current = Option<(Arc<dyn LogSink>, LogLevel)>;

/// The sink and the most detailed level it wants.
static SINK: RwLock<Current> = RwLock::new(None);

/// Routes casesync's log events at `max_level` and above to `sink`, replacing any sink
/// set before; `None` stops them. The first call installs casesync's `tracing`
/// subscriber for the process (when the process has one already, events go to that one
/// and the sink hears nothing).
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, max_level: LogLevel) {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(SinkLayer))
            .is_ok()
    });
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = sink.map(|s| (s, max_level));
}

/// Forwards events to [`SINK`].
struct SinkLayer;

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = LogLevel::from(meta.level());
        let sink = match &*SINK.read().unwrap_or_else(PoisonError::into_inner) {
            Some((sink, max)) if level <= *max => sink.clone(),
            _ => return,
        };
        let mut text = Text::default();
        event.record(&mut text);
        let message = if text.fields.is_empty() {
            text.message
        } else if text.message.is_empty() {
            text.fields
        } else {
            format!("{} {}", text.message, text.fields)
        };
        let target = meta.target().to_owned();
        // A sink that throws (a Kotlin exception surfaces as a panic) loses this event only.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sink.log(level, target, message)
        }));
    }
}

/// An event's message and its other fields as `key=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format_args!("{value:?}"));
    }
}

impl Text {
    fn record(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Keep(Mutex<Vec<(LogLevel, String, String)>>);

    impl LogSink for Keep {
        fn log(&self, level: LogLevel, target: String, message: String) {
            self.0.lock().expect("lock").push((level, target, message));
        }
    }

    #[test]
    fn events_reach_the_sink_at_its_level_with_their_fields() {
        let keep = Arc::new(Keep::default());
        set_log_sink(Some(keep.clone()), LogLevel::Info);
        tracing::info!(target: "casesync::sync", pages = 3, docs = 120, "sync finished");
        tracing::debug!(target: "casesync::sync", "not wanted at info");
        tracing::warn!(target: "casesync::sync", code = "network", "round trip failed");
        set_log_sink(None, LogLevel::Trace);
        tracing::error!(target: "casesync::sync", "after the sink was removed");
        let got = keep.0.lock().expect("lock").clone();
        assert_eq!(
            got,
            vec![
                (
                    LogLevel::Info,
                    "casesync::sync".to_owned(),
                    "sync finished pages=3 docs=120".to_owned()
                ),
                (
                    LogLevel::Warn,
                    "casesync::sync".to_owned(),
                    "round trip failed code=network".to_owned()
                ),
            ]
        );
    }
}
