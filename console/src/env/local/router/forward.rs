//! Forwards one request: buffer the body, pick a track and instance, retry only refused connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::config::{RouterConfig, MAX_BODY_BYTES};
use super::headers::{
    append_forwarded_for, strip_hop_by_hop, track_header, X_OPSBOX_INSTANCE, X_OPSBOX_TRACK,
};
use super::metrics::UpstreamFailure;
use super::responses::{RouterBody, RouterRefusal};
use super::routing::{RouterControl, Upstream};
use super::split::TrafficSplit;
use opsbox_common::config::Track;

/// How long an idle pooled upstream connection is kept; the API keeps them open longer.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// TCP keep-alive on upstream connections, so a vanished instance's sockets are noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// The proxy behind the public port.
pub(crate) struct Forwarder {
    control: RouterControl,
    split: TrafficSplit,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream_timeout: Duration,
    refused_cooldown: Duration,
}

/// What one try at one instance came to.
enum Attempt {
    Answered(Response<Incoming>),
    /// Nothing was sent, or the request is safe to send again: the next instance may take it.
    Refused,
    Failed(RouterRefusal),
}

impl Forwarder {
    pub fn new(config: &RouterConfig, control: RouterControl) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_keepalive(Some(TCP_KEEPALIVE));
        // A pooled keep-alive connection per instance saves a handshake per request. A
        // request that finds its pooled connection closed before it was written is
        // re-sent by hyper (retry_canceled_requests, on by default): that is safe, the
        // instance never saw it.
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(config.max_idle_per_upstream)
            .build(connector);
        Self {
            control,
            split: TrafficSplit::default(),
            client,
            upstream_timeout: config.upstream_timeout,
            refused_cooldown: config.refused_cooldown,
        }
    }

    pub async fn forward(
        &self,
        request: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<RouterBody> {
        let (mut parts, body) = request.into_parts();
        let body = match buffer_body(&parts.headers, body).await {
            Ok(body) => body,
            Err(refusal) => return self.refuse(None, refusal),
        };
        strip_hop_by_hop(&mut parts.headers);
        append_forwarded_for(&mut parts.headers, client.ip());

        let table = self.control.table();
        let preferred = self.split.next_track(table.canary_weight);
        let now = Instant::now();
        // The chosen track first; the other only when no instance of the chosen one is up,
        // so a canary restart never sends canary traffic to stable while a canary is up.
        for track in [preferred, preferred.other()] {
            let instances = table.instances(track);
            if instances.is_empty() {
                continue;
            }
            let start = self.split.next_start(track, instances.len());
            for upstream in attempt_order(instances, start, now) {
                match self.attempt(&parts, &body, upstream, track).await {
                    Attempt::Answered(response) => {
                        upstream.answered();
                        return self.relay(response, track, upstream);
                    }
                    Attempt::Refused => upstream.refused(now, self.refused_cooldown),
                    Attempt::Failed(refusal) => return self.refuse(Some(track), refusal),
                }
            }
        }
        self.refuse(None, RouterRefusal::NoUpstream)
    }

    async fn attempt(
        &self,
        parts: &Parts,
        body: &Bytes,
        upstream: &Upstream,
        track: Track,
    ) -> Attempt {
        let request = match upstream_request(parts, body, upstream) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, "request cannot be forwarded");
                return Attempt::Failed(RouterRefusal::UnreadableBody);
            }
        };
        match tokio::time::timeout(self.upstream_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Attempt::Answered(response),
            Ok(Err(error)) if error.is_connect() => {
                tracing::debug!(instance = %upstream.target.name, %error, "instance refused the connection");
                self.control
                    .metrics()
                    .upstream_failed(track, UpstreamFailure::Connect);
                Attempt::Refused
            }
            Ok(Err(error)) => {
                self.control
                    .metrics()
                    .upstream_failed(track, UpstreamFailure::Request);
                // The request was sent and the connection broke before a response. An
                // instance that is shutting down closes idle keep-alive connections, and
                // a request written into one just then is lost unread: the usual
                // keep-alive race, which hit ~1 in 4 test runs of a graceful stop under
                // load. A safe method (GET, HEAD, OPTIONS, TRACE) changes nothing when
                // sent again, so it goes to the next instance (RFC 9112 §9.3.1, as nginx
                // and Go's transport do). Anything else may have been applied (a task
                // created), so the client gets the failure rather than a duplicate.
                if parts.method.is_safe() {
                    tracing::debug!(instance = %upstream.target.name, error = ?error, "connection broke; sending the safe request elsewhere");
                    Attempt::Refused
                } else {
                    tracing::warn!(instance = %upstream.target.name, error = ?error, "instance failed while answering");
                    Attempt::Failed(RouterRefusal::UpstreamFailed)
                }
            }
            Err(_) => {
                tracing::warn!(instance = %upstream.target.name, "instance did not answer in time");
                self.control
                    .metrics()
                    .upstream_failed(track, UpstreamFailure::Timeout);
                Attempt::Failed(RouterRefusal::UpstreamTimeout)
            }
        }
    }

    fn relay(
        &self,
        response: Response<Incoming>,
        track: Track,
        upstream: &Upstream,
    ) -> Response<RouterBody> {
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.insert(X_OPSBOX_TRACK, track_header(track));
        parts
            .headers
            .insert(X_OPSBOX_INSTANCE, upstream.instance_header.clone());
        self.control.metrics().answered(Some(track), parts.status);
        Response::from_parts(parts, Either::Left(body))
    }

    fn refuse(&self, track: Option<Track>, refusal: RouterRefusal) -> Response<RouterBody> {
        let mut response = refusal.response();
        if let Some(track) = track {
            response
                .headers_mut()
                .insert(X_OPSBOX_TRACK, track_header(track));
        }
        self.control.metrics().answered(track, response.status());
        response
    }
}

/// Reads the whole body (at most [`MAX_BODY_BYTES`]) so it can be sent again after a refusal.
async fn buffer_body(headers: &HeaderMap, body: Incoming) -> Result<Bytes, RouterRefusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(RouterRefusal::PayloadTooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(RouterRefusal::PayloadTooLarge)
        }
        Err(error) => {
            tracing::debug!(%error, "client body unreadable");
            Err(RouterRefusal::UnreadableBody)
        }
    }
}

/// Instances of one track starting at the round-robin position; those that refused a
/// connection lately come last (still tried: they may be back). Each appears once.
fn attempt_order<'a>(
    instances: &'a [Arc<Upstream>],
    start: usize,
    now: Instant,
) -> impl Iterator<Item = &'a Arc<Upstream>> + 'a {
    let count = instances.len();
    // Decided once per request, so an instance that refuses during this request is not
    // tried a second time. The routing table caps a track at 64 instances.
    let refused: u64 = instances
        .iter()
        .enumerate()
        .filter(|(_, upstream)| upstream.recently_refused(now))
        .fold(0, |mask, (index, _)| mask | (1u64 << index));
    let rotation = move || (0..count).map(move |step| (start + step) % count);
    let is_refused = move |index: &usize| refused & (1u64 << *index) != 0;
    rotation()
        .filter(move |index| !is_refused(index))
        .chain(rotation().filter(is_refused))
        .map(move |index| &instances[index])
}

fn upstream_request(
    parts: &Parts,
    body: &Bytes,
    upstream: &Upstream,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(upstream.authority.clone())
        .path_and_query(path_and_query)
        .build()?;
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = parts.headers.clone();
    Ok(request)
}
