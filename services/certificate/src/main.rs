//! `tica-certificate`: the certificate service on its own (as deployed on Kubernetes): gRPC on
//! one port, the public verification and download pages on another.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_certificate::service::Config;
use tica_server::{GrpcServer, shutdown_signal};

/// Serves tica.certificate.v1 over gRPC and the verification pages over HTTP.
#[derive(Debug, Parser)]
#[command(name = "tica-certificate", version)]
struct Args {
    /// gRPC address.
    #[arg(long, env = "TICA_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// HTTP address of the verification and download pages.
    #[arg(long, env = "TICA_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    http_listen: SocketAddr,
    /// `postgres://…` (production) or `sqlite://DIR`.
    #[arg(long, env = "TICA_DATABASE_URL", default_value = "sqlite://./data")]
    database_url: String,
    /// PostgreSQL schema (default `certificate`).
    #[arg(long, env = "TICA_DATABASE_SCHEMA")]
    database_schema: Option<String>,
    /// The assessment service's gRPC endpoint.
    #[arg(
        long,
        env = "TICA_ASSESSMENT_URL",
        default_value = "http://assessment:50051"
    )]
    assessment_url: String,
    /// The roster service's gRPC endpoint.
    #[arg(long, env = "TICA_ROSTER_URL", default_value = "http://roster:50051")]
    roster_url: String,
    /// A PEM public key, or a directory of `*.pub.pem` keys, trusted for bearer tokens.
    #[arg(long, env = "TICA_TOKEN_PUBLIC_KEYS")]
    token_public_keys: PathBuf,
    /// The signing keys: a directory of `{kid}.pem` private keys (and `{kid}.pub.pem` of
    /// retired keys), e.g. a mounted Kubernetes secret.
    #[arg(long, env = "TICA_CERT_KEYS")]
    cert_keys: PathBuf,
    /// The key id that signs, when the directory holds several private keys.
    #[arg(long, env = "TICA_CERT_ACTIVE_KEY")]
    cert_active_key: Option<String>,
    /// The public base URL of the verification page (each province has its own domain).
    #[arg(long, env = "TICA_VERIFY_BASE_URL")]
    verify_base_url: String,
    /// A file holding the secret the teachers' search keys are hashed with (created if absent;
    /// every replica must share it).
    #[arg(long, env = "TICA_CERT_SEARCH_SECRET_FILE")]
    search_secret_file: PathBuf,
    /// Where archive ZIPs are written.
    #[arg(
        long,
        env = "TICA_CERT_ARCHIVE_DIR",
        default_value = "/tmp/tica-archives"
    )]
    archive_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tica_telemetry::init("tica-certificate", tica_telemetry::LogFormat::from_env());
    let keys = load_verifying_keys(&args.token_public_keys).context("loading token public keys")?;
    let db = tica_certificate::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the certificate database")?;
    let secret = tica_certificate::startup::search_secret(&args.search_secret_file)?;
    let svc = tica_certificate::startup::build(
        db.clone(),
        tica_certificate::startup::channel(&args.assessment_url)?,
        tica_certificate::startup::channel(&args.roster_url)?,
        &args.cert_keys,
        args.cert_active_key.as_deref(),
        Config::new(&args.verify_base_url, secret, args.archive_dir.clone()),
    )
    .await
    .context("starting the certificate service")?;
    tracing::info!(database = db.location(), listen = %args.listen, http = %args.http_listen, "certificate starting");
    let http = tica_certificate::http::router(svc.clone());
    let mut server = GrpcServer::new();
    tica_certificate::startup::register(&mut server, svc);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let http_listener = tokio::net::TcpListener::bind(args.http_listen)
        .await
        .with_context(|| format!("binding {}", args.http_listen))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut http_stop = stopped.clone();
    let http_task = tokio::spawn(async move {
        axum::serve(
            http_listener,
            http.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|s| *s).await;
        })
        .await
    });
    let mut grpc_stop = stopped;
    let grpc = server.serve(listener, TokenVerifier::new(&keys), async move {
        let _ = grpc_stop.wait_for(|s| *s).await;
    });
    let signal = tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    grpc.await?;
    http_task.await??;
    signal.abort();
    db.close().await;
    Ok(())
}
