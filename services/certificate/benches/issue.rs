//! Issues 10,000 certificates end to end — PDF, QR, Ed25519 signature, storage, transparency
//! log — from certified-result events, as an issuance run does after reading them off the
//! assessment stream; then loads the public verification over loopback: gRPC `Verify` by id and
//! the HTTP verification page, with concurrent clients, reporting calls/s and p50/p99. In the
//! same run, Python's reportlab + qrcode draws the same certificate with the same font
//! (`shared/pdf/benches/reportlab_certificate.py`), for the per-core ratio.
//!
//! ```sh
//! pip install reportlab qrcode
//! cargo bench -p tica-certificate --bench issue
//! ```
//!
//! `TICA_BENCH_N` changes the number of certificates; `DATABASE_URL=postgres://…` issues into
//! PostgreSQL instead of SQLite. Under `cargo test --benches` it issues 50 and verifies briefly.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tica_certificate::service::Numbers;

use tica_proto::tica::certificate::v1 as cpb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

struct Load {
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Load {
    fn report(&mut self, what: &str) {
        self.latencies.sort();
        println!(
            "{what}: {} calls in {:.2} s = {:.0} calls/s; p50 {:.2} ms, p99 {:.2} ms",
            self.calls,
            self.elapsed.as_secs_f64(),
            self.calls as f64 / self.elapsed.as_secs_f64(),
            percentile(&self.latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&self.latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn grpc_load(addr: SocketAddr, ids: Arc<Vec<String>>, calls: usize, workers: usize) -> Load {
    let channels: Vec<_> = (0..4)
        .map(|_| {
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect_lazy()
        })
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut client = cpb::certificate_service_client::CertificateServiceClient::new(
            channels[w % channels.len()].clone(),
        );
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(calls / workers);
            for k in 0..calls / workers {
                let id = &ids[(w * 7919 + k * 104_729) % ids.len()];
                let t = Instant::now();
                let answer = client
                    .verify(cpb::VerifyRequest {
                        subject: Some(cpb::verify_request::Subject::Certificate(id.clone())),
                    })
                    .await
                    .expect("Verify answers")
                    .into_inner();
                latencies.push(t.elapsed());
                assert_eq!(answer.verdict, cpb::Verdict::Valid as i32);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Load {
        calls: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

/// GETs `paths` on one keep-alive HTTP/1.1 connection, checking each page says 有效.
async fn http_worker(addr: SocketAddr, paths: Vec<String>) -> Vec<Duration> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut latencies = Vec::with_capacity(paths.len());
    let mut buffer = Vec::with_capacity(16 << 10);
    for path in paths {
        let t = Instant::now();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
            .await
            .unwrap();
        buffer.clear();
        let body_len;
        let header_end;
        loop {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                body_len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .expect("content-length");
                header_end = end + 4;
                break;
            }
        }
        while buffer.len() < header_end + body_len {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            buffer.extend_from_slice(&chunk[..n]);
        }
        latencies.push(t.elapsed());
        let body = &buffer[header_end..header_end + body_len];
        assert!(body.windows("有效".len()).any(|w| w == "有效".as_bytes()));
    }
    latencies
}

async fn http_load(addr: SocketAddr, ids: Arc<Vec<String>>, calls: usize, workers: usize) -> Load {
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let paths = (0..calls / workers)
                .map(|k| {
                    format!(
                        "/c/{}",
                        ids[(w * 7919 + k * 104_729) % ids.len()]
                            .trim_start_matches("certificates/")
                    )
                })
                .collect();
            tokio::spawn(http_worker(addr, paths))
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Load {
        calls: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("TICA_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 50 });
    let dir = std::env::temp_dir().join(format!("tica-cert-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => format!("sqlite://{}", dir.display()),
    };
    let schema = format!("bench_cert_{}", std::process::id());
    let db = tica_certificate::startup::open(&url, Some(schema.clone()))
        .await
        .unwrap();
    let svc = support::offline_service(db.clone(), &dir).await.unwrap();
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    let events: Vec<_> = (0..n).map(support::certified_event).collect();
    let search_keys: HashMap<String, String> = events
        .iter()
        .map(|e| {
            (
                e.teacher.trim_start_matches("teachers/").to_owned(),
                "k".repeat(64),
            )
        })
        .collect();
    let mut numbers = Numbers::new();
    let chunk = svc.config().chunk;
    println!(
        "issuing {n} certificates on {} ({} cores), {chunk} per transaction",
        db.backend().as_str(),
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    let start = Instant::now();
    for part in events.chunks(chunk) {
        svc.process(&mut run, part.to_vec(), &search_keys, &mut numbers)
            .await
            .unwrap();
    }
    let elapsed = start.elapsed();
    assert_eq!(run.certificates_issued, n as i64);
    let rate = n as f64 / elapsed.as_secs_f64();
    let (all, _) = tica_certificate::store::certificates(
        &db,
        &tica_certificate::store::CertFilter {
            range: tica_domain::ScopePath::parse("/340000/").unwrap().range(),
            ..Default::default()
        },
        "",
        n as i64 + 1,
    )
    .await
    .unwrap();
    let sizes: Vec<i64> = all.iter().map(|c| c.doc.pdf_size).collect();
    let mean = sizes.iter().sum::<i64>() as f64 / sizes.len() as f64;
    let max = sizes.iter().max().copied().unwrap_or(0);
    println!(
        "issued {n} certificates end to end in {:.2} s: {rate:.0} certificates/s on 2 cores ({:.0}/s per core); PDF mean {:.1} KB, max {:.1} KB; log size {}",
        elapsed.as_secs_f64(),
        rate / 2.0,
        mean / 1024.0,
        max as f64 / 1024.0,
        svc.log_checkpoint(0).await.unwrap().tree_size
    );
    if full {
        match tica_pdf::reference::reportlab(300) {
            Ok(reference) => println!(
                "reportlab + qrcode, same certificate, same font, one core: {reference:.0} certificates/s; TICA per core (end to end, storage and log included) = {:.1}x",
                rate / 2.0 / reference
            ),
            Err(why) => println!("reportlab reference skipped: {why}"),
        }
    }

    // Verification over loopback.
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (grpc_addr, http_addr) = (
        grpc_listener.local_addr().unwrap(),
        http_listener.local_addr().unwrap(),
    );
    let mut server = tica_server::GrpcServer::new();
    // One load generator on loopback is every client here: measure the service behind the
    // public edge as deployed (its guards, headers and timeouts), not the per-client rate limit
    // or connection cap (on by default).
    let edge = tica_server::edge::Edge::new(tica_server::edge::EdgeConfig {
        rate_per_minute: 0,
        max_connections_per_client: 1024,
        ..Default::default()
    });
    server.edge(edge.clone());
    tica_certificate::startup::register(&mut server, svc.clone());
    let verifier = tica_auth::TokenVerifier::new(&Default::default());
    tokio::spawn(server.serve(grpc_listener, verifier, std::future::pending()));
    let router = tica_certificate::http::router(svc.clone(), &tica_server::edge::CorsOrigins::Any);
    tokio::spawn(async move {
        edge.serve_http(http_listener, router, std::future::pending())
            .await
    });
    let ids: Arc<Vec<String>> = Arc::new(
        all.iter()
            .map(|c| format!("certificates/{}", c.id))
            .collect(),
    );
    let calls = if full { 60_000 } else { 200 };
    // Warm up connections and caches.
    grpc_load(grpc_addr, ids.clone(), 400, 8).await;
    grpc_load(grpc_addr, ids.clone(), calls, 32)
        .await
        .report("gRPC Verify by id, 32 concurrent clients");
    http_load(http_addr, ids.clone(), 400, 8).await;
    http_load(http_addr, ids.clone(), calls, 32)
        .await
        .report("HTTP verification page, 32 keep-alive connections");
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
