//! The parts of Argo Rollouts' objects the console reads, typed leniently: real objects
//! carry quirks (an `observedGeneration` that is a string, `status.canary: {}`, no
//! status at all on a brand-new Rollout, step kinds this console does not model), and
//! none of them may stop the console from showing what it can.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::core::{ApiResource, GroupVersionKind, ObjectMeta};
use serde::Deserialize;
use serde_json::Value;

/// `argoproj.io/v1alpha1` `Rollout`.
pub fn rollout_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

/// `argoproj.io/v1alpha1` `AnalysisRun`.
pub fn analysis_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "AnalysisRun"),
        "analysisruns",
    )
}

/// The annotation Argo writes on a Rollout's ReplicaSets and AnalysisRuns.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";

/// The label that ties a ReplicaSet or pod to its pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Rollout {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: RolloutSpec,
    #[serde(default)]
    pub status: RolloutStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    pub replicas: Option<i32>,
    #[serde(default)]
    pub paused: bool,
    pub restart_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub strategy: Strategy,
    pub template: Option<PodTemplateSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    pub canary: Option<CanaryStrategy>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    #[serde(default)]
    pub steps: Vec<BTreeMap<String, Value>>,
    pub traffic_routing: Option<TrafficRouting>,
    /// The Service that always selects the stable pods (the admin calls go there).
    pub stable_service: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouting {
    pub max_traffic_weight: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(default)]
    pub abort: bool,
    #[serde(default)]
    pub controller_pause: bool,
    #[serde(default)]
    pub pause_conditions: Vec<PauseCondition>,
    pub current_step_index: Option<i32>,
    #[serde(default)]
    pub current_pod_hash: String,
    #[serde(default, rename = "stableRS")]
    pub stable_rs: String,
    /// A number in Rollouts 1.x, a hash in 0.9: kept as written.
    pub observed_generation: Option<Value>,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub restarted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub updated_replicas: i32,
    #[serde(default)]
    pub available_replicas: i32,
    #[serde(default)]
    pub canary: CanaryStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseCondition {
    #[serde(default)]
    pub reason: String,
    pub start_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    pub weights: Option<TrafficWeights>,
    pub current_step_analysis_run_status: Option<AnalysisRunRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TrafficWeights {
    #[serde(default)]
    pub canary: WeightDestination,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WeightDestination {
    #[serde(default)]
    pub weight: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalysisRunRef {
    #[serde(default)]
    pub status: String,
}

impl Rollout {
    /// The generation the controller has seen, when it says so as a number.
    pub fn observed_generation(&self) -> Option<i64> {
        match self.status.observed_generation.as_ref()? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn steps(&self) -> &[BTreeMap<String, Value>] {
        self.spec
            .strategy
            .canary
            .as_ref()
            .map_or(&[], |canary| canary.steps.as_slice())
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalysisRun {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AnalysisRunSpec,
    #[serde(default)]
    pub status: AnalysisRunStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalysisRunSpec {
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    #[serde(default)]
    pub name: String,
    /// An expression such as `result <= 0.001` (the generated templates' form).
    #[serde(default)]
    pub success_condition: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStatus {
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub metric_results: Vec<MetricResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricResult {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// Whatever the provider returned, as text (`"0.002"`, `"[0.1]"`, `"false"`).
    #[serde(default)]
    pub value: String,
    pub finished_at: Option<DateTime<Utc>>,
}
