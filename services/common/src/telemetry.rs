//! Logs, traces and trace-context propagation, set up once per process.
//!
//! Logs are JSON, one object per line, with `trace_id` and `span_id` when the
//! event happens inside a span. Spans always get OpenTelemetry ids (so logs
//! correlate even without a collector); they are exported over OTLP/HTTP only
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::collections::HashMap;
use std::fmt;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{global, Context};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::{Map, Value};
use tracing::subscriber::Interest;
use tracing::Level;
use tracing::{span, Event, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace pipeline alive; flushes pending spans when dropped.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace export shutdown: {e}");
        }
    }
}

/// Installs the global subscriber and propagator. Call once, early in main.
pub fn init(service_name: &'static str, version: &str, track: &str) -> anyhow::Result<Telemetry> {
    install(service_name, version, track, true)
}

/// For tests: the same trace pipeline, with logs only when `TEST_LOG` is
/// set; a second call in the same process keeps the first installation.
pub fn init_for_tests(service_name: &'static str) -> Option<Telemetry> {
    let logs = std::env::var_os("TEST_LOG").is_some();
    install(service_name, "test", "stable", logs).ok()
}

fn install(
    service_name: &'static str,
    version: &str,
    track: &str,
    logs: bool,
) -> anyhow::Result<Telemetry> {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![Box::new(
        TraceContextPropagator::new(),
    )]));

    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attributes([
            opentelemetry::KeyValue::new("service.version", version.to_owned()),
            opentelemetry::KeyValue::new("deployment.track", track.to_owned()),
        ])
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        // The exporter reads the endpoint and headers from the standard
        // OTEL_EXPORTER_OTLP_* variables itself.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());

    // Logs follow RUST_LOG; traces have their own fixed filter, so that
    // quieting the logs (RUST_LOG=warn) does not silently drop the traces.
    let log_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let trace_filter = Targets::new()
        .with_default(Level::INFO)
        .with_target("sqlx", Level::WARN)
        .with_target("hyper", Level::WARN)
        .with_target("h2", Level::WARN)
        .with_target("reqwest", Level::WARN);
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(service_name))
                .with_filter(trace_filter),
        )
        .with(logs.then(|| {
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(JsonLines)
                .with_writer(std::io::stdout)
                .with_filter(LogFilter { events: log_filter })
        }))
        .try_init()?;
    Ok(Telemetry { provider })
}

/// The W3C trace context of the current span, to send along with a job.
pub fn current_trace_context() -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier
}

/// Makes `span` a child of the trace carried by a job.
pub fn continue_trace(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let parent: Context = global::get_text_map_propagator(|p| p.extract(carrier));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// RUST_LOG decides which events are logged, but the log layer must still
/// see the spans (down to INFO) even when RUST_LOG=warn: an error logged
/// inside a request span is only useful with that span's trace id and fields.
struct LogFilter {
    events: EnvFilter,
}

impl<S> tracing_subscriber::layer::Filter<S> for LogFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        if meta.is_span() {
            *meta.level() <= Level::INFO
        } else {
            tracing_subscriber::layer::Filter::enabled(&self.events, meta, cx)
        }
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.is_span() {
            if *meta.level() <= Level::INFO {
                Interest::always()
            } else {
                Interest::never()
            }
        } else {
            tracing_subscriber::layer::Filter::<S>::callsite_enabled(&self.events, meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let events = tracing_subscriber::layer::Filter::<S>::max_level_hint(&self.events);
        Some(events.map_or(LevelFilter::TRACE, |e| e.max(LevelFilter::INFO)))
    }

    fn on_new_span(
        &self,
        attrs: &span::Attributes<'_>,
        id: &span::Id,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_new_span(&self.events, attrs, id, cx);
    }

    fn on_record(
        &self,
        id: &span::Id,
        values: &span::Record<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        tracing_subscriber::layer::Filter::on_record(&self.events, id, values, cx);
    }

    fn on_enter(&self, id: &span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_enter(&self.events, id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_exit(&self.events, id, cx);
    }

    fn on_close(&self, id: span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        tracing_subscriber::layer::Filter::on_close(&self.events, id, cx);
    }
}

/// One JSON object per event: time, level, target, message and fields, the
/// enclosing span's name and fields, and the OpenTelemetry ids.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut object = Map::new();
        object.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        let meta = event.metadata();
        object.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_owned()),
        );
        object.insert("target".into(), Value::String(meta.target().to_owned()));

        if let Some(scope) = ctx.event_scope() {
            // Fields of the enclosing spans (task_id, route...), outermost
            // first so that inner spans and the event itself win on a clash.
            let mut innermost = None;
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields.as_str()) {
                        object.extend(map);
                    }
                }
                innermost = Some((span.name(), span.id()));
            }
            if let Some((name, id)) = innermost {
                object.insert("span".into(), Value::String(name.to_owned()));
                // The event's own span, not `Span::current()`: an event may
                // name an explicit parent.
                let context = tracing::dispatcher::get_default(|dispatch| {
                    tracing_opentelemetry::get_otel_context(&id, dispatch)
                });
                if let Some(span_context) = context.map(|c| c.span().span_context().clone()) {
                    if span_context.is_valid() {
                        object.insert(
                            "trace_id".into(),
                            Value::String(span_context.trace_id().to_string()),
                        );
                        object.insert(
                            "span_id".into(),
                            Value::String(span_context.span_id().to_string()),
                        );
                    }
                }
            }
        }

        let mut fields = FieldsToJson(Map::new());
        event.record(&mut fields);
        object.extend(fields.0);
        let line = serde_json::to_string(&Value::Object(object)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// Collects an event's fields as JSON values.
struct FieldsToJson(Map<String, Value>);

impl tracing::field::Visit for FieldsToJson {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the fmt layer writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_line_is_one_json_object_with_span_fields_and_trace_ids_even_when_quiet() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonLines)
                    .with_writer(move || writer.clone())
                    .with_filter(LogFilter {
                        events: EnvFilter::new("warn"),
                    }),
            );
        // Global, as in the services: a scoped dispatcher cannot be reached
        // from inside its own event callbacks, which is where the ids are read.
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only subscriber of this test process");
        tracing::warn!("outside");
        tracing::info!("below the log level");
        let span = tracing::info_span!("job", task_id = "t-1", attempt = 2);
        let entered = span.enter();
        tracing::warn!(elapsed_ms = 5u64, "job done");
        drop(entered);

        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "the INFO event is filtered out: {text}");
        assert_eq!(lines[0]["message"], "outside");
        assert!(
            lines[0].get("trace_id").is_none(),
            "no trace outside a span"
        );

        let done = &lines[1];
        assert_eq!(done["level"], "WARN");
        assert_eq!(done["message"], "job done");
        assert_eq!(done["span"], "job");
        assert_eq!(done["task_id"], "t-1");
        assert_eq!(done["attempt"], 2);
        assert_eq!(done["elapsed_ms"], 5);
        assert_eq!(done["trace_id"].as_str().map(str::len), Some(32), "{done}");
        assert_eq!(done["span_id"].as_str().map(str::len), Some(16), "{done}");
    }
}
