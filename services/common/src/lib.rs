//! What the OpsBox API and worker share: the task model, the job queue
//! protocol, the database and Redis connections, telemetry and metrics.

pub mod census;
pub mod config;
pub mod db;
pub mod duration;
pub mod metrics;
pub mod model;
pub mod queue;
pub mod redis_conn;
pub mod shutdown;
pub mod telemetry;

/// The version label of this build, overridable per deployment by
/// `OPSBOX_RELEASE` so a canary can carry a different revision name.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
