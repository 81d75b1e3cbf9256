//! Counts and latency histograms of a run, in fixed memory whatever its length.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::mix::Operation;
use super::report::{OperationReport, Percentiles};

/// The slowest latency told apart; slower answers are recorded as this. Above any
/// request timeout the CLI allows.
const HIGHEST_LATENCY_MICROS: u64 = 120_000_000;
/// Three significant digits: 0.1% resolution at every scale.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransportError {
    /// Refused or unreachable.
    Connect,
    /// No complete answer within the request timeout.
    Timeout,
    /// The answer's body broke off.
    Body,
    Other,
}

impl TransportError {
    fn as_str(self) -> &'static str {
        match self {
            TransportError::Connect => "connect",
            TransportError::Timeout => "timeout",
            TransportError::Body => "body",
            TransportError::Other => "other",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Answered { status: u16, latency: Duration },
    Failed(TransportError),
}

#[derive(Debug, Clone)]
struct OperationStats {
    requests: u64,
    by_status: BTreeMap<u16, u64>,
    transport_errors: u64,
    latency_micros: Histogram<u64>,
}

/// Everything measured so far.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    /// An empty histogram with the run's bounds, copied for each operation.
    empty_histogram: Histogram<u64>,
    operations: BTreeMap<Operation, OperationStats>,
    transport_errors_by_kind: BTreeMap<String, u64>,
    tasks_created: u64,
}

impl Recorder {
    pub(super) fn new() -> anyhow::Result<Self> {
        let empty_histogram =
            Histogram::new_with_bounds(1, HIGHEST_LATENCY_MICROS, SIGNIFICANT_DIGITS)
                .map_err(|e| anyhow::anyhow!("cannot create the latency histogram: {e:?}"))?;
        Ok(Self {
            empty_histogram,
            operations: BTreeMap::new(),
            transport_errors_by_kind: BTreeMap::new(),
            tasks_created: 0,
        })
    }

    pub(super) fn record(&mut self, operation: Operation, outcome: Outcome) {
        let empty = &self.empty_histogram;
        let stats = self
            .operations
            .entry(operation)
            .or_insert_with(|| OperationStats {
                requests: 0,
                by_status: BTreeMap::new(),
                transport_errors: 0,
                latency_micros: Histogram::new_from(empty),
            });
        stats.requests += 1;
        match outcome {
            Outcome::Answered { status, latency } => {
                *stats.by_status.entry(status).or_default() += 1;
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                stats.latency_micros.saturating_record(micros.max(1));
            }
            Outcome::Failed(error) => {
                stats.transport_errors += 1;
                *self
                    .transport_errors_by_kind
                    .entry(error.as_str().to_owned())
                    .or_default() += 1;
            }
        }
    }

    pub(super) fn task_created(&mut self) {
        self.tasks_created += 1;
    }

    pub(super) fn tasks_created(&self) -> u64 {
        self.tasks_created
    }

    /// Requests answered or failed.
    pub(super) fn finished(&self) -> u64 {
        self.operations.values().map(|stats| stats.requests).sum()
    }

    pub(super) fn transport_errors(&self) -> u64 {
        self.operations
            .values()
            .map(|stats| stats.transport_errors)
            .sum()
    }

    pub(super) fn transport_errors_by_kind(&self) -> BTreeMap<String, u64> {
        self.transport_errors_by_kind.clone()
    }

    pub(super) fn by_status(&self) -> BTreeMap<u16, u64> {
        let mut total = BTreeMap::new();
        for stats in self.operations.values() {
            for (status, count) in &stats.by_status {
                *total.entry(*status).or_default() += count;
            }
        }
        total
    }

    /// Latency over every operation.
    pub(super) fn latency(&self) -> Percentiles {
        let mut all = Histogram::new_from(&self.empty_histogram);
        for stats in self.operations.values() {
            // Same bounds on both sides: adding cannot fail.
            let _ = all.add(&stats.latency_micros);
        }
        percentiles(&all)
    }

    pub(super) fn operations(&self) -> BTreeMap<Operation, OperationReport> {
        self.operations
            .iter()
            .map(|(operation, stats)| {
                let report = OperationReport {
                    requests: stats.requests,
                    by_status: stats.by_status.clone(),
                    transport_errors: stats.transport_errors,
                    latency_ms: percentiles(&stats.latency_micros),
                };
                (*operation, report)
            })
            .collect()
    }
}

fn percentiles(micros: &Histogram<u64>) -> Percentiles {
    if micros.is_empty() {
        return Percentiles::default();
    }
    let ms = |value: u64| value as f64 / 1000.0;
    Percentiles {
        p50: ms(micros.value_at_quantile(0.50)),
        p90: ms(micros.value_at_quantile(0.90)),
        p99: ms(micros.value_at_quantile(0.99)),
        max: ms(micros.max()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, millis: u64) -> Outcome {
        Outcome::Answered {
            status,
            latency: Duration::from_millis(millis),
        }
    }

    #[test]
    fn counts_and_percentiles_add_up_across_operations() {
        let mut recorder = Recorder::new().expect("recorder");
        for millis in 1..=100 {
            recorder.record(Operation::Read, answered(200, millis));
        }
        recorder.record(Operation::Create, answered(201, 500));
        recorder.record(Operation::Create, answered(503, 2));
        recorder.record(Operation::Run, Outcome::Failed(TransportError::Timeout));
        recorder.record(Operation::Run, Outcome::Failed(TransportError::Connect));
        recorder.record(Operation::Run, Outcome::Failed(TransportError::Connect));
        recorder.task_created();

        assert_eq!(recorder.finished(), 105);
        assert_eq!(recorder.transport_errors(), 3);
        assert_eq!(
            recorder.transport_errors_by_kind(),
            BTreeMap::from([("connect".to_owned(), 2), ("timeout".to_owned(), 1)])
        );
        assert_eq!(
            recorder.by_status(),
            BTreeMap::from([(200, 100), (201, 1), (503, 1)])
        );
        assert_eq!(recorder.tasks_created(), 1);

        let reads = &recorder.operations()[&Operation::Read];
        assert_eq!(reads.requests, 100);
        // 3 significant digits: within 0.1% of the exact order statistics.
        assert!((reads.latency_ms.p50 - 50.0).abs() <= 0.05, "{reads:?}");
        assert!((reads.latency_ms.p90 - 90.0).abs() <= 0.09, "{reads:?}");
        assert!((reads.latency_ms.p99 - 99.0).abs() <= 0.1, "{reads:?}");
        assert!((reads.latency_ms.max - 100.0).abs() <= 0.1, "{reads:?}");
        let all = recorder.latency();
        assert!((all.max - 500.0).abs() <= 0.5, "{all:?}");
        let runs = &recorder.operations()[&Operation::Run];
        assert_eq!((runs.requests, runs.transport_errors), (3, 3));
        assert_eq!(runs.latency_ms, Percentiles::default());
    }

    #[test]
    fn latencies_beyond_the_histogram_are_clamped_not_lost() {
        let mut recorder = Recorder::new().expect("recorder");
        recorder.record(
            Operation::List,
            Outcome::Answered {
                status: 200,
                latency: Duration::from_secs(3600),
            },
        );
        recorder.record(
            Operation::List,
            Outcome::Answered {
                status: 200,
                latency: Duration::ZERO,
            },
        );
        let list = &recorder.operations()[&Operation::List];
        assert_eq!(list.requests, 2);
        assert!(list.latency_ms.max >= 119_000.0, "{list:?}");
    }
}
