//! Test support: a fresh database per test on SQLite always, and on PostgreSQL when
//! `DATABASE_URL` is set.
//!
//! Every storage-touching test runs once per backend (see [`backend_tests!`](crate::backend_tests)).
//! When `TICA_REQUIRE_POSTGRES=1` (CI), a missing `DATABASE_URL` fails the PostgreSQL variant
//! instead of skipping it, so CI can never pass on SQLite alone.

use tica_storage::{Backend, Database, DatabaseConfig, Migrations, Result};

/// A throw-away database for one test: a SQLite file in a temporary directory, or a fresh
/// schema in the PostgreSQL database named by `DATABASE_URL`.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to connect services to.
    pub url: String,
    /// The schema to use on PostgreSQL (unique per test).
    pub schema: Option<String>,
    /// Keeps the SQLite directory alive for the test's duration.
    pub dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    /// A fresh location on `backend`, or `None` when PostgreSQL is not configured (and not
    /// required).
    pub fn new(backend: Backend) -> Option<TestDatabase> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("tica-test-{unique}"));
                Some(TestDatabase {
                    url: format!("sqlite://{}", dir.display()),
                    schema: None,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => Some(TestDatabase {
                    url,
                    schema: Some(format!("t_{}", &unique[..16])),
                    dir: None,
                }),
                _ => {
                    assert!(
                        std::env::var("TICA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                        "TICA_REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
                    );
                    eprintln!("skipped on PostgreSQL: DATABASE_URL is not set");
                    None
                }
            },
        }
    }

    /// The configuration for `service` on this test database. On PostgreSQL every service
    /// gets its own schema `{unique}_{service}`.
    pub fn config(&self, service: &str) -> DatabaseConfig {
        let mut config = DatabaseConfig::new(self.url.clone(), service);
        config.schema = self.schema.as_ref().map(|s| format!("{s}_{service}"));
        config
    }

    /// Connects `service` with its migrations.
    pub async fn connect(&self, service: &str, migrations: Migrations) -> Result<Database> {
        Database::connect(&self.config(service), migrations).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`, so every storage-touching test runs on both engines.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}
