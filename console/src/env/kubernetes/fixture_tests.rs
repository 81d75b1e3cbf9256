//! The rollout model against real upstream objects: the Argo plugin's own test data in
//! `../shared/fixtures/argo-rollouts`, read from there (never copied), when
//! `OPSBOX_SHARED_FIXTURES` points at it. The expected figures are what `kubectl argo
//! rollouts get rollout` prints for the same objects.

use std::path::PathBuf;

use chrono::Utc;
use k8s_openapi::api::apps::v1::ReplicaSet;
use serde::de::DeserializeOwned;

use super::argo::{AnalysisRun, Rollout};
use super::rollout_info::{actual_weight, phase, rollout_status, set_weight};
use crate::model::{AnalysisPhase, RolloutPhase};

fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("OPSBOX_SHARED_FIXTURES") {
        Some(dir) => Some(PathBuf::from(dir).join("argo-rollouts")),
        None => {
            assert!(
                std::env::var_os("OPSBOX_REQUIRE_FIXTURES").is_none(),
                "OPSBOX_REQUIRE_FIXTURES is set but OPSBOX_SHARED_FIXTURES is not"
            );
            eprintln!("skipped: set OPSBOX_SHARED_FIXTURES=../shared/fixtures to run");
            None
        }
    }
}

fn read<T: DeserializeOwned>(dir: &std::path::Path, file: &str) -> T {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_canary_demo_reads_as_the_plugin_shows_it() {
    let Some(dir) = fixtures() else { return };
    let dir = dir.join("canary");
    let rollout: Rollout = read(&dir, "canary-rollout.yaml");
    let replica_sets: Vec<ReplicaSet> = ["canary-rs.yaml", "stable-rs.yaml", "old-rs.yaml"]
        .iter()
        .map(|file| read(&dir, file))
        .collect();
    let status = rollout_status(&rollout, &replica_sets, &[], Utc::now());
    assert_eq!(status.phase, RolloutPhase::Degraded);
    assert_eq!(
        status.message.as_deref(),
        Some(
            r#"ProgressDeadlineExceeded: ReplicaSet "canary-demo-65fb5ffc84" has timed out progressing."#
        )
    );
    assert_eq!(status.current_step_index, Some(0));
    assert_eq!(status.steps.len(), 8);
    assert_eq!(set_weight(&rollout), 20);
    assert_eq!(status.set_weight, Some(20));
    assert_eq!(status.canary_weight, 0, "no canary pod is available");
    assert_eq!(status.stable_revision, "green");
    assert_eq!(status.canary_revision.as_deref(), Some("does-not-exist"));
    assert_eq!(status.revisions.len(), 3, "{:?}", status.revisions);
    assert_eq!((status.canary_ready, status.canary_replicas), (0, 1));
    // The string observedGeneration ("429") equals the generation: observed.
    assert_ne!(
        phase(&rollout).1,
        "waiting for rollout spec update to be observed"
    );
}

#[test]
fn an_aborted_rollout_is_degraded_with_the_analysis_message() {
    let Some(dir) = fixtures() else { return };
    let dir = dir.join("rollout-aborted");
    let rollout: Rollout = read(&dir, "rollout.yaml");
    let replica_sets: Vec<ReplicaSet> = vec![read(&dir, "rs1.yaml"), read(&dir, "rs2.yaml")];
    let runs: Vec<AnalysisRun> = vec![read(&dir, "analysisrun.yaml")];
    let status = rollout_status(&rollout, &replica_sets, &runs, Utc::now());
    assert_eq!(status.phase, RolloutPhase::Degraded);
    assert_eq!(
        status.message.as_deref(),
        Some(
            r#"RolloutAborted: metric "web" assessed Failed due to failed (1) > failureLimit (0)"#
        )
    );
    assert!(status.aborted);
    assert_eq!(
        set_weight(&rollout),
        0,
        "an aborted rollout asks for no canary traffic"
    );
    let run = status.analysis_runs.first().expect("the background run");
    assert_eq!(run.phase, AnalysisPhase::Failed);
    assert_eq!(run.measurements[0].metric, "web");
    assert_eq!(run.measurements[0].phase, AnalysisPhase::Failed);
    assert_eq!(run.measurements[0].value, None, "\"false\" is not a number");
}

#[test]
fn the_upstream_examples_parse_and_read_without_status() {
    let Some(dir) = fixtures() else { return };
    for file in [
        "rollout-canary.yaml",
        "rollout-analysis-step.yaml",
        "rollout-background-analysis.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("readable");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(document).expect("yaml");
            if value.get("kind").and_then(serde_yaml::Value::as_str) != Some("Rollout") {
                continue;
            }
            let rollout: Rollout = serde_yaml::from_value(value).expect(file);
            // A brand-new Rollout: no status yet, so nothing is updated.
            let (phase, message) = phase(&rollout);
            assert_eq!(phase, RolloutPhase::Progressing, "{file}");
            assert_eq!(message, "more replicas need to be updated", "{file}");
            assert_eq!(actual_weight(&rollout, None), 0, "{file}");
            let status = rollout_status(&rollout, &[], &[], Utc::now());
            assert!(!status.steps.is_empty(), "{file}");
        }
    }
}

use serde::Deserialize as _;
