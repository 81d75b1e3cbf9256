//! A drill's report: what was done when, the hypothesis before and after, the
//! disruption checks, the measured recovery, tasks created and lost, and the verdict.
//! Saved as JSON under the state dir (the newest [`MAX_REPORTS`] are kept).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::chaos::humanize;

/// Reports kept in the state dir; older ones are deleted when a new one is saved.
pub const MAX_REPORTS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    pub drill: String,
    pub description: String,
    pub runbook: String,
    /// The directory the drill was read from, or `built-in`.
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub passed: bool,
    /// Why it failed, one line each; empty when it passed.
    pub failures: Vec<String>,
    pub steps: Vec<StepRecord>,
    /// `None` when the method was cut short before its first chaos action.
    pub before: Option<Vec<ProbeResult>>,
    pub during: Vec<ProbeResult>,
    pub after: Vec<ProbeResult>,
    pub recovery: RecoveryRecord,
    pub tasks: Option<TaskTally>,
    pub traffic: TrafficTally,
}

/// One action of the method (or a phase of the runner), with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub at: DateTime<Utc>,
    /// Milliseconds since the drill started.
    pub offset_ms: u64,
    pub action: String,
    pub ok: bool,
    pub detail: String,
}

/// One probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// e.g. `error-ratio <= 1%`.
    pub probe: String,
    /// What was measured, e.g. `0.2% of 402 requests`.
    pub observed: String,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    pub expected_within_ms: u64,
    /// When the disruption ended (an outage restored, a fault expired, a kill done).
    pub disruption_ended_at: Option<DateTime<Utc>>,
    pub recovered_at: Option<DateTime<Utc>>,
    /// From the disruption's end to the steady state.
    pub measured_ms: Option<u64>,
    pub passed: bool,
}

/// Tasks created since the drill started, as counted in the database at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTally {
    pub created: u64,
    pub done: u64,
    pub failed: u64,
    /// Created and never asked to run (a refused run request leaves them so).
    pub never_run: u64,
    /// Asked to run and neither DONE nor FAILED within the recovery bound.
    pub lost: u64,
}

/// Requests the drill sent through the router.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTally {
    pub load_requests: u64,
    /// 5xx answers and transport errors of the load.
    pub load_failures: u64,
    pub load_tasks_created: u64,
    pub probe_requests: u64,
    pub probe_failures: u64,
}

impl DrillReport {
    /// The report as the operator reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let took = (self.finished_at - self.started_at)
            .to_std()
            .map(humanize)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "drill {}: {verdict} (started {}, took {took})",
            self.drill,
            local_time(self.started_at)
        );
        let _ = writeln!(out, "  {}", self.description);
        let _ = writeln!(out, "\nsteps");
        for step in &self.steps {
            let _ = writeln!(
                out,
                "  {:>8}  {:<52} {:<4} {}",
                format!("+{:.1}s", step.offset_ms as f64 / 1000.0),
                step.action,
                if step.ok { "ok" } else { "FAIL" },
                step.detail
            );
        }
        let _ = writeln!(out, "\nsteady-state hypothesis");
        let before = self.before.as_deref().unwrap_or_default();
        let mut probes: Vec<&str> = before.iter().map(|r| r.probe.as_str()).collect();
        for result in &self.after {
            if !probes.contains(&result.probe.as_str()) {
                probes.push(&result.probe);
            }
        }
        let _ = writeln!(out, "  {:<24} {:<30} after", "probe", "before");
        for probe in probes {
            let cell = |results: &[ProbeResult]| {
                results
                    .iter()
                    .find(|r| r.probe == probe)
                    .map_or_else(|| "-".to_owned(), verdict_cell)
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<30} {}",
                probe,
                cell(before),
                cell(&self.after)
            );
        }
        if !self.during.is_empty() {
            let _ = writeln!(out, "\nduring the disruption");
            for result in &self.during {
                let _ = writeln!(out, "  {:<24} {}", result.probe, verdict_cell(result));
            }
        }
        let recovery = &self.recovery;
        let measured = recovery.measured_ms.map_or_else(
            || "not recovered".to_owned(),
            |ms| humanize(std::time::Duration::from_millis(ms)),
        );
        let _ = writeln!(
            out,
            "\nrecovery  {measured} (expected within {}) {}",
            humanize(std::time::Duration::from_millis(
                recovery.expected_within_ms
            )),
            if recovery.passed { "ok" } else { "FAIL" }
        );
        match &self.tasks {
            Some(tasks) => {
                let _ = writeln!(
                    out,
                    "tasks     {} created: {} done, {} failed, {} never run, {} lost",
                    tasks.created, tasks.done, tasks.failed, tasks.never_run, tasks.lost
                );
            }
            None => {
                let _ = writeln!(out, "tasks     not counted");
            }
        }
        let traffic = &self.traffic;
        let _ = writeln!(
            out,
            "traffic   load {} requests ({} failed, {} tasks created); probe {} requests ({} failed)",
            traffic.load_requests,
            traffic.load_failures,
            traffic.load_tasks_created,
            traffic.probe_requests,
            traffic.probe_failures
        );
        let _ = writeln!(out, "runbook   {}", self.runbook);
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nwhy it failed");
            for failure in &self.failures {
                let _ = writeln!(out, "  - {failure}");
            }
        }
        out
    }

    /// Saves the report as `<dir>/<start time>-<drill>.json` and deletes the oldest
    /// reports beyond [`MAX_REPORTS`]. Returns the file written.
    pub fn save(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!(
            "{}-{}.json",
            self.started_at.format("%Y%m%dT%H%M%S%.3fZ"),
            self.drill
        ));
        let text = serde_json::to_string_pretty(self).context("cannot encode the report")?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        prune(dir, MAX_REPORTS)?;
        Ok(path)
    }
}

fn verdict_cell(result: &ProbeResult) -> String {
    format!(
        "{} {}",
        result.observed,
        if result.passed { "ok" } else { "FAIL" }
    )
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Report files in `dir`, oldest first (their names start with the start time).
fn report_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let files = report_files(dir)?;
    let excess = files.len().saturating_sub(keep);
    for path in &files[..excess] {
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the old report {}", path.display()))?;
    }
    Ok(())
}

/// The newest saved report of `drill`, if any (an unreadable one is skipped).
pub fn last_report(dir: &Path, drill: &str) -> anyhow::Result<Option<DrillReport>> {
    let suffix = format!("-{drill}.json");
    for path in report_files(dir)?.iter().rev() {
        let named = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(&suffix));
        if !named {
            continue;
        }
        let report = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<DrillReport>(&bytes).ok());
        if let Some(report) = report.filter(|report| report.drill == drill) {
            return Ok(Some(report));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(drill: &str, started_at: DateTime<Utc>, passed: bool) -> DrillReport {
        DrillReport {
            drill: drill.to_owned(),
            description: "kills things".to_owned(),
            runbook: "docs/runbooks/drill-x.md".to_owned(),
            source: "built-in".to_owned(),
            started_at,
            finished_at: started_at + chrono::Duration::seconds(75),
            passed,
            failures: if passed {
                Vec::new()
            } else {
                vec!["2 tasks lost".to_owned()]
            },
            steps: vec![StepRecord {
                at: started_at,
                offset_ms: 1_500,
                action: "outage redis for 20s (stop)".to_owned(),
                ok: true,
                detail: "until 12:00:20".to_owned(),
            }],
            before: Some(vec![ProbeResult {
                probe: "error-ratio <= 1%".to_owned(),
                observed: "0.0% of 200".to_owned(),
                passed: true,
            }]),
            during: vec![ProbeResult {
                probe: "failed-p99 <= 1s".to_owned(),
                observed: "12ms over 40 failed".to_owned(),
                passed: true,
            }],
            after: vec![
                ProbeResult {
                    probe: "error-ratio <= 1%".to_owned(),
                    observed: "0.5% of 200".to_owned(),
                    passed: true,
                },
                ProbeResult {
                    probe: "tasks-terminal".to_owned(),
                    observed: "2 lost".to_owned(),
                    passed,
                },
            ],
            recovery: RecoveryRecord {
                expected_within_ms: 120_000,
                disruption_ended_at: Some(started_at),
                recovered_at: Some(started_at),
                measured_ms: Some(1_250),
                passed: true,
            },
            tasks: Some(TaskTally {
                created: 300,
                done: 280,
                failed: 12,
                never_run: 6,
                lost: if passed { 0 } else { 2 },
            }),
            traffic: TrafficTally::default(),
        }
    }

    #[test]
    fn the_table_shows_steps_probes_recovery_tasks_and_why_it_failed() {
        let report = sample("redis-outage", Utc::now(), false);
        let text = report.render();
        for expected in [
            "drill redis-outage: FAILED",
            "+1.5s",
            "outage redis for 20s (stop)",
            "error-ratio <= 1%",
            "0.0% of 200 ok",
            "0.5% of 200 ok",
            "tasks-terminal",
            "2 lost FAIL",
            "failed-p99 <= 1s",
            "recovery  1.2s (expected within 2m) ok",
            "300 created: 280 done, 12 failed, 6 never run, 2 lost",
            "why it failed",
            "  - 2 tasks lost",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }

    #[test]
    fn reports_round_trip_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let start = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        for index in 0..MAX_REPORTS + 3 {
            let drill = if index % 2 == 0 { "a" } else { "b" };
            let at = start + chrono::Duration::seconds(i64::try_from(index).expect("small"));
            sample(drill, at, index != MAX_REPORTS + 1)
                .save(dir.path())
                .expect("save");
        }
        assert_eq!(report_files(dir.path()).expect("list").len(), MAX_REPORTS);
        let last_b = last_report(dir.path(), "b").expect("read").expect("one");
        assert!(!last_b.passed, "the newest b failed");
        assert_eq!(
            last_b.started_at,
            start + chrono::Duration::seconds(i64::try_from(MAX_REPORTS + 1).expect("small"))
        );
        assert!(last_report(dir.path(), "c").expect("read").is_none());
        assert!(last_report(&dir.path().join("none"), "a")
            .expect("a missing dir has no reports")
            .is_none());
    }
}
