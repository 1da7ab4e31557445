//! Every SQL statement of the sampling service, the same text on SQLite and PostgreSQL.
//!
//! Writes go through [`commit`]: a round and everything under it change in one transaction,
//! and the round's `update_micros` is the optimistic lock of the whole round — an UPDATE only
//! applies if the row still has the value it was read with, so two offices (or two reviewers)
//! writing the same round at once cannot both win; the loser retries from a fresh read.

use std::collections::HashMap;

use tica_domain::ScopePath;
use tica_domain::policy::Ratio;
use tica_storage::audit::AuditEntry;
use tica_storage::{Database, append_audit, with_db, with_write_tx};

use crate::error::{Result, SamplingError};
use crate::model::*;

fn corrupt(what: &str) -> SamplingError {
    SamplingError::Internal(format!("stored {what} is not readable"))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|_| corrupt(what))
}

fn key<T>(parsed: Option<T>, what: &str) -> Result<T> {
    parsed.ok_or_else(|| corrupt(what))
}

// ---------------------------------------------------------------------------------------------
// Rounds

/// A round by id.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.round", db.operation.name = "sampling.round"))]
pub async fn round(db: &Database, id: &str) -> Result<Option<RoundRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT doc_json FROM rounds WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(|(doc,)| parse(&doc, "round")).transpose()
}

/// The round `subject` created with `request_id` (AIP-155), if any.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.round_by_request", db.operation.name = "sampling.round_by_request"))]
pub async fn round_by_request(
    db: &Database,
    subject: &str,
    request_id: &str,
) -> Result<Option<RoundRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM rounds \
             WHERE creator_subject = $1 AND request_id = $2 AND request_id <> ''",
        )
        .bind(subject.to_owned())
        .bind(request_id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(|(doc,)| parse(&doc, "round")).transpose()
}

/// Filters of [`rounds_in`].
#[derive(Clone, Debug, Default)]
pub struct RoundFilter {
    /// Only rounds over this batch id (`{county}-{year}`: digits and a dash, matched whole within
    /// the chain key `level|kind|batch,batch…`).
    pub batch: String,
    /// Only this level key.
    pub level: String,
    /// Only this kind key.
    pub kind: String,
    /// Only this state key.
    pub state: String,
}

/// Rounds whose scope lies in `scope`'s subtree or on its path, newest first, after the key
/// `(create_micros, id)`; with the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.rounds_in", db.operation.name = "sampling.rounds_in"))]
pub async fn rounds_in(
    db: &Database,
    scope: &ScopePath,
    filter: &RoundFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<(Vec<RoundRecord>, i64)> {
    let (lo, hi) = scope.range();
    let ancestors: Vec<String> = std::iter::successors(Some(scope.clone()), |p| p.parent())
        .map(|p| p.as_str().to_owned())
        .collect();
    let ancestors = json(&ancestors);
    let (before_micros, before_id) = after.unwrap_or((i64::MAX, String::new()));
    let clause = "((path >= $1 AND path < $2) OR $3 LIKE '%\"' || path || '\"%') \
        AND ($4 = '' OR chain_key || ',' LIKE '%|' || $4 || ',%' OR chain_key || ',' LIKE '%,' || $4 || ',%') \
        AND ($5 = '' OR level = $5) \
        AND ($6 = '' OR kind = $6) AND ($7 = '' OR state = $7)";
    let (rows, total): (Vec<(String,)>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT doc_json FROM rounds WHERE {clause} \
             AND (create_micros < $8 OR (create_micros = $8 AND id < $9)) \
             ORDER BY create_micros DESC, id DESC LIMIT $10"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(ancestors.clone())
        .bind(filter.batch.clone())
        .bind(filter.level.clone())
        .bind(filter.kind.clone())
        .bind(filter.state.clone())
        .bind(before_micros)
        .bind(if before_micros == i64::MAX { "\u{10FFFF}".to_owned() } else { before_id.clone() })
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM rounds WHERE {clause}"
        )))
        .bind(lo)
        .bind(hi)
        .bind(ancestors)
        .bind(filter.batch.clone())
        .bind(filter.level.clone())
        .bind(filter.kind.clone())
        .bind(filter.state.clone())
        .fetch_one(pool)
        .await?;
        (rows, total)
    });
    let rounds = rows
        .into_iter()
        .map(|(doc,)| parse(&doc, "round"))
        .collect::<Result<_>>()?;
    Ok((rounds, total.0))
}

/// Rounds sharing `chain_key`, oldest first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.rounds_with_key", db.operation.name = "sampling.rounds_with_key"))]
pub async fn rounds_with_key(db: &Database, chain_key: &str) -> Result<Vec<RoundRecord>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT doc_json FROM rounds WHERE chain_key = $1 ORDER BY create_micros, id")
            .bind(chain_key.to_owned())
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|(doc,)| parse(&doc, "round"))
        .collect()
}

/// Rounds of `scope_code`, `year` and this level and kind: the next round's number is one more.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.rounds_numbered", db.operation.name = "sampling.rounds_numbered"))]
pub async fn rounds_numbered(
    db: &Database,
    scope_code: &str,
    year: i32,
    level: Level,
    kind: Kind,
) -> Result<i64> {
    let (count,): (i64,) = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT COUNT(*) FROM rounds WHERE scope_code = $1 AND year = $2 AND level = $3 AND kind = $4",
        )
        .bind(scope_code.to_owned())
        .bind(i64::from(year))
        .bind(level.key())
        .bind(kind.key())
        .fetch_one(pool)
        .await?
    });
    Ok(count)
}

/// The figures a round shows about its draw and review.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundCounts {
    /// Schools drawn.
    pub schools_drawn: i64,
    /// Teachers drawn.
    pub teachers_drawn: i64,
    /// Teacher items without an assessor.
    pub items_unassigned: i64,
    /// Re-grades to do.
    pub regrades_total: i64,
    /// Re-grades submitted.
    pub regrades_submitted: i64,
    /// Units.
    pub units_total: i64,
    /// Units decided.
    pub units_decided: i64,
    /// Units passed (drawn or not).
    pub units_passed: i64,
    /// Units sent back.
    pub units_sent_back: i64,
}

/// A round's counts.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.round_counts", db.operation.name = "sampling.round_counts"))]
pub async fn round_counts(db: &Database, round: &str) -> Result<RoundCounts> {
    type Counts = ((i64, i64, i64), (i64, i64), (i64, i64, i64, i64));
    let (items, regrades, units): Counts = with_db!(db, pool => {
        let items = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN stage = 'school' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN stage = 'teacher' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN stage = 'teacher' AND assessor = '' THEN 1 ELSE 0 END), 0) \
             FROM items WHERE round_id = $1",
        )
        .bind(round.to_owned())
        .fetch_one(pool)
        .await?;
        let regrades = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'submitted' THEN 1 ELSE 0 END), 0) \
             FROM regrades WHERE round_id = $1",
        )
        .bind(round.to_owned())
        .fetch_one(pool)
        .await?;
        let units = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN outcome <> '' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN outcome IN ('passed', 'passed_not_drawn') THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN outcome = 'sent_back' THEN 1 ELSE 0 END), 0) \
             FROM units WHERE round_id = $1",
        )
        .bind(round.to_owned())
        .fetch_one(pool)
        .await?;
        (items, regrades, units)
    });
    Ok(RoundCounts {
        schools_drawn: items.0,
        teachers_drawn: items.1,
        items_unassigned: items.2,
        regrades_total: regrades.0,
        regrades_submitted: regrades.1,
        units_total: units.0,
        units_decided: units.1,
        units_passed: units.2,
        units_sent_back: units.3,
    })
}

// ---------------------------------------------------------------------------------------------
// Population and strata

type PopulationRowSql = (String, String, String, String, String, String);

fn population_from(row: PopulationRowSql) -> Result<PopulationRow> {
    let (stage, stratum, sampler_id, batch, school, grades) = row;
    let grades: Vec<(String, String, String)> = parse(&grades, "population grades")?;
    Ok(PopulationRow {
        stage: key(Stage::from_key(&stage), "stage")?,
        stratum,
        sampler_id,
        batch,
        school,
        grades: grades
            .into_iter()
            .map(|(code, submission, grade)| {
                Ok((code, submission, key(Grade::from_key(&grade), "grade")?))
            })
            .collect::<Result<_>>()?,
    })
}

/// A round's population, sorted by stage, stratum, id (the order its hash is taken in).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.population", db.operation.name = "sampling.population"))]
pub async fn population(db: &Database, round: &str) -> Result<Vec<PopulationRow>> {
    let rows: Vec<PopulationRowSql> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT stage, stratum, sampler_id, batch_id, school_code, grades_json FROM population \
             WHERE round_id = $1 ORDER BY stage, stratum, sampler_id",
        )
        .bind(round.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(population_from).collect()
}

type StratumRowSql = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    bool,
);

fn stratum_from(row: StratumRowSql) -> Result<StratumRecord> {
    let ratio = |v: i64| u32::try_from(v).map_err(|_| corrupt("rate"));
    Ok(StratumRecord {
        id: row.0,
        stage: key(Stage::from_key(&row.1), "stage")?,
        parent_unit: row.2,
        batch: row.3,
        population_size: row.4,
        rate: Ratio::new(ratio(row.5)?, ratio(row.6)?),
        minimum: row.7,
        sample_size: row.8,
        first_position: row.9,
        wrapped: row.10,
    })
}

/// A round's strata: school strata first, then teacher strata, each by id; after `after`
/// (stage, id).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.strata", db.operation.name = "sampling.strata"))]
pub async fn strata(
    db: &Database,
    round: &str,
    stage: &str,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<(Vec<StratumRecord>, i64)> {
    let (after_stage, after_id) = after.unwrap_or_default();
    let (rows, total): (Vec<StratumRowSql>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(
            "SELECT stratum_id, stage, parent_unit, batch_id, population_size, rate_numerator, \
                    rate_denominator, minimum, sample_size, first_position, wrapped \
             FROM strata WHERE round_id = $1 AND ($2 = '' OR stage = $2) \
             AND (stage > $3 OR (stage = $3 AND stratum_id > $4)) \
             ORDER BY stage, stratum_id LIMIT $5",
        )
        .bind(round.to_owned())
        .bind(stage.to_owned())
        .bind(after_stage)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as(
            "SELECT COUNT(*) FROM strata WHERE round_id = $1 AND ($2 = '' OR stage = $2)",
        )
        .bind(round.to_owned())
        .bind(stage.to_owned())
        .fetch_one(pool)
        .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(stratum_from).collect::<Result<_>>()?,
        total.0,
    ))
}

// ---------------------------------------------------------------------------------------------
// Items

const ITEM_COLUMNS: &str = "round_id, item_id, stage, sampler_id, stratum, position, ticket, unit, \
    batch_id, school_code, teacher_number, assessor, state, history_json";

type ItemRowSql = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn item_from(r: ItemRowSql) -> Result<ItemRecord> {
    Ok(ItemRecord {
        round: r.0,
        id: r.1,
        stage: key(Stage::from_key(&r.2), "stage")?,
        sampler_id: r.3,
        stratum: r.4,
        position: r.5,
        ticket: r.6,
        unit: r.7,
        batch: r.8,
        school: r.9,
        teacher: r.10,
        assessor: r.11,
        state: key(ItemState::from_key(&r.12), "item state")?,
        history: parse(&r.13, "assignment history")?,
    })
}

/// One item.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.item", db.operation.name = "sampling.item"))]
pub async fn item(db: &Database, round: &str, id: &str) -> Result<Option<ItemRecord>> {
    let row: Option<ItemRowSql> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE round_id = $1 AND item_id = $2"
        )))
        .bind(round.to_owned())
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(item_from).transpose()
}

/// Filters of [`items`].
#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    /// Stage key.
    pub stage: String,
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub unit: String,
    /// Assessor id.
    pub assessor: String,
    /// State key.
    pub state: String,
}

/// A round's items by stage, stratum, position, after that key; with the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.items", db.operation.name = "sampling.items"))]
pub async fn items(
    db: &Database,
    round: &str,
    filter: &ItemFilter,
    after: Option<(String, String, i64)>,
    limit: i64,
) -> Result<(Vec<ItemRecord>, i64)> {
    let (a_stage, a_stratum, a_position) = after.unwrap_or((String::new(), String::new(), 0));
    let clause = "round_id = $1 AND ($2 = '' OR stage = $2) AND ($3 = '' OR unit = $3) \
        AND ($4 = '' OR assessor = $4) AND ($5 = '' OR state = $5)";
    let (rows, total): (Vec<ItemRowSql>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE {clause} \
             AND (stage > $6 OR (stage = $6 AND (stratum > $7 OR (stratum = $7 AND position > $8)))) \
             ORDER BY stage, stratum, position LIMIT $9"
        )))
        .bind(round.to_owned())
        .bind(filter.stage.clone())
        .bind(filter.unit.clone())
        .bind(filter.assessor.clone())
        .bind(filter.state.clone())
        .bind(a_stage)
        .bind(a_stratum)
        .bind(a_position)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM items WHERE {clause}")))
            .bind(round.to_owned())
            .bind(filter.stage.clone())
            .bind(filter.unit.clone())
            .bind(filter.assessor.clone())
            .bind(filter.state.clone())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(item_from).collect::<Result<_>>()?,
        total.0,
    ))
}

/// Every item of a round, in draw order.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.all_items", db.operation.name = "sampling.all_items"))]
pub async fn all_items(db: &Database, round: &str) -> Result<Vec<ItemRecord>> {
    Ok(items(db, round, &ItemFilter::default(), None, i64::MAX)
        .await?
        .0)
}

/// Ids drawn by the other rounds of `chain`, by stratum.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.drawn_in_chain", db.operation.name = "sampling.drawn_in_chain"))]
pub async fn drawn_in_chain(
    db: &Database,
    chain: &str,
    except_round: &str,
) -> Result<HashMap<String, std::collections::HashSet<String>>> {
    let rows: Vec<(String, String)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT i.stratum, i.sampler_id FROM items i JOIN rounds r ON r.id = i.round_id \
             WHERE r.chain = $1 AND r.id <> $2",
        )
        .bind(chain.to_owned())
        .bind(except_round.to_owned())
        .fetch_all(pool)
        .await?
    });
    let mut drawn: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for (stratum, id) in rows {
        drawn.entry(stratum).or_default().insert(id);
    }
    Ok(drawn)
}

// ---------------------------------------------------------------------------------------------
// Re-grades

const REGRADE_COLUMNS: &str = "round_id, item_id, code, seq, unit, submission, assessor, state, \
    original_grade, grade, agrees, detail_json, submit_micros";

type RegradeRowSql = (
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    String,
    Option<i64>,
);

fn regrade_from(r: RegradeRowSql) -> Result<RegradeRecord> {
    Ok(RegradeRecord {
        round: r.0,
        item: r.1,
        code: r.2,
        seq: r.3,
        unit: r.4,
        submission: r.5,
        assessor: r.6,
        state: key(RegradeState::from_key(&r.7), "re-grade state")?,
        original: key(Grade::from_key(&r.8), "grade")?,
        grade: if r.9.is_empty() {
            None
        } else {
            Some(key(Grade::from_key(&r.9), "grade")?)
        },
        agrees: r.10,
        detail: parse(&r.11, "re-grade detail")?,
        submit_micros: r.12,
    })
}

/// One re-grade.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.regrade", db.operation.name = "sampling.regrade"))]
pub async fn regrade(
    db: &Database,
    round: &str,
    item: &str,
    code: &str,
) -> Result<Option<RegradeRecord>> {
    let row: Option<RegradeRowSql> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REGRADE_COLUMNS} FROM regrades WHERE round_id = $1 AND item_id = $2 AND code = $3"
        )))
        .bind(round.to_owned())
        .bind(item.to_owned())
        .bind(code.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(regrade_from).transpose()
}

/// Filters of [`regrades`]: every field optional ("").
#[derive(Clone, Debug, Default)]
pub struct RegradeFilter {
    /// Round id ("" every round).
    pub round: String,
    /// Item id.
    pub item: String,
    /// Unit.
    pub unit: String,
    /// Assessor id.
    pub assessor: String,
    /// State key.
    pub state: String,
}

/// Re-grades by round, item draw order, code, after that key; with the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.regrades", db.operation.name = "sampling.regrades"))]
pub async fn regrades(
    db: &Database,
    filter: &RegradeFilter,
    after: Option<(String, i64, String, String)>,
    limit: i64,
) -> Result<(Vec<RegradeRecord>, i64)> {
    let (a_round, a_seq, a_item, a_code) =
        after.unwrap_or((String::new(), -1, String::new(), String::new()));
    let clause = "($1 = '' OR round_id = $1) AND ($2 = '' OR item_id = $2) AND ($3 = '' OR unit = $3) \
        AND ($4 = '' OR assessor = $4) AND ($5 = '' OR state = $5)";
    let (rows, total): (Vec<RegradeRowSql>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REGRADE_COLUMNS} FROM regrades WHERE {clause} \
             AND (round_id > $6 OR (round_id = $6 AND (seq > $7 OR (seq = $7 AND (item_id > $8 \
                  OR (item_id = $8 AND code > $9)))))) \
             ORDER BY round_id, seq, item_id, code LIMIT $10"
        )))
        .bind(filter.round.clone())
        .bind(filter.item.clone())
        .bind(filter.unit.clone())
        .bind(filter.assessor.clone())
        .bind(filter.state.clone())
        .bind(a_round)
        .bind(a_seq)
        .bind(a_item)
        .bind(a_code)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM regrades WHERE {clause}")))
            .bind(filter.round.clone())
            .bind(filter.item.clone())
            .bind(filter.unit.clone())
            .bind(filter.assessor.clone())
            .bind(filter.state.clone())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(regrade_from).collect::<Result<_>>()?,
        total.0,
    ))
}

/// Every re-grade matching `filter`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.all_regrades", db.operation.name = "sampling.all_regrades"))]
pub async fn all_regrades(db: &Database, filter: &RegradeFilter) -> Result<Vec<RegradeRecord>> {
    Ok(regrades(db, filter, None, i64::MAX).await?.0)
}

/// Re-grades per item of a round, `(total, submitted)`, in one query (for item listings).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.regrade_counts", db.operation.name = "sampling.regrade_counts"))]
pub async fn regrade_counts(db: &Database, round: &str) -> Result<HashMap<String, (i64, i64)>> {
    let rows: Vec<(String, i64, i64)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT item_id, COUNT(*), COALESCE(SUM(CASE WHEN state = 'submitted' THEN 1 ELSE 0 END), 0) \
             FROM regrades WHERE round_id = $1 GROUP BY item_id",
        )
        .bind(round.to_owned())
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(item, n, done)| (item, (n, done)))
        .collect())
}

/// Pending re-grades per assessor, over every round.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.open_loads", db.operation.name = "sampling.open_loads"))]
pub async fn open_loads(db: &Database) -> Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT assessor, COUNT(*) FROM regrades WHERE state = 'pending' AND assessor <> '' \
             GROUP BY assessor",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// Units

type UnitRowSql = (String, String, String, String, bool, String, String);

fn unit_from(r: UnitRowSql) -> Result<UnitRecord> {
    Ok(UnitRecord {
        round: r.0,
        id: r.1,
        unit: r.2,
        batch: r.3,
        drawn: r.4,
        outcome: key(Outcome::from_key(&r.5), "outcome")?,
        decision: if r.6.is_empty() {
            None
        } else {
            Some(parse(&r.6, "decision")?)
        },
    })
}

/// One unit.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.unit", db.operation.name = "sampling.unit"))]
pub async fn unit(db: &Database, round: &str, id: &str) -> Result<Option<UnitRecord>> {
    let row: Option<UnitRowSql> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT round_id, unit_id, unit, batch_id, drawn, outcome, decision_json FROM units \
             WHERE round_id = $1 AND unit_id = $2",
        )
        .bind(round.to_owned())
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(unit_from).transpose()
}

/// A round's units by code after `after`; `drawn_only` and an outcome key filter; with the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.units", db.operation.name = "sampling.units"))]
pub async fn units(
    db: &Database,
    round: &str,
    drawn_only: bool,
    outcome: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<(Vec<UnitRecord>, i64)> {
    let outcome = outcome.map(str::to_owned);
    let clause = "round_id = $1 AND ($2 = FALSE OR drawn = TRUE) AND ($3 IS NULL OR outcome = $3)";
    let (rows, total): (Vec<UnitRowSql>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT round_id, unit_id, unit, batch_id, drawn, outcome, decision_json FROM units \
             WHERE {clause} AND unit_id > $4 ORDER BY unit_id LIMIT $5"
        )))
        .bind(round.to_owned())
        .bind(drawn_only)
        .bind(outcome.clone())
        .bind(after.to_owned())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM units WHERE {clause}")))
            .bind(round.to_owned())
            .bind(drawn_only)
            .bind(outcome.clone())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(unit_from).collect::<Result<_>>()?,
        total.0,
    ))
}

/// Units of every round of `chain` about `unit`, with their rounds' ids.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.chain_units", db.operation.name = "sampling.chain_units"))]
pub async fn chain_units(db: &Database, chain: &str) -> Result<Vec<UnitRecord>> {
    let rows: Vec<UnitRowSql> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT u.round_id, u.unit_id, u.unit, u.batch_id, u.drawn, u.outcome, u.decision_json \
             FROM units u JOIN rounds r ON r.id = u.round_id WHERE r.chain = $1 ORDER BY r.create_micros",
        )
        .bind(chain.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(unit_from).collect()
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Population rows per INSERT: 7 parameters each, within SQLite's 32,766 and PostgreSQL's
/// 65,535 bound parameters.
const POPULATION_ROWS_PER_INSERT: usize = 1000;

/// Everything one call writes.
#[derive(Debug, Default)]
pub struct Work {
    /// The round, new (`None`) or as read (`Some(update_micros read)`).
    pub round: Option<(RoundRecord, Option<i64>)>,
    /// A new round: the request id its creator gave (AIP-155; empty for none), stored beside
    /// the creator's subject.
    pub request_id: String,
    /// Population rows to add.
    pub population: Vec<PopulationRow>,
    /// Strata to add.
    pub strata: Vec<StratumRecord>,
    /// Items to write.
    pub items: Vec<ItemRecord>,
    /// Re-grades to write (new, or assigned for the first time).
    pub regrades: Vec<RegradeRecord>,
    /// Pending re-grades moving to another assessor: (round, item, code, assessor). Each must
    /// still be pending, or the whole commit is a conflict.
    pub moves: Vec<(String, String, String, String)>,
    /// Re-grades just submitted: each must still be pending with the same assessor, or the
    /// whole commit is a conflict. Their item becomes REGRADED when none of its re-grades is
    /// pending any more. These need no lock on the round: reviewers submit side by side.
    pub submissions: Vec<RegradeRecord>,
    /// Units to write.
    pub units: Vec<UnitRecord>,
    /// Audit entries.
    pub audits: Vec<AuditEntry>,
}

/// Stores `work` in one transaction; [`SamplingError::Conflict`] when the round changed since
/// it was read (the caller retries).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "sampling.commit", db.operation.name = "sampling.commit"))]
pub async fn commit(db: &Database, work: &Work) -> Result<()> {
    with_write_tx!(db, tx => {
        if let Some((round, read)) = &work.round {
            let chain_key = RoundRecord::chain_key(round.level, round.kind, &round.batches);
            let applied = match read {
                None => sqlx::query(
                    "INSERT INTO rounds (id, scope_code, path, year, level, kind, state, chain, chain_key, \
                     doc_json, create_micros, update_micros, creator_subject, request_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(round.id.clone())
                .bind(round.scope_code.clone())
                .bind(round.path.as_str().to_owned())
                .bind(i64::from(round.year))
                .bind(round.level.key())
                .bind(round.kind.key())
                .bind(round.state.key())
                .bind(round.chain.clone())
                .bind(chain_key)
                .bind(json(round))
                .bind(round.create_micros)
                .bind(round.update_micros)
                .bind(round.creator.subject.clone())
                .bind(work.request_id.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if tica_storage::is_unique_violation(&e) {
                        SamplingError::Conflict(format!("round {} was created meanwhile", round.id))
                    } else {
                        e.into()
                    }
                })?
                .rows_affected(),
                Some(read) => sqlx::query(
                    "UPDATE rounds SET state = $1, doc_json = $2, update_micros = $3 \
                     WHERE id = $4 AND update_micros = $5",
                )
                .bind(round.state.key())
                .bind(json(round))
                .bind(round.update_micros)
                .bind(round.id.clone())
                .bind(*read)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            if applied != 1 {
                return Err(SamplingError::Conflict(format!(
                    "round {} changed meanwhile",
                    round.id
                )));
            }
        }
        let round_id = work.round.as_ref().map(|(r, _)| r.id.clone()).unwrap_or_default();
        // Many rows per statement: a province audit freezes every graded teacher of its
        // batches, and one round trip per row would hold the transaction for minutes.
        for chunk in work.population.chunks(POPULATION_ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO population (round_id, stage, stratum, sampler_id, batch_id, school_code, grades_json) ",
            );
            insert.push_values(chunk, |mut row, p| {
                let grades: Vec<(&str, &str, &str)> = p
                    .grades
                    .iter()
                    .map(|(c, s, g)| (c.as_str(), s.as_str(), g.key()))
                    .collect();
                row.push_bind(round_id.clone())
                    .push_bind(p.stage.key())
                    .push_bind(p.stratum.clone())
                    .push_bind(p.sampler_id.clone())
                    .push_bind(p.batch.clone())
                    .push_bind(p.school.clone())
                    .push_bind(json(&grades));
            });
            insert.build().execute(&mut *tx).await?;
        }
        for s in &work.strata {
            sqlx::query(
                "INSERT INTO strata (round_id, stratum_id, stage, parent_unit, batch_id, population_size, \
                 rate_numerator, rate_denominator, minimum, sample_size, first_position, wrapped) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(round_id.clone())
            .bind(s.id.clone())
            .bind(s.stage.key())
            .bind(s.parent_unit.clone())
            .bind(s.batch.clone())
            .bind(s.population_size)
            .bind(i64::from(s.rate.numerator))
            .bind(i64::from(s.rate.denominator))
            .bind(s.minimum)
            .bind(s.sample_size)
            .bind(s.first_position)
            .bind(s.wrapped)
            .execute(&mut *tx)
            .await?;
        }
        for i in &work.items {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO items ({ITEM_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (round_id, item_id) DO UPDATE SET assessor = $12, state = $13, history_json = $14"
            )))
            .bind(i.round.clone())
            .bind(i.id.clone())
            .bind(i.stage.key())
            .bind(i.sampler_id.clone())
            .bind(i.stratum.clone())
            .bind(i.position)
            .bind(i.ticket.clone())
            .bind(i.unit.clone())
            .bind(i.batch.clone())
            .bind(i.school.clone())
            .bind(i.teacher.clone())
            .bind(i.assessor.clone())
            .bind(i.state.key())
            .bind(json(&i.history))
            .execute(&mut *tx)
            .await?;
        }
        for r in &work.regrades {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO regrades ({REGRADE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (round_id, item_id, code) DO UPDATE SET assessor = $7, state = $8, \
                 grade = $10, agrees = $11, detail_json = $12, submit_micros = $13"
            )))
            .bind(r.round.clone())
            .bind(r.item.clone())
            .bind(r.code.clone())
            .bind(r.seq)
            .bind(r.unit.clone())
            .bind(r.submission.clone())
            .bind(r.assessor.clone())
            .bind(r.state.key())
            .bind(r.original.key())
            .bind(r.grade.map_or("", Grade::key))
            .bind(r.agrees)
            .bind(json(&r.detail))
            .bind(r.submit_micros)
            .execute(&mut *tx)
            .await?;
        }
        for (round, item, code, assessor) in &work.moves {
            let moved = sqlx::query(
                "UPDATE regrades SET assessor = $1 \
                 WHERE round_id = $2 AND item_id = $3 AND code = $4 AND state = 'pending'",
            )
            .bind(assessor.clone())
            .bind(round.clone())
            .bind(item.clone())
            .bind(code.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved != 1 {
                return Err(SamplingError::Conflict(format!(
                    "reviewRounds/{round}/items/{item}/regrades/{code} was submitted meanwhile"
                )));
            }
        }
        for r in &work.submissions {
            // Take the item's row lock first: two reviewers finishing the same teacher then run
            // one after the other, and the second sees the first's submission when it checks
            // whether anything is still pending (READ COMMITTED would otherwise let both miss it).
            sqlx::query("UPDATE items SET state = state WHERE round_id = $1 AND item_id = $2")
                .bind(r.round.clone())
                .bind(r.item.clone())
                .execute(&mut *tx)
                .await?;
            let submitted = sqlx::query(
                "UPDATE regrades SET state = 'submitted', grade = $1, agrees = $2, detail_json = $3, \
                 submit_micros = $4 \
                 WHERE round_id = $5 AND item_id = $6 AND code = $7 AND state = 'pending' AND assessor = $8",
            )
            .bind(r.grade.map_or("", Grade::key))
            .bind(r.agrees)
            .bind(json(&r.detail))
            .bind(r.submit_micros)
            .bind(r.round.clone())
            .bind(r.item.clone())
            .bind(r.code.clone())
            .bind(r.assessor.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if submitted != 1 {
                return Err(SamplingError::Conflict(format!(
                    "{} changed meanwhile",
                    r.name()
                )));
            }
            sqlx::query(
                "UPDATE items SET state = 'regraded' WHERE round_id = $1 AND item_id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM regrades WHERE round_id = $1 AND item_id = $2 \
                 AND state = 'pending')",
            )
            .bind(r.round.clone())
            .bind(r.item.clone())
            .execute(&mut *tx)
            .await?;
        }
        for u in &work.units {
            sqlx::query(
                "INSERT INTO units (round_id, unit_id, unit, batch_id, drawn, outcome, decision_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (round_id, unit_id) DO UPDATE SET outcome = $6, decision_json = $7",
            )
            .bind(u.round.clone())
            .bind(u.id.clone())
            .bind(u.unit.clone())
            .bind(u.batch.clone())
            .bind(u.drawn)
            .bind(u.outcome.key())
            .bind(u.decision.as_ref().map(json).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        for audit in &work.audits {
            append_audit!(tx, audit);
        }
        tx.commit().await?;
    });
    Ok(())
}
