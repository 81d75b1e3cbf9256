//! Prometheus registry conventions shared by the services.

use std::collections::HashMap;

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

/// HTTP latency buckets. 0.3 s is the latency SLO's threshold and must stay a
/// bucket boundary, or the SLI cannot be computed from the histogram.
pub const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Queue-wait buckets. 30 s is the queue-freshness SLO's threshold.
pub const QUEUE_WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Job execution buckets, from instant io jobs to long cpu jobs.
pub const JOB_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A registry whose every metric carries the deployment track, so that SLIs
/// can be computed per track (stable vs canary).
pub fn registry(track: &str) -> Registry {
    let labels = HashMap::from([("track".to_owned(), track.to_owned())]);
    // Only fails on an invalid label name, and "track" is valid.
    Registry::new_custom(None, Some(labels)).unwrap_or_default()
}

/// Registers `opsbox_build_info{version,track} 1`.
pub fn register_build_info(registry: &Registry, version: &str) -> prometheus::Result<()> {
    let info = IntGaugeVec::new(
        Opts::new(
            "opsbox_build_info",
            "Build and deployment of this process; always 1.",
        ),
        &["version"],
    )?;
    info.with_label_values(&[version]).set(1);
    registry.register(Box::new(info))
}

/// The registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(buffer).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_carries_the_track_and_build_info_the_version() {
        let registry = registry("canary");
        register_build_info(&registry, "v2").expect("register");
        let text = encode(&registry);
        // The registry's const labels come after the metric's own ones.
        assert!(
            text.contains(r#"opsbox_build_info{version="v2",track="canary"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn slo_thresholds_are_bucket_boundaries() {
        assert!(HTTP_BUCKETS.contains(&0.3));
        assert!(QUEUE_WAIT_BUCKETS.contains(&30.0));
    }
}
