//! Probes a starting instance until its readiness check first passes.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::spec::Readiness;

/// An HTTP client for probes; it keeps no idle connections, so a probe never holds a
/// connection slot of the instance it checks.
#[derive(Clone)]
pub(crate) struct Prober {
    client: Client<HttpConnector, Empty<Bytes>>,
    interval: Duration,
    timeout: Duration,
}

impl Prober {
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Self {
            client,
            interval,
            timeout,
        }
    }

    /// Returns once the check passes; probes every `interval` until then.
    pub async fn until_ready(&self, readiness: &Readiness) {
        while !self.probe(readiness).await {
            tokio::time::sleep(self.interval).await;
        }
    }

    async fn probe(&self, readiness: &Readiness) -> bool {
        match readiness {
            Readiness::HttpGet(uri) => {
                let request = match Request::get(uri.clone()).body(Empty::new()) {
                    Ok(request) => request,
                    Err(error) => {
                        tracing::warn!(%uri, %error, "readiness URL unusable");
                        return false;
                    }
                };
                match tokio::time::timeout(self.timeout, self.client.request(request)).await {
                    Ok(Ok(response)) => response.status().is_success(),
                    Ok(Err(_)) | Err(_) => false,
                }
            }
            Readiness::Check(check) => tokio::time::timeout(self.timeout, check())
                .await
                .unwrap_or(false),
        }
    }
}
