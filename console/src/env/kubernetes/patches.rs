//! The patches each rollout verb sends, exactly as `kubectl argo rollouts` sends them:
//! merge patches on the status subresource for promote, abort and retry (status is a
//! subresource since Rollouts 0.10), a spec merge patch to unpause or restart, and a JSON
//! patch of `/spec/template` for undo.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{json, Value};

use super::argo::{Rollout, POD_TEMPLATE_HASH_LABEL};

/// One request against the Rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutPatch {
    /// A merge patch of `/status` (the status subresource).
    Status(Value),
    /// A merge patch of the object.
    Spec(Value),
    /// A JSON patch (RFC 6902) of the object.
    Json(Value),
}

/// The index the controller is at, as the plugin reads it (0 when unset); `None` without
/// canary steps.
fn step_index(rollout: &Rollout) -> Option<i32> {
    let steps = rollout.steps();
    (rollout.spec.strategy.canary.is_some() && !steps.is_empty())
        .then(|| rollout.status.current_step_index.unwrap_or(0))
}

fn next_step(rollout: &Rollout) -> Option<i32> {
    let steps = i32::try_from(rollout.steps().len()).unwrap_or(i32::MAX);
    step_index(rollout).map(|index| if index < steps { index + 1 } else { index })
}

fn inconclusive(rollout: &Rollout) -> bool {
    rollout
        .status
        .canary
        .current_step_analysis_run_status
        .as_ref()
        .is_some_and(|run| run.status == "Inconclusive")
}

/// `promote` (`full`: `promote --full`), status first, then spec.
pub fn promote(rollout: &Rollout, full: bool) -> Vec<RolloutPatch> {
    let (spec, status) = (&rollout.spec, &rollout.status);
    let mut patches = Vec::new();
    if full {
        if status.current_pod_hash != status.stable_rs {
            patches.push(RolloutPatch::Status(
                json!({"status": {"promoteFull": true}}),
            ));
        }
    } else if inconclusive(rollout)
        && !status.pause_conditions.is_empty()
        && status.controller_pause
    {
        // Without stepping on, an inconclusive analysis followed by a pause would hold.
        if let Some(next) = next_step(rollout) {
            patches.push(RolloutPatch::Status(json!({"status": {
                "pauseConditions": null, "controllerPause": false, "currentStepIndex": next
            }})));
        }
    } else if !status.pause_conditions.is_empty() {
        patches.push(RolloutPatch::Status(
            json!({"status": {"pauseConditions": null}}),
        ));
    } else if let Some(next) = next_step(rollout) {
        // Not paused (running an analysis, waiting on a weight): skip the current step.
        patches.push(RolloutPatch::Status(json!({"status": {
            "pauseConditions": null, "currentStepIndex": next
        }})));
    }
    if spec.paused {
        patches.push(RolloutPatch::Spec(json!({"spec": {"paused": false}})));
    }
    patches
}

pub fn abort() -> RolloutPatch {
    RolloutPatch::Status(json!({"status": {"abort": true}}))
}

pub fn retry() -> RolloutPatch {
    RolloutPatch::Status(json!({"status": {"abort": false}}))
}

/// `undo`: the pod template of `to`'s ReplicaSet, without its pod-template-hash label.
pub fn undo(to: &ReplicaSet) -> anyhow::Result<RolloutPatch> {
    let mut template: PodTemplateSpec = to
        .spec
        .as_ref()
        .and_then(|spec| spec.template.clone())
        .ok_or_else(|| anyhow::anyhow!("the ReplicaSet has no pod template"))?;
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|meta| meta.labels.as_mut())
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    Ok(RolloutPatch::Json(json!([
        {"op": "replace", "path": "/spec/template", "value": template}
    ])))
}

/// Starting a rollout: the container's image and its environment overrides. A JSON
/// patch by index, tested against the template first so a changed Rollout fails
/// instead of patching the wrong container.
pub fn set_image(
    rollout: &Rollout,
    container: &str,
    image: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<RolloutPatch> {
    let containers = rollout
        .spec
        .template
        .as_ref()
        .and_then(|template| template.spec.as_ref())
        .map(|pod| pod.containers.as_slice())
        .unwrap_or_default();
    let (index, found) = containers
        .iter()
        .enumerate()
        .find(|(_, candidate)| candidate.name == container)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the Rollout {} has no container named {container:?}",
                rollout.name()
            )
        })?;
    let base = format!("/spec/template/spec/containers/{index}");
    let mut operations = vec![
        json!({"op": "test", "path": format!("{base}/name"), "value": container}),
        json!({"op": "replace", "path": format!("{base}/image"), "value": image}),
    ];
    if !overrides.is_empty() {
        let mut env: Vec<Value> = found
            .env
            .iter()
            .flatten()
            .filter(|var| !overrides.contains_key(&var.name))
            .map(|var| serde_json::to_value(var).unwrap_or(Value::Null))
            .collect();
        env.extend(
            overrides
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value})),
        );
        operations.push(json!({"op": "add", "path": format!("{base}/env"), "value": env}));
    }
    Ok(RolloutPatch::Json(Value::Array(operations)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(yaml: &str) -> Rollout {
        serde_yaml::from_str(yaml).expect("rollout")
    }

    const STEPS: &str = "spec:\n  strategy:\n    canary:\n      steps: [{setWeight: 10}, {pause: {}}, {setWeight: 50}, {analysis: {}}]\n";

    #[test]
    fn promote_clears_the_pause_conditions_on_status_and_unpauses_spec() {
        let paused = rollout(&format!(
            "{STEPS}  paused: true\nstatus:\n  currentStepIndex: 1\n  pauseConditions: [{{reason: CanaryPauseStep}}]\n  currentPodHash: b\n  stableRS: a\n"
        ));
        assert_eq!(
            promote(&paused, false),
            [
                RolloutPatch::Status(json!({"status": {"pauseConditions": null}})),
                RolloutPatch::Spec(json!({"spec": {"paused": false}})),
            ]
        );
    }

    #[test]
    fn promote_when_not_paused_skips_the_current_step() {
        let analysing = rollout(&format!("{STEPS}status:\n  currentStepIndex: 3\n"));
        assert_eq!(
            promote(&analysing, false),
            [RolloutPatch::Status(
                json!({"status": {"pauseConditions": null, "currentStepIndex": 4}})
            )]
        );
        let done = rollout(&format!("{STEPS}status:\n  currentStepIndex: 4\n"));
        assert_eq!(
            promote(&done, false),
            [RolloutPatch::Status(
                json!({"status": {"pauseConditions": null, "currentStepIndex": 4}})
            )],
            "never past the last step"
        );
    }

    #[test]
    fn promote_after_an_inconclusive_analysis_steps_on_and_releases_the_controller() {
        let held = rollout(&format!(
            "{STEPS}status:\n  currentStepIndex: 3\n  controllerPause: true\n  pauseConditions: [{{reason: InconclusiveAnalysisRun}}]\n  canary: {{currentStepAnalysisRunStatus: {{name: r, status: Inconclusive}}}}\n"
        ));
        assert_eq!(
            promote(&held, false),
            [RolloutPatch::Status(json!({"status": {
                "pauseConditions": null, "controllerPause": false, "currentStepIndex": 4
            }}))]
        );
    }

    #[test]
    fn promote_full_sets_promote_full_only_while_a_canary_exists() {
        let canary = rollout(&format!(
            "{STEPS}status:\n  currentPodHash: b\n  stableRS: a\n"
        ));
        assert_eq!(
            promote(&canary, true),
            [RolloutPatch::Status(
                json!({"status": {"promoteFull": true}})
            )]
        );
        let stable = rollout(&format!(
            "{STEPS}status:\n  currentPodHash: a\n  stableRS: a\n"
        ));
        assert!(promote(&stable, true).is_empty());
    }

    #[test]
    fn undo_drops_the_pod_template_hash_label() {
        let rs: ReplicaSet = serde_yaml::from_str(
            "metadata: {name: api-abc}\nspec:\n  selector: {}\n  template:\n    metadata:\n      labels: {app: api, rollouts-pod-template-hash: abc}\n    spec:\n      containers: [{name: api, image: 'opsbox-api:v1'}]\n",
        )
        .expect("rs");
        let RolloutPatch::Json(patch) = undo(&rs).expect("patch") else {
            panic!("a JSON patch")
        };
        assert_eq!(patch[0]["op"], "replace");
        assert_eq!(patch[0]["path"], "/spec/template");
        assert_eq!(
            patch[0]["value"]["metadata"]["labels"],
            json!({"app": "api"})
        );
        assert_eq!(
            patch[0]["value"]["spec"]["containers"][0]["image"],
            "opsbox-api:v1"
        );
    }

    #[test]
    fn set_image_names_the_container_it_patches() {
        let ro = rollout(
            "spec:\n  template:\n    spec:\n      containers:\n      - {name: sidecar, image: s}\n      - name: api\n        image: 'opsbox-api:v1'\n        env: [{name: A, value: '1'}, {name: B, value: '2'}]\n",
        );
        let overrides = [("B".to_owned(), "3".to_owned())].into();
        let RolloutPatch::Json(patch) =
            set_image(&ro, "api", "opsbox-api:v2", &overrides).expect("patch")
        else {
            panic!("a JSON patch")
        };
        assert_eq!(
            patch[0],
            json!({"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "api"})
        );
        assert_eq!(patch[1]["value"], "opsbox-api:v2");
        assert_eq!(
            patch[2]["value"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        );
        let missing =
            set_image(&ro, "web", "x:1", &Default::default()).expect_err("no such container");
        assert!(
            missing.to_string().contains("no container named \"web\""),
            "{missing}"
        );
    }
}
