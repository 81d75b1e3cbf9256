//! The SLO spec (`observability/slo.yaml`): its types, parsing and validation.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml::Value;

use super::duration::PromDuration;
use super::windows::Severity;
use validate::is_url;

/// Version of the spec format this code reads.
pub const SPEC_VERSION: u32 = 1;

/// The period of an SLO that does not name one.
pub const DEFAULT_PERIOD: PromDuration = PromDuration::from_minutes(30 * 24 * 60);

/// Labels the generators own: `track` splits stable from canary and `le` is
/// the histogram bucket, so a spec that matched on them would fight the rules.
pub const RESERVED_LABELS: [&str; 2] = ["track", "le"];

/// The text of `observability/slo.yaml` at build time.
pub const BUILTIN_SPEC: &str = include_str!("../../../observability/slo.yaml");

/// The whole spec: every SLO of OpsBox and where their dashboard lives.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// Grafana path of the SLO dashboard, e.g. `/d/opsbox-slos`.
    pub dashboard: String,
    pub slos: Vec<Slo>,
}

/// One service level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Lowercase, dash-separated; used in labels, file names and alert names.
    pub name: String,
    /// Which workload serves it (`api`, `worker`): one canary analysis each.
    pub service: String,
    pub description: String,
    /// Percent of good events, strictly between 0 and 100.
    pub objective: f64,
    pub period: PromDuration,
    /// Path in this repository or URL of the runbook for its alerts.
    pub runbook: String,
    pub indicator: Indicator,
    pub threshold_alerts: Vec<ThresholdAlert>,
}

/// What counts as a good and a bad event. In YAML, a map with one key
/// naming the kind: `ratio:` or `latency:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Indicator {
    Ratio(RatioIndicator),
    Latency(LatencyIndicator),
}

/// Error events over total events, both counters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioIndicator {
    pub errors: Selector,
    pub total: Selector,
    pub examples: RatioExamples,
}

/// Label sets of one good and one error event, which the generated promtool
/// tests feed in: they document the selectors and prove them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioExamples {
    pub good: BTreeMap<String, String>,
    pub error: BTreeMap<String, String>,
}

/// Events slower than a histogram bucket over all events.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyIndicator {
    /// Base name: `<histogram>_bucket` and `<histogram>_count` are read.
    pub histogram: String,
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Upper bound of a declared bucket: events at or under it are good.
    pub threshold_seconds: f64,
    /// The buckets the service declares, so a threshold between buckets
    /// (which Prometheus cannot count) is caught here.
    pub buckets: Vec<f64>,
    /// Labels of one observed event (without `le`).
    pub example: BTreeMap<String, String>,
}

/// A metric name and label matchers, rendered as a PromQL selector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub metric: String,
    #[serde(default)]
    pub matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regex,
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A plain threshold alert on the SLO's events, for the symptoms the burn
/// rate would report too late (a sudden error storm, any failed job).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdAlert {
    /// Prometheus alert name, CamelCase.
    pub name: String,
    pub signal: Signal,
    /// Fires while the signal is strictly above this.
    pub above: f64,
    #[serde(rename = "for")]
    pub for_duration: PromDuration,
    pub severity: Severity,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Error events / total events over 5m.
    ErrorRatio,
    /// Error events per second over 5m.
    ErrorRate,
}

/// Why a spec was rejected, naming the SLO and the field when there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("SLO spec: {0}")]
    Document(String),
    #[error("SLO `{slo}`: {field}: {reason}")]
    Field {
        slo: String,
        field: String,
        reason: String,
    },
}

impl SloSpec {
    /// Parses and validates the YAML text of a spec.
    /// The spec committed at `observability/slo.yaml`, built into the binary so the
    /// daemon and the console judge by the same numbers from any directory.
    pub fn builtin() -> Result<Self, SpecError> {
        Self::from_yaml(BUILTIN_SPEC)
    }

    pub fn from_yaml(text: &str) -> Result<Self, SpecError> {
        let raw: RawSpec =
            serde_yaml::from_str(text).map_err(|err| SpecError::Document(err.to_string()))?;
        if raw.version != SPEC_VERSION {
            return Err(SpecError::Document(format!(
                "version: this opsbox reads version {SPEC_VERSION}, the spec says {}",
                raw.version
            )));
        }
        if !(raw.dashboard.starts_with('/') || is_url(&raw.dashboard)) {
            return Err(SpecError::Document(format!(
                "dashboard: `{}` must be a Grafana path like /d/opsbox-slos or a URL",
                raw.dashboard
            )));
        }
        if raw.slos.is_empty() {
            return Err(SpecError::Document("slos: declare at least one SLO".into()));
        }
        let slos = raw
            .slos
            .into_iter()
            .enumerate()
            .map(|(index, value)| Slo::from_value(index, value))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = SloSpec {
            dashboard: raw.dashboard,
            slos,
        };
        spec.validate_across_slos()?;
        Ok(spec)
    }

    pub fn slo(&self, name: &str) -> Option<&Slo> {
        self.slos.iter().find(|slo| slo.name == name)
    }

    /// Services in the order they first appear.
    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = Vec::new();
        for slo in &self.slos {
            if !services.contains(&slo.service.as_str()) {
                services.push(&slo.service);
            }
        }
        services
    }
}

impl Slo {
    /// The objective as a ratio (99.9 -> 0.999), rounded so that decimal
    /// objectives print as typed.
    pub fn objective_ratio(&self) -> f64 {
        round_decimal(self.objective / 100.0)
    }

    /// The fraction of events allowed to be bad (99.9 -> 0.001).
    pub fn error_budget(&self) -> f64 {
        round_decimal((100.0 - self.objective) / 100.0)
    }

    /// `api-availability` -> `ApiAvailabilityErrorBudgetBurn`.
    pub fn burn_rate_alert_name(&self) -> String {
        let camel: String = self
            .name
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect();
        format!("{camel}ErrorBudgetBurn")
    }

    fn from_value(index: usize, value: Value) -> Result<Self, SpecError> {
        // Name the SLO in errors even when the rest of it is broken.
        let label = value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("#{}", index + 1));
        let raw: RawSlo = serde_yaml::from_value(value).map_err(|err| {
            let reason = err.to_string();
            // serde names the missing or unknown field between backticks.
            let field = reason.split('`').nth(1).unwrap_or("fields").to_owned();
            SpecError::Field {
                slo: label.clone(),
                field,
                reason,
            }
        })?;
        let slo = Slo {
            name: field(&label, "name", raw.name)?,
            service: field(&label, "service", raw.service)?,
            description: field(&label, "description", raw.description)?,
            objective: field(&label, "objective", raw.objective)?,
            period: match raw.period {
                Some(value) => field(&label, "period", value)?,
                None => DEFAULT_PERIOD,
            },
            runbook: field(&label, "runbook", raw.runbook)?,
            indicator: Indicator::from_value(&label, raw.indicator)?,
            threshold_alerts: match raw.threshold_alerts {
                Some(value) => field(&label, "threshold_alerts", value)?,
                None => Vec::new(),
            },
        };
        slo.validate()?;
        Ok(slo)
    }
}

impl Indicator {
    /// By hand, because serde_yaml 0.9 reads externally tagged enums only
    /// from YAML tags (`!ratio`), and a map reads better in a spec.
    fn from_value(slo: &str, value: Value) -> Result<Self, SpecError> {
        let kinds = "expected `ratio` or `latency`";
        let Value::Mapping(mapping) = value else {
            return Err(field_error(
                slo,
                "indicator",
                format!("must be a map with one key, {kinds}"),
            ));
        };
        let mut entries = mapping.into_iter();
        let (kind, body) = match (entries.next(), entries.next()) {
            (Some(entry), None) => entry,
            _ => {
                return Err(field_error(
                    slo,
                    "indicator",
                    format!("must have exactly one key, {kinds}"),
                ));
            }
        };
        match kind.as_str() {
            Some("ratio") => Ok(Indicator::Ratio(field(slo, "indicator.ratio", body)?)),
            Some("latency") => Ok(Indicator::Latency(field(slo, "indicator.latency", body)?)),
            _ => Err(field_error(
                slo,
                "indicator",
                format!("unknown indicator kind `{}`, {kinds}", yaml_scalar(&kind)),
            )),
        }
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim().to_owned())
            .unwrap_or_default(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    version: u32,
    dashboard: String,
    slos: Vec<Value>,
}

/// Every field as raw YAML first, so that a type error can name its field
/// (serde's own messages only do that for missing and unknown fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    name: Value,
    service: Value,
    description: Value,
    objective: Value,
    #[serde(default)]
    period: Option<Value>,
    runbook: Value,
    indicator: Value,
    #[serde(default)]
    threshold_alerts: Option<Value>,
}

fn field<T: DeserializeOwned>(slo: &str, name: &str, value: Value) -> Result<T, SpecError> {
    serde_yaml::from_value(value).map_err(|err| field_error(slo, name, err.to_string()))
}

fn field_error(slo: &str, field: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Field {
        slo: slo.to_owned(),
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Rounds to 12 decimals: enough for any objective people write, and it
/// turns 1 - 0.999 = 0.0010000000000000009 back into 0.001.
fn round_decimal(value: f64) -> f64 {
    (value * 1e12).round() / 1e12
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod validate;

#[cfg(test)]
mod tests;
