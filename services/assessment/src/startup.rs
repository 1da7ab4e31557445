//! Building and running the assessment service.

use sqlx::migrate::Migrator;
use tica_proto::tica::assessment::v1::assessment_service_server::AssessmentServiceServer;
use tica_server::GrpcServer;
use tica_storage::{Database, DatabaseConfig, Migrations};
use tonic::transport::Channel;

use crate::grpc::AssessmentGrpc;
use crate::objects::EvidenceStore;
use crate::roster::Roster;
use crate::service::Assessment;

pub use crate::service::SERVICE_NAME;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The assessment service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Opens (and migrates) the assessment database.
pub async fn open(url: &str, schema: Option<String>) -> tica_storage::Result<Database> {
    let mut config = DatabaseConfig::new(url, "assessment");
    config.schema = schema;
    Database::connect(&config, MIGRATIONS).await
}

/// A channel to the roster at `url`, connected on first use (so start-up order does not matter).
/// Plaintext: the process's own TLS goes through `tica_server::tls::Tls::channel`.
pub fn roster_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(tica_server::tls::Tls::default().channel(url)?)
}

/// The logic, with the policy presets attached where none is yet.
pub async fn build(
    db: Database,
    roster: Channel,
    objects: EvidenceStore,
) -> anyhow::Result<Assessment> {
    let svc = Assessment::new(db, Roster::new(roster), objects);
    svc.ensure_presets()
        .await
        .map_err(|e| anyhow::anyhow!("attaching the policy presets: {e}"))?;
    Ok(svc)
}

/// Adds the service to `server`.
pub fn register(server: &mut GrpcServer, svc: Assessment) {
    let service = tica_server::transport_settings!(
        AssessmentServiceServer::new(AssessmentGrpc::new(svc)),
        max_decoding = 4 << 20
    );
    server.add_service(service, crate::policy::policy());
}
