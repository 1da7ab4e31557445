//! The gRPC adapter: authenticate, parse names, call the logic, convert records to messages.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tica_auth::{Caller, caller_from};
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_proto::tica::certificate::v1 as pb;
use tica_proto::tica::certificate::v1::certificate_service_server::CertificateService;
use tica_proto::tica::common::v1 as common;
use tica_server::edge::{ClientAddr, ClientLimiter};
use tica_server::errors::invalid;
use tica_server::names::{Parent as NameParent, parse, parse_parent};
use tica_server::paging::Page;
use tica_server::proto_time::timestamp;
use tonic::{Request, Response, Status};

use crate::model::*;
use crate::service::{
    Certificates, Ctx, Failure, LogView, Parent, Subject, Verdict, Verification, Via,
};
use crate::service::{CodeParent, Lookup};
use crate::store::CertFilter;

/// The tonic service.
#[derive(Clone, Debug)]
pub struct CertificateGrpc {
    svc: Certificates,
}

impl CertificateGrpc {
    /// Serves `svc`.
    pub fn new(svc: Certificates) -> CertificateGrpc {
        CertificateGrpc { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;
type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// BatchVerify items that count as one call against the per-client limit.
const BATCH_ITEMS_PER_CALL: usize = 50;

/// The largest chunk of a download.
const CHUNK: usize = 1 << 20;
/// How often watchers poll.
const WATCH_EVERY: Duration = Duration::from_millis(200);

fn ctx<T>(request: &Request<T>) -> Result<Ctx, Status> {
    Ctx::from_request(crate::service::SERVICE_NAME, request)
}

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

fn certificate_id<'a>(field: &str, name: &'a str) -> Result<&'a str, Status> {
    parse(field, name, "certificates")
}

fn actor(a: &Actor) -> common::Actor {
    common::Actor {
        subject: a.subject.clone(),
        role: a.role.clone(),
        acting_for: a.acting_for.clone(),
    }
}

fn opt_time(micros: i64) -> Option<prost_types::Timestamp> {
    (micros > 0).then(|| timestamp(micros))
}

fn run_state(s: RunState) -> pb::IssuanceRunState {
    match s {
        RunState::Pending => pb::IssuanceRunState::Pending,
        RunState::Running => pb::IssuanceRunState::Running,
        RunState::Succeeded => pb::IssuanceRunState::Succeeded,
        RunState::Failed => pb::IssuanceRunState::Failed,
        RunState::Cancelled => pb::IssuanceRunState::Cancelled,
    }
}

fn run_to_proto(r: &RunRecord) -> pb::IssuanceRun {
    pb::IssuanceRun {
        name: format!("issuanceRuns/{}", r.id),
        batch: format!("batches/{}", r.batch_id),
        county: r.county.clone(),
        state: run_state(r.state) as i32,
        start_after_sequence: r.start_after_sequence,
        cursor: r.cursor,
        target_sequence: r.target_sequence,
        events_processed: r.events_processed,
        certificates_issued: r.certificates_issued,
        certificates_revoked: r.certificates_revoked,
        already_issued: r.already_issued,
        error_sequence: r.error_sequence,
        error: r.error.clone(),
        creator: Some(actor(&r.creator)),
        create_time: Some(timestamp(r.create_micros)),
        start_time: opt_time(r.start_micros),
        end_time: opt_time(r.end_micros),
        update_time: Some(timestamp(r.update_micros)),
        results_parked: r.results_parked,
        parked_issued: r.parked_issued,
    }
}

fn parked_to_proto(p: &ParkedRecord) -> pb::ParkedResult {
    pb::ParkedResult {
        result_key: p.result_key.clone(),
        batch: format!("batches/{}", p.batch_id),
        teacher: format!("teachers/{}", p.teacher),
        school: format!("schools/{}", p.school),
        sequence: p.sequence,
        reason: p.reason.clone(),
        issuance_run: format!("issuanceRuns/{}", p.run_id),
        attempts: p.attempts,
        park_time: Some(timestamp(p.park_micros)),
        update_time: Some(timestamp(p.update_micros)),
    }
}

fn kind(k: Kind) -> pb::CertificateKind {
    match k {
        Kind::MicroCompetency => pb::CertificateKind::MicroCompetency,
        Kind::Level => pb::CertificateKind::Level,
    }
}

fn grade(g: Grade) -> common::Grade {
    match g {
        Grade::Pass => common::Grade::Pass,
        Grade::Excellent => common::Grade::Excellent,
    }
}

fn reason(r: Reason) -> pb::RevocationReason {
    match r {
        Reason::ResultWithdrawn => pb::RevocationReason::ResultWithdrawn,
        Reason::IssuedInError => pb::RevocationReason::IssuedInError,
        Reason::Fraud => pb::RevocationReason::Fraud,
        Reason::Other => pb::RevocationReason::Other,
    }
}

/// The facts as the contract shows them.
pub fn facts_to_proto(f: &Facts) -> pb::CertificateFacts {
    let date = tica_server::proto_time::date_from_iso(&f.issue_date)
        .map(tica_server::proto_time::date_to_proto);
    pb::CertificateFacts {
        certificate_id: f.certificate_id.clone(),
        number: f.number.clone(),
        kind: kind(f.kind) as i32,
        title: f.title.clone(),
        teacher_display_name: f.teacher_display_name.clone(),
        teacher_id_number_masked: f.teacher_id_number_masked.clone(),
        school_display_name: f.school_display_name.clone(),
        county_display_name: f.county_display_name.clone(),
        micro_competency: f.micro_competency.clone(),
        micro_competency_display_name: f.micro_competency_display_name.clone(),
        grade: grade(f.grade) as i32,
        credits: f.credits,
        counted_centihours: f.counted_centihours,
        issuing_authority: f.issuing_authority.clone(),
        issue_date: date,
        year: f.year,
        key_id: f.key_id.clone(),
        certificate_date: tica_server::proto_time::date_from_iso(f.printed_date())
            .map(tica_server::proto_time::date_to_proto),
    }
}

fn revocation_to_proto(r: &Revocation) -> pb::Revocation {
    pb::Revocation {
        reason: reason(r.reason) as i32,
        explanation: r.explanation.clone(),
        revoke_time: Some(timestamp(r.revoke_micros)),
        actor: Some(actor(&r.actor)),
        log_index: r.log_index,
    }
}

fn certificate_to_proto(c: &CertificateRecord) -> pb::Certificate {
    pb::Certificate {
        name: format!("certificates/{}", c.id),
        number: c.number.clone(),
        facts: Some(facts_to_proto(&c.doc.facts)),
        status: match c.status {
            crate::model::Status::Active => pb::CertificateStatus::Active,
            crate::model::Status::Revoked => pb::CertificateStatus::Revoked,
        } as i32,
        revocation: c.doc.revocation.as_ref().map(revocation_to_proto),
        teacher: format!("teachers/{}", c.teacher),
        school: format!("schools/{}", c.school),
        county: c.doc.county.clone(),
        batch: format!("batches/{}", c.batch_id),
        result_key: c.result_key.clone(),
        result_sequence: c.doc.result_sequence,
        issuance_run: c.doc.issuance_run.clone(),
        signed_payload: c.payload.clone(),
        signature: c.signature.clone(),
        qr_text: c.doc.qr_text.clone(),
        verification_url: c.doc.verification_url.clone(),
        pdf_sha256: c.pdf_sha256.clone(),
        pdf_size_bytes: c.doc.pdf_size,
        log_index: c.log_index,
        create_time: Some(timestamp(c.create_micros)),
        update_time: Some(timestamp(c.update_micros)),
    }
}

fn archive_to_proto(a: &ArchiveRecord) -> pb::CertificateArchive {
    pb::CertificateArchive {
        name: format!("certificateArchives/{}", a.id),
        school: format!("schools/{}", a.school),
        batch: if a.batch_id.is_empty() {
            String::new()
        } else {
            format!("batches/{}", a.batch_id)
        },
        include_revoked: a.include_revoked,
        state: match a.state {
            ArchiveState::Pending => pb::ArchiveState::Pending,
            ArchiveState::Running => pb::ArchiveState::Running,
            ArchiveState::Succeeded => pb::ArchiveState::Succeeded,
            ArchiveState::Failed => pb::ArchiveState::Failed,
            ArchiveState::Cancelled => pb::ArchiveState::Cancelled,
        } as i32,
        certificates_total: a.total,
        certificates_added: a.added,
        size_bytes: a.size_bytes,
        sha256: a.sha256.clone(),
        error: a.error.clone(),
        creator: Some(actor(&a.creator)),
        create_time: Some(timestamp(a.create_micros)),
        end_time: opt_time(a.end_micros),
        expire_time: opt_time(a.expire_micros),
    }
}

/// A verification code as the contract shows it at `now`; `code` (the whole code) only in the
/// answer that creates it.
fn code_to_proto(c: &CodeRecord, now: i64, code: Option<String>) -> pb::VerificationCode {
    pb::VerificationCode {
        name: crate::service::code_name(c),
        code: code.unwrap_or_default(),
        masked_code: c.masked(),
        certificate: format!("certificates/{}", c.certificate_id),
        certificate_number: c.number.clone(),
        state: match c.state(now) {
            CodeState::Active => pb::VerificationCodeState::Active,
            CodeState::Expired => pb::VerificationCodeState::Expired,
            CodeState::Revoked => pb::VerificationCodeState::Revoked,
        } as i32,
        create_time: Some(timestamp(c.create_micros)),
        expire_time: Some(timestamp(c.expire_micros)),
        revoke_time: opt_time(c.revoke_micros),
        use_count: c.use_count,
        last_use_time: opt_time(c.last_use_micros),
    }
}

/// `certificates/{certificate_id}/verificationCodes/{code_id}` as its two ids.
fn code_ids<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str), Status> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["certificates", certificate, "verificationCodes", code]
            if !certificate.is_empty() && !code.is_empty() =>
        {
            Ok((certificate, code))
        }
        _ => Err(invalid(
            field,
            "expected certificates/{certificate_id}/verificationCodes/{code_id}",
        )),
    }
}

/// The client a public call is charged to: the edge's (behind the Ingress, from
/// X-Forwarded-For), else the peer.
fn public_client<T>(request: &Request<T>) -> String {
    ClientAddr::of(request)
        .map(|c| c.to_string())
        .or_else(|| request.remote_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The stored key of an archive state (a list's filter).
fn archive_state_key(s: pb::ArchiveState) -> &'static str {
    match s {
        pb::ArchiveState::Unspecified => "",
        pb::ArchiveState::Pending => ArchiveState::Pending.key(),
        pb::ArchiveState::Running => ArchiveState::Running.key(),
        pb::ArchiveState::Succeeded => ArchiveState::Succeeded.key(),
        pb::ArchiveState::Failed => ArchiveState::Failed.key(),
        pb::ArchiveState::Cancelled => ArchiveState::Cancelled.key(),
    }
}

fn verification_to_proto(v: &Verification) -> pb::VerifyResponse {
    let genuine = v.verdict != Verdict::NotGenuine;
    let record = v.record.as_ref().filter(|_| genuine);
    pb::VerifyResponse {
        verdict: match v.verdict {
            Verdict::Valid => pb::Verdict::Valid,
            Verdict::Revoked => pb::Verdict::Revoked,
            Verdict::NotGenuine => pb::Verdict::NotGenuine,
        } as i32,
        failure: v
            .failure
            .map_or(pb::VerifyFailure::Unspecified, |f| match f {
                Failure::UnknownId => pb::VerifyFailure::UnknownId,
                Failure::BadSignature => pb::VerifyFailure::BadSignature,
                Failure::UnknownKey => pb::VerifyFailure::UnknownKey,
                Failure::Malformed => pb::VerifyFailure::Malformed,
                Failure::PayloadMismatch => pb::VerifyFailure::PayloadMismatch,
                Failure::PdfAltered => pb::VerifyFailure::PdfAltered,
                Failure::PdfNotIssued => pb::VerifyFailure::PdfNotIssued,
                Failure::WrongIssuer => pb::VerifyFailure::WrongIssuer,
                Failure::KeyNotInForce => pb::VerifyFailure::KeyNotInForce,
            }) as i32,
        message: v.message(),
        facts: record.map(|r| facts_to_proto(&r.doc.facts)),
        certificate: v
            .record
            .as_ref()
            .map(|r| format!("certificates/{}", r.id))
            .unwrap_or_default(),
        // Verifiers are anonymous: when and why, not who.
        revocation: record.and_then(|r| {
            r.doc.revocation.as_ref().map(|revocation| pb::Revocation {
                actor: None,
                ..revocation_to_proto(revocation)
            })
        }),
        log_index: record.map_or(0, |r| r.log_index),
        pdf_matches: v.pdf_matches,
    }
}

/// A checkpoint, with its C2SP signed note and the verifier key of the key that signed it.
fn checkpoint_to_proto(svc: &Certificates, c: &CheckpointRecord) -> pb::LogCheckpoint {
    let origin = &svc.config().log_origin;
    let signed_origin = c.note.split('\n').next().unwrap_or(origin);
    pb::LogCheckpoint {
        origin: origin.to_owned(),
        tree_size: c.tree_size,
        root_hash: c.root_hash.clone(),
        time: Some(timestamp(c.create_micros)),
        key_id: c.key_id.clone(),
        note: c.note.clone(),
        signature: c.signature.clone(),
        signed_note: svc.signed_checkpoint(c).unwrap_or_default(),
        verifier_key: svc
            .log_verifier_key(signed_origin, &c.key_id)
            .map(|k| k.to_string())
            .unwrap_or_default(),
        sm2_key_id: c
            .sm2
            .as_ref()
            .map(|(kid, _)| kid.clone())
            .unwrap_or_default(),
        sm2_signature: c.sm2.as_ref().map(|(_, s)| s.clone()).unwrap_or_default(),
        sm2_verifier_key: c
            .sm2
            .as_ref()
            .and_then(|(kid, _)| svc.log_verifier_key(signed_origin, kid))
            .map(|k| k.to_string())
            .unwrap_or_default(),
    }
}

fn entry_to_proto(e: &LogEntryRecord) -> pb::LogEntry {
    pb::LogEntry {
        index: e.idx,
        kind: match e.kind.as_str() {
            "issued" => pb::LogEntryKind::Issued,
            "revoked" => pb::LogEntryKind::Revoked,
            "draw_committed" => pb::LogEntryKind::DrawCommitted,
            _ => pb::LogEntryKind::Unspecified,
        } as i32,
        certificate: if e.certificate_id.is_empty() {
            String::new()
        } else {
            format!("certificates/{}", e.certificate_id)
        },
        entry: e.entry.clone(),
        leaf_hash: e.leaf_hash.clone(),
        time: Some(timestamp(e.create_micros)),
    }
}

const SUBJECT_RULE: &str = "give exactly one of certificate, qr_text or pdf";
const EMPTY_ITEM_ZH: &str = "无核验内容：请给出证书编号、二维码文字或 PDF 之一";

fn subject_of(field: &str, request: pb::VerifyRequest) -> Result<Subject, Status> {
    use pb::verify_request::Subject as S;
    match request.subject {
        Some(S::Certificate(name)) => Ok(Subject::Id(name)),
        Some(S::QrText(text)) => Ok(Subject::Qr(text)),
        Some(S::Pdf(bytes)) => Ok(Subject::Pdf(bytes)),
        None => Err(invalid(field, SUBJECT_RULE)),
    }
}

fn chunks<T: Send + 'static>(metadata: T, bytes: Vec<u8>, wrap: fn(Vec<u8>) -> T) -> Boxed<T> {
    let mut messages = vec![Ok(metadata)];
    messages.extend(bytes.chunks(CHUNK).map(|c| Ok(wrap(c.to_vec()))));
    Box::pin(futures::stream::iter(messages))
}

/// Streams what `fetch` reads: at once, then whenever `key` changes (polled every
/// [`WATCH_EVERY`]), ending after a state `done` says is terminal or at the first error.
fn watch<R, M, K, F, Fut>(
    first: R,
    fetch: F,
    key: fn(&R) -> K,
    done: fn(&R) -> bool,
    convert: fn(&R) -> M,
) -> Boxed<M>
where
    R: Send + 'static,
    M: Send + 'static,
    K: PartialEq + Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<R, Status>> + Send,
{
    let stream = futures::stream::unfold(
        (Some(first), None::<K>, false, fetch),
        move |(next, seen, ended, fetch)| async move {
            if ended {
                return None;
            }
            let mut current = next;
            loop {
                if let Some(r) = current.take() {
                    let k = key(&r);
                    if seen.as_ref() != Some(&k) {
                        let end = done(&r);
                        return Some((Ok(convert(&r)), (None, Some(k), end, fetch)));
                    }
                }
                tokio::time::sleep(WATCH_EVERY).await;
                match fetch().await {
                    Ok(r) => current = Some(r),
                    Err(e) => return Some((Err(e), (None, seen, true, fetch))),
                }
            }
        },
    );
    Box::pin(stream)
}

impl CertificateGrpc {
    /// `jurisdictions/{code}` or `schools/{code}` as a scope (a school's county is found from
    /// its certificates, and a school outside `caller`'s scope answers as one without any);
    /// None when empty.
    async fn scope_of(
        &self,
        caller: &Caller,
        field: &str,
        name: &str,
    ) -> Result<Option<ScopePath>, Status> {
        match parse_parent(field, name)? {
            None => Ok(None),
            Some(NameParent::Jurisdiction(code)) => DivisionCode::parse(code)
                .map(|c| Some(ScopePath::for_jurisdiction(c)))
                .map_err(|e| invalid(field, e.to_string())),
            Some(NameParent::School(code)) => Ok(Some(self.svc.school_path(caller, code).await?)),
        }
    }
}

#[tonic::async_trait]
impl CertificateService for CertificateGrpc {
    async fn start_issuance_run(
        &self,
        request: Request<pb::StartIssuanceRunRequest>,
    ) -> Reply<pb::IssuanceRun> {
        let ctx = ctx(&request)?;
        let r = request.get_ref();
        let batch = parse("batch", &r.batch, "batches")?;
        let run = self.svc.start_run(&ctx, batch, &r.request_id).await?;
        ok(run_to_proto(&run))
    }

    async fn get_issuance_run(
        &self,
        request: Request<pb::GetIssuanceRunRequest>,
    ) -> Reply<pb::IssuanceRun> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "issuanceRuns")?;
        ok(run_to_proto(&self.svc.run(&ctx, id).await?))
    }

    async fn cancel_issuance_run(
        &self,
        request: Request<pb::CancelIssuanceRunRequest>,
    ) -> Reply<pb::IssuanceRun> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "issuanceRuns")?;
        ok(run_to_proto(&self.svc.cancel_run(&ctx, id).await?))
    }

    async fn list_issuance_runs(
        &self,
        request: Request<pb::ListIssuanceRunsRequest>,
    ) -> Reply<pb::ListIssuanceRunsResponse> {
        let ctx = ctx(&request)?;
        let r = request.into_inner();
        let scope = self.scope_of(&ctx.caller, "parent", &r.parent).await?;
        let batch = if r.batch.is_empty() {
            ""
        } else {
            parse("batch", &r.batch, "batches")?
        };
        let state = match pb::IssuanceRunState::try_from(r.state) {
            Ok(pb::IssuanceRunState::Unspecified) => "",
            Ok(pb::IssuanceRunState::Pending) => "pending",
            Ok(pb::IssuanceRunState::Running) => "running",
            Ok(pb::IssuanceRunState::Succeeded) => "succeeded",
            Ok(pb::IssuanceRunState::Failed) => "failed",
            Ok(pb::IssuanceRunState::Cancelled) => RunState::Cancelled.key(),
            Err(_) => return Err(invalid("state", "not an IssuanceRunState")),
        };
        let page: Page<(i64, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("parent={};batch={batch};state={state}", r.parent),
        )?;
        let rows = self
            .svc
            .runs(&ctx, scope, batch, state, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |r| (r.create_micros, r.id.clone()));
        ok(pb::ListIssuanceRunsResponse {
            issuance_runs: rows.iter().map(run_to_proto).collect(),
            next_page_token,
        })
    }

    async fn list_parked_results(
        &self,
        request: Request<pb::ListParkedResultsRequest>,
    ) -> Reply<pb::ListParkedResultsResponse> {
        let ctx = ctx(&request)?;
        let r = request.into_inner();
        let scope = self.scope_of(&ctx.caller, "parent", &r.parent).await?;
        let batch = if r.batch.is_empty() {
            ""
        } else {
            parse("batch", &r.batch, "batches")?
        };
        let page: Page<String> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("parent={};batch={batch}", r.parent),
        )?;
        let after = page.after.clone().unwrap_or_default();
        let rows = self
            .svc
            .parked(&ctx, scope, batch, &after, page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |p| p.result_key.clone());
        ok(pb::ListParkedResultsResponse {
            parked_results: rows.iter().map(parked_to_proto).collect(),
            next_page_token,
        })
    }

    type WatchIssuanceRunStream = Boxed<pb::IssuanceRun>;

    async fn watch_issuance_run(
        &self,
        request: Request<pb::WatchIssuanceRunRequest>,
    ) -> Reply<Self::WatchIssuanceRunStream> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "issuanceRuns")?.to_owned();
        let first = self.svc.run(&ctx, &id).await?;
        let svc = self.svc.clone();
        let fetch = move || {
            let (svc, ctx, id) = (svc.clone(), ctx.clone(), id.clone());
            async move { svc.run(&ctx, &id).await.map_err(Status::from) }
        };
        ok(watch(
            first,
            fetch,
            |r| r.update_micros,
            |r| r.state.is_terminal(),
            run_to_proto,
        ))
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> Reply<pb::Certificate> {
        let caller = caller_from(&request)?;
        let id = certificate_id("name", &request.get_ref().name)?;
        ok(certificate_to_proto(
            &self.svc.certificate(&caller, id).await?,
        ))
    }

    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Reply<pb::ListCertificatesResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = if r.parent.is_empty() {
            Parent::Own
        } else if r.parent.starts_with("teachers/") {
            Parent::Teacher(parse("parent", &r.parent, "teachers")?.to_owned())
        } else if r.parent.starts_with("batches/") {
            Parent::Batch(parse("parent", &r.parent, "batches")?.to_owned())
        } else {
            match self.scope_of(&caller, "parent", &r.parent).await? {
                Some(s) => Parent::Scope(s),
                None => Parent::Own,
            }
        };
        let filter = CertFilter {
            status: match pb::CertificateStatus::try_from(r.status) {
                Ok(pb::CertificateStatus::Unspecified) => "",
                Ok(pb::CertificateStatus::Active) => "active",
                Ok(pb::CertificateStatus::Revoked) => "revoked",
                Err(_) => return Err(invalid("status", "not a CertificateStatus")),
            }
            .to_owned(),
            kind: match pb::CertificateKind::try_from(r.kind) {
                Ok(pb::CertificateKind::Unspecified) => "",
                Ok(pb::CertificateKind::MicroCompetency) => "micro_competency",
                Ok(pb::CertificateKind::Level) => "level",
                Err(_) => return Err(invalid("kind", "not a CertificateKind")),
            }
            .to_owned(),
            micro_competency: r.micro_competency.clone(),
            year: i64::from(r.year),
            ..CertFilter::default()
        };
        let page: Page<String> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!(
                "parent={};status={};kind={};mc={};year={}",
                r.parent, filter.status, filter.kind, filter.micro_competency, filter.year
            ),
        )?;
        let after = page.after.clone().unwrap_or_default();
        let (rows, total) = self
            .svc
            .list(&caller, parent, filter, &after, page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |c| c.number.clone());
        ok(pb::ListCertificatesResponse {
            certificates: rows.iter().map(certificate_to_proto).collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn search_certificates(
        &self,
        request: Request<pb::SearchCertificatesRequest>,
    ) -> Reply<pb::SearchCertificatesResponse> {
        // The client the edge resolved (behind the Ingress, from X-Forwarded-For); the peer
        // when served without the edge.
        let client = ClientAddr::of(&request)
            .map(|c| c.to_string())
            .or_else(|| request.remote_addr().map(|a| a.ip().to_string()))
            .unwrap_or_else(|| "unknown".to_owned());
        let r = request.into_inner();
        let rows = self
            .svc
            .search(&client, &r.teacher_display_name, &r.id_number)
            .await?;
        ok(pb::SearchCertificatesResponse {
            certificates: rows.iter().map(certificate_to_proto).collect(),
        })
    }

    async fn revoke_certificate(
        &self,
        request: Request<pb::RevokeCertificateRequest>,
    ) -> Reply<pb::Certificate> {
        let ctx = ctx(&request)?;
        let r = request.get_ref();
        let id = certificate_id("name", &r.name)?;
        let why = match pb::RevocationReason::try_from(r.reason) {
            Ok(pb::RevocationReason::ResultWithdrawn) => Reason::ResultWithdrawn,
            Ok(pb::RevocationReason::IssuedInError) => Reason::IssuedInError,
            Ok(pb::RevocationReason::Fraud) => Reason::Fraud,
            Ok(pb::RevocationReason::Other) => Reason::Other,
            _ => {
                // Every bad field at once, not one per round trip.
                let mut violations = tica_server::Violations::new();
                violations.add(
                    "reason",
                    "required: RESULT_WITHDRAWN, ISSUED_IN_ERROR, FRAUD or OTHER",
                );
                if let Err(why) = crate::service::check_explanation(&r.explanation) {
                    violations.add("explanation", why);
                }
                return Err(violations.into_status());
            }
        };
        let record = self
            .svc
            .revoke(&ctx, id, why, &r.explanation, &r.request_id)
            .await?;
        ok(certificate_to_proto(&record))
    }

    type DownloadCertificatePdfStream = Boxed<pb::DownloadCertificatePdfResponse>;

    async fn download_certificate_pdf(
        &self,
        request: Request<pb::DownloadCertificatePdfRequest>,
    ) -> Reply<Self::DownloadCertificatePdfStream> {
        use pb::download_certificate_pdf_response::Payload;
        let caller = caller_from(&request)?;
        let id = certificate_id("name", &request.get_ref().name)?;
        let (record, pdf) = self.svc.pdf(&caller, id).await?;
        let metadata = pb::DownloadCertificatePdfResponse {
            payload: Some(Payload::Metadata(common::FileMetadata {
                file_name: format!("{}.pdf", record.number),
                content_type: "application/pdf".into(),
                size_bytes: pdf.len() as i64,
                sha256: record.pdf_sha256.clone(),
            })),
        };
        ok(chunks(metadata, pdf, |c| {
            pb::DownloadCertificatePdfResponse {
                payload: Some(Payload::Chunk(c)),
            }
        }))
    }

    async fn get_certificate_credential(
        &self,
        request: Request<pb::GetCertificateCredentialRequest>,
    ) -> Reply<pb::CertificateCredential> {
        let caller = caller_from(&request)?;
        let id = certificate_id("name", &request.get_ref().name)?;
        let format = match pb::CredentialFormat::try_from(request.get_ref().format) {
            Ok(pb::CredentialFormat::Unspecified | pb::CredentialFormat::VcJcs) => {
                pb::CredentialFormat::VcJcs
            }
            Ok(pb::CredentialFormat::OpenBadge) => pb::CredentialFormat::OpenBadge,
            Err(_) => {
                return Err(invalid(
                    "format",
                    format!("unknown credential format {}", request.get_ref().format),
                ));
            }
        };
        let record = self.svc.certificate(&caller, id).await?;
        let (credential_json, verification_method) = match format {
            pb::CredentialFormat::OpenBadge => self.svc.open_badge(&record).await?,
            _ => self.svc.credential(&record)?,
        };
        ok(pb::CertificateCredential {
            certificate: format!("certificates/{id}"),
            credential_json,
            verification_method,
            format: format as i32,
        })
    }

    async fn create_verification_code(
        &self,
        request: Request<pb::CreateVerificationCodeRequest>,
    ) -> Reply<pb::VerificationCode> {
        let ctx = ctx(&request)?;
        let r = request.get_ref();
        let id = certificate_id("parent", &r.parent)?;
        let (record, code) = self.svc.create_code(&ctx, id, r.ttl_days).await?;
        ok(code_to_proto(&record, record.create_micros, Some(code)))
    }

    async fn list_verification_codes(
        &self,
        request: Request<pb::ListVerificationCodesRequest>,
    ) -> Reply<pb::ListVerificationCodesResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let parent = match r.parent.as_str() {
            "certificates/-" => CodeParent::All,
            name => CodeParent::Certificate(certificate_id("parent", name)?.to_owned()),
        };
        let page: Page<(i64, String)> =
            Page::from_request(r.page_size, &r.page_token, &format!("parent={}", r.parent))?;
        let rows = self
            .svc
            .codes(&caller, parent, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |c| (c.create_micros, c.id.clone()));
        let now = self.svc.config().clock.now();
        ok(pb::ListVerificationCodesResponse {
            verification_codes: rows.iter().map(|c| code_to_proto(c, now, None)).collect(),
            next_page_token,
        })
    }

    async fn revoke_verification_code(
        &self,
        request: Request<pb::RevokeVerificationCodeRequest>,
    ) -> Reply<pb::VerificationCode> {
        let ctx = ctx(&request)?;
        let (certificate, code) = code_ids("name", &request.get_ref().name)?;
        let record = self.svc.revoke_code(&ctx, certificate, code).await?;
        ok(code_to_proto(&record, self.svc.config().clock.now(), None))
    }

    async fn verify_with_code(
        &self,
        request: Request<pb::VerifyWithCodeRequest>,
    ) -> Reply<pb::VerifyResponse> {
        let client = public_client(&request);
        let r = request.into_inner();
        match self
            .svc
            .lookup_code(&client, &r.code, &r.teacher_display_name)
            .await?
        {
            Lookup::Found(verification) => {
                verification.count(Via::Grpc);
                ok(verification_to_proto(&verification))
            }
            Lookup::NotFound => Err(Status::not_found(
                "没有与该验证码和姓名相符的证书 No certificate has this code with this name",
            )),
        }
    }

    async fn create_certificate_archive(
        &self,
        request: Request<pb::CreateCertificateArchiveRequest>,
    ) -> Reply<pb::CertificateArchive> {
        let ctx = ctx(&request)?;
        let a = request
            .get_ref()
            .certificate_archive
            .clone()
            .ok_or_else(|| invalid("certificate_archive", "required"))?;
        let school = parse("certificate_archive.school", &a.school, "schools")?;
        let path = self.svc.school_path(&ctx.caller, school).await?;
        let batch = if a.batch.is_empty() {
            ""
        } else {
            parse("certificate_archive.batch", &a.batch, "batches")?
        };
        let archive = self
            .svc
            .create_archive(
                &ctx,
                path,
                batch,
                a.include_revoked,
                &request.get_ref().request_id,
            )
            .await?;
        ok(archive_to_proto(&archive))
    }

    async fn cancel_certificate_archive(
        &self,
        request: Request<pb::CancelCertificateArchiveRequest>,
    ) -> Reply<pb::CertificateArchive> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "certificateArchives")?;
        ok(archive_to_proto(&self.svc.cancel_archive(&ctx, id).await?))
    }

    async fn get_certificate_archive(
        &self,
        request: Request<pb::GetCertificateArchiveRequest>,
    ) -> Reply<pb::CertificateArchive> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "certificateArchives")?;
        ok(archive_to_proto(&self.svc.archive(&ctx, id).await?))
    }

    async fn list_certificate_archives(
        &self,
        request: Request<pb::ListCertificateArchivesRequest>,
    ) -> Reply<pb::ListCertificateArchivesResponse> {
        let ctx = ctx(&request)?;
        let r = request.into_inner();
        let scope = self.scope_of(&ctx.caller, "parent", &r.parent).await?;
        let state = match pb::ArchiveState::try_from(r.state) {
            Ok(pb::ArchiveState::Unspecified) => "",
            Ok(s) => archive_state_key(s),
            Err(_) => return Err(invalid("state", "not an ArchiveState")),
        };
        let page: Page<(i64, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("parent={};state={state}", r.parent),
        )?;
        let rows = self
            .svc
            .archives(&ctx, scope, state, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |a| (a.create_micros, a.id.clone()));
        ok(pb::ListCertificateArchivesResponse {
            certificate_archives: rows.iter().map(archive_to_proto).collect(),
            next_page_token,
        })
    }

    type WatchCertificateArchiveStream = Boxed<pb::CertificateArchive>;

    async fn watch_certificate_archive(
        &self,
        request: Request<pb::WatchCertificateArchiveRequest>,
    ) -> Reply<Self::WatchCertificateArchiveStream> {
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "certificateArchives")?.to_owned();
        let first = self.svc.archive(&ctx, &id).await?;
        let svc = self.svc.clone();
        let fetch = move || {
            let (svc, ctx, id) = (svc.clone(), ctx.clone(), id.clone());
            async move { svc.archive(&ctx, &id).await.map_err(Status::from) }
        };
        ok(watch(
            first,
            fetch,
            |a| (a.added, a.state),
            |a| a.state.is_terminal(),
            archive_to_proto,
        ))
    }

    type DownloadCertificateArchiveStream = Boxed<pb::DownloadCertificateArchiveResponse>;

    async fn download_certificate_archive(
        &self,
        request: Request<pb::DownloadCertificateArchiveRequest>,
    ) -> Reply<Self::DownloadCertificateArchiveStream> {
        use pb::download_certificate_archive_response::Payload;
        use tokio::io::AsyncReadExt;
        let ctx = ctx(&request)?;
        let id = parse("name", &request.get_ref().name, "certificateArchives")?;
        let (archive, path) = self.svc.archive_file(&ctx, id).await?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Status::internal(format!("opening the archive: {e}")))?;
        let metadata = pb::DownloadCertificateArchiveResponse {
            payload: Some(Payload::Metadata(common::FileMetadata {
                file_name: format!("{}-certificates.zip", archive.school),
                content_type: "application/zip".into(),
                size_bytes: archive.size_bytes,
                sha256: archive.sha256.clone(),
            })),
        };
        // Read and send 1 MiB at a time: the archive is never held in memory.
        let rest = futures::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buffer = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                match file.read(&mut buffer[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => {
                        return Some((
                            Err(Status::internal(format!("reading the archive: {e}"))),
                            None,
                        ));
                    }
                }
            }
            if filled == 0 {
                return None;
            }
            buffer.truncate(filled);
            Some((
                Ok(pb::DownloadCertificateArchiveResponse {
                    payload: Some(Payload::Chunk(buffer)),
                }),
                Some(file),
            ))
        });
        let stream = futures::StreamExt::chain(futures::stream::iter([Ok(metadata)]), rest);
        ok(Box::pin(stream))
    }

    async fn verify(&self, request: Request<pb::VerifyRequest>) -> Reply<pb::VerifyResponse> {
        let subject = subject_of("subject", request.into_inner())?;
        let verification = self.svc.verify_shared(subject).await?;
        verification.count(Via::Grpc);
        ok(verification_to_proto(&verification))
    }

    async fn batch_verify(
        &self,
        request: Request<pb::BatchVerifyRequest>,
    ) -> Reply<pb::BatchVerifyResponse> {
        let client = ClientAddr::of(&request);
        let limiter = request.extensions().get::<ClientLimiter>().cloned();
        let requests = request.into_inner().requests;
        if requests.len() > 1000 {
            return Err(invalid("requests", "at most 1000 per call"));
        }
        // The edge charged one call; a batch counts as one call per 50 items, so a client
        // verifying in bulk gets about 100 items a second at the default limit, and nobody
        // gets a thousand signature checks for the price of one call.
        let extra = u32::try_from(requests.len().div_ceil(BATCH_ITEMS_PER_CALL))
            .unwrap_or(u32::MAX)
            .saturating_sub(1);
        if let (Some(limiter), Some(client), true) = (limiter, client, extra > 0) {
            limiter
                .charge(client.ip(), extra)
                .map_err(tica_server::edge::resource_exhausted)?;
        }
        let mut responses = Vec::with_capacity(requests.len());
        for (i, r) in requests.into_iter().enumerate() {
            // An item without a subject is that item's answer, not the whole batch's.
            let Ok(subject) = subject_of(&format!("requests[{i}].subject"), r) else {
                responses.push(pb::VerifyResponse {
                    verdict: pb::Verdict::NotGenuine as i32,
                    failure: pb::VerifyFailure::Malformed as i32,
                    message: format!("{EMPTY_ITEM_ZH} {SUBJECT_RULE}"),
                    ..Default::default()
                });
                continue;
            };
            let verification = self.svc.verify(subject).await?;
            verification.count(Via::Batch);
            responses.push(verification_to_proto(&verification));
        }
        ok(pb::BatchVerifyResponse { responses })
    }

    async fn list_signing_keys(
        &self,
        _request: Request<pb::ListSigningKeysRequest>,
    ) -> Reply<pb::ListSigningKeysResponse> {
        let keys = self
            .svc
            .signing_keys()
            .iter()
            .map(|k| {
                let mut multicodec = vec![0xed, 0x01];
                multicodec.extend_from_slice(&k.public_key);
                pb::SigningKey {
                    name: format!("signingKeys/{}", k.kid),
                    key_id: k.kid.clone(),
                    algorithm: k.algorithm().into(),
                    public_key: k.public_key.clone(),
                    // did:key and Data Integrity name Ed25519 keys only.
                    public_key_multibase: if k.is_sm2() {
                        String::new()
                    } else {
                        format!("z{}", bs58::encode(multicodec).into_string())
                    },
                    verification_method: self.svc.verification_method(&k.kid),
                    state: if k.retire_micros.is_some() {
                        pb::SigningKeyState::Retired
                    } else {
                        pb::SigningKeyState::Active
                    } as i32,
                    activate_time: Some(timestamp(k.activate_micros)),
                    retire_time: k.retire_micros.map(timestamp),
                }
            })
            .collect();
        ok(pb::ListSigningKeysResponse {
            signing_keys: keys,
            jwks_json: self.svc.jwks_json(),
        })
    }

    async fn get_log_checkpoint(
        &self,
        request: Request<pb::GetLogCheckpointRequest>,
    ) -> Reply<pb::LogCheckpoint> {
        let c = self.svc.log_checkpoint(request.get_ref().tree_size).await?;
        ok(checkpoint_to_proto(&self.svc, &c))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Reply<pb::InclusionProof> {
        use pb::get_inclusion_proof_request::Entry;
        let r = request.into_inner();
        let (index, named) = match r.entry {
            Some(Entry::LogIndex(i)) => (i, false),
            Some(Entry::Certificate(name)) => {
                let id = certificate_id("certificate", &name)?;
                (self.svc.log_index_of(id).await?, true)
            }
            None => return Err(invalid("entry", "give certificate or log_index")),
        };
        let view: LogView = self.svc.inclusion_proof(index, r.tree_size, named).await?;
        ok(pb::InclusionProof {
            entry: view.entry.as_ref().map(entry_to_proto),
            tree_size: view.tree_size,
            hashes: view.hashes,
            checkpoint: Some(checkpoint_to_proto(&self.svc, &view.checkpoint)),
        })
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Reply<pb::ConsistencyProof> {
        let r = request.get_ref();
        let view = self
            .svc
            .consistency_proof(r.first_tree_size, r.second_tree_size)
            .await?;
        ok(pb::ConsistencyProof {
            first_tree_size: view.first_tree_size,
            second_tree_size: view.tree_size,
            hashes: view.hashes,
            checkpoint: Some(checkpoint_to_proto(&self.svc, &view.checkpoint)),
        })
    }

    async fn record_draw_commitment(
        &self,
        request: Request<pb::RecordDrawCommitmentRequest>,
    ) -> Reply<pb::LogEntry> {
        let ctx = ctx(&request)?;
        let r = request.into_inner();
        let entry = self
            .svc
            .record_draw_commitment(
                &ctx,
                r.review_round,
                r.population_sha256,
                r.plan_sha256,
                r.tool_version,
            )
            .await?;
        ok(entry_to_proto(&entry))
    }

    async fn list_register_changes(
        &self,
        request: Request<pb::ListRegisterChangesRequest>,
    ) -> Reply<pb::ListRegisterChangesResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let scope = self.scope_of(&caller, "parent", &r.parent).await?;
        let limit = match r.page_size {
            0 => 100,
            n if (1..=1000).contains(&n) => i64::from(n),
            _ => return Err(invalid("page_size", "between 0 and 1000")),
        };
        let page = self
            .svc
            .register_changes(&caller, scope, &r.cursor, limit)
            .await?;
        ok(pb::ListRegisterChangesResponse {
            changes: page
                .changes
                .iter()
                .map(|c| pb::RegisterChange {
                    log_index: c.idx,
                    kind: match c.kind.as_str() {
                        "issued" => pb::RegisterChangeKind::Issued,
                        "revoked" => pb::RegisterChangeKind::Revoked,
                        _ => pb::RegisterChangeKind::Unspecified,
                    } as i32,
                    time: Some(timestamp(c.create_micros)),
                    certificate: Some(certificate_to_proto(&c.certificate)),
                })
                .collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
            log_size: page.log_size,
        })
    }

    async fn get_revocation_list(
        &self,
        _request: Request<pb::GetRevocationListRequest>,
    ) -> Reply<pb::RevocationList> {
        let list = self.svc.revocation_list().await?;
        ok(pb::RevocationList {
            token: list.token,
            issue_time: Some(timestamp(list.issue_micros)),
            expire_time: Some(timestamp(list.expire_micros)),
            revoked_count: list.count as i64,
        })
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = caller_from(&request)?;
        let r = request.into_inner();
        let scope = match self.scope_of(&caller, "parent", &r.parent).await? {
            Some(s) => {
                caller.require_covers(&s)?;
                s
            }
            None => caller.scope.clone(),
        };
        let page: Page<i64> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("parent={};resource={}", r.parent, r.resource),
        )?;
        let rows =
            tica_storage::audit::list(self.svc.db(), &scope, &r.resource, page.after, page.limit())
                .await
                .map_err(|e| tica_server::errors::internal(&e))?;
        let (rows, next_page_token) = page.finish(rows, |e| e.id);
        ok(pb::ListAuditEventsResponse {
            audit_events: rows.iter().map(tica_server::audit_to_proto).collect(),
            next_page_token,
        })
    }
}
