//! Jobs processed by outcome, read from each running worker's `/metrics`.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::task::JoinSet;

use super::super::super::supervisor::{InstanceState, Workload};
use super::super::state::DaemonState;
use crate::model::ProcessedTotals;
use crate::slo::engine::counter_samples;

/// The counter the worker increments once per finished delivery, labelled by `outcome`.
const PROCESSED_METRIC: &str = "opsbox_jobs_processed_total";

/// A worker that does not answer this fast is left out of the sum rather than slowing
/// every `GET /queue`.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

/// The sum over the running workers that answered; `None` when none did.
pub async fn processed_totals(state: &DaemonState) -> Option<ProcessedTotals> {
    let supervisor = state.supervisor.get()?;
    let mut scrapes = JoinSet::new();
    for instance in supervisor.snapshot() {
        if instance.workload != Workload::Worker || instance.state != InstanceState::Running {
            continue;
        }
        if let Some(addr) = state.address(&instance.name) {
            scrapes.spawn(scrape(format!("http://{addr}/metrics")));
        }
    }
    let mut by_outcome = BTreeMap::new();
    let mut workers = 0u32;
    while let Some(joined) = scrapes.join_next().await {
        let Ok(Some(text)) = joined else { continue };
        workers += 1;
        add_processed(&text, &mut by_outcome);
    }
    (workers > 0).then_some(ProcessedTotals {
        by_outcome,
        workers,
    })
}

async fn scrape(url: String) -> Option<String> {
    let response = client().get(&url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(SCRAPE_TIMEOUT)
            .build()
            .unwrap_or_default()
    })
}

/// Adds one worker's processed counters, by outcome, to `totals`.
fn add_processed(exposition: &str, totals: &mut BTreeMap<String, u64>) {
    for sample in counter_samples(exposition) {
        if sample.metric != PROCESSED_METRIC {
            continue;
        }
        if let Some(outcome) = sample.label("outcome") {
            // Counters are whole numbers; the float is how the text format carries them.
            *totals.entry(outcome.to_owned()).or_default() += sample.value.max(0.0) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processed_jobs_are_summed_by_outcome_across_kinds_and_workers() {
        let worker = "\
# HELP opsbox_jobs_processed_total Jobs processed.
# TYPE opsbox_jobs_processed_total counter
opsbox_jobs_processed_total{kind=\"io\",outcome=\"done\",track=\"stable\"} 10
opsbox_jobs_processed_total{kind=\"cpu\",outcome=\"done\",track=\"stable\"} 5
opsbox_jobs_processed_total{kind=\"fail\",outcome=\"dead\",track=\"stable\"} 2
# TYPE opsbox_jobs_dropped_total counter
opsbox_jobs_dropped_total{reason=\"stale\"} 9
";
        let mut totals = BTreeMap::new();
        add_processed(worker, &mut totals);
        add_processed(worker, &mut totals);
        assert_eq!(
            totals,
            BTreeMap::from([("dead".to_owned(), 4), ("done".to_owned(), 30)])
        );
    }
}
