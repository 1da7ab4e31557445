//! Verification: by id, by scanned QR text, by PDF bytes — VALID, REVOKED or NOT GENUINE, with
//! the reason. No token: HR offices and the public page call it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tica_credential::CredentialError;
use tica_credential::qr;

use super::{Certificates, is_certificate_id};
use crate::error::Result;
use crate::model::*;
use crate::store;

/// Signatures remembered as verified: 32-byte digests, some 6 MB when full (then forgotten
/// at once and learnt again).
pub const CHECKED_CAPACITY: usize = 100_000;

/// Answers by id remembered (genuine ones: VALID or REVOKED, each with its record, some 2–3 KB):
/// some 30 MB when full, then forgotten at once and learnt again.
pub const ANSWERS_CAPACITY: usize = 10_000;

/// How long a revocation committed through another replica may take to show here: a
/// remembered answer is given only while the register's revocation epoch (the log index of its
/// newest revocation, `store::last_revocation`, one indexed read) was read less than this ago
/// by the service's clock; the first call after that reads it again before answering, and a
/// changed epoch forgets every remembered answer. A revocation committed through this replica
/// shows at once. The signed revocation list may be relied on offline for a day; a second is
/// well inside what a verifier already accepts.
pub const REVOCATION_SHOWS_WITHIN: Duration = Duration::from_secs(1);

/// Verification answers by certificate id, as long as nothing could have changed them: the
/// row's signature is checked with the keys this process published at start (fixed for its
/// life), and the only change a stored certificate ever sees is its revocation (final, and
/// committed with its `revoked` log entry in one transaction). So an answer stays right until
/// a revocation — here ([`Certificates::revocations_committed`], at once) or through another
/// replica (the epoch, within [`REVOCATION_SHOWS_WITHIN`]).
///
/// Only genuine answers are kept: an unknown id may be issued later, and a visitor cannot
/// fill the memory with ids that do not exist.
#[derive(Debug)]
pub(super) struct Answers {
    /// Moves on at every revocation seen: answers remembered under an older generation are
    /// not given.
    generation: AtomicU64,
    /// The clock (µs) when the epoch was last read; `i64::MIN` before the first reading.
    epoch_read_at: AtomicI64,
    /// The last epoch read, behind the lock one reader at a time takes (the others wait for
    /// its answer rather than all asking the database).
    epoch: tokio::sync::Mutex<Option<i64>>,
    by_id: Mutex<HashMap<String, (u64, Arc<Verification>)>>,
}

impl Default for Answers {
    fn default() -> Answers {
        Answers {
            generation: AtomicU64::new(0),
            epoch_read_at: AtomicI64::new(i64::MIN),
            epoch: tokio::sync::Mutex::new(None),
            by_id: Mutex::new(HashMap::new()),
        }
    }
}

impl Answers {
    /// Whether the epoch read last still vouches for remembered answers at `now` (a clock
    /// that went back vouches for nothing).
    fn fresh(&self, now: i64) -> bool {
        let read_at = self.epoch_read_at.load(Ordering::SeqCst);
        read_at != i64::MIN
            && now >= read_at
            && now - read_at < REVOCATION_SHOWS_WITHIN.as_micros() as i64
    }

    fn get(&self, id: &str) -> Option<Arc<Verification>> {
        let by_id = self.by_id.lock().expect("answers");
        let (generation, answer) = by_id.get(id)?;
        (*generation == self.generation.load(Ordering::SeqCst)).then(|| answer.clone())
    }

    /// Remembers `answer`, computed from what was read after `generation` was current.
    fn put(&self, id: &str, generation: u64, answer: Arc<Verification>) {
        let mut by_id = self.by_id.lock().expect("answers");
        if generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        if by_id.len() >= ANSWERS_CAPACITY && !by_id.contains_key(id) {
            by_id.clear();
        }
        by_id.insert(id.to_owned(), (generation, answer));
    }

    /// Forgets every remembered answer.
    fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// The largest PDF verified.
pub const MAX_PDF_BYTES: usize = 1 << 20;

/// What to verify.
#[derive(Clone, Debug)]
pub enum Subject {
    /// A certificate id.
    Id(String),
    /// Text scanned from a QR code.
    Qr(String),
    /// A PDF file.
    Pdf(Vec<u8>),
}

/// The answer at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 有效: genuine and not revoked.
    Valid,
    /// 已撤销: genuine but revoked.
    Revoked,
    /// 无法验证.
    NotGenuine,
}

impl Verdict {
    /// The `outcome` label of `tica_certificate_verifications_total`.
    pub fn key(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Revoked => "revoked",
            Verdict::NotGenuine => "not_genuine",
        }
    }
}

/// Where a verification was asked: the `via` label of `tica_certificate_verifications_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The `Verify` RPC.
    Grpc,
    /// One item of `BatchVerify`.
    Batch,
    /// The verification page a QR code opens.
    Page,
    /// A PDF uploaded to the verification pages.
    PdfUpload,
}

impl Via {
    fn key(self) -> &'static str {
        match self {
            Via::Grpc => "grpc",
            Via::Batch => "batch",
            Via::Page => "page",
            Via::PdfUpload => "pdf_upload",
        }
    }
}

/// Why a certificate is not genuine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No certificate has this id.
    UnknownId,
    /// The signature does not verify.
    BadSignature,
    /// The key id names no published key.
    UnknownKey,
    /// Not a TICA certificate QR text or PDF.
    Malformed,
    /// A genuine payload that differs from the registered certificate.
    PayloadMismatch,
    /// A genuine payload in a PDF whose bytes differ from the PDF issued.
    PdfAltered,
    /// A PDF no certificate was issued as, with no readable payload.
    PdfNotIssued,
    /// The QR code's URL is not this issuer's published base URL.
    WrongIssuer,
    /// Signed by a key outside the span it signed in (before activation, after retirement).
    KeyNotInForce,
}

impl Failure {
    /// Chinese with English beside.
    pub fn message(self) -> &'static str {
        match self {
            Failure::UnknownId => "无此证书 No certificate has this id",
            Failure::BadSignature => {
                "签名不符，内容被篡改 The signature does not match: the content was altered"
            }
            Failure::UnknownKey => {
                "签名密钥未公布 The signing key is not one of the published keys"
            }
            Failure::Malformed => {
                "不是本系统的证书二维码或文件 Not a certificate QR code or file of this system"
            }
            Failure::PayloadMismatch => {
                "与登记的证书内容不符 The content differs from the certificate on record"
            }
            Failure::PdfAltered => {
                "文件已被修改，与签发的文件不一致 The file was altered: its bytes differ from the PDF issued"
            }
            Failure::PdfNotIssued => "未找到签发记录 No certificate was issued as this file",
            Failure::WrongIssuer => {
                "二维码指向的不是本发证系统的网址 The QR code points at another site than this issuer's"
            }
            Failure::KeyNotInForce => {
                "签名密钥在证书日期不在有效期内 The signing key was not in force on the certificate's date"
            }
        }
    }
}

/// A verification's outcome.
#[derive(Clone, Debug)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// NOT GENUINE: why.
    pub failure: Option<Failure>,
    /// Genuine: the certificate on record.
    pub record: Option<CertificateRecord>,
    /// PDF requests: the bytes are exactly the PDF issued.
    pub pdf_matches: bool,
}

impl Verification {
    fn not_genuine(failure: Failure) -> Verification {
        Verification {
            verdict: Verdict::NotGenuine,
            failure: Some(failure),
            record: None,
            pdf_matches: false,
        }
    }

    fn genuine(record: CertificateRecord, pdf_matches: bool) -> Verification {
        Verification {
            verdict: match record.status {
                Status::Active => Verdict::Valid,
                Status::Revoked => Verdict::Revoked,
            },
            failure: None,
            record: Some(record),
            pdf_matches,
        }
    }

    /// Counts this answer in `tica_certificate_verifications_total` (how it was asked and the
    /// verdict: nothing about the certificate or who asked).
    pub fn count(&self, via: Via) {
        metrics::counter!(
            "tica_certificate_verifications_total",
            "via" => via.key(),
            "outcome" => self.verdict.key()
        )
        .increment(1);
    }

    /// The verdict and reason in Chinese with English beside.
    pub fn message(&self) -> String {
        match (self.verdict, self.failure) {
            (Verdict::Valid, _) => "有效 VALID".to_owned(),
            (Verdict::Revoked, _) => "已撤销 REVOKED".to_owned(),
            (Verdict::NotGenuine, Some(f)) => format!("无法验证 NOT GENUINE：{}", f.message()),
            (Verdict::NotGenuine, None) => "无法验证 NOT GENUINE".to_owned(),
        }
    }
}

/// The base URL a stored certificate's signature covers: the one its QR code was issued under
/// (an installation that moved its address still verifies what it signed before).
fn signed_base(record: &CertificateRecord) -> String {
    // `{base}/c/{id}`: cheaper than decoding the QR text's payload on every verification.
    let url = &record.doc.verification_url;
    qr::normalize_base(
        url.rsplit_once("/c/")
            .map_or(url.as_str(), |(base, _)| base),
    )
}

fn failure_of(error: &CredentialError) -> Failure {
    match error {
        CredentialError::BadSignature => Failure::BadSignature,
        CredentialError::WrongIssuer { .. } => Failure::WrongIssuer,
        CredentialError::KeyNotInForce { .. } => Failure::KeyNotInForce,
        CredentialError::UnknownKey(_) => Failure::UnknownKey,
        CredentialError::Malformed(_) | CredentialError::Unsupported(_) => Failure::Malformed,
    }
}

impl Certificates {
    /// Verifies one subject.
    pub async fn verify(&self, subject: Subject) -> Result<Verification> {
        match subject {
            Subject::Id(id) => self.verify_id(&id).await,
            Subject::Qr(text) => self.verify_qr(&text).await,
            Subject::Pdf(bytes) => self.verify_pdf(&bytes).await,
        }
    }

    /// Verifies one subject, sharing the answer remembered for an id (see [`Answers`]).
    pub async fn verify_shared(&self, subject: Subject) -> Result<Arc<Verification>> {
        match subject {
            Subject::Id(id) => self.verify_id_shared(&id).await,
            other => Ok(Arc::new(self.verify(other).await?)),
        }
    }

    /// Forgets every remembered answer by id: called once a revocation has committed here.
    pub(super) fn revocations_committed(&self) {
        self.inner.answers.forget();
    }

    /// By id: the registered certificate, its stored signature checked again.
    async fn verify_id(&self, id: &str) -> Result<Verification> {
        Ok(Arc::unwrap_or_clone(self.verify_id_shared(id).await?))
    }

    /// [`Certificates::verify_id`], answered from memory while the answer cannot have changed
    /// ([`Answers`]).
    async fn verify_id_shared(&self, id: &str) -> Result<Arc<Verification>> {
        let id = id.trim().trim_start_matches("certificates/").to_lowercase();
        if !is_certificate_id(&id) {
            return Ok(Arc::new(Verification::not_genuine(Failure::UnknownId)));
        }
        let answers = &self.inner.answers;
        if !answers.fresh(self.inner.config.clock.now()) {
            self.read_revocation_epoch().await?;
        }
        if let Some(answer) = answers.get(&id) {
            return Ok(answer);
        }
        // Read after the generation: an answer a revocation overtakes is not remembered.
        let generation = answers.generation.load(Ordering::SeqCst);
        let Some(record) = store::certificate(self.db(), &id).await? else {
            return Ok(Arc::new(Verification::not_genuine(Failure::UnknownId)));
        };
        if let Err(failure) = self.check_signed(
            &signed_base(&record),
            &id,
            &record.payload,
            &record.signature,
        ) {
            return Ok(Arc::new(Verification::not_genuine(failure)));
        }
        let answer = Arc::new(Verification::genuine(record, false));
        answers.put(&id, generation, answer.clone());
        Ok(answer)
    }

    /// Reads the register's revocation epoch (one reader at a time; the others wait for its
    /// reading), forgetting every remembered answer when it moved.
    async fn read_revocation_epoch(&self) -> Result<()> {
        let answers = &self.inner.answers;
        let mut epoch = answers.epoch.lock().await;
        // Read by whoever held the lock before.
        if answers.fresh(self.inner.config.clock.now()) {
            return Ok(());
        }
        // The time before the reading: what it vouches for starts no later than the read.
        let started = self.inner.config.clock.now();
        let read = store::last_revocation(self.db()).await?;
        if *epoch != Some(read) {
            answers.forget();
            *epoch = Some(read);
        }
        answers.epoch_read_at.store(started, Ordering::SeqCst);
        Ok(())
    }

    /// By QR text: the issuer's address and the signature first (offline-equivalent), then the
    /// register, which must hold exactly these bytes.
    async fn verify_qr(&self, text: &str) -> Result<Verification> {
        if let None | Some((_, "")) = text.trim().split_once('#') {
            return self.verify_address(text).await;
        }
        let scanned = match qr::parse_qr(text) {
            Ok(scanned) => scanned,
            Err(error) => return Ok(Verification::not_genuine(failure_of(&error))),
        };
        let expected = qr::normalize_base(&self.inner.config.base_url);
        if scanned.base_url != expected {
            return Ok(Verification::not_genuine(Failure::WrongIssuer));
        }
        if let Err(failure) = self.check_signed(
            &scanned.base_url,
            &scanned.id,
            &scanned.protected,
            &scanned.signature,
        ) {
            return Ok(Verification::not_genuine(failure));
        }
        let Some(record) = store::certificate(self.db(), &scanned.id).await? else {
            return Ok(Verification::not_genuine(Failure::UnknownId));
        };
        if record.payload != scanned.protected || record.signature != scanned.signature {
            return Ok(Verification::not_genuine(Failure::PayloadMismatch));
        }
        Ok(Verification::genuine(record, false))
    }

    /// By address: the certificate's own verification URL, or a QR text cut at its `#` (some
    /// scanners drop the fragment). There is no signed payload to check offline, so the register
    /// answers, as for an id — under this issuer's address only.
    async fn verify_address(&self, url: &str) -> Result<Verification> {
        let (base, id) = match qr::parse_address(url.trim().trim_end_matches('#')) {
            Ok(address) => address,
            Err(error) => return Ok(Verification::not_genuine(failure_of(&error))),
        };
        if base != qr::normalize_base(&self.inner.config.base_url) {
            return Ok(Verification::not_genuine(Failure::WrongIssuer));
        }
        self.verify_id(&id).await
    }

    /// Checks a signed payload (`qr::verify_signed_with`), remembering what verified: the same
    /// base, id, claims and signature verify the same way for as long as the process runs (its
    /// published keys are fixed at start), so a certificate checked again — its page, then the
    /// page's QR check, then HR's next look — costs a SHA-256, not an Ed25519 verification.
    /// Only successes are kept (a visitor cannot fill the memory with forgeries), at most
    /// [`CHECKED_CAPACITY`] of them.
    fn check_signed(
        &self,
        base: &str,
        id: &str,
        protected: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), Failure> {
        let mut hash = Sha256::new();
        for part in [base.as_bytes(), id.as_bytes(), protected, signature] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        let digest: [u8; 32] = hash.finalize().into();
        if self
            .inner
            .checked
            .lock()
            .expect("checked")
            .contains(&digest)
        {
            return Ok(());
        }
        // Both signatures of a payload signed with SM2 too, each by a published key in force.
        qr::verify_signed_with(
            base,
            id,
            protected,
            signature,
            &|kid| self.resolve(kid),
            &|kid| self.resolve_sm2(kid),
        )
        .map_err(|error| failure_of(&error))?;
        let mut checked = self.inner.checked.lock().expect("checked");
        if checked.len() >= CHECKED_CAPACITY {
            checked.clear();
        }
        checked.insert(digest);
        Ok(())
    }

    /// By PDF: exactly an issued file, or a file carrying a genuine payload but altered.
    async fn verify_pdf(&self, bytes: &[u8]) -> Result<Verification> {
        if bytes.len() > MAX_PDF_BYTES {
            return Err(super::invalid(
                "pdf",
                format!("at most {MAX_PDF_BYTES} bytes (a certificate is about 20 KB)"),
            ));
        }
        let sha = hex::encode(Sha256::digest(bytes));
        if let Some(record) = store::certificate_by_pdf(self.db(), &sha).await? {
            return Ok(Verification::genuine(record, true));
        }
        let Some(text) = tica_pdf::embedded_qr_text(bytes) else {
            return Ok(Verification::not_genuine(Failure::PdfNotIssued));
        };
        let carried = self.verify_qr(&text).await?;
        Ok(match carried.verdict {
            Verdict::NotGenuine => carried,
            _ => Verification {
                verdict: Verdict::NotGenuine,
                failure: Some(Failure::PdfAltered),
                record: carried.record,
                pdf_matches: false,
            },
        })
    }
}
