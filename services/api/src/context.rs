//! What every handler can reach: the database, the queue, metrics, faults, flags.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opsbox_common::queue::JobQueue;
use sqlx::PgPool;

use crate::faults::Faults;
use crate::flags::FeatureFlags;
use crate::metrics::ApiMetrics;

/// Cloned for every request and middleware, so it is one reference count.
#[derive(Clone)]
pub struct AppContext(Arc<Shared>);

pub struct Shared {
    pub db: PgPool,
    pub queue: JobQueue,
    pub metrics: ApiMetrics,
    pub faults: Faults,
    /// Shared with the task that re-reads the flags file.
    pub flags: Arc<FeatureFlags>,
    pub admin_token: Option<Box<str>>,
    draining: AtomicBool,
}

impl AppContext {
    pub fn new(
        db: PgPool,
        queue: JobQueue,
        metrics: ApiMetrics,
        faults: Faults,
        flags: Arc<FeatureFlags>,
        admin_token: Option<Box<str>>,
    ) -> Self {
        Self(Arc::new(Shared {
            db,
            queue,
            metrics,
            faults,
            flags,
            admin_token,
            draining: AtomicBool::new(false),
        }))
    }

    /// Set once shutdown begins: readiness fails from then on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

impl Deref for AppContext {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
