//! A drill as written in `observability/drills/NAME.yaml`: the steady-state hypothesis,
//! the method (ordered actions), checks on the disruption itself, and the recovery bound.
//!
//! Every struct refuses unknown fields, so a typo is an error that names the field
//! rather than a check that silently never runs.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chaos::{humanize, Dependency, OutageMode};
use crate::env::ChaosSupport;
use opsbox_common::config::Track;

/// One drill.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Drill {
    /// Lowercase, dash-separated; the file is `NAME.yaml`.
    pub name: String,
    pub description: String,
    /// What to read when the drill fails, relative to the repository root.
    pub runbook: String,
    pub hypothesis: Hypothesis,
    pub method: Vec<Action>,
    /// Checks on the disruption itself, from the first chaos action to the end of the method.
    #[serde(default)]
    pub during: Vec<DuringProbe>,
    pub recovery: Recovery,
}

impl Drill {
    /// Refuses, before anything starts, a drill whose chaos this environment lacks.
    pub fn check_supported(&self, support: &ChaosSupport) -> anyhow::Result<()> {
        if let Err(reason) = support.traffic.check() {
            anyhow::bail!(
                "drill {} cannot run here: its probes and load need a way to the API, and {reason}",
                self.name
            );
        }
        for action in &self.method {
            let needed = match action {
                Action::Kill(_) => &support.kill,
                Action::Outage(outage) => support.outage(outage.dependency),
                Action::Fault(_) => &support.fault,
                _ => continue,
            };
            if let Err(reason) = needed.check() {
                anyhow::bail!(
                    "drill {} cannot run here: it needs `{}`, and {reason}",
                    self.name,
                    action
                );
            }
        }
        Ok(())
    }
}

/// The steady state: it must hold before the first chaos action and again after recovery.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hypothesis {
    /// How much traffic the traffic probes look at, before and after.
    pub window: DrillDuration,
    pub probes: Vec<SteadyProbe>,
}

/// A probe of the steady state.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum SteadyProbe {
    /// 5xx answers and transport errors over the requests that ended in the window.
    ErrorRatio(MaxRatio),
    /// Jobs ready, delayed and processing in the queue.
    QueueDepth(MaxCount),
    /// Every instance of the environment is Running.
    AllRunning,
    /// Every task created during the drill whose run was requested ends DONE or FAILED
    /// within the recovery bound (checked after only).
    TasksTerminal,
}

/// A check on the disruption window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum DuringProbe {
    /// As the steady-state probe, over the disruption window.
    ErrorRatio(MaxRatio),
    /// The 99th percentile latency of the drill's probe requests that failed (non-2xx
    /// or transport error): a dependency outage must fail fast, not hang. Fails too
    /// when no probe request failed, since then the disruption was not seen at all.
    FailedP99(MaxDuration),
    /// The rollout ended aborted (Degraded, all traffic on stable) after at most this
    /// many analysis runs.
    RolloutAborted(RolloutAbortedProbe),
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaxRatio {
    pub max: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaxCount {
    pub max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaxDuration {
    pub max: DrillDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutAbortedProbe {
    pub max_analysis_runs: usize,
}

/// One step of the method, run in order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum Action {
    /// Background load through the router until `stop-load` or the end of the drill.
    StartLoad(LoadAction),
    StopLoad,
    Wait(DrillDuration),
    /// Waits until a condition holds; the drill fails when it does not within `timeout`.
    WaitUntil(WaitUntil),
    Kill(KillAction),
    Outage(OutageAction),
    Fault(FaultAction),
    /// Starts a rollout of a new revision with environment overrides.
    RolloutStart(RolloutStartAction),
}

impl Action {
    /// Chaos actions disrupt the environment; the steady state is checked before the first.
    pub fn is_chaos(&self) -> bool {
        matches!(
            self,
            Action::Kill(_) | Action::Outage(_) | Action::Fault(_) | Action::RolloutStart(_)
        )
    }

    /// The name written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::StartLoad(_) => "start-load",
            Action::StopLoad => "stop-load",
            Action::Wait(_) => "wait",
            Action::WaitUntil(_) => "wait-until",
            Action::Kill(_) => "kill",
            Action::Outage(_) => "outage",
            Action::Fault(_) => "fault",
            Action::RolloutStart(_) => "rollout-start",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StartLoad(load) => match &load.mix {
                Some(mix) => write!(f, "start-load {} rps, mix {mix}", load.rps),
                None => write!(f, "start-load {} rps", load.rps),
            },
            Action::StopLoad => f.write_str("stop-load"),
            Action::Wait(duration) => write!(f, "wait {duration}"),
            Action::WaitUntil(wait) => {
                write!(
                    f,
                    "wait-until {} (timeout {})",
                    wait.condition, wait.timeout
                )
            }
            Action::Kill(kill) => {
                f.write_str("kill")?;
                if let Some(instance) = &kill.instance {
                    write!(f, " {instance}")?;
                }
                if let Some(workload) = &kill.workload {
                    write!(f, " workload {workload}")?;
                }
                if let Some(track) = kill.track {
                    write!(f, " track {track}")?;
                }
                Ok(())
            }
            Action::Outage(outage) => write!(
                f,
                "outage {} for {} ({})",
                outage.dependency, outage.duration, outage.mode
            ),
            Action::Fault(fault) => {
                write!(
                    f,
                    "fault error rate {} latency {} for {}",
                    fault.error_rate, fault.latency, fault.duration
                )?;
                if let Some(track) = fault.track {
                    write!(f, " on {track}")?;
                }
                Ok(())
            }
            Action::RolloutStart(rollout) => {
                write!(f, "rollout-start {}", rollout.revision)?;
                for (key, value) in &rollout.set {
                    write!(f, " {key}={value}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoadAction {
    pub rps: u32,
    /// Operation weights as `opsbox load --mix` takes them, e.g. `create=1,run=1,read=2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<String>,
    /// Task kinds as `opsbox load --kinds` takes them, e.g. `io=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WaitUntil {
    pub condition: Condition,
    pub timeout: DrillDuration,
}

/// What `wait-until` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Every instance Running.
    AllRunning,
    /// No outage in force.
    OutageOver,
    /// No fault in force.
    FaultOver,
    /// The rollout was aborted: Degraded, canary weight 0.
    RolloutAborted,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::AllRunning => "all-running",
            Condition::OutageOver => "outage-over",
            Condition::FaultOver => "fault-over",
            Condition::RolloutAborted => "rollout-aborted",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KillAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<Track>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OutageAction {
    pub dependency: Dependency,
    #[serde(rename = "for")]
    pub duration: DrillDuration,
    #[serde(default)]
    pub mode: OutageMode,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultAction {
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub latency: DrillDuration,
    #[serde(rename = "for")]
    pub duration: DrillDuration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<Track>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutStartAction {
    pub revision: String,
    /// Environment overrides of the revision, e.g. `OPSBOX_FAULT_ERROR_RATE: "0.3"`.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Recovery {
    /// From the end of the method until the steady state holds again; also how long
    /// tasks get to finish once the load has stopped.
    pub within: DrillDuration,
}

/// A duration written as people write it (`500ms`, `20s`, `2m`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DrillDuration(pub Duration);

impl DrillDuration {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for DrillDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        f.write_str(&humanize(self.0))
    }
}

impl<'de> Deserialize<'de> for DrillDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        opsbox_common::duration::parse(&text)
            .map(DrillDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for DrillDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Milliseconds, so what is written reads back exactly.
        serializer.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}
