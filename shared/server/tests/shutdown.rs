//! The drain after a shutdown signal is bounded: a long stream (here the health `Watch`, which
//! stays open until the client leaves, like a follower of `StreamCertifiedResults`) holds an
//! unbounded drain up, and with a drain timeout the server returns within it anyway — through
//! `GrpcServer::serve`, and through `Servers` as every service binary runs it
//! (`--shutdown-timeout` / `TICA_SHUTDOWN_TIMEOUT`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use tica_auth::TokenVerifier;
use tica_server::GrpcServer;
use tica_server::process::{ProcessArgs, Servers};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Opens a health `Watch` on `addr` and waits for its first answer: a stream under way.
async fn open_stream(addr: SocketAddr) -> tonic::Streaming<tonic_health::pb::HealthCheckResponse> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().expect("the first status");
    stream
}

/// Serves with `timeout`, opens a stream, signals shutdown; how long the drain took, or None
/// when it had not ended after `give_up`.
async fn drain_with(timeout: Option<Duration>, give_up: Duration) -> Option<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut server = GrpcServer::new();
    server.drain_timeout(timeout);
    let handle =
        tokio::spawn(
            server.serve(listener, TokenVerifier::new(&BTreeMap::new()), async {
                let _ = stopped.await;
            }),
        );
    let _stream = open_stream(addr).await;
    let signalled = Instant::now();
    stop.send(()).unwrap();
    let outcome = tokio::time::timeout(give_up, handle).await;
    match outcome {
        Ok(joined) => {
            joined.unwrap().unwrap();
            Some(signalled.elapsed())
        }
        Err(_) => None,
    }
}

#[tokio::test]
async fn an_open_stream_holds_an_unbounded_drain_and_a_drain_timeout_ends_it() {
    // Without a bound the stream keeps the server draining (the problem).
    assert_eq!(drain_with(None, Duration::from_millis(1500)).await, None);
    // With one, the server returns once it has passed, and not much later.
    let took = drain_with(Some(Duration::from_secs(1)), Duration::from_secs(10))
        .await
        .expect("the drain ends within its timeout");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "drained in {took:?}"
    );
}

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    process: ProcessArgs,
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn a_service_binary_exits_within_its_shutdown_timeout_with_a_stream_open() {
    let args = Args::try_parse_from(["test", "--shutdown-timeout", "1"]).unwrap();
    assert_eq!(args.process.shutdown_timeout, Duration::from_secs(1));
    let default = Args::try_parse_from(["test"]).unwrap();
    assert_eq!(default.process.shutdown_timeout, Duration::from_secs(20));

    let mut process = args.process;
    process.admin_listen = free_port();
    let listen = free_port();
    let (stop, stopped) = oneshot::channel::<()>();
    let servers = Servers::new(
        "test",
        GrpcServer::new(),
        listen,
        TokenVerifier::new(&BTreeMap::new()),
    );
    let handle = tokio::spawn(async move {
        servers
            .run_until(&process, async {
                let _ = stopped.await;
            })
            .await
    });
    // Wait for it to serve, then hold a stream open across the signal.
    let deadline = Instant::now() + Duration::from_secs(10);
    let _stream = loop {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(2), tokio::spawn(open_stream(listen))).await
        {
            break stream;
        }
        assert!(Instant::now() < deadline, "the server never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let signalled = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the servers return within the shutdown timeout")
        .unwrap()
        .unwrap();
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(4), "stopped after {took:?}");
}

/// `GET path` on `addr`: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// Under TLS the kubelet cannot ask gRPC health (its gRPC probe speaks no TLS), so readiness is
/// also on the admin port, and turns with gRPC health.
#[tokio::test]
async fn readiness_on_the_admin_port_turns_unavailable_as_soon_as_the_drain_begins() {
    let args = Args::try_parse_from(["test", "--shutdown-delay", "3"]).unwrap();
    let mut process = args.process;
    process.admin_listen = free_port();
    let admin = process.admin_listen;
    let listen = free_port();
    let (stop, stopped) = oneshot::channel::<()>();
    let servers = Servers::new(
        "test",
        GrpcServer::new(),
        listen,
        TokenVerifier::new(&BTreeMap::new()),
    );
    let handle = tokio::spawn(async move {
        servers
            .run_until(&process, async {
                let _ = stopped.await;
            })
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(admin).await.is_err() {
        assert!(Instant::now() < deadline, "the admin port never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(http_get(admin, "/readyz").await, (200, "serving".into()));
    stop.send(()).unwrap();
    // Within the shutdown delay: still serving calls, no longer ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http_get(admin, "/readyz").await, (503, "draining".into()));
    assert_eq!(http_get(admin, "/healthz").await.0, 200, "still alive");
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Plaintext stays the default only on loopback (issue 17, point 1): a service told to listen
/// on every address without a certificate refuses to start, and says what to set.
#[tokio::test]
async fn a_service_binary_refuses_plaintext_beyond_loopback() {
    let args = Args::try_parse_from(["test"]).unwrap();
    let mut process = args.process;
    process.admin_listen = free_port();
    let listen: SocketAddr = format!("0.0.0.0:{}", free_port().port()).parse().unwrap();
    let servers = Servers::new(
        "test",
        GrpcServer::new(),
        listen,
        TokenVerifier::new(&BTreeMap::new()),
    );
    let refused = servers
        .run_until(&process, std::future::pending())
        .await
        .unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("TICA_TLS_CERT"), "{message}");
    assert!(message.contains("not a loopback address"), "{message}");

    // Meshed networks say so, and are served.
    let args = Args::try_parse_from(["test", "--allow-plaintext"]).unwrap();
    let mut process = args.process;
    process.admin_listen = free_port();
    let servers = Servers::new(
        "test",
        GrpcServer::new(),
        listen,
        TokenVerifier::new(&BTreeMap::new()),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        servers
            .run_until(&process, async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
