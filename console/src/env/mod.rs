//! The environments the console operates behind one trait: today `local`, later `kubernetes`.

pub mod local;

use std::future::Future;

/// Which revision an instance serves: one type for the services' metric
/// label and the console's routing.
pub use opsbox_common::config::Track;

use crate::model::EnvironmentStatus;

/// What the console asks of an environment, whichever it is. Verbs (rollout, chaos,
/// restart, logs) join as they are implemented.
pub trait Environment {
    /// `local` or `kubernetes`, as shown to the operator.
    fn name(&self) -> &'static str;

    /// A snapshot of instances, queue depth and traffic split.
    fn status(&self) -> impl Future<Output = anyhow::Result<EnvironmentStatus>> + Send;
}
