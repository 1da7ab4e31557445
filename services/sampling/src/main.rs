//! `tica-sampling`: the sampling service on its own (as deployed on Kubernetes).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::{GrpcServer, shutdown_signal};

/// Serves tica.sampling.v1 over gRPC.
#[derive(Debug, Parser)]
#[command(name = "tica-sampling", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TICA_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// `postgres://…` (production) or `sqlite://DIR`.
    #[arg(long, env = "TICA_DATABASE_URL", default_value = "sqlite://./data")]
    database_url: String,
    /// PostgreSQL schema (default `sampling`).
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tica_telemetry::init("tica-sampling", tica_telemetry::LogFormat::from_env());
    let keys = load_verifying_keys(&args.token_public_keys).context("loading token public keys")?;
    let db = tica_sampling::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the sampling database")?;
    let svc = tica_sampling::startup::build(
        db.clone(),
        tica_sampling::startup::channel(&args.assessment_url)?,
        tica_sampling::startup::channel(&args.roster_url)?,
    );
    tracing::info!(database = db.location(), listen = %args.listen, "sampling starting");
    let mut server = GrpcServer::new();
    tica_sampling::startup::register(&mut server, svc);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    server
        .serve(listener, TokenVerifier::new(&keys), shutdown_signal())
        .await?;
    db.close().await;
    Ok(())
}
