//! An OpenTelemetry collector in the test process: an OTLP/gRPC `TraceService` that keeps every
//! span it receives, and the suite's telemetry pointed at it, so a test can follow one trace
//! from its own client span through every service a call reaches.
//!
//! The receiver and the exporter live on their own runtime on their own thread: a test's
//! runtime ends with the test, and several tests of one process share the one global
//! subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt;
use opentelemetry_proto::tonic::collector::trace::v1 as otlp;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tica_telemetry::Telemetry;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// OTLP span kinds.
pub const SERVER: i32 = 2;
/// OTLP span kinds.
pub const CLIENT: i32 = 3;

/// A span as the collector received it.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// `service.name` of the resource that sent it.
    pub service: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id, empty for a root.
    pub parent: String,
    /// The span's name.
    pub name: String,
    /// OTLP kind ([`SERVER`], [`CLIENT`], …).
    pub kind: i32,
    /// Attributes as text.
    pub attributes: Vec<(String, String)>,
}

/// The in-process collector.
#[derive(Debug)]
pub struct Receiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    telemetry: Telemetry,
}

#[derive(Debug, Clone)]
struct Collect(Arc<Mutex<Vec<ReceivedSpan>>>);

#[tonic::async_trait]
impl TraceService for Collect {
    async fn export(
        &self,
        request: tonic::Request<otlp::ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<otlp::ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                kept.push(ReceivedSpan {
                    service: service.clone(),
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent: hex::encode(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                        .collect(),
                });
            }
        }
        Ok(tonic::Response::new(otlp::ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// The process's collector, started (with the telemetry exporting to it) on first use.
pub fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (ready, started) = std::sync::mpsc::channel();
        let collect = Collect(spans.clone());
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("a runtime for the receiver");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    tokio::spawn(
                        tonic::transport::Server::builder()
                            .add_service(TraceServiceServer::new(collect))
                            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                                listener,
                            )),
                    );
                    let telemetry = tica_telemetry::init_otlp_to(
                        "tica-e2e",
                        tica_telemetry::LogFormat::Pretty,
                        &format!("http://{addr}"),
                    );
                    ready.send(telemetry).unwrap();
                    std::future::pending::<()>().await;
                });
            })
            .expect("the receiver thread starts");
        let telemetry = started.recv().expect("the receiver starts");
        assert!(
            telemetry.exporting(),
            "another subscriber was installed first: this process cannot see its spans"
        );
        Receiver { spans, telemetry }
    })
}

/// The hex trace id `span` belongs to.
pub fn trace_id(span: &tracing::Span) -> String {
    span.context().span().span_context().trace_id().to_string()
}

impl Receiver {
    /// The spans of `trace_id` received so far.
    pub fn trace(&self, trace_id: &str) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Flushes and waits (up to 20 s) until `trace_id`'s spans satisfy `done`; returns them.
    pub fn wait_for(&self, trace_id: &str, done: impl Fn(&Trace) -> bool) -> Trace {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.telemetry.flush();
            let trace = Trace::new(self.trace(trace_id));
            if done(&trace) || Instant::now() > deadline {
                return trace;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One trace's spans, with their parent links.
#[derive(Debug)]
pub struct Trace {
    /// Every span.
    pub spans: Vec<ReceivedSpan>,
    by_id: HashMap<String, usize>,
}

impl Trace {
    fn new(spans: Vec<ReceivedSpan>) -> Trace {
        let by_id = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.clone(), i))
            .collect();
        Trace { spans, by_id }
    }

    /// The spans named `name` of `kind` (any kind when `None`).
    pub fn named(&self, name: &str, kind: Option<i32>) -> Vec<&ReceivedSpan> {
        self.spans
            .iter()
            .filter(|s| s.name == name && kind.is_none_or(|k| s.kind == k))
            .collect()
    }

    /// `span`'s parent, when it was received.
    pub fn parent(&self, span: &ReceivedSpan) -> Option<&ReceivedSpan> {
        self.by_id.get(&span.parent).map(|&i| &self.spans[i])
    }

    /// Whether `ancestor` is `span` or above it.
    pub fn descends_from(&self, span: &ReceivedSpan, ancestor: &ReceivedSpan) -> bool {
        let mut at = Some(span);
        while let Some(s) = at {
            if s.span_id == ancestor.span_id {
                return true;
            }
            at = self.parent(s);
        }
        false
    }

    /// A readable outline of the trace (for failure messages).
    pub fn outline(&self) -> String {
        let mut lines = Vec::new();
        for root in self.spans.iter().filter(|s| self.parent(s).is_none()) {
            self.outline_from(root, 0, &mut lines);
        }
        lines.join("\n")
    }

    fn outline_from(&self, span: &ReceivedSpan, depth: usize, lines: &mut Vec<String>) {
        lines.push(format!(
            "{}{} [{}] ({})",
            "  ".repeat(depth),
            span.name,
            match span.kind {
                SERVER => "server",
                CLIENT => "client",
                _ => "internal",
            },
            span.service
        ));
        for child in self.spans.iter().filter(|s| s.parent == span.span_id) {
            self.outline_from(child, depth + 1, lines);
        }
    }
}
