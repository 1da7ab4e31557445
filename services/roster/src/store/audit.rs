//! The roster's audit trail: the shared append-only table (`tica_storage::audit`), with entries
//! named after the roster's methods.

use serde_json::Value;
use tica_auth::Caller;
use tica_domain::ScopePath;
pub use tica_storage::audit::{AuditEntry, AuditEvent, list, now, record};

/// An entry for `caller` writing `resource` (at `path`) through the roster method `method`.
pub fn entry(
    caller: &Caller,
    method: &str,
    resource: String,
    path: ScopePath,
    change: Value,
) -> AuditEntry {
    AuditEntry {
        actor: tica_server::actor(caller),
        method: format!("{}/{method}", crate::SERVICE_NAME),
        resource,
        path,
        change,
    }
}
