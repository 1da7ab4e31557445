//! Building and running the roster: database, logic, gRPC adapter.

use sqlx::migrate::Migrator;
use tica_proto::tica::roster::v1::roster_service_server::RosterServiceServer;
use tica_server::GrpcServer;
use tica_storage::{Database, DatabaseConfig, Migrations};

use crate::files::Limits;
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

/// What an installation may tune of the roster's imports (flattened into `tica-roster`'s and
/// `tica serve`'s arguments): the bounds that keep any file, however made, from growing the
/// service past its memory limit.
#[derive(Clone, Debug, clap::Args)]
pub struct ImportSettings {
    /// The largest import file, in bytes; a larger upload is refused as it arrives.
    #[arg(long = "import-max-bytes", env = "TICA_IMPORT_MAX_BYTES", default_value_t = Limits::default().max_file_bytes)]
    pub max_file_bytes: usize,
    /// The most an XLSX may decompress to, all parts together, in bytes.
    #[arg(long = "import-max-inflated-bytes", env = "TICA_IMPORT_MAX_INFLATED_BYTES", default_value_t = Limits::default().max_inflated_bytes)]
    pub max_inflated_bytes: u64,
    /// The most an XLSX's shared strings may decompress to, in bytes.
    #[arg(long = "import-max-shared-strings-bytes", env = "TICA_IMPORT_MAX_SHARED_STRINGS_BYTES", default_value_t = Limits::default().max_shared_strings_bytes)]
    pub max_shared_strings_bytes: u64,
    /// The most parts (files inside the ZIP) an XLSX may have.
    #[arg(long = "import-max-parts", env = "TICA_IMPORT_MAX_PARTS", default_value_t = Limits::default().max_parts)]
    pub max_parts: usize,
    /// Row errors an import lists; the rest are counted in one last entry.
    #[arg(long = "import-max-row-errors", env = "TICA_IMPORT_MAX_ROW_ERRORS", default_value_t = Limits::default().max_row_errors)]
    pub max_row_errors: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings::from(Limits::default())
    }
}

impl From<Limits> for ImportSettings {
    fn from(l: Limits) -> Self {
        ImportSettings {
            max_file_bytes: l.max_file_bytes,
            max_inflated_bytes: l.max_inflated_bytes,
            max_shared_strings_bytes: l.max_shared_strings_bytes,
            max_parts: l.max_parts,
            max_row_errors: l.max_row_errors,
        }
    }
}

impl ImportSettings {
    /// The limits these settings give.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_bytes,
            max_inflated_bytes: self.max_inflated_bytes,
            max_shared_strings_bytes: self.max_shared_strings_bytes,
            max_parts: self.max_parts,
            max_row_errors: self.max_row_errors,
        }
    }
}

/// Adds the roster to `server`, with the default import limits.
pub fn register(server: &mut GrpcServer, db: Database) {
    register_with(server, db, &ImportSettings::default());
}

/// Adds the roster to `server`, reading import files within `settings`.
pub fn register_with(server: &mut GrpcServer, db: Database, settings: &ImportSettings) {
    let roster = Roster::with_limits(db, settings.limits());
    // Import chunks are at most 1 MiB; batch replies can be large.
    let service = tica_server::transport_settings!(
        RosterServiceServer::new(RosterGrpc::new(roster)),
        max_decoding = 4 << 20
    );
    server.add_service(service, crate::policy::policy());
}
