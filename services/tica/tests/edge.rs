//! `tica serve`'s public edge as an attacker meets it, through the in-process `start`: the same
//! mechanism the per-service binaries use (`tica_server::edge`), wired into the suite.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tica::serve::{ServeArgs, Suite, start};
use tica_auth::{Role, TokenSigner};
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::roster::v1 as rpb;
use tica_server::edge::EdgeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The suite's proxy in these tests: connections from it are trusted to say who they forward.
const PROXY: &str = "127.0.0.2";

fn args(dir: &std::path::Path, edge: EdgeConfig) -> ServeArgs {
    ServeArgs {
        grpc: "127.0.0.1:0".parse().unwrap(),
        http: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: None,
        token_public_keys: None,
        database_schema_prefix: None,
        evidence_store: None,
        verify_base_url: None,
        cert_keys: None,
        cert_active_key: None,
        certificate_public: Default::default(),
        imports: Default::default(),
        edge,
        tls: Default::default(),
    }
}

async fn suite(dir: &std::path::Path, edge: EdgeConfig) -> Suite {
    start(&args(dir, edge)).await.expect("the suite starts")
}

async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends `request` from `from` and reads the whole answer (the requests say `Connection:
/// close`), giving up after 5 s.
async fn raw(from: &str, server: SocketAddr, request: &str) -> String {
    let mut stream = connect_from(from, server).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

async fn get(from: &str, server: SocketAddr, path: &str, extra: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: tica\r\n{extra}Connection: close\r\n\r\n");
    raw(from, server, &request).await
}

fn status(answer: &str) -> &str {
    answer.split_whitespace().nth(1).unwrap_or_default()
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn channel_from(from: &str, server: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{server}"))
        .unwrap()
        .local_address(Some(from.parse().unwrap()))
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_the_admin_port_and_not_on_the_public_one() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path(), EdgeConfig::default()).await;
    // One call, so the gRPC metrics have something to show.
    cpb::certificate_service_client::CertificateServiceClient::new(
        channel_from("127.0.0.1", suite.grpc_addr).await,
    )
    .list_signing_keys(cpb::ListSigningKeysRequest {})
    .await
    .unwrap();
    let public = get("127.0.0.1", suite.http_addr, "/metrics", "").await;
    assert_eq!(status(&public), "404", "{public}");
    let admin = get("127.0.0.1", suite.admin_addr, "/metrics", "").await;
    assert_eq!(status(&admin), "200", "{admin}");
    assert_eq!(
        header(&admin, "content-type"),
        Some(tica_server::metrics::CONTENT_TYPE)
    );
    assert!(
        admin.contains("# TYPE tica_grpc_server_requests_total counter"),
        "{admin}"
    );
    let healthz = get("127.0.0.1", suite.admin_addr, "/healthz", "").await;
    assert_eq!(status(&healthz), "200");
    suite.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_response_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path(), EdgeConfig::default()).await;
    for path in [
        "/",
        "/healthz",
        "/certificates",
        "/.well-known/jwks.json",
        "/no-such-page",
    ] {
        let answer = get("127.0.0.1", suite.http_addr, path, "").await;
        assert_eq!(
            header(&answer, "referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            header(&answer, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(header(&answer, "x-frame-options"), Some("DENY"), "{path}");
        assert!(
            header(&answer, "content-security-policy").is_some(),
            "{path}: {answer}"
        );
    }
    suite.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upload_is_refused_with_413_before_its_body_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path(), EdgeConfig::default()).await;
    let started = Instant::now();
    let answer = raw(
        "127.0.0.1",
        suite.http_addr,
        "POST /verify/pdf HTTP/1.1\r\nHost: tica\r\nContent-Type: application/pdf\r\n\
         Content-Length: 100000000\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), "413", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    suite.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_closed_within_the_header_timeout_and_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let edge = EdgeConfig {
        header_timeout: Duration::from_millis(500),
        ..EdgeConfig::default()
    };
    let suite = suite(dir.path(), edge).await;
    let mut slow = TcpStream::connect(suite.http_addr).await.unwrap();
    slow.write_all(b"GET /c/").await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "still open after 3 s: {closed:?}"
    );
    // Another one, stalled as the suite stops: the drain does not wait for it for long.
    let mut stalled = TcpStream::connect(suite.http_addr).await.unwrap();
    stalled.write_all(b"GET /c/").await.unwrap();
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), suite.shutdown())
        .await
        .expect("a stalled connection held up the shutdown")
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_over_its_budget_is_refused_on_the_pages_and_on_public_grpc_while_another_is_served()
 {
    use tonic_types::StatusExt;
    let dir = tempfile::tempdir().unwrap();
    let edge = EdgeConfig {
        trusted_proxies: PROXY.parse().unwrap(),
        rate_per_minute: 60,
        burst: 2,
        ..EdgeConfig::default()
    };
    let suite = suite(dir.path(), edge).await;

    // The pages: one visitor behind the proxy spends its budget, another is served.
    let first = "X-Forwarded-For: 198.51.100.1\r\n";
    for _ in 0..2 {
        assert_eq!(
            status(&get(PROXY, suite.http_addr, "/", first).await),
            "200"
        );
    }
    let refused = get(PROXY, suite.http_addr, "/certificates", first).await;
    assert_eq!(status(&refused), "429", "{refused}");
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert!(refused.contains("请求过于频繁"), "{refused}");
    let second = "X-Forwarded-For: 198.51.100.2\r\n";
    assert_eq!(
        status(&get(PROXY, suite.http_addr, "/", second).await),
        "200"
    );

    // Public gRPC methods: the same, with RESOURCE_EXHAUSTED and RetryInfo.
    let direct = channel_from("127.0.0.1", suite.grpc_addr).await;
    let mut public = cpb::certificate_service_client::CertificateServiceClient::new(direct.clone());
    for _ in 0..2 {
        public
            .list_signing_keys(cpb::ListSigningKeysRequest {})
            .await
            .expect("within the budget");
    }
    let status = public
        .list_signing_keys(cpb::ListSigningKeysRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.get_details_retry_info().is_some(), "{status:?}");
    let proxied = channel_from(PROXY, suite.grpc_addr).await;
    let mut request = tonic::Request::new(cpb::ListSigningKeysRequest {});
    request
        .metadata_mut()
        .insert("x-forwarded-for", "198.51.100.2".parse().unwrap());
    cpb::certificate_service_client::CertificateServiceClient::new(proxied)
        .list_signing_keys(request)
        .await
        .expect("another client has its own budget");

    // Authenticated methods are not limited by the edge (the services call each other here).
    let signer = TokenSigner::new(&tica::token::dev_key(dir.path()).unwrap());
    let token = signer
        .mint(
            "edge-test",
            Role::ProvinceOffice,
            tica_domain::DivisionCode::parse("340000").unwrap(),
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    let mut roster = rpb::roster_service_client::RosterServiceClient::new(direct);
    for _ in 0..10 {
        let mut request = tonic::Request::new(rpb::ListJurisdictionsRequest::default());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        if let Err(status) = roster.list_jurisdictions(request).await {
            // An empty roster may have nothing to list; what matters is who answered.
            assert!(
                !matches!(
                    status.code(),
                    tonic::Code::ResourceExhausted | tonic::Code::Unauthenticated
                ),
                "{status:?}"
            );
        }
    }

    // The refusals are counted where operators look: the admin port.
    let metrics = get("127.0.0.1", suite.admin_addr, "/metrics", "").await;
    assert!(
        metrics.contains("tica_edge_refused_total{front=\"http\",reason=\"rate_limited\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tica_edge_refused_total{front=\"grpc\",reason=\"rate_limited\"}"),
        "{metrics}"
    );
    suite.shutdown().await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_secret_and_the_development_keys_are_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path(), EdgeConfig::default()).await;
    suite.shutdown().await.unwrap();
    for file in [
        "certificate-search.secret",
        "keys/token-signing.pem",
        "certificate-keys/dev-1.pem",
    ] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
    }
}
