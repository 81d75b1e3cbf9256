//! What every handler can reach: the database, the queue, metrics, faults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opsbox_common::queue::JobQueue;
use sqlx::PgPool;

use crate::faults::Faults;
use crate::metrics::ApiMetrics;

#[derive(Clone)]
pub struct AppContext {
    pub db: PgPool,
    pub queue: JobQueue,
    pub metrics: Arc<ApiMetrics>,
    pub faults: Arc<Faults>,
    pub admin_token: Option<Arc<str>>,
    draining: Arc<AtomicBool>,
}

impl AppContext {
    pub fn new(
        db: PgPool,
        queue: JobQueue,
        metrics: Arc<ApiMetrics>,
        faults: Arc<Faults>,
        admin_token: Option<Arc<str>>,
    ) -> Self {
        Self {
            db,
            queue,
            metrics,
            faults,
            admin_token,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once shutdown begins: readiness fails from then on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
