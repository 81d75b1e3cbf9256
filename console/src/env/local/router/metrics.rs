//! The router's own Prometheus metrics: requests per track and status class, upstream errors.

use std::sync::Arc;

use http::StatusCode;
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;

use opsbox_common::config::Track;

/// Status classes, the `code` label: per-code series would multiply cardinality for no
/// SLI that OpsBox computes.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// `track` label values; `none` counts requests no instance could take.
const TRACK_LABELS: [&str; 3] = ["stable", "canary", "none"];

/// Why a try to reach an upstream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamFailure {
    /// Nothing listens (or the handshake failed): the request was not sent and is tried elsewhere.
    Connect,
    /// The connection broke after the request was (maybe) sent: answered 502, never retried.
    Request,
    /// No response headers within the upstream timeout: answered 504.
    Timeout,
}

const FAILURE_LABELS: [&str; 3] = ["connect", "request", "timeout"];

impl UpstreamFailure {
    fn index(self) -> usize {
        match self {
            UpstreamFailure::Connect => 0,
            UpstreamFailure::Request => 1,
            UpstreamFailure::Timeout => 2,
        }
    }
}

/// Counts of answered requests by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub informational: u64,
    pub success: u64,
    pub redirection: u64,
    pub client_error: u64,
    pub server_error: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.informational + self.success + self.redirection + self.client_error + self.server_error
    }
}

/// What the router has answered since it started, for `opsbox status`'s traffic split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficTotals {
    pub stable: StatusCounts,
    pub canary: StatusCounts,
    /// Requests answered 503 `no_upstream` (or refused before routing, e.g. too large).
    pub unrouted: StatusCounts,
}

/// The router's registry, with every series resolved once so the request path only
/// increments atomics (no label hashing per request).
#[derive(Clone)]
pub struct RouterMetrics {
    inner: Arc<Series>,
}

struct Series {
    registry: Registry,
    requests: [[IntCounter; 5]; 3],
    upstream_errors: [[IntCounter; 3]; 2],
    canary_weight: IntGauge,
    upstreams: [IntGauge; 2],
}

fn track_index(track: Option<Track>) -> usize {
    match track {
        Some(Track::Stable) => 0,
        Some(Track::Canary) => 1,
        None => 2,
    }
}

fn class_index(status: StatusCode) -> usize {
    // StatusCode admits 100..=999; anything past 5xx is a broken upstream, so it counts as 5xx.
    (usize::from(status.as_u16() / 100)).clamp(1, 5) - 1
}

impl RouterMetrics {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests_vec = IntCounterVec::new(
            Opts::new(
                "opsbox_router_requests_total",
                "Requests answered by the local router, by track and status class.",
            ),
            &["track", "code"],
        )?;
        let errors_vec = IntCounterVec::new(
            Opts::new(
                "opsbox_router_upstream_errors_total",
                "Failed tries to reach an upstream instance, by track and kind.",
            ),
            &["track", "kind"],
        )?;
        let canary_weight = IntGauge::new(
            "opsbox_router_canary_weight",
            "Percentage of requests routed to the canary track.",
        )?;
        let upstreams_vec = IntGaugeVec::new(
            Opts::new(
                "opsbox_router_upstreams",
                "Instances the router knows per track.",
            ),
            &["track"],
        )?;
        registry.register(Box::new(requests_vec.clone()))?;
        registry.register(Box::new(errors_vec.clone()))?;
        registry.register(Box::new(canary_weight.clone()))?;
        registry.register(Box::new(upstreams_vec.clone()))?;

        let requests = std::array::from_fn(|track| {
            std::array::from_fn(|class| {
                requests_vec.with_label_values(&[TRACK_LABELS[track], STATUS_CLASSES[class]])
            })
        });
        let upstream_errors = std::array::from_fn(|track| {
            std::array::from_fn(|kind| {
                errors_vec.with_label_values(&[TRACK_LABELS[track], FAILURE_LABELS[kind]])
            })
        });
        let upstreams =
            std::array::from_fn(|track| upstreams_vec.with_label_values(&[TRACK_LABELS[track]]));
        Ok(Self {
            inner: Arc::new(Series {
                registry,
                requests,
                upstream_errors,
                canary_weight,
                upstreams,
            }),
        })
    }

    /// Counts one answered request; `track` is `None` when no instance took it.
    pub(crate) fn answered(&self, track: Option<Track>, status: StatusCode) {
        self.inner.requests[track_index(track)][class_index(status)].inc();
    }

    pub(crate) fn upstream_failed(&self, track: Track, failure: UpstreamFailure) {
        self.inner.upstream_errors[track_index(Some(track))][failure.index()].inc();
    }

    pub(crate) fn routing_changed(&self, canary_weight: u8, stable: usize, canary: usize) {
        self.inner.canary_weight.set(i64::from(canary_weight));
        self.inner.upstreams[0].set(i64::try_from(stable).unwrap_or(i64::MAX));
        self.inner.upstreams[1].set(i64::try_from(canary).unwrap_or(i64::MAX));
    }

    /// How many requests each track answered, by status class.
    pub fn traffic(&self) -> TrafficTotals {
        let counts = |track: usize| {
            let c = &self.inner.requests[track];
            StatusCounts {
                informational: c[0].get(),
                success: c[1].get(),
                redirection: c[2].get(),
                client_error: c[3].get(),
                server_error: c[4].get(),
            }
        };
        TrafficTotals {
            stable: counts(0),
            canary: counts(1),
            unrouted: counts(2),
        }
    }

    /// Failed tries to reach upstreams of a track, all kinds together.
    pub fn upstream_errors(&self, track: Track) -> u64 {
        self.inner.upstream_errors[track_index(Some(track))]
            .iter()
            .map(IntCounter::get)
            .sum()
    }

    /// The Prometheus text exposition of every router series.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec only fails on metric families that a registry cannot hold.
        if let Err(error) = TextEncoder::new().encode(&self.inner.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding router metrics failed");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_cover_every_valid_code() {
        assert_eq!(class_index(StatusCode::CONTINUE), 0);
        assert_eq!(class_index(StatusCode::OK), 1);
        assert_eq!(class_index(StatusCode::SERVICE_UNAVAILABLE), 4);
        let odd = StatusCode::from_u16(999).expect("valid status");
        assert_eq!(class_index(odd), 4);
    }

    #[test]
    fn renders_requests_by_track_and_class() {
        let metrics = RouterMetrics::new().expect("registry");
        metrics.answered(Some(Track::Canary), StatusCode::CREATED);
        metrics.answered(None, StatusCode::SERVICE_UNAVAILABLE);
        let text = metrics.render();
        assert!(
            text.contains(r#"opsbox_router_requests_total{code="2xx",track="canary"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"opsbox_router_requests_total{code="5xx",track="none"} 1"#),
            "{text}"
        );
        assert_eq!(metrics.traffic().canary.success, 1);
    }
}
