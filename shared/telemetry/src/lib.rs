//! Structured `tracing` logs for every TICA binary.
//!
//! `RUST_LOG` filters (default `info`, with sqlx's per-statement logs at `warn`: statements are
//! fine to log but their bind values are never logged by sqlx, and we keep it that way).
//! `TICA_LOG_FORMAT=json` writes one JSON object per line (what a log collector wants);
//! `pretty` (the default on a terminal) writes human-readable lines.
//!
//! Invariant: no TICA code puts a resident ID number or a person's name in a span or event
//! field; log resource names (`teachers/T123`) instead.

#![deny(missing_docs)]

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

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

/// The default filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,h2=warn,hyper=warn,tower=warn";

/// Installs the global subscriber for `service`; a second call does nothing (tests).
pub fn init(service: &'static str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    if result.is_ok() {
        tracing::debug!(service, "logging initialised");
    }
}
