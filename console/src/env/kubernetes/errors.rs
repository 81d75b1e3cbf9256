//! A failed request as the operator reads it: what was refused, by whom, and what to do.
//! The API server's own message is kept (it names the user, verb and resource).

use std::future::Future;
use std::time::Duration;

use crate::env::NotRunning;

/// A request that has not answered within this is reported, not waited for.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// `what` is the action in words ("patch rollout api"); `server` names the API server.
pub fn explain(error: kube::Error, what: &str, server: &str) -> anyhow::Error {
    match error {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                401 => anyhow::anyhow!(
                    "{what}: the API server does not accept these credentials (401): {message}"
                ),
                403 => anyhow::anyhow!("{what}: refused by RBAC (403): {message}"),
                404 => anyhow::anyhow!("{what}: not found (404): {message}"),
                409 => anyhow::anyhow!(
                    "{what}: conflict (409), the object changed meanwhile; look again and retry: {message}"
                ),
                410 => anyhow::anyhow!(
                    "{what}: gone (410), the resource version expired; a fresh list follows: {message}"
                ),
                422 => anyhow::anyhow!("{what}: invalid (422): {message}"),
                code => anyhow::anyhow!("{what}: the API server answered {code}: {message}"),
            }
        }
        error @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => NotRunning(format!(
            "{what}: the API server at {server} does not answer ({error}); is the cluster up and the context right?"
        ))
        .into(),
        error => anyhow::anyhow!("{what}: {error}"),
    }
}

/// Runs one request with the deadline; a timeout is a down API server.
pub async fn within<T>(
    what: &str,
    server: &str,
    request: impl Future<Output = Result<T, kube::Error>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(CALL_DEADLINE, request).await {
        Ok(result) => result.map_err(|error| explain(error, what, server)),
        Err(_) => Err(NotRunning(format!(
            "{what}: the API server at {server} did not answer within {CALL_DEADLINE:?}"
        ))
        .into()),
    }
}

/// The HTTP status behind an error made by [`explain`], for callers that branch on it.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
