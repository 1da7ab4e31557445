//! `tica-assessment`: the assessment service on its own (as deployed on Kubernetes).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::{GrpcServer, shutdown_signal};

/// Serves tica.assessment.v1 over gRPC.
#[derive(Debug, Parser)]
#[command(name = "tica-assessment", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TICA_LISTEN", default_value = "0.0.0.0:50051")]
    listen: SocketAddr,
    /// `postgres://…` (production) or `sqlite://DIR`.
    #[arg(long, env = "TICA_DATABASE_URL", default_value = "sqlite://./data")]
    database_url: String,
    /// PostgreSQL schema (default `assessment`).
    #[arg(long, env = "TICA_DATABASE_SCHEMA")]
    database_schema: Option<String>,
    /// The roster service's gRPC endpoint.
    #[arg(long, env = "TICA_ROSTER_URL", default_value = "http://roster:50051")]
    roster_url: String,
    /// Where evidence files go: a directory, or `s3://bucket/prefix` (AWS_* variables).
    #[arg(long, env = "TICA_EVIDENCE_STORE", default_value = "./data/evidence")]
    evidence_store: String,
    /// A PEM public key, or a directory of `*.pub.pem` keys, trusted for bearer tokens.
    #[arg(long, env = "TICA_TOKEN_PUBLIC_KEYS")]
    token_public_keys: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tica_telemetry::init("tica-assessment", tica_telemetry::LogFormat::from_env());
    let keys = load_verifying_keys(&args.token_public_keys).context("loading token public keys")?;
    let db = tica_assessment::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the assessment database")?;
    let objects = tica_assessment::objects::EvidenceStore::open(&args.evidence_store)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let roster = tica_assessment::startup::roster_channel(&args.roster_url)?;
    let svc = tica_assessment::startup::build(db.clone(), roster, objects).await?;
    tracing::info!(database = db.location(), listen = %args.listen, "assessment starting");
    let mut server = GrpcServer::new();
    tica_assessment::startup::register(&mut server, svc);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    server
        .serve(listener, TokenVerifier::new(&keys), shutdown_signal())
        .await?;
    db.close().await;
    Ok(())
}
