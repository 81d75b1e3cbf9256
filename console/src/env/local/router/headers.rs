//! Headers a proxy must not forward (hop-by-hop), and the ones the router adds.

use std::net::IpAddr;

use http::header::{
    CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue};

use opsbox_common::config::Track;

/// The track that answered, on every proxied response.
pub const X_OPSBOX_TRACK: HeaderName = HeaderName::from_static("x-opsbox-track");
/// The instance that answered, on every proxied response.
pub const X_OPSBOX_INSTANCE: HeaderName = HeaderName::from_static("x-opsbox-instance");

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// RFC 9110 §7.6.1: these describe one connection, not the message.
const HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Removes hop-by-hop headers, including those a `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Appends the client's address to `X-Forwarded-For`, so the API can log who called.
pub(crate) fn append_forwarded_for(headers: &mut HeaderMap, client: IpAddr) {
    let forwarded = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

pub(crate) fn track_header(track: Track) -> HeaderValue {
    HeaderValue::from_static(track.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["traceparent"], "00-abc-def-01");
    }

    #[test]
    fn appends_to_an_existing_forwarded_for() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, IpAddr::from([127, 0, 0, 1]));
        append_forwarded_for(&mut headers, IpAddr::from([127, 0, 0, 2]));
        assert_eq!(headers[X_FORWARDED_FOR], "127.0.0.1, 127.0.0.2");
    }
}
