use std::hint::black_box;
use std::time::Instant;
use opsbox::tui::logs::{LineFilter, LineSource, LogBuffer, LogLine, DEFAULT_CAPACITY, DEFAULT_MAX_TEXT_BYTES};
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


fn main() {
    let buffer = full_buffer();
    for p in ["job failed", r"status=5\d\d|panicked|timeout"] {
        let mut f = LineFilter::default(); f.set_pattern(p).unwrap();
        let mut times = Vec::new();
        for _ in 0..40 { let t = Instant::now(); black_box(f.select(&buffer).len()); times.push(t.elapsed().as_secs_f64()*1e3); }
        times.sort_by(|a,b| a.partial_cmp(b).unwrap());
        println!("{p}: min {:.2} median {:.2} max {:.2}", times[0], times[20], times[39]);
    }
}
