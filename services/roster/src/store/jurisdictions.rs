//! Jurisdictions.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use tica_domain::division::DivisionCode;
use tica_domain::{ScopePath, SizeRange, TeamRules};
use tica_storage::{Database, is_unique_violation, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use crate::error::{Result, RosterError};
use crate::model::Jurisdiction;
use tica_storage::append_audit;

const COLUMNS: &str =
    "code, display_name, parent_code, path, team_rules_json, create_micros, update_micros";

#[derive(FromRow)]
struct JurisdictionRow {
    code: String,
    display_name: String,
    parent_code: Option<String>,
    path: String,
    team_rules_json: String,
    create_micros: i64,
    update_micros: i64,
}

/// Team rules as stored: `{"school_ict_management": [3, 8], ...}`, unset ranges absent.
#[derive(Default, Serialize, Deserialize)]
struct RulesJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    school_ict_management: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    province_training: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city_training: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    county_training: Option<(u32, u32)>,
}

pub(crate) fn rules_to_json(rules: &TeamRules) -> String {
    let pair = |r: &Option<SizeRange>| r.map(|r| (r.min, r.max));
    serde_json::to_string(&RulesJson {
        school_ict_management: pair(&rules.school_ict_management),
        province_training: pair(&rules.province_training),
        city_training: pair(&rules.city_training),
        county_training: pair(&rules.county_training),
    })
    .expect("team rules serialise")
}

fn rules_from_json(json: &str) -> Result<TeamRules> {
    let stored: RulesJson = serde_json::from_str(json).map_err(|_| corrupt("team rules", json))?;
    let range = |p: Option<(u32, u32)>| p.map(|(min, max)| SizeRange { min, max });
    Ok(TeamRules {
        school_ict_management: range(stored.school_ict_management),
        province_training: range(stored.province_training),
        city_training: range(stored.city_training),
        county_training: range(stored.county_training),
    })
}

impl TryFrom<JurisdictionRow> for Jurisdiction {
    type Error = RosterError;

    fn try_from(row: JurisdictionRow) -> Result<Jurisdiction> {
        let code =
            DivisionCode::parse(&row.code).map_err(|_| corrupt("division code", &row.code))?;
        let parent = match &row.parent_code {
            Some(p) => Some(DivisionCode::parse(p).map_err(|_| corrupt("division code", p))?),
            None => None,
        };
        let path = ScopePath::parse(&row.path).ok_or_else(|| corrupt("path", &row.path))?;
        let team_rules = rules_from_json(&row.team_rules_json)?;
        Ok(Jurisdiction {
            code,
            display_name: row.display_name,
            parent,
            path,
            effective_team_rules: team_rules.clone(),
            team_rules,
            create_micros: row.create_micros,
            update_micros: row.update_micros,
        })
    }
}

/// One jurisdiction.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.jurisdictions.get", db.operation.name = "roster.jurisdictions.get"))]
pub async fn get(db: &Database, code: DivisionCode) -> Result<Option<Jurisdiction>> {
    let row: Option<JurisdictionRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM jurisdictions WHERE code = $1")))
            .bind(code.to_string())
            .fetch_optional(pool)
            .await?
    });
    row.map(Jurisdiction::try_from).transpose()
}

/// The registered jurisdictions among `codes`, in no particular order.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.jurisdictions.get_many", db.operation.name = "roster.jurisdictions.get_many"))]
pub async fn get_many(db: &Database, codes: &[DivisionCode]) -> Result<Vec<Jurisdiction>> {
    let mut found = Vec::with_capacity(codes.len());
    for code in codes {
        if let Some(j) = get(db, *code).await? {
            found.push(j);
        }
    }
    Ok(found)
}

/// Children of `parent`, ordered by code, after `after`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.jurisdictions.list_children", db.operation.name = "roster.jurisdictions.list_children"))]
pub async fn list_children(
    db: &Database,
    parent: DivisionCode,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<Jurisdiction>, i64)> {
    let (rows, total): (Vec<JurisdictionRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jurisdictions WHERE parent_code = $1 AND code > $2 ORDER BY code LIMIT $3"
        )))
        .bind(parent.to_string())
        .bind(after.unwrap_or("").to_owned())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jurisdictions WHERE parent_code = $1")
            .bind(parent.to_string())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(Jurisdiction::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Inserts a jurisdiction; ALREADY_EXISTS if its code is taken.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.jurisdictions.insert", db.operation.name = "roster.jurisdictions.insert"))]
pub async fn insert(db: &Database, j: &Jurisdiction, audit: &AuditEntry) -> Result<()> {
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            sqlx::query(
                "INSERT INTO jurisdictions (code, display_name, level, parent_code, path, team_rules_json, create_micros, update_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(j.code.to_string())
            .bind(j.display_name.clone())
            .bind(j.code.level().key().to_owned())
            .bind(j.parent.map(|p| p.to_string()))
            .bind(j.path.as_str().to_owned())
            .bind(rules_to_json(&j.team_rules))
            .bind(j.create_micros)
            .bind(j.update_micros)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) if is_unique_violation(&e) => Err(RosterError::AlreadyExists(
            format!("jurisdictions/{} already exists", j.code),
        )),
        other => other,
    }
}

/// Writes a jurisdiction's display name and rules, if it is still as read (`update_micros`
/// equal to `loaded`); CONFLICT when another write came first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.jurisdictions.update", db.operation.name = "roster.jurisdictions.update"))]
pub async fn update(
    db: &Database,
    j: &Jurisdiction,
    loaded: i64,
    audit: &AuditEntry,
) -> Result<()> {
    with_write_tx!(db, tx => {
        let done = sqlx::query(
            "UPDATE jurisdictions SET display_name = $1, team_rules_json = $2, update_micros = $3 \
             WHERE code = $4 AND update_micros = $5",
        )
        .bind(j.display_name.clone())
        .bind(rules_to_json(&j.team_rules))
        .bind(j.update_micros)
        .bind(j.code.to_string())
        .bind(loaded)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(super::changed_meanwhile(&format!("jurisdictions/{}", j.code)));
        }
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(())
}
