//! `tica-sampling`: the sampling service on its own (as deployed on Kubernetes), configured by
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
    /// The certificate service's gRPC endpoint (its transparency log takes the rounds' draw
    /// commitments).
    #[arg(
        long,
        env = "TICA_CERTIFICATE_URL",
        default_value = "http://certificate:50051"
    )]
    certificate_url: String,
    /// A PEM public key, or a directory of `*.pub.pem` keys, trusted for bearer tokens.
    #[arg(long, env = "TICA_TOKEN_PUBLIC_KEYS")]
    token_public_keys: PathBuf,
    #[command(flatten)]
    process: ProcessArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    process::main::<Args, _>("tica-sampling", run).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let db = tica_sampling::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the sampling database (TICA_DATABASE_URL)")?;
    process::with_database("sampling", db, &args.process, async |db| {
        serve(&args, db).await
    })
    .await
}

async fn serve(args: &Args, db: &Database) -> anyhow::Result<()> {
    let keys = load_verifying_keys(&args.token_public_keys)
        .context("loading token public keys (TICA_TOKEN_PUBLIC_KEYS)")?;
    let tls = args.process.tls.load()?;
    let svc = tica_sampling::startup::build(
        db.clone(),
        tls.channel(&args.assessment_url)
            .context("the assessment URL (TICA_ASSESSMENT_URL)")?,
        tls.channel(&args.roster_url)
            .context("the roster URL (TICA_ROSTER_URL)")?,
        tls.channel(&args.certificate_url)
            .context("the certificate URL (TICA_CERTIFICATE_URL)")?,
    );
    let mut server = GrpcServer::new();
    tica_sampling::startup::register(&mut server, svc);
    tracing::info!(database = db.location(), "sampling starting");
    Servers::new("sampling", server, args.listen, TokenVerifier::new(&keys))
        .run(&args.process)
        .await?;
    Ok(())
}
