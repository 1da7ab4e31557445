//! The roster service (`tica.roster.v1`): jurisdictions, schools, teachers, teams, assessors,
//! CSV/XLSX import and export, and the audit trail.
//!
//! Layers, outermost first: [`grpc`] (tonic adapter) → [`convert`] (proto ⇄ domain) →
//! [`service`] (access and business rules, no proto types) → [`store`] (all SQL) and
//! [`files`] (CSV/XLSX parsing and writing, pure). [`startup`] wires it together.

pub mod convert;
pub mod error;
pub mod files;
pub mod grpc;
pub mod http;
pub mod model;
pub mod policy;
pub mod service;
pub mod startup;
pub mod store;

pub use startup::{MIGRATIONS, SERVICE_NAME};
