//! Argo Rollouts AnalysisTemplates that judge a canary against the SLOs, as a Helm template.

use std::collections::BTreeMap;

use serde::Serialize;

use super::canary::{
    canary_thresholds, CanaryCheck, CanaryThreshold, CANARY_ANALYSIS, CANARY_TRACK,
};
use super::promql::{self, Scope};
use super::spec::{Indicator, SloSpec};

/// The Argo argument that overrides where Prometheus is.
pub const PROMETHEUS_ADDRESS_ARG: &str = "prometheus-address";

/// The Prometheus of kube-prometheus-stack in a `monitoring` namespace;
/// a Rollout passes `prometheus-address` to use another.
pub const DEFAULT_PROMETHEUS_ADDRESS: &str = "http://prometheus-operated.monitoring.svc:9090";

/// `opsbox-slo-api`: the template a service's Rollout references.
pub fn template_name(service: &str) -> String {
    format!("opsbox-slo-{service}")
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplate {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: AnalysisTemplateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisTemplateSpec {
    pub args: Vec<Argument>,
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Argument {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    pub interval: String,
    pub count: u32,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub success_condition: String,
    pub failure_condition: String,
    pub provider: Provider,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provider {
    pub prometheus: PrometheusProvider,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusProvider {
    pub address: String,
    pub query: String,
}

/// One template per service, each with one metric per SLO of that service,
/// so an API canary is never held up waiting for worker traffic.
pub fn analysis_templates(spec: &SloSpec) -> Vec<AnalysisTemplate> {
    let thresholds = canary_thresholds(spec);
    spec.services()
        .into_iter()
        .map(|service| AnalysisTemplate {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "AnalysisTemplate".into(),
            metadata: Metadata {
                name: template_name(service),
                labels: BTreeMap::from([
                    ("app.kubernetes.io/part-of".to_owned(), "opsbox".to_owned()),
                    ("app.kubernetes.io/component".to_owned(), service.to_owned()),
                ]),
            },
            spec: AnalysisTemplateSpec {
                args: vec![Argument {
                    name: PROMETHEUS_ADDRESS_ARG.into(),
                    value: DEFAULT_PROMETHEUS_ADDRESS.into(),
                }],
                metrics: thresholds
                    .iter()
                    .filter(|threshold| threshold.service == service)
                    .filter_map(|threshold| metric(spec, threshold))
                    .collect(),
            },
        })
        .collect()
}

fn metric(spec: &SloSpec, threshold: &CanaryThreshold) -> Option<Metric> {
    let slo = spec.slo(&threshold.slo)?;
    let window = CANARY_ANALYSIS.window;
    let scope = Scope::Track(CANARY_TRACK);
    // scalar() turns "no canary traffic" into NaN, which fails both
    // conditions and so counts as inconclusive instead of as an error.
    let (query, success, failure) = match (&slo.indicator, threshold.check) {
        (Indicator::Latency(latency), CanaryCheck::Latency { min_good_ratio, .. }) => {
            let bound = promql::number(min_good_ratio);
            (
                promql::good_latency_ratio(latency, window, scope),
                format!("result >= {bound}"),
                format!("result < {bound}"),
            )
        }
        (indicator, CanaryCheck::ErrorRatio { max_error_ratio }) => {
            let bound = promql::number(max_error_ratio);
            (
                promql::error_ratio(indicator, window, scope),
                format!("result <= {bound}"),
                format!("result > {bound}"),
            )
        }
        (_, CanaryCheck::Latency { .. }) => return None,
    };
    Some(Metric {
        name: slo.name.clone(),
        interval: CANARY_ANALYSIS.interval.to_string(),
        count: CANARY_ANALYSIS.count,
        failure_limit: CANARY_ANALYSIS.failure_limit,
        inconclusive_limit: CANARY_ANALYSIS.inconclusive_limit,
        success_condition: success,
        failure_condition: failure,
        provider: Provider {
            prometheus: PrometheusProvider {
                address: format!("{{{{args.{PROMETHEUS_ADDRESS_ARG}}}}}"),
                query: format!("scalar(\n{}\n)", indent(&query)),
            },
        },
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The templates as a multi-document YAML of the objects Argo receives.
pub fn objects_yaml(spec: &SloSpec) -> Result<String, serde_yaml::Error> {
    let documents = analysis_templates(spec)
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(documents.join("---\n"))
}

/// The same YAML as a Helm template: Helm would otherwise read Argo's own
/// `{{args.x}}` placeholders as template actions and fail.
pub fn helm_template(spec: &SloSpec) -> Result<String, serde_yaml::Error> {
    Ok(escape_for_helm(&objects_yaml(spec)?))
}

/// Replaces every `{{` and `}}` with a Go template action printing it.
pub fn escape_for_helm(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            escaped.push_str(r#"{{ "{{" }}"#);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            escaped.push_str(r#"{{ "}}" }}"#);
            rest = after;
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                escaped.push(c);
            }
            rest = chars.as_str();
        }
    }
    escaped
}

/// The chart renders the AnalysisTemplates only where the API is an Argo
/// Rollout: a cluster without Argo Rollouts has no such kind.
pub const HELM_GUARD_OPEN: &str = "{{- if .Values.argoRollouts.enabled }}\n";
pub const HELM_GUARD_CLOSE: &str = "{{- end }}\n";

/// Wraps a template in the chart's `argoRollouts.enabled` condition.
pub fn guard_for_helm(template: &str) -> String {
    format!("{HELM_GUARD_OPEN}{template}{HELM_GUARD_CLOSE}")
}

/// What Helm prints (with `argoRollouts.enabled`) for a file written by
/// [`escape_for_helm`] and [`guard_for_helm`].
pub fn unescape_helm(text: &str) -> String {
    text.replace(HELM_GUARD_OPEN, "")
        .replace(HELM_GUARD_CLOSE, "")
        .replace(r#"{{ "{{" }}"#, "{{")
        .replace(r#"{{ "}}" }}"#, "}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_gone_once_rendered() {
        let guarded = guard_for_helm("kind: AnalysisTemplate\n");
        assert!(guarded.starts_with("{{- if .Values.argoRollouts.enabled }}"));
        assert_eq!(unescape_helm(&guarded), "kind: AnalysisTemplate\n");
    }

    #[test]
    fn helm_escaping_round_trips_argo_placeholders() {
        let argo = "address: '{{args.prometheus-address}}'\nquery: x{a=\"}\"}\n";
        let helm = escape_for_helm(argo);
        assert_eq!(
            helm,
            "address: '{{ \"{{\" }}args.prometheus-address{{ \"}}\" }}'\nquery: x{a=\"}\"}\n"
        );
        assert_eq!(unescape_helm(&helm), argo);
    }
}
