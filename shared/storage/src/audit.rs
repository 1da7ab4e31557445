//! The append-only audit trail every service keeps in its own `audit_events` table.
//!
//! The table is defined once, here: [`SQLITE_DDL`] and [`POSTGRES_DDL`] (the files under
//! `shared/storage/sql/`), with database triggers that refuse UPDATE and DELETE. Each service's
//! first migration carries that text verbatim — a shipped migration is never edited, since sqlx
//! refuses to start on a database whose applied migration's checksum changed — and
//! `tests/tests/schema_parity.rs` fails if one drifts from it. Writes append their entry inside their own
//! transaction with [`append_audit!`](crate::append_audit), so a failed call leaves no entry.

use serde_json::Value;
use sqlx::FromRow;
use tica_domain::ScopePath;

use crate::{Database, Result, now_micros, with_db};

/// The audit table, its indexes and its append-only triggers, on SQLite.
pub const SQLITE_DDL: &str = include_str!("../sql/audit_events.sqlite.sql");

/// The audit table, its indexes and its append-only triggers, on PostgreSQL.
pub const POSTGRES_DDL: &str = include_str!("../sql/audit_events.postgres.sql");

/// Who wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// Token subject (never a resident ID number).
    pub subject: String,
    /// Token role.
    pub role: String,
    /// The resource name acted for.
    pub acting_for: String,
}

/// What a write records about itself.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// Who.
    pub actor: Actor,
    /// The full RPC name, e.g. `tica.roster.v1.RosterService/UpdateSchool`.
    pub method: String,
    /// The resource written.
    pub resource: String,
    /// The resource's path: offices whose scope contains it may read the entry.
    pub path: ScopePath,
    /// What changed; personal data masked.
    pub change: Value,
}

/// The statement [`append_audit!`](crate::append_audit) runs.
pub const INSERT_AUDIT: &str = "INSERT INTO audit_events \
    (create_micros, actor_subject, actor_role, acting_for, method, resource, path, change_json) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Appends an [`AuditEntry`] inside an open transaction (`&mut *tx` on either backend).
#[macro_export]
macro_rules! append_audit {
    ($tx:expr, $entry:expr) => {{
        let entry: &$crate::audit::AuditEntry = $entry;
        $crate::sqlx::query($crate::audit::INSERT_AUDIT)
            .bind($crate::now_micros())
            .bind(entry.actor.subject.clone())
            .bind(entry.actor.role.clone())
            .bind(entry.actor.acting_for.clone())
            .bind(entry.method.clone())
            .bind(entry.resource.clone())
            .bind(entry.path.as_str().to_owned())
            .bind(entry.change.to_string())
            .execute(&mut *$tx)
            .await?;
    }};
}

/// One stored entry.
#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// When (µs).
    pub create_micros: i64,
    /// Token subject.
    pub actor_subject: String,
    /// Token role.
    pub actor_role: String,
    /// Acted for.
    pub acting_for: String,
    /// RPC.
    pub method: String,
    /// Resource written.
    pub resource: String,
    /// What changed (JSON, personal data masked).
    pub change_json: String,
}

/// Entries about resources inside `scope` (optionally one resource), newest first, with ids
/// below `before`.
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    resource: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEvent>> {
    let (lo, hi) = scope.range();
    let rows = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT id, create_micros, actor_subject, actor_role, acting_for, method, resource, change_json \
             FROM audit_events \
             WHERE path >= $1 AND path < $2 AND ($3 = '' OR resource = $3) AND id < $4 \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(lo)
        .bind(hi)
        .bind(resource.to_owned())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

/// Appends an entry on its own (for audited reads, such as a full-ID export).
pub async fn record(db: &Database, entry: &AuditEntry) -> Result<()> {
    crate::with_write_tx!(db, tx => {
        crate::append_audit!(tx, entry);
        tx.commit().await?;
    });
    Ok(())
}

/// Microseconds now.
pub fn now() -> i64 {
    now_micros()
}
