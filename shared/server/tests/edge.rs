//! The public edge as an attacker meets it: real sockets on port 0, clients on several loopback
//! addresses (127.0.0.1 and 127.0.0.2 are different peers to the server), raw HTTP where a
//! well-behaved client would hide what is tested.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use tica_auth::{KeyPair, MethodPolicy, Role, TokenSigner, TokenVerifier};
use tica_server::GrpcServer;
use tica_server::edge::{ClientAddr, Edge, EdgeConfig};
use tica_server::tls::Tls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

const CLIENT: &str = "127.0.0.1";
const PROXY: &str = "127.0.0.2";
const OTHER: &str = "127.0.0.3";

fn config() -> EdgeConfig {
    EdgeConfig {
        trusted_proxies: PROXY.parse().unwrap(),
        ..EdgeConfig::default()
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/who",
            get(
                |client: ClientAddr, ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    format!("{client} via {}", peer.ip())
                },
            ),
        )
        .route(
            "/own-csp",
            get(|| async {
                (
                    [(
                        http::header::CONTENT_SECURITY_POLICY,
                        "default-src 'none'; style-src 'sha256-abc'",
                    )],
                    "styled",
                )
            }),
        )
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
        // Machine routes: a JSON API and a token endpoint, as the services mount them.
        .route("/api/v1/thing", get(|| async { "{}" }))
        .route(
            "/api/v1/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route("/oauth/token", post(|| async { "{}" }))
}

/// The public front served by `config`'s edge until the sender is used or dropped.
struct Front {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Front {
    async fn start(config: EdgeConfig) -> Front {
        Front::serve(Edge::new(config)).await
    }

    async fn serve(edge: Edge) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            edge.serve_http(listener, router(), async {
                let _ = stopped.await;
            })
            .await
        });
        Front {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// An answer: status code, headers (names lower-cased), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }
}

/// Sends `head` (and `body`) from `from` on a fresh connection and reads the answer to the end
/// (the server closes: `Connection: close`), giving up after 5 s.
async fn exchange(from: &str, server: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = connect_from(from, server).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    Answer::parse(&raw)
}

async fn get_from(from: &str, server: SocketAddr, path: &str, extra: &str) -> Answer {
    let head = format!("GET {path} HTTP/1.1\r\nHost: tica\r\n{extra}Connection: close\r\n\r\n");
    exchange(from, server, &head, b"").await
}

/// Whether the server closes `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_elapsed) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let front = Front::start(config()).await;
    let forged = "X-Forwarded-For: 6.6.6.6\r\n";
    let answer = get_from(CLIENT, front.addr, "/who", forged).await;
    assert_eq!(answer.body, "127.0.0.1 via 127.0.0.1");
    front.stop().await;
}

#[tokio::test]
async fn from_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
    let front = Front::start(config()).await;
    // The visitor wrote 6.6.6.6 themselves; the proxy appended who really connected to it.
    let forwarded = "X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\n";
    let answer = get_from(PROXY, front.addr, "/who", forwarded).await;
    assert_eq!(answer.body, "198.51.100.7 via 127.0.0.2");
    front.stop().await;
}

#[tokio::test]
async fn a_client_over_its_budget_gets_429_with_retry_after_while_another_is_served() {
    let front = Front::start(EdgeConfig {
        rate_per_minute: 60,
        burst: 3,
        ..config()
    })
    .await;
    let first = "X-Forwarded-For: 198.51.100.1\r\n";
    for _ in 0..3 {
        assert_eq!(get_from(PROXY, front.addr, "/", first).await.status, 200);
    }
    let refused = get_from(PROXY, front.addr, "/", first).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused
            .header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{refused:?}"
    );
    assert!(refused.body.contains("请求过于频繁"), "{}", refused.body);
    assert!(
        refused.body.contains("Too many requests"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("href=\"/\""), "{}", refused.body);
    assert_eq!(refused.header("x-frame-options"), Some("DENY"));
    // Every route counts against the same budget.
    assert_eq!(get_from(PROXY, front.addr, "/who", first).await.status, 429);

    // Another visitor behind the same proxy, and a direct one, have budgets of their own.
    let second = "X-Forwarded-For: 198.51.100.2\r\n";
    assert_eq!(get_from(PROXY, front.addr, "/", second).await.status, 200);
    assert_eq!(get_from(OTHER, front.addr, "/", "").await.status, 200);
    // A budget refills: one unit a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get_from(PROXY, front.addr, "/", first).await.status, 200);
    front.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_is_closed_within_the_header_timeout() {
    let front = Front::start(EdgeConfig {
        header_timeout: Duration::from_millis(500),
        ..config()
    })
    .await;
    let mut slow = connect_from(CLIENT, front.addr).await;
    let started = Instant::now();
    slow.write_all(b"GET /who HT").await.unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "a half-sent request holds its connection"
    );
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(400),
        "closed too early: {held:?}"
    );
    // A connection that sends nothing at all is closed the same way.
    let mut silent = connect_from(CLIENT, front.addr).await;
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    front.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_per_address_cap_are_closed_at_once_while_another_address_is_served()
{
    let front = Front::start(EdgeConfig {
        max_connections_per_client: 8,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = connect_from(CLIENT, front.addr).await;
        stream.write_all(b"GET / HT").await.unwrap();
        held.push(stream);
    }
    for _ in 0..12 {
        let mut beyond = connect_from(CLIENT, front.addr).await;
        let started = Instant::now();
        let _ = beyond.write_all(b"GET / HT").await;
        assert!(
            closed_within(&mut beyond, Duration::from_secs(2)).await,
            "a connection beyond the cap is held"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // Those held are still open: the cap closed only the newcomers.
    let mut first = held.remove(0);
    assert!(!closed_within(&mut first, Duration::from_millis(200)).await);
    // Another address is served all the while.
    assert_eq!(get_from(OTHER, front.addr, "/", "").await.status, 200);
    // A place given back is a place for the same address again.
    drop(first);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut stream = connect_from(CLIENT, front.addr).await;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: tica\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut raw)).await;
        if raw.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    front.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_is_held_only_to_the_total_cap() {
    let front = Front::start(EdgeConfig {
        max_connections_per_client: 2,
        max_connections: 6,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut stream = connect_from(PROXY, front.addr).await;
        stream.write_all(b"GET / HT").await.unwrap();
        held.push(stream);
    }
    let mut first = held.remove(0);
    assert!(!closed_within(&mut first, Duration::from_millis(200)).await);
    let mut beyond = connect_from(OTHER, front.addr).await;
    assert!(
        closed_within(&mut beyond, Duration::from_secs(2)).await,
        "the total cap holds for everyone"
    );
    // (A proxy's half-sent request would hold the drain up to its longer header timeout.)
    drop((first, held));
    front.stop().await;
}

/// The google.rpc.Status a JSON refusal carries: (HTTP code, status, ErrorInfo reason, RetryInfo
/// delay).
fn json_refusal(answer: &Answer) -> (u64, String, String, Option<String>) {
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{answer:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&answer.body).expect("a JSON body");
    let error = &body["error"];
    let details = error["details"].as_array().expect("details");
    let of_type = |name: &str| {
        details
            .iter()
            .find(|d| d["@type"] == format!("type.googleapis.com/google.rpc.{name}"))
    };
    let info = of_type("ErrorInfo").expect("an ErrorInfo");
    assert_eq!(info["domain"], "tica");
    (
        error["code"].as_u64().unwrap(),
        error["status"].as_str().unwrap().to_owned(),
        info["reason"].as_str().unwrap().to_owned(),
        of_type("RetryInfo").map(|r| r["retryDelay"].as_str().unwrap().to_owned()),
    )
}

#[tokio::test]
async fn programs_get_the_edges_refusals_as_json_and_browsers_keep_their_page() {
    let front = Front::start(EdgeConfig {
        rate_per_minute: 60,
        burst: 2,
        ..config()
    })
    .await;
    // The JSON API over budget: 429 with Retry-After, and a google.rpc.Status a program reads.
    for _ in 0..2 {
        assert_eq!(
            get_from(CLIENT, front.addr, "/api/v1/thing", "")
                .await
                .status,
            200
        );
    }
    let refused = get_from(CLIENT, front.addr, "/api/v1/thing", "").await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let (code, status, reason, delay) = json_refusal(&refused);
    assert_eq!(
        (code, status.as_str(), reason.as_str()),
        (429, "RESOURCE_EXHAUSTED", "RATE_LIMITED")
    );
    // The budget's exact wait, as proto3 JSON writes a Duration; Retry-After rounds it up.
    let delay: f64 = delay.unwrap().trim_end_matches('s').parse().unwrap();
    assert!(delay > 0.0 && delay <= 1.0, "{delay}");
    // The token endpoint, and any request that asks for JSON and not HTML, read the same.
    let token = exchange(
        CLIENT,
        front.addr,
        "POST /oauth/token HTTP/1.1\r\nHost: tica\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert_eq!(json_refusal(&token).2, "RATE_LIMITED");
    let asked = get_from(CLIENT, front.addr, "/", "Accept: application/json\r\n").await;
    assert_eq!(json_refusal(&asked).1, "RESOURCE_EXHAUSTED");
    // A browser's page over budget still gets the page in Chinese and English.
    let page = get_from(
        CLIENT,
        front.addr,
        "/",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n",
    )
    .await;
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("请求过于频繁"), "{}", page.body);

    // A body over the cap, announced by its Content-Length: 413, as JSON for a program.
    let answer = exchange(
        OTHER,
        front.addr,
        "POST /api/v1/upload HTTP/1.1\r\nHost: tica\r\nContent-Type: application/json\r\n\
         Content-Length: 100000000\r\n\r\n",
        b"",
    )
    .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(
        json_refusal(&answer),
        (413, "OUT_OF_RANGE".into(), "REQUEST_TOO_LARGE".into(), None)
    );
    front.stop().await;
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_with_413_before_any_body_is_read() {
    let front = Front::start(config()).await;
    let started = Instant::now();
    // No body byte is ever sent: an answer proves the server did not wait for one.
    let answer = exchange(
        CLIENT,
        front.addr,
        "POST /upload HTTP/1.1\r\nHost: tica\r\nContent-Type: application/pdf\r\n\
         Content-Length: 100000000\r\n\r\n",
        b"",
    )
    .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    // Up to the cap is fine.
    let body = vec![b'%'; 1 << 20];
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: tica\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = exchange(CLIENT, front.addr, &head, &body).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "1048576"));
    front.stop().await;
}

#[tokio::test]
async fn a_body_that_dribbles_past_the_request_timeout_is_answered_408() {
    let front = Front::start(EdgeConfig {
        request_timeout: Duration::from_millis(500),
        ..config()
    })
    .await;
    let mut stream = connect_from(CLIENT, front.addr).await;
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: tica\r\nContent-Length: 10\r\n\r\nab")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut raw))
        .await
        .expect("answered within the request timeout")
        .unwrap();
    assert_eq!(Answer::parse(&raw).status, 408);
    front.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_handlers_own_csp_is_kept() {
    let front = Front::start(config()).await;
    for path in ["/", "/who", "/no-such-page"] {
        let answer = get_from(CLIENT, front.addr, path, "").await;
        assert_eq!(
            answer.header("content-security-policy"),
            Some(tica_server::edge::DEFAULT_CSP),
            "{path}"
        );
        assert_eq!(
            answer.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let own = get_from(CLIENT, front.addr, "/own-csp", "").await;
    assert_eq!(
        own.header("content-security-policy"),
        Some("default-src 'none'; style-src 'sha256-abc'")
    );
    assert_eq!(own.header("referrer-policy"), Some("no-referrer"));
    front.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_a_request_under_way_and_accepts_no_more() {
    let front = Front::start(config()).await;
    let addr = front.addr;
    let under_way = tokio::spawn(async move { get_from(CLIENT, addr, "/slow", "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    front.stop().await;
    let answer = under_way.await.unwrap();
    assert_eq!((answer.status, answer.body.as_str()), (200, "done"));
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

// ---------------------------------------------------------------------------------------------
// gRPC: a stand-in service with one public and one authenticated method, each answering the
// client address it was given.

mod echo {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tica_server::edge::ClientAddr;
    use tonic::body::Body;

    #[derive(Clone, Debug)]
    pub struct Echo;

    impl tonic::server::NamedService for Echo {
        const NAME: &'static str = "test.v1.Echo";
    }

    struct Answer;

    impl tonic::server::UnaryService<()> for Answer {
        type Response = String;
        type Future = std::future::Ready<Result<tonic::Response<String>, tonic::Status>>;

        fn call(&mut self, request: tonic::Request<()>) -> Self::Future {
            let client = ClientAddr::of(&request).map(|c| c.to_string());
            std::future::ready(Ok(tonic::Response::new(client.unwrap_or_default())))
        }
    }

    impl tower::Service<http::Request<Body>> for Echo {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(Answer, request).await)
            })
        }
    }
}

async fn call(
    channel: &tonic::transport::Channel,
    method: &str,
    metadata: &[(&'static str, &str)],
) -> Result<String, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    for (name, value) in metadata {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    let path = http::uri::PathAndQuery::try_from(format!("/test.v1.Echo/{method}")).unwrap();
    grpc.unary::<(), String, _>(request, path, tonic_prost::ProstCodec::default())
        .await
        .map(tonic::Response::into_inner)
}

async fn channel_from(from: &str, server: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{server}"))
        .unwrap()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_public_method_over_budget_is_resource_exhausted_with_retry_info_and_others_are_served() {
    use tonic_types::StatusExt;
    let pair = KeyPair::generate();
    let verifier = TokenVerifier::new(&BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]));
    let token = TokenSigner::new(&pair)
        .mint(
            "assessment",
            Role::TrainingProvider,
            tica_domain::DivisionCode::parse("340000").unwrap(),
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    let bearer = format!("Bearer {token}");

    let mut server = GrpcServer::new();
    server
        .edge(Edge::new(EdgeConfig {
            rate_per_minute: 60,
            burst: 2,
            ..config()
        }))
        .add_service(
            echo::Echo,
            MethodPolicy::new("test.v1.Echo")
                .public("Public")
                .allow("Private", &[Role::TrainingProvider]),
        );
    let server = server
        .spawn("127.0.0.1:0".parse().unwrap(), verifier)
        .await
        .unwrap();

    let direct = channel_from(CLIENT, server.addr).await;
    for _ in 0..2 {
        assert_eq!(call(&direct, "Public", &[]).await.unwrap(), "127.0.0.1");
    }
    let refused = call(&direct, "Public", &[]).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    let retry = refused
        .get_details_retry_info()
        .expect("a RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
    // A forged X-Forwarded-For from an untrusted peer changes nothing: still the same budget.
    let forged = [("x-forwarded-for", "198.51.100.9")];
    let refused = call(&direct, "Public", &forged).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    // Authenticated methods are not limited here, and learn the client too.
    for _ in 0..10 {
        let auth = [("authorization", bearer.as_str())];
        assert_eq!(call(&direct, "Private", &auth).await.unwrap(), "127.0.0.1");
    }

    // Through a trusted proxy, each forwarded client has its own budget.
    let proxied = channel_from(PROXY, server.addr).await;
    let forwarded = [("x-forwarded-for", "6.6.6.6, 198.51.100.7")];
    assert_eq!(
        call(&proxied, "Public", &forwarded).await.unwrap(),
        "198.51.100.7"
    );
    server.shutdown().await.unwrap();
}

// ---- TLS (issue 17, point 1) ----

/// A PEM file of the test PKI in `shared/testkit/tls/` (not secret: tests only).
fn pem(name: &str) -> Vec<u8> {
    let path = format!("{}/../testkit/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The server side: the service certificate, and the cluster CA for clients when `mutual`.
fn server_tls(mutual: bool) -> Tls {
    Tls::from_pem(
        Some((pem("server.pem"), pem("server.key"))),
        mutual.then(|| pem("ca.pem")),
        None,
    )
    .unwrap()
}

/// A peer as the services make one: trusting `ca`, presenting `identity` (a name in the test
/// PKI) when given.
fn peer_tls(ca: &str, identity: Option<&str>) -> Tls {
    Tls::from_pem(
        identity.map(|name| (pem(&format!("{name}.pem")), pem(&format!("{name}.key")))),
        None,
        Some(pem(&format!("{ca}.pem"))),
    )
    .unwrap()
}

/// The `Public` method's answer through a fresh connection made by `tls` to `url`, or why not.
async fn public_call(tls: &Tls, url: &str) -> Result<String, String> {
    let channel = tls
        .endpoint(url)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    call(&channel, "Public", &[])
        .await
        .map_err(|s| format!("{s:?}"))
}

/// The echo service behind `config`'s edge, over TLS as `tls` says (plaintext by default).
async fn echo_server(tls: &Tls, config: EdgeConfig) -> tica_server::RunningServer {
    let pair = KeyPair::generate();
    let verifier = TokenVerifier::new(&BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]));
    let mut server = GrpcServer::new();
    server.tls(tls.grpc()).edge(Edge::new(config)).add_service(
        echo::Echo,
        MethodPolicy::new("test.v1.Echo")
            .public("Public")
            .allow("Private", &[Role::TrainingProvider]),
    );
    server
        .spawn("127.0.0.1:0".parse().unwrap(), verifier)
        .await
        .unwrap()
}

#[tokio::test]
async fn under_mutual_tls_only_a_client_with_a_certificate_from_the_cluster_ca_is_served() {
    let server = echo_server(&server_tls(true), config()).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());

    // A service of the suite: trusts the CA, presents its certificate.
    assert_eq!(
        public_call(&peer_tls("ca", Some("client")), &url).await,
        Ok("127.0.0.1".to_owned())
    );
    // No certificate, a certificate from another CA, or no TLS at all: not served.
    for (who, tls) in [
        ("no certificate", peer_tls("ca", None)),
        ("a stranger's certificate", peer_tls("ca", Some("stranger"))),
    ] {
        let answer = public_call(&tls, &url).await;
        assert!(answer.is_err(), "{who}: {answer:?}");
    }
    let plaintext = format!("http://127.0.0.1:{}", server.addr.port());
    let answer = public_call(&Tls::default(), &plaintext).await;
    assert!(answer.is_err(), "plaintext: {answer:?}");
    // And a client does not talk to a server its CA did not sign (a man in the middle).
    let answer = public_call(&peer_tls("other-ca", Some("client")), &url).await;
    assert!(answer.is_err(), "an unknown server: {answer:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn over_tls_a_public_method_over_budget_is_still_refused_per_client() {
    let server = echo_server(
        &server_tls(false),
        EdgeConfig {
            rate_per_minute: 60,
            burst: 2,
            ..config()
        },
    )
    .await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let channel = peer_tls("ca", None).channel(&url).unwrap();
    for _ in 0..2 {
        assert_eq!(call(&channel, "Public", &[]).await.unwrap(), "127.0.0.1");
    }
    let refused = call(&channel, "Public", &[]).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "TLS must not hide the client from the limiter: {refused:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_public_front_over_tls_serves_its_pages_and_no_page_in_plaintext() {
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let acceptor = server_tls(false).http_acceptor().unwrap();
    let front = Front::serve(Edge::new(config()).with_tls(acceptor)).await;

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem("ca.pem")) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = connect_from(CLIENT, front.addr).await;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: tica\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the answer; what arrived is enough.
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw)).await;
    let answer = Answer::parse(&raw);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "ok");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=31536000"),
        "browsers are told to keep to TLS"
    );

    // Plaintext HTTP on the TLS port gets no page.
    let mut plain = connect_from(CLIENT, front.addr).await;
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: tica\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut raw)).await;
    assert!(
        !String::from_utf8_lossy(&raw).contains(" 200 "),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    front.stop().await;
}

// ---- gRPC-Web (issue 17, point 6) ----

/// A gRPC-Web call of `method` with an empty message, from a page at `origin`: the raw answer.
async fn grpc_web(server: SocketAddr, method: &str, origin: &str) -> Answer {
    let head = format!(
        "POST /test.v1.Echo/{method} HTTP/1.1\r\nHost: tica\r\nOrigin: {origin}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\n"
    );
    // One data frame: not compressed, length 0 (the empty message).
    exchange(CLIENT, server, &head, &[0, 0, 0, 0, 0]).await
}

#[tokio::test]
async fn a_page_on_another_origin_calls_a_public_method_over_grpc_web_and_reads_refusals() {
    let server = echo_server(&Tls::default(), config()).await;
    let origin = "https://hr.example.gov.cn";
    // The browser's preflight.
    let head = format!(
        "OPTIONS /test.v1.Echo/Public HTTP/1.1\r\nHost: tica\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n\
         Connection: close\r\n\r\n"
    );
    let preflight = exchange(CLIENT, server.addr, &head, b"").await;
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("x-grpc-web") && allowed.contains("authorization"),
        "{allowed}"
    );

    // The call: the answer in a data frame, the status in a trailer frame.
    let answer = grpc_web(server.addr, "Public", origin).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/grpc-web")),
        "{answer:?}"
    );
    assert!(answer.body.contains("127.0.0.1"), "{answer:?}");
    assert!(answer.body.contains("grpc-status:0"), "{answer:?}");

    // A refusal reaches the page with its code and its ErrorInfo.
    let refused = grpc_web(server.addr, "Private", origin).await;
    assert!(
        refused.body.contains("grpc-status:16") || refused.header("grpc-status") == Some("16"),
        "{refused:?}"
    );
    let exposed = refused
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("grpc-status-details-bin"), "{exposed}");
    assert!(
        refused.body.contains("grpc-status-details-bin")
            || refused.header("grpc-status-details-bin").is_some(),
        "{refused:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_a_list_of_origins_only_those_pages_may_read_the_answers() {
    let listed = "https://hr.example.gov.cn";
    let server = echo_server(
        &Tls::default(),
        EdgeConfig {
            cors_allowed_origins: listed.parse().unwrap(),
            ..config()
        },
    )
    .await;
    let ours = grpc_web(server.addr, "Public", listed).await;
    assert_eq!(ours.header("access-control-allow-origin"), Some(listed));
    let theirs = grpc_web(server.addr, "Public", "https://evil.example").await;
    assert_eq!(
        theirs.header("access-control-allow-origin"),
        None,
        "{theirs:?}"
    );
    server.shutdown().await.unwrap();
    // An origin with a path, or none at all, is refused when configured.
    for bad in ["https://hr.example.gov.cn/page", "hr.example.gov.cn", ","] {
        assert!(
            bad.parse::<tica_server::edge::CorsOrigins>().is_err(),
            "{bad}"
        );
    }
}
