//! Building and running the sampling service.

use sqlx::migrate::Migrator;
use tica_proto::tica::sampling::v1::sampling_service_server::SamplingServiceServer;
use tica_server::GrpcServer;
use tica_storage::{Database, DatabaseConfig, Migrations};
use tonic::transport::Channel;

use crate::grpc::SamplingGrpc;
use crate::service::Sampling;
use crate::upstream::Upstream;

pub use crate::service::SERVICE_NAME;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The sampling service's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Opens (and migrates) the sampling database.
pub async fn open(url: &str, schema: Option<String>) -> tica_storage::Result<Database> {
    let mut config = DatabaseConfig::new(url, "sampling");
    config.schema = schema;
    Database::connect(&config, MIGRATIONS).await
}

/// A channel to a service at `url`, connected on first use (so start-up order does not matter).
/// Plaintext: the process's own TLS goes through `tica_server::tls::Tls::channel`.
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(tica_server::tls::Tls::default().channel(url)?)
}

/// The logic over `db`, reaching the assessment service, the roster and the certificate
/// service (its transparency log) on their channels.
pub fn build(db: Database, assessment: Channel, roster: Channel, certificate: Channel) -> Sampling {
    Sampling::new(db, Upstream::new(assessment, roster, certificate))
}

/// Adds the service to `server`.
pub fn register(server: &mut GrpcServer, svc: Sampling) {
    let service = tica_server::transport_settings!(
        SamplingServiceServer::new(SamplingGrpc::new(svc)),
        max_decoding = 4 << 20
    );
    server.add_service(service, crate::policy::policy());
}
