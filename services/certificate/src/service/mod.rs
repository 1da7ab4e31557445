//! The certificate service's logic: issuance runs over the assessment service's stream,
//! signatures, the PDF, the transparency log, verification, revocation, downloads and archives.
//! No proto types except the upstream services' messages read in [`issue`].

mod archive;
mod issue;
mod log;
mod verify;

pub use issue::Numbers;
pub use log::LogView;
pub use verify::{Failure, Subject, Verdict, Verification, Via};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use tica_auth::{BearerToken, Caller, Role};
use tica_credential::qr::PublishedKey;
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
        }
    }
}

/// Who is calling, with the token to forward upstream.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The authenticated caller.
    pub caller: Caller,
    /// Their bearer token.
    pub token: BearerToken,
}

impl Ctx {
    /// The audit trail's view of the caller.
    pub fn actor(&self) -> Actor {
        tica_server::actor(&self.caller)
    }

    /// An audit entry for `method` about `resource`.
    pub fn audit(
        &self,
        method: &str,
        resource: String,
        path: &str,
        change: serde_json::Value,
    ) -> AuditEntry {
        audit_entry(self.actor(), method, resource, path, change)
    }
}

fn audit_entry(
    actor: Actor,
    method: &str,
    resource: String,
    path: &str,
    change: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor,
        method: format!("{SERVICE_NAME}/{method}"),
        resource,
        path: ScopePath::parse(path).unwrap_or_else(ScopePath::everything),
        change,
    }
}

/// The key that signs, and every published public key.
struct Keys {
    active_kid: String,
    active: SigningKey,
    published: BTreeMap<String, PublishedKey>,
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
    per_person: Limiter,
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
        let now = tica_storage::now_micros();
        let public: Vec<(String, Vec<u8>)> = keys
            .public
            .iter()
            .map(|(kid, key)| (kid.clone(), key.as_bytes().to_vec()))
            .collect();
        store::publish_keys(&db, &keys.active_kid, &public, now).await?;
        let records = store::keys(&db).await?;
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
        let interrupted = store::fail_interrupted_runs(&db, now).await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "issuance runs interrupted by a stop are FAILED; new runs resume after them"
            );
        }
        let leaves = store::leaf_hashes_from(&db, 0).await?;
        let log = log::tree_from(leaves)?;
        std::fs::create_dir_all(&config.archive_dir)?;
        let renderer = Renderer::new().map_err(|e| anyhow::anyhow!("the PDF renderer: {e}"))?;
        Ok(Certificates {
            inner: Arc::new(Inner {
                db,
                upstream,
                renderer,
                keys: Keys {
                    active_kid: keys.active_kid,
                    active: keys.active,
                    published,
                    records,
                },
                config,
                log: tokio::sync::Mutex::new(log),
                per_client: Limiter::new(20, Duration::from_secs(60)),
                per_person: Limiter::new(10, Duration::from_secs(600)),
            }),
        })
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

    /// The published keys as a JWK Set (RFC 7517, OKP / Ed25519).
    pub fn jwks_json(&self) -> String {
        use base64::Engine;
        let keys: Vec<serde_json::Value> = self
            .inner
            .keys
            .records
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": k.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                    "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&k.public_key),
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "keys": keys })).expect("JSON serialises")
    }

    /// The verification method naming `kid` in credentials.
    pub fn verification_method(&self, kid: &str) -> String {
        format!("{}/.well-known/jwks.json#{kid}", self.inner.config.base_url)
    }

    fn resolve(&self, kid: &str) -> Option<PublishedKey> {
        self.inner.keys.published.get(kid).copied()
    }

    /// A certificate the caller may read.
    pub async fn certificate(&self, caller: &Caller, id: &str) -> Result<CertificateRecord> {
        let record = store::certificate(&self.inner.db, id)
            .await?
            .ok_or_else(|| not_found(format!("certificates/{id}")))?;
        may_read(caller, &record)?;
        Ok(record)
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
    pub async fn school_path(&self, code: &str) -> Result<ScopePath> {
        store::school_path(&self.inner.db, code)
            .await?
            .and_then(|p| ScopePath::parse(&p))
            .ok_or_else(|| not_found(format!("certificates of schools/{code}")))
    }

    /// The teachers' search: certificates whose name and full ID number match, rate-limited per
    /// client and per ID number; empty when nothing matches (the same answer as an unknown
    /// teacher).
    pub async fn search(
        &self,
        client: &str,
        name: &str,
        id_number: &str,
    ) -> Result<Vec<CertificateRecord>> {
        let name = name.trim();
        let id_number = id_number.trim().to_uppercase();
        let mut problems = Vec::new();
        if name.is_empty() || name.chars().count() > 64 {
            problems.push((
                "teacher_display_name".to_owned(),
                "required: the name exactly as registered (at most 64 characters)".to_owned(),
            ));
        }
        let today = tica_domain::time_zone::today_in_china(time::OffsetDateTime::now_utc());
        if tica_domain::resident_id::ResidentId::parse(&id_number, today).is_err() {
            problems.push((
                "id_number".to_owned(),
                "required: the full 18-character resident ID number".to_owned(),
            ));
        }
        let searched = |outcome: &'static str| {
            metrics::counter!("tica_certificate_searches_total", "outcome" => outcome).increment(1);
        };
        if !problems.is_empty() {
            searched("invalid");
            return Err(CertificateError::Invalid(problems));
        }
        let key = crate::upstream::search_key(&self.inner.config.search_secret, name, &id_number);
        // Per ID number whatever the name, so guessing names for one number is limited too.
        let person = crate::upstream::search_key(&self.inner.config.search_secret, "", &id_number);
        if !self.inner.per_client.allow(client) || !self.inner.per_person.allow(&person) {
            searched("rate_limited");
            return Err(CertificateError::ResourceExhausted(
                "too many searches: try again in a few minutes".into(),
            ));
        }
        let found = store::certificates_by_search_key(&self.inner.db, &key).await?;
        searched(match found.is_empty() {
            true => "not_found",
            false => "found",
        });
        Ok(found)
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
fn may_read(caller: &Caller, record: &CertificateRecord) -> Result<()> {
    let path = ScopePath::parse(&record.path).unwrap_or_else(ScopePath::everything);
    let ok = match caller.role {
        Role::Teacher => caller.subject == record.teacher && caller.covers(&path),
        Role::Assessor => false,
        _ => caller.covers(&path),
    };
    if ok {
        Ok(())
    } else {
        Err(denied(
            "the certificate is outside what this token may read (its teacher, their school office and offices above)",
        ))
    }
}
