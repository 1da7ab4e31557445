//! API clients of the client-credentials grant.

use sqlx::FromRow;
use tica_auth::Role;
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_storage::{Database, append_audit, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use crate::error::{Result, RosterError};
use crate::model::ApiClient;

const COLUMNS: &str = "id, display_name, jurisdiction, path, role, provider_id, ttl_seconds, \
     secret_sha256, revoked, revoke_reason, revoke_micros, created_by, create_micros, update_micros";

#[derive(FromRow)]
struct ApiClientRow {
    id: String,
    display_name: String,
    jurisdiction: String,
    path: String,
    role: String,
    provider_id: String,
    ttl_seconds: i64,
    secret_sha256: String,
    revoked: bool,
    revoke_reason: String,
    revoke_micros: Option<i64>,
    created_by: String,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<ApiClientRow> for ApiClient {
    type Error = RosterError;

    fn try_from(row: ApiClientRow) -> Result<ApiClient> {
        Ok(ApiClient {
            jurisdiction: DivisionCode::parse(&row.jurisdiction)
                .map_err(|_| corrupt("jurisdiction", &row.jurisdiction))?,
            path: ScopePath::parse(&row.path).ok_or_else(|| corrupt("path", &row.path))?,
            role: row
                .role
                .parse::<Role>()
                .map_err(|_| corrupt("role", &row.role))?,
            ttl_seconds: u32::try_from(row.ttl_seconds)
                .map_err(|_| corrupt("token lifetime of", &row.id))?,
            id: row.id,
            display_name: row.display_name,
            provider_id: row.provider_id,
            secret_sha256: row.secret_sha256,
            revoked: row.revoked,
            revoke_reason: row.revoke_reason,
            revoke_micros: row.revoke_micros,
            created_by: row.created_by,
            create_micros: row.create_micros,
            update_micros: row.update_micros,
        })
    }
}

/// One client.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.api_clients.get", db.operation.name = "roster.api_clients.get"))]
pub async fn get(db: &Database, id: &str) -> Result<Option<ApiClient>> {
    let row: Option<ApiClientRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_clients WHERE id = $1")))
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(ApiClient::try_from).transpose()
}

/// Clients acting inside `scope`, newest first (by creation, then id), after the key
/// `(create_micros, id)` of the previous page; and how many match in all.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.api_clients.list", db.operation.name = "roster.api_clients.list"))]
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    revoked: Option<bool>,
    after: Option<&(i64, String)>,
    limit: i64,
) -> Result<(Vec<ApiClient>, i64)> {
    let (lo, hi) = scope.range();
    // -1 matches both states.
    let state = revoked.map_or(-1_i64, i64::from);
    // The first page starts above every key.
    let (after_micros, after_id) = after.cloned().unwrap_or((i64::MAX, String::new()));
    let condition =
        "path >= $1 AND path < $2 AND ($3 = -1 OR (CASE WHEN revoked THEN 1 ELSE 0 END) = $3)";
    let (rows, total): (Vec<ApiClientRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_clients WHERE {condition} \
             AND (create_micros, id) < ($4, $5) ORDER BY create_micros DESC, id DESC LIMIT $6"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(state)
        .bind(after_micros)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM api_clients WHERE {condition}"
        )))
        .bind(lo)
        .bind(hi)
        .bind(state)
        .fetch_one(pool)
        .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(ApiClient::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Inserts a client with its audit entry.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.api_clients.insert", db.operation.name = "roster.api_clients.insert"))]
pub async fn insert(db: &Database, client: &ApiClient, audit: &AuditEntry) -> Result<()> {
    with_write_tx!(db, tx => {
        sqlx::query(
            "INSERT INTO api_clients (id, display_name, jurisdiction, path, role, provider_id, \
             ttl_seconds, secret_sha256, revoked, revoke_reason, revoke_micros, created_by, \
             create_micros, update_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(client.id.clone())
        .bind(client.display_name.clone())
        .bind(client.jurisdiction.to_string())
        .bind(client.path.as_str().to_owned())
        .bind(client.role.as_str().to_owned())
        .bind(client.provider_id.clone())
        .bind(i64::from(client.ttl_seconds))
        .bind(client.secret_sha256.clone())
        .bind(client.revoked)
        .bind(client.revoke_reason.clone())
        .bind(client.revoke_micros)
        .bind(client.created_by.clone())
        .bind(client.create_micros)
        .bind(client.update_micros)
        .execute(&mut *tx)
        .await?;
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(())
}

/// Marks an active client revoked, with its audit entry; `false` (nothing written) when it was
/// revoked meanwhile.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.api_clients.revoke", db.operation.name = "roster.api_clients.revoke"))]
pub async fn revoke(db: &Database, client: &ApiClient, audit: &AuditEntry) -> Result<bool> {
    with_write_tx!(db, tx => {
        let done = sqlx::query(
            "UPDATE api_clients SET revoked = $2, revoke_reason = $3, revoke_micros = $4, \
             update_micros = $4 WHERE id = $1 AND NOT revoked",
        )
        .bind(client.id.clone())
        .bind(true)
        .bind(client.revoke_reason.clone())
        .bind(client.revoke_micros)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(true)
}
