//! One log line as the console keeps it: parsed once from the services' JSON lines (or kept
//! as plain text), small enough that 100,000 of them fit in a few tens of megabytes.

use std::num::{NonZeroU128, NonZeroU64};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::json_line::JsonLine;

/// The longest text kept of one line; the rest is cut and marked with `…`.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 2048;

/// The target of the lines the supervisor writes into an instance's log.
const SUPERVISOR_TARGET: &str = "opsbox::supervisor";

/// Severity, ordered from the least to the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    /// Case-insensitive; `WARNING` and `ERR` as other loggers spell them.
    pub fn parse(text: &str) -> Option<Self> {
        let known = [
            ("TRACE", Level::Trace),
            ("DEBUG", Level::Debug),
            ("INFO", Level::Info),
            ("WARN", Level::Warn),
            ("WARNING", Level::Warn),
            ("ERROR", Level::Error),
            ("ERR", Level::Error),
        ];
        known
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, level)| *level)
    }

    /// A warning or an error: what the Overview lists.
    pub fn is_problem(self) -> bool {
        self >= Level::Warn
    }
}

/// Where a line came from; shared by every line of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSource {
    pub instance: Arc<str>,
    pub workload: Arc<str>,
}

impl LineSource {
    pub fn new(instance: &str, workload: &str) -> Self {
        Self {
            instance: Arc::from(instance),
            workload: Arc::from(workload),
        }
    }
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Position in the stream, given by the [`super::LogBuffer`] on push; 0 before.
    pub seq: u64,
    /// `None` for a plain-text line, which has no time of its own.
    pub timestamp: Option<DateTime<Utc>>,
    /// `None` for a plain-text line (a panic message on stderr, say).
    pub level: Option<Level>,
    pub instance: Arc<str>,
    pub workload: Arc<str>,
    /// The message followed by the other fields as `key=value`, or the raw plain text.
    pub text: Box<str>,
    /// How many bytes of `text` are the message; the fields follow. Repeats of one message
    /// with other fields (a retry's attempt number) are one kind of line.
    pub message_len: u32,
    /// 128-bit W3C trace id, kept as a number: compact, and compared without allocating.
    /// All zeros is no trace (W3C calls it invalid), so `None` costs no extra space.
    pub trace_id: Option<NonZeroU128>,
    pub span_id: Option<NonZeroU64>,
}

impl LogLine {
    /// Parses one line (without its newline). A line that is not a JSON object is kept as
    /// plain text; text longer than `max_text_bytes` is cut.
    pub fn parse(raw: &str, source: &LineSource, max_text_bytes: usize) -> Self {
        let raw = raw.trim_end_matches(['\r', '\n']);
        match JsonLine::parse(raw, max_text_bytes) {
            Some(json) => Self::from_json(json, source, max_text_bytes),
            None => Self::plain(raw, source, max_text_bytes),
        }
    }

    /// A line kept as it was written.
    pub fn plain(raw: &str, source: &LineSource, max_text_bytes: usize) -> Self {
        Self {
            seq: 0,
            timestamp: None,
            level: None,
            instance: source.instance.clone(),
            workload: source.workload.clone(),
            text: cut(raw.to_owned(), max_text_bytes).into_boxed_str(),
            message_len: u32::MAX,
            trace_id: None,
            span_id: None,
        }
    }

    fn from_json(json: JsonLine<'_>, source: &LineSource, max_text_bytes: usize) -> Self {
        let timestamp = json
            .timestamp
            .as_deref()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc));
        let level = json.level.as_deref().and_then(Level::parse);
        let trace_id = json
            .trace_id
            .as_deref()
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .and_then(NonZeroU128::new);
        let span_id = json
            .span_id
            .as_deref()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .and_then(NonZeroU64::new);
        let prefix = if json.target.as_deref() == Some(SUPERVISOR_TARGET) {
            "supervisor: "
        } else {
            ""
        };
        let message = json.message.as_deref().unwrap_or_default();
        // Sized once: the one allocation of the line that is kept.
        let mut text = String::with_capacity(prefix.len() + message.len() + json.fields.len());
        text.push_str(prefix);
        text.push_str(message);
        let message_len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        text.push_str(&json.fields);
        Self {
            seq: 0,
            timestamp,
            level,
            instance: source.instance.clone(),
            workload: source.workload.clone(),
            text: cut(text, max_text_bytes).into_boxed_str(),
            message_len,
            trace_id,
            span_id,
        }
    }

    /// The message without its fields (all of a plain line).
    pub fn message(&self) -> &str {
        let end = usize::try_from(self.message_len).unwrap_or(usize::MAX);
        self.text.get(..end).unwrap_or(&self.text)
    }

    /// The trace id as the services log it: 32 lowercase hex digits.
    pub fn trace_hex(&self) -> Option<String> {
        self.trace_id.map(|id| format!("{:032x}", id.get()))
    }
}

/// `text` cut to at most `max_bytes` (on a character boundary), with `…` when cut.
fn cut(mut text: String, max_bytes: usize) -> String {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> LineSource {
        LineSource::new("worker-1", "worker")
    }

    #[test]
    fn a_service_line_keeps_time_level_trace_and_fields() {
        let raw = r#"{"attempt":1,"error":"boom: no luck","kind":"fail","level":"WARN","message":"job failed; will retry","span":"job","span_id":"00f067aa0ba902b7","target":"opsbox_worker::runner","task_id":"7f3c","timestamp":"2026-11-21T22:27:38.354509Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
        let line = LogLine::parse(raw, &source(), DEFAULT_MAX_TEXT_BYTES);
        assert_eq!(line.level, Some(Level::Warn));
        assert_eq!(
            line.timestamp.map(|t| t.to_rfc3339()),
            Some("2026-11-21T22:27:38.354509+00:00".to_owned())
        );
        assert_eq!(
            line.trace_id.map(NonZeroU128::get),
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(line.span_id.map(NonZeroU64::get), Some(0x00f067aa0ba902b7));
        assert_eq!(
            line.trace_hex().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            &*line.text,
            r#"job failed; will retry attempt=1 error="boom: no luck" kind=fail task_id=7f3c"#
        );
        assert_eq!((&*line.instance, &*line.workload), ("worker-1", "worker"));
    }

    #[test]
    fn a_supervisor_line_shows_its_nested_fields() {
        let raw = r#"{"fields":{"message":"restarted","pid":42,"status":"exit status: 1"},"instance":"worker-1","level":"INFO","target":"opsbox::supervisor","timestamp":"2026-11-21T22:27:38.350106Z"}"#;
        let line = LogLine::parse(raw, &source(), DEFAULT_MAX_TEXT_BYTES);
        assert_eq!(line.level, Some(Level::Info));
        assert_eq!(
            &*line.text,
            r#"supervisor: restarted pid=42 status="exit status: 1""#
        );
        assert_eq!(line.trace_id, None);
    }

    #[test]
    fn anything_else_is_kept_as_plain_text_and_long_text_is_cut() {
        for raw in [
            "thread 'main' panicked at src/main.rs:3:5",
            "[1, 2]",
            "{\"truncated\": ",
        ] {
            let line = LogLine::parse(raw, &source(), DEFAULT_MAX_TEXT_BYTES);
            assert_eq!(line.level, None, "{raw}");
            assert_eq!(line.timestamp, None, "{raw}");
            assert_eq!(&*line.text, raw);
        }
        let long = "é".repeat(100);
        let line = LogLine::parse(&long, &source(), 11);
        assert_eq!(&*line.text, "ééééé…", "cut on a character boundary");
        let json = format!(r#"{{"level":"INFO","message":"{}"}}"#, "x".repeat(5000));
        let line = LogLine::parse(&json, &source(), 100);
        assert_eq!(line.text.len(), 100 + '…'.len_utf8());
    }

    #[test]
    fn a_line_stays_small() {
        // 100,000 of these are the console's largest use of memory; the text is extra.
        assert!(
            std::mem::size_of::<LogLine>() <= 112,
            "{}",
            std::mem::size_of::<LogLine>()
        );
    }

    #[test]
    fn levels_parse_as_loggers_spell_them_and_order_by_severity() {
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("Err"), Some(Level::Error));
        assert_eq!(Level::parse("notice"), None);
        assert!(Level::Error > Level::Warn && Level::Warn > Level::Info);
        assert!(Level::Warn.is_problem() && !Level::Info.is_problem());
        let zero_trace =
            r#"{"level":"INFO","message":"m","trace_id":"00000000000000000000000000000000"}"#;
        assert_eq!(
            LogLine::parse(zero_trace, &source(), 100).trace_id,
            None,
            "an all-zero trace id is no trace"
        );
    }
}
