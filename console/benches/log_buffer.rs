//! The console's log buffer: ingest (parse + push) and a regex filter over 100,000 lines.
//!
//! ```text
//! cargo bench -p opsbox --bench log_buffer
//! ```
//!
//! Lines are shaped like the services' real JSON lines (a request line with a trace id, a
//! worker job line, a supervisor line, a plain-text panic line, in rotation), each made
//! unique by its numbers. Ingest pushes into a buffer already at its 100,000-line cap, so
//! every push also drops the oldest line, as on a long shift; the second ingest goes through
//! the Logs view with a `/` filter set, which also tests each line. The filter is what `/`
//! runs over the whole buffer when the pattern changes; the render is one Logs frame at
//! 200×50 over the full buffer.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsbox::tui::logs::{
    LineFilter, LineSource, LogBuffer, LogLine, LogsView, DEFAULT_CAPACITY, DEFAULT_MAX_TEXT_BYTES,
};
use opsbox::tui::view::View;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const LINES: usize = 100_000;

fn raw_line(n: usize) -> (LineSource, String) {
    let second = n % 60;
    let micros = n % 1_000_000;
    match n % 4 {
        0 => (
            LineSource::new("api-1", "api"),
            format!(
                r#"{{"timestamp":"2026-11-21T22:27:{second:02}.{micros:06}Z","level":"INFO","target":"opsbox_api::observe","span":"request","method":"POST","route":"/tasks","status":{},"latency_ms":{},"message":"request finished","trace_id":"4bf92f3577b34da6a3ce929d{n:011x}","span_id":"00f067aa{n:08x}"}}"#,
                if n % 100 == 0 { 503 } else { 201 },
                n % 250
            ),
        ),
        1 => (
            LineSource::new("worker-1", "worker"),
            format!(
                r#"{{"timestamp":"2026-11-21T22:27:{second:02}.{micros:06}Z","level":"WARN","target":"opsbox_worker::runner","span":"job","task_id":"7f3c2a10-{n:012x}","kind":"flaky","attempt":1,"worker":"vm-5584-b4f8a5","message":"job failed; will retry","error":"flaky: attempt 1 of the first 1 fails","retry_in_ms":200,"trace_id":"4bf92f3577b34da6a3ce929d{n:011x}","span_id":"1a2b3c4d{n:08x}"}}"#
            ),
        ),
        2 => (
            LineSource::new("api-2", "api"),
            format!(
                r#"{{"fields":{{"message":"restarted","pid":{n},"status":"exit status: 1"}},"instance":"api-2","level":"INFO","target":"opsbox::supervisor","timestamp":"2026-11-21T22:27:{second:02}.{micros:06}Z"}}"#
            ),
        ),
        _ => (
            LineSource::new("api-2", "api"),
            format!("thread 'tokio-runtime-worker' panicked at services/api/src/faults.rs:{n}:9"),
        ),
    }
}

fn raw_lines(count: usize, offset: usize) -> Vec<(LineSource, String)> {
    (offset..offset + count).map(raw_line).collect()
}

fn full_buffer() -> LogBuffer {
    let mut buffer = LogBuffer::new(DEFAULT_CAPACITY);
    for (source, raw) in raw_lines(LINES, 0) {
        buffer.push(LogLine::parse(&raw, &source, DEFAULT_MAX_TEXT_BYTES));
    }
    buffer
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_ingest");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(10);
    let lines = raw_lines(LINES, LINES);
    group.bench_function("parse_and_push_100k_into_full_buffer", |b| {
        b.iter_batched(
            full_buffer,
            |mut buffer| {
                for (source, raw) in &lines {
                    buffer.push(LogLine::parse(raw, source, DEFAULT_MAX_TEXT_BYTES));
                }
                black_box(buffer.len())
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function("parse_and_ingest_100k_into_filtered_view", |b| {
        b.iter_batched(
            || {
                let mut view = LogsView::with_buffer(full_buffer(), true);
                view.handle_key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
                for c in "job failed|status=5".chars() {
                    view.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
                }
                view.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
                view
            },
            |mut view| {
                view.push_lines(
                    lines
                        .iter()
                        .map(|(source, raw)| LogLine::parse(raw, source, DEFAULT_MAX_TEXT_BYTES)),
                );
                black_box(view.buffer().len())
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn filter(c: &mut Criterion) {
    let buffer = full_buffer();
    let mut group = c.benchmark_group("log_filter");
    group.sample_size(20);
    for (name, pattern) in [
        ("literal_100k", "job failed"),
        ("alternation_100k", r"status=5\d\d|panicked|timeout"),
    ] {
        let mut filter = LineFilter::default();
        if let Err(error) = filter.set_pattern(pattern) {
            panic!("bench pattern {pattern:?}: {error}");
        }
        group.bench_function(name, |b| b.iter(|| black_box(filter.select(&buffer).len())));
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let mut view = LogsView::with_buffer(full_buffer(), true);
    let mut terminal = match Terminal::new(TestBackend::new(200, 50)) {
        Ok(terminal) => terminal,
        Err(error) => panic!("test terminal: {error}"),
    };
    c.bench_function("logs_view_frame_200x50_over_100k", |b| {
        b.iter(|| {
            if let Err(error) = terminal.draw(|frame| view.render(frame, frame.area())) {
                panic!("draw: {error}");
            }
        });
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    ingest(&mut criterion);
    filter(&mut criterion);
    render(&mut criterion);
    criterion.final_summary();
}
