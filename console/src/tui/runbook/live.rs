//! The live values a runbook mentions, taken from the store, and how they go into its text.

use std::fmt::Write as _;

use regex::Regex;

use super::super::overview::slo_table::window_label;
use super::super::store::Store;
use super::super::text;
use crate::model::slo::{AlertLevel, SloSummary};

/// The values of one SLO and of the rollout, as text ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveValues {
    pub pairs: Vec<(String, String)>,
}

impl LiveValues {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

fn alert_name(alert: AlertLevel) -> &'static str {
    match alert {
        AlertLevel::Page => "PAGE",
        AlertLevel::Ticket => "ticket",
        AlertLevel::None => "none",
        AlertLevel::Undetermined => "unknown (history too short)",
    }
}

/// Everything a runbook may ask for; `unknown` where the console has no number.
pub fn live_values(store: &Store, slo_name: &str) -> LiveValues {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut put = |key: &str, value: String| pairs.push((key.to_owned(), value));
    put("slo", slo_name.to_owned());
    let slo: Option<&SloSummary> = store
        .slo
        .value()
        .and_then(|report| report.slos.iter().find(|slo| slo.name == slo_name));
    match slo {
        Some(slo) => {
            put("sli", text::measured(&slo.sli, |sli| text::percent(*sli)));
            put(
                "budget_left",
                text::measured(&slo.error_budget_remaining, |left| text::percent(*left)),
            );
            put("alert", alert_name(slo.alert).to_owned());
            put(
                "exhaustion",
                text::measured(&slo.budget_exhaustion, text::exhaustion),
            );
            for window in &slo.windows {
                let label = window_label(window.window_secs);
                put(
                    &format!("burn_rate_{label}"),
                    text::measured(&window.burn_rate, |b| text::burn(*b)),
                );
                put(
                    &format!("error_ratio_{label}"),
                    text::measured(&window.error_ratio, |r| text::percent(*r)),
                );
            }
        }
        None => {
            for key in ["sli", "budget_left", "alert", "exhaustion"] {
                put(key, "unknown".to_owned());
            }
        }
    }
    match store.rollout() {
        Some(rollout) => {
            put("stable", rollout.stable_revision.clone());
            put(
                "canary",
                rollout
                    .canary_revision
                    .clone()
                    .unwrap_or_else(|| "none".to_owned()),
            );
            put("canary_weight", format!("{}%", rollout.canary_weight));
            put(
                "rollout_phase",
                if rollout.aborted {
                    "Aborted".to_owned()
                } else {
                    rollout.phase.as_str().to_owned()
                },
            );
            let last = rollout.events.last().map_or_else(
                || "none".to_owned(),
                |event| {
                    format!(
                        "{} {} ago: {}",
                        event.kind,
                        text::duration_short(text::elapsed(event.at, store.now)),
                        event.message
                    )
                },
            );
            put("last_rollout_event", last);
        }
        None => {
            for key in [
                "stable",
                "canary",
                "canary_weight",
                "rollout_phase",
                "last_rollout_event",
            ] {
                put(key, "unknown".to_owned());
            }
        }
    }
    LiveValues { pairs }
}

/// The block shown above the runbook.
pub fn summary_lines(values: &LiveValues) -> Vec<String> {
    let get = |key: &str| values.get(key).unwrap_or("unknown");
    let mut burns = String::new();
    for window in crate::slo::windows::SLI_WINDOWS {
        if let Some(value) = values.get(&format!("burn_rate_{window}")) {
            let _ = write!(burns, "{window} {value}  ");
        }
    }
    vec![
        format!(
            "SLO {}: SLI {}, budget left {}, alert {}, exhausted {}",
            get("slo"),
            get("sli"),
            get("budget_left"),
            get("alert"),
            get("exhaustion")
        ),
        format!(
            "burn rate: {}",
            if burns.is_empty() {
                "unknown".to_owned()
            } else {
                burns.trim_end().to_owned()
            }
        ),
        format!(
            "rollout: {}, canary {} at {} (stable {})",
            get("rollout_phase"),
            get("canary"),
            get("canary_weight"),
            get("stable")
        ),
        format!("last rollout event: {}", get("last_rollout_event")),
    ]
}

/// Fills `{{key}}` placeholders and annotates the recording rules the text quotes.
pub fn fill(text: &str, values: &LiveValues) -> Vec<String> {
    let placeholder = Regex::new(r"\{\{\s*([a-z0-9_]+)\s*\}\}").expect("a valid regex");
    let sli_error = Regex::new(r"slo:sli_error:ratio_rate(\d+[mhd])").expect("a valid regex");
    text.lines()
        .map(|line| {
            let mut filled = placeholder
                .replace_all(line, |captures: &regex::Captures<'_>| {
                    values
                        .get(&captures[1])
                        .map_or_else(|| captures[0].to_owned(), str::to_owned)
                })
                .into_owned();
            let mut notes = Vec::new();
            for captures in sli_error.captures_iter(line) {
                let window = &captures[1];
                if let Some(ratio) = values.get(&format!("error_ratio_{window}")) {
                    notes.push(format!("{window} error ratio now {ratio}"));
                }
            }
            if line.contains("slo:period_error_budget_remaining:ratio") {
                if let Some(left) = values.get("budget_left") {
                    notes.push(format!("budget left now {left}"));
                }
            }
            if !notes.is_empty() {
                let _ = write!(filled, "  ⟵ {}", notes.join(", "));
            }
            filled
        })
        .collect()
}
