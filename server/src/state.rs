//! What every request handler shares, the JSON API's (`http/`) and the dashboard's
//! (`web/`) alike: [`AppState`]. Both depend on this module, not on each other (`http`
//! only mounts the dashboard's router); the read model of cases (`web::data`) is held
//! here, for the dashboard and the agencies' API alike.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::Auth;
use crate::config::Settings;
use crate::store::{Storage, StoreError};
use crate::sync::SyncEngine;
use crate::web::data::CaseCache;

/// Everything the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Storage>,
    /// The sync engine.
    pub engine: SyncEngine,
    /// Authentication.
    pub auth: Arc<Auth>,
    /// Settings.
    pub settings: Settings,
    /// The engine's writer lock ([`SyncEngine::writer`]): every store write of case
    /// data holds it, so sequence numbers are committed in order.
    pub writer: Arc<tokio::sync::Mutex<()>>,
    /// Prometheus renderer (`None`: `/metrics` is empty).
    pub metrics: Option<PrometheusHandle>,
    /// The read model of cases by scope, kept current through the change log: the
    /// dashboard's pages and the agencies' referral lists (JSON and dashboard) read it.
    pub cases: Arc<CaseCache>,
}

impl AppState {
    /// State over `store` with `settings` (creates the token secret at first start).
    pub fn new(store: Arc<dyn Storage>, settings: Settings) -> Result<Self, StoreError> {
        let engine = SyncEngine::new(store.clone(), settings.clone());
        Ok(AppState {
            writer: engine.writer(),
            engine,
            auth: Arc::new(Auth::new(store.clone(), settings.clone())?),
            store,
            settings,
            metrics: crate::metrics_handle(),
            cases: Arc::new(CaseCache::default()),
        })
    }
}
