//! Issuance runs: one pass over a batch's certified-results stream, issuing one certificate per
//! certified result and revoking the certificate of a withdrawn one, in chunks, each chunk one
//! transaction with the batch's cursor — so a run that stops (crash, failure) is resumed by the
//! next one exactly where it stopped.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use tica_credential::qr::{self, QrClaims};
use tracing::Instrument;

use super::log::{Pending, entry_bytes};
use super::{
    Certificates, Ctx, audit_entry, denied, invalid, new_certificate_id, not_found, precondition,
};
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store::{self, Append, NewCertificate, Revoke};
use crate::upstream::{CertifiedEvent, EventKind, StreamItem};

/// A revocation's explanation, shown on the verification page: required, at most 200
/// characters.
pub fn check_explanation(explanation: &str) -> std::result::Result<(), &'static str> {
    let explanation = explanation.trim();
    if explanation.is_empty() || explanation.chars().count() > 200 {
        return Err("required: shown on the verification page (at most 200 characters)");
    }
    Ok(())
}

/// How often a process renews the lease on a run it is running (the lease lasts
/// [`store::RUN_LEASE_MICROS`]).
pub const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(15);

/// The error text with which a run's consumption stops when the run is no longer its to run.
const STOPPED: &str = "the run was cancelled or taken over";

/// The explanation of a revocation that follows a withdrawn result, when none is given.
pub const WITHDRAWN: &str =
    "复核结果不合格，证书撤销 The certified result was withdrawn after review";

/// A certificate made: the record, its PDF, and its number's (county, year, sequence).
type Made = (CertificateRecord, Vec<u8>, (String, i64, i64));

/// The log entry that says `record` was issued.
fn issued_entry(record: &CertificateRecord) -> Pending {
    Pending {
        kind: "issued",
        certificate_id: record.id.clone(),
        entry: entry_bytes(
            "issued",
            &record.id,
            &record.payload,
            &record.pdf_sha256,
            record.create_micros,
            None,
        ),
    }
}

/// The last printed number per (county, year) within a run.
pub type Numbers = HashMap<(String, i64), i64>;

/// A certified result to issue, before it has a number: its certificate id and search key.
struct Candidate {
    event: CertifiedEvent,
    id: String,
    search_key: String,
}

/// What could not be made: the event and why, for a person.
type Failed = (CertifiedEvent, String);

/// One certified result to issue, with its number and id.
struct ToIssue {
    event: CertifiedEvent,
    id: String,
    number: String,
    counter: (String, i64, i64),
    search_key: String,
}

fn zh_date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!(
            "{y}年{}月{}日",
            m.trim_start_matches('0'),
            d.trim_start_matches('0')
        ),
        _ => iso.to_owned(),
    }
}

fn hours_text(centihours: i64) -> String {
    if centihours % 100 == 0 {
        format!("{}", centihours / 100)
    } else {
        format!("{}.{:02}", centihours / 100, centihours % 100)
            .trim_end_matches('0')
            .to_owned()
    }
}

/// A certified result ready to number, or why not (its teacher is not in the roster's export).
fn candidate(
    run: &RunRecord,
    event: CertifiedEvent,
    search_keys: &HashMap<String, String>,
) -> std::result::Result<Candidate, Box<Failed>> {
    let teacher = &event.teacher;
    match search_keys.get(teacher) {
        Some(key) => Ok(Candidate {
            id: new_certificate_id(),
            search_key: key.clone(),
            event,
        }),
        None => {
            let reason = format!(
                "teachers/{teacher} of result {} is not in the roster of {}",
                event.result_key, run.county
            );
            Err(Box::new((event, reason)))
        }
    }
}

/// Why a certificate was not made, as offices read it: the error's own sentence.
fn reason_of(error: &CertificateError) -> String {
    match error {
        CertificateError::Internal(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The parked record of `event` for `run` (after `before`, the earlier record of the same
/// result, when a retry failed again).
fn parked_record(
    run: &RunRecord,
    event: CertifiedEvent,
    reason: String,
    before: Option<&ParkedRecord>,
    now: i64,
) -> ParkedRecord {
    ParkedRecord {
        result_key: event.result_key.clone(),
        batch_id: run.batch_id.clone(),
        path: run.path.to_string(),
        sequence: event.sequence,
        teacher: event.teacher.clone(),
        school: event.school.clone(),
        reason,
        run_id: run.id.clone(),
        attempts: before.map_or(0, |b| b.attempts) + 1,
        event_hex: hex::encode(&event.source),
        park_micros: before.map_or(now, |b| b.park_micros),
        update_micros: now,
    }
}

impl Certificates {
    /// Starts issuing a batch (or returns its run in progress). With a `request_id` (AIP-155),
    /// a retry by the same caller gets the run the first call started, as it stands now.
    pub async fn start_run(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        request_id: &str,
    ) -> Result<RunRecord> {
        if let Some(run) = self.run_retried(ctx, batch_id, request_id).await? {
            return Ok(run);
        }
        let batch = self.inner.upstream.batch(&ctx.token, batch_id).await?;
        let county_code = batch.county;
        let county = tica_domain::division::DivisionCode::parse(&county_code).map_err(|_| {
            CertificateError::Internal(format!("batch {batch_id} names county {county_code:?}"))
        })?;
        let path = tica_domain::ScopePath::for_jurisdiction(county);
        if !ctx.caller.covers(&path) {
            return Err(denied(format!(
                "only the county's office or an office above it issues certificates for batches/{batch_id}"
            )));
        }
        if !batch.certified {
            return Err(precondition(format!(
                "batches/{batch_id} is not CERTIFIED: certificates are issued only for certified results"
            )));
        }
        let latest = store::latest_run(&self.inner.db, batch_id).await?;
        if let Some(run) = &latest
            && !run.state.is_terminal()
        {
            return Ok(run.clone());
        }
        let seq = latest.map_or(1, |r| r.seq + 1);
        let cursor = store::cursor(&self.inner.db, batch_id).await?;
        let now = tica_storage::now_micros();
        let run = RunRecord {
            id: format!("{batch_id}-{seq}"),
            batch_id: batch_id.to_owned(),
            seq,
            county: format!("jurisdictions/{county_code}"),
            path,
            state: RunState::Pending,
            start_after_sequence: cursor,
            cursor,
            target_sequence: cursor,
            events_processed: 0,
            certificates_issued: 0,
            certificates_revoked: 0,
            already_issued: 0,
            results_parked: 0,
            parked_issued: 0,
            error_sequence: 0,
            error: String::new(),
            creator: ctx.actor(),
            create_micros: now,
            start_micros: 0,
            end_micros: 0,
            update_micros: now,
        };
        let audit = ctx.audit(
            "StartIssuanceRun",
            format!("issuanceRuns/{}", run.id),
            &run.path,
            serde_json::json!({ "batch": format!("batches/{batch_id}"), "start_after_sequence": cursor }),
        );
        if let Err(error) = store::insert_run(&self.inner.db, &run, request_id, &audit).await {
            // A retry racing its first call: the one that stored its run answers for both.
            return match self.run_retried(ctx, batch_id, request_id).await? {
                Some(first) => Ok(first),
                None => Err(error),
            };
        }
        let this = self.clone();
        let token = ctx.token.clone();
        let started = run.clone();
        // The run outlives the call that started it, but belongs to its trace: every chunk's
        // calls upstream and writes show under the StartIssuanceRun span.
        let span = tracing::info_span!("issuance run", otel.name = "issuance run", run = %run.id);
        tokio::spawn(
            async move {
                let id = started.id.clone();
                if let Err(error) = this.execute(started, token).await {
                    tracing::error!(run = %id, %error, "an issuance run could not record its end");
                }
            }
            .instrument(span),
        );
        Ok(run)
    }

    /// The run the caller started with `request_id`, when this call is a retry (AIP-155);
    /// ALREADY_EXISTS when that run is of another batch. None without a request id, or when
    /// the caller started none with it (or no longer covers its county).
    async fn run_retried(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        request_id: &str,
    ) -> Result<Option<RunRecord>> {
        tica_server::check_request_id(request_id)?;
        if request_id.is_empty() {
            return Ok(None);
        }
        let Some(run) =
            store::run_by_request(&self.inner.db, &ctx.caller.subject, request_id).await?
        else {
            return Ok(None);
        };
        if !ctx.caller.covers(&run.path) {
            return Ok(None);
        }
        if run.batch_id != batch_id {
            return Err(CertificateError::AlreadyExists(format!(
                "request_id {request_id} started issuanceRuns/{} of batches/{}, not of batches/{batch_id}: \
                 make a new request_id for each run",
                run.id, run.batch_id
            )));
        }
        Ok(Some(run))
    }

    /// A run the caller may see: its county's offices and those above.
    ///
    /// Scope before state: a run's id begins with its batch's county (`{county}-{year}-{seq}`),
    /// so a caller who could see no run there is refused before anything is read — another
    /// county's runs answer alike whether they exist or not. Only then is a missing run
    /// NOT_FOUND.
    pub async fn run(&self, ctx: &Ctx, id: &str) -> Result<RunRecord> {
        let sees = |path: &tica_domain::ScopePath| {
            ctx.caller.covers(path) || path.contains(&ctx.caller.scope)
        };
        let refused = || denied("the run's county is outside this token's jurisdiction");
        let named = id
            .split_once('-')
            .and_then(|(code, _)| tica_domain::division::DivisionCode::parse(code).ok())
            .map(tica_domain::ScopePath::for_jurisdiction)
            .ok_or_else(|| not_found(format!("issuanceRuns/{id}")))?;
        if !sees(&named) {
            return Err(refused());
        }
        let run = store::run(&self.inner.db, id)
            .await?
            .ok_or_else(|| not_found(format!("issuanceRuns/{id}")))?;
        if !sees(&run.path) {
            return Err(refused());
        }
        Ok(run)
    }

    /// Runs under the caller's jurisdiction (or `scope`), newest first.
    pub async fn runs(
        &self,
        ctx: &Ctx,
        scope: Option<tica_domain::ScopePath>,
        batch_id: &str,
        state: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<RunRecord>> {
        let scope = match scope {
            Some(s) => {
                ctx.caller
                    .require_covers(&s)
                    .map_err(|s| denied(s.message().to_owned()))?;
                s
            }
            None => ctx.caller.scope.clone(),
        };
        store::runs_in(&self.inner.db, scope.range(), batch_id, state, after, limit).await
    }

    /// Parked results under the caller's jurisdiction (or `scope`), by result key after
    /// `after`.
    pub async fn parked(
        &self,
        ctx: &Ctx,
        scope: Option<tica_domain::ScopePath>,
        batch_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ParkedRecord>> {
        let scope = match scope {
            Some(s) => {
                ctx.caller
                    .require_covers(&s)
                    .map_err(|s| denied(s.message().to_owned()))?;
                s
            }
            None => ctx.caller.scope.clone(),
        };
        store::parked_in(&self.inner.db, scope.range(), batch_id, after, limit).await
    }

    /// Cancels a PENDING or RUNNING run the caller could start: it stops at its next chunk
    /// boundary. A CANCELLED run answers as it stands; a run that ended otherwise is refused.
    pub async fn cancel_run(&self, ctx: &Ctx, id: &str) -> Result<RunRecord> {
        let run = self.run(ctx, id).await?;
        if !ctx.caller.covers(&run.path) {
            return Err(denied(
                "only the county's office or an office above it cancels its issuance runs",
            ));
        }
        let ended = |run: &RunRecord| {
            Err(super::job_ended(
                &format!("issuanceRuns/{id}"),
                run.state.key(),
            ))
        };
        match run.state {
            RunState::Cancelled => return Ok(run),
            state if state.is_terminal() => return ended(&run),
            _ => {}
        }
        let audit = ctx.audit(
            "CancelIssuanceRun",
            format!("issuanceRuns/{id}"),
            &run.path,
            serde_json::json!({ "cursor": run.cursor }),
        );
        let mut cancelled = run;
        cancelled.state = RunState::Cancelled;
        cancelled.end_micros = super::next_micros(cancelled.update_micros);
        cancelled.update_micros = cancelled.end_micros;
        if store::cancel_run(&self.inner.db, &cancelled, &audit).await? {
            return Ok(cancelled);
        }
        // It ended between the read and the write: say how.
        let now = self.run(ctx, id).await?;
        if now.state == RunState::Cancelled {
            Ok(now)
        } else {
            ended(&now)
        }
    }

    /// Takes over the runs whose process stopped (their lease lapsed a lease period ago). With
    /// the token key ([`super::Config::resume_signer`]) each is claimed for this replica (one
    /// replica wins each) and resumed here from its last committed chunk, acting as the run's
    /// county office with a token minted for [`super::RESUMING_SUBJECT`]; without it they end
    /// FAILED, and a new run resumes after their last certificate. How many were taken over.
    pub async fn take_over_lapsed_runs(&self) -> Result<usize> {
        let now = tica_storage::now_micros();
        let cutoff = now - store::RUN_LEASE_MICROS;
        let Some(signer) = self.inner.config.resume_signer.clone() else {
            let failed = store::fail_interrupted_runs(&self.inner.db, now, cutoff).await?;
            super::report_interrupted(failed);
            return Ok(failed);
        };
        let claimed = store::claim_lapsed_runs(&self.inner.db, now, cutoff).await?;
        for run in &claimed {
            let token = tica_domain::names::JurisdictionName::code_of(&run.county)
                .ok_or_else(|| format!("the run's county {:?} is not a county", run.county))
                .and_then(|county| {
                    signer
                        .mint(
                            super::RESUMING_SUBJECT,
                            tica_auth::Role::CountyOffice,
                            county,
                            None,
                            std::time::Duration::from_secs(3600),
                        )
                        .map_err(|e| e.to_string())
                });
            let this = self.clone();
            let run = run.clone();
            let span = tracing::info_span!("issuance run", otel.name = "issuance run resumed", run = %run.id);
            tokio::spawn(
                async move {
                    let id = run.id.clone();
                    let ended = match token {
                        Ok(token) => {
                            tracing::warn!(run = %id, cursor = run.cursor, "an issuance run whose process stopped resumes here");
                            this.execute(run, tica_auth::BearerToken(token)).await
                        }
                        Err(why) => this.fail_run(run, why).await,
                    };
                    if let Err(error) = ended {
                        tracing::error!(run = %id, %error, "a resumed issuance run could not record its end");
                    }
                }
                .instrument(span),
            );
        }
        Ok(claimed.len())
    }

    /// Records `run` FAILED after its last committed chunk, for `why`.
    async fn fail_run(&self, mut run: RunRecord, why: String) -> Result<()> {
        run.state = RunState::Failed;
        run.error_sequence = run.cursor + 1;
        run.error = why;
        run.end_micros = super::next_micros(run.update_micros);
        run.update_micros = run.end_micros;
        store::save_run(&self.inner.db, &run).await?;
        Ok(())
    }

    /// Runs `run` to its end, recording the end (FAILED with the sequence and reason when a
    /// result cannot be processed). While it runs, its lease is renewed every
    /// [`LEASE_RENEWAL`]; it stops at the next chunk when the run was cancelled, or failed by
    /// another replica that found the lease lapsed.
    async fn execute(&self, mut run: RunRecord, token: tica_auth::BearerToken) -> Result<()> {
        run.update_micros = super::next_micros(run.update_micros);
        if run.state == RunState::Pending {
            run.start_micros = run.update_micros;
        }
        // A resumed run keeps its start, counts and cursor: it goes on from its last chunk.
        run.state = RunState::Running;
        if !store::save_run(&self.inner.db, &run).await? {
            return Ok(());
        }
        let lease = tokio::spawn({
            let db = self.inner.db.clone();
            let id = run.id.clone();
            async move {
                loop {
                    tokio::time::sleep(LEASE_RENEWAL).await;
                    match store::renew_run_lease(&db, &id, tica_storage::now_micros()).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(error) => {
                            tracing::warn!(run = %id, %error, "an issuance run's lease was not renewed");
                        }
                    }
                }
            }
        });
        let outcome = self.consume(&mut run, &token).await;
        lease.abort();
        match outcome {
            Ok(()) => {
                run.state = RunState::Succeeded;
            }
            Err((_, error)) if error == STOPPED => {
                // Cancelled (or failed by a replica): record what it did, keep its end.
                let Some(stored) = store::run(&self.inner.db, &run.id).await? else {
                    return Ok(());
                };
                if stored.state == RunState::Cancelled {
                    run.state = RunState::Cancelled;
                    run.end_micros = stored.end_micros;
                    run.update_micros = super::next_micros(stored.update_micros);
                    store::record_cancelled_run(&self.inner.db, &run).await?;
                }
                tracing::info!(run = %run.id, state = stored.state.key(), "an issuance run stopped");
                return Ok(());
            }
            Err((sequence, error)) => {
                tracing::warn!(run = %run.id, sequence, "an issuance run failed");
                run.state = RunState::Failed;
                run.error_sequence = sequence;
                run.error = error;
            }
        }
        run.end_micros = super::next_micros(run.update_micros);
        run.update_micros = run.end_micros;
        store::save_run(&self.inner.db, &run).await?;
        Ok(())
    }

    /// Whether `run` is still to be run here: PENDING or RUNNING as stored (not cancelled, not
    /// failed by a replica that found its lease lapsed).
    async fn still_running(&self, run: &RunRecord) -> std::result::Result<(), (i64, String)> {
        match store::run(&self.inner.db, &run.id).await {
            Ok(Some(stored)) if !stored.state.is_terminal() => Ok(()),
            Ok(_) => Err((run.cursor + 1, STOPPED.to_owned())),
            Err(e) => Err((run.cursor + 1, e.to_string())),
        }
    }

    async fn consume(
        &self,
        run: &mut RunRecord,
        token: &tica_auth::BearerToken,
    ) -> std::result::Result<(), (i64, String)> {
        let first = run.cursor + 1;
        let fail = |e: CertificateError| (first, e.to_string());
        let (search_keys, names) = self
            .inner
            .upstream
            .search_keys(token, &run.county, &self.inner.config.search_secret)
            .await
            .map_err(fail)?;
        let mut numbers = Numbers::new();
        // What earlier runs parked first: a corrected roster issues them now.
        if store::has_parked(&self.inner.db, &run.batch_id)
            .await
            .map_err(fail)?
        {
            let schools = self
                .inner
                .upstream
                .school_names(token, &run.county)
                .await
                .map_err(fail)?;
            self.retry_parked(run, &search_keys, &names, &schools, &mut numbers)
                .await
                .map_err(fail)?;
        }
        let mut stream = self
            .inner
            .upstream
            .certified_results(token, &run.batch_id, run.cursor)
            .await
            .map_err(fail)?;
        let mut chunk = Vec::new();
        loop {
            let message = stream.next().await.map_err(|s| {
                (
                    run.cursor + 1,
                    format!("the certified-results stream broke: {}", s.message()),
                )
            })?;
            let done = message.is_none();
            match message.unwrap_or(StreamItem::Empty) {
                StreamItem::Header { last_sequence } => {
                    run.target_sequence = last_sequence.max(run.cursor);
                    run.update_micros = super::next_micros(run.update_micros);
                    if !store::save_run(&self.inner.db, run).await.map_err(fail)? {
                        return Err((run.cursor + 1, STOPPED.to_owned()));
                    }
                }
                StreamItem::Result(event) => {
                    run.target_sequence = run.target_sequence.max(event.sequence);
                    chunk.push(*event);
                }
                StreamItem::Empty => {}
            }
            if chunk.len() >= self.inner.config.chunk || (done && !chunk.is_empty()) {
                // The chunk boundary: a run cancelled meanwhile issues nothing more.
                self.still_running(run).await?;
                let events = std::mem::take(&mut chunk);
                let first_sequence = events.first().map_or(run.cursor + 1, |e| e.sequence);
                self.process(run, events, &search_keys, &mut numbers)
                    .await
                    .map_err(|e| (first_sequence, e.to_string()))?;
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Issues and revokes one chunk of a run's events in one transaction: the stream
    /// consumer's step (public so that benches drive it with synthetic events).
    /// Events are the stream's decoded ones, or its messages as sent (tests and benches).
    pub async fn process<E: Into<CertifiedEvent>>(
        &self,
        run: &mut RunRecord,
        events: Vec<E>,
        search_keys: &HashMap<String, String>,
        numbers: &mut Numbers,
    ) -> Result<()> {
        let events: Vec<CertifiedEvent> = events.into_iter().map(Into::into).collect();
        let last_sequence = events.last().map_or(run.cursor, |e| e.sequence);
        let keys: Vec<String> = events.iter().map(|e| e.result_key.clone()).collect();
        let mut issued: HashSet<String> = store::issued_result_keys(&self.inner.db, &keys)
            .await?
            .into_iter()
            .collect();
        let mut candidates = Vec::new();
        let mut failed: Vec<Failed> = Vec::new();
        let mut to_revoke: Vec<CertificateRecord> = Vec::new();
        let mut withdrawals = Vec::new();
        let mut already = 0;
        let mut withdrawn_at: HashMap<String, i64> = HashMap::new();
        for event in events {
            if event.sequence <= run.cursor {
                continue;
            }
            match event.kind {
                EventKind::Certified => {
                    if !issued.insert(event.result_key.clone()) {
                        already += 1;
                        continue;
                    }
                    match candidate(run, event, search_keys) {
                        Ok(c) => candidates.push(c),
                        Err(f) => failed.push(*f),
                    }
                }
                EventKind::Withdrawn => {
                    let explanation = if event.withdraw_reason.trim().is_empty() {
                        WITHDRAWN.to_owned()
                    } else {
                        event.withdraw_reason.trim().to_owned()
                    };
                    // A withdrawn result is not retried: what was parked of it goes.
                    withdrawn_at.insert(event.result_key.clone(), event.sequence);
                    withdrawals.push((event.result_key.clone(), explanation));
                }
                EventKind::Unknown => {
                    return Err(invalid(
                        "kind",
                        format!("sequence {}: an event of unknown kind", event.sequence),
                    ));
                }
            }
        }
        let (made, unmade) = self.make_numbered(run, candidates, numbers).await?;
        failed.extend(unmade);
        // A withdrawal later in the chunk than a failure leaves nothing to retry.
        failed.retain(|(e, _)| {
            withdrawn_at
                .get(&e.result_key)
                .is_none_or(|w| *w < e.sequence)
        });
        let now = tica_storage::now_micros();
        let parked: Vec<ParkedRecord> = failed
            .into_iter()
            .map(|(event, reason)| parked_record(run, event, reason, None, now))
            .collect();
        let mut unparked: Vec<String> = made.iter().map(|(r, _, _)| r.result_key.clone()).collect();
        unparked.extend(withdrawals.iter().map(|(k, _)| k.clone()));
        // Withdrawals, in stream order, of certificates stored earlier or made in this chunk
        // (then issued and revoked in the same commit, as separate chunks would have done).
        for (result_key, explanation) in withdrawals {
            let record = match made.iter().find(|(r, _, _)| r.result_key == result_key) {
                Some((r, _, _)) => Some(r.clone()),
                None => store::certificate_by_result(&self.inner.db, &result_key).await?,
            };
            let Some(mut record) = record else { continue };
            if record.status != Status::Active || to_revoke.iter().any(|r| r.id == record.id) {
                continue;
            }
            record.status = Status::Revoked;
            record.doc.revocation = Some(Revocation {
                reason: Reason::ResultWithdrawn,
                explanation,
                revoke_micros: tica_storage::now_micros(),
                actor: Actor {
                    subject: format!("issuanceRuns/{}", run.id),
                    role: "service".into(),
                    acting_for: run.county.clone(),
                },
                log_index: 0,
                request_id: String::new(),
            });
            to_revoke.push(record);
        }
        let mut pending: Vec<Pending> = made.iter().map(|(r, _, _)| issued_entry(r)).collect();
        for record in &to_revoke {
            let revocation = record.doc.revocation.as_ref().expect("set above");
            pending.push(Pending {
                kind: "revoked",
                certificate_id: record.id.clone(),
                entry: entry_bytes(
                    "revoked",
                    &record.id,
                    &record.payload,
                    &record.pdf_sha256,
                    revocation.revoke_micros,
                    Some(revocation.reason.key()),
                ),
            });
        }
        let mut progress = run.clone();
        progress.cursor = last_sequence;
        // Every event of the chunk is processed, whatever it produced.
        progress.events_processed = run.events_processed + (last_sequence - run.cursor);
        progress.certificates_issued += made.len() as i64;
        progress.certificates_revoked += to_revoke.len() as i64;
        progress.already_issued += already as i64;
        progress.results_parked += parked.len() as i64;
        progress.update_micros = super::next_micros(run.update_micros);
        let issued_count = made.len();
        let revoked_count = to_revoke.len();
        let parked_count = parked.len();
        let audit = (issued_count + revoked_count + parked_count > 0).then(|| {
            audit_entry(
                run.creator.clone(),
                "StartIssuanceRun",
                format!("issuanceRuns/{}", run.id),
                &run.path,
                serde_json::json!({
                    "issued": issued_count,
                    "revoked": revoked_count,
                    "parked": parked_count,
                    "through_sequence": last_sequence,
                }),
            )
        });
        self.append_logged(pending, |first| {
            let mut append = Append::default();
            for (i, (record, pdf, counter)) in made.iter().enumerate() {
                let mut record = record.clone();
                record.log_index = first + i as i64;
                append.issued.push(NewCertificate {
                    record,
                    pdf: pdf.clone(),
                    counter: counter.clone(),
                });
            }
            for (i, record) in to_revoke.iter().enumerate() {
                let mut record = record.clone();
                if let Some(r) = record.doc.revocation.as_mut() {
                    r.log_index = first + (made.len() + i) as i64;
                }
                append.revoked.push(Revoke { record });
            }
            append.run = Some((progress.clone(), last_sequence));
            append.audit = audit.clone().into_iter().collect();
            append.parked = parked.clone();
            append.unparked = unparked.clone();
            append
        })
        .await?;
        // Committed: count what the chunk stored.
        for (record, _, _) in &made {
            let kind = record.doc.facts.kind.key();
            metrics::counter!("tica_certificates_issued_total", "kind" => kind).increment(1);
        }
        for record in &to_revoke {
            let reason = record.doc.revocation.as_ref().expect("set above").reason;
            metrics::counter!("tica_certificates_revoked_total", "reason" => reason.key())
                .increment(1);
        }
        *run = progress;
        Ok(())
    }

    /// Numbers the candidates (gaplessly, per county and year, after `numbers`), then makes
    /// their certificates; a candidate whose certificate cannot be made is returned with its
    /// reason and takes no number: the others are numbered again without it and made again.
    async fn make_numbered(
        &self,
        run: &RunRecord,
        mut candidates: Vec<Candidate>,
        numbers: &mut Numbers,
    ) -> Result<(Vec<Made>, Vec<Failed>)> {
        let mut failed = Vec::new();
        loop {
            let mut local = numbers.clone();
            let mut items = Vec::with_capacity(candidates.len());
            for c in &candidates {
                let county = c.event.county.clone();
                let year = i64::from(c.event.year);
                let next = match local.get(&(county.clone(), year)) {
                    Some(n) => n + 1,
                    None => store::last_number(&self.inner.db, &county, year).await? + 1,
                };
                local.insert((county.clone(), year), next);
                items.push(ToIssue {
                    id: c.id.clone(),
                    number: format!("{county}-{year}-{next:06}"),
                    counter: (county, year, next),
                    search_key: c.search_key.clone(),
                    event: c.event.clone(),
                });
            }
            let outcomes = self.make_all(run, items).await?;
            if outcomes.iter().all(std::result::Result::is_ok) {
                *numbers = local;
                let made = outcomes.into_iter().filter_map(|o| o.ok()).collect();
                return Ok((made, failed));
            }
            let mut kept = Vec::with_capacity(candidates.len());
            for (c, outcome) in candidates.into_iter().zip(outcomes) {
                match outcome {
                    Ok(_) => kept.push(c),
                    Err(reason) => failed.push((c.event, reason)),
                }
            }
            candidates = kept;
        }
    }

    /// Retries the batch's parked results with the roster as it is now (the teacher's current
    /// name: a corrected name issues): the ones made are issued and unparked in one
    /// transaction, the others stay parked with their new reason. A result already issued
    /// (by a run that raced this one) is only unparked: one certificate per result.
    pub async fn retry_parked(
        &self,
        run: &mut RunRecord,
        search_keys: &HashMap<String, String>,
        names: &HashMap<String, String>,
        school_names: &HashMap<String, String>,
        numbers: &mut Numbers,
    ) -> Result<()> {
        let parked = store::parked_of_batch(&self.inner.db, &run.batch_id).await?;
        if parked.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = parked.iter().map(|p| p.result_key.clone()).collect();
        let issued: HashSet<String> = store::issued_result_keys(&self.inner.db, &keys)
            .await?
            .into_iter()
            .collect();
        let mut unparked = Vec::new();
        let mut earlier: HashMap<String, ParkedRecord> = HashMap::new();
        let mut candidates = Vec::new();
        let mut failed = Vec::new();
        for p in parked {
            if issued.contains(&p.result_key) {
                unparked.push(p.result_key.clone());
                continue;
            }
            let event = hex::decode(&p.event_hex)
                .ok()
                .and_then(|bytes| CertifiedEvent::from_parked(&bytes, names, school_names));
            let Some(event) = event else {
                return Err(CertificateError::Internal(format!(
                    "the parked result {} does not decode",
                    p.result_key
                )));
            };
            earlier.insert(p.result_key.clone(), p);
            match candidate(run, event, search_keys) {
                Ok(c) => candidates.push(c),
                Err(f) => failed.push(*f),
            }
        }
        let (made, unmade) = self.make_numbered(run, candidates, numbers).await?;
        failed.extend(unmade);
        let now = tica_storage::now_micros();
        let still: Vec<ParkedRecord> = failed
            .into_iter()
            .map(|(event, reason)| {
                let before = earlier.get(&event.result_key);
                parked_record(run, event, reason, before, now)
            })
            .collect();
        unparked.extend(made.iter().map(|(r, _, _)| r.result_key.clone()));
        let pending: Vec<Pending> = made.iter().map(|(r, _, _)| issued_entry(r)).collect();
        let mut progress = run.clone();
        progress.certificates_issued += made.len() as i64;
        progress.parked_issued += made.len() as i64;
        progress.results_parked += still.len() as i64;
        progress.update_micros = super::next_micros(run.update_micros);
        let audit = audit_entry(
            run.creator.clone(),
            "StartIssuanceRun",
            format!("issuanceRuns/{}", run.id),
            &run.path,
            serde_json::json!({ "parked_issued": made.len(), "still_parked": still.len() }),
        );
        // The cursor stays where it is: retries are not stream events.
        let cursor = run.cursor;
        self.append_logged(pending, |first| {
            let mut append = Append::default();
            for (i, (record, pdf, counter)) in made.iter().enumerate() {
                let mut record = record.clone();
                record.log_index = first + i as i64;
                append.issued.push(NewCertificate {
                    record,
                    pdf: pdf.clone(),
                    counter: counter.clone(),
                });
            }
            append.run = Some((progress.clone(), cursor));
            append.audit = vec![audit.clone()];
            append.parked = still.clone();
            append.unparked = unparked.clone();
            append
        })
        .await?;
        for (record, _, _) in &made {
            let kind = record.doc.facts.kind.key();
            metrics::counter!("tica_certificates_issued_total", "kind" => kind).increment(1);
        }
        *run = progress;
        Ok(())
    }

    /// Signs, encodes and renders the chunk's certificates on every core: each outcome in
    /// the order of `items`, an error as its reason for a person.
    async fn make_all(
        &self,
        run: &RunRecord,
        items: Vec<ToIssue>,
    ) -> Result<Vec<std::result::Result<Made, String>>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8)
            .min(items.len());
        // The workers take the next item as each finishes one (no core idles while another
        // still has half the chunk); outcomes go back in the order of `items`.
        let count = items.len();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(items.into_iter().enumerate()));
        let run = std::sync::Arc::new(run.clone());
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let this = self.clone();
            let run = run.clone();
            let queue = queue.clone();
            handles.push(tokio::task::spawn_blocking(move || {
                let mut done = Vec::new();
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .next();
                    let Some((i, item)) = next else { break };
                    done.push((i, this.make(&run, item).map_err(|e| reason_of(&e))));
                }
                done
            }));
        }
        let mut out: Vec<Option<std::result::Result<Made, String>>> =
            (0..count).map(|_| None).collect();
        for handle in handles {
            let done = handle
                .await
                .map_err(|e| CertificateError::Internal(format!("a render worker: {e}")))?;
            for (i, outcome) in done {
                out[i] = Some(outcome);
            }
        }
        out.into_iter()
            .map(|o| {
                o.ok_or_else(|| CertificateError::Internal("a render worker lost an item".into()))
            })
            .collect()
    }

    /// One certificate: facts, signed payload, QR text, PDF.
    fn make(&self, run: &RunRecord, item: ToIssue) -> Result<Made> {
        let e = &item.event;
        let kind = match e.mode {
            Some(kind) => kind,
            None => {
                return Err(precondition(format!(
                    "result {}: the batch's policy issues no certificates",
                    e.result_key
                )));
            }
        };
        let grade = match e.grade {
            Some(grade) => grade,
            None => {
                return Err(precondition(format!(
                    "result {}: only PASS and EXCELLENT are certified",
                    e.result_key
                )));
            }
        };
        let now = tica_storage::now_micros();
        let today = tica_domain::time_zone::today_in_china(
            time::OffsetDateTime::from_unix_timestamp(now / 1_000_000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        );
        // Signed today (the key's span is checked against this day), printed with the date of
        // the batch's certification: a 2022 batch made in 2026 still reads 2022 (issue 21).
        // Today only for a peer that does not send it.
        let issue_date = tica_server::proto_time::date_to_iso(today);
        let certificate_date =
            tica_server::proto_time::date_to_iso(e.certificate_date.unwrap_or(today));
        let title = if e.certificate_title.trim().is_empty() {
            match kind {
                Kind::MicroCompetency => "信息技术应用能力提升工程2.0 微能力认证证书",
                Kind::Level => "信息技术应用能力提升工程2.0 能力等级证书",
            }
            .to_owned()
        } else {
            e.certificate_title.trim().to_owned()
        };
        let kid = self.inner.keys.active_kid.clone();
        let facts = Facts {
            certificate_id: item.id.clone(),
            number: item.number.clone(),
            kind,
            title,
            teacher_display_name: e.teacher_display_name.clone(),
            teacher_id_number_masked: e.teacher_id_number_masked.clone(),
            school_display_name: e.school_display_name.clone(),
            county_display_name: e.county_display_name.clone(),
            micro_competency: e.micro_competency.clone(),
            micro_competency_display_name: e.micro_competency_display_name.clone(),
            grade,
            credits: e.credits,
            counted_centihours: e.counted_centihours,
            issuing_authority: e.issuing_authority.clone(),
            issue_date: issue_date.clone(),
            year: e.year,
            key_id: kid.clone(),
            certificate_date: certificate_date.clone(),
        };
        let claims = QrClaims {
            version: qr::VERSION,
            kid,
            id: item.id.clone(),
            number: facts.number.clone(),
            name: facts.teacher_display_name.clone(),
            id_masked: facts.teacher_id_number_masked.clone(),
            school: facts.school_display_name.clone(),
            competency: match kind {
                Kind::MicroCompetency => facts.micro_competency.clone(),
                Kind::Level => "level".into(),
            },
            grade: grade.zh().to_owned(),
            issuer: facts.issuing_authority.clone(),
            issued: issue_date.clone(),
        };
        // An installation that chose SM2 signs every payload with both keys (version 3).
        let signed = match &self.inner.keys.sm2 {
            Some((sm2_kid, sm2_key)) => qr::sign_claims_dual(
                &self.inner.config.base_url,
                &QrClaims {
                    version: qr::VERSION_DUAL,
                    ..claims
                },
                &self.inner.keys.active,
                sm2_kid,
                sm2_key,
            ),
            None => qr::sign_claims(
                &self.inner.config.base_url,
                &claims,
                &self.inner.keys.active,
            ),
        }
        .map_err(|error| precondition(format!("result {}: {error}", e.result_key)))?;
        let qr_text = qr::encode_qr(&self.inner.config.base_url, &item.id, &signed)
            .map_err(|error| precondition(format!("result {}: {error}", e.result_key)))?;
        let achievement = match kind {
            Kind::MicroCompetency => format!(
                "{} {}",
                facts.micro_competency, facts.micro_competency_display_name
            ),
            Kind::Level => format!("信息技术应用能力 {}", grade.zh()),
        };
        let extra = if facts.credits > 0 {
            Some(format!("学分 {}", facts.credits))
        } else if facts.counted_centihours > 0 {
            Some(format!("学时 {}", hours_text(facts.counted_centihours)))
        } else {
            None
        };
        let issue_zh = zh_date(&certificate_date);
        // For when the QR code cannot be scanned: the lookup's address and the printed code.
        let verification_code = super::public::verification_code(&item.id);
        let base = &self.inner.config.base_url;
        let verification_address = format!(
            "{}/v",
            base.split_once("://")
                .map_or(base.as_str(), |(_, rest)| rest)
        );
        let page = tica_pdf::CertificatePage {
            title: &facts.title,
            teacher_name: &facts.teacher_display_name,
            id_number_masked: &facts.teacher_id_number_masked,
            school: &facts.school_display_name,
            county: &facts.county_display_name,
            achievement: &achievement,
            grade: grade.zh(),
            credits_or_hours: extra.as_deref(),
            issuer: &facts.issuing_authority,
            issue_date: &issue_zh,
            number: &facts.number,
            qr_text: &qr_text,
            verification_code: &verification_code,
            verification_address: &verification_address,
            seal: self
                .inner
                .config
                .seals
                .get(&e.issuing_jurisdiction)
                .map(|s| s.as_ref()),
        };
        let pdf =
            self.inner.renderer.render(&page).map_err(|error| {
                precondition(format!("result {}: the PDF: {error}", e.result_key))
            })?;
        let pdf_sha256 = hex::encode(Sha256::digest(&pdf));
        let county_code = e.county.as_str();
        let school = e.school.clone();
        let path = tica_domain::division::DivisionCode::parse(county_code)
            .ok()
            .and_then(|c| tica_domain::ScopePath::try_for_school(c, &school).ok())
            .ok_or_else(|| {
                CertificateError::Internal(format!(
                    "result {}: county {county_code:?} or school {school:?} is not a valid code",
                    e.result_key
                ))
            })?;
        let record = CertificateRecord {
            id: item.id.clone(),
            number: item.number.clone(),
            result_key: e.result_key.clone(),
            batch_id: run.batch_id.clone(),
            teacher: e.teacher.clone(),
            school,
            path,
            status: Status::Active,
            search_key: item.search_key.clone(),
            pdf_sha256,
            payload: signed.protected.clone(),
            signature: signed.signature_bytes(),
            log_index: 0,
            doc: CertificateDoc {
                verification_url: format!("{}/c/{}", self.inner.config.base_url, item.id),
                facts,
                qr_text,
                county: e.county.clone(),
                result_sequence: e.sequence,
                issuance_run: format!("issuanceRuns/{}", run.id),
                pdf_size: pdf.len() as i64,
                revocation: None,
            },
            create_micros: now,
            update_micros: now,
        };
        Ok((record, pdf, item.counter))
    }

    /// Revokes an ACTIVE certificate with a reason: final, logged, audited.
    pub async fn revoke(
        &self,
        ctx: &Ctx,
        id: &str,
        reason: Reason,
        explanation: &str,
        request_id: &str,
    ) -> Result<CertificateRecord> {
        let explanation = explanation.trim();
        tica_server::check_request_id(request_id)?;
        check_explanation(explanation).map_err(|why| invalid("explanation", why))?;
        // Whoever may not read it learns nothing: it answers as a missing one.
        let mut record = self.certificate(&ctx.caller, id).await?;
        let county = record.path.parent().ok_or_else(|| {
            CertificateError::Internal(format!("certificates/{id} has no school path"))
        })?;
        if !ctx.caller.covers(&county) || ctx.caller.school.is_some() {
            return Err(denied(
                "only the issuing county's office or an office above it revokes certificates",
            ));
        }
        if record.status == Status::Revoked {
            // A retry of this caller's own revocation gets the first call's answer (AIP-155).
            let retried = record.doc.revocation.as_ref().is_some_and(|r| {
                !request_id.is_empty()
                    && r.request_id == request_id
                    && r.actor.subject == ctx.caller.subject
            });
            if retried {
                return Ok(record);
            }
            return Err(CertificateError::refused(
                tica_server::errors::ErrorReason::CertificateAlreadyRevoked,
                format!("certificates/{id}"),
                format!("certificates/{id} is already revoked (revocation is final)"),
            ));
        }
        let now = super::next_micros(record.update_micros);
        record.status = Status::Revoked;
        record.update_micros = now;
        record.doc.revocation = Some(Revocation {
            reason,
            explanation: explanation.to_owned(),
            revoke_micros: now,
            actor: ctx.actor(),
            log_index: 0,
            request_id: request_id.to_owned(),
        });
        let entry = entry_bytes(
            "revoked",
            &record.id,
            &record.payload,
            &record.pdf_sha256,
            now,
            Some(reason.key()),
        );
        let audit = ctx.audit(
            "RevokeCertificate",
            format!("certificates/{id}"),
            &record.path,
            serde_json::json!({ "reason": reason.key(), "explanation": explanation }),
        );
        let index = self
            .append_logged(
                vec![Pending {
                    kind: "revoked",
                    certificate_id: record.id.clone(),
                    entry,
                }],
                |first| {
                    let mut r = record.clone();
                    if let Some(rev) = r.doc.revocation.as_mut() {
                        rev.log_index = first;
                    }
                    Append {
                        revoked: vec![Revoke { record: r }],
                        audit: vec![audit.clone()],
                        ..Append::default()
                    }
                },
            )
            .await?;
        if let Some(rev) = record.doc.revocation.as_mut() {
            rev.log_index = index;
        }
        metrics::counter!("tica_certificates_revoked_total", "reason" => reason.key()).increment(1);
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_hours_print_as_a_certificate_writes_them() {
        assert_eq!(zh_date("2022-12-05"), "2022年12月5日");
        assert_eq!(hours_text(5000), "50");
        assert_eq!(hours_text(5050), "50.5");
        assert_eq!(hours_text(5025), "50.25");
    }
}
