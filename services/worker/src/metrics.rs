//! The worker's Prometheus metrics.

use opsbox_common::metrics::{self as common, JOB_DURATION_BUCKETS, QUEUE_WAIT_BUCKETS};
use opsbox_common::model::TaskKind;
use opsbox_common::queue::QueueDepth;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// How a job ended, as counted by `opsbox_jobs_processed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Retry,
    /// Will never succeed (bad payload, undecodable job): not retried.
    Failed,
    /// Used up its attempts: dead-lettered.
    Dead,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Done,
        Outcome::Retry,
        Outcome::Failed,
        Outcome::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retry => "retry",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
        }
    }
}

/// Why a delivery was dropped without an outcome of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Its run is not the task's current run, or the task is finished or gone.
    Stale,
    /// While it ran, another delivery of the same run claimed the task (or
    /// the task was re-run or deleted), so its outcome was discarded.
    Superseded,
}

impl Dropped {
    pub const ALL: [Dropped; 2] = [Dropped::Stale, Dropped::Superseded];

    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Stale => "stale",
            Dropped::Superseded => "superseded",
        }
    }
}

/// Label of jobs whose kind could not be read.
pub const UNKNOWN_KIND: &str = "unknown";

#[derive(Clone)]
pub struct WorkerMetrics {
    registry: Registry,
    processed: IntCounterVec,
    dropped: IntCounterVec,
    duration: HistogramVec,
    queue_wait: HistogramVec,
    queue_depth: IntGaugeVec,
    inflight: IntGauge,
}

impl WorkerMetrics {
    pub fn new(track: &str, release: &str) -> prometheus::Result<Self> {
        let registry = common::registry(track);
        common::register_build_info(&registry, release)?;
        let processed = IntCounterVec::new(
            Opts::new(
                "opsbox_jobs_processed_total",
                "Jobs executed, by kind and outcome.",
            ),
            &["kind", "outcome"],
        )?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "opsbox_jobs_dropped_total",
                "Deliveries dropped without effect, by reason.",
            ),
            &["reason"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "opsbox_job_duration_seconds",
                "Time executing a job, by kind.",
            )
            .buckets(JOB_DURATION_BUCKETS.to_vec()),
            &["kind"],
        )?;
        let queue_wait = HistogramVec::new(
            HistogramOpts::new(
                "opsbox_job_queue_wait_seconds",
                "Time from a job becoming ready to a worker taking it, by kind.",
            )
            .buckets(QUEUE_WAIT_BUCKETS.to_vec()),
            &["kind"],
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new(
                "opsbox_queue_depth",
                "Jobs in each part of the queue, read at scrape time.",
            ),
            &["queue"],
        )?;
        let inflight = IntGauge::new("opsbox_worker_inflight", "Jobs this worker is executing.")?;
        registry.register(Box::new(processed.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(queue_wait.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(inflight.clone()))?;

        // Every series exists from the start at 0, so rate() and ratios over
        // them are defined before the first failure happens.
        for kind in TaskKind::ALL {
            for outcome in Outcome::ALL {
                processed.with_label_values(&[kind.as_str(), outcome.as_str()]);
            }
            duration.with_label_values(&[kind.as_str()]);
            queue_wait.with_label_values(&[kind.as_str()]);
        }
        for reason in Dropped::ALL {
            dropped.with_label_values(&[reason.as_str()]);
        }
        Ok(Self {
            registry,
            processed,
            dropped,
            duration,
            queue_wait,
            queue_depth,
            inflight,
        })
    }

    pub fn job_processed(&self, kind: &str, outcome: Outcome) {
        self.processed
            .with_label_values(&[kind, outcome.as_str()])
            .inc();
    }

    pub fn job_dropped(&self, reason: Dropped) {
        self.dropped.with_label_values(&[reason.as_str()]).inc();
    }

    pub fn job_duration(&self, kind: TaskKind, seconds: f64) {
        self.duration
            .with_label_values(&[kind.as_str()])
            .observe(seconds);
    }

    pub fn queue_wait(&self, kind: TaskKind, seconds: f64) {
        self.queue_wait
            .with_label_values(&[kind.as_str()])
            .observe(seconds.max(0.0));
    }

    pub fn set_queue_depth(&self, depth: QueueDepth) {
        for (queue, value) in [
            ("ready", depth.ready),
            ("processing", depth.processing),
            ("dead", depth.dead),
            ("delayed", depth.delayed),
        ] {
            self.queue_depth
                .with_label_values(&[queue])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    pub fn inflight(&self) -> &IntGauge {
        &self.inflight
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        common::encode(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_exist_before_they_happen_and_carry_the_track() {
        let metrics = WorkerMetrics::new("canary", "v9").expect("metrics");
        metrics.job_processed("fail", Outcome::Dead);
        let text = metrics.encode();
        // Labels in the order the registry writes them: own ones, then the track.
        for expected in [
            r#"opsbox_jobs_processed_total{kind="io",outcome="done",track="canary"} 0"#,
            r#"opsbox_jobs_processed_total{kind="fail",outcome="dead",track="canary"} 1"#,
            r#"opsbox_build_info{version="v9",track="canary"} 1"#,
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }
}
