//! Instant queries against Prometheus' HTTP API (`POST /api/v1/query`, or `GET` through
//! a Kubernetes API server's service proxy), with every way it can fail named.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::service_proxy::{self, Forwarded, ProxyFailure, ServiceRef};
use crate::sources::capped::read_capped;
use crate::sources::scrape::root_cause;

/// A query answer larger than this is refused; the SLO queries return a handful of series.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// How much of an unexpected body an error message quotes.
const QUOTED_BODY_CHARS: usize = 200;

/// Everything that can go wrong between the console and Prometheus, each with a
/// message an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("invalid Prometheus URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("Prometheus at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the API server did not forward to Prometheus at {url}: {reason}")]
    NotForwarded { url: String, reason: String },
    #[error("Prometheus at {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("Prometheus at {url} answered HTTP {status} to `{query}`: {message}")]
    Status {
        url: String,
        status: u16,
        query: String,
        message: String,
    },
    #[error("Prometheus at {url} refused `{query}`: {error_type}: {message}")]
    QueryFailed {
        url: String,
        query: String,
        error_type: String,
        message: String,
    },
    #[error("Prometheus at {url} answered `{query}` with something that is not a query result: {reason}")]
    Malformed {
        url: String,
        query: String,
        reason: String,
    },
    /// NaN is what `0 / 0` gives: for a ratio, no events in the window.
    #[error("Prometheus answered {value} for `{query}`, not a number (NaN is 0/0: no events in the window)")]
    NotANumber { query: String, value: String },
    #[error("`{query}` returned {count} series where at most one was expected")]
    Ambiguous { query: String, count: usize },
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    /// As Prometheus sent it; may be NaN or infinite.
    pub value: f64,
    /// The text Prometheus sent, for messages (`NaN`, `+Inf`).
    pub text: String,
}

/// A Prometheus server's query API; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct PrometheusClient {
    /// Where the queries go, as messages name it.
    base_url: String,
    route: Route,
    timeout: Duration,
}

#[derive(Clone)]
enum Route {
    Direct(reqwest::Client),
    /// Through the API server: the client and the proxy path of the Service.
    ServiceProxy {
        client: kube::Client,
        path: String,
    },
}

impl std::fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    /// `base_url` like `http://127.0.0.1:9090`; `timeout` bounds each query from
    /// connect to the last byte.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, PrometheusError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let invalid = |reason: String| PrometheusError::InvalidUrl {
            url: base_url.clone(),
            reason,
        };
        let parsed: http::Uri = base_url
            .parse()
            .map_err(|error: http::uri::InvalidUri| invalid(error.to_string()))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(invalid("expected http://host:port".to_owned()));
        }
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| invalid(error.to_string()))?;
        Ok(Self {
            base_url,
            route: Route::Direct(http),
            timeout,
        })
    }

    /// Prometheus behind `service` (its namespace filled in), reached through the API
    /// server `client` talks to.
    pub fn through_service_proxy(
        client: kube::Client,
        service: &ServiceRef,
        timeout: Duration,
    ) -> Self {
        Self {
            base_url: service.label(),
            route: Route::ServiceProxy {
                client,
                path: service.proxy_path(),
            },
            timeout,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Evaluates `promql` at `at` (now when `None`): an instant vector, or a scalar as
    /// one sample without labels.
    pub async fn query(
        &self,
        promql: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Sample>, PrometheusError> {
        let mut form = vec![("query", promql.to_owned())];
        if let Some(at) = at {
            form.push((
                "time",
                format!("{:.3}", at.timestamp_millis() as f64 / 1000.0),
            ));
        }
        let (status, body) = match &self.route {
            Route::Direct(http) => self.post(http, promql, &form).await?,
            Route::ServiceProxy { client, path } => {
                self.get_proxied(client, path, promql, &form).await?
            }
        };
        let answer = serde_json::from_slice::<ApiAnswer>(&body);
        if !(200..300).contains(&status) {
            // Prometheus explains a 4xx/5xx in the usual envelope; a proxy may not.
            let message = match answer {
                Ok(ApiAnswer {
                    error: Some(message),
                    error_type,
                    ..
                }) => match error_type {
                    Some(kind) => format!("{kind}: {message}"),
                    None => message,
                },
                _ => quote(&body),
            };
            return Err(PrometheusError::Status {
                url: self.base_url.clone(),
                status,
                query: promql.to_owned(),
                message,
            });
        }
        let answer = answer.map_err(|error| self.malformed(promql, error.to_string()))?;
        if answer.status != "success" {
            return Err(PrometheusError::QueryFailed {
                url: self.base_url.clone(),
                query: promql.to_owned(),
                error_type: answer.error_type.unwrap_or_else(|| answer.status.clone()),
                message: answer
                    .error
                    .unwrap_or_else(|| "no error message".to_owned()),
            });
        }
        match answer.data {
            Some(QueryData::Vector(items)) => items
                .into_iter()
                .map(|item| {
                    let (_, text) = item.value;
                    let value = parse_value(&text)
                        .ok_or_else(|| self.malformed(promql, format!("`{text}` is no number")))?;
                    Ok(Sample {
                        labels: item.metric,
                        value,
                        text,
                    })
                })
                .collect(),
            Some(QueryData::Scalar((_, text))) => {
                let value = parse_value(&text)
                    .ok_or_else(|| self.malformed(promql, format!("`{text}` is no number")))?;
                Ok(vec![Sample {
                    labels: BTreeMap::new(),
                    value,
                    text,
                }])
            }
            Some(QueryData::Matrix(_) | QueryData::String(_)) => Err(self.malformed(
                promql,
                "a range vector or string instead of an instant vector".to_owned(),
            )),
            None => Err(self.malformed(promql, "no `data`".to_owned())),
        }
    }

    /// The value of a query that yields at most one series: `None` when it yields
    /// none, an error when the value is NaN or infinite, or when there are several.
    pub async fn query_value(
        &self,
        promql: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<f64>, PrometheusError> {
        let samples = self.query(promql, at).await?;
        match samples.as_slice() {
            [] => Ok(None),
            [sample] if sample.value.is_finite() => Ok(Some(sample.value)),
            [sample] => Err(PrometheusError::NotANumber {
                query: promql.to_owned(),
                value: sample.text.clone(),
            }),
            several => Err(PrometheusError::Ambiguous {
                query: promql.to_owned(),
                count: several.len(),
            }),
        }
    }

    /// The form POSTed to Prometheus itself: status and capped body.
    async fn post(
        &self,
        http: &reqwest::Client,
        promql: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, Vec<u8>), PrometheusError> {
        let response = http
            .post(format!("{}/api/v1/query", self.base_url))
            .form(form)
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status().as_u16();
        let body = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|error| match error {
                error if error.is_timeout() => PrometheusError::Timeout {
                    url: self.base_url.clone(),
                    timeout: self.timeout,
                },
                error => self.malformed(promql, error.to_string()),
            })?;
        Ok((status, body))
    }

    /// The same query as a GET through the API server's service proxy, within the
    /// client's timeout (the kube client has no deadline of its own).
    async fn get_proxied(
        &self,
        client: &kube::Client,
        path: &str,
        promql: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, Vec<u8>), PrometheusError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(key, value)| (*key, value.as_str())))
            .finish();
        let uri = format!("{path}/api/v1/query?{query}");
        let forwarded = tokio::time::timeout(
            self.timeout,
            service_proxy::get(client, uri, MAX_ANSWER_BYTES),
        )
        .await
        .map_err(|_| PrometheusError::Timeout {
            url: self.base_url.clone(),
            timeout: self.timeout,
        })?;
        match forwarded {
            Ok(Forwarded::Answer { status, body }) => Ok((status, body)),
            Ok(Forwarded::Refused { code, message }) => Err(PrometheusError::NotForwarded {
                url: self.base_url.clone(),
                reason: refusal(code, &message),
            }),
            Err(ProxyFailure::Transport(reason)) => Err(PrometheusError::Unreachable {
                url: self.base_url.clone(),
                reason: format!("the API server does not answer: {reason}"),
            }),
            Err(ProxyFailure::Body(reason)) => Err(self.malformed(promql, reason)),
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> PrometheusError {
        if error.is_timeout() {
            PrometheusError::Timeout {
                url: self.base_url.clone(),
                timeout: self.timeout,
            }
        } else {
            PrometheusError::Unreachable {
                url: self.base_url.clone(),
                reason: root_cause(error),
            }
        }
    }

    fn malformed(&self, query: &str, reason: String) -> PrometheusError {
        PrometheusError::Malformed {
            url: self.base_url.clone(),
            query: query.to_owned(),
            reason,
        }
    }
}

/// The API server's refusal to forward, with what the operator can do about it.
fn refusal(code: u16, message: &str) -> String {
    match code {
        403 => format!("refused by RBAC (403): {message}; reading needs `get` on services/proxy in Prometheus' namespace"),
        404 => format!("not found (404): {message}; check the namespace, name and port of --prometheus-service"),
        503 => format!("no Prometheus behind the Service is ready (503): {message}"),
        code => format!("the API server answered {code}: {message}"),
    }
}

/// The envelope of every API answer.
#[derive(Debug, Deserialize)]
struct ApiAnswer {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<VectorItem>),
    Scalar((f64, String)),
    // Only told apart, to say what came instead of an instant vector.
    Matrix(#[allow(dead_code)] serde::de::IgnoredAny),
    String(#[allow(dead_code)] serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// Prometheus writes sample values as strings: numbers, `NaN`, `+Inf`, `-Inf`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        number => number.parse().ok(),
    }
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut quoted: String = text.chars().take(QUOTED_BODY_CHARS).collect();
    if text.chars().count() > QUOTED_BODY_CHARS {
        quoted.push('…');
    }
    quoted
}
