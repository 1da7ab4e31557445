//! Building and running the certificate service.

use std::path::Path;

use anyhow::Context as _;

use sqlx::migrate::Migrator;
use tica_proto::tica::certificate::v1::certificate_service_server::CertificateServiceServer;
use tica_server::GrpcServer;
use tica_storage::{Database, DatabaseConfig, Migrations};
use tonic::transport::Channel;

use crate::grpc::CertificateGrpc;
use crate::service::{Certificates, Config};
use crate::upstream::Upstream;

pub use crate::service::SERVICE_NAME;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The certificate service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Opens (and migrates) the certificate database.
pub async fn open(url: &str, schema: Option<String>) -> tica_storage::Result<Database> {
    let mut config = DatabaseConfig::new(url, "certificate");
    config.schema = schema;
    Database::connect(&config, MIGRATIONS).await
}

/// A channel to a service at `url`, connected on first use.
/// Plaintext: the process's own TLS goes through `tica_server::tls::Tls::channel`.
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(tica_server::tls::Tls::default().channel(url)?)
}

/// Reads the search secret from `path`, creating a random one there when absent (one per
/// installation: every replica must read the same file), readable by its owner only.
pub fn search_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let read = |secret: Vec<u8>| {
        anyhow::ensure!(
            secret.len() >= 16,
            "{}: the search secret must hold at least 16 bytes",
            path.display()
        );
        Ok(secret)
    };
    if let Ok(secret) = std::fs::read(path) {
        return read(secret);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let text = hex::encode(secret);
    // Owner-only from its first byte; a replica that created it first wins, and we read theirs.
    let created = tica_auth::secret_file::create_secret(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    if !created {
        return read(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(text.into_bytes())
}

/// What an installation may tune of the certificate service's public edge (flattened into
/// `tica-certificate`'s and `tica serve`'s arguments).
#[derive(Clone, Debug, clap::Args)]
pub struct PublicSettings {
    /// Seconds an offline verifier may rely on a signed revocation list (its `exp`).
    #[arg(long, env = "TICA_CERT_REVOCATION_MAX_AGE", default_value_t = 86_400)]
    pub revocation_max_age: u64,
    /// Failed guesses an hour, across everyone, at the teachers' search and the number lookup
    /// before every guess waits (5 minutes, doubling while it goes on).
    #[arg(long, env = "TICA_CERT_GUESS_BUDGET", default_value_t = 1_000)]
    pub guess_budget: i64,
    /// A directory of issuing offices' seals, `{division code}.png` (e.g. `341324.png`, the
    /// office's own scanned seal on a transparent ground): each certificate an office issues
    /// carries its seal over the issuer and the date. An unreadable or oversized image stops
    /// the start. Without it, certificates carry no seal.
    #[arg(long, env = "TICA_CERT_SEALS_DIR")]
    pub seals_dir: Option<std::path::PathBuf>,
    /// Sign certificates and log checkpoints with SM2 (over SM3) beside Ed25519, China's
    /// national cryptography (GB/T 39786-2021): the key directory must then hold an SM2 private
    /// key, or the service does not start (`tica serve` makes a development one). An SM2 key in
    /// the directory signs even without this setting.
    #[arg(long, env = "TICA_CERT_SM2", default_value_t = false)]
    pub sm2: bool,
    /// The SM2 key id that signs, when the key directory holds several SM2 private keys.
    #[arg(long, env = "TICA_CERT_ACTIVE_SM2_KEY")]
    pub active_sm2_key: Option<String>,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            revocation_max_age: 86_400,
            guess_budget: 1_000,
            seals_dir: None,
            sm2: false,
            active_sm2_key: None,
        }
    }
}

impl PublicSettings {
    /// `config` with these settings.
    pub fn apply(&self, mut config: Config) -> Config {
        config.revocation_max_age = std::time::Duration::from_secs(self.revocation_max_age.max(60));
        config.guesses.budget = self.guess_budget.max(1);
        config.seals_dir = self.seals_dir.clone();
        config.require_sm2 = self.sm2;
        config.active_sm2_key = self.active_sm2_key.clone();
        config
    }
}

/// The seals in `dir`, by the issuing jurisdiction's division code: every `{code}.png`, read
/// and checked now, so that a bad file stops the start instead of a run. Other files are
/// ignored.
pub fn load_seals(dir: &Path) -> anyhow::Result<crate::service::Seals> {
    let mut seals = std::collections::HashMap::new();
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "the seals directory {} (TICA_CERT_SEALS_DIR)",
            dir.display()
        )
    })?;
    for entry in entries {
        let path = entry?.path();
        let Some(code) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".png"))
            .filter(|c| tica_domain::division::DivisionCode::parse(c).is_ok())
        else {
            continue;
        };
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        let seal = tica_pdf::Seal::from_png(&bytes)
            .with_context(|| format!("the seal {}", path.display()))?;
        seals.insert(code.to_owned(), std::sync::Arc::new(seal));
    }
    Ok(std::sync::Arc::new(seals))
}

/// The logic over `db` with keys from `key_dir` (`active` naming the signing key when there
/// are several).
pub async fn build(
    db: Database,
    assessment: Channel,
    roster: Channel,
    key_dir: &Path,
    active: Option<&str>,
    config: Config,
) -> anyhow::Result<Certificates> {
    let keys = crate::keys::read_key_dir_with(key_dir, active, config.active_sm2_key.as_deref())?;
    if config.require_sm2 && keys.sm2.is_none() {
        anyhow::bail!(
            "TICA_CERT_SM2 is set but {} holds no SM2 private key: add one (openssl genpkey -algorithm SM2 -out {{kid}}.pem)",
            key_dir.display()
        );
    }
    let config = match config.seals_dir.clone() {
        Some(dir) => Config {
            seals: load_seals(&dir)?,
            ..config
        },
        None => config,
    };
    Certificates::new(db, Upstream::new(assessment, roster), keys, config).await
}

/// Adds the service to `server`.
pub fn register(server: &mut GrpcServer, svc: Certificates) {
    let service = tica_server::transport_settings!(
        CertificateServiceServer::new(CertificateGrpc::new(svc)),
        max_decoding = 2 << 20
    );
    server.add_service(service, crate::policy::policy());
}
