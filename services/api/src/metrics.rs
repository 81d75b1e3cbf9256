//! The API's Prometheus metrics.

use opsbox_common::metrics as common;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use sqlx::PgPool;

pub struct ApiMetrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    /// Requests being served: what a graceful shutdown still has to drain.
    pub requests_in_flight: IntGaugeVec,
    pub tasks_created: IntCounter,
    pub jobs_enqueued: IntCounter,
    /// 1 when a feature flag is on, 0 when off, by `flag`.
    pub feature_flag: IntGaugeVec,
    /// Contents of the flags file that were refused (the last good flags stayed).
    pub flags_refused: IntCounter,
    db_pool: IntGaugeVec,
}

impl ApiMetrics {
    pub fn new(track: &str, version: &str) -> prometheus::Result<Self> {
        let registry = common::registry(track);
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by matched route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency.")
                .buckets(common::HTTP_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let requests_in_flight = IntGaugeVec::new(
            Opts::new(
                "http_requests_in_flight",
                "HTTP requests being served, by matched route template.",
            ),
            &["method", "route"],
        )?;
        let tasks_created = IntCounter::new("opsbox_tasks_created_total", "Tasks created.")?;
        let jobs_enqueued = IntCounter::new("opsbox_jobs_enqueued_total", "Task runs queued.")?;
        let feature_flag = IntGaugeVec::new(
            Opts::new(
                "opsbox_feature_flag",
                "Feature flags in force: 1 on, 0 off.",
            ),
            &["flag"],
        )?;
        let flags_refused = IntCounter::new(
            "opsbox_feature_flags_refused_total",
            "Contents of the flags file refused as unreadable or invalid; the last good flags stayed in force.",
        )?;
        let db_pool = IntGaugeVec::new(
            Opts::new(
                "opsbox_db_pool_connections",
                "Postgres pool connections by state.",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(requests_in_flight.clone()))?;
        registry.register(Box::new(tasks_created.clone()))?;
        registry.register(Box::new(jobs_enqueued.clone()))?;
        registry.register(Box::new(db_pool.clone()))?;
        registry.register(Box::new(feature_flag.clone()))?;
        registry.register(Box::new(flags_refused.clone()))?;
        common::register_build_info(&registry, version)?;
        Ok(Self {
            registry,
            requests,
            request_duration,
            requests_in_flight,
            tasks_created,
            jobs_enqueued,
            feature_flag,
            flags_refused,
            db_pool,
        })
    }

    /// The text exposition, with the pool gauges read at scrape time.
    pub fn render(&self, db: &PgPool) -> String {
        let size = i64::from(db.size());
        let idle = i64::try_from(db.num_idle()).unwrap_or(i64::MAX);
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool.with_label_values(&["in_use"]).set(size - idle);
        self.db_pool
            .with_label_values(&["max"])
            .set(i64::from(db.options().get_max_connections()));
        common::encode(&self.registry)
    }
}
