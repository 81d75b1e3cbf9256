//! Where the router listens and how patient it is with upstreams.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The API refuses bodies above 64 KiB, so the router buffers at most that much per
/// request: enough to send a body again after a refused connection.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the router runs. `Default` is what `opsbox up` wants, except the ports it picks.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// The public port clients use (the ingress). Loopback by default: the local
    /// environment is for this machine only.
    pub listen: SocketAddr,
    /// Where `GET /metrics` serves the router's own Prometheus metrics. A separate port
    /// keeps the router's paths out of the API's namespace, as ingress-nginx does.
    pub metrics_listen: SocketAddr,
    /// How long to wait for an upstream to accept a connection before trying the next.
    pub connect_timeout: Duration,
    /// How long to wait for an upstream's response headers before answering 504.
    pub upstream_timeout: Duration,
    /// How long an instance that refused a connection is tried after the others of its track.
    pub refused_cooldown: Duration,
    /// Client connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Idle keep-alive connections kept per upstream instance.
    pub max_idle_per_upstream: usize,
    /// How long `shutdown` lets requests under way finish before closing their connections.
    pub drain_timeout: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            metrics_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            connect_timeout: Duration::from_secs(1),
            upstream_timeout: Duration::from_secs(30),
            refused_cooldown: Duration::from_secs(1),
            max_connections: 4096,
            max_idle_per_upstream: 256,
            drain_timeout: Duration::from_secs(10),
        }
    }
}
