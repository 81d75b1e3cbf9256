//! The sample store: bounded histories of the counters the SLO spec reads, fed by scrapes.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;
use std::time::Duration;

use super::exposition::{counter_samples, CounterSample};
use super::history::SeriesHistory;
use super::layout::TierLayout;
use super::reading::Reading;
use super::selection::{Role, SpecSelection};
use super::{EngineError, UnixMillis};
use crate::slo::promql::{self, TRACK_LABEL};
use crate::slo::spec::SloSpec;

/// The label the store adds to every sample: which process it was scraped from.
pub const INSTANCE_LABEL: &str = "instance";
/// Instances remembered to tell a new series from an old one; beyond this,
/// the longest-silent are forgotten.
const MAX_INSTANCES: usize = 4_096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    pub scrape_interval_ms: u64,
    /// Series beyond this are refused (and counted), so a label explosion
    /// costs accuracy, never unbounded memory.
    pub max_series: usize,
}

impl Default for StoreConfig {
    /// 1,000 series of at most ~50 KiB of rings each (15 s, 30 d): ~50 MiB at worst.
    fn default() -> Self {
        Self {
            scrape_interval_ms: 15_000,
            max_series: 1_000,
        }
    }
}

/// Which series of one SLO count errors, all events, and good events.
#[derive(Debug, Clone, Default)]
pub struct SloSeries {
    errors: Vec<usize>,
    total: Vec<usize>,
    good: Vec<usize>,
}

/// Events of one SLO over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowEvents {
    pub errors: f64,
    pub total: f64,
}

/// Series scope of an evaluation: the generated rules keep one result per
/// `track`, and the canary analysis reads `track="canary"` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackScope<'a> {
    AllTracks,
    Track(&'a str),
}

/// What one scrape did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub recorded: usize,
    pub new_series: usize,
    /// New series refused because the store is at `max_series`.
    pub refused_series: usize,
    /// The scrape was not newer than the instance's last one.
    pub stale_scrape: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    metric: String,
    labels: Vec<(String, String)>,
}

#[derive(Debug)]
struct Series {
    key: Arc<SeriesKey>,
    track: Option<String>,
    history: SeriesHistory,
}

#[derive(Debug)]
pub struct SampleStore {
    layout: TierLayout,
    max_series: usize,
    selection: SpecSelection,
    slos: Vec<SloSeries>,
    /// Slots of a slab, so series ids in `slos` stay valid when one is evicted.
    series: Vec<Option<Series>>,
    free_slots: Vec<usize>,
    index: HashMap<Arc<SeriesKey>, usize>,
    instances: HashMap<String, UnixMillis>,
    first_scrape: Option<UnixMillis>,
    refused_series: u64,
}

impl SampleStore {
    /// Retention is the longest period in the spec (bounded by `MAX_RETENTION_MS`).
    pub fn new(spec: &SloSpec, config: StoreConfig) -> Result<Self, EngineError> {
        let selection = SpecSelection::compile(spec)?;
        let retention_ms = spec
            .slos
            .iter()
            .map(|slo| slo.period.seconds().saturating_mul(1_000))
            .max()
            .unwrap_or(0);
        Ok(Self {
            layout: TierLayout::for_scrape_interval(config.scrape_interval_ms, retention_ms),
            max_series: config.max_series,
            slos: vec![SloSeries::default(); selection.slos.len()],
            selection,
            series: Vec::new(),
            free_slots: Vec::new(),
            index: HashMap::new(),
            instances: HashMap::new(),
            first_scrape: None,
            refused_series: 0,
        })
    }

    /// Records one scrape of `instance` taken at `at`.
    pub fn ingest_exposition(
        &mut self,
        instance: &str,
        at: UnixMillis,
        exposition: &str,
    ) -> IngestReport {
        self.ingest(instance, at, counter_samples(exposition))
    }

    /// Records already parsed samples of one scrape; `instance` replaces any
    /// `instance` label they carry, as the scraper's own target label would.
    pub fn ingest(
        &mut self,
        instance: &str,
        at: UnixMillis,
        samples: impl IntoIterator<Item = CounterSample>,
    ) -> IngestReport {
        self.ingest_process(instance, at, samples, false)
    }

    /// Like [`SampleStore::ingest`]; `started_since` says the instance's process started
    /// after this store began watching, so at its first scrape every count it exposes
    /// happened in view and is counted from zero. Without it a short-lived instance (a
    /// canary aborted seconds after it started) would show none of its errors.
    pub fn ingest_process(
        &mut self,
        instance: &str,
        at: UnixMillis,
        samples: impl IntoIterator<Item = CounterSample>,
        started_since: bool,
    ) -> IngestReport {
        let mut report = IngestReport::default();
        let previous_scrape = self.instances.get(instance).copied();
        if previous_scrape.is_some_and(|previous| at <= previous) {
            report.stale_scrape = true;
            return report;
        }
        let mut evicted_this_scrape = false;
        for mut sample in samples {
            if !self.selection.names_metric(&sample.metric) {
                continue;
            }
            sample.labels.retain(|(name, _)| name != INSTANCE_LABEL);
            sample
                .labels
                .push((INSTANCE_LABEL.to_owned(), instance.to_owned()));
            if let Some(bound) = sample.le {
                // Each bucket is its own series.
                sample.labels.push(("le".to_owned(), promql::number(bound)));
            }
            sample.labels.sort();
            let key = SeriesKey {
                metric: sample.metric.clone(),
                labels: sample.labels.clone(),
            };
            if let Some(&id) = self.index.get(&key) {
                if let Some(series) = self.series.get_mut(id).and_then(Option::as_mut) {
                    if series.history.record(at, sample.value) {
                        report.recorded += 1;
                    }
                }
                continue;
            }
            let roles = self.selection.roles(&sample);
            if roles.is_empty() {
                continue;
            }
            if self.index.len() >= self.max_series && !evicted_this_scrape {
                evicted_this_scrape = true;
                self.evict_silent_series(at);
            }
            if self.index.len() >= self.max_series {
                report.refused_series += 1;
                self.refused_series += 1;
                continue;
            }
            let history = SeriesHistory::new(
                at,
                sample.value,
                previous_scrape.is_some() || started_since,
                &self.layout,
            );
            let key = Arc::new(key);
            let series = Series {
                key: Arc::clone(&key),
                track: sample.label(TRACK_LABEL).map(str::to_owned),
                history,
            };
            let id = match self.free_slots.pop() {
                Some(id) => {
                    self.series[id] = Some(series);
                    id
                }
                None => {
                    self.series.push(Some(series));
                    self.series.len() - 1
                }
            };
            self.index.insert(key, id);
            for (slo, role) in roles {
                if let Some(slo_series) = self.slos.get_mut(slo) {
                    match role {
                        Role::Errors => slo_series.errors.push(id),
                        Role::Total => slo_series.total.push(id),
                        Role::Good => slo_series.good.push(id),
                    }
                }
            }
            report.new_series += 1;
            report.recorded += 1;
        }
        self.remember_instance(instance, at);
        self.first_scrape = Some(self.first_scrape.map_or(at, |first| first.min(at)));
        report
    }

    /// How much history the store holds at `now`, bounded by what the rings keep.
    pub fn covered(&self, now: UnixMillis) -> Duration {
        let span = self
            .first_scrape
            .map_or(0, |first| now.saturating_sub(first))
            .min(self.layout.retention_ms());
        Duration::from_millis(span)
    }

    /// Errors and all events of SLO number `slo` (spec order) over the
    /// `window_ms` before `now`, summed over instances in `scope`.
    ///
    /// Unlike Prometheus `increase()` nothing is extrapolated to the window
    /// edges: errors and total come from the same scrapes, so their ratio
    /// matches while each count stays what was observed.
    pub fn window_events(
        &self,
        slo: usize,
        window_ms: u64,
        now: UnixMillis,
        scope: TrackScope,
    ) -> Reading<WindowEvents> {
        let covered = self.covered(now);
        if (covered.as_millis() as u64) < window_ms {
            return Reading::Insufficient { covered };
        }
        let Some(series) = self.slos.get(slo) else {
            return Reading::NoTraffic;
        };
        let from = now.saturating_sub(window_ms);
        let total = self.increase(&series.total, from, now, scope);
        if total <= 0.0 {
            return Reading::NoTraffic;
        }
        let errors = if series.good.is_empty() {
            self.increase(&series.errors, from, now, scope)
        } else {
            // A bucket scraped a moment before its `_count` can exceed it by
            // a few events; never report fewer than zero errors for that.
            (total - self.increase(&series.good, from, now, scope)).max(0.0)
        };
        Reading::Value(WindowEvents { errors, total })
    }

    /// Distinct `track` values among the kept series, to evaluate each like the rules do.
    pub fn tracks(&self) -> Vec<String> {
        let mut tracks: Vec<String> = self
            .series
            .iter()
            .flatten()
            .filter_map(|series| series.track.clone())
            .collect();
        tracks.sort();
        tracks.dedup();
        tracks
    }

    pub fn series_count(&self) -> usize {
        self.index.len()
    }

    /// New series refused by the cap since the store started: non-zero means
    /// the numbers miss some events.
    pub fn refused_series(&self) -> u64 {
        self.refused_series
    }

    pub fn layout(&self) -> &TierLayout {
        &self.layout
    }

    /// Bytes the store holds, from the sizes and allocated capacities of its
    /// structures (hash tables counted at one control byte per bucket).
    pub fn memory_bytes(&self) -> usize {
        let label_bytes = |key: &SeriesKey| {
            size_of::<SeriesKey>()
                + key.metric.capacity()
                + key.labels.capacity() * size_of::<(String, String)>()
                + key
                    .labels
                    .iter()
                    .map(|(name, value)| name.capacity() + value.capacity())
                    .sum::<usize>()
        };
        let series: usize = self
            .series
            .iter()
            .flatten()
            .map(|series| {
                // The key's Arc header: two reference counts.
                label_bytes(&series.key)
                    + 2 * size_of::<usize>()
                    + series.track.as_ref().map_or(0, String::capacity)
                    + series.history.heap_bytes()
            })
            .sum();
        let slab = self.series.capacity() * size_of::<Option<Series>>()
            + self.free_slots.capacity() * size_of::<usize>();
        let index = self.index.capacity() * (size_of::<(Arc<SeriesKey>, usize)>() + 1);
        let slo_lists: usize = self
            .slos
            .iter()
            .map(|slo| {
                (slo.errors.capacity() + slo.total.capacity() + slo.good.capacity())
                    * size_of::<usize>()
            })
            .sum();
        let instances: usize = self.instances.capacity() * (size_of::<(String, UnixMillis)>() + 1)
            + self.instances.keys().map(String::capacity).sum::<usize>();
        size_of::<Self>() + series + slab + index + slo_lists + instances
    }

    fn increase(&self, ids: &[usize], from: UnixMillis, to: UnixMillis, scope: TrackScope) -> f64 {
        ids.iter()
            .filter_map(|&id| self.series.get(id).and_then(Option::as_ref))
            .filter(|series| match scope {
                TrackScope::AllTracks => true,
                TrackScope::Track(track) => series.track.as_deref() == Some(track),
            })
            .map(|series| series.history.cumulative_at(to) - series.history.cumulative_at(from))
            .sum()
    }

    /// A series silent for longer than the retention adds nothing to any window.
    fn evict_silent_series(&mut self, now: UnixMillis) {
        let cutoff = now.saturating_sub(self.layout.retention_ms());
        let mut evicted = Vec::new();
        for (id, slot) in self.series.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|series| series.history.last_at() < cutoff)
            {
                if let Some(series) = slot.take() {
                    self.index.remove(&series.key);
                    evicted.push(id);
                }
            }
        }
        if evicted.is_empty() {
            return;
        }
        for slo in &mut self.slos {
            for ids in [&mut slo.errors, &mut slo.total, &mut slo.good] {
                ids.retain(|id| !evicted.contains(id));
            }
        }
        self.free_slots.extend(evicted);
    }

    fn remember_instance(&mut self, instance: &str, at: UnixMillis) {
        if !self.instances.contains_key(instance) && self.instances.len() >= MAX_INSTANCES {
            if let Some(oldest) = self
                .instances
                .iter()
                .min_by_key(|(_, last)| **last)
                .map(|(name, _)| name.clone())
            {
                self.instances.remove(&oldest);
            }
        }
        self.instances.insert(instance.to_owned(), at);
    }
}
