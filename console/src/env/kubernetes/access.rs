//! What the operator may do here, asked of the API server before a key is offered: one
//! SelfSubjectAccessReview per verb, all at once, cached for a few minutes (as k9s does)
//! so a frame never waits on RBAC. A 403 at action time still shows (RBAC can change).

use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::Api;

use super::errors::within;
use super::Cluster;
use crate::env::{Permissions, Verb};

/// How long an answer holds before it is asked again.
pub const PERMISSIONS_TTL: Duration = Duration::from_secs(120);

/// The request a verb makes, as RBAC names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
}

impl Access {
    const fn new(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        subresource: &'static str,
    ) -> Self {
        Self {
            verb,
            group,
            resource,
            subresource,
        }
    }

    /// `patch rollouts/status`
    pub fn describe(&self) -> String {
        let resource = if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        format!("{} {resource}", self.verb)
    }
}

/// How the release-wide admin calls (requeue) reach the API, which decides what RBAC
/// stands between the operator and them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPath {
    /// Through the API server's service proxy: `create services/proxy`.
    ServiceProxy,
    /// To `--api-url` with the token from the release's Secret: `get secrets`.
    DirectWithSecret,
    /// To `--api-url` with `OPSBOX_ADMIN_TOKEN`: the API alone decides.
    DirectWithToken,
}

impl AdminPath {
    pub fn of(api_url_given: bool) -> Self {
        match (api_url_given, super::admin::token_given()) {
            (false, _) => Self::ServiceProxy,
            (true, false) => Self::DirectWithSecret,
            (true, true) => Self::DirectWithToken,
        }
    }
}

/// What each verb needs; `None` for verbs this environment does not offer at all, or
/// that no RBAC rule stands in front of (a requeue with the operator's own token).
pub fn needed(verb: Verb, admin: AdminPath) -> Option<Access> {
    const ROLLOUTS: &str = "argoproj.io";
    Some(match verb {
        Verb::Promote | Verb::Abort | Verb::Retry => {
            Access::new("patch", ROLLOUTS, "rollouts", "status")
        }
        Verb::StartRollout | Verb::Undo => Access::new("patch", ROLLOUTS, "rollouts", ""),
        Verb::Restart | Verb::Kill | Verb::RunDrill => Access::new("delete", "", "pods", ""),
        // Through the API server's proxies: a PUT to each API pod, a POST to the Service.
        Verb::Fault => Access::new("update", "", "pods", "proxy"),
        Verb::Requeue => match admin {
            AdminPath::ServiceProxy => Access::new("create", "", "services", "proxy"),
            AdminPath::DirectWithSecret => Access::new("get", "", "secrets", ""),
            AdminPath::DirectWithToken => return None,
        },
        // `freeze` makes a NetworkChaos instead; one question stands for both.
        Verb::Outage => Access::new("create", "chaos-mesh.org", "podchaos", ""),
        Verb::BringUp => return None,
    })
}

/// Who the API server says the operator is (`SelfSubjectReview`), or `None`.
pub async fn identity(cluster: &Cluster) -> Option<String> {
    let api: Api<SelfSubjectReview> = Api::all(cluster.client.clone());
    let review = within(
        "who am I",
        &cluster.server,
        api.create(&PostParams::default(), &SelfSubjectReview::default()),
    )
    .await
    .ok()?;
    review.status?.user_info?.username
}

async fn allowed(cluster: &Cluster, access: Access) -> Result<bool, String> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(cluster.namespace.clone()),
                verb: Some(access.verb.to_owned()),
                group: Some(access.group.to_owned()),
                resource: Some(access.resource.to_owned()),
                subresource: Some(access.subresource.to_owned()).filter(|s| !s.is_empty()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client.clone());
    within(
        &format!("can I {}", access.describe()),
        &cluster.server,
        api.create(&PostParams::default(), &review),
    )
    .await
    .map(|review| review.status.is_some_and(|status| status.allowed))
    .map_err(|error| format!("{error:#}"))
}

/// Every verb checked; the reasons name the user, the request and the namespace.
pub async fn review(cluster: &Cluster, admin: AdminPath) -> Permissions {
    let who = identity(cluster).await.unwrap_or_else(|| "you".to_owned());
    let mut permissions = Permissions::all();
    let checks = Verb::ALL.map(|verb| async move {
        let outcome = match needed(verb, admin) {
            Some(access) => allowed(cluster, access).await.map(|ok| (ok, Some(access))),
            None if verb == Verb::Requeue => Ok((true, None)),
            None => Ok((false, None)),
        };
        (verb, outcome)
    });
    for (verb, outcome) in futures::future::join_all(checks).await {
        match outcome {
            Ok((true, _)) => {}
            Ok((false, Some(access))) => permissions.deny(
                verb,
                format!(
                    "user {who} may not {} in namespace {}",
                    access.describe(),
                    cluster.namespace
                ),
            ),
            Ok((false, None)) => permissions.deny(verb, unsupported(verb)),
            Err(error) => permissions.deny(verb, format!("cannot check RBAC: {error}")),
        }
    }
    permissions
}

fn unsupported(verb: Verb) -> String {
    match verb {
        Verb::BringUp => {
            "opsbox does not install into a cluster: use helm (README, \"Install on a cluster\")"
                .to_owned()
        }
        other => format!("{other} is not offered on a cluster"),
    }
}

/// The cached answer, asked again when older than [`PERMISSIONS_TTL`].
#[derive(Debug, Default)]
pub struct PermissionCache {
    held: std::sync::Mutex<Option<(Instant, Permissions)>>,
}

impl PermissionCache {
    pub fn fresh(&self) -> Option<Permissions> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.as_ref()
            .filter(|(at, _)| at.elapsed() < PERMISSIONS_TTL)
            .map(|(_, permissions)| permissions.clone())
    }

    pub fn store(&self, permissions: &Permissions) {
        *self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), permissions.clone()));
    }
}
