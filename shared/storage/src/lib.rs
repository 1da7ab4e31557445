//! Storage for TICA services: one [`Database`] handle over either SQLite (the embedded default)
//! or PostgreSQL (production), chosen by the URL's scheme.
//!
//! Why typed pools and not `sqlx::Any`: the roster's bulk import streams rows with PostgreSQL's
//! `COPY`, which only a `PgConnection` offers, and `Any` cannot carry every column type. Each
//! query is written once (portable SQL: `$n` placeholders, `RETURNING`, `ON CONFLICT`, text and
//! integer columns, times as microseconds since the Unix epoch) and compiled against both drivers
//! by [`with_db!`](crate::with_db). Migrations live in one folder per backend per service.
//!
//! Each service owns its tables: its own schema in PostgreSQL (named after the service unless
//! overridden) and its own file in SQLite (`{dir}/{service}.db`). No service reads another's.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
pub use sqlx::{self, PgPool, SqlitePool};

pub mod audit;

/// The result type of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What can go wrong opening a database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL scheme (expected sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    /// The schema name is not a plain identifier.
    #[error("invalid schema name {0:?}: use lowercase letters, digits and underscores")]
    InvalidSchema(String),
    /// A directory for the SQLite file could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        /// "sqlite" or "postgres".
        backend: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// Running migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Which database engine a [`Database`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file per service.
    Sqlite,
    /// PostgreSQL, one schema per service.
    Postgres,
}

impl Backend {
    /// "sqlite" or "postgres".
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The pool behind a [`Database`].
#[derive(Clone, Debug)]
pub enum Pool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL, with `search_path` set to the service's schema on every connection.
    Postgres(PgPool),
}

/// A service's migrations, one set per backend (embed them with `sqlx::migrate!`).
#[derive(Clone, Copy, Debug)]
pub struct Migrations {
    /// Migrations for SQLite.
    pub sqlite: &'static Migrator,
    /// Migrations for PostgreSQL.
    pub postgres: &'static Migrator,
}

/// How to open a service's database.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `sqlite://DIR` (a directory holding `{service}.db`), `sqlite://FILE.db`, `sqlite::memory:`
    /// (tests), or `postgres://user@host:port/db`.
    pub url: String,
    /// The owning service, e.g. "roster": the SQLite file's stem and the default schema.
    pub service: String,
    /// The PostgreSQL schema, when it should differ from the service name (tests).
    pub schema: Option<String>,
    /// Pool size.
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// A configuration with the default pool size.
    pub fn new(url: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            service: service.into(),
            schema: None,
            max_connections: 8,
        }
    }
}

/// A connected, migrated database owned by one service.
#[derive(Clone, Debug)]
pub struct Database {
    pool: Pool,
    location: String,
}

impl Database {
    /// Connects (creating the SQLite file or PostgreSQL schema if needed) and runs migrations.
    pub async fn connect(config: &DatabaseConfig, migrations: Migrations) -> Result<Database> {
        let url = config.url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let (options, location) = sqlite_options(rest, &config.service)?;
            // SQLite serialises writers; a few connections serve concurrent readers under WAL.
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(|source| StorageError::Connect {
                    backend: "sqlite",
                    source,
                })?;
            migrations.sqlite.run(&pool).await?;
            Ok(Database {
                pool: Pool::Sqlite(pool),
                location,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let schema = config
                .schema
                .clone()
                .unwrap_or_else(|| config.service.clone());
            validate_schema(&schema)?;
            let base = PgConnectOptions::from_str(url).map_err(|source| StorageError::Connect {
                backend: "postgres",
                source,
            })?;
            ensure_schema(&base, &schema).await?;
            let options = base.clone().options([("search_path", schema.as_str())]);
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(|source| StorageError::Connect {
                    backend: "postgres",
                    source,
                })?;
            migrations.postgres.run(&pool).await?;
            let location = format!(
                "postgres://{}:{}/{} schema {}",
                base.get_host(),
                base.get_port(),
                base.get_database().unwrap_or("postgres"),
                schema
            );
            Ok(Database {
                pool: Pool::Postgres(pool),
                location,
            })
        } else {
            Err(StorageError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The pool, for [`with_db!`](crate::with_db).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the data lives, for start-up messages (no password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        with_db!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the typed pool of `$db` (`&SqlitePool` or `&PgPool`).
///
/// The body is compiled once per backend, so the same SQL text and row types serve both.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction bound to `$tx`, on either backend. The body must
/// end with `$tx.commit().await?` to keep its writes; returning early (an error) rolls back.
///
/// SQLite write transactions start with `BEGIN IMMEDIATE`, so two writers queue on the lock
/// instead of failing with SQLITE_BUSY when a read transaction upgrades.
#[macro_export]
macro_rules! with_write_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                $body
            }
            $crate::Pool::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}

/// Whether `error` is a unique-constraint violation (PostgreSQL SQLSTATE 23505, SQLite
/// SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("23505") | Some("2067") | Some("1555")
        ),
        _ => false,
    }
}

/// Microseconds since the Unix epoch, the portable timestamp column type.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

fn sqlite_options(rest: &str, service: &str) -> Result<(SqliteConnectOptions, String)> {
    let base = if rest == ":memory:" || rest == "//:memory:" {
        SqliteConnectOptions::from_str("sqlite::memory:")?
    } else {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or(path);
        let path = if path.is_empty() {
            Path::new(".")
        } else {
            Path::new(path)
        };
        let file = if path
            .extension()
            .is_some_and(|ext| ext == "db" || ext == "sqlite")
        {
            path.to_path_buf()
        } else {
            path.join(format!("{service}.db"))
        };
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::DataDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
    };
    let location = base.get_filename().display().to_string();
    let options = base
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30));
    Ok((options, format!("sqlite {location}")))
}

fn validate_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidSchema(schema.to_owned()))
    }
}

async fn ensure_schema(base: &PgConnectOptions, schema: &str) -> Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(base)
        .await
        .map_err(|source| StorageError::Connect {
            backend: "postgres",
            source,
        })?;
    // The name was validated as a plain lowercase identifier above.
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    match sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
    {
        Ok(_) => {}
        // Two services (or tests) creating the same schema at once race on the catalog.
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    conn.close().await?;
    Ok(())
}

/// Removes the password from a database URL before it is shown.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_appears_in_a_redacted_url() {
        assert_eq!(
            redact_url("postgres://tica:s3cret@db:5432/tica"),
            "postgres://tica@db:5432/tica"
        );
        assert_eq!(redact_url("sqlite://./data"), "sqlite://./data");
    }

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(validate_schema("roster").is_ok());
        assert!(validate_schema("roster_t1a2").is_ok());
        assert!(validate_schema("Roster").is_err());
        assert!(validate_schema("roster; drop").is_err());
        assert!(validate_schema("").is_err());
    }

    #[test]
    fn a_sqlite_directory_url_gives_each_service_its_own_file() {
        let (_, location) = sqlite_options("//target/tmp-doc/data", "roster").unwrap();
        assert!(
            location.ends_with("target/tmp-doc/data/roster.db"),
            "{location}"
        );
        let (_, location) = sqlite_options("//target/tmp-doc/one.db", "roster").unwrap();
        assert!(location.ends_with("target/tmp-doc/one.db"), "{location}");
    }
}
