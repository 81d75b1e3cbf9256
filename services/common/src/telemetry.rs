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
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

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

fn install(service_name: &'static str, version: &str, track: &str, logs: bool) -> anyhow::Result<Telemetry> {
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

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)))
        .with(logs.then(|| tracing_subscriber::fmt::layer().event_format(JsonLines).with_writer(std::io::stdout)))
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

/// One JSON object per event: time, level, target, message and fields, the
/// enclosing span's name and fields, and the OpenTelemetry ids.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut object = Map::new();
        object.insert("timestamp".into(), Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
        let meta = event.metadata();
        object.insert("level".into(), Value::String(meta.level().as_str().to_owned()));
        object.insert("target".into(), Value::String(meta.target().to_owned()));

        let mut fields = FieldsToJson(Map::new());
        event.record(&mut fields);
        for (key, value) in fields.0 {
            object.insert(key, value);
        }

        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
            }
            if let Some(name) = names.last() {
                object.insert("span".into(), Value::String((*name).to_owned()));
            }
            let context = tracing::Span::current().context();
            let span_context = context.span().span_context().clone();
            if span_context.is_valid() {
                object.insert("trace_id".into(), Value::String(span_context.trace_id().to_string()));
                object.insert("span_id".into(), Value::String(span_context.span_id().to_string()));
            }
        }
        let line = serde_json::to_string(&Value::Object(object)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// Collects an event's fields as JSON values.
struct FieldsToJson(Map<String, Value>);

impl tracing::field::Visit for FieldsToJson {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
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
