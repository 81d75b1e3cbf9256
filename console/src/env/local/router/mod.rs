//! The local ingress: a reverse proxy that splits API traffic between stable and canary by weight.
//!
//! `Router::bind` starts it; `RouterControl` changes the instances and the canary weight
//! while it runs. Each proxied response carries `X-Opsbox-Track` and `X-Opsbox-Instance`.
//! Its own metrics (`opsbox_router_requests_total{track,code}`,
//! `opsbox_router_upstream_errors_total{track,kind}`, `opsbox_router_canary_weight`,
//! `opsbox_router_upstreams{track}`) are served at `GET /metrics` on `metrics_addr()`, a
//! port of their own.

mod config;
mod forward;
mod headers;
mod listener;
mod metrics;
mod responses;
mod routing;
mod split;
mod weight;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{RouterConfig, MAX_BODY_BYTES};
pub use headers::{X_OPSBOX_INSTANCE, X_OPSBOX_TRACK};
pub use metrics::{RouterMetrics, StatusCounts, TrafficTotals};
pub use routing::{RouterControl, RoutingError, UpstreamTarget, MAX_INSTANCES_PER_TRACK};
pub use weight::{CanaryWeight, WeightOutOfRange};

use forward::Forwarder;
use listener::Stop;
use responses::RouterBody;

/// Scrapes at once on the metrics port; Prometheus and `opsbox status` need a handful.
const MAX_METRICS_CONNECTIONS: usize = 16;

/// The router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("router metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A running router. Dropping it stops it at once; `shutdown` drains first.
pub struct Router {
    public_addr: SocketAddr,
    metrics_addr: SocketAddr,
    control: RouterControl,
    stop: Stop,
    tracker: TaskTracker,
    drain_timeout: std::time::Duration,
}

impl Router {
    /// Binds both ports and starts serving on the current tokio runtime. It routes
    /// nothing until instances are added through [`Router::control`] (503 `no_upstream`).
    pub async fn bind(config: RouterConfig) -> Result<Router, RouterError> {
        let public = bind(config.listen).await?;
        let metrics_port = bind(config.metrics_listen).await?;
        let public_addr = local_addr(&public, config.listen)?;
        let metrics_addr = local_addr(&metrics_port, config.metrics_listen)?;

        let metrics = RouterMetrics::new()?;
        let control = RouterControl::new(metrics.clone());
        let forwarder = Arc::new(Forwarder::new(&config, control.clone()));
        let stop = Stop {
            draining: CancellationToken::new(),
            closing: CancellationToken::new(),
        };
        let tracker = TaskTracker::new();

        let proxy = move |request: Request<Incoming>, client: SocketAddr| {
            let forwarder = forwarder.clone();
            async move { forwarder.forward(request, client).await }
        };
        tracker.spawn(listener::serve(
            public,
            proxy,
            Arc::new(Semaphore::new(config.max_connections)),
            stop.clone(),
            tracker.clone(),
        ));
        let scrape = move |request: Request<Incoming>, _client: SocketAddr| {
            let answer = metrics_endpoint(&metrics, &request);
            async move { answer }
        };
        tracker.spawn(listener::serve(
            metrics_port,
            scrape,
            Arc::new(Semaphore::new(MAX_METRICS_CONNECTIONS)),
            stop.clone(),
            tracker.clone(),
        ));
        tracing::info!(%public_addr, %metrics_addr, "router listening");
        Ok(Router {
            public_addr,
            metrics_addr,
            control,
            stop,
            tracker,
            drain_timeout: config.drain_timeout,
        })
    }

    /// The public (ingress) address, with the port picked when the config asked for 0.
    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    /// Where `GET /metrics` answers.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The handle that changes instances and weight at run time.
    pub fn control(&self) -> RouterControl {
        self.control.clone()
    }

    /// Stops accepting, lets requests under way finish within the drain timeout, then
    /// closes what is left.
    pub async fn shutdown(self) {
        self.stop.draining.cancel();
        self.tracker.close();
        if tokio::time::timeout(self.drain_timeout, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("router drain timed out; closing remaining connections");
            self.stop.closing.cancel();
            self.tracker.wait().await;
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.draining.cancel();
        self.stop.closing.cancel();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, RouterError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RouterError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, RouterError> {
    listener
        .local_addr()
        .map_err(|source| RouterError::Bind { addr, source })
}

fn metrics_endpoint(metrics: &RouterMetrics, request: &Request<Incoming>) -> Response<RouterBody> {
    let (status, body) = if request.method() == Method::GET && request.uri().path() == "/metrics" {
        (StatusCode::OK, metrics.render())
    } else {
        (
            StatusCode::NOT_FOUND,
            "only GET /metrics is served here\n".to_owned(),
        )
    };
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
