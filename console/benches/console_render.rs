//! One frame of the console: the Overview with 5,000 instances and a full 100,000-line
//! log buffer behind it (target ≤ 5 ms), and the Instances view over the same fleet.
//!
//! ```text
//! cargo bench -p opsbox --bench console_render
//! ```
//!
//! A frame is what the event loop does on a redraw: `Terminal::draw` of the whole app
//! (header, view, footer) into a `TestBackend`, diff included; only the write to a real
//! terminal is left out. The store holds a status with 5,000 instances (api, worker and
//! canary, some in backoff), an SLO report of four SLOs with history for the chart, and
//! the Logs view holds 100,000 lines, 10% of them warnings and errors, so the Overview's
//! warnings panel reads from a full buffer.

use std::hint::black_box;
use std::path::PathBuf;

use chrono::{Duration, Utc};
use criterion::Criterion;
use opsbox::model::slo::{
    AlertLevel, Exhaustion, Measured, SloReport, SloScope, SloSource, SloSummary, SourceChoice,
    WindowReport,
};
use opsbox::model::{
    EnvironmentPhase, EnvironmentStatus, InstanceState, InstanceStatus, QueueStatus, RouterStatus,
};
use opsbox::tui::app::App;
use opsbox::tui::logs::{LineSource, LogBatch, LogLine, DEFAULT_MAX_TEXT_BYTES};
use opsbox::tui::nav::ViewId;
use opsbox::tui::store::Store;
use opsbox::tui::theme::Theme;
use opsbox_common::config::Track;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const INSTANCES: usize = 5_000;
const LOG_LINES: usize = 100_000;

fn instance(n: usize) -> InstanceStatus {
    let (workload, track) = match n % 10 {
        0 => ("api", Track::Canary),
        1..=5 => ("api", Track::Stable),
        _ => ("worker", Track::Stable),
    };
    let state = if n % 97 == 0 {
        InstanceState::Backoff
    } else {
        InstanceState::Running
    };
    InstanceStatus {
        name: format!("{workload}-{n}"),
        workload: workload.to_owned(),
        track,
        revision: "v1".to_owned(),
        pid: Some(10_000 + n as u32),
        state,
        restarts: (n % 7) as u32,
        uptime_secs: Some(3_600 + n as u64),
        address: Some(format!("127.0.0.1:{}", 20_000 + n)),
        log_file: Some(PathBuf::from(format!(".opsbox/logs/{workload}-{n}.log"))),
        last_exit: None,
        last_error: None,
    }
}

fn status() -> EnvironmentStatus {
    EnvironmentStatus {
        environment: "local".to_owned(),
        phase: EnvironmentPhase::Ready,
        started_at: Utc::now() - Duration::hours(2),
        state_dir: Some(PathBuf::from(".opsbox")),
        instances: (0..INSTANCES).map(instance).collect(),
        queue: Some(QueueStatus {
            ready: 120,
            delayed: 4,
            processing: 30,
            dead: 7,
        }),
        router: Some(RouterStatus {
            url: "http://127.0.0.1:8080".to_owned(),
            metrics_url: None,
            canary_weight: 10,
            stable_upstreams: Vec::new(),
            canary_upstreams: Vec::new(),
        }),
        rollout: None,
        prometheus_url: None,
        scalers: Vec::new(),
    }
}

fn slo(name: &str, burn: f64) -> SloSummary {
    let windows = [300, 1_800, 3_600, 7_200, 21_600, 86_400, 259_200, 2_592_000]
        .into_iter()
        .map(|secs| WindowReport {
            window: format!("{secs}s"),
            window_secs: secs,
            error_ratio: Measured::Value {
                value: burn * 0.001,
            },
            burn_rate: Measured::Value { value: burn },
        })
        .collect();
    SloSummary {
        name: name.to_owned(),
        service: "api".to_owned(),
        objective_percent: 99.9,
        period: "30d".to_owned(),
        period_secs: 2_592_000,
        error_budget: 0.001,
        runbook: format!("docs/runbooks/slo-{name}.md"),
        sli: Measured::Value {
            value: 1.0 - burn * 0.001,
        },
        error_budget_remaining: Measured::Value { value: 0.8 },
        windows,
        alert: AlertLevel::None,
        budget_exhaustion: Measured::Value {
            value: Exhaustion::In { secs: 86_400 },
        },
    }
}

fn slo_report(at: chrono::DateTime<Utc>) -> SloReport {
    SloReport {
        source: SloSource::Embedded,
        requested: SourceChoice::Auto,
        scope: SloScope::All,
        evaluated_at: at,
        coverage_secs: Some(7_200),
        prometheus_url: None,
        slos: [
            "api-availability",
            "api-latency",
            "jobs-success",
            "queue-freshness",
        ]
        .iter()
        .enumerate()
        .map(|(index, name)| slo(name, index as f64 * 1.5))
        .collect(),
        targets: Vec::new(),
        notes: Vec::new(),
    }
}

fn log_lines() -> Vec<LogLine> {
    let api = LineSource::new("api-1", "api");
    let worker = LineSource::new("worker-1", "worker");
    (0..LOG_LINES)
        .map(|n| {
            let level = match n % 10 {
                0 => "ERROR",
                1 => "WARN",
                _ => "INFO",
            };
            let source = if n % 2 == 0 { &api } else { &worker };
            let raw = format!(
                r#"{{"timestamp":"2026-11-21T22:27:{:02}.{:06}Z","level":"{level}","target":"opsbox","message":"request finished","status":{},"latency_ms":{},"trace_id":"4bf92f3577b34da6a3ce929d{n:08x}"}}"#,
                n % 60,
                n % 1_000_000,
                if level == "ERROR" { 503 } else { 201 },
                n % 250
            );
            LogLine::parse(&raw, source, DEFAULT_MAX_TEXT_BYTES)
        })
        .collect()
}

fn app() -> App {
    let mut store = Store::new("local", PathBuf::from(".opsbox"), false, Theme::colored());
    let now = Utc::now();
    for second in 0..600 {
        let at = now - Duration::seconds(600 - second);
        let mut sample = status();
        sample.instances.truncate(1);
        sample.queue = Some(QueueStatus {
            ready: (second % 40) as u64,
            delayed: 0,
            processing: 3,
            dead: 7,
        });
        store.accept_status(Ok(sample), at);
        if second % 2 == 0 {
            store.accept_slo(Ok(slo_report(at)), at);
        }
    }
    store.accept_status(Ok(status()), now);
    store.now = now;
    let mut app = App::new(store.shared());
    app.ingest_logs(LogBatch {
        lines: log_lines(),
        errors: Vec::new(),
    });
    assert_eq!(app.logs().buffer().len(), LOG_LINES);
    app
}

fn frames(c: &mut Criterion) {
    let mut app = app();
    for (width, height) in [(80, 24), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        c.bench_function(
            &format!("overview frame {width}x{height}, 5000 instances, 100k log lines"),
            |b| {
                b.iter(|| {
                    terminal.draw(|frame| app.render(frame)).expect("draw");
                    black_box(terminal.backend().buffer().area);
                })
            },
        );
    }
    app.show(ViewId::Instances);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test terminal");
    c.bench_function("instances frame 200x60, 5000 instances", |b| {
        b.iter(|| {
            terminal.draw(|frame| app.render(frame)).expect("draw");
            black_box(terminal.backend().buffer().area);
        })
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    frames(&mut criterion);
    criterion.final_summary();
}
