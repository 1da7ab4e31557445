//! The certificate service's records, as stored (JSON documents beside indexed columns).

use serde::{Deserialize, Serialize};
pub use tica_storage::audit::Actor;

/// What a certificate certifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One passed micro-competency.
    MicroCompetency,
    /// The teacher's level.
    Level,
}

impl Kind {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::MicroCompetency => "micro_competency",
            Kind::Level => "level",
        }
    }
}

/// Whether a certificate holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Valid.
    Active,
    /// Revoked, final.
    Revoked,
}

impl Status {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
        }
    }

    /// From the stored key.
    pub fn from_key(key: &str) -> Option<Status> {
        match key {
            "active" => Some(Status::Active),
            "revoked" => Some(Status::Revoked),
            _ => None,
        }
    }
}

/// Why a certificate was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A review overturned the certified result.
    ResultWithdrawn,
    /// Issued by mistake.
    IssuedInError,
    /// Obtained by fraud.
    Fraud,
    /// Another reason, explained.
    Other,
}

impl Reason {
    /// The stored key (also in log entries).
    pub fn key(self) -> &'static str {
        match self {
            Reason::ResultWithdrawn => "result_withdrawn",
            Reason::IssuedInError => "issued_in_error",
            Reason::Fraud => "fraud",
            Reason::Other => "other",
        }
    }
}

/// PASS or EXCELLENT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 合格.
    Pass,
    /// 优秀.
    Excellent,
}

impl Grade {
    /// As printed.
    pub fn zh(self) -> &'static str {
        match self {
            Grade::Pass => "合格",
            Grade::Excellent => "优秀",
        }
    }

    /// From the printed word.
    pub fn from_zh(text: &str) -> Option<Grade> {
        match text {
            "合格" => Some(Grade::Pass),
            "优秀" => Some(Grade::Excellent),
            _ => None,
        }
    }
}

/// The facts a certificate states: what is signed and what verification shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The unguessable id.
    pub certificate_id: String,
    /// The printed number.
    pub number: String,
    /// Micro-competency or level.
    pub kind: Kind,
    /// The printed title.
    pub title: String,
    /// The teacher's name (personal data).
    pub teacher_display_name: String,
    /// `6401**********123X`.
    pub teacher_id_number_masked: String,
    /// The school's name.
    pub school_display_name: String,
    /// The county's name.
    pub county_display_name: String,
    /// The code, empty for a level.
    pub micro_competency: String,
    /// The code's name, empty for a level.
    pub micro_competency_display_name: String,
    /// The grade.
    pub grade: Grade,
    /// Credits when the policy prints them.
    pub credits: i32,
    /// Hours (centihours) when the policy prints them.
    pub counted_centihours: i64,
    /// The issuer as printed.
    pub issuing_authority: String,
    /// `YYYY-MM-DD`, Asia/Shanghai: the day it was signed (the QR payload's `issued`, checked
    /// against the key's span).
    pub issue_date: String,
    /// The batch year.
    pub year: i32,
    /// The signing key's id.
    pub key_id: String,
    /// `YYYY-MM-DD`: the date printed (the batch's certification). Empty in records made
    /// before it existed, which printed `issue_date`: read it through [`Facts::printed_date`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_date: String,
}

impl Facts {
    /// The date the certificate prints, `YYYY-MM-DD`.
    pub fn printed_date(&self) -> &str {
        if self.certificate_date.is_empty() {
            &self.issue_date
        } else {
            &self.certificate_date
        }
    }
}

/// A revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Why.
    pub reason: Reason,
    /// Shown on the verification page.
    pub explanation: String,
    /// When (µs).
    pub revoke_micros: i64,
    /// Who.
    pub actor: Actor,
    /// The revocation's log entry.
    pub log_index: i64,
    /// The client's request id (AIP-155), when it gave one: a retry with it answers as the
    /// first call did. Never shown to anyone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_id: String,
}

/// The parts of a certificate kept as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDoc {
    /// The signed facts.
    pub facts: Facts,
    /// The QR code's text.
    pub qr_text: String,
    /// The verification page for this certificate.
    pub verification_url: String,
    /// `jurisdictions/{code}` of the county.
    pub county: String,
    /// The stream sequence that produced it.
    pub result_sequence: i64,
    /// `issuanceRuns/{id}`.
    pub issuance_run: String,
    /// The PDF's size in bytes.
    pub pdf_size: i64,
    /// Set when revoked.
    pub revocation: Option<Revocation>,
}

/// A stored certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Unguessable id.
    pub id: String,
    /// Printed number.
    pub number: String,
    /// `{batch}/{teacher}/{code|level}`.
    pub result_key: String,
    /// The batch id.
    pub batch_id: String,
    /// Teacher number.
    pub teacher: String,
    /// School code.
    pub school: String,
    /// The school's scope path (a stored record whose path is not canonical does not load).
    pub path: tica_domain::ScopePath,
    /// Active or revoked.
    pub status: Status,
    /// Keyed hash of name and ID number.
    pub search_key: String,
    /// Lowercase hex.
    pub pdf_sha256: String,
    /// The signed payload (CBOR claims).
    pub payload: Vec<u8>,
    /// Ed25519 over id ‖ 0x1F ‖ payload.
    pub signature: Vec<u8>,
    /// The issuance entry's index in the log.
    pub log_index: i64,
    /// The rest.
    pub doc: CertificateDoc,
    /// Issued at (µs).
    pub create_micros: i64,
    /// Last change (µs).
    pub update_micros: i64,
}

/// Where an issuance run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Accepted.
    Pending,
    /// Consuming.
    Running,
    /// Caught up.
    Succeeded,
    /// Stopped at `error_sequence`.
    Failed,
    /// Stopped by CancelIssuanceRun.
    Cancelled,
}

impl RunState {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }
}

/// A certified result whose certificate could not be made (issue 16): parked by the run that
/// met it, listed to offices, retried by every later run of its batch until issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedRecord {
    /// `{batch}/{teacher}/{code|level}`.
    pub result_key: String,
    /// The batch.
    pub batch_id: String,
    /// The county's scope path.
    pub path: String,
    /// The certified result's stream sequence.
    pub sequence: i64,
    /// The teacher's number.
    pub teacher: String,
    /// The school's code.
    pub school: String,
    /// Why no certificate was made, for a person (never a name or an ID number).
    pub reason: String,
    /// The run that parked it or last retried it.
    pub run_id: String,
    /// Runs that tried it.
    pub attempts: i64,
    /// The certified-result event as the stream sent it (protobuf, hex), to retry.
    pub event_hex: String,
    /// When first parked, µs.
    pub park_micros: i64,
    /// When last tried, µs.
    pub update_micros: i64,
}

/// An issuance run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `{batch_id}-{seq}`.
    pub id: String,
    /// The batch.
    pub batch_id: String,
    /// The run's number within the batch.
    pub seq: i64,
    /// `jurisdictions/{code}`.
    pub county: String,
    /// The county's scope path (a stored run whose path is not canonical does not load).
    pub path: tica_domain::ScopePath,
    /// State.
    pub state: RunState,
    /// The cursor when it started.
    pub start_after_sequence: i64,
    /// Last durably processed.
    pub cursor: i64,
    /// The stream's end as last seen.
    pub target_sequence: i64,
    /// Events processed.
    pub events_processed: i64,
    /// Certificates issued.
    pub certificates_issued: i64,
    /// Certificates revoked.
    pub certificates_revoked: i64,
    /// Redelivered events.
    pub already_issued: i64,
    /// Results this run could not issue and parked with their reason (new ones, and earlier
    /// ones whose retry failed again).
    #[serde(default)]
    pub results_parked: i64,
    /// Certificates this run issued for results an earlier run parked (counted in
    /// `certificates_issued` too).
    #[serde(default)]
    pub parked_issued: i64,
    /// FAILED: where.
    pub error_sequence: i64,
    /// FAILED: why.
    pub error: String,
    /// Who started it.
    pub creator: Actor,
    /// µs.
    pub create_micros: i64,
    /// µs, 0 until it starts.
    pub start_micros: i64,
    /// µs, 0 until it ends.
    pub end_micros: i64,
    /// µs.
    pub update_micros: i64,
}

/// Where an archive job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveState {
    /// Accepted.
    Pending,
    /// Adding PDFs.
    Running,
    /// Ready.
    Succeeded,
    /// Stopped.
    Failed,
    /// Stopped by CancelCertificateArchive.
    Cancelled,
}

impl ArchiveState {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            ArchiveState::Pending => "pending",
            ArchiveState::Running => "running",
            ArchiveState::Succeeded => "succeeded",
            ArchiveState::Failed => "failed",
            ArchiveState::Cancelled => "cancelled",
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ArchiveState::Succeeded | ArchiveState::Failed | ArchiveState::Cancelled
        )
    }
}

/// An archive job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRecord {
    /// Server-assigned id.
    pub id: String,
    /// School code.
    pub school: String,
    /// The school's scope path (a stored record whose path is not canonical does not load).
    pub path: tica_domain::ScopePath,
    /// Only this batch, when not empty.
    pub batch_id: String,
    /// Revoked certificates too, under `revoked/`.
    pub include_revoked: bool,
    /// State.
    pub state: ArchiveState,
    /// Certificates to add.
    pub total: i64,
    /// Added so far.
    pub added: i64,
    /// SUCCEEDED: bytes.
    pub size_bytes: i64,
    /// SUCCEEDED: SHA-256 hex.
    pub sha256: String,
    /// FAILED: why.
    pub error: String,
    /// Who asked.
    pub creator: Actor,
    /// µs.
    pub create_micros: i64,
    /// µs, 0 until it ends.
    pub end_micros: i64,
    /// µs, when the file is deleted.
    pub expire_micros: i64,
}

/// A signing key as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// 32 bytes (Ed25519), or 65 (SM2, uncompressed).
    pub public_key: Vec<u8>,
    /// µs.
    pub activate_micros: i64,
    /// µs, None while active.
    pub retire_micros: Option<i64>,
}

impl KeyRecord {
    /// Whether this is an SM2 key (its 65 uncompressed bytes) rather than an Ed25519 one (32).
    pub fn is_sm2(&self) -> bool {
        self.public_key.len() == tica_credential::gm::PUBLIC_KEY_LEN
    }

    /// The algorithm's name as `ListSigningKeys` gives it: `Ed25519` or `SM2`.
    pub fn algorithm(&self) -> &'static str {
        if self.is_sm2() {
            tica_credential::gm::ALGORITHM
        } else {
            "Ed25519"
        }
    }
}

/// A log entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntryRecord {
    /// 0-based index.
    pub idx: i64,
    /// `issued` or `revoked`.
    pub kind: String,
    /// The certificate id.
    pub certificate_id: String,
    /// The bytes hashed.
    pub entry: Vec<u8>,
    /// SHA-256(0x00 ‖ entry).
    pub leaf_hash: Vec<u8>,
    /// µs.
    pub create_micros: i64,
}

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// Entries.
    pub tree_size: i64,
    /// MTH.
    pub root_hash: Vec<u8>,
    /// Signing key.
    pub key_id: String,
    /// The signed text.
    pub note: String,
    /// Ed25519 over `note`.
    pub signature: Vec<u8>,
    /// The SM2 key id and its signature (`r ‖ s`) over `note`, of an installation that signs
    /// with SM2 too. Stored in the same columns: `key_id` holds both ids separated by a space
    /// (key ids hold none) and `signature` both signatures, Ed25519's first.
    pub sm2: Option<(String, Vec<u8>)>,
    /// µs.
    pub create_micros: i64,
}

/// Where a verification code stands at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeState {
    /// Answers HR's lookups.
    Active,
    /// Past its expiry: answers as an unknown code.
    Expired,
    /// Revoked by the teacher or an office: answers as an unknown code.
    Revoked,
}

/// A verification code a teacher made for one certificate (the code itself is never stored:
/// only its keyed hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    /// Server-assigned id (128 random bits, as certificate ids).
    pub id: String,
    /// The certificate it shows.
    pub certificate_id: String,
    /// The certificate's printed number.
    pub number: String,
    /// The certificate's teacher number.
    pub teacher: String,
    /// The certificate's school path.
    pub path: tica_domain::ScopePath,
    /// Lower-case hex HMAC-SHA256 of the code under the search secret.
    pub code_hash: String,
    /// The code's last four characters.
    pub hint: String,
    /// µs.
    pub create_micros: i64,
    /// µs: from this instant on the code is expired.
    pub expire_micros: i64,
    /// µs, 0 while not revoked.
    pub revoke_micros: i64,
    /// Who made it (the teacher).
    pub creator: String,
    /// Who revoked it; empty while not revoked.
    pub revoker: String,
    /// Successful lookups with it.
    pub use_count: i64,
    /// µs of the last successful lookup, 0 for none.
    pub last_use_micros: i64,
}

impl CodeRecord {
    /// Its state at `now` (µs): revocation first, then expiry.
    pub fn state(&self, now: i64) -> CodeState {
        if self.revoke_micros > 0 {
            CodeState::Revoked
        } else if now >= self.expire_micros {
            CodeState::Expired
        } else {
            CodeState::Active
        }
    }

    /// The code as lists show it after its creation: `****-****-7KQM`.
    pub fn masked(&self) -> String {
        format!("****-****-{}", self.hint)
    }
}
