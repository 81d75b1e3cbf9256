//! `--api-url`: the release's API as this machine reaches it, through a port-forward
//! (`scripts/port-forward.sh --background`) or an ingress. It is the traffic path into a
//! cluster: a drill's probes and load go there. The admin calls that concern the whole
//! release (queue, dead letters, requeue, the task census) go there too, with the admin
//! token as a bearer, instead of through the API server's service proxy; faults still go
//! to each pod through the pod proxy, since one URL reaches one pod at a time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::env::NotRunning;

/// How long a connection to the URL may take before it counts as nothing listening.
const CONNECT_DEADLINE: Duration = Duration::from_secs(3);
/// An error body is read up to this many bytes (the API's are a few hundred).
const ERROR_BODY_LIMIT: usize = 4096;
/// Characters of a body that is not the API's error shown in a message.
const SHOWN_CHARS: usize = 256;

/// An `http(s)://host[:port][/prefix]` URL with nothing after the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl(reqwest::Url);

impl FromStr for ApiUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let example = "e.g. http://127.0.0.1:8080 (scripts/port-forward.sh)";
        let url = reqwest::Url::parse(text)
            .map_err(|error| format!("{text:?} is not a URL ({error}); {example}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{text:?} is not http or https; {example}"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{text:?} names no host; {example}"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!(
                "{text:?}: give the API's base URL only (no query, fragment or user); {example}"
            ));
        }
        Ok(Self(url))
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base())
    }
}

impl ApiUrl {
    /// Without the trailing slash, so that `base() + "/tasks"` is the tasks route.
    pub fn base(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// `path` begins with `/` and may carry a query (`/admin/dead-letters?limit=5`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
}

/// Admin calls dialled directly at the URL, with the token as a bearer.
pub struct DirectAdmin {
    client: reqwest::Client,
    url: ApiUrl,
}

impl DirectAdmin {
    pub fn new(url: ApiUrl) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_DEADLINE)
            .build()?;
        Ok(Self { client, url })
    }

    /// One call, answered within `deadline`; what failed is named with the URL.
    pub async fn call<T: DeserializeOwned>(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Duration,
    ) -> anyhow::Result<T> {
        let what = format!("{method} {path} at {} (--api-url)", self.url);
        let mut request = self
            .client
            .request(method, self.url.join(path))
            .bearer_auth(token)
            .timeout(deadline);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            let why = if error.is_timeout() {
                format!("no answer within {deadline:?}")
            } else {
                format!("nothing answers ({error})")
            };
            NotRunning(format!(
                "{what}: {why}; is the port-forward running? (scripts/port-forward.sh --background)"
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return response
                .json()
                .await
                .map_err(|error| anyhow::anyhow!("{what}: the answer does not parse: {error}"));
        }
        let message = api_message(&error_body(response).await);
        Err(match status.as_u16() {
            401 | 403 => anyhow::anyhow!(
                "{what}: the API refused the admin token ({status}): {message}; is the token the release's?"
            ),
            // Without a token the API has no /admin routes at all.
            404 if path.starts_with("/admin") => anyhow::anyhow!(
                "{what}: not found (404): {message}; the API there has no admin routes (no admin token configured), or the URL is not the API"
            ),
            _ => anyhow::anyhow!("{what}: the API answered {status}: {message}"),
        })
    }
}

/// At most [`ERROR_BODY_LIMIT`] bytes of an error answer: whatever stands at the URL
/// (a proxy's HTML page, say) is not read whole.
async fn error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    String::from_utf8_lossy(&body).into_owned()
}

/// The API's `{"error":{"message":…}}`, or the start of whatever else came back.
fn api_message(body: &str) -> String {
    let parsed: Option<String> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned));
    parsed.unwrap_or_else(|| {
        let trimmed = body.trim();
        match trimmed.char_indices().nth(SHOWN_CHARS) {
            Some((cut, _)) => format!("{}…", &trimmed[..cut]),
            None if trimmed.is_empty() => "no body".to_owned(),
            None => trimmed.to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_is_taken_and_anything_else_says_what_to_give() {
        let url: ApiUrl = "http://127.0.0.1:8080/".parse().expect("a URL");
        assert_eq!(
            url.join("/admin/queue"),
            "http://127.0.0.1:8080/admin/queue"
        );
        let prefixed: ApiUrl = "https://ops.example.test/api".parse().expect("a prefix");
        assert_eq!(
            prefixed.join("/tasks"),
            "https://ops.example.test/api/tasks"
        );
        for (bad, said) in [
            ("localhost:8080", "not http or https"),
            ("ftp://127.0.0.1", "not http or https"),
            ("http://", "not a URL"),
            ("http://127.0.0.1:8080/?x=1", "base URL only"),
            ("http://me@127.0.0.1:8080", "base URL only"),
        ] {
            let error = bad.parse::<ApiUrl>().expect_err(bad);
            assert!(error.contains(said), "{bad}: {error}");
        }
    }

    #[test]
    fn the_apis_error_message_is_kept_and_other_bodies_are_cut() {
        assert_eq!(
            api_message(
                r#"{"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}"#
            ),
            "missing or invalid bearer token"
        );
        assert_eq!(api_message(""), "no body");
        let long = "x".repeat(1000);
        let cut = api_message(&long);
        assert!(cut.ends_with('…') && cut.len() < 300, "{cut}");
    }
}
