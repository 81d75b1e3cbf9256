//! SLO status from the embedded engine: its evaluation, plus the value over the
//! covered part of each window longer than the history the store holds.

use super::slo_summary;
use crate::model::slo::{AlertLevel, Measured, SloScope, SloSummary, WindowReport};
use crate::slo::engine::{AlertState, Reading, SloEngine, SloStatus, TrackScope, UnixMillis};
use crate::slo::Slo;
use opsbox_common::config::Track;

/// What the engine says about every SLO of its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedSlos {
    pub slos: Vec<SloSummary>,
    /// History the store holds: windows longer than this are `insufficient`.
    pub coverage_secs: u64,
    /// New series the store refused at its cap since it started; non-zero means the
    /// numbers miss some events.
    pub refused_series: u64,
}

/// Every SLO of the engine's spec as of `now`, in spec order.
pub fn evaluate(engine: &SloEngine, now: UnixMillis, scope: SloScope) -> EmbeddedSlos {
    let track_scope = scope.track().map_or(TrackScope::AllTracks, |track| {
        TrackScope::Track(Track::as_str(track))
    });
    let store = engine.store();
    let covered = store.covered(now);
    let covered_ms = u64::try_from(covered.as_millis()).unwrap_or(u64::MAX);
    let slos = engine
        .spec()
        .slos
        .iter()
        .zip(engine.evaluate(now, track_scope))
        .enumerate()
        .map(|(index, (slo, status))| {
            // Every window longer than the history covers the same part: all of it.
            let covered_ratio = store
                .window_events(index, covered_ms, now, track_scope)
                .value()
                .map(|events| events.errors / events.total);
            summary(slo, &status, covered_ratio)
        })
        .collect();
    EmbeddedSlos {
        slos,
        coverage_secs: covered.as_secs(),
        refused_series: store.refused_series(),
    }
}

fn summary(slo: &Slo, status: &SloStatus, covered_ratio: Option<f64>) -> SloSummary {
    let budget = slo.error_budget();
    let windows: Vec<WindowReport> = status
        .windows
        .iter()
        .map(|window| WindowReport {
            window: window.window.to_string(),
            window_secs: window.window.seconds(),
            error_ratio: measured(window.error_ratio, covered_ratio),
            burn_rate: measured(window.burn_rate, covered_ratio.map(|ratio| ratio / budget)),
        })
        .collect();
    let error_budget_remaining = measured(
        status.error_budget_remaining,
        covered_ratio.map(|ratio| 1.0 - ratio / budget),
    );
    let sli = measured(status.sli, covered_ratio.map(|ratio| 1.0 - ratio));
    let alert = match status.alert {
        AlertState::Page => AlertLevel::Page,
        AlertState::Ticket => AlertLevel::Ticket,
        AlertState::None => AlertLevel::None,
        AlertState::Undetermined => AlertLevel::Undetermined,
    };
    slo_summary(slo, windows, sli, error_budget_remaining, alert)
}

/// `+ 0.0` turns the engine's `-0.0` (an empty sum of errors is `-0.0` in Rust) into
/// the `0` a reader expects.
fn measured(reading: Reading<f64>, covered_value: Option<f64>) -> Measured<f64> {
    let covered_value = covered_value.map(|value| value + 0.0);
    match reading {
        Reading::Value(value) => Measured::Value { value: value + 0.0 },
        Reading::NoTraffic => Measured::NoTraffic,
        Reading::Insufficient { covered } => Measured::Insufficient {
            covered_secs: covered.as_secs(),
            covered_value,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::engine::StoreConfig;
    use crate::slo::SloSpec;

    const SECOND: u64 = 1_000;
    const START: UnixMillis = 1_700_000_003_000;

    fn exposition(good: u64, failed: u64, track: &str) -> String {
        format!(
            "http_requests_total{{method=\"GET\",route=\"/tasks\",status=\"200\",track=\"{track}\"}} {good}\n\
             http_requests_total{{method=\"GET\",route=\"/tasks\",status=\"500\",track=\"{track}\"}} {failed}\n"
        )
    }

    #[test]
    fn short_history_is_insufficient_with_the_value_over_what_is_covered() {
        let spec = SloSpec::from_yaml(include_str!("../../../observability/slo.yaml"))
            .expect("valid spec");
        let mut engine = SloEngine::new(spec, StoreConfig::default()).expect("engine");
        engine.ingest_exposition("api-1", START, "");
        // 100 s of traffic, a fifth of it failing, on the stable track only.
        engine.ingest_exposition("api-1", START + 100 * SECOND, &exposition(80, 20, "stable"));
        let now = START + 100 * SECOND;

        let all = evaluate(&engine, now, SloScope::All);
        assert_eq!(all.coverage_secs, 100);
        let availability = &all.slos[0];
        let five_minutes = availability.window("5m").expect("5m");
        assert_eq!(
            five_minutes.error_ratio,
            Measured::Insufficient {
                covered_secs: 100,
                covered_value: Some(0.2)
            }
        );
        let burn = five_minutes.burn_rate.over_available_data().copied();
        assert!(
            burn.is_some_and(|burn| (burn - 200.0).abs() < 1e-9),
            "{burn:?}"
        );
        // Alerts need full windows: nothing is invented to page on.
        assert_eq!(availability.alert, AlertLevel::Undetermined);
        assert!(matches!(
            availability.budget_exhaustion,
            Measured::Insufficient {
                covered_value: Some(crate::model::slo::Exhaustion::Exhausted),
                ..
            }
        ));

        let canary = evaluate(&engine, now, SloScope::Canary);
        assert_eq!(
            canary.slos[0].window("5m").map(|window| window.error_ratio),
            Some(Measured::Insufficient {
                covered_secs: 100,
                covered_value: None
            })
        );
    }
}
