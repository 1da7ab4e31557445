//! `tica-assessment`: the assessment service on its own (as deployed on Kubernetes), configured
//! by environment variables alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::GrpcServer;
use tica_server::process::{self, ProcessArgs, Servers};
use tica_storage::Database;

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
    #[command(flatten)]
    process: ProcessArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    process::main::<Args, _>("tica-assessment", run).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let db = tica_assessment::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the assessment database (TICA_DATABASE_URL)")?;
    process::with_database("assessment", db, &args.process, async |db| {
        serve(&args, db).await
    })
    .await
}

async fn serve(args: &Args, db: &Database) -> anyhow::Result<()> {
    let keys = load_verifying_keys(&args.token_public_keys)
        .context("loading token public keys (TICA_TOKEN_PUBLIC_KEYS)")?;
    let objects = tica_assessment::objects::EvidenceStore::open(&args.evidence_store)
        .map_err(|e| anyhow::anyhow!("opening the evidence store (TICA_EVIDENCE_STORE): {e}"))?;
    let tls = args.process.tls.load()?;
    let roster = tls
        .channel(&args.roster_url)
        .context("the roster URL (TICA_ROSTER_URL)")?;
    let svc = tica_assessment::startup::build(db.clone(), roster, objects).await?;
    let mut server = GrpcServer::new();
    tica_assessment::startup::register(&mut server, svc);
    tracing::info!(database = db.location(), "assessment starting");
    Servers::new("assessment", server, args.listen, TokenVerifier::new(&keys))
        .run(&args.process)
        .await?;
    Ok(())
}
