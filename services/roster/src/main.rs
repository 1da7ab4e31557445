//! `tica-roster`: the roster service on its own (as deployed on Kubernetes), configured by
//! environment variables alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenSigner, TokenVerifier, load_verifying_keys, read_trusted_signing_key};
use tica_server::GrpcServer;
use tica_server::process::{self, ProcessArgs, Servers};
use tica_storage::Database;

/// Serves tica.roster.v1 over gRPC, and the OAuth token endpoint over HTTP when it has a key.
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
    /// The Ed25519 private key (PKCS#8 PEM) the token endpoint signs its tokens with
    /// (`POST /oauth/token`, the client-credentials grant for registered API clients). Its
    /// public half must be among TICA_TOKEN_PUBLIC_KEYS. Without it there is no token endpoint.
    #[arg(long, env = "TICA_TOKEN_SIGNING_KEY")]
    token_signing_key: Option<PathBuf>,
    /// HTTP address of the token endpoint (served only with TICA_TOKEN_SIGNING_KEY).
    #[arg(long, env = "TICA_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    http_listen: SocketAddr,
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
    let mut servers = Servers::new("roster", server, args.listen, TokenVerifier::new(&keys));
    if let Some(path) = &args.token_signing_key {
        let pair = read_trusted_signing_key(path, &keys).context("TICA_TOKEN_SIGNING_KEY")?;
        let roster = tica_roster::service::Roster::new(db.clone());
        let endpoint = tica_roster::http::router(roster, TokenSigner::new(&pair));
        servers = servers.with_public_http(endpoint, args.http_listen, "TICA_HTTP_LISTEN");
    }
    servers.run(&args.process).await?;
    Ok(())
}
