//! The console's embedded SLO engine: a bounded store of scraped counters and the burn-rate math over it, with no I/O.
//!
//! Memory per series (see [`TierLayout`]): a ring of raw samples over 1h, one
//! value per minute over 1d, one per ten minutes over the longest period; at
//! a 15 s scrape and a 30 d period at most 49,952 bytes of rings plus labels.

mod counters;
mod evaluate;
mod exposition;
mod history;
mod layout;
mod reading;
mod selection;
mod store;
mod tier;

pub use counters::{EventTotals, SloCounters};
pub use evaluate::{evaluate_slo, AlertState, BudgetExhaustion, SloStatus, WindowStatus};
pub use exposition::{counter_samples, CounterSample};
pub use layout::TierLayout;
pub use reading::Reading;
pub use store::{IngestReport, SampleStore, StoreConfig, TrackScope, WindowEvents, INSTANCE_LABEL};

use super::spec::SloSpec;

/// Milliseconds since the Unix epoch, on the scraper's clock.
pub type UnixMillis = u64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("SLO `{slo}`: matcher on `{label}` is not a valid regex: {reason}")]
    Matcher {
        slo: String,
        label: String,
        reason: String,
    },
}

/// The spec and the store built from it, kept together so an SLO's index
/// always names the same series.
#[derive(Debug)]
pub struct SloEngine {
    spec: SloSpec,
    store: SampleStore,
}

impl SloEngine {
    pub fn new(spec: SloSpec, config: StoreConfig) -> Result<Self, EngineError> {
        let store = SampleStore::new(&spec, config)?;
        Ok(Self { spec, store })
    }

    /// Records one scrape of `instance`'s `/metrics` taken at `at`.
    pub fn ingest_exposition(
        &mut self,
        instance: &str,
        at: UnixMillis,
        exposition: &str,
    ) -> IngestReport {
        self.store.ingest_exposition(instance, at, exposition)
    }

    /// Every SLO of the spec, in order, as of `now`.
    /// Records one scrape of an instance whose process started after this engine
    /// began (see [`SampleStore::ingest_process`]).
    pub fn ingest_started_since(
        &mut self,
        instance: &str,
        at: UnixMillis,
        exposition: &str,
    ) -> IngestReport {
        self.store
            .ingest_process(instance, at, counter_samples(exposition), true)
    }

    pub fn evaluate(&self, now: UnixMillis, scope: TrackScope) -> Vec<SloStatus> {
        self.spec
            .slos
            .iter()
            .enumerate()
            .map(|(index, slo)| evaluate_slo(slo, index, &self.store, now, scope))
            .collect()
    }

    pub fn spec(&self) -> &SloSpec {
        &self.spec
    }

    pub fn store(&self) -> &SampleStore {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut SampleStore {
        &mut self.store
    }
}

#[cfg(test)]
mod tests;
