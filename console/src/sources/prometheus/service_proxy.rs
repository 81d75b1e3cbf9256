//! Prometheus inside a cluster, reached through the Kubernetes API server's service
//! proxy (`/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/...`): no port-forward,
//! nothing dialled but the API server, and the operator's own credentials and RBAC
//! (`get` on `services/proxy` in Prometheus' namespace). Queries go as GET so that
//! reading needs nothing more than `get`.

use std::fmt;
use std::str::FromStr;

use http_body_util::{BodyExt, Limited};
use kube::client::Body;
use serde::Deserialize;

/// A Service as `--prometheus-service` names it: `[NAMESPACE/]NAME:PORT`, the port by
/// number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: Option<String>,
    pub name: String,
    pub port: String,
}

impl FromStr for ServiceRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = |why: &str| {
            format!("`{text}`: {why}; expected [NAMESPACE/]NAME:PORT, e.g. monitoring/prometheus-operated:9090")
        };
        let (namespace, rest) = match text.split_once('/') {
            Some((namespace, rest)) => (Some(namespace), rest),
            None => (None, text),
        };
        let (name, port) = rest.rsplit_once(':').ok_or_else(|| usage("no port"))?;
        if let Some(namespace) = namespace {
            if !is_dns_label(namespace) {
                return Err(usage("the namespace is not a DNS label"));
            }
        }
        if !is_dns_label(name) {
            return Err(usage("the service name is not a DNS label"));
        }
        // A port is a number or, as Kubernetes names ports, a DNS label.
        if port
            .parse::<u16>()
            .map_or(!is_dns_label(port), |number| number == 0)
        {
            return Err(usage("the port is neither a port number nor a port name"));
        }
        Ok(Self {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            port: port.to_owned(),
        })
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}:{}", self.name, self.port),
            None => write!(f, "{}:{}", self.name, self.port),
        }
    }
}

impl ServiceRef {
    /// The same Service with its namespace filled in (the release's when none was named).
    pub fn in_namespace(&self, default: &str) -> Self {
        Self {
            namespace: Some(self.namespace.clone().unwrap_or_else(|| default.to_owned())),
            ..self.clone()
        }
    }

    /// How readings, reports and errors name this Prometheus, all the same way.
    pub fn label(&self) -> String {
        format!("service {self} (through the API server's proxy)")
    }

    /// The API server's proxy path in front of the Service's HTTP port.
    pub fn proxy_path(&self) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:{}/proxy",
            self.namespace.as_deref().unwrap_or("default"),
            self.name,
            self.port
        )
    }
}

/// Lowercase letters, digits and inner dashes, at most 63: names and namespaces.
fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// What came back through the proxy.
pub(super) enum Forwarded {
    /// Prometheus answered (any status): its body, to be read as a query answer.
    Answer { status: u16, body: Vec<u8> },
    /// The API server answered for itself: it did not forward (RBAC, no such Service,
    /// no ready endpoint, an address it will not proxy to).
    Refused { code: u16, message: String },
}

/// Why nothing came back.
pub(super) enum ProxyFailure {
    /// The API server could not be asked (down, TLS, credentials rejected by the client).
    Transport(String),
    /// The body was larger than the cap or broke off.
    Body(String),
}

/// One GET through the proxy; the answer's body is capped at `limit` bytes.
pub(super) async fn get(
    client: &kube::Client,
    uri: String,
    limit: usize,
) -> Result<Forwarded, ProxyFailure> {
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Body::empty())
        .map_err(|error| ProxyFailure::Transport(error.to_string()))?;
    let response = client
        .send(request)
        .await
        .map_err(|error| ProxyFailure::Transport(error.to_string()))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|error| ProxyFailure::Body(error.to_string()))?
        .to_bytes()
        .to_vec();
    Ok(match api_server_status(&body) {
        Some(refusal) if status >= 400 => Forwarded::Refused {
            code: status,
            message: refusal.message,
        },
        _ => Forwarded::Answer { status, body },
    })
}

/// A Kubernetes `Status` object: the API server's own answer, never Prometheus'.
#[derive(Deserialize)]
struct KubeStatus {
    kind: String,
    #[serde(default)]
    message: String,
}

fn api_server_status(body: &[u8]) -> Option<KubeStatus> {
    serde_json::from_slice::<KubeStatus>(body)
        .ok()
        .filter(|status| status.kind == "Status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_named_with_or_without_its_namespace() {
        let full: ServiceRef = "monitoring/prometheus-operated:9090"
            .parse()
            .expect("valid");
        assert_eq!(full.namespace.as_deref(), Some("monitoring"));
        assert_eq!(full.to_string(), "monitoring/prometheus-operated:9090");
        assert_eq!(
            full.proxy_path(),
            "/api/v1/namespaces/monitoring/services/http:prometheus-operated:9090/proxy"
        );
        let short: ServiceRef = "prometheus:web".parse().expect("a named port");
        assert_eq!(
            short.in_namespace("opsbox").proxy_path(),
            "/api/v1/namespaces/opsbox/services/http:prometheus:web/proxy"
        );
    }

    #[test]
    fn a_malformed_service_says_what_was_expected() {
        for (text, why) in [
            ("prometheus", "no port"),
            ("Monitoring/prometheus:9090", "namespace"),
            ("monitoring/:9090", "service name"),
            ("monitoring/prometheus:0", "port"),
            ("monitoring/prometheus:90 90", "port"),
            ("a/b/c:9090", "service name"),
        ] {
            let error = text.parse::<ServiceRef>().expect_err(text);
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("[NAMESPACE/]NAME:PORT"), "{text}: {error}");
        }
    }

    #[test]
    fn only_a_status_object_is_the_api_servers_own_answer() {
        let refusal = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"prometheus\"","code":503}"#;
        assert!(api_server_status(refusal).is_some());
        let prometheus = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(api_server_status(prometheus).is_none());
        assert!(api_server_status(b"<html>bad gateway</html>").is_none());
    }
}
