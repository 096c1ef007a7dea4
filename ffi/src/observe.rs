//! Change notifications: the app registers a [`ChangeListener`] with
//! [`CaseStore::observe`] and hears which cases changed on the device — its own edits,
//! each page a sync saved, cases removed, the store wiped — once the change is saved.
//! Kotlin wraps it in a `Flow` (`AsyncCaseStore.changes()`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::{lock, CaseStore};

/// What made the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// An edit made on this device (including creating a case, discarding a refused
    /// edit).
    Edit,
    /// A sync page saved what the server sent (or removed cases it took away).
    Sync,
    /// Every case was erased (`erase_local_data`, or a revoked device at its sync).
    Wipe,
}

/// Cases that changed together, after they were saved.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseChanges {
    /// What made the change.
    pub origin: ChangeOrigin,
    /// Cases added or changed, sorted.
    pub changed: Vec<String>,
    /// Cases no longer on the device, sorted (empty for a wipe: every case is gone).
    pub removed: Vec<String>,
}

/// Told about every change to the device's cases. Called on the thread that made the
/// change (a sync's thread, the caller of an edit) after the store lock is released; keep
/// it short (hand the ids to a channel) and never let it throw.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// Cases changed.
    fn on_changes(&self, changes: CaseChanges);
}

/// The listeners of one store.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: AtomicU64,
    list: Mutex<Vec<(u64, Arc<dyn ChangeListener>)>>,
}

impl Listeners {
    /// Tells every listener (nothing when nothing changed). A listener that panics (a
    /// Kotlin exception surfaces as one) is skipped; the change is saved either way.
    pub(crate) fn notify(&self, origin: ChangeOrigin, changed: Vec<String>, removed: Vec<String>) {
        if origin != ChangeOrigin::Wipe && changed.is_empty() && removed.is_empty() {
            return;
        }
        let listeners: Vec<Arc<dyn ChangeListener>> =
            lock(&self.list).iter().map(|(_, l)| l.clone()).collect();
        if listeners.is_empty() {
            return;
        }
        let changes = CaseChanges {
            origin,
            changed,
            removed,
        };
        for l in listeners {
            let c = changes.clone();
            if catch_unwind(AssertUnwindSafe(|| l.on_changes(c))).is_err() {
                tracing::warn!(target: "casesync::observe", "a change listener failed");
            }
        }
    }

    /// Tells every listener that `case_id` changed by a local edit.
    pub(crate) fn edited(&self, case_id: &str) {
        self.notify(ChangeOrigin::Edit, vec![case_id.to_owned()], Vec::new());
    }
}

/// A registered listener: it hears changes until `close()` (Kotlin) drops this handle.
#[derive(uniffi::Object)]
pub struct Subscription {
    listeners: Arc<Listeners>,
    id: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.listeners.list).retain(|(id, _)| *id != self.id);
    }
}

#[uniffi::export]
impl CaseStore {
    /// Registers `listener` for every change to this device's cases (see
    /// [`ChangeListener`]); it is told until the returned handle is closed.
    pub fn observe(&self, listener: Arc<dyn ChangeListener>) -> Arc<Subscription> {
        let id = self.listeners.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.listeners.list).push((id, listener));
        Arc::new(Subscription {
            listeners: self.listeners.clone(),
            id,
        })
    }
}
