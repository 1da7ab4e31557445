//! The suite's test kit, for tests and benchmarks only (a dev-dependency; no service binary
//! links it).
//!
//! - [`database`]: a throw-away database per test, on SQLite always and on PostgreSQL when
//!   `DATABASE_URL` is set, and [`backend_tests!`] to run each storage test on both.
//! - [`process`]: a service binary run as Kubernetes runs it (environment only), its health,
//!   SIGTERM and the scenarios every binary must pass.

#![deny(missing_docs)]

pub mod database;
pub mod process;

pub use database::TestDatabase;
/// The engines, for [`backend_tests!`].
pub use tica_storage::Backend;
