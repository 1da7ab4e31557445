//! The per-RPC metrics a `GrpcServer` records, read back from the Prometheus text.
//!
//! The recorder is process-wide and tests run in parallel, so each test reads values before and
//! after its calls, and each uses series no other test touches.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http::uri::PathAndQuery;
use tica_auth::TokenVerifier;
use tica_server::{GrpcServer, RunningServer, metrics};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

const HEALTH: &str = "grpc.health.v1.Health";

async fn start() -> (RunningServer, Channel) {
    let server = GrpcServer::new()
        .spawn(
            "127.0.0.1:0".parse().expect("an address"),
            TokenVerifier::new(&BTreeMap::new()),
        )
        .await
        .expect("the server starts");
    let channel = Channel::from_shared(server.url())
        .expect("a URL")
        .connect()
        .await
        .expect("the server accepts connections");
    (server, channel)
}

fn calls(service: &str, method: &str, code: &str) -> String {
    format!(
        "{}{{service=\"{service}\",method=\"{method}\",code=\"{code}\"}}",
        metrics::REQUESTS_TOTAL
    )
}

fn in_flight(service: &str, method: &str) -> String {
    format!(
        "{}{{service=\"{service}\",method=\"{method}\"}}",
        metrics::IN_FLIGHT
    )
}

fn timed(service: &str, method: &str) -> String {
    format!(
        "{}_count{{service=\"{service}\",method=\"{method}\"}}",
        metrics::REQUEST_DURATION_SECONDS
    )
}

/// The value of one series in `text`, 0 when it is absent.
fn value_in(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn value(series: &str) -> f64 {
    value_in(&metrics::render(), series)
}

/// Waits until `series` reaches `expected` (the server records a cancellation when it notices
/// the client's reset, a moment after the client dropped the call).
async fn eventually(series: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = value(series);
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {now}, expected {expected}:\n{}",
            metrics::render()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn unary_calls_are_counted_by_status_code_and_timed() {
    let (server, channel) = start().await;
    let ok = calls(HEALTH, "Check", "OK");
    let not_found = calls(HEALTH, "Check", "NOT_FOUND");
    let (ok_before, not_found_before, timed_before) = (
        value(&ok),
        value(&not_found),
        value(&timed(HEALTH, "Check")),
    );

    let mut health = HealthClient::new(channel);
    health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("the server as a whole is serving");
    let refused = health
        .check(HealthCheckRequest {
            service: "tica.nothing.v1.Nothing".to_owned(),
        })
        .await
        .expect_err("an unknown service is not found");
    assert_eq!(refused.code(), tonic::Code::NotFound);

    let text = metrics::render();
    assert_eq!(value_in(&text, &ok), ok_before + 1.0, "{text}");
    assert_eq!(
        value_in(&text, &not_found),
        not_found_before + 1.0,
        "{text}"
    );
    assert_eq!(
        value_in(&text, &timed(HEALTH, "Check")),
        timed_before + 2.0,
        "{text}"
    );
    assert_eq!(value_in(&text, &in_flight(HEALTH, "Check")), 0.0, "{text}");
    assert!(
        text.contains(&format!(
            "{}_bucket{{service=\"{HEALTH}\",method=\"Check\",le=\"0.001\"}}",
            metrics::REQUEST_DURATION_SECONDS
        )),
        "latencies use the configured buckets:\n{text}"
    );
    for (name, kind) in [
        (metrics::REQUESTS_TOTAL, "counter"),
        (metrics::REQUEST_DURATION_SECONDS, "histogram"),
        (metrics::IN_FLIGHT, "gauge"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}:\n{text}"
        );
    }
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn a_server_streaming_call_is_recorded_when_its_stream_ends() {
    let (server, channel) = start().await;
    let cancelled = calls(HEALTH, "Watch", "CANCELLED");
    let cancelled_before = value(&cancelled);

    let mut health = HealthClient::new(channel);
    let mut stream = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("the watch starts")
        .into_inner();
    stream
        .message()
        .await
        .expect("a first status")
        .expect("the stream is open");
    let text = metrics::render();
    assert_eq!(value_in(&text, &in_flight(HEALTH, "Watch")), 1.0, "{text}");
    assert_eq!(value_in(&text, &cancelled), cancelled_before, "{text}");
    assert_eq!(
        value_in(&text, &calls(HEALTH, "Watch", "OK")),
        0.0,
        "an open stream is not counted yet:\n{text}"
    );

    drop(stream);
    eventually(&cancelled, cancelled_before + 1.0).await;
    assert_eq!(value(&in_flight(HEALTH, "Watch")), 0.0);
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn a_stream_that_ends_with_ok_trailers_counts_as_ok() {
    let (server, channel) = start().await;
    let service = "grpc.reflection.v1.ServerReflection";
    let ok = calls(service, "ServerReflectionInfo", "OK");
    let ok_before = value(&ok);

    let mut reflection = ServerReflectionClient::new(channel);
    let requests = tokio_stream::iter([ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }]);
    let mut responses = reflection
        .server_reflection_info(requests)
        .await
        .expect("reflection answers")
        .into_inner();
    let mut answers = 0;
    while responses
        .message()
        .await
        .expect("the stream ends cleanly")
        .is_some()
    {
        answers += 1;
    }
    assert_eq!(answers, 1);

    assert_eq!(value(&ok), ok_before + 1.0);
    assert_eq!(value(&in_flight(service, "ServerReflectionInfo")), 0.0);
    server.shutdown().await.expect("a clean shutdown");
}

/// Calls `path` with a health request and returns the refusal.
async fn call_raw(channel: Channel, path: &'static str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    grpc.unary(
        tonic::Request::new(HealthCheckRequest::default()),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .expect_err("no such method is served")
}

/// The calls counted under `service` and `method`, whatever their status.
fn calls_of(text: &str, service: &str, method: &str) -> f64 {
    let prefix = format!(
        "{}{{service=\"{service}\",method=\"{method}\",",
        metrics::REQUESTS_TOTAL
    );
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn paths_of_services_not_hosted_here_never_become_label_values() {
    let (server, channel) = start().await;
    let before = metrics::render();

    // Refused by auth (no token) or answered UNIMPLEMENTED: either way counted, as unknown.
    for path in [
        "/evil%3Cscript%3E/x",
        "/tica.evil.v1.Nope/Steal",
        // In the compiled contracts, but not hosted by this server.
        "/tica.roster.v1.RosterService/ListTeachers",
        "/no-slash-after-the-service",
    ] {
        call_raw(channel.clone(), path).await;
    }
    let refused = call_raw(channel, "/grpc.health.v1.Health/Steal").await;
    assert_eq!(refused.code(), tonic::Code::Unimplemented);

    let text = metrics::render();
    for minted in ["evil", "Nope", "Steal", "RosterService", "no-slash"] {
        assert!(!text.contains(minted), "{minted} became a label:\n{text}");
    }
    assert_eq!(
        calls_of(&text, "unknown", "unknown"),
        calls_of(&before, "unknown", "unknown") + 4.0,
        "{text}"
    );
    let health_unknown = calls(HEALTH, "unknown", "UNIMPLEMENTED");
    assert_eq!(
        value_in(&text, &health_unknown),
        value_in(&before, &health_unknown) + 1.0,
        "{text}"
    );
    server.shutdown().await.expect("a clean shutdown");
}

#[test]
fn install_and_render_can_be_called_again_and_again() {
    metrics::install();
    metrics::install();
    let first = metrics::render();
    let second = metrics::render();
    assert!(
        first.is_empty() || first.ends_with('\n'),
        "text exposition lines end with a newline"
    );
    assert!(!second.contains("NaN"));
}
