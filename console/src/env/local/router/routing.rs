//! The routing table (instances per track and the canary weight), replaced atomically at run time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::uri::Authority;
use http::HeaderValue;
use serde::{Deserialize, Serialize};

use super::metrics::RouterMetrics;
use super::weight::CanaryWeight;
use opsbox_common::config::Track;

/// At most this many instances per track: a request's attempt order is a 64-bit mask.
pub const MAX_INSTANCES_PER_TRACK: usize = 64;

/// An instance the router may send requests to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTarget {
    /// The instance name, sent back in `X-Opsbox-Instance`.
    pub name: String,
    pub addr: SocketAddr,
}

impl UpstreamTarget {
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            name: name.into(),
            addr,
        }
    }
}

/// A routing table entry: the target, precomputed request parts, and whether it refused lately.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub target: UpstreamTarget,
    pub authority: Authority,
    pub instance_header: HeaderValue,
    created: Instant,
    /// Milliseconds since `created` until which this instance goes last in the attempt
    /// order, because it refused a connection; 0 when it has not.
    refused_until_ms: AtomicU64,
}

impl Upstream {
    fn new(target: UpstreamTarget) -> Result<Self, RoutingError> {
        let instance_header = HeaderValue::from_str(&target.name)
            .map_err(|_| RoutingError::InvalidInstanceName(target.name.clone()))?;
        let authority = Authority::try_from(target.addr.to_string().as_str())
            .map_err(|_| RoutingError::InvalidInstanceName(target.name.clone()))?;
        Ok(Self {
            target,
            authority,
            instance_header,
            created: Instant::now(),
            refused_until_ms: AtomicU64::new(0),
        })
    }

    fn elapsed_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.created).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this instance refused a connection within the cooldown: it is then tried
    /// after the others of its track, so a restarting instance costs one refused connect
    /// per cooldown instead of one per request.
    pub fn recently_refused(&self, now: Instant) -> bool {
        // Relaxed: a stale view only reorders one request's attempts.
        let until = self.refused_until_ms.load(Ordering::Relaxed);
        until != 0 && self.elapsed_ms(now) < until
    }

    pub fn refused(&self, now: Instant, cooldown: Duration) {
        let cooldown_ms = u64::try_from(cooldown.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let until = self.elapsed_ms(now).saturating_add(cooldown_ms);
        self.refused_until_ms.store(until, Ordering::Relaxed);
    }

    pub fn answered(&self) {
        // Load first so the common case does not write a cache line shared by all cores.
        if self.refused_until_ms.load(Ordering::Relaxed) != 0 {
            self.refused_until_ms.store(0, Ordering::Relaxed);
        }
    }
}

/// Where requests go: the canary weight and the instances of each track.
#[derive(Debug, Default)]
pub(crate) struct RoutingTable {
    pub canary_weight: CanaryWeight,
    stable: Vec<Arc<Upstream>>,
    canary: Vec<Arc<Upstream>>,
}

impl RoutingTable {
    pub fn instances(&self, track: Track) -> &[Arc<Upstream>] {
        match track {
            Track::Stable => &self.stable,
            Track::Canary => &self.canary,
        }
    }
}

/// A routing table update the router cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("instance name {0:?} cannot be sent in an HTTP header")]
    InvalidInstanceName(String),
    #[error("{count} instances for the {track} track; the router takes at most {max}")]
    TooManyInstances {
        track: Track,
        count: usize,
        max: usize,
    },
}

/// Changes where the running router sends traffic; cheap to clone and share.
///
/// Reads happen on every request and writes only when the supervisor restarts an instance
/// or a rollout changes the weight, so the table is an `ArcSwap`: a read is a few
/// uncontended atomics, where an `RwLock` read would bounce one shared counter between
/// cores on every request. (arc-swap is already in the tree through redis.)
#[derive(Clone)]
pub struct RouterControl {
    table: Arc<ArcSwap<RoutingTable>>,
    metrics: RouterMetrics,
}

impl RouterControl {
    pub(crate) fn new(metrics: RouterMetrics) -> Self {
        metrics.routing_changed(0, 0, 0);
        Self {
            table: Arc::new(ArcSwap::from_pointee(RoutingTable::default())),
            metrics,
        }
    }

    pub(crate) fn table(&self) -> arc_swap::Guard<Arc<RoutingTable>> {
        self.table.load()
    }

    /// Sets the percentage of requests that go to the canary track; takes effect on the
    /// next request.
    pub fn set_canary_weight(&self, canary_weight: CanaryWeight) {
        self.replace(|current| RoutingTable {
            canary_weight,
            stable: current.stable.clone(),
            canary: current.canary.clone(),
        });
    }

    pub fn canary_weight(&self) -> CanaryWeight {
        self.table.load().canary_weight
    }

    /// Replaces the instances of one track. Instances kept (same name and address) keep
    /// their refusal history; requests already under way finish on the table they started with.
    pub fn set_upstreams(
        &self,
        track: Track,
        targets: Vec<UpstreamTarget>,
    ) -> Result<(), RoutingError> {
        if targets.len() > MAX_INSTANCES_PER_TRACK {
            return Err(RoutingError::TooManyInstances {
                track,
                count: targets.len(),
                max: MAX_INSTANCES_PER_TRACK,
            });
        }
        let fresh = targets
            .into_iter()
            .map(|target| Upstream::new(target).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        self.replace(|current| {
            let instances: Vec<Arc<Upstream>> = fresh
                .iter()
                .map(|candidate| {
                    current
                        .instances(track)
                        .iter()
                        .find(|kept| kept.target == candidate.target)
                        .unwrap_or(candidate)
                        .clone()
                })
                .collect();
            let (stable, canary) = match track {
                Track::Stable => (instances, current.canary.clone()),
                Track::Canary => (current.stable.clone(), instances),
            };
            RoutingTable {
                canary_weight: current.canary_weight,
                stable,
                canary,
            }
        });
        Ok(())
    }

    /// The instances of one track, in routing order.
    pub fn upstreams(&self, track: Track) -> Vec<UpstreamTarget> {
        self.table
            .load()
            .instances(track)
            .iter()
            .map(|upstream| upstream.target.clone())
            .collect()
    }

    /// Requests and upstream errors counted so far.
    pub fn metrics(&self) -> &RouterMetrics {
        &self.metrics
    }

    fn replace(&self, next: impl Fn(&RoutingTable) -> RoutingTable) {
        // rcu retries `next` if another writer won the race, so concurrent updates of
        // the weight and of a track's instances never undo each other.
        self.table.rcu(|current| Arc::new(next(current)));
        let table = self.table.load();
        self.metrics.routing_changed(
            table.canary_weight.percent(),
            table.stable.len(),
            table.canary.len(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, port: u16) -> UpstreamTarget {
        UpstreamTarget::new(name, SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn updates_one_track_without_touching_the_other() {
        let control = RouterControl::new(RouterMetrics::new().expect("registry"));
        control
            .set_upstreams(Track::Stable, vec![target("api-1", 1001)])
            .expect("valid");
        control
            .set_upstreams(Track::Canary, vec![target("api-canary-1", 1002)])
            .expect("valid");
        control.set_canary_weight(CanaryWeight::new(20).expect("percentage"));
        assert_eq!(
            control.upstreams(Track::Stable),
            vec![target("api-1", 1001)]
        );
        assert_eq!(
            control.upstreams(Track::Canary),
            vec![target("api-canary-1", 1002)]
        );
        assert_eq!(control.canary_weight().percent(), 20);
    }

    #[test]
    fn kept_instances_keep_their_refusals() {
        let control = RouterControl::new(RouterMetrics::new().expect("registry"));
        control
            .set_upstreams(Track::Stable, vec![target("api-1", 1001)])
            .expect("valid");
        let now = Instant::now();
        control.table().instances(Track::Stable)[0].refused(now, Duration::from_secs(60));
        control
            .set_upstreams(
                Track::Stable,
                vec![target("api-1", 1001), target("api-2", 1003)],
            )
            .expect("valid");
        let table = control.table();
        assert!(table.instances(Track::Stable)[0].recently_refused(now));
        assert!(!table.instances(Track::Stable)[1].recently_refused(now));
    }

    #[test]
    fn rejects_names_that_cannot_be_headers() {
        let control = RouterControl::new(RouterMetrics::new().expect("registry"));
        let error = control
            .set_upstreams(Track::Stable, vec![target("api\n1", 1001)])
            .expect_err("newline in a header");
        assert_eq!(error, RoutingError::InvalidInstanceName("api\n1".into()));
    }
}
