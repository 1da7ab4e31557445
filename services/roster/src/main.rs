//! `tica-roster`: the roster service on its own (as deployed on Kubernetes).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::{GrpcServer, shutdown_signal};

/// Serves tica.roster.v1 over gRPC.
#[derive(Debug, Parser)]
#[command(name = "tica-roster", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TICA_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// `postgres://…` (production) or `sqlite://DIR`.
    #[arg(long, env = "TICA_DATABASE_URL", default_value = "sqlite://./data")]
    database_url: String,
    /// PostgreSQL schema (default `roster`).
    #[arg(long, env = "TICA_DATABASE_SCHEMA")]
    database_schema: Option<String>,
    /// A PEM public key, or a directory of `*.pub.pem` keys, trusted for bearer tokens.
    #[arg(long, env = "TICA_TOKEN_PUBLIC_KEYS")]
    token_public_keys: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tica_telemetry::init("tica-roster", tica_telemetry::LogFormat::from_env());
    let keys = load_verifying_keys(&args.token_public_keys).context("loading token public keys")?;
    let db = tica_roster::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the roster database")?;
    tracing::info!(database = db.location(), listen = %args.listen, "roster starting");
    let mut server = GrpcServer::new();
    tica_roster::startup::register(&mut server, db.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    server
        .serve(listener, TokenVerifier::new(&keys), shutdown_signal())
        .await?;
    db.close().await;
    tracing::info!("roster stopped");
    Ok(())
}
