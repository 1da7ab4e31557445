//! The certificate service's logic: issuance runs over the assessment service's stream,
//! signatures, the PDF, the transparency log, verification, revocation, downloads and archives.
//! No proto types except the upstream services' messages read in [`issue`].

mod archive;
mod badge;
mod codes;
mod feed;
mod issue;
mod log;
mod public;
mod throttle;
mod verify;

pub use badge::{STATUS_LIST_PATH, did_web, encode_status_list};
pub use codes::{
    CODE_ALPHABET, CodeParent, DEFAULT_TTL_DAYS, MAX_ACTIVE_CODES, MAX_TTL_DAYS, MIN_TTL_DAYS,
    code_hash, code_name, parse_code,
};
pub use feed::ChangePage;
pub use issue::{Numbers, check_explanation};
pub use log::LogView;
pub use public::{Difference, Lookup, QrCheck, Revocations, verification_code};
pub use throttle::{GuessLimits, target_key};
pub use verify::{
    ANSWERS_CAPACITY, Failure, MAX_PDF_BYTES, REVOCATION_SHOWS_WITHIN, Subject, Verdict,
    Verification, Via,
};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use tica_auth::{Caller, Role};
use tica_credential::qr::{PublishedKey, PublishedSm2Key};
use tica_domain::ScopePath;
use tica_pdf::Renderer;
use tica_storage::Database;
use tica_storage::audit::AuditEntry;

use crate::error::{CertificateError, Result};
use crate::keys::KeyFiles;
use crate::model::*;
use crate::store;
use crate::upstream::Upstream;

/// The fully-qualified gRPC service name (audit entries name methods under it).
pub const SERVICE_NAME: &str = "tica.certificate.v1.CertificateService";

/// What an installation configures.
#[derive(Clone, Debug)]
pub struct Config {
    /// The verification page's public base URL, e.g. `https://verify.ahedu.gov.cn`.
    pub base_url: String,
    /// The log's identity in checkpoints, e.g. `verify.ahedu.gov.cn/certificates`.
    pub log_origin: String,
    /// The secret the teachers' search keys are hashed with (32+ random bytes).
    pub search_secret: Vec<u8>,
    /// Where archive ZIPs are written.
    pub archive_dir: PathBuf,
    /// How many certified results one transaction issues.
    pub chunk: usize,
    /// The guess throttles of the teachers' search and the number lookup.
    pub guesses: GuessLimits,
    /// How long a signed revocation list may be relied on offline.
    pub revocation_max_age: Duration,
    /// Searches per client and minute (on top of the per-target throttle).
    pub searches_per_client_minute: u32,
    /// The time (tests move it).
    pub clock: Clock,
    /// The suite's token key (`TICA_TOKEN_SIGNING_KEY`), when this service holds it: a run
    /// whose process stopped is then resumed here, from its last committed chunk, with a
    /// token this service mints for the run's county office (subject [`RESUMING_SUBJECT`]).
    /// Without it such a run ends FAILED and a new run resumes after its last certificate.
    pub resume_signer: Option<tica_auth::TokenSigner>,
    /// Where the issuing offices' seals are read from at start ([`crate::startup::load_seals`]).
    pub seals_dir: Option<PathBuf>,
    /// The issuing offices' seals, by division code: what their certificates carry.
    pub seals: Seals,
    /// The SM2 key that signs beside the Ed25519 key when the key directory holds several
    /// (`TICA_CERT_ACTIVE_SM2_KEY`, [`crate::keys::read_key_dir_with`]).
    pub active_sm2_key: Option<String>,
    /// Whether the installation signs with SM2 too (`TICA_CERT_SM2`): then the service refuses
    /// to start without an SM2 key. An SM2 key in the key directory signs either way.
    pub require_sm2: bool,
}

/// Issuing offices' seals by the issuing jurisdiction's division code.
pub type Seals = Arc<std::collections::HashMap<String, Arc<tica_pdf::Seal>>>;

/// The subject of the tokens a resumed run acts with: what the peers' audit trails name.
pub const RESUMING_SUBJECT: &str = "services/certificate";

/// The current time in µs since the epoch (tests substitute their own).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(tica_storage::now_micros))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, in µs since the epoch.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Config {
    /// The configuration for `base_url` with defaults for the rest.
    pub fn new(base_url: &str, search_secret: Vec<u8>, archive_dir: PathBuf) -> Config {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let host = base_url
            .split("://")
            .nth(1)
            .unwrap_or(&base_url)
            .trim_end_matches('/')
            .to_owned();
        Config {
            log_origin: format!("{host}/certificates"),
            base_url,
            search_secret,
            archive_dir,
            chunk: 250,
            guesses: GuessLimits::default(),
            revocation_max_age: Duration::from_secs(24 * 3600),
            searches_per_client_minute: 20,
            clock: Clock::system(),
            resume_signer: None,
            seals_dir: None,
            seals: Seals::default(),
            active_sm2_key: None,
            require_sm2: false,
        }
    }
}

impl Config {
    /// Refuses a base URL the QR budget was not sized for (issue 16): every certificate's QR
    /// text starts with it, so one too long would park every result of every run instead of
    /// failing here, at start-up, with the setting named.
    pub fn check(&self) -> anyhow::Result<()> {
        let url = &self.base_url;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            anyhow::bail!("TICA_VERIFY_BASE_URL {url:?} must start with https:// (or http://)");
        }
        let chars = url.chars().count();
        if chars > tica_credential::qr::MAX_BASE_URL_CHARS {
            anyhow::bail!(
                "TICA_VERIFY_BASE_URL {url:?} has {chars} characters; QR codes are sized for at \
                 most {} (e.g. https://zhengshu.jyt.nx.gov.cn)",
                tica_credential::qr::MAX_BASE_URL_CHARS
            );
        }
        Ok(())
    }
}

pub use tica_server::Ctx;

/// An audit entry of this service by `actor` (for runs no request carries).
pub(crate) fn audit_entry(
    actor: Actor,
    method: &str,
    resource: String,
    path: &ScopePath,
    change: serde_json::Value,
) -> AuditEntry {
    tica_server::kit::audit_entry(SERVICE_NAME, actor, method, resource, path, change)
}

/// The key that signs, and every published public key.
struct Keys {
    active_kid: String,
    active: SigningKey,
    /// The SM2 key signing beside `active`, with its id, when the installation chose SM2.
    sm2: Option<(String, tica_credential::gm::Sm2Key)>,
    published: BTreeMap<String, PublishedKey>,
    published_sm2: BTreeMap<String, PublishedSm2Key>,
    records: Vec<KeyRecord>,
}

/// A fixed-window limiter: at most `limit` calls per key per `window`.
#[derive(Debug)]
struct Limiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    fn new(limit: u32, window: Duration) -> Limiter {
        Limiter {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more call under `key` is allowed now.
    fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("limiter lock");
        if seen.len() > 100_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

struct Inner {
    db: Database,
    upstream: Upstream,
    renderer: Renderer,
    keys: Keys,
    config: Config,
    log: tokio::sync::Mutex<tica_credential::merkle::MerkleLog>,
    per_client: Limiter,
    revocations: tokio::sync::Mutex<Option<public::SignedList>>,
    /// Digests of signed payloads that verified (see `verify::check_signed`).
    checked: Mutex<std::collections::HashSet<[u8; 32]>>,
    /// Verification answers by id (see `verify::Answers`).
    answers: verify::Answers,
    /// The signed status list last served and the revoked positions it sets (see
    /// `badge::status_list_credential`).
    status_list: Mutex<Option<(Vec<i64>, String)>>,
}

/// The certificate service's logic; cheap to clone.
#[derive(Clone)]
pub struct Certificates {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("base_url", &self.inner.config.base_url)
            .field("active_kid", &self.inner.keys.active_kid)
            .finish_non_exhaustive()
    }
}

fn not_found(what: String) -> CertificateError {
    CertificateError::NotFound(what)
}

fn precondition(message: impl Into<String>) -> CertificateError {
    CertificateError::FailedPrecondition(message.into())
}

fn denied(message: impl Into<String>) -> CertificateError {
    CertificateError::PermissionDenied(message.into())
}

fn invalid(field: &str, message: impl Into<String>) -> CertificateError {
    CertificateError::Invalid(vec![(field.to_owned(), message.into())])
}

/// A strictly later instant than `previous`.
/// The refusal of a cancel of the job `name` (a run or an archive job) that ended otherwise,
/// in `state` (its stored key).
fn job_ended(name: &str, state: &str) -> CertificateError {
    CertificateError::refused(
        tica_server::errors::ErrorReason::RunEnded,
        name,
        format!(
            "{name} has ended {}: there is nothing to cancel",
            state.to_uppercase()
        ),
    )
}

/// Logs runs found interrupted by a stopped process.
fn report_interrupted(runs: usize) {
    if runs > 0 {
        tracing::warn!(
            runs,
            "issuance runs whose process stopped are FAILED; new runs resume after them"
        );
    }
}

pub(crate) fn next_micros(previous: i64) -> i64 {
    tica_storage::now_micros().max(previous + 1)
}

/// 128 random bits in lowercase Crockford base32: 26 characters.
pub fn new_certificate_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let value = u128::from_be_bytes(bytes);
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Whether `id` has the form of a certificate id.
pub fn is_certificate_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b))
}

impl Certificates {
    /// The logic over `db` with the keys read from files; publishes the keys' public halves
    /// (retiring every key but the active one), loads the log, and marks runs a stopped process
    /// left unfinished as FAILED (a new run resumes after their last stored certificate).
    pub async fn new(
        db: Database,
        upstream: Upstream,
        keys: KeyFiles,
        config: Config,
    ) -> anyhow::Result<Certificates> {
        config.check()?;
        // The service's one clock: a key's published activation is on the same time line as the
        // certificates and revocation lists it signs.
        let now = config.clock.now();
        let public: Vec<(String, Vec<u8>)> = keys
            .public
            .iter()
            .map(|(kid, key)| (kid.clone(), key.as_bytes().to_vec()))
            .chain(
                keys.sm2_public
                    .iter()
                    .map(|(kid, key)| (kid.clone(), key.as_bytes().to_vec())),
            )
            .collect();
        let active_sm2 = keys.sm2.as_ref().map(|(kid, _)| kid.as_str());
        store::publish_keys(&db, &keys.active_kid, active_sm2, &public, now).await?;
        let records = store::keys(&db).await?;
        let published_sm2 = records
            .iter()
            .filter(|k| k.is_sm2())
            .filter_map(|k| {
                let key = PublishedSm2Key {
                    key: tica_credential::gm::Sm2PublicKey::from_sec1(&k.public_key)?,
                    activated_micros: k.activate_micros,
                    retired_micros: k.retire_micros,
                };
                Some((k.kid.clone(), key))
            })
            .collect();
        let published = records
            .iter()
            .filter_map(|k| {
                let bytes = <[u8; 32]>::try_from(k.public_key.as_slice()).ok()?;
                let key = PublishedKey {
                    key: VerifyingKey::from_bytes(&bytes).ok()?,
                    activated_micros: k.activate_micros,
                    retired_micros: k.retire_micros,
                };
                Some((k.kid.clone(), key))
            })
            .collect();
        let leaves = store::leaf_hashes_from(&db, 0).await?;
        let log = log::tree_from(leaves)?;
        std::fs::create_dir_all(&config.archive_dir)?;
        let renderer = Renderer::new().map_err(|e| anyhow::anyhow!("the PDF renderer: {e}"))?;
        let svc = Certificates {
            inner: Arc::new(Inner {
                db,
                upstream,
                renderer,
                keys: Keys {
                    active_kid: keys.active_kid,
                    active: keys.active,
                    sm2: keys.sm2,
                    published,
                    published_sm2,
                    records,
                },
                per_client: Limiter::new(
                    config.searches_per_client_minute,
                    Duration::from_secs(60),
                ),
                config,
                log: tokio::sync::Mutex::new(log),
                revocations: tokio::sync::Mutex::new(None),
                checked: Mutex::new(std::collections::HashSet::new()),
                answers: verify::Answers::default(),
                status_list: Mutex::new(None),
            }),
        };
        // Runs whose process stopped (their lease lapsed) resume here, or end FAILED without
        // the token key; runs another replica is running renew their leases and are left
        // alone. Afterwards every half lease.
        svc.take_over_lapsed_runs().await?;
        // Archive jobs whose builder stopped are built again, here.
        let resumed = svc.resume_lapsed_archives().await?;
        if resumed > 0 {
            tracing::warn!(
                archives = resumed,
                "archive jobs whose builder stopped resume here"
            );
        }
        svc.sweep_lapsed_runs();
        Ok(svc)
    }

    /// Every half lease, takes over the runs whose process stopped (whichever replica that
    /// was: [`Certificates::take_over_lapsed_runs`]) and builds here the archive jobs whose
    /// builder stopped, as long as this service lives.
    fn sweep_lapsed_runs(&self) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let period = Duration::from_micros((store::RUN_LEASE_MICROS / 2) as u64);
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let svc = Certificates { inner };
                if let Err(error) = svc.take_over_lapsed_runs().await {
                    tracing::warn!(%error, "sweeping lapsed issuance runs failed");
                }
                if let Err(error) = svc.resume_lapsed_archives().await {
                    tracing::warn!(%error, "resuming lapsed archive jobs failed");
                }
            }
        });
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Every published key, active first.
    pub fn signing_keys(&self) -> &[KeyRecord] {
        &self.inner.keys.records
    }

    /// The id of the key that signs new certificates.
    pub fn active_kid(&self) -> &str {
        &self.inner.keys.active_kid
    }

    /// The id of the SM2 key that signs new certificates and checkpoints beside the active key;
    /// None unless the installation signs with SM2 too.
    pub fn active_sm2_kid(&self) -> Option<&str> {
        self.inner.keys.sm2.as_ref().map(|(kid, _)| kid.as_str())
    }

    /// The published keys as a JWK Set (RFC 7517: OKP / Ed25519, and EC / SM2 for the SM2 keys of
    /// an installation that signs with SM2 too, `tica_credential::gm`), with the members offline
    /// verifiers need beside the keys (RFC 7517 §4 and §5 let a set and its keys carry more):
    /// the set's `issuer` (the base URL every QR code must point at) and each key's `activated`
    /// and `retired` times (RFC 3339, UTC; a key signs only certificates dated within them).
    pub fn jwks_json(&self) -> String {
        use base64::Engine;
        let keys: Vec<serde_json::Value> = self
            .inner
            .keys
            .records
            .iter()
            .map(|k| {
                let sm2 = k
                    .is_sm2()
                    .then(|| tica_credential::gm::Sm2PublicKey::from_sec1(&k.public_key))
                    .flatten();
                let mut key = match sm2 {
                    Some(sm2) => sm2.jwk(&k.kid),
                    None => serde_json::json!({
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "kid": k.kid,
                        "use": "sig",
                        "alg": "EdDSA",
                        "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&k.public_key),
                    }),
                };
                key["activated"] = tica_credential::micros_rfc3339(k.activate_micros).into();
                if let Some(retired) = k.retire_micros {
                    key["retired"] = tica_credential::micros_rfc3339(retired).into();
                }
                key
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "issuer": self.inner.config.base_url,
            "keys": keys,
        }))
        .expect("JSON serialises")
    }

    /// The verification method naming `kid` in credentials.
    pub fn verification_method(&self, kid: &str) -> String {
        format!("{}/.well-known/jwks.json#{kid}", self.inner.config.base_url)
    }

    fn resolve(&self, kid: &str) -> Option<PublishedKey> {
        self.inner.keys.published.get(kid).copied()
    }

    fn resolve_sm2(&self, kid: &str) -> Option<PublishedSm2Key> {
        self.inner.keys.published_sm2.get(kid).copied()
    }

    /// A certificate the caller may read. One it may not read answers exactly as one that
    /// does not exist (NOT_FOUND naming what was asked), so no caller learns of certificates
    /// outside what it may read.
    pub async fn certificate(&self, caller: &Caller, id: &str) -> Result<CertificateRecord> {
        store::certificate(&self.inner.db, id)
            .await?
            .filter(|record| may_read(caller, record))
            .ok_or_else(|| not_found(format!("certificates/{id}")))
    }

    /// The PDF of a certificate the caller may read.
    pub async fn pdf(&self, caller: &Caller, id: &str) -> Result<(CertificateRecord, Vec<u8>)> {
        let record = self.certificate(caller, id).await?;
        let pdf = self.pdf_of(id).await?;
        Ok((record, pdf))
    }

    /// The PDF bytes of a certificate (for holders of its unguessable id).
    pub async fn pdf_of(&self, id: &str) -> Result<Vec<u8>> {
        store::pdf(&self.inner.db, id)
            .await?
            .ok_or_else(|| not_found(format!("certificates/{id}")))
    }

    /// Certificates under a parent the caller may read, by number.
    pub async fn list(
        &self,
        caller: &Caller,
        parent: Parent,
        mut filter: store::CertFilter,
        after: &str,
        limit: i64,
    ) -> Result<(Vec<CertificateRecord>, i64)> {
        match parent {
            Parent::Own if caller.role == Role::Teacher => {
                filter.range = caller.scope.range();
                filter.teacher = caller.subject.clone();
            }
            Parent::Own => filter.range = caller.scope.range(),
            Parent::Teacher(number) => {
                if caller.role == Role::Teacher && caller.subject != number {
                    return Err(denied("a teacher sees only their own certificates"));
                }
                filter.range = caller.scope.range();
                filter.teacher = number;
            }
            Parent::Scope(path) => {
                caller
                    .require_covers(&path)
                    .map_err(|s| denied(s.message().to_owned()))?;
                if caller.role == Role::Teacher {
                    filter.teacher = caller.subject.clone();
                }
                filter.range = path.range();
            }
            Parent::Batch(batch) => {
                filter.range = caller.scope.range();
                filter.batch_id = batch;
                if caller.role == Role::Teacher {
                    filter.teacher = caller.subject.clone();
                }
            }
        }
        store::certificates(&self.inner.db, &filter, after, limit).await
    }

    /// The index of a certificate's issuance entry in the log (no token: it is public).
    pub async fn log_index_of(&self, id: &str) -> Result<i64> {
        store::certificate(&self.inner.db, id)
            .await?
            .map(|record| record.log_index)
            .ok_or_else(|| not_found(format!("certificates/{id}")))
    }

    /// A school's scope, from its certificates (NOT_FOUND when it has none).
    ///
    /// A school outside `caller`'s scope answers exactly as a school without certificates, so
    /// that nobody learns which schools elsewhere have certificates.
    pub async fn school_path(&self, caller: &Caller, code: &str) -> Result<ScopePath> {
        store::school_path(&self.inner.db, code)
            .await?
            .filter(|path| caller.covers(path))
            .ok_or_else(|| not_found(format!("certificates of schools/{code}")))
    }
}

/// What a list is of.
#[derive(Clone, Debug)]
pub enum Parent {
    /// The caller's own jurisdiction (or, for a teacher, themselves).
    Own,
    /// One teacher's.
    Teacher(String),
    /// A school's or a jurisdiction's subtree.
    Scope(ScopePath),
    /// A batch's.
    Batch(String),
}

/// Whether `caller` may read `record`: the teacher themselves, their school office, offices
/// above.
fn may_read(caller: &Caller, record: &CertificateRecord) -> bool {
    match caller.role {
        Role::Teacher => caller.subject == record.teacher && caller.covers(&record.path),
        Role::Assessor => false,
        _ => caller.covers(&record.path),
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn config(base_url: &str) -> Config {
        Config::new(base_url, b"secret".to_vec(), "archives".into())
    }

    #[test]
    fn a_base_url_longer_than_the_qr_budget_is_refused_at_start_up_naming_the_setting() {
        assert!(config("https://zhengshu.jyt.nx.gov.cn").check().is_ok());
        assert!(config("http://127.0.0.1:8080/").check().is_ok());
        let long = config("https://certificates.teacher-training.example.gov.cn")
            .check()
            .unwrap_err()
            .to_string();
        assert!(long.contains("TICA_VERIFY_BASE_URL"), "{long}");
        assert!(config("verify.ahedu.gov.cn").check().is_err());
    }
}
