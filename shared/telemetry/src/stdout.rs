//! `OTEL_TRACES_EXPORTER=console`: one JSON line per finished span on stdout, for a developer
//! without a collector.

use std::io::Write;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

#[derive(Debug)]
pub(crate) struct JsonLines;

impl SpanExporter for JsonLines {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = std::io::stdout().lock();
        for span in batch {
            let millis = span
                .end_time
                .duration_since(span.start_time)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or_default();
            let parent =
                (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
            let attributes: serde_json::Map<String, serde_json::Value> = span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string().into()))
                .collect();
            let line = serde_json::json!({
                "trace_id": span.span_context.trace_id().to_string(),
                "span_id": span.span_context.span_id().to_string(),
                "parent_span_id": parent,
                "name": span.name,
                "kind": format!("{:?}", span.span_kind),
                "duration_ms": millis,
                "error": matches!(span.status, Status::Error { .. }),
                "attributes": attributes,
            });
            let _ = writeln!(out, "{line}");
        }
        Ok(())
    }
}
