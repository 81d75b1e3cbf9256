//! Per-request observation: a span continuing the caller's trace, the RED
//! metrics labelled by route template, and a log line for server errors.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::IntGauge;
use tracing::Instrument;

use crate::context::AppContext;

/// Label for requests that matched no route, so raw paths (and ids) never
/// become label values.
const UNMATCHED: &str = "unmatched";

pub async fn observe(State(ctx): State<AppContext>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());

    let span = tracing::info_span!("http_request", method = %method, route = %route, status = tracing::field::Empty);
    let carrier: std::collections::HashMap<String, String> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .filter(|(k, _)| k == "traceparent" || k == "tracestate")
        .collect();
    opsbox_common::telemetry::continue_trace(&span, &carrier);

    let in_flight = InFlight::enter(
        ctx.metrics
            .requests_in_flight
            .with_label_values(&[method.as_str(), route.as_str()]),
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);
    if ctx.is_draining() {
        // Keep-alive connections would otherwise carry the next request into
        // a closing listener; a proxy then sees the connection drop mid-request.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }

    let status = response.status();
    let elapsed = started.elapsed();
    span.record("status", status.as_u16());
    ctx.metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    ctx.metrics
        .request_duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(elapsed.as_secs_f64());
    if status.is_server_error() {
        span.in_scope(|| {
            tracing::error!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "request failed"
            )
        });
    } else {
        span.in_scope(|| {
            tracing::debug!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "request served"
            )
        });
    }
    response
}

/// Counts a request in the in-flight gauge until it is dropped, so a request
/// whose client goes away (and whose future is dropped mid-way) leaves too.
struct InFlight(IntGauge);

impl InFlight {
    fn enter(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Applies the injected faults to task requests only: probes and metrics
/// must stay truthful while a drill degrades the service.
pub async fn inject_faults(
    State(ctx): State<AppContext>,
    request: Request,
    next: Next,
) -> Response {
    let injection = ctx.faults.draw();
    if !injection.delay.is_zero() {
        tokio::time::sleep(injection.delay).await;
    }
    if injection.fail {
        return axum::response::IntoResponse::into_response(crate::error::ApiError::InjectedFault);
    }
    next.run(request).await
}
