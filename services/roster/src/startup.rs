//! Building and running the roster: database, logic, gRPC adapter.

use sqlx::migrate::Migrator;
use tica_proto::tica::roster::v1::roster_service_server::RosterServiceServer;
use tica_server::GrpcServer;
use tica_storage::{Database, DatabaseConfig, Migrations};

use crate::grpc::RosterGrpc;
use crate::service::Roster;

/// The fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "tica.roster.v1.RosterService";

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The roster's migrations, per backend.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Opens (and migrates) the roster's database.
pub async fn open(url: &str, schema: Option<String>) -> tica_storage::Result<Database> {
    let mut config = DatabaseConfig::new(url, "roster");
    config.schema = schema;
    Database::connect(&config, MIGRATIONS).await
}

/// Adds the roster to `server`.
pub fn register(server: &mut GrpcServer, db: Database) {
    let service = RosterServiceServer::new(RosterGrpc::new(Roster::new(db)))
        // Import chunks are at most 1 MiB; batch replies can be large.
        .max_decoding_message_size(4 << 20)
        .max_encoding_message_size(64 << 20);
    server.add_service(service, crate::policy::policy());
}
