//! Plain state the console shows, filled by any environment: instances, queue depth, traffic split, rollout.

mod rollout;
mod status;

pub use rollout::{
    AnalysisMeasurement, AnalysisPhase, AnalysisRun, AnalysisStep, PauseStep, Revision,
    RolloutEvent, RolloutPhase, RolloutStatus, RolloutStep, MAX_REVISIONS, MAX_ROLLOUT_EVENTS,
};

pub use status::{
    EnvironmentPhase, EnvironmentStatus, InstanceState, InstanceStatus, QueueStatus, RouterStatus,
};
