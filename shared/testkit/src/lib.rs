//! The suite's test kit, for tests and benchmarks only (a dev-dependency; no service binary
//! links it). It depends on the shared crates alone, never on a service crate: each service's
//! harness (`tests/support`, `tests/src/lib.rs`) adds the few lines that register its own
//! services and composes the rest from here.
//!
//! - [`database`]: a throw-away database per test, on SQLite always and on PostgreSQL when
//!   `DATABASE_URL` is set, and [`backend_tests!`] to run each storage test on both.
//! - [`identity`]: [`Keys`], one token key that mints a test's tokens and makes the verifier
//!   its servers trust.
//! - [`grpc`]: a registered `GrpcServer` served on a free port, with a connected channel, and
//!   [`grpc::Callers`], token-bearing roster and assessment clients of it.
//! - [`fixtures`]: what tests set up over gRPC through `tica-client` (jurisdictions, schools,
//!   teachers, assessors, a batch, selections, grades, evidence, hours).
//! - [`errors`]: the reason a refusal's ErrorInfo names, checked against the table.
//! - [`process`]: a service binary run as Kubernetes runs it (environment only), its health,
//!   SIGTERM and the scenarios every binary must pass.

#![deny(missing_docs)]

pub mod database;
pub mod errors;
pub mod fixtures;
pub mod grpc;
pub mod identity;
pub mod process;

pub use database::TestDatabase;
pub use identity::Keys;
/// The engines, for [`backend_tests!`].
pub use tica_storage::Backend;
