//! Every SQL statement of the certificate service, the same text on SQLite and PostgreSQL.
//!
//! Issuance writes a whole chunk of certificates — their PDFs, their log entries, the signed
//! checkpoint, the run's progress and the batch's cursor — in one transaction, so a crash
//! leaves either all of a chunk or none of it, and the cursor never passes a result whose
//! certificate is not stored.

use tica_domain::ScopePath;
use tica_storage::audit::AuditEntry;
use tica_storage::{Database, append_audit, with_db, with_write_tx};

use crate::error::{CertificateError, Result};
use crate::model::*;

fn corrupt(what: &str) -> CertificateError {
    CertificateError::Internal(format!("stored {what} is not readable"))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|_| corrupt(what))
}

// ---------------------------------------------------------------------------------------------
// Signing keys

/// Every key that ever signed: active first, then retired by retire time.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.keys", db.operation.name = "certificate.keys"))]
pub async fn keys(db: &Database) -> Result<Vec<KeyRecord>> {
    let rows: Vec<(String, Vec<u8>, i64, Option<i64>)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT kid, public_key, activate_micros, retire_micros FROM signing_keys \
             ORDER BY retire_micros IS NOT NULL, retire_micros DESC, kid",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(
            |(kid, public_key, activate_micros, retire_micros)| KeyRecord {
                kid,
                public_key,
                activate_micros,
                retire_micros,
            },
        )
        .collect())
}

/// Records the keys found in files: `active` (and `active_sm2`, the SM2 key signing beside it)
/// sign from now on, every other key is retired (from now, unless it already was). A key id
/// whose public key changed is refused. SM2 keys are stored as their 65 uncompressed bytes,
/// Ed25519 keys as their 32: the length tells them apart ([`KeyRecord::is_sm2`]).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.publish_keys", db.operation.name = "certificate.publish_keys"))]
pub async fn publish_keys(
    db: &Database,
    active: &str,
    active_sm2: Option<&str>,
    public: &[(String, Vec<u8>)],
    now: i64,
) -> Result<()> {
    let known = keys(db).await?;
    for (kid, key) in public {
        if let Some(k) = known.iter().find(|k| &k.kid == kid)
            && &k.public_key != key
        {
            return Err(CertificateError::FailedPrecondition(format!(
                "key id {kid} is already published with another public key: a key id names one key forever"
            )));
        }
    }
    // Retirement is final: a retired key that signed again could date new certificates inside
    // its old span, and its published retirement would be a lie.
    let in_use = |kid: &str| kid == active || Some(kid) == active_sm2;
    if let Some(retired) = known
        .iter()
        .find(|k| in_use(&k.kid) && k.retire_micros.is_some())
    {
        return Err(CertificateError::FailedPrecondition(format!(
            "key {} was retired at {} and never signs again: give the new signing key a new key id (TICA_CERT_ACTIVE_KEY)",
            retired.kid,
            tica_credential::micros_rfc3339(retired.retire_micros.unwrap_or_default())
        )));
    }
    with_write_tx!(db, tx => {
        for (kid, key) in public {
            if !known.iter().any(|k| &k.kid == kid) {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, public_key, activate_micros, retire_micros) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(kid.clone())
                .bind(key.clone())
                .bind(now)
                .bind(if in_use(kid) { None } else { Some(now) })
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE signing_keys SET retire_micros = $1 WHERE kid <> $2 AND kid <> $3 AND retire_micros IS NULL")
            .bind(now)
            .bind(active.to_owned())
            .bind(active_sm2.unwrap_or(active).to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Issuance runs

/// A run by id.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.run", db.operation.name = "certificate.run"))]
pub async fn run(db: &Database, id: &str) -> Result<Option<RunRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT doc_json FROM issuance_runs WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(|(doc,)| parse(&doc, "issuance run")).transpose()
}

/// The batch's newest run.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.latest_run", db.operation.name = "certificate.latest_run"))]
pub async fn latest_run(db: &Database, batch_id: &str) -> Result<Option<RunRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT doc_json FROM issuance_runs WHERE batch_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(batch_id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(|(doc,)| parse(&doc, "issuance run")).transpose()
}

/// The batch's cursor: the last sequence durably processed (0 before any).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.cursor", db.operation.name = "certificate.cursor"))]
pub async fn cursor(db: &Database, batch_id: &str) -> Result<i64> {
    let row: Option<(i64,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT cursor FROM batch_cursors WHERE batch_id = $1")
            .bind(batch_id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map_or(0, |(c,)| c))
}

/// The run `subject` started with `request_id` (AIP-155), if any.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.run_by_request", db.operation.name = "certificate.run_by_request"))]
pub async fn run_by_request(
    db: &Database,
    subject: &str,
    request_id: &str,
) -> Result<Option<RunRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM issuance_runs \
             WHERE creator_subject = $1 AND request_id = $2 AND request_id <> ''",
        )
        .bind(subject.to_owned())
        .bind(request_id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(|(doc,)| parse(&doc, "issuance run")).transpose()
}

/// Stores a new run with the request id its creator gave (empty for none); Conflict when
/// another run of its batch took the number, or another call of the creator's with the same
/// request id stored its run first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.insert_run", db.operation.name = "certificate.insert_run"))]
pub async fn insert_run(
    db: &Database,
    run: &RunRecord,
    request_id: &str,
    audit: &AuditEntry,
) -> Result<()> {
    let result: std::result::Result<(), sqlx::Error> = async {
        with_write_tx!(db, tx => {
            sqlx::query(
                "INSERT INTO issuance_runs (id, batch_id, seq, path, state, doc_json, create_micros, \
                 update_micros, creator_subject, request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(run.id.clone())
            .bind(run.batch_id.clone())
            .bind(run.seq)
            .bind(run.path.as_str().to_owned())
            .bind(run.state.key())
            .bind(json(run))
            .bind(run.create_micros)
            .bind(run.update_micros)
            .bind(run.creator.subject.clone())
            .bind(request_id.to_owned())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(e) if tica_storage::is_unique_violation(&e) => Err(CertificateError::Conflict(
            "another run of this batch started at the same moment".into(),
        )),
        other => Ok(other?),
    }
}

/// Saves a run's progress or end while it is still PENDING or RUNNING; false when it is not
/// (cancelled, or failed by a replica that found its lease lapsed), and then nothing changed.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.save_run", db.operation.name = "certificate.save_run"))]
pub async fn save_run(db: &Database, run: &RunRecord) -> Result<bool> {
    let done = with_db!(db, pool => {
        sqlx::query(
            "UPDATE issuance_runs SET state = $1, doc_json = $2, update_micros = $3 \
             WHERE id = $4 AND state IN ('pending', 'running')",
        )
        .bind(run.state.key())
        .bind(json(run))
        .bind(run.update_micros)
        .bind(run.id.clone())
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(done == 1)
}

/// How long a run's lease lasts: a PENDING or RUNNING run nobody renewed for this long belongs
/// to a process that stopped.
pub const RUN_LEASE_MICROS: i64 = 60_000_000;

/// Renews the lease on a run this process is running (its `update_micros` column, not the
/// stored document); false when the run is no longer PENDING or RUNNING.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.renew_run_lease", db.operation.name = "certificate.renew_run_lease"))]
pub async fn renew_run_lease(db: &Database, id: &str, now: i64) -> Result<bool> {
    let done = with_db!(db, pool => {
        sqlx::query(
            "UPDATE issuance_runs SET update_micros = $1 \
             WHERE id = $2 AND state IN ('pending', 'running') AND update_micros < $1",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(pool)
        .await?
        .rows_affected()
    });
    if done == 1 {
        return Ok(true);
    }
    // Not renewed: ended, or renewed by a save at this very microsecond.
    Ok(run(db, id).await?.is_some_and(|r| !r.state.is_terminal()))
}

/// Runs left PENDING or RUNNING whose lease lapsed before `cutoff` (their process stopped):
/// FAILED, to be resumed by a new run. A run whose process is alive renews its lease and is
/// left alone, whichever replica asks.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.fail_interrupted_runs", db.operation.name = "certificate.fail_interrupted_runs"))]
pub async fn fail_interrupted_runs(db: &Database, now: i64, cutoff: i64) -> Result<usize> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM issuance_runs \
             WHERE state IN ('pending', 'running') AND update_micros < $1",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await?
    });
    let mut n = 0;
    for (doc,) in rows {
        let mut run: RunRecord = parse(&doc, "issuance run")?;
        run.state = RunState::Failed;
        run.error_sequence = run.cursor + 1;
        run.error = "interrupted: the service stopped while the run was in progress; start a new run to resume after the last certificate stored".into();
        run.end_micros = now.max(run.update_micros + 1);
        run.update_micros = run.end_micros;
        // Only if its lease is still lapsed: a process that renewed it meanwhile keeps its run.
        let done = with_db!(db, pool => {
            sqlx::query(
                "UPDATE issuance_runs SET state = $1, doc_json = $2, update_micros = $3 \
                 WHERE id = $4 AND state IN ('pending', 'running') AND update_micros < $5",
            )
            .bind(run.state.key())
            .bind(json(&run))
            .bind(run.update_micros)
            .bind(run.id.clone())
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected()
        });
        n += done as usize;
    }
    Ok(n)
}

/// Claims for this replica the PENDING or RUNNING runs whose lease lapsed before `cutoff`
/// (their process stopped): each gets a lease from `now`, state and progress unchanged, and is
/// returned to be resumed. A run another replica claimed first, or whose process renewed its
/// lease meanwhile, is not returned.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.claim_lapsed_runs", db.operation.name = "certificate.claim_lapsed_runs"))]
pub async fn claim_lapsed_runs(db: &Database, now: i64, cutoff: i64) -> Result<Vec<RunRecord>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM issuance_runs \
             WHERE state IN ('pending', 'running') AND update_micros < $1",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await?
    });
    let mut claimed = Vec::new();
    for (doc,) in rows {
        let run: RunRecord = parse(&doc, "issuance run")?;
        let done = with_db!(db, pool => {
            sqlx::query(
                "UPDATE issuance_runs SET update_micros = $1 \
                 WHERE id = $2 AND state IN ('pending', 'running') AND update_micros < $3",
            )
            .bind(now)
            .bind(run.id.clone())
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 1 {
            claimed.push(run);
        }
    }
    Ok(claimed)
}

/// Stores `run`, already marked CANCELLED, with its audit entry, if it is still PENDING or
/// RUNNING; false (nothing written) when it ended meanwhile.
pub async fn cancel_run(db: &Database, run: &RunRecord, audit: &AuditEntry) -> Result<bool> {
    write_cancelled(db, CancelTable::Runs, &run.id, json(run), audit).await
}

/// Stores `job`, already marked CANCELLED, with its audit entry, if it is still PENDING or
/// RUNNING; false (nothing written) when it ended meanwhile.
pub async fn cancel_archive(
    db: &Database,
    job: &ArchiveRecord,
    audit: &AuditEntry,
) -> Result<bool> {
    write_cancelled(db, CancelTable::Archives, &job.id, json(job), audit).await
}

/// The tables of long-running jobs.
#[derive(Clone, Copy)]
enum CancelTable {
    Runs,
    Archives,
}

/// The one conditional write behind [`cancel_run`] and [`cancel_archive`].
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.cancel_job", db.operation.name = "certificate.cancel_job"))]
async fn write_cancelled(
    db: &Database,
    table: CancelTable,
    id: &str,
    doc: String,
    audit: &AuditEntry,
) -> Result<bool> {
    let sql = match table {
        CancelTable::Runs => {
            "UPDATE issuance_runs SET state = 'cancelled', doc_json = $1 \
             WHERE id = $2 AND state IN ('pending', 'running')"
        }
        CancelTable::Archives => {
            "UPDATE archives SET state = 'cancelled', doc_json = $1 \
             WHERE id = $2 AND state IN ('pending', 'running')"
        }
    };
    let done = with_write_tx!(db, tx => {
        let done = sqlx::query(sql)
            .bind(doc)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 1 {
            append_audit!(tx, audit);
            tx.commit().await?;
        }
        done
    });
    Ok(done == 1)
}

/// Records what a cancelled run did up to its stop (its counters and cursor), keeping it
/// CANCELLED and its end time.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.record_cancelled_run", db.operation.name = "certificate.record_cancelled_run"))]
pub async fn record_cancelled_run(db: &Database, run: &RunRecord) -> Result<()> {
    with_db!(db, pool => {
        sqlx::query(
            "UPDATE issuance_runs SET doc_json = $1, update_micros = $2 \
             WHERE id = $3 AND state = 'cancelled'",
        )
        .bind(json(run))
        .bind(run.update_micros)
        .bind(run.id.clone())
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Runs whose county lies in `[lo, hi)`, newest first, after `(create_micros, id)`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.runs_in", db.operation.name = "certificate.runs_in"))]
pub async fn runs_in(
    db: &Database,
    (lo, hi): (String, String),
    batch_id: &str,
    state: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<RunRecord>> {
    let (before_micros, before_id) = after.unwrap_or((i64::MAX, String::new()));
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM issuance_runs WHERE path >= $1 AND path < $2 \
             AND ($3 = '' OR batch_id = $3) AND ($4 = '' OR state = $4) \
             AND (create_micros < $5 OR (create_micros = $5 AND ($6 = '' OR id < $6))) \
             ORDER BY create_micros DESC, id DESC LIMIT $7",
        )
        .bind(lo)
        .bind(hi)
        .bind(batch_id.to_owned())
        .bind(state.to_owned())
        .bind(before_micros)
        .bind(before_id)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.iter()
        .map(|(doc,)| parse(doc, "issuance run"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parked results

/// Whether any result of the batch is parked.
pub async fn has_parked(db: &Database, batch_id: &str) -> Result<bool> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT result_key FROM parked_results WHERE batch_id = $1 LIMIT 1")
            .bind(batch_id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    Ok(row.is_some())
}

/// The parked results of a batch, in stream order.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.parked_of_batch", db.operation.name = "certificate.parked_of_batch"))]
pub async fn parked_of_batch(db: &Database, batch_id: &str) -> Result<Vec<ParkedRecord>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM parked_results WHERE batch_id = $1 ORDER BY sequence, result_key",
        )
        .bind(batch_id.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.iter()
        .map(|(doc,)| parse(doc, "parked result"))
        .collect()
}

/// Parked results under a scope path range (of one batch when `batch_id` is set), by result
/// key after `after`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.parked_in", db.operation.name = "certificate.parked_in"))]
pub async fn parked_in(
    db: &Database,
    (lo, hi): (String, String),
    batch_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ParkedRecord>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        if batch_id.is_empty() {
            sqlx::query_as(
                "SELECT doc_json FROM parked_results WHERE path >= $1 AND path < $2 \
                 AND result_key > $3 ORDER BY result_key LIMIT $4",
            )
            .bind(lo)
            .bind(hi)
            .bind(after.to_owned())
            .bind(limit)
            .fetch_all(pool)
            .await?
        } else {
            sqlx::query_as(
                "SELECT doc_json FROM parked_results WHERE batch_id = $1 AND path >= $2 \
                 AND path < $3 AND result_key > $4 ORDER BY result_key LIMIT $5",
            )
            .bind(batch_id.to_owned())
            .bind(lo)
            .bind(hi)
            .bind(after.to_owned())
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    });
    rows.iter()
        .map(|(doc,)| parse(doc, "parked result"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Certificates

const CERT_COLUMNS: &str = "id, number, result_key, batch_id, teacher, school, path, status, \
    search_key, pdf_sha256, payload, signature, log_index, doc_json, create_micros, update_micros";

type CertRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    i64,
    String,
    i64,
    i64,
);

fn cert_from(row: CertRow) -> Result<CertificateRecord> {
    Ok(CertificateRecord {
        id: row.0,
        number: row.1,
        result_key: row.2,
        batch_id: row.3,
        teacher: row.4,
        school: row.5,
        path: ScopePath::parse(&row.6).ok_or_else(|| corrupt("certificate path"))?,
        status: Status::from_key(&row.7).ok_or_else(|| corrupt("certificate status"))?,
        search_key: row.8,
        pdf_sha256: row.9,
        payload: row.10,
        signature: row.11,
        log_index: row.12,
        doc: parse(&row.13, "certificate")?,
        create_micros: row.14,
        update_micros: row.15,
    })
}

/// A certificate by id.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificate", db.operation.name = "certificate.certificate"))]
pub async fn certificate(db: &Database, id: &str) -> Result<Option<CertificateRecord>> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1");
    let row: Option<CertRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id.to_owned()).fetch_optional(pool).await?
    });
    row.map(cert_from).transpose()
}

/// The certificate whose issued PDF has this SHA-256.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificate_by_pdf", db.operation.name = "certificate.certificate_by_pdf"))]
pub async fn certificate_by_pdf(db: &Database, sha256: &str) -> Result<Option<CertificateRecord>> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE pdf_sha256 = $1 LIMIT 1");
    let row: Option<CertRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(sha256.to_owned()).fetch_optional(pool).await?
    });
    row.map(cert_from).transpose()
}

/// A teacher's certificates by search key, newest first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificates_by_search_key", db.operation.name = "certificate.certificates_by_search_key"))]
pub async fn certificates_by_search_key(
    db: &Database,
    key: &str,
) -> Result<Vec<CertificateRecord>> {
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE search_key = $1 ORDER BY create_micros DESC, number DESC LIMIT 1000"
    );
    let rows: Vec<CertRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(key.to_owned()).fetch_all(pool).await?
    });
    rows.into_iter().map(cert_from).collect()
}

/// Which of `keys` already have a certificate.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.issued_result_keys", db.operation.name = "certificate.issued_result_keys"))]
pub async fn issued_result_keys(db: &Database, keys: &[String]) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        let list = json(&chunk);
        let rows: Vec<(String,)> = with_db!(db, pool => {
            match db.backend() {
                tica_storage::Backend::Sqlite => sqlx::query_as(
                    "SELECT result_key FROM certificates WHERE result_key IN (SELECT value FROM json_each($1))",
                ),
                tica_storage::Backend::Postgres => sqlx::query_as(
                    "SELECT result_key FROM certificates WHERE result_key IN (SELECT jsonb_array_elements_text($1::jsonb))",
                ),
            }
            .bind(list)
            .fetch_all(pool)
            .await?
        });
        found.extend(rows.into_iter().map(|(k,)| k));
    }
    Ok(found)
}

/// The certificate of a result key.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificate_by_result", db.operation.name = "certificate.certificate_by_result"))]
pub async fn certificate_by_result(db: &Database, key: &str) -> Result<Option<CertificateRecord>> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE result_key = $1");
    let row: Option<CertRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(key.to_owned()).fetch_optional(pool).await?
    });
    row.map(cert_from).transpose()
}

/// Filters of [`certificates`].
#[derive(Clone, Debug, Default)]
pub struct CertFilter {
    /// Scope path range `[lo, hi)`.
    pub range: (String, String),
    /// Only this teacher number.
    pub teacher: String,
    /// Only this batch id.
    pub batch_id: String,
    /// Only this status key.
    pub status: String,
    /// Only this kind key.
    pub kind: String,
    /// Only this micro-competency code.
    pub micro_competency: String,
    /// Only this year (0: any).
    pub year: i64,
}

/// Certificates matching `filter` ordered by number after `after`; with the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificates", db.operation.name = "certificate.certificates"))]
pub async fn certificates(
    db: &Database,
    filter: &CertFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<CertificateRecord>, i64)> {
    let clause = "path >= $1 AND path < $2 AND ($3 = '' OR teacher = $3) AND ($4 = '' OR batch_id = $4) \
        AND ($5 = '' OR status = $5) AND ($6 = '' OR kind = $6) AND ($7 = '' OR micro_competency = $7) \
        AND ($8 = 0 OR year = $8)";
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE {clause} AND number > $9 ORDER BY number LIMIT $10"
    );
    let count = format!("SELECT COUNT(*) FROM certificates WHERE {clause}");
    let f = filter.clone();
    let (rows, total): (Vec<CertRow>, (i64,)) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(f.range.0.clone()).bind(f.range.1.clone()).bind(f.teacher.clone())
            .bind(f.batch_id.clone()).bind(f.status.clone()).bind(f.kind.clone())
            .bind(f.micro_competency.clone()).bind(f.year)
            .bind(after.to_owned()).bind(limit)
            .fetch_all(pool).await?;
        let total = sqlx::query_as(sqlx::AssertSqlSafe(count.clone()))
            .bind(f.range.0.clone()).bind(f.range.1.clone()).bind(f.teacher.clone())
            .bind(f.batch_id.clone()).bind(f.status.clone()).bind(f.kind.clone())
            .bind(f.micro_competency.clone()).bind(f.year)
            .fetch_one(pool).await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(cert_from).collect::<Result<_>>()?,
        total.0,
    ))
}

/// The scope path of a school that has certificates.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.school_path", db.operation.name = "certificate.school_path"))]
pub async fn school_path(db: &Database, school: &str) -> Result<Option<ScopePath>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT path FROM certificates WHERE school = $1 LIMIT 1")
            .bind(school.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(|(p,)| ScopePath::parse(&p).ok_or_else(|| corrupt("certificate path")))
        .transpose()
}

/// A certificate's PDF.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.pdf", db.operation.name = "certificate.pdf"))]
pub async fn pdf(db: &Database, id: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT pdf FROM certificate_pdfs WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(p,)| p))
}

/// Ids of a school's certificates in number order (for archives).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.school_certificate_ids", db.operation.name = "certificate.school_certificate_ids"))]
pub async fn school_certificate_ids(
    db: &Database,
    school: &str,
    batch_id: &str,
    include_revoked: bool,
) -> Result<Vec<(String, String, Status)>> {
    let rows: Vec<(String, String, String)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT id, number, status FROM certificates WHERE school = $1 AND ($2 = '' OR batch_id = $2) \
             AND ($3 OR status = 'active') ORDER BY number",
        )
        .bind(school.to_owned())
        .bind(batch_id.to_owned())
        .bind(include_revoked)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|(id, number, status)| {
            Ok((
                id,
                number,
                Status::from_key(&status).ok_or_else(|| corrupt("status"))?,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The log

/// Leaf hashes from index `from` on, in order.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.leaf_hashes_from", db.operation.name = "certificate.leaf_hashes_from"))]
pub async fn leaf_hashes_from(db: &Database, from: i64) -> Result<Vec<(i64, Vec<u8>)>> {
    Ok(with_db!(db, pool => {
        sqlx::query_as("SELECT idx, leaf_hash FROM log_entries WHERE idx >= $1 ORDER BY idx")
            .bind(from)
            .fetch_all(pool)
            .await?
    }))
}

/// The log's size: its last index + 1, 0 when empty.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.log_size", db.operation.name = "certificate.log_size"))]
pub async fn log_size(db: &Database) -> Result<i64> {
    let (last,): (Option<i64>,) = with_db!(db, pool => {
        sqlx::query_as("SELECT MAX(idx) FROM log_entries").fetch_one(pool).await?
    });
    Ok(last.map_or(0, |l| l + 1))
}

/// The leaf hash of entry `idx`, when the log holds it.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.leaf_hash", db.operation.name = "certificate.leaf_hash"))]
pub async fn leaf_hash(db: &Database, idx: i64) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT leaf_hash FROM log_entries WHERE idx = $1")
            .bind(idx)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(h,)| h))
}

/// One change of the register: a log entry's index, kind (`issued`, `revoked`) and time, with
/// its certificate as it stands now.
#[derive(Clone, Debug)]
pub struct RegisterChange {
    /// The log index.
    pub idx: i64,
    /// `issued` or `revoked`.
    pub kind: String,
    /// When it was recorded (µs).
    pub create_micros: i64,
    /// The certificate now.
    pub certificate: CertificateRecord,
}

/// The changes of certificates under `[lo, hi)` recorded at log indices in `(after, upto]`,
/// oldest first, at most `limit`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.register_changes", db.operation.name = "certificate.register_changes"))]
pub async fn register_changes(
    db: &Database,
    (lo, hi): (String, String),
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<RegisterChange>> {
    let entries: Vec<(i64, String, i64, String)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT l.idx, l.kind, l.create_micros, l.certificate_id FROM log_entries l \
             JOIN certificates c ON c.id = l.certificate_id \
             WHERE l.idx > $1 AND l.idx <= $2 AND c.path >= $3 AND c.path < $4 \
             ORDER BY l.idx LIMIT $5",
        )
        .bind(after)
        .bind(upto)
        .bind(lo)
        .bind(hi)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    let mut ids: Vec<String> = entries.iter().map(|e| e.3.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut certificates = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE id IN ({})",
            placeholders(chunk.len(), 1)
        );
        let rows: Vec<CertRow> = with_db!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(id.clone());
            }
            q.fetch_all(pool).await?
        });
        for row in rows {
            let record = cert_from(row)?;
            certificates.insert(record.id.clone(), record);
        }
    }
    entries
        .into_iter()
        .map(|(idx, kind, create_micros, id)| {
            Ok(RegisterChange {
                idx,
                kind,
                create_micros,
                certificate: certificates
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| corrupt("a log entry's certificate"))?,
            })
        })
        .collect()
}

type LogRow = (i64, String, String, Vec<u8>, Vec<u8>, i64);
type CheckpointRow = (i64, Vec<u8>, String, String, Vec<u8>, i64);

/// One log entry.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.log_entry", db.operation.name = "certificate.log_entry"))]
pub async fn log_entry(db: &Database, idx: i64) -> Result<Option<LogEntryRecord>> {
    let row: Option<LogRow> = with_db!(db, pool => {
        sqlx::query_as("SELECT idx, kind, certificate_id, entry, leaf_hash, create_micros FROM log_entries WHERE idx = $1")
            .bind(idx)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(log_record))
}

fn log_record(r: LogRow) -> LogEntryRecord {
    LogEntryRecord {
        idx: r.0,
        kind: r.1,
        certificate_id: r.2,
        entry: r.3,
        leaf_hash: r.4,
        create_micros: r.5,
    }
}

/// Every log entry of `kind`, oldest first (draw commitments: a few per county and year).
pub async fn log_entries_of_kind(db: &Database, kind: &str) -> Result<Vec<LogEntryRecord>> {
    let rows: Vec<LogRow> = with_db!(db, pool => {
        sqlx::query_as("SELECT idx, kind, certificate_id, entry, leaf_hash, create_micros FROM log_entries WHERE kind = $1 ORDER BY idx")
            .bind(kind)
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().map(log_record).collect())
}

/// What a checkpoint stores in `key_id`: the Ed25519 key's id, then the SM2 key's after a space.
fn checkpoint_key_ids(c: &CheckpointRecord) -> String {
    match &c.sm2 {
        Some((kid, _)) => format!("{} {kid}", c.key_id),
        None => c.key_id.clone(),
    }
}

/// What a checkpoint stores in `signature`: Ed25519's, then SM2's.
fn checkpoint_signatures(c: &CheckpointRecord) -> Vec<u8> {
    let mut out = c.signature.clone();
    out.extend(c.sm2.iter().flat_map(|(_, sm2)| sm2.iter().copied()));
    out
}

/// The checkpoint of exactly `size`, or the latest when `size` is 0.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.checkpoint", db.operation.name = "certificate.checkpoint"))]
pub async fn checkpoint(db: &Database, size: i64) -> Result<Option<CheckpointRecord>> {
    let row: Option<CheckpointRow> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT tree_size, root_hash, key_id, note, signature, create_micros FROM checkpoints \
             WHERE ($1 = 0 OR tree_size = $1) ORDER BY tree_size DESC LIMIT 1",
        )
        .bind(size)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(|r| {
        // `key_id` and `signature` hold the SM2 key's id and signature after the Ed25519 key's
        // when the checkpoint is signed with both (`CheckpointRecord::sm2`).
        let (key_id, sm2_kid) = match r.2.split_once(' ') {
            Some((kid, sm2)) => (kid.to_owned(), Some(sm2.to_owned())),
            None => (r.2, None),
        };
        let mut signature = r.4;
        let sm2 = sm2_kid.map(|kid| (kid, signature.split_off(signature.len().min(64))));
        CheckpointRecord {
            tree_size: r.0,
            root_hash: r.1,
            key_id,
            note: r.3,
            signature,
            sm2,
            create_micros: r.5,
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Writes that append to the log

/// A certificate to insert with its PDF.
#[derive(Debug)]
pub struct NewCertificate {
    /// The record.
    pub record: CertificateRecord,
    /// The PDF bytes.
    pub pdf: Vec<u8>,
    /// Its number's county and year, and the sequence within them.
    pub counter: (String, i64, i64),
}

/// A revocation to apply.
#[derive(Debug)]
pub struct Revoke {
    /// The certificate, with status and revocation already set.
    pub record: CertificateRecord,
}

/// One atomic write: certificates, revocations, their log entries, the checkpoint, the run's
/// progress and cursor, the audit entries. A unique violation on the log index (another
/// writer appended first) is a [`CertificateError::Conflict`].
#[derive(Debug, Default)]
pub struct Append {
    /// New certificates.
    pub issued: Vec<NewCertificate>,
    /// Revocations.
    pub revoked: Vec<Revoke>,
    /// Log entries, indices consecutive from the log's current size.
    pub entries: Vec<LogEntryRecord>,
    /// The checkpoint after them.
    pub checkpoint: Option<CheckpointRecord>,
    /// Run progress to save, and the batch cursor to set.
    pub run: Option<(RunRecord, i64)>,
    /// Audit entries.
    pub audit: Vec<AuditEntry>,
    /// Results parked (or parked again, replacing the earlier record).
    pub parked: Vec<ParkedRecord>,
    /// Result keys no longer parked (issued or withdrawn); absent keys are ignored.
    pub unparked: Vec<String>,
}

/// `($1, …, $width), ($width+1, …)`: `rows` tuples of `width` placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Commits an [`Append`].
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.append", db.operation.name = "certificate.append"))]
pub async fn append(db: &Database, a: &Append) -> Result<()> {
    let result: std::result::Result<(), sqlx::Error> = async {
        with_write_tx!(db, tx => {
            // Multi-row INSERTs, 100 certificates per statement: a chunk is a handful of
            // round trips rather than four per certificate.
            for rows in a.issued.chunks(100) {
                let sql = format!(
                    "INSERT INTO certificates ({CERT_COLUMNS}, kind, micro_competency, year) VALUES {}",
                    placeholders(rows.len(), 19)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for n in rows {
                    let r = &n.record;
                    q = q
                        .bind(r.id.clone()).bind(r.number.clone()).bind(r.result_key.clone())
                        .bind(r.batch_id.clone()).bind(r.teacher.clone()).bind(r.school.clone())
                        .bind(r.path.as_str().to_owned()).bind(r.status.key()).bind(r.search_key.clone())
                        .bind(r.pdf_sha256.clone()).bind(r.payload.clone()).bind(r.signature.clone())
                        .bind(r.log_index).bind(json(&r.doc)).bind(r.create_micros).bind(r.update_micros)
                        .bind(r.doc.facts.kind.key()).bind(r.doc.facts.micro_competency.clone())
                        .bind(r.doc.facts.year as i64);
                }
                q.execute(&mut *tx).await?;
                let sql = format!(
                    "INSERT INTO certificate_pdfs (id, pdf) VALUES {}",
                    placeholders(rows.len(), 2)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for n in rows {
                    q = q.bind(n.record.id.clone()).bind(n.pdf.clone());
                }
                q.execute(&mut *tx).await?;
            }
            // The last number used per county and year.
            let mut last: std::collections::BTreeMap<(&str, i64), i64> = Default::default();
            for n in &a.issued {
                let (county, year, seq) = &n.counter;
                let e = last.entry((county.as_str(), *year)).or_insert(*seq);
                *e = (*e).max(*seq);
            }
            for ((county, year), seq) in last {
                sqlx::query(
                    "INSERT INTO number_counters (county, year, last) VALUES ($1, $2, $3) \
                     ON CONFLICT (county, year) DO UPDATE SET last = excluded.last",
                )
                .bind(county.to_owned()).bind(year).bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            for r in &a.revoked {
                let r = &r.record;
                let done = sqlx::query(
                    "UPDATE certificates SET status = $1, doc_json = $2, update_micros = $3 WHERE id = $4 AND status = 'active'",
                )
                .bind(r.status.key()).bind(json(&r.doc)).bind(r.update_micros).bind(r.id.clone())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(sqlx::Error::RowNotFound);
                }
            }
            for rows in a.entries.chunks(500) {
                let sql = format!(
                    "INSERT INTO log_entries (idx, kind, certificate_id, entry, leaf_hash, create_micros) VALUES {}",
                    placeholders(rows.len(), 6)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for e in rows {
                    q = q
                        .bind(e.idx).bind(e.kind.clone()).bind(e.certificate_id.clone())
                        .bind(e.entry.clone()).bind(e.leaf_hash.clone()).bind(e.create_micros);
                }
                q.execute(&mut *tx).await?;
            }
            if let Some(c) = &a.checkpoint {
                sqlx::query(
                    "INSERT INTO checkpoints (tree_size, root_hash, key_id, note, signature, create_micros) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(c.tree_size).bind(c.root_hash.clone()).bind(checkpoint_key_ids(c))
                .bind(c.note.clone()).bind(checkpoint_signatures(c)).bind(c.create_micros)
                .execute(&mut *tx)
                .await?;
            }
            if let Some((run, cursor)) = &a.run {
                // A run cancelled meanwhile stays CANCELLED; the chunk itself commits whole.
                sqlx::query(
                    "UPDATE issuance_runs SET state = $1, doc_json = $2, update_micros = $3 \
                     WHERE id = $4 AND state IN ('pending', 'running')",
                )
                    .bind(run.state.key()).bind(json(run)).bind(run.update_micros).bind(run.id.clone())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO batch_cursors (batch_id, cursor) VALUES ($1, $2) \
                     ON CONFLICT (batch_id) DO UPDATE SET cursor = excluded.cursor",
                )
                .bind(run.batch_id.clone()).bind(*cursor)
                .execute(&mut *tx)
                .await?;
            }
            for key in &a.unparked {
                sqlx::query("DELETE FROM parked_results WHERE result_key = $1")
                    .bind(key.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            for p in &a.parked {
                sqlx::query(
                    "INSERT INTO parked_results (result_key, batch_id, path, sequence, doc_json, update_micros) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (result_key) DO UPDATE SET \
                     sequence = excluded.sequence, doc_json = excluded.doc_json, update_micros = excluded.update_micros",
                )
                .bind(p.result_key.clone()).bind(p.batch_id.clone()).bind(p.path.clone())
                .bind(p.sequence).bind(json(p)).bind(p.update_micros)
                .execute(&mut *tx)
                .await?;
            }
            for entry in &a.audit {
                append_audit!(tx, entry);
            }
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(e) if tica_storage::is_unique_violation(&e) => Err(CertificateError::Conflict(
            "another writer appended to the log or issued the same result first".into(),
        )),
        Err(sqlx::Error::RowNotFound) => Err(CertificateError::Conflict(
            "the certificate was revoked meanwhile".into(),
        )),
        other => Ok(other?),
    }
}

/// The last number used for a county and year.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.last_number", db.operation.name = "certificate.last_number"))]
pub async fn last_number(db: &Database, county: &str, year: i64) -> Result<i64> {
    let row: Option<(i64,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT last FROM number_counters WHERE county = $1 AND year = $2")
            .bind(county.to_owned())
            .bind(year)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map_or(0, |(n,)| n))
}

// ---------------------------------------------------------------------------------------------
// Archives

/// An archive by id.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.archive", db.operation.name = "certificate.archive"))]
pub async fn archive(db: &Database, id: &str) -> Result<Option<ArchiveRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT doc_json FROM archives WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(|(doc,)| parse(&doc, "archive")).transpose()
}

/// The archive job `subject` asked for with `request_id` (AIP-155), if any.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.archive_by_request", db.operation.name = "certificate.archive_by_request"))]
pub async fn archive_by_request(
    db: &Database,
    subject: &str,
    request_id: &str,
) -> Result<Option<ArchiveRecord>> {
    let row: Option<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM archives \
             WHERE creator_subject = $1 AND request_id = $2 AND request_id <> ''",
        )
        .bind(subject.to_owned())
        .bind(request_id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(|(doc,)| parse(&doc, "archive")).transpose()
}

/// Stores a new archive job with the request id its creator gave (empty for none); Conflict
/// when another call of the creator's with the same request id stored its job first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.insert_archive", db.operation.name = "certificate.insert_archive"))]
pub async fn insert_archive(
    db: &Database,
    a: &ArchiveRecord,
    request_id: &str,
    audit: &AuditEntry,
) -> Result<()> {
    let result: std::result::Result<(), sqlx::Error> = async {
        with_write_tx!(db, tx => {
            sqlx::query(
                "INSERT INTO archives (id, school, path, state, doc_json, create_micros, \
                 creator_subject, request_id, lease_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)",
            )
            .bind(a.id.clone()).bind(a.school.clone()).bind(a.path.as_str().to_owned())
            .bind(a.state.key()).bind(json(a)).bind(a.create_micros)
            .bind(a.creator.subject.clone()).bind(request_id.to_owned())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(e) if tica_storage::is_unique_violation(&e) => Err(CertificateError::Conflict(
            "another request with this request_id stored its archive at the same moment".into(),
        )),
        other => Ok(other?),
    }
}

/// Archive jobs of schools whose path lies in `[lo, hi)` (of one state when `state` is set),
/// newest first, after `(create_micros, id)`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.archives_in", db.operation.name = "certificate.archives_in"))]
pub async fn archives_in(
    db: &Database,
    (lo, hi): (String, String),
    state: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<ArchiveRecord>> {
    let (before_micros, before_id) = after.unwrap_or((i64::MAX, String::new()));
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM archives WHERE path >= $1 AND path < $2 \
             AND ($3 = '' OR state = $3) \
             AND (create_micros < $4 OR (create_micros = $4 AND ($5 = '' OR id < $5))) \
             ORDER BY create_micros DESC, id DESC LIMIT $6",
        )
        .bind(lo)
        .bind(hi)
        .bind(state.to_owned())
        .bind(before_micros)
        .bind(before_id)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.iter().map(|(doc,)| parse(doc, "archive")).collect()
}

/// Saves an archive job's progress or end.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.save_archive", db.operation.name = "certificate.save_archive"))]
///
/// Only while it is PENDING or RUNNING: false when it is not (cancelled), and then nothing
/// changed.
///
/// Each save renews the job's lease (see [`claim_lapsed_archives`]).
pub async fn save_archive(db: &Database, a: &ArchiveRecord) -> Result<bool> {
    let done = with_db!(db, pool => {
        sqlx::query(
            "UPDATE archives SET state = $1, doc_json = $2, lease_micros = $3 \
             WHERE id = $4 AND state IN ('pending', 'running')",
        )
        .bind(a.state.key())
        .bind(json(a))
        .bind(tica_storage::now_micros())
        .bind(a.id.clone())
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(done == 1)
}

/// Claims for this replica the PENDING or RUNNING archive jobs whose lease lapsed before
/// `cutoff` (their builder stopped): each is reset to PENDING with nothing added and a lease
/// from `now`, and returned to be built again. A job another replica claimed first, or whose
/// builder renewed its lease meanwhile, is not returned.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.claim_lapsed_archives", db.operation.name = "certificate.claim_lapsed_archives"))]
pub async fn claim_lapsed_archives(
    db: &Database,
    now: i64,
    cutoff: i64,
) -> Result<Vec<ArchiveRecord>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT doc_json FROM archives \
             WHERE state IN ('pending', 'running') AND lease_micros < $1",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await?
    });
    let mut claimed = Vec::new();
    for (doc,) in rows {
        let mut job: ArchiveRecord = parse(&doc, "archive")?;
        job.state = ArchiveState::Pending;
        job.added = 0;
        let done = with_db!(db, pool => {
            sqlx::query(
                "UPDATE archives SET state = $1, doc_json = $2, lease_micros = $3 \
                 WHERE id = $4 AND state IN ('pending', 'running') AND lease_micros < $5",
            )
            .bind(job.state.key())
            .bind(json(&job))
            .bind(now)
            .bind(job.id.clone())
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 1 {
            claimed.push(job);
        }
    }
    Ok(claimed)
}

// ---------------------------------------------------------------------------------------------
// Guess throttles and the revocation list

/// A throttle's stored state (see the `guess_throttle` table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleRow {
    /// Failed guesses counted.
    pub failures: i64,
    /// Overall budget: when the window began (µs).
    pub window_start_micros: i64,
    /// Overall budget: windows in a row over it.
    pub strikes: i64,
    /// Nothing is evaluated before this instant (µs).
    pub locked_until_micros: i64,
    /// The row's version: strictly increasing.
    pub update_micros: i64,
}

/// A throttle's state; None when it was never charged.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.throttle", db.operation.name = "certificate.throttle"))]
pub async fn throttle(db: &Database, key: &str) -> Result<Option<ThrottleRow>> {
    let row: Option<(i64, i64, i64, i64, i64)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT failures, window_start_micros, strikes, locked_until_micros, update_micros \
             FROM guess_throttle WHERE key = $1",
        )
        .bind(key.to_owned())
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(
        |(failures, window_start_micros, strikes, locked_until_micros, update_micros)| {
            ThrottleRow {
                failures,
                window_start_micros,
                strikes,
                locked_until_micros,
                update_micros,
            }
        },
    ))
}

/// Replaces a throttle's state if it is still `old` (None: absent); whether it was replaced
/// (false: another guess changed it first — read again and retry).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.set_throttle", db.operation.name = "certificate.set_throttle"))]
pub async fn set_throttle(
    db: &Database,
    key: &str,
    old: Option<&ThrottleRow>,
    new: &ThrottleRow,
) -> Result<bool> {
    let affected = with_db!(db, pool => {
        match old {
            None => sqlx::query(
                "INSERT INTO guess_throttle (key, failures, window_start_micros, strikes, \
                 locked_until_micros, update_micros) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key.to_owned())
            .bind(new.failures)
            .bind(new.window_start_micros)
            .bind(new.strikes)
            .bind(new.locked_until_micros)
            .bind(new.update_micros)
            .execute(pool)
            .await?
            .rows_affected(),
            Some(old) => sqlx::query(
                "UPDATE guess_throttle SET failures = $2, window_start_micros = $3, strikes = $4, \
                 locked_until_micros = $5, update_micros = $6 WHERE key = $1 AND update_micros = $7",
            )
            .bind(key.to_owned())
            .bind(new.failures)
            .bind(new.window_start_micros)
            .bind(new.strikes)
            .bind(new.locked_until_micros)
            .bind(new.update_micros)
            .bind(old.update_micros)
            .execute(pool)
            .await?
            .rows_affected(),
        }
    });
    Ok(affected == 1)
}

/// The ids of every revoked certificate.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.revoked_ids", db.operation.name = "certificate.revoked_ids"))]
pub async fn revoked_ids(db: &Database) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = with_db!(db, pool => {
        sqlx::query_as("SELECT id FROM certificates WHERE status = 'revoked' ORDER BY id")
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The index of the newest revocation in the log, -1 when there is none: the revocation
/// list changes exactly when this does.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.last_revocation", db.operation.name = "certificate.last_revocation"))]
pub async fn last_revocation(db: &Database) -> Result<i64> {
    let row: (Option<i64>,) = with_db!(db, pool => {
        sqlx::query_as("SELECT MAX(idx) FROM log_entries WHERE kind = 'revoked'")
            .fetch_one(pool)
            .await?
    });
    Ok(row.0.unwrap_or(-1))
}

/// The certificate printed with this number.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.certificate_by_number", db.operation.name = "certificate.certificate_by_number"))]
pub async fn certificate_by_number(
    db: &Database,
    number: &str,
) -> Result<Option<CertificateRecord>> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE number = $1");
    let row: Option<CertRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(number.to_owned()).fetch_optional(pool).await?
    });
    row.map(cert_from).transpose()
}

// ---------------------------------------------------------------------------------------------
// Verification codes

const CODE_COLUMNS: &str = "v.id, v.certificate_id, v.number, v.teacher, v.path, v.code_hash, \
    v.hint, v.create_micros, v.expire_micros, v.revoke_micros, v.creator_subject, \
    v.revoker_subject, v.use_count, v.last_use_micros";

type CodeRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    i64,
    i64,
);

fn code_from(row: CodeRow) -> Result<CodeRecord> {
    Ok(CodeRecord {
        id: row.0,
        certificate_id: row.1,
        number: row.2,
        teacher: row.3,
        path: ScopePath::parse(&row.4).ok_or_else(|| corrupt("verification code path"))?,
        code_hash: row.5,
        hint: row.6,
        create_micros: row.7,
        expire_micros: row.8,
        revoke_micros: row.9,
        creator: row.10,
        revoker: row.11,
        use_count: row.12,
        last_use_micros: row.13,
    })
}

/// Stores a new verification code with its audit entry; Conflict when its hash is taken (a
/// one-in-2^60 coincidence: the caller draws another code).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.insert_code", db.operation.name = "certificate.insert_code"))]
pub async fn insert_code(db: &Database, c: &CodeRecord, audit: &AuditEntry) -> Result<()> {
    let result: std::result::Result<(), sqlx::Error> = async {
        with_write_tx!(db, tx => {
            sqlx::query(
                "INSERT INTO verification_codes (id, certificate_id, number, teacher, path, \
                 code_hash, hint, create_micros, expire_micros, revoke_micros, creator_subject, \
                 revoker_subject, use_count, last_use_micros) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, '', 0, 0)",
            )
            .bind(c.id.clone()).bind(c.certificate_id.clone()).bind(c.number.clone())
            .bind(c.teacher.clone()).bind(c.path.as_str().to_owned()).bind(c.code_hash.clone())
            .bind(c.hint.clone()).bind(c.create_micros).bind(c.expire_micros)
            .bind(c.creator.clone())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(e) if tica_storage::is_unique_violation(&e) => Err(CertificateError::Conflict(
            "a verification code with this hash exists".into(),
        )),
        other => Ok(other?),
    }
}

/// How many of a certificate's codes are neither revoked nor expired at `now`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.active_codes", db.operation.name = "certificate.active_codes"))]
pub async fn active_codes(db: &Database, certificate_id: &str, now: i64) -> Result<i64> {
    let row: (i64,) = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT COUNT(*) FROM verification_codes \
             WHERE certificate_id = $1 AND revoke_micros = 0 AND expire_micros > $2",
        )
        .bind(certificate_id.to_owned())
        .bind(now)
        .fetch_one(pool)
        .await?
    });
    Ok(row.0)
}

/// A code by id, of the certificate `certificate_id`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.code", db.operation.name = "certificate.code"))]
pub async fn code(db: &Database, certificate_id: &str, id: &str) -> Result<Option<CodeRecord>> {
    let sql = format!(
        "SELECT {CODE_COLUMNS} FROM verification_codes v WHERE v.id = $1 AND v.certificate_id = $2"
    );
    let row: Option<CodeRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id.to_owned()).bind(certificate_id.to_owned())
            .fetch_optional(pool).await?
    });
    row.map(code_from).transpose()
}

/// The code whose hash is `code_hash`, with the stored document of its certificate (whose
/// facts hold the holder's name), in one statement whether or not it exists.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.code_by_hash", db.operation.name = "certificate.code_by_hash"))]
pub async fn code_by_hash(
    db: &Database,
    code_hash: &str,
) -> Result<Option<(CodeRecord, CertificateDoc)>> {
    let sql = format!(
        "SELECT {CODE_COLUMNS}, c.doc_json FROM verification_codes v \
         JOIN certificates c ON c.id = v.certificate_id WHERE v.code_hash = $1"
    );
    type Row = (CodeRow, String);
    let row: Option<Row> = with_db!(db, pool => {
        sqlx::query_as::<_, (String, String, String, String, String, String, String, i64, i64, i64, String, String, i64, i64, String)>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(code_hash.to_owned())
            .fetch_optional(pool).await?
            .map(|r| ((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13), r.14))
    });
    row.map(|(code, doc)| Ok((code_from(code)?, parse(&doc, "certificate")?)))
        .transpose()
}

/// Which codes a list holds.
#[derive(Clone, Debug, Default)]
pub struct CodeFilter {
    /// Scope path range `[lo, hi)` of their certificates.
    pub range: (String, String),
    /// Only this certificate's, when set.
    pub certificate_id: String,
    /// Only this teacher's, when set.
    pub teacher: String,
}

/// Codes matching `filter`, newest first, after `(create_micros, id)`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.codes", db.operation.name = "certificate.codes"))]
pub async fn codes(
    db: &Database,
    filter: &CodeFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<CodeRecord>> {
    let (before_micros, before_id) = after.unwrap_or((i64::MAX, String::new()));
    let sql = format!(
        "SELECT {CODE_COLUMNS} FROM verification_codes v WHERE v.path >= $1 AND v.path < $2 \
         AND ($3 = '' OR v.certificate_id = $3) AND ($4 = '' OR v.teacher = $4) \
         AND (v.create_micros < $5 OR (v.create_micros = $5 AND ($6 = '' OR v.id < $6))) \
         ORDER BY v.create_micros DESC, v.id DESC LIMIT $7"
    );
    let f = filter.clone();
    let rows: Vec<CodeRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(f.range.0.clone()).bind(f.range.1.clone())
            .bind(f.certificate_id.clone()).bind(f.teacher.clone())
            .bind(before_micros).bind(before_id.clone()).bind(limit)
            .fetch_all(pool).await?
    });
    rows.into_iter().map(code_from).collect()
}

/// Revokes a code that is not revoked yet, with its audit entry; false (and nothing written)
/// when it already was.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.revoke_code", db.operation.name = "certificate.revoke_code"))]
pub async fn revoke_code(
    db: &Database,
    id: &str,
    now: i64,
    revoker: &str,
    audit: &AuditEntry,
) -> Result<bool> {
    let done = with_write_tx!(db, tx => {
        let done = sqlx::query(
            "UPDATE verification_codes SET revoke_micros = $1, revoker_subject = $2 \
             WHERE id = $3 AND revoke_micros = 0",
        )
        .bind(now)
        .bind(revoker.to_owned())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1 {
            append_audit!(tx, audit);
            tx.commit().await?;
        }
        done
    });
    Ok(done == 1)
}

/// Counts a successful lookup with a code at `now`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.record_code_use", db.operation.name = "certificate.record_code_use"))]
pub async fn record_code_use(db: &Database, id: &str, now: i64) -> Result<()> {
    with_db!(db, pool => {
        sqlx::query(
            "UPDATE verification_codes SET use_count = use_count + 1, last_use_micros = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Certificate `id`'s position in the Bitstring Status List, assigned (the next free one) the
/// first time it is asked for. Two first asks at once: one insert wins the position, the other
/// conflicts on it and takes the next.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.status_list_index", db.operation.name = "certificate.status_list_index"))]
pub async fn status_list_index(db: &Database, id: &str) -> Result<i64> {
    for _ in 0..8 {
        let found: Option<(i64,)> = with_db!(db, pool => {
            sqlx::query_as("SELECT idx FROM status_list_entries WHERE certificate_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        if let Some((idx,)) = found {
            return Ok(idx);
        }
        // A position taken meanwhile conflicts on the UNIQUE index and inserts nothing: ask
        // again. (`WHERE true`: SQLite's parser needs it between a SELECT and ON CONFLICT.)
        with_db!(db, pool => {
            sqlx::query(
                "INSERT INTO status_list_entries (certificate_id, idx) \
                 SELECT $1, COALESCE(MAX(idx), -1) + 1 FROM status_list_entries WHERE true \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())?
        });
    }
    Err(CertificateError::Unavailable(
        "no status list position could be assigned: try again".into(),
    ))
}

/// The status list positions of the revoked certificates.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "certificate.revoked_status_indexes", db.operation.name = "certificate.revoked_status_indexes"))]
pub async fn revoked_status_indexes(db: &Database) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT s.idx FROM status_list_entries s JOIN certificates c ON c.id = s.certificate_id \
             WHERE c.status = 'revoked' ORDER BY s.idx",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(|(idx,)| idx).collect())
}
