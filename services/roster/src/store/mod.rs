//! Every SQL statement of the roster lives here (and nowhere else).
//!
//! Each function is written once and runs on SQLite and PostgreSQL through
//! [`tica_storage::with_db!`]; writes run in one transaction together with their audit entry, so
//! a failed call leaves nothing behind — not even an audit line.

pub mod api_clients;
pub mod assessors;
pub mod audit;
pub mod bulk;
pub mod jurisdictions;
pub mod schools;
pub mod teachers;
pub mod teams;

use crate::error::RosterError;

pub use audit::AuditEntry;

/// Keys decoded from storage that do not parse: the database holds something the code never
/// writes. Reported as an internal error.
pub(crate) fn corrupt(what: &str, value: &str) -> RosterError {
    RosterError::Internal(format!("stored {what} {value:?} is not valid"))
}

/// A guarded write that found its record changed since it was read (another write came
/// first): nothing was written; the service reads again and retries (`retry_conflicts`).
pub(crate) fn changed_meanwhile(resource: &str) -> RosterError {
    RosterError::Conflict(format!(
        "{resource} changed while this call was writing it; retry"
    ))
}
