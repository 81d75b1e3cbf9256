//! A Rollout, its ReplicaSets and AnalysisRuns, read as `kubectl argo rollouts get
//! rollout` reads them (its `info` package and `GetRolloutPhase`): phase and message,
//! step, set and actual weight, stable and canary revisions, analysis.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::Value;

use super::argo::{self, AnalysisRun, Rollout, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION};
use crate::model::{
    AnalysisMeasurement, AnalysisPhase, AnalysisRun as RunStatus, AnalysisStep, PauseStep,
    Revision, RolloutPhase, RolloutStatus, RolloutStep, MAX_REVISIONS,
};
use crate::slo::PromDuration;

const MAX_WEIGHT: i32 = 100;

/// The phase and message as the Argo plugin shows them.
pub fn phase(rollout: &Rollout) -> (RolloutPhase, String) {
    if let Some(observed) = rollout.observed_generation() {
        let generation = rollout.metadata.generation.unwrap_or_default();
        // A 0.9-era hash can be all digits; a larger "generation" is one of those.
        if observed < generation {
            return (
                RolloutPhase::Progressing,
                "waiting for rollout spec update to be observed".to_owned(),
            );
        }
    }
    let status = &rollout.status;
    if status.controller_pause && status.pause_conditions.is_empty() {
        return (
            RolloutPhase::Progressing,
            "waiting for rollout to unpause".to_owned(),
        );
    }
    if !status.phase.is_empty() {
        // Rollouts 1.0+ computes phase and message on the controller side.
        return (parse_phase(&status.phase), status.message.clone());
    }
    calculated_phase(rollout)
}

fn parse_phase(text: &str) -> RolloutPhase {
    match text {
        "Healthy" => RolloutPhase::Healthy,
        "Paused" => RolloutPhase::Paused,
        "Degraded" => RolloutPhase::Degraded,
        _ => RolloutPhase::Progressing,
    }
}

/// The client-side computation for controllers that do not write `status.phase`.
fn calculated_phase(rollout: &Rollout) -> (RolloutPhase, String) {
    let (spec, status) = (&rollout.spec, &rollout.status);
    for condition in &status.conditions {
        if condition.kind == "InvalidSpec" {
            return (
                RolloutPhase::Degraded,
                format!("InvalidSpec: {}", condition.message),
            );
        }
        if matches!(
            condition.reason.as_str(),
            "RolloutAborted" | "ProgressDeadlineExceeded"
        ) {
            return (
                RolloutPhase::Degraded,
                format!("{}: {}", condition.reason, condition.message),
            );
        }
    }
    if spec.paused {
        return (RolloutPhase::Paused, "manually paused".to_owned());
    }
    if let Some(pause) = status.pause_conditions.first() {
        return (RolloutPhase::Paused, pause.reason.clone());
    }
    if spec.restart_at.is_some() && spec.restart_at != status.restarted_at {
        return (
            RolloutPhase::Progressing,
            "rollout is restarting".to_owned(),
        );
    }
    let desired = spec.replicas.unwrap_or(1);
    if status.updated_replicas < desired {
        return (
            RolloutPhase::Progressing,
            "more replicas need to be updated".to_owned(),
        );
    }
    if status.available_replicas < status.updated_replicas {
        return (
            RolloutPhase::Progressing,
            "updated replicas are still becoming available".to_owned(),
        );
    }
    if let Some(canary) = &spec.strategy.canary {
        if canary.traffic_routing.is_none() && status.replicas > status.updated_replicas {
            return (
                RolloutPhase::Progressing,
                "old replicas are pending termination".to_owned(),
            );
        }
        if status.stable_rs.is_empty() || status.stable_rs != status.current_pod_hash {
            return (
                RolloutPhase::Progressing,
                "waiting for all steps to complete".to_owned(),
            );
        }
    }
    (RolloutPhase::Healthy, String::new())
}

fn max_weight(rollout: &Rollout) -> i32 {
    rollout
        .spec
        .strategy
        .canary
        .as_ref()
        .and_then(|canary| canary.traffic_routing.as_ref())
        .and_then(|routing| routing.max_traffic_weight)
        .unwrap_or(MAX_WEIGHT)
}

/// The current step's index, when there is a current step (none once all are done).
fn current_step(rollout: &Rollout) -> Option<usize> {
    let steps = rollout.steps();
    if rollout.spec.strategy.canary.is_none() || steps.is_empty() {
        return None;
    }
    let index = usize::try_from(rollout.status.current_step_index.unwrap_or(0)).ok()?;
    (index < steps.len()).then_some(index)
}

/// The weight the current step asks for: the last `setWeight` at or before it.
pub fn set_weight(rollout: &Rollout) -> i32 {
    if rollout.status.abort {
        return 0;
    }
    let Some(index) = current_step(rollout) else {
        return max_weight(rollout);
    };
    rollout.steps()[..=index]
        .iter()
        .rev()
        .find_map(|step| step.get("setWeight").and_then(Value::as_i64))
        .and_then(|weight| i32::try_from(weight).ok())
        .unwrap_or(0)
}

/// The weight in effect: without traffic routing, the canary's share of available pods.
pub fn actual_weight(rollout: &Rollout, canary: Option<&ReplicaSet>) -> i32 {
    if current_step(rollout).is_none() {
        return max_weight(rollout);
    }
    let available = rollout.status.available_replicas;
    if available <= 0 {
        return 0;
    }
    let routed = rollout
        .spec
        .strategy
        .canary
        .as_ref()
        .is_some_and(|canary| canary.traffic_routing.is_some());
    if routed {
        return match &rollout.status.canary.weights {
            Some(weights) => weights.canary.weight,
            None => set_weight(rollout),
        };
    }
    let canary_available = canary
        .and_then(|rs| rs.status.as_ref())
        .and_then(|status| status.available_replicas)
        .unwrap_or(0);
    canary_available * max_weight(rollout) / available
}

/// The ReplicaSets this Rollout owns, newest revision first.
pub fn owned_replica_sets<'a>(rollout: &Rollout, all: &'a [ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let mut owned: Vec<&ReplicaSet> = all
        .iter()
        .filter(|rs| owned_by(&rs.metadata, rollout))
        .collect();
    owned.sort_by_key(|rs| std::cmp::Reverse(revision_number(&rs.metadata)));
    owned
}

fn owned_by(meta: &kube::core::ObjectMeta, rollout: &Rollout) -> bool {
    meta.owner_references.iter().flatten().any(|owner| {
        owner.kind == "Rollout"
            && match &rollout.metadata.uid {
                Some(uid) => &owner.uid == uid,
                None => owner.name == rollout.name(),
            }
    })
}

pub fn revision_number(meta: &kube::core::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|annotations| annotations.get(REVISION_ANNOTATION))
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

pub fn pod_template_hash(meta: &kube::core::ObjectMeta) -> Option<&str> {
    meta.labels
        .as_ref()?
        .get(POD_TEMPLATE_HASH_LABEL)
        .map(String::as_str)
}

/// How a ReplicaSet's revision is called: the tag (or short digest) of its image, with
/// the revision number when another revision runs the same image.
pub fn revision_names(
    owned: &[&ReplicaSet],
    number: impl Fn(&ReplicaSet) -> i64,
) -> BTreeMap<i64, String> {
    let labels: Vec<(i64, String)> = owned
        .iter()
        .map(|rs| (number(rs), image_label(rs)))
        .collect();
    labels
        .iter()
        .map(|(number, label)| {
            let shared = labels.iter().filter(|(_, other)| other == label).count() > 1;
            let name = if shared {
                format!("{label}@{number}")
            } else {
                label.clone()
            };
            (*number, name)
        })
        .collect()
}

fn image_label(rs: &ReplicaSet) -> String {
    let image = rs
        .spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|container| container.image.as_deref())
        .unwrap_or("?");
    image_tag(image).to_owned()
}

/// `registry:5000/opsbox-api:v2` → `v2`; `x@sha256:0123456789ab…` → `sha256:0123456789ab`.
pub fn image_tag(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return &digest[..digest.len().min(19)];
    }
    let name_end = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[name_end..].rsplit_once(':') {
        Some((_, tag)) => tag,
        None => "latest",
    }
}

/// The canary step as the console models it.
pub fn step(step: &BTreeMap<String, Value>) -> RolloutStep {
    if let Some(weight) = step.get("setWeight").and_then(Value::as_u64) {
        return RolloutStep::SetWeight(u8::try_from(weight.min(100)).unwrap_or(100));
    }
    if let Some(pause) = step.get("pause") {
        let duration = match pause.get("duration") {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(seconds)) => Some(format!("{seconds}s")),
            _ => None,
        };
        return RolloutStep::Pause(PauseStep { duration });
    }
    if step.contains_key("analysis") {
        return RolloutStep::Analysis(AnalysisStep {});
    }
    RolloutStep::Other(
        step.keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "empty step".to_owned()),
    )
}

/// When a timed pause step ends, from when the controller paused.
fn pause_until(rollout: &Rollout) -> Option<DateTime<Utc>> {
    let index = current_step(rollout)?;
    let RolloutStep::Pause(PauseStep {
        duration: Some(duration),
    }) = step(&rollout.steps()[index])
    else {
        return None;
    };
    let duration: String = duration;
    let started = rollout
        .status
        .pause_conditions
        .iter()
        .find(|pause| pause.reason == "CanaryPauseStep")?
        .start_time?;
    let seconds = PromDuration::parse(&duration).ok()?.seconds();
    Some(started + chrono::Duration::seconds(i64::try_from(seconds).ok()?))
}

fn analysis_phase(text: &str) -> AnalysisPhase {
    match text {
        "Successful" => AnalysisPhase::Successful,
        "Failed" | "Error" => AnalysisPhase::Failed,
        "Inconclusive" => AnalysisPhase::Inconclusive,
        _ => AnalysisPhase::Running,
    }
}

/// `result <= 0.001` → (`error_ratio`, 0.001); `result >= 0.99` → (`good_ratio`, 0.99):
/// the generated templates' conditions. Anything else is shown by name, threshold unknown.
fn condition(expression: &str) -> Option<(&'static str, f64)> {
    let rest = expression.trim().strip_prefix("result")?.trim_start();
    let rest = rest.strip_prefix("[0]").unwrap_or(rest).trim_start();
    let (metric, number) = if let Some(number) = rest.strip_prefix("<=") {
        ("error_ratio", number)
    } else if let Some(number) = rest.strip_prefix(">=") {
        ("good_ratio", number)
    } else {
        return None;
    };
    number
        .trim()
        .parse()
        .ok()
        .map(|threshold| (metric, threshold))
}

/// One metric's latest measurement, its value read as a number when it is one (a
/// Prometheus provider writes `[0.002]` for a vector). A cluster's run does not say
/// how many requests a value came from: `events` is NaN there, shown as unknown.
fn measurement(
    metric: &argo::MetricResult,
    spec: Option<&argo::MetricSpec>,
) -> AnalysisMeasurement {
    let last = metric.measurements.last();
    let value = last.and_then(|measurement| {
        measurement
            .value
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .next()
            .and_then(|number| number.trim().parse::<f64>().ok())
    });
    let (kind, threshold) = spec
        .and_then(|spec| condition(&spec.success_condition))
        .map_or((metric.name.clone(), f64::NAN), |(kind, threshold)| {
            (kind.to_owned(), threshold)
        });
    AnalysisMeasurement {
        slo: metric.name.clone(),
        metric: kind,
        value,
        threshold,
        events: f64::NAN,
        phase: analysis_phase(&metric.phase),
    }
}

/// The analysis runs of the revision being rolled out, oldest first.
fn analysis_runs(rollout: &Rollout, runs: &[AnalysisRun]) -> Vec<RunStatus> {
    let mut mine: Vec<&AnalysisRun> = runs
        .iter()
        .filter(|run| owned_by(&run.metadata, rollout))
        .filter(|run| pod_template_hash(&run.metadata) == Some(&rollout.status.current_pod_hash))
        .collect();
    mine.sort_by_key(|run| run.status.started_at);
    mine.into_iter()
        .map(|run| {
            let step_index = run
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get("step-index"))
                .and_then(|text| text.parse().ok())
                .or_else(|| current_step(rollout))
                .unwrap_or(0);
            let phase = analysis_phase(&run.status.phase);
            let finished_at = run
                .status
                .metric_results
                .iter()
                .flat_map(|metric| metric.measurements.iter())
                .filter_map(|measurement| measurement.finished_at)
                .max()
                .filter(|_| phase != AnalysisPhase::Running);
            RunStatus {
                step_index,
                started_at: run
                    .status
                    .started_at
                    .or(run
                        .metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| super::time::to_chrono(t.0)))
                    .unwrap_or_default(),
                finished_at,
                phase,
                measurements: run
                    .status
                    .metric_results
                    .iter()
                    .map(|result| {
                        let spec = run.spec.metrics.iter().find(|m| m.name == result.name);
                        measurement(result, spec)
                    })
                    .collect(),
                message: Some(run.status.message.clone()).filter(|message| !message.is_empty()),
            }
        })
        .collect()
}

/// Everything the rollout view shows, from the objects as the cluster returned them.
pub fn rollout_status(
    rollout: &Rollout,
    replica_sets: &[ReplicaSet],
    analysis_runs_seen: &[AnalysisRun],
    now: DateTime<Utc>,
) -> RolloutStatus {
    let owned = owned_replica_sets(rollout, replica_sets);
    let names = revision_names(&owned, |rs| revision_number(&rs.metadata));
    let status = &rollout.status;
    let find = |hash: &str| {
        owned
            .iter()
            .copied()
            .find(|rs| !hash.is_empty() && pod_template_hash(&rs.metadata) == Some(hash))
    };
    let stable = find(&status.stable_rs);
    let canary =
        find(&status.current_pod_hash).filter(|_| status.current_pod_hash != status.stable_rs);
    let name_of = |rs: &ReplicaSet| names.get(&revision_number(&rs.metadata)).cloned();
    let (phase, message) = phase(rollout);
    let mut revisions: Vec<Revision> = owned
        .iter()
        .rev()
        .map(|rs| revision(rs, name_of(rs).unwrap_or_default()))
        .collect();
    if revisions.len() > MAX_REVISIONS {
        revisions.drain(..revisions.len() - MAX_REVISIONS);
    }
    let (canary_ready, canary_replicas) = canary.map_or((0, 0), |rs| {
        let ready = rs
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        let wanted = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        (clamp_u16(ready), clamp_u16(wanted))
    });
    let actual = actual_weight(rollout, canary);
    let set = set_weight(rollout);
    RolloutStatus {
        name: Some(rollout.name().to_owned()),
        choices: Vec::new(),
        stable_revision: stable.and_then(name_of).unwrap_or_default(),
        canary_revision: canary.and_then(name_of),
        phase,
        aborted: status.abort,
        message: Some(message).filter(|message| !message.is_empty()),
        steps: rollout.steps().iter().map(step).collect(),
        current_step_index: status
            .current_step_index
            .and_then(|index| usize::try_from(index).ok()),
        canary_weight: clamp_weight(actual),
        set_weight: Some(clamp_weight(set)),
        pause_until: pause_until(rollout),
        analysis_runs: analysis_runs(rollout, analysis_runs_seen),
        revisions,
        events: Vec::new(),
        canary_ready,
        canary_replicas,
        updated_at: now,
    }
}

/// A ReplicaSet as a revision: its name, the literal environment of its first
/// container (the revision's overrides) and when it was made.
pub fn revision(rs: &ReplicaSet, name: String) -> Revision {
    Revision {
        name,
        overrides: literal_env(rs),
        created_at: rs
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| super::time::to_chrono(t.0))
            .unwrap_or_default(),
        last_stable_at: None,
    }
}

fn literal_env(rs: &ReplicaSet) -> BTreeMap<String, String> {
    rs.spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|container| container.env.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|var| Some((var.name.clone(), var.value.clone()?)))
        .collect()
}

fn clamp_weight(weight: i32) -> u8 {
    u8::try_from(weight.clamp(0, 100)).unwrap_or(100)
}

fn clamp_u16(count: i32) -> u16 {
    u16::try_from(count.max(0)).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_conditions_give_the_metric_and_threshold() {
        assert_eq!(condition("result <= 0.001"), Some(("error_ratio", 0.001)));
        assert_eq!(condition("result[0] >= 0.99"), Some(("good_ratio", 0.99)));
        assert_eq!(condition("result == \"true\""), None);
        assert_eq!(condition(""), None);
    }
}
