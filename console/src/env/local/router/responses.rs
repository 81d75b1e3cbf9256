//! The router's own answers: JSON error bodies shaped like the API's.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

/// A proxied response streams the upstream's body; the router's own answers are buffered.
pub(crate) type RouterBody = Either<Incoming, Full<Bytes>>;

/// Why the router answered instead of an upstream; `code` is the JSON error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouterRefusal {
    NoUpstream,
    PayloadTooLarge,
    UnreadableBody,
    UpstreamFailed,
    UpstreamTimeout,
}

impl RouterRefusal {
    fn status(self) -> StatusCode {
        match self {
            RouterRefusal::NoUpstream => StatusCode::SERVICE_UNAVAILABLE,
            RouterRefusal::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RouterRefusal::UnreadableBody => StatusCode::BAD_REQUEST,
            RouterRefusal::UpstreamFailed => StatusCode::BAD_GATEWAY,
            RouterRefusal::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn code(self) -> &'static str {
        match self {
            RouterRefusal::NoUpstream => "no_upstream",
            RouterRefusal::PayloadTooLarge => "payload_too_large",
            RouterRefusal::UnreadableBody => "bad_request",
            RouterRefusal::UpstreamFailed => "upstream_failed",
            RouterRefusal::UpstreamTimeout => "upstream_timeout",
        }
    }

    fn message(self) -> &'static str {
        match self {
            RouterRefusal::NoUpstream => "no API instance is accepting connections",
            RouterRefusal::PayloadTooLarge => "request bodies are limited to 64 KiB",
            RouterRefusal::UnreadableBody => "the request body could not be read",
            RouterRefusal::UpstreamFailed => "the API instance failed while answering",
            RouterRefusal::UpstreamTimeout => "the API instance did not answer in time",
        }
    }

    /// `{"error":{"code":...,"message":...}}`, as the API answers its own errors.
    pub fn response(self) -> Response<RouterBody> {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.message() }
        });
        let mut response = Response::new(Either::Right(Full::new(Bytes::from(body.to_string()))));
        *response.status_mut() = self.status();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
