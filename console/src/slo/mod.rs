//! SLOs as code: the spec, the burn-rate windows, and the generators of rules, tests and canary analysis.

pub mod analysis;
pub mod canary;
pub mod duration;
pub mod engine;
pub mod generate;
pub mod promql;
pub mod promtool_scenarios;
pub mod rules;
pub mod spec;
pub mod windows;

pub use canary::{canary_thresholds, CanaryCheck, CanaryThreshold};
pub use duration::PromDuration;
pub use spec::{Indicator, Slo, SloSpec, SpecError};
pub use windows::{BurnRateAlert, Severity, BURN_RATE_ALERTS, SLI_WINDOWS};
