//! Validation of a parsed SLO spec: every rule that serde's types cannot express.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    field_error, Indicator, MatchOp, Matcher, Selector, Signal, Slo, SloSpec, SpecError,
    ThresholdAlert, RESERVED_LABELS,
};
use crate::slo::windows::LONGEST_ALERT_WINDOW;

impl SloSpec {
    pub(super) fn validate_across_slos(&self) -> Result<(), SpecError> {
        let mut names = BTreeSet::new();
        let mut alert_names = BTreeSet::new();
        for slo in &self.slos {
            if !names.insert(slo.name.as_str()) {
                return Err(slo.error("name", "another SLO already has this name"));
            }
            let burn_alert = slo.burn_rate_alert_name();
            if !alert_names.insert(burn_alert.clone()) {
                return Err(slo.error(
                    "name",
                    format!("its burn-rate alert `{burn_alert}` clashes with another alert"),
                ));
            }
            for alert in &slo.threshold_alerts {
                if !alert_names.insert(alert.name.clone()) {
                    return Err(slo.error(
                        "threshold_alerts.name",
                        format!("alert `{}` is declared twice", alert.name),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Slo {
    fn error(&self, field: &str, reason: impl Into<String>) -> SpecError {
        field_error(&self.name, field, reason)
    }

    pub(super) fn validate(&self) -> Result<(), SpecError> {
        if !is_slug(&self.name) {
            return Err(self.error(
                "name",
                "use lowercase letters, digits and dashes, starting with a letter",
            ));
        }
        if !is_slug(&self.service) {
            return Err(self.error(
                "service",
                "use lowercase letters, digits and dashes, starting with a letter",
            ));
        }
        if self.description.trim().is_empty() {
            return Err(self.error("description", "say in one line what it promises"));
        }
        if !(self.objective.is_finite() && self.objective > 0.0 && self.objective < 100.0) {
            return Err(self.error(
                "objective",
                format!(
                    "{} is not a percentage strictly between 0 and 100",
                    self.objective
                ),
            ));
        }
        if self.error_budget() <= 0.0 {
            return Err(self.error("objective", "leaves no error budget at 12 decimals"));
        }
        if self.period < LONGEST_ALERT_WINDOW {
            return Err(self.error(
                "period",
                format!(
                    "{} is shorter than the longest alert window ({LONGEST_ALERT_WINDOW})",
                    self.period
                ),
            ));
        }
        if self.runbook.trim().is_empty() {
            return Err(self.error("runbook", "give a path in this repository or a URL"));
        }
        self.validate_indicator()?;
        for alert in &self.threshold_alerts {
            self.validate_threshold_alert(alert)?;
        }
        Ok(())
    }

    fn validate_indicator(&self) -> Result<(), SpecError> {
        match &self.indicator {
            Indicator::Ratio(ratio) => {
                self.validate_selector("indicator.ratio.errors", &ratio.errors)?;
                self.validate_selector("indicator.ratio.total", &ratio.total)?;
                let field = "indicator.ratio.examples";
                self.validate_example(&format!("{field}.good"), &ratio.examples.good)?;
                self.validate_example(&format!("{field}.error"), &ratio.examples.error)?;
                self.check_example_matches(
                    &format!("{field}.good"),
                    &ratio.examples.good,
                    &ratio.total.matchers,
                )?;
                self.check_example_matches(
                    &format!("{field}.error"),
                    &ratio.examples.error,
                    &ratio.total.matchers,
                )?;
                self.check_example_matches(
                    &format!("{field}.error"),
                    &ratio.examples.error,
                    &ratio.errors.matchers,
                )?;
                if ratio.examples.good == ratio.examples.error {
                    return Err(self.error(field, "the good and the error event must differ"));
                }
            }
            Indicator::Latency(latency) => {
                let field = "indicator.latency";
                if !is_metric_name(&latency.histogram) {
                    return Err(self.error(
                        &format!("{field}.histogram"),
                        format!("`{}` is not a Prometheus metric name", latency.histogram),
                    ));
                }
                self.validate_matchers(&format!("{field}.matchers"), &latency.matchers)?;
                let buckets = &latency.buckets;
                if buckets.is_empty()
                    || buckets.iter().any(|b| !b.is_finite() || *b <= 0.0)
                    || buckets.windows(2).any(|pair| pair[0] >= pair[1])
                {
                    return Err(self.error(
                        &format!("{field}.buckets"),
                        "list the histogram's finite upper bounds, positive and increasing",
                    ));
                }
                if !buckets.contains(&latency.threshold_seconds) {
                    return Err(self.error(
                        &format!("{field}.threshold_seconds"),
                        format!(
                            "{} is not one of the histogram's buckets {buckets:?}: Prometheus \
                             can only count events under a bucket bound",
                            latency.threshold_seconds
                        ),
                    ));
                }
                self.validate_example(&format!("{field}.example"), &latency.example)?;
                self.check_example_matches(
                    &format!("{field}.example"),
                    &latency.example,
                    &latency.matchers,
                )?;
            }
        }
        Ok(())
    }

    fn validate_selector(&self, field: &str, selector: &Selector) -> Result<(), SpecError> {
        if !is_metric_name(&selector.metric) {
            return Err(self.error(
                &format!("{field}.metric"),
                format!("`{}` is not a Prometheus metric name", selector.metric),
            ));
        }
        self.validate_matchers(&format!("{field}.matchers"), &selector.matchers)
    }

    fn validate_matchers(&self, field: &str, matchers: &[Matcher]) -> Result<(), SpecError> {
        for matcher in matchers {
            if !is_label_name(&matcher.label) {
                return Err(self.error(
                    field,
                    format!("`{}` is not a Prometheus label name", matcher.label),
                ));
            }
            if RESERVED_LABELS.contains(&matcher.label.as_str()) {
                return Err(self.error(
                    field,
                    format!(
                        "`{}` is set by the generators (per-track ratios, buckets); remove it",
                        matcher.label
                    ),
                ));
            }
            // The AnalysisTemplate is a Helm template: `{{` would start an action.
            if matcher.value.contains("{{") || matcher.value.contains("}}") {
                return Err(self.error(
                    field,
                    format!(
                        "value of `{}` may not contain `{{{{` or `}}}}`",
                        matcher.label
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_example(
        &self,
        field: &str,
        example: &BTreeMap<String, String>,
    ) -> Result<(), SpecError> {
        for label in example.keys() {
            if !is_label_name(label) || RESERVED_LABELS.contains(&label.as_str()) {
                return Err(self.error(
                    field,
                    format!("`{label}` is not a label an example may set"),
                ));
            }
        }
        Ok(())
    }

    /// Checks what can be checked without a regex engine: equality matchers
    /// hold, and regex matchers find their label. promtool checks the rest
    /// when the generated tests run.
    fn check_example_matches(
        &self,
        field: &str,
        example: &BTreeMap<String, String>,
        matchers: &[Matcher],
    ) -> Result<(), SpecError> {
        for matcher in matchers {
            let value = example
                .get(&matcher.label)
                .map(String::as_str)
                .unwrap_or("");
            let holds = match matcher.op {
                MatchOp::Equal => value == matcher.value,
                MatchOp::NotEqual => value != matcher.value,
                MatchOp::Regex => example.contains_key(&matcher.label),
                MatchOp::NotRegex => true,
            };
            if !holds {
                return Err(self.error(
                    field,
                    format!(
                        "does not satisfy {}{}\"{}\"",
                        matcher.label,
                        matcher.op.as_str(),
                        matcher.value
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_threshold_alert(&self, alert: &ThresholdAlert) -> Result<(), SpecError> {
        let field = format!("threshold_alerts.{}", alert.name);
        if !is_alert_name(&alert.name) {
            return Err(self.error(&field, "name must be CamelCase letters and digits"));
        }
        if !alert.above.is_finite() || alert.above < 0.0 {
            return Err(self.error(&format!("{field}.above"), "must be zero or more"));
        }
        if alert.signal == Signal::ErrorRatio && alert.above >= 1.0 {
            return Err(self.error(
                &format!("{field}.above"),
                "an error ratio is at most 1, so this would never fire",
            ));
        }
        if alert.summary.trim().is_empty() {
            return Err(self.error(&format!("{field}.summary"), "say what is wrong in one line"));
        }
        Ok(())
    }
}

fn is_slug(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.ends_with('-')
}

fn is_metric_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_alert_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

pub(super) fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}
