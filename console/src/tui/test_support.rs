//! Fixtures and a renderer for the console's snapshot tests: a store in a normal, an
//! empty and an error state, at a fixed time, and the screen as plain text with the
//! volatile parts (clock times, ages, pids) replaced.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use regex::Regex;

use super::store::{SharedStore, Store};
use super::theme::Theme;
use super::view::View;
use crate::audit::{AuditEntry, Outcome};
use crate::model::slo::{
    AlertLevel, Exhaustion, Measured, SloReport, SloScope, SloSource, SloSummary, SourceChoice,
    WindowReport,
};
use crate::model::{
    AnalysisMeasurement, AnalysisPhase, AnalysisRun, AnalysisStep, EnvironmentPhase,
    EnvironmentStatus, InstanceState, InstanceStatus, PauseStep, QueueStatus, Revision,
    RolloutEvent, RolloutPhase, RolloutStatus, RolloutStep, RouterStatus,
};
use opsbox_common::config::Track;

/// The fixed "now" of every fixture.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

pub fn ago(secs: i64) -> DateTime<Utc> {
    now() - Duration::seconds(secs)
}

pub fn instance(
    name: &str,
    workload: &str,
    track: Track,
    state: InstanceState,
    restarts: u32,
) -> InstanceStatus {
    let running = state == InstanceState::Running;
    InstanceStatus {
        name: name.to_owned(),
        workload: workload.to_owned(),
        track,
        revision: if track == Track::Canary { "v2" } else { "v1" }.to_owned(),
        pid: running.then_some(4000 + restarts),
        state,
        restarts,
        uptime_secs: running.then_some(3_725),
        address: Some("127.0.0.1:41001".to_owned()),
        log_file: Some(PathBuf::from(format!(".opsbox/logs/{name}.log"))),
        last_exit: (restarts > 0).then(|| "killed by SIGKILL".to_owned()),
        last_error: None,
    }
}

pub fn rollout() -> RolloutStatus {
    let revision = |name: &str, stable_at: Option<i64>| Revision {
        name: name.to_owned(),
        overrides: BTreeMap::from([("OPSBOX_FAULT_ERROR_RATE".to_owned(), "0".to_owned())]),
        created_at: ago(7_200),
        last_stable_at: stable_at.map(ago),
    };
    RolloutStatus {
        name: None,
        choices: Vec::new(),
        stable_revision: "v1".to_owned(),
        canary_revision: Some("v2".to_owned()),
        phase: RolloutPhase::Paused,
        aborted: false,
        message: Some("paused until promoted".to_owned()),
        steps: vec![
            RolloutStep::SetWeight(10),
            RolloutStep::Pause(PauseStep {
                duration: Some("30s".to_owned()),
            }),
            RolloutStep::Analysis(AnalysisStep {}),
            RolloutStep::SetWeight(50),
            RolloutStep::Pause(PauseStep { duration: None }),
            RolloutStep::SetWeight(100),
        ],
        current_step_index: Some(4),
        canary_weight: 50,
        set_weight: None,
        pause_until: None,
        analysis_runs: vec![AnalysisRun {
            step_index: 2,
            started_at: ago(600),
            finished_at: Some(ago(540)),
            phase: AnalysisPhase::Successful,
            measurements: vec![
                AnalysisMeasurement {
                    slo: "api-availability".to_owned(),
                    metric: "error_ratio".to_owned(),
                    value: Some(0.0012),
                    threshold: 0.0144,
                    events: 812.0,
                    phase: AnalysisPhase::Successful,
                },
                AnalysisMeasurement {
                    slo: "api-latency".to_owned(),
                    metric: "good_ratio".to_owned(),
                    value: Some(0.991),
                    threshold: 0.95,
                    events: 812.0,
                    phase: AnalysisPhase::Successful,
                },
            ],
            message: None,
        }],
        revisions: vec![
            revision("v0", Some(86_400)),
            revision("v1", Some(3_600)),
            revision("v2", None),
        ],
        events: vec![
            RolloutEvent {
                at: ago(900),
                kind: "start".to_owned(),
                message: "rollout of v2 started".to_owned(),
            },
            RolloutEvent {
                at: ago(600),
                kind: "analysis".to_owned(),
                message: "analysis passed".to_owned(),
            },
            RolloutEvent {
                at: ago(300),
                kind: "promote".to_owned(),
                message: "promoted by alice".to_owned(),
            },
        ],
        canary_ready: 1,
        canary_replicas: 1,
        updated_at: ago(2),
    }
}

pub fn status() -> EnvironmentStatus {
    EnvironmentStatus {
        environment: "local".to_owned(),
        phase: EnvironmentPhase::Ready,
        started_at: ago(3_725),
        state_dir: Some(PathBuf::from(".opsbox")),
        instances: vec![
            instance("api-1", "api", Track::Stable, InstanceState::Running, 0),
            instance("api-2", "api", Track::Stable, InstanceState::Backoff, 3),
            instance("canary-1", "api", Track::Canary, InstanceState::Running, 0),
            instance(
                "worker-1",
                "worker",
                Track::Stable,
                InstanceState::Running,
                1,
            ),
        ],
        queue: Some(QueueStatus {
            ready: 12,
            delayed: 1,
            processing: 3,
            dead: 2,
        }),
        router: Some(RouterStatus {
            url: "http://127.0.0.1:8080".to_owned(),
            metrics_url: None,
            canary_weight: 50,
            stable_upstreams: vec!["api-1".to_owned()],
            canary_upstreams: vec!["canary-1".to_owned()],
        }),
        rollout: Some(rollout()),
        prometheus_url: None,
        scalers: Vec::new(),
    }
}

fn window(window: &str, secs: u64, burn: Measured<f64>, budget: f64) -> WindowReport {
    WindowReport {
        window: window.to_owned(),
        window_secs: secs,
        error_ratio: burn.map(|burn| burn * budget),
        burn_rate: burn,
    }
}

fn value(value: f64) -> Measured<f64> {
    Measured::Value { value }
}

/// Burn rates for 5m, 30m, 1h, 2h, 6h, 1d, 3d, then the period.
fn summary(
    name: &str,
    service: &str,
    burns: [Measured<f64>; 8],
    alert: AlertLevel,
    remaining: Measured<f64>,
) -> SloSummary {
    let budget = 0.001;
    let names = [
        ("5m", 300),
        ("30m", 1_800),
        ("1h", 3_600),
        ("2h", 7_200),
        ("6h", 21_600),
        ("1d", 86_400),
        ("3d", 259_200),
        ("30d", 2_592_000),
    ];
    let windows = names
        .iter()
        .zip(burns)
        .map(|((window_name, secs), burn)| window(window_name, *secs, burn, budget))
        .collect();
    SloSummary {
        name: name.to_owned(),
        service: service.to_owned(),
        objective_percent: 99.9,
        period: "30d".to_owned(),
        period_secs: 2_592_000,
        error_budget: budget,
        runbook: format!("docs/runbooks/slo-{name}.md"),
        sli: remaining.map(|remaining| 1.0 - budget * (1.0 - remaining)),
        error_budget_remaining: remaining,
        windows,
        alert,
        budget_exhaustion: match remaining {
            Measured::Value { value } if value < 0.5 => Measured::Value {
                value: Exhaustion::In { secs: 93_600 },
            },
            Measured::Value { .. } => Measured::Value {
                value: Exhaustion::NotBurning,
            },
            _ => Measured::NoTraffic,
        },
    }
}

pub fn slo_report() -> SloReport {
    let partial = |covered| Measured::Insufficient {
        covered_secs: 3_725,
        covered_value: covered,
    };
    SloReport {
        source: SloSource::Embedded,
        requested: SourceChoice::Auto,
        scope: SloScope::All,
        evaluated_at: ago(1),
        coverage_secs: Some(3_725),
        prometheus_url: None,
        slos: vec![
            summary(
                "api-availability",
                "api",
                [
                    value(20.5),
                    value(16.0),
                    value(15.1),
                    partial(Some(9.0)),
                    partial(Some(4.0)),
                    partial(Some(1.2)),
                    partial(Some(1.1)),
                    partial(Some(1.0)),
                ],
                AlertLevel::Page,
                Measured::Insufficient {
                    covered_secs: 3_725,
                    covered_value: Some(0.21),
                },
            ),
            summary(
                "api-latency",
                "api",
                [
                    value(0.5),
                    value(0.4),
                    value(0.45),
                    partial(Some(0.4)),
                    partial(None),
                    partial(None),
                    partial(None),
                    partial(None),
                ],
                AlertLevel::Undetermined,
                value(0.93),
            ),
            summary(
                "jobs-success",
                "worker",
                [
                    value(4.0),
                    value(3.5),
                    value(3.2),
                    value(3.1),
                    value(2.0),
                    value(1.1),
                    value(0.9),
                    value(0.8),
                ],
                AlertLevel::Ticket,
                value(0.42),
            ),
            summary(
                "queue-freshness",
                "worker",
                [
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                    Measured::NoTraffic,
                ],
                AlertLevel::None,
                Measured::NoTraffic,
            ),
        ],
        targets: Vec::new(),
        notes: Vec::new(),
    }
}

pub fn audit_entries() -> Vec<AuditEntry> {
    let entry = |secs: i64, action: &str, target: &str, outcome: Outcome| AuditEntry {
        time: ago(secs),
        user: "alice".to_owned(),
        environment: "local".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        parameters: serde_json::json!({ "via": "console" }),
        outcome,
    };
    vec![
        entry(900, "rollout.start", "v2", Outcome::Ok),
        entry(300, "rollout.promote", "api", Outcome::Ok),
        entry(120, "chaos.kill", "api-2", Outcome::Ok),
        entry(
            60,
            "rollout.undo",
            "api",
            Outcome::Error("a rollout is in progress; abort it first".to_owned()),
        ),
    ]
}

fn base_store() -> Store {
    let mut store = Store::new("local", PathBuf::from(".opsbox"), false, Theme::plain());
    store.now = now();
    store
}

/// Everything answered.
pub fn normal_store() -> SharedStore {
    let mut store = base_store();
    // A few samples for the sparkline and the budget chart.
    for (step, ready) in [4u64, 9, 15, 12, 7, 12].into_iter().enumerate() {
        let at = ago(12 - 2 * step as i64);
        let mut status = status();
        status.queue = Some(QueueStatus {
            ready,
            delayed: 1,
            processing: 3,
            dead: 2,
        });
        store.accept_status(Ok(status), at);
    }
    for (step, remaining) in [0.35, 0.31, 0.27, 0.24, 0.21].into_iter().enumerate() {
        let mut report = slo_report();
        report.evaluated_at = ago(1_200 - 290 * step as i64);
        report.slos[0].error_budget_remaining = Measured::Value { value: remaining };
        store.accept_slo(Ok(report), ago(1_200 - 290 * step as i64));
    }
    store.accept_slo(Ok(slo_report()), ago(1));
    store.audit.accept(Ok(audit_entries()), ago(1));
    store.shared()
}

/// Connected, but nothing has happened yet: no rollout, no traffic, no instances ready.
pub fn empty_store() -> SharedStore {
    let mut store = base_store();
    let mut status = status();
    status.instances.clear();
    status.queue = Some(QueueStatus {
        ready: 0,
        delayed: 0,
        processing: 0,
        dead: 0,
    });
    status.rollout = None;
    status.phase = EnvironmentPhase::Starting;
    store.accept_status(Ok(status), ago(1));
    let mut report = slo_report();
    report.slos.clear();
    store.accept_slo(Ok(report), ago(1));
    store.audit.accept(Ok(Vec::new()), ago(1));
    store.shared()
}

/// Every source failed: earlier values are stale, errors are shown.
pub fn error_store() -> SharedStore {
    let mut store = base_store();
    store.accept_status(Ok(status()), ago(40));
    store.accept_status(
        Err("the daemon at 127.0.0.1:4100 does not answer".to_owned()),
        ago(1),
    );
    store.accept_slo(
        Err("SLO source not available: the daemon answered 404 Not Found".to_owned()),
        ago(1),
    );
    store.audit.accept(
        Err("cannot open the audit log .opsbox/audit.jsonl: permission denied".to_owned()),
        ago(1),
    );
    store.shared()
}

/// The screen as text, one line per row, trailing blanks cut, volatile text replaced.
pub fn render(view: &mut dyn View, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view.render(frame, frame.area()))
        .expect("draw");
    screen_text(terminal.backend())
}

pub fn screen_text(backend: &TestBackend) -> String {
    let buffer = backend.buffer();
    let width = usize::from(buffer.area.width);
    let mut lines = Vec::new();
    for row in buffer.content.chunks(width.max(1)) {
        let line: String = row.iter().map(|cell| cell.symbol()).collect();
        lines.push(line.trim_end().to_owned());
    }
    filter_volatile(&lines.join("\n"))
}

/// Clock times, ages and pids change from run to run in a live console; fixtures fix
/// them, and the filter keeps snapshots stable should a view ever read the real clock.
pub fn filter_volatile(text: &str) -> String {
    let clock = Regex::new(r"\b\d{2}:\d{2}:\d{2}\b").expect("regex");
    let pid = Regex::new(r"\bpid \d+\b").expect("regex");
    let text = clock.replace_all(text, "[time]");
    pid.replace_all(&text, "pid [pid]").into_owned()
}
