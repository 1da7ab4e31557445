//! Logs and traces for every TICA binary.
//!
//! **Logs**: `RUST_LOG` filters (default [`DEFAULT_FILTER`]: `info`, with sqlx's per-statement
//! logs at `warn` — sqlx never logs bind values, and we keep it that way). `TICA_LOG_FORMAT=json`
//! writes one JSON object per line (what a log collector wants); `pretty` (the default on a
//! terminal) writes human-readable lines.
//!
//! **Traces**: OpenTelemetry, configured by the standard `OTEL_*` variables ([`TraceExport`]):
//! OTLP over gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set or
//! `OTEL_TRACES_EXPORTER=otlp`; one JSON line per span on stdout with
//! `OTEL_TRACES_EXPORTER=console`; off otherwise. `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` and `OTEL_EXPORTER_OTLP_TIMEOUT`
//! apply as the specification says. Export never blocks a request: spans queue in a bounded
//! batch processor on its own thread and are dropped when the collector cannot keep up or is
//! down; [`Telemetry::shutdown`] flushes for at most [`FLUSH_LIMIT`].
//!
//! **Propagation**: [`propagation`] carries W3C `traceparent`/`tracestate` on every gRPC call
//! between services (a tower layer on clients; servers extract it in their request span).
//!
//! Invariant: no TICA code puts a resident ID number or a person's name in a span, a span
//! attribute or an event field; log resource names (`teachers/T123`) instead.

#![deny(missing_docs)]

pub mod propagation;
mod stdout;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use propagation::{TraceContext, TraceContextLayer, TracedChannel, traced};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// From `TICA_LOG_FORMAT` (`json` or `pretty`), else JSON unless stderr is a terminal.
    pub fn from_env() -> LogFormat {
        match std::env::var("TICA_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            Ok("pretty") => LogFormat::Pretty,
            _ if std::io::IsTerminal::is_terminal(&std::io::stderr()) => LogFormat::Pretty,
            _ => LogFormat::Json,
        }
    }
}

/// The default log filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,h2=warn,hyper=warn,tower=warn";

/// Which spans are exported, unless `TICA_TRACE_FILTER` says otherwise: TICA's own at INFO and
/// above; never the transport crates (the exporter's own gRPC calls would trace themselves).
pub const DEFAULT_TRACE_FILTER: &str = "info,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,\
     tower_http=off,sqlx=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off";

/// The longest [`Telemetry::shutdown`] waits for buffered spans to leave.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(3);

/// Where spans go, read from the `OTEL_*` variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceExport {
    /// Not exported (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`, or nothing set).
    Off,
    /// One JSON line per span on stdout (`OTEL_TRACES_EXPORTER=console`).
    Stdout,
    /// OTLP over gRPC to the endpoint the exporter reads from `OTEL_EXPORTER_OTLP_*`.
    Otlp,
}

impl TraceExport {
    /// Reads the standard variables through `var` (the process environment in [`init`]).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<TraceExport, String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(TraceExport::Off);
        }
        if let Some(protocol) = set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .filter(|p| p.trim() != "grpc")
        {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported: TICA exports OTLP over \
                 gRPC (port 4317); set it to grpc or unset it"
            ));
        }
        match set("OTEL_TRACES_EXPORTER").as_deref().map(str::trim) {
            Some("none") => Ok(TraceExport::Off),
            Some("console") | Some("stdout") => Ok(TraceExport::Stdout),
            Some("otlp") => Ok(TraceExport::Otlp),
            Some(other) => Err(format!(
                "OTEL_TRACES_EXPORTER={other} is not supported (otlp, console or none)"
            )),
            None if set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() =>
            {
                Ok(TraceExport::Otlp)
            }
            None => Ok(TraceExport::Off),
        }
    }
}

/// What [`init`] set up; hold it for the life of the process and [`Telemetry::shutdown`] it
/// last, so buffered spans are exported (within [`FLUSH_LIMIT`]) before exit.
#[derive(Debug)]
#[must_use = "dropping the guard flushes and stops trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Where spans go (for start-up logs and tests).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is buffered now, waiting at most [`FLUSH_LIMIT`] (tests read spans after).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let provider = provider.clone();
            // `force_flush` blocks on the batch thread: keep it off the async workers.
            let done = std::thread::spawn(move || provider.force_flush());
            let deadline = std::time::Instant::now() + FLUSH_LIMIT;
            while !done.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Flushes buffered spans (bounded in time) and stops exporting.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let stopping = std::thread::spawn(move || provider.shutdown_with_timeout(FLUSH_LIMIT));
            let deadline = std::time::Instant::now() + FLUSH_LIMIT + Duration::from_millis(500);
            while !stopping.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the global subscriber for `service` (the default `service.name`): logs, and spans
/// exported as the `OTEL_*` variables say. A second call in one process installs nothing and
/// returns an inert guard (tests). Must run inside a Tokio runtime when exporting OTLP.
pub fn init(service: &'static str, format: LogFormat) -> Telemetry {
    install(
        service,
        format,
        TraceExport::from_vars(|name| std::env::var(name).ok()),
        None,
        DEFAULT_FILTER,
    )
}

/// Like [`init`], but exports OTLP to `endpoint` whatever the environment says, and logs only
/// warnings unless `RUST_LOG` says otherwise (tests that receive their own spans).
pub fn init_otlp_to(service: &'static str, format: LogFormat, endpoint: &str) -> Telemetry {
    install(
        service,
        format,
        Ok(TraceExport::Otlp),
        Some(endpoint),
        "warn",
    )
}

fn install(
    service: &'static str,
    format: LogFormat,
    export: Result<TraceExport, String>,
    endpoint: Option<&str>,
    default_log_filter: &str,
) -> Telemetry {
    let (provider, problem) = match export {
        Ok(export) => match tracer_provider(service, &export, endpoint) {
            Ok(provider) => (provider, None),
            Err(e) => (None, Some(format!("tracing is off: {e}"))),
        },
        Err(e) => (None, Some(format!("tracing is off: {e}"))),
    };
    let exporting = provider.is_some();
    let log_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log_filter));
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(log_filter);
    let spans = provider.as_ref().map(|provider| {
        let filter = std::env::var("TICA_TRACE_FILTER")
            .ok()
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new(DEFAULT_TRACE_FILTER));
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_filter(filter)
    });
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init()
        .is_ok();
    if !installed {
        return Telemetry { provider: None };
    }
    if let Some(problem) = problem {
        tracing::warn!(service, "{problem}");
    } else {
        tracing::debug!(service, exporting, "telemetry initialised");
    }
    Telemetry { provider }
}

fn tracer_provider(
    service: &'static str,
    export: &TraceExport,
    endpoint: Option<&str>,
) -> Result<Option<SdkTracerProvider>, String> {
    use opentelemetry_otlp::WithExportConfig;
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        resource = resource.with_service_name(service);
    }
    let builder = SdkTracerProvider::builder().with_resource(resource.build());
    let builder = match export {
        TraceExport::Off => return Ok(None),
        TraceExport::Stdout => builder.with_batch_exporter(stdout::JsonLines),
        TraceExport::Otlp => {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if let Some(endpoint) = endpoint {
                exporter = exporter.with_endpoint(endpoint);
            }
            let exporter = exporter
                .build()
                .map_err(|e| format!("the OTLP exporter cannot start: {e}"))?;
            builder.with_batch_exporter(exporter)
        }
    };
    Ok(Some(builder.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(vars: &[(&str, &str)]) -> Result<TraceExport, String> {
        TraceExport::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_configured_means_no_export() {
        assert_eq!(export(&[]), Ok(TraceExport::Off));
        assert_eq!(
            export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            Ok(TraceExport::Off)
        );
    }

    #[test]
    fn an_otlp_endpoint_turns_export_on() {
        for var in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ] {
            assert_eq!(
                export(&[(var, "http://collector:4317")]),
                Ok(TraceExport::Otlp)
            );
        }
    }

    #[test]
    fn the_exporter_variable_and_the_kill_switch_win() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        assert_eq!(
            export(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]),
            Ok(TraceExport::Off)
        );
        assert_eq!(
            export(&[("OTEL_TRACES_EXPORTER", "console")]),
            Ok(TraceExport::Stdout)
        );
        assert_eq!(
            export(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]),
            Ok(TraceExport::Off)
        );
    }

    #[test]
    fn unsupported_settings_are_named_in_the_error() {
        let e = export(&[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
        assert!(e.contains("OTEL_TRACES_EXPORTER=zipkin"), "{e}");
        let e = export(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).unwrap_err();
        assert!(e.contains("gRPC"), "{e}");
    }
}
