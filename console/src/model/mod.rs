//! Plain state the console shows, filled by any environment: instances, queue depth, traffic split, rollout.

pub mod logs;
mod queue;
mod rollout;
pub mod slo;
mod status;

pub use queue::{
    DeadLetter, DeadLetters, DiscardedLetter, ProcessedTotals, QueueOverview, RequeueReport,
    RequeueRequest,
};
pub use rollout::{
    AnalysisMeasurement, AnalysisPhase, AnalysisRun, AnalysisStep, PauseStep, Revision,
    RolloutEvent, RolloutPhase, RolloutStatus, RolloutStep, MAX_REVISIONS, MAX_ROLLOUT_EVENTS,
};

pub use status::{
    EnvironmentPhase, EnvironmentStatus, InstanceState, InstanceStatus, QueueStatus, RouterStatus,
    ScalerStatus,
};
