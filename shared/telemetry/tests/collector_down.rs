//! Tracing never holds up the service: with the collector refusing connections, or accepting
//! them and never answering, spans are still cheap to make and shutdown still ends on time.
//! (One global subscriber per process: this file holds one test.)

use std::time::{Duration, Instant};

use tica_telemetry::{FLUSH_LIMIT, LogFormat};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_absent_collector_blocks_neither_spans_nor_shutdown() {
    // A collector that accepts connections and never says a word (the worst case: nothing
    // fails fast, every export waits for its timeout).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let telemetry = tica_telemetry::init_otlp_to("collector-down", LogFormat::Pretty, &endpoint);
    assert!(telemetry.exporting());

    // Far more spans than the batch queue holds: the excess is dropped, never waited for.
    let started = Instant::now();
    for i in 0..20_000 {
        let span = tracing::info_span!("work", i);
        let _entered = span.enter();
        tracing::info!("inside");
    }
    let spans = started.elapsed();

    let stopping = Instant::now();
    telemetry.flush();
    telemetry.shutdown();
    let shutdown = stopping.elapsed();
    held.abort();

    // Generous bounds: the point is "does not wait on the network", not speed.
    assert!(
        spans < Duration::from_secs(10),
        "20,000 spans took {spans:?}"
    );
    assert!(
        shutdown < 2 * FLUSH_LIMIT + Duration::from_secs(2),
        "flush and shutdown took {shutdown:?} with a silent collector"
    );
}
