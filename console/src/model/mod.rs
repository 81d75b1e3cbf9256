//! Plain state the console shows, filled by any environment: instances, queue depth, traffic split.

mod status;

pub use status::{
    EnvironmentPhase, EnvironmentStatus, InstanceState, InstanceStatus, QueueStatus, RouterStatus,
};
