//! Teams.

use sqlx::FromRow;
use tica_domain::division::DivisionCode;
use tica_domain::names::UnitName;
use tica_domain::{ScopePath, TeamKind};
use tica_storage::{Database, is_unique_violation, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use crate::error::{Result, RosterError};
use crate::model::{Member, Team, Unit};
use tica_storage::append_audit;

const COLUMNS: &str =
    "id, kind, owner, owner_path, display_name, members_json, create_micros, update_micros";

/// Storage key of a team kind.
pub(crate) fn kind_key(kind: TeamKind) -> &'static str {
    kind.key()
}

fn kind_from_key(key: &str) -> Option<TeamKind> {
    [TeamKind::SchoolIctManagement, TeamKind::Training]
        .into_iter()
        .find(|k| k.key() == key)
}

/// Parses a stored unit resource name.
pub(crate) fn unit_from_name(name: &str) -> Option<Unit> {
    match UnitName::parse(name)? {
        UnitName::School(code) => Some(Unit::School(code.to_owned())),
        UnitName::Jurisdiction(code) => DivisionCode::parse(code).ok().map(Unit::Jurisdiction),
    }
}

#[derive(FromRow)]
struct TeamRow {
    id: String,
    kind: String,
    owner: String,
    owner_path: String,
    display_name: String,
    members_json: String,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<TeamRow> for Team {
    type Error = RosterError;

    fn try_from(row: TeamRow) -> Result<Team> {
        let members: Vec<Member> = serde_json::from_str(&row.members_json)
            .map_err(|_| corrupt("team members of", &row.id))?;
        Ok(Team {
            kind: kind_from_key(&row.kind).ok_or_else(|| corrupt("team kind", &row.kind))?,
            owner: unit_from_name(&row.owner).ok_or_else(|| corrupt("owner", &row.owner))?,
            owner_path: ScopePath::parse(&row.owner_path)
                .ok_or_else(|| corrupt("path", &row.owner_path))?,
            id: row.id,
            display_name: row.display_name,
            members,
            create_micros: row.create_micros,
            update_micros: row.update_micros,
        })
    }
}

/// One team.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teams.get", db.operation.name = "roster.teams.get"))]
pub async fn get(db: &Database, id: &str) -> Result<Option<Team>> {
    let row: Option<TeamRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM teams WHERE id = $1")))
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(Team::try_from).transpose()
}

/// Teams owned inside `scope`, ordered by (owner_path, id).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teams.list", db.operation.name = "roster.teams.list"))]
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    kind: Option<TeamKind>,
    after: Option<&(String, String)>,
    limit: i64,
) -> Result<(Vec<Team>, i64)> {
    let (lo, hi) = scope.range();
    let kind = kind.map(|k| kind_key(k).to_owned()).unwrap_or_default();
    let (after_path, after_id) = after.cloned().unwrap_or_default();
    let condition = "owner_path >= $1 AND owner_path < $2 AND ($3 = '' OR kind = $3)";
    let (rows, total): (Vec<TeamRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM teams WHERE {condition} AND (owner_path, id) > ($4, $5) \
             ORDER BY owner_path, id LIMIT $6"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(kind.clone())
        .bind(after_path)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM teams WHERE {condition}")))
            .bind(lo)
            .bind(hi)
            .bind(kind)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(Team::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Inserts a team; ALREADY_EXISTS for a school's second ICT management team.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teams.insert", db.operation.name = "roster.teams.insert"))]
pub async fn insert(db: &Database, team: &Team, audit: &AuditEntry) -> Result<()> {
    let members = serde_json::to_string(&team.members).expect("members serialise");
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            sqlx::query(
                "INSERT INTO teams (id, kind, owner, owner_path, display_name, members_json, create_micros, update_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(team.id.clone())
            .bind(kind_key(team.kind).to_owned())
            .bind(team.owner.resource_name())
            .bind(team.owner_path.as_str().to_owned())
            .bind(team.display_name.clone())
            .bind(members)
            .bind(team.create_micros)
            .bind(team.update_micros)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) if is_unique_violation(&e) => {
            Err(RosterError::AlreadyExists(format!(
                "{} already has an ICT management team",
                team.owner.resource_name()
            )))
        }
        other => other,
    }
}

/// Writes a team's name and members, if it is still as read (`update_micros` equal to
/// `loaded`); CONFLICT when another write came first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teams.update", db.operation.name = "roster.teams.update"))]
pub async fn update(db: &Database, team: &Team, loaded: i64, audit: &AuditEntry) -> Result<()> {
    let members = serde_json::to_string(&team.members).expect("members serialise");
    with_write_tx!(db, tx => {
        let done = sqlx::query(
            "UPDATE teams SET display_name = $2, members_json = $3, update_micros = $4 \
             WHERE id = $1 AND update_micros = $5",
        )
        .bind(team.id.clone())
        .bind(team.display_name.clone())
        .bind(members)
        .bind(team.update_micros)
        .bind(loaded)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(super::changed_meanwhile(&format!("teams/{}", team.id)));
        }
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(())
}
