//! `tica serve`: every service in one process, on the embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Args;
use tica_auth::{TokenVerifier, load_verifying_keys};
use tica_server::edge::{Edge, EdgeConfig};
use tica_server::{GrpcServer, shutdown_signal};
use tica_storage::Database;
use tokio::sync::watch;

use crate::token::dev_key;

/// Arguments of `tica serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// gRPC address.
    #[arg(long, env = "TICA_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc: SocketAddr,
    /// HTTP address, public: health, and the certificate verification and download pages.
    #[arg(long, env = "TICA_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Admin address, private: `GET /metrics` (Prometheus text) and `GET /healthz` (liveness).
    #[arg(long, env = "TICA_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
    pub admin: SocketAddr,
    /// Where data, SQLite files and development keys live.
    #[arg(long, env = "TICA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite files in the data directory.
    #[arg(long, env = "TICA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// More trusted token public keys: a PEM file or a directory of `*.pub.pem`.
    #[arg(long, env = "TICA_TOKEN_PUBLIC_KEYS")]
    pub token_public_keys: Option<PathBuf>,
    /// With PostgreSQL, a prefix for the services' schemas (`{prefix}_roster`, …) so several
    /// installations (or tests) share one database; default: the bare service names.
    #[arg(long, env = "TICA_DATABASE_SCHEMA_PREFIX")]
    pub database_schema_prefix: Option<String>,
    /// Where evidence files go: a directory, or `s3://bucket/prefix` (AWS_* variables);
    /// default: `evidence/` in the data directory.
    #[arg(long, env = "TICA_EVIDENCE_STORE")]
    pub evidence_store: Option<String>,
    /// The public base URL of the certificate verification page (what QR codes point at);
    /// default: `http://{HTTP address}`.
    #[arg(long, env = "TICA_VERIFY_BASE_URL")]
    pub verify_base_url: Option<String>,
    /// The certificate signing keys: a directory of `{kid}.pem` (and retired `{kid}.pub.pem`);
    /// default: `certificate-keys/` in the data directory, with a development key made on first
    /// start.
    #[arg(long, env = "TICA_CERT_KEYS")]
    pub cert_keys: Option<PathBuf>,
    /// The key id that signs, when the key directory holds several private keys.
    #[arg(long, env = "TICA_CERT_ACTIVE_KEY")]
    pub cert_active_key: Option<String>,
    /// The certificate pages' revocation list age and guess budget.
    #[command(flatten)]
    pub certificate_public: tica_certificate::startup::PublicSettings,
    /// The roster imports' size and error limits (`TICA_IMPORT_*`).
    #[command(flatten)]
    pub imports: tica_roster::startup::ImportSettings,
    /// The public edge: trusted proxies (`--trusted-proxies`), per-client rate limits, the
    /// HTTP front's timeouts and caps.
    #[command(flatten)]
    pub edge: EdgeConfig,
    /// TLS on the gRPC port and the public pages, mutual TLS on the gRPC port with a client CA
    /// (`TICA_TLS_CERT`, `TICA_TLS_KEY`, `TICA_TLS_CLIENT_CA`, `TICA_TLS_CA`), and
    /// `--allow-plaintext` (`TICA_ALLOW_PLAINTEXT`): without a certificate, a gRPC or HTTP
    /// address beyond loopback is refused unless the network encrypts by itself. Under TLS the
    /// services inside call each other through this process's own gRPC port over TLS too,
    /// verified against `--tls-ca` and presenting `--tls-cert`, so the certificate must name
    /// the address they dial (the gRPC address; 127.0.0.1 when it is unspecified).
    #[command(flatten)]
    pub tls: tica_server::tls::TlsArgs,
}

/// The suite running in the background.
#[derive(Debug)]
pub struct Suite {
    /// The gRPC address (port resolved).
    pub grpc_addr: SocketAddr,
    /// The public HTTP address (port resolved).
    pub http_addr: SocketAddr,
    /// The admin address, `/metrics` and `/healthz` (port resolved).
    pub admin_addr: SocketAddr,
    stop: watch::Sender<bool>,
    grpc_task: tokio::task::JoinHandle<anyhow::Result<()>>,
    http_task: tokio::task::JoinHandle<std::io::Result<()>>,
    admin_stop: tokio::sync::oneshot::Sender<()>,
    admin_task: tokio::task::JoinHandle<std::io::Result<()>>,
    roster_db: Database,
    assessment_db: Database,
    sampling_db: Database,
    certificate_db: Database,
    /// The verification page's base URL.
    pub verify_base_url: String,
    /// Whether the gRPC port and the public pages serve TLS.
    pub serves_tls: bool,
    /// Where evidence files are kept.
    evidence: String,
}

impl Suite {
    /// The certificate service's database (tests stage what a crashed replica leaves behind).
    pub fn certificate_db(&self) -> &Database {
        &self.certificate_db
    }

    /// Stops accepting, drains in-flight calls, closes the databases.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.grpc_task.await.context("gRPC server task")??;
        self.http_task
            .await
            .context("HTTP server task")?
            .context("HTTP server")?;
        // The admin port answers until the others have drained, as in the service binaries.
        let _ = self.admin_stop.send(());
        self.admin_task
            .await
            .context("admin server task")?
            .context("admin server")?;
        self.roster_db.close().await;
        self.assessment_db.close().await;
        self.sampling_db.close().await;
        self.certificate_db.close().await;
        Ok(())
    }
}

/// Opens the databases and starts every server; returns once they listen.
pub async fn start(args: &ServeArgs) -> anyhow::Result<Suite> {
    // TLS as the service binaries have it (tica_server::tls): files checked before anything
    // starts, plaintext only on loopback unless allowed.
    let tls = args.tls.load()?;
    tls.check_listen(args.grpc, "TICA_GRPC_ADDR")?;
    tls.check_listen(args.http, "TICA_HTTP_ADDR")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    // The suite's own token key: `tica token mint` signs with it, and so does the token
    // endpoint (`POST /oauth/token`) for the API clients offices register.
    let token_key = dev_key(&args.data_dir)?;
    let mut keys = load_verifying_keys(&args.data_dir.join("keys"))?;
    if let Some(extra) = &args.token_public_keys {
        keys.extend(
            load_verifying_keys(extra).with_context(|| format!("reading {}", extra.display()))?,
        );
    }
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.display()));
    let schema = |service: &str| {
        args.database_schema_prefix
            .as_ref()
            .map(|p| format!("{p}_{service}"))
    };
    let roster_db = tica_roster::startup::open(&url, schema("roster"))
        .await
        .context("opening the roster database")?;
    let assessment_db = tica_assessment::startup::open(&url, schema("assessment"))
        .await
        .context("opening the assessment database")?;
    let sampling_db = tica_sampling::startup::open(&url, schema("sampling"))
        .await
        .context("opening the sampling database")?;
    let certificate_db = tica_certificate::startup::open(&url, schema("certificate"))
        .await
        .context("opening the certificate database")?;
    let evidence = args
        .evidence_store
        .clone()
        .unwrap_or_else(|| args.data_dir.join("evidence").display().to_string());
    let objects = tica_assessment::objects::EvidenceStore::open(&evidence)
        .map_err(|e| anyhow::anyhow!("opening the evidence store {evidence}: {e}"))?;

    let grpc_listener = tokio::net::TcpListener::bind(args.grpc)
        .await
        .with_context(|| format!("binding gRPC on {}", args.grpc))?;
    let http_listener = tokio::net::TcpListener::bind(args.http)
        .await
        .with_context(|| format!("binding HTTP on {}", args.http))?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin)
        .await
        .with_context(|| {
            format!(
                "binding the admin server on {} (--admin, TICA_ADMIN_LISTEN)",
                args.admin
            )
        })?;
    let (grpc_addr, http_addr) = (grpc_listener.local_addr()?, http_listener.local_addr()?);
    let admin_addr = admin_listener.local_addr()?;

    // The services call each other over gRPC even in one process, exactly as when deployed
    // apart: the assessment service reaches the roster through this server's own address —
    // over TLS when it serves TLS, presenting this process's certificate (mutual TLS).
    let own = tls
        .channel(&own_url(&tls, grpc_addr))
        .context("the services' channel to this process's own gRPC port")?;
    let assessment =
        tica_assessment::startup::build(assessment_db.clone(), own.clone(), objects).await?;
    let sampling =
        tica_sampling::startup::build(sampling_db.clone(), own.clone(), own.clone(), own.clone());
    let verify_base_url = args
        .verify_base_url
        .clone()
        .unwrap_or_else(|| format!("{}://{http_addr}", scheme(&tls)));
    let key_dir = args
        .cert_keys
        .clone()
        .unwrap_or_else(|| args.data_dir.join("certificate-keys"));
    if args.cert_keys.is_none() {
        tica_certificate::keys::ensure_dev_key(&key_dir, "dev-1")?;
        if args.certificate_public.sm2 {
            tica_certificate::keys::ensure_dev_sm2_key(&key_dir, "dev-sm2-1")?;
        }
    }
    let secret =
        tica_certificate::startup::search_secret(&args.data_dir.join("certificate-search.secret"))?;
    let certificates = tica_certificate::startup::build(
        certificate_db.clone(),
        own.clone(),
        own,
        &key_dir,
        args.cert_active_key.as_deref(),
        tica_certificate::service::Config {
            // The suite's own token key: a run the process stopped resumes at the next start.
            resume_signer: Some(tica_auth::TokenSigner::new(&token_key)),
            ..args
                .certificate_public
                .apply(tica_certificate::service::Config::new(
                    &verify_base_url,
                    secret,
                    args.data_dir.join("archives"),
                ))
        },
    )
    .await
    .context("starting the certificate service")?;
    // One edge for both fronts: the same trusted proxies; separate budgets.
    let edge = Edge::new(args.edge.clone()).with_tls(tls.http_acceptor()?);
    let mut grpc = GrpcServer::new();
    grpc.edge(edge.clone()).tls(tls.grpc());
    tica_roster::startup::register_with(&mut grpc, roster_db.clone(), &args.imports);
    tica_assessment::startup::register(&mut grpc, assessment);
    tica_sampling::startup::register(&mut grpc, sampling);
    tica_certificate::startup::register(&mut grpc, certificates.clone());

    let (stop, stopped) = watch::channel(false);
    let http = axum::Router::new()
        .route("/healthz", get(healthz))
        .with_state(roster_db.clone())
        .merge(tica_certificate::http::router(
            certificates,
            &args.edge.cors_allowed_origins,
        ))
        .merge(tica_roster::http::router(
            tica_roster::service::Roster::new(roster_db.clone()),
            tica_auth::TokenSigner::new(&token_key),
        ));
    let mut http_stop = stopped.clone();
    let http_task = tokio::spawn(async move {
        edge.serve_http(http_listener, http, async move {
            let _ = http_stop.wait_for(|s| *s).await;
        })
        .await
    });
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = tokio::spawn(
        axum::serve(admin_listener, tica_server::process::admin_router())
            .with_graceful_shutdown(async {
                let _ = admin_stopped.await;
            })
            .into_future(),
    );
    let mut grpc_stop = stopped;
    let verifier = TokenVerifier::new(&keys);
    let grpc_task = tokio::spawn(async move {
        grpc.serve(grpc_listener, verifier, async move {
            let _ = grpc_stop.wait_for(|s| *s).await;
        })
        .await
        .context("gRPC server")
    });
    Ok(Suite {
        grpc_addr,
        http_addr,
        admin_addr,
        stop,
        grpc_task,
        http_task,
        admin_stop,
        admin_task,
        roster_db,
        assessment_db,
        sampling_db,
        certificate_db,
        verify_base_url,
        serves_tls: tls.serves_tls(),
        evidence,
    })
}

/// `https` when this process serves TLS, else `http`.
fn scheme(tls: &tica_server::tls::Tls) -> &'static str {
    match tls.serves_tls() {
        true => "https",
        false => "http",
    }
}

/// The URL the services inside dial to reach this process's gRPC port: its address, loopback
/// when bound to every interface.
fn own_url(tls: &tica_server::tls::Tls, grpc_addr: SocketAddr) -> String {
    let mut dial = grpc_addr;
    if dial.ip().is_unspecified() {
        dial.set_ip(match dial {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{}://{dial}", scheme(tls))
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let telemetry = tica_telemetry::init("tica", tica_telemetry::LogFormat::from_env());
    let suite = start(&args).await?;
    let key = dev_key(&args.data_dir)?;
    print_banner(&args, &suite, &key.kid);
    shutdown_signal().await;
    suite.shutdown().await?;
    telemetry.shutdown();
    eprintln!("TICA stopped.");
    Ok(())
}

fn print_banner(args: &ServeArgs, suite: &Suite, kid: &str) {
    let dir = args.data_dir.display();
    let (grpc, http, admin) = (suite.grpc_addr, suite.http_addr, suite.admin_addr);
    let (roster, assessment, sampling, certificate) = (
        suite.roster_db.location(),
        suite.assessment_db.location(),
        suite.sampling_db.location(),
        suite.certificate_db.location(),
    );
    let (scheme, grpcurl) = match suite.serves_tls {
        false => ("http", "-plaintext".to_owned()),
        true => {
            let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
            let mut flags = format!(
                "-cacert {}",
                path(&args.tls.tls_ca).unwrap_or_else(|| "CA.pem".into())
            );
            if args.tls.tls_client_ca.is_some() {
                flags.push_str(" -cert CLIENT.pem -key CLIENT.key");
            }
            ("https", flags)
        }
    };
    let tls = match (suite.serves_tls, args.tls.tls_client_ca.is_some()) {
        (false, _) => "none: plaintext (loopback, or --allow-plaintext)",
        (true, false) => "gRPC and HTTP serve TLS",
        (true, true) => {
            "gRPC and HTTP serve TLS; gRPC accepts only clients with a certificate of the client CA"
        }
    };
    let lines = [
        String::new(),
        "TICA is running.".to_owned(),
        format!("  gRPC    {grpc}  roster, assessment, sampling, certificate: serving"),
        format!("          reflection is on: `grpcurl {grpcurl} {grpc} list` shows every service"),
        format!("  HTTP    {scheme}://{http}  (/healthz; certificates: /c/{{id}}, /certificates, /.well-known/jwks.json; tokens for API clients: POST /oauth/token)"),
        format!("  TLS     {tls}"),
        format!("  admin   http://{admin}  (/metrics: Prometheus text; /healthz) — keep it private"),
        format!("  edge    {}", describe_edge(&args.edge)),
        format!("  verify  QR codes point at {}", suite.verify_base_url),
        format!("  data    {dir}  (roster: {roster}; assessment: {assessment}; sampling: {sampling}; certificate: {certificate}; evidence: {})", suite.evidence),
        format!("  tokens  signed with {dir}/keys/token-signing.pem (key id {kid}); mint one with"),
        "          export TICA_TOKEN=$(tica token mint --role province_office --jurisdiction 340000)".to_owned(),
        "  try     tica roster sample --out sample        # a sample province as CSV/XLSX files".to_owned(),
        "          tica roster jurisdictions load sample/jurisdictions.csv".to_owned(),
        "          tica roster import schools sample/schools.csv".to_owned(),
        "          tica roster import teachers sample/teachers.xlsx".to_owned(),
        "          tica roster teachers list --parent jurisdictions/341324".to_owned(),
        "          (`tica` is target/release/tica, or `cargo run --release -q -p tica --`)".to_owned(),
        "Stop with Ctrl-C.".to_owned(),
    ];
    eprintln!("{}", lines.join("\n"));
}

/// The public edge's settings in a line of the banner.
fn describe_edge(edge: &EdgeConfig) -> String {
    let limit = match edge.rate_per_minute {
        0 => "no rate limit".to_owned(),
        rate => format!(
            "{rate} requests a minute per client (burst {}) on HTTP and on public gRPC methods",
            edge.burst
        ),
    };
    let proxies = match edge.trusted_proxies.is_empty() {
        true => "none (X-Forwarded-For ignored)".to_owned(),
        false => edge.trusted_proxies.to_string(),
    };
    format!("{limit}; trusted proxies: {proxies}")
}

async fn healthz(State(db): State<Database>) -> (StatusCode, &'static str) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}
