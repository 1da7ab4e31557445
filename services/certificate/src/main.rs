//! `tica-certificate`: the certificate service on its own (as deployed on Kubernetes),
//! configured by environment variables alone: gRPC on one port, the public verification and
//! download pages on another.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tica_auth::{TokenVerifier, load_verifying_keys, read_trusted_signing_key};
use tica_certificate::service::Config;
use tica_server::GrpcServer;
use tica_server::process::{self, ProcessArgs, Servers};
use tica_storage::Database;

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
    /// The suite's token signing key (Ed25519 PKCS#8 PEM, the roster's TICA_TOKEN_SIGNING_KEY),
    /// optional: with it an issuance run whose process stopped resumes on another replica, as
    /// the run's county office (subject `services/certificate`); without it such a run ends
    /// FAILED and a new run resumes after it. Its public half must be among
    /// TICA_TOKEN_PUBLIC_KEYS.
    #[arg(long, env = "TICA_TOKEN_SIGNING_KEY")]
    token_signing_key: Option<PathBuf>,
    #[command(flatten)]
    public: tica_certificate::startup::PublicSettings,
    #[command(flatten)]
    process: ProcessArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    process::main::<Args, _>("tica-certificate", run).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let db = tica_certificate::startup::open(&args.database_url, args.database_schema.clone())
        .await
        .context("opening the certificate database (TICA_DATABASE_URL)")?;
    process::with_database("certificate", db, &args.process, async |db| {
        serve(&args, db).await
    })
    .await
}

async fn serve(args: &Args, db: &Database) -> anyhow::Result<()> {
    let keys = load_verifying_keys(&args.token_public_keys)
        .context("loading token public keys (TICA_TOKEN_PUBLIC_KEYS)")?;
    let secret = tica_certificate::startup::search_secret(&args.search_secret_file)
        .context("the search secret (TICA_CERT_SEARCH_SECRET_FILE)")?;
    let resume_signer = match &args.token_signing_key {
        Some(path) => Some(tica_auth::TokenSigner::new(
            &read_trusted_signing_key(path, &keys).context("TICA_TOKEN_SIGNING_KEY")?,
        )),
        None => None,
    };
    let tls = args.process.tls.load()?;
    let svc = tica_certificate::startup::build(
        db.clone(),
        tls.channel(&args.assessment_url)
            .context("the assessment URL (TICA_ASSESSMENT_URL)")?,
        tls.channel(&args.roster_url)
            .context("the roster URL (TICA_ROSTER_URL)")?,
        &args.cert_keys,
        args.cert_active_key.as_deref(),
        Config {
            resume_signer,
            ..args.public.apply(Config::new(
                &args.verify_base_url,
                secret,
                args.archive_dir.clone(),
            ))
        },
    )
    .await
    .context("starting the certificate service")?;
    let pages =
        tica_certificate::http::router(svc.clone(), &args.process.edge.cors_allowed_origins);
    let mut server = GrpcServer::new();
    tica_certificate::startup::register(&mut server, svc);
    tracing::info!(database = db.location(), "certificate starting");
    Servers::new(
        "certificate",
        server,
        args.listen,
        TokenVerifier::new(&keys),
    )
    .with_public_http(pages, args.http_listen, "TICA_HTTP_LISTEN")
    .run(&args.process)
    .await?;
    Ok(())
}
