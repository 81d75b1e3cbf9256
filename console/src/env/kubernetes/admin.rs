//! The API's admin endpoints on a cluster (queue, dead letters, requeue, faults), reached
//! through the API server's service proxy with the admin token from the Secret the
//! chart gives the API (or `OPSBOX_ADMIN_TOKEN` in the operator's environment). The API
//! server forwards, so the operator needs `get`/`create` on `services/proxy` and
//! `update` on `pods/proxy`, and `get` on the Secret unless the token is given. With
//! `--api-url` the release-wide calls go to that URL instead ([`super::api_url`]).

use std::time::Duration;

use http::Method;
use k8s_openapi::api::core::v1::{PodTemplateSpec, Secret, Service};
use kube::api::ListParams;
use kube::Api;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::api_url::{ApiUrl, DirectAdmin};
use super::errors::{explain, within, CALL_DEADLINE};
use super::workload::{self, ApiWorkload, API_SELECTOR};
use super::Cluster;
use crate::env::NotRunning;

/// The environment variable the chart fills from the Secret.
const TOKEN_VARIABLE: &str = "OPSBOX_ADMIN_TOKEN";
/// The API server's proxy removes `Authorization` once it has authenticated the
/// operator; the API reads the token from this header instead.
const TOKEN_HEADER: &str = "X-OpsBox-Admin-Token";
/// How long a found route (Service and token) is used before it is found again.
pub const ROUTE_TTL: Duration = Duration::from_secs(60);
/// A requeue may take the API 30 s; the proxy call waits a little longer.
const SLOW_CALL: Duration = Duration::from_secs(35);

/// Where the admin calls go, and with what.
pub struct AdminRoute {
    service: String,
    token: String,
    /// `--api-url`: release-wide calls go there rather than through the service proxy.
    direct: Option<DirectAdmin>,
}

/// Finds the API's stable Service and reads its admin token.
pub async fn route(cluster: &Cluster, api_url: Option<&ApiUrl>) -> anyhow::Result<AdminRoute> {
    let found = workload::find(cluster).await?;
    let (template, stable_service) = match &found {
        ApiWorkload::Rollout(rollout) => (
            rollout.spec.template.clone(),
            rollout
                .spec
                .strategy
                .canary
                .as_ref()
                .and_then(|canary| canary.stable_service.clone()),
        ),
        ApiWorkload::Deployment(deployment) => (
            deployment.spec.as_ref().map(|spec| spec.template.clone()),
            None,
        ),
    };
    // An operator who holds the token need not be allowed to read the release's Secret.
    let token = match std::env::var(TOKEN_VARIABLE) {
        Ok(token) if !token.is_empty() => token,
        _ => token(cluster, template.as_ref()).await?,
    };
    let service = match stable_service {
        Some(service) => service,
        None => api_service(cluster).await?,
    };
    let direct = api_url.cloned().map(DirectAdmin::new).transpose()?;
    Ok(AdminRoute {
        service,
        token,
        direct,
    })
}

/// Whether the operator gave the token (so the release's Secret is not read).
pub fn token_given() -> bool {
    std::env::var(TOKEN_VARIABLE).is_ok_and(|token| !token.is_empty())
}

/// The Secret and key the API's container reads its token from.
fn token_reference(template: Option<&PodTemplateSpec>) -> Option<(String, String)> {
    let containers = &template?.spec.as_ref()?.containers;
    containers
        .iter()
        .flat_map(|container| container.env.iter().flatten())
        .find(|variable| variable.name == TOKEN_VARIABLE)
        .and_then(|variable| variable.value_from.as_ref()?.secret_key_ref.as_ref())
        .map(|reference| (reference.name.clone(), reference.key.clone()))
}

async fn token(cluster: &Cluster, template: Option<&PodTemplateSpec>) -> anyhow::Result<String> {
    let off = |why: String| {
        anyhow::anyhow!(
            "the API's admin endpoints are off in namespace {}: {why}; set {TOKEN_VARIABLE} in the release's Secret",
            cluster.namespace
        )
    };
    let (name, key) = token_reference(template)
        .ok_or_else(|| off(format!("its pods get no {TOKEN_VARIABLE}")))?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let secret = within(
        &format!("get secret {name}"),
        &cluster.server,
        secrets.get_opt(&name),
    )
    .await?
    .ok_or_else(|| off(format!("the Secret {name} does not exist")))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(&key))
        .ok_or_else(|| off(format!("the Secret {name} has no {key}")))?;
    let token = String::from_utf8(bytes.0.clone())
        .map_err(|_| off(format!("{key} in the Secret {name} is not text")))?;
    anyhow::ensure!(
        !token.is_empty(),
        off(format!("{key} in the Secret {name} is empty"))
    );
    Ok(token)
}

/// Without a Rollout naming it: the API Service of the release that is not the canary's.
async fn api_service(cluster: &Cluster) -> anyhow::Result<String> {
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let listed = within(
        "list services",
        &cluster.server,
        services.list(&ListParams::default().labels(API_SELECTOR)),
    )
    .await?;
    listed
        .items
        .into_iter()
        .filter_map(|service| service.metadata.name)
        .find(|name| !name.ends_with("-canary"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no API Service labelled {API_SELECTOR} in namespace {}",
                cluster.namespace
            )
        })
}

impl AdminRoute {
    /// The proxy path of an admin path (`/admin/queue`).
    pub fn path(&self, cluster: &Cluster, path: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:http/proxy{path}",
            cluster.namespace, self.service
        )
    }

    /// One admin call through the Service (whichever API pod the proxy picks), or to
    /// `--api-url` when one was given.
    pub async fn call<T: DeserializeOwned>(
        &self,
        cluster: &Cluster,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        if let Some(direct) = &self.direct {
            return direct
                .call(&self.token, method, path, body, deadline(path))
                .await;
        }
        let what = format!(
            "{method} {path} through the service proxy to {}",
            self.service
        );
        let uri = self.path(cluster, path);
        self.send(cluster, what, method, uri, path, body).await
    }

    /// One admin call to one pod, through the pod proxy.
    pub async fn call_pod<T: DeserializeOwned>(
        &self,
        cluster: &Cluster,
        pod: &str,
        port: i32,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<T> {
        let what = format!("{method} {path} through the pod proxy to {pod}");
        let uri = format!(
            "/api/v1/namespaces/{}/pods/http:{pod}:{port}/proxy{path}",
            cluster.namespace
        );
        self.send(cluster, what, method, uri, path, Some(body))
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        cluster: &Cluster,
        what: String,
        method: Method,
        uri: String,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(TOKEN_HEADER, &self.token);
        let body = match body {
            Some(body) => {
                request = request.header(http::header::CONTENT_TYPE, "application/json");
                serde_json::to_vec(body)?
            }
            None => Vec::new(),
        };
        let request = request.body(body)?;
        let deadline = deadline(path);
        match tokio::time::timeout(deadline, cluster.client.request::<T>(request)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(kube::Error::Api(status))) if unreachable_backend(&status) => {
                Err(NotRunning(format!(
                    "{what}: the API server cannot reach an API pod ({}, {})",
                    status.code, status.message
                ))
                .into())
            }
            Ok(Err(error)) => Err(explain(error, &what, &cluster.server)),
            Err(_) => Err(NotRunning(format!("{what}: no answer within {deadline:?}")).into()),
        }
    }
}

/// A requeue may take the API 30 s; anything else answers within the usual deadline.
fn deadline(path: &str) -> std::time::Duration {
    if path.ends_with("/requeue") {
        SLOW_CALL
    } else {
        CALL_DEADLINE
    }
}

/// The API server's own refusals to forward: no endpoints behind the Service, or an
/// address it will not proxy to. Anything else came from the API itself.
fn unreachable_backend(status: &kube::core::Status) -> bool {
    let message = status.message.as_str();
    (status.code == 503 && message.contains("no endpoints available"))
        || (status.code == 404 && message.starts_with("endpoints"))
        || (status.code == 400 && message.contains("address not allowed"))
}
