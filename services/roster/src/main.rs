//! `tica-roster`: the roster service on its own (as deployed on Kubernetes), configured by
//! environment variables alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::GrpcServer;
use tica_server::process::{self, ProcessArgs, Servers};
use tica_storage::Database;

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
    #[command(flatten)]
    imports: tica_roster::startup::ImportSettings,
    #[command(flatten)]
    process: ProcessArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    process::main::<Args, _>("tica-roster", run).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let db = tica_roster::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the roster database (TICA_DATABASE_URL)")?;
    process::with_database("roster", db, &args.process, async |db| {
        serve(&args, db).await
    })
    .await
}

async fn serve(args: &Args, db: &Database) -> anyhow::Result<()> {
    let keys = load_verifying_keys(&args.token_public_keys)
        .context("loading token public keys (TICA_TOKEN_PUBLIC_KEYS)")?;
    let mut server = GrpcServer::new();
    tica_roster::startup::register_with(&mut server, db.clone(), &args.imports);
    tracing::info!(database = db.location(), "roster starting");
    Servers::new("roster", server, args.listen, TokenVerifier::new(&keys))
        .run(&args.process)
        .await?;
    Ok(())
}
