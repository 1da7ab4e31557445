//! The transparency log: every issue and revocation appended as an RFC 9162 leaf, a signed
//! checkpoint after every commit, inclusion and consistency proofs.
//!
//! The tree lives in memory (loaded at start) and in `log_entries`. An append holds the lock,
//! first reads any entries another replica added, writes its entries at the next indices with
//! the new checkpoint in the same transaction as the certificates they record, and only then
//! extends the tree in memory; a unique violation on an index (another writer was first)
//! reloads and retries.

use ed25519_dalek::Signer;
use tica_credential::merkle::{self, Hash, MerkleLog};
use tica_domain::ScopePath;

use super::{Certificates, invalid, not_found};
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store::{self, Append};

/// Builds the tree from stored leaf hashes.
pub(super) fn tree_from(leaves: Vec<(i64, Vec<u8>)>) -> anyhow::Result<MerkleLog> {
    let mut tree = MerkleLog::new();
    for (idx, leaf) in leaves {
        let hash: Hash = leaf
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("log entry {idx}: a leaf hash is not 32 bytes"))?;
        if idx as u64 != tree.len() {
            anyhow::bail!("the log has a gap at index {}", tree.len());
        }
        tree.push(hash);
    }
    Ok(tree)
}

/// The canonical bytes of a log entry: compact JSON, members sorted. The entry commits to its
/// certificate without naming it: `commitment` is [`tica_credential::qr::log_commitment`] of
/// the certificate's id and signed payload, which whoever holds the certificate (its QR code)
/// recomputes, and nobody else can invert (the id is 128 random bits). Entries written before
/// this version named the certificate and hashed the payload alone (`certificate`,
/// `payload_sha256`); they stay as they are — the log is append-only.
pub(super) fn entry_bytes(
    kind: &str,
    certificate_id: &str,
    payload: &[u8],
    pdf_sha256: &str,
    micros: i64,
    reason: Option<&str>,
) -> Vec<u8> {
    let commitment = tica_credential::qr::log_commitment(certificate_id, payload);
    let mut entry = serde_json::json!({
        "v": 2,
        "kind": kind,
        "commitment": hex::encode(commitment),
        "pdf_sha256": pdf_sha256,
        "time_micros": micros,
    });
    if let Some(reason) = reason {
        entry["reason"] = reason.into();
    }
    // serde_json's maps are ordered by key: the text is canonical.
    entry.to_string().into_bytes()
}

/// Whether stored entry bytes name a certificate in clear (entries before version 2).
fn names_its_certificate(entry: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(entry)
        .ok()
        .is_none_or(|v| v.get("certificate").is_some())
}

/// The checkpoint in the C2SP signed-note form (what `tica log witness` and tlog tools read).
impl Certificates {
    /// The checkpoint as a C2SP signed note: its stored note, a blank line and one signature
    /// line by the key named after the note's origin (the signature is the stored one: both
    /// sign the note's bytes), then, for a checkpoint signed with SM2 too, the SM2 key's line
    /// under the same name (`tica_credential::note`). None when the key that signed it is no
    /// longer published.
    pub fn signed_checkpoint(&self, c: &CheckpointRecord) -> Option<String> {
        let origin = c.note.split('\n').next().unwrap_or_default();
        let line = |kid: &str, signature: &[u8]| {
            let key = self.log_verifier_key(origin, kid)?;
            Some(tica_credential::note::NoteSignature {
                name: key.name().to_owned(),
                key_id: key.key_id(),
                signature: signature.to_vec(),
            })
        };
        let mut lines = vec![line(&c.key_id, &c.signature)?];
        if let Some((kid, signature)) = &c.sm2 {
            lines.push(line(kid, signature)?);
        }
        c.note
            .ends_with('\n')
            .then(|| tica_credential::note::encode(&c.note, &lines))
    }

    /// The C2SP verifier key of the published key `kid` for the log `origin` (the key name is
    /// the origin): `<origin>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn log_verifier_key(
        &self,
        origin: &str,
        kid: &str,
    ) -> Option<tica_credential::note::VerifierKey> {
        let record = self.signing_keys().iter().find(|k| k.kid == kid)?;
        if record.is_sm2() {
            let public = tica_credential::gm::Sm2PublicKey::from_sec1(&record.public_key)?;
            return tica_credential::note::VerifierKey::sm2(origin, &public).ok();
        }
        let public = <[u8; 32]>::try_from(record.public_key.as_slice())
            .ok()
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())?;
        tica_credential::note::VerifierKey::ed25519(origin, &public).ok()
    }

    /// Every published key (active first) as a verifier key of this log's origin.
    pub fn log_verifier_keys(&self) -> Vec<String> {
        let origin = &self.config().log_origin;
        self.signing_keys()
            .iter()
            .filter_map(|k| self.log_verifier_key(origin, &k.kid))
            .map(|k| k.to_string())
            .collect()
    }
}

/// One entry to append.
pub(super) struct Pending {
    pub kind: &'static str,
    pub certificate_id: String,
    pub entry: Vec<u8>,
}

/// A proof with what it proves.
#[derive(Clone, Debug)]
pub struct LogView {
    /// The entry (inclusion proofs).
    pub entry: Option<LogEntryRecord>,
    /// The tree size proved against.
    pub tree_size: i64,
    /// The earlier size (consistency proofs).
    pub first_tree_size: i64,
    /// The proof's hashes.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint of `tree_size`.
    pub checkpoint: CheckpointRecord,
}

impl Certificates {
    /// Appends `entries` (their indices are assigned here) together with `build`'s writes in
    /// one transaction; `build` gets the first index. Returns that index.
    pub(super) async fn append_logged(
        &self,
        entries: Vec<Pending>,
        mut build: impl FnMut(i64) -> Append,
    ) -> Result<i64> {
        let mut tree = self.inner.log.lock().await;
        for attempt in 0..5 {
            // Entries another replica appended since.
            let newer = store::leaf_hashes_from(&self.inner.db, tree.len() as i64).await?;
            if !newer.is_empty() {
                let mut all = store::leaf_hashes_from(&self.inner.db, 0).await?;
                all.sort_by_key(|(i, _)| *i);
                *tree = tree_from(all).map_err(|e| CertificateError::Internal(e.to_string()))?;
            }
            let first = tree.len() as i64;
            let now = tica_storage::now_micros();
            let mut append = build(first);
            let mut leaves = Vec::with_capacity(entries.len());
            for (i, e) in entries.iter().enumerate() {
                let leaf = merkle::leaf_hash(&e.entry);
                leaves.push(leaf);
                append.entries.push(LogEntryRecord {
                    idx: first + i as i64,
                    kind: e.kind.to_owned(),
                    certificate_id: e.certificate_id.clone(),
                    entry: e.entry.clone(),
                    leaf_hash: leaf.to_vec(),
                    create_micros: now,
                });
            }
            for leaf in &leaves {
                tree.push(*leaf);
            }
            let size = tree.len() as i64;
            let root = tree.root();
            append.checkpoint = (!leaves.is_empty()).then(|| self.checkpoint(size, &root, now));
            match store::append(&self.inner.db, &append).await {
                Ok(()) if !append.revoked.is_empty() => {
                    // Revoked here: no remembered verification answer outlives it.
                    self.revocations_committed();
                    return Ok(first);
                }
                Ok(()) => return Ok(first),
                Err(error) => {
                    // Undo the pushes: reload what is stored.
                    let all = store::leaf_hashes_from(&self.inner.db, 0).await?;
                    *tree =
                        tree_from(all).map_err(|e| CertificateError::Internal(e.to_string()))?;
                    match error {
                        CertificateError::Conflict(_) if attempt < 4 => continue,
                        other => return Err(other),
                    }
                }
            }
        }
        Err(CertificateError::Conflict(
            "the log kept moving under this write; try again".into(),
        ))
    }

    fn checkpoint(&self, size: i64, root: &Hash, now: i64) -> CheckpointRecord {
        let note = merkle::checkpoint_note(&self.inner.config.log_origin, size as u64, root);
        let signature = self.inner.keys.active.sign(note.as_bytes());
        // The register is signed with SM2 too where the installation chose it: the same note.
        let sm2 = self
            .inner
            .keys
            .sm2
            .as_ref()
            .map(|(kid, key)| (kid.clone(), key.sign(note.as_bytes()).to_vec()));
        CheckpointRecord {
            tree_size: size,
            root_hash: root.to_vec(),
            key_id: self.inner.keys.active_kid.clone(),
            note,
            signature: signature.to_bytes().to_vec(),
            sm2,
            create_micros: now,
        }
    }

    /// The latest checkpoint, or the one signed at exactly `size`.
    pub async fn log_checkpoint(&self, size: i64) -> Result<CheckpointRecord> {
        if size < 0 {
            return Err(invalid("tree_size", "must not be negative"));
        }
        store::checkpoint(&self.inner.db, size)
            .await?
            .ok_or_else(|| match size {
                0 => CertificateError::FailedPrecondition("the log is empty".into()),
                n => not_found(format!("a checkpoint of size {n}")),
            })
    }

    async fn tree_at_least(&self, size: i64) -> Result<tokio::sync::MutexGuard<'_, MerkleLog>> {
        let mut tree = self.inner.log.lock().await;
        if (tree.len() as i64) < size {
            let all = store::leaf_hashes_from(&self.inner.db, 0).await?;
            *tree = tree_from(all).map_err(|e| CertificateError::Internal(e.to_string()))?;
        }
        Ok(tree)
    }

    /// Proves that entry `index` is in the tree of a signed checkpoint (`size` 0: the latest).
    ///
    /// `named` says whether the caller named the certificate (and so knows its id): only then
    /// does the entry carry the certificate's id. An entry reached by index alone names nothing:
    /// version-2 entries commit to their certificate by a hash, and the bytes of older entries,
    /// which held the id in clear, are left out (the leaf hash and the proof still verify).
    pub async fn inclusion_proof(&self, index: i64, size: i64, named: bool) -> Result<LogView> {
        let checkpoint = self.log_checkpoint(size).await?;
        if index < 0 || index >= checkpoint.tree_size {
            return Err(invalid(
                "log_index",
                format!(
                    "must be below the tree size {} it is proved against",
                    checkpoint.tree_size
                ),
            ));
        }
        let mut entry = store::log_entry(&self.inner.db, index)
            .await?
            .ok_or_else(|| not_found(format!("log entry {index}")))?;
        if !named {
            entry.certificate_id.clear();
            if names_its_certificate(&entry.entry) {
                entry.entry.clear();
            }
        }
        let tree = self.tree_at_least(checkpoint.tree_size).await?;
        let hashes = tree
            .inclusion_proof(index as u64, checkpoint.tree_size as u64)
            .map_err(|e| CertificateError::Internal(e.to_string()))?;
        Ok(LogView {
            entry: Some(entry),
            tree_size: checkpoint.tree_size,
            first_tree_size: 0,
            hashes: hashes.into_iter().map(|h| h.to_vec()).collect(),
            checkpoint,
        })
    }

    /// Proves that the tree of size `first` is a prefix of the checkpoint of `second` (0: the
    /// latest).
    pub async fn consistency_proof(&self, first: i64, second: i64) -> Result<LogView> {
        let checkpoint = self.log_checkpoint(second).await?;
        if first < 1 || first > checkpoint.tree_size {
            return Err(invalid(
                "first_tree_size",
                format!(
                    "must be between 1 and the later size {}",
                    checkpoint.tree_size
                ),
            ));
        }
        let tree = self.tree_at_least(checkpoint.tree_size).await?;
        let hashes = tree
            .consistency_proof(first as u64, checkpoint.tree_size as u64)
            .map_err(|e| CertificateError::Internal(e.to_string()))?;
        Ok(LogView {
            entry: None,
            tree_size: checkpoint.tree_size,
            first_tree_size: first,
            hashes: hashes.into_iter().map(|h| h.to_vec()).collect(),
            checkpoint,
        })
    }
}

/// The log kind of a review round's draw commitment.
pub const DRAW_COMMITTED: &str = "draw_committed";

/// What a review round commits to before its seed is entered (RecordDrawCommitment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawCommitment {
    /// `reviewRounds/{round_id}`.
    pub review_round: String,
    /// SHA-256 (hex) of the frozen population file.
    pub population_sha256: String,
    /// SHA-256 (hex) of the draw plan.
    pub plan_sha256: String,
    /// The drawing tool and its version.
    pub tool_version: String,
}

/// The canonical bytes of a draw commitment's entry: compact JSON, members sorted. It names the
/// round and no certificate (no `certificate` member: reached by index, its bytes are shown).
pub(super) fn draw_entry_bytes(c: &DrawCommitment, micros: i64) -> Vec<u8> {
    serde_json::json!({
        "v": 2,
        "kind": DRAW_COMMITTED,
        "review_round": c.review_round,
        "population_sha256": c.population_sha256,
        "plan_sha256": c.plan_sha256,
        "tool_version": c.tool_version,
        "time_micros": micros,
    })
    .to_string()
    .into_bytes()
}

/// The jurisdiction a round's name places it in (its id starts with the code), after checking
/// the request's fields; every bad field at once.
fn check_commitment(c: &DrawCommitment) -> Result<ScopePath> {
    let mut violations: Vec<(String, String)> = Vec::new();
    let mut add = |field: &str, why: &str| violations.push((field.to_owned(), why.to_owned()));
    let id = c.review_round.strip_prefix("reviewRounds/").unwrap_or("");
    let code = id.split('-').next().unwrap_or("");
    let scope = tica_domain::division::DivisionCode::parse(code)
        .ok()
        .filter(|_| {
            id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(ScopePath::for_jurisdiction);
    if scope.is_none() {
        add(
            "review_round",
            "a round's name, `reviewRounds/{code}-{year}-{tag}-{n}`",
        );
    }
    let hex64 =
        |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex64(&c.population_sha256) {
        add("population_sha256", "64 lowercase hex digits");
    }
    if !hex64(&c.plan_sha256) {
        add("plan_sha256", "64 lowercase hex digits");
    }
    let tool = &c.tool_version;
    if tool.is_empty() || tool.len() > 100 || !tool.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        add("tool_version", "1–100 printable ASCII characters");
    }
    match scope {
        Some(scope) if violations.is_empty() => Ok(scope),
        _ => Err(CertificateError::Invalid(violations)),
    }
}

impl Certificates {
    /// Appends a review round's draw commitment (offices covering the round's jurisdiction).
    /// A round already committed with the same values gets its entry again; with others,
    /// ALREADY_EXISTS.
    pub async fn record_draw_commitment(
        &self,
        ctx: &super::Ctx,
        review_round: String,
        population_sha256: String,
        plan_sha256: String,
        tool_version: String,
    ) -> Result<LogEntryRecord> {
        let commitment = DrawCommitment {
            review_round,
            population_sha256,
            plan_sha256,
            tool_version,
        };
        let scope = check_commitment(&commitment)?;
        if !ctx.caller.covers(&scope) || ctx.caller.school.is_some() {
            return Err(super::denied(format!(
                "{} lies outside the jurisdiction this token acts for ({})",
                commitment.review_round,
                ctx.caller.acting_for()
            )));
        }
        if let Some(earlier) = self.draw_commitment_of(&commitment.review_round).await? {
            let (entry, same) = earlier;
            if same == commitment {
                return Ok(entry);
            }
            return Err(CertificateError::AlreadyExists(format!(
                "{} committed to another draw at log index {}: a round commits once",
                commitment.review_round, entry.idx
            )));
        }
        let now = tica_storage::now_micros();
        let entry = draw_entry_bytes(&commitment, now);
        let audit = ctx.audit(
            "RecordDrawCommitment",
            commitment.review_round.clone(),
            &scope,
            serde_json::json!({ "population_sha256": commitment.population_sha256,
                "plan_sha256": commitment.plan_sha256, "tool_version": commitment.tool_version }),
        );
        let index = self
            .append_logged(
                vec![Pending {
                    kind: DRAW_COMMITTED,
                    certificate_id: String::new(),
                    entry,
                }],
                |_| Append {
                    audit: vec![audit.clone()],
                    ..Append::default()
                },
            )
            .await?;
        metrics::counter!("tica_certificate_draw_commitments_total").increment(1);
        store::log_entry(&self.inner.db, index)
            .await?
            .ok_or_else(|| CertificateError::Internal(format!("log entry {index} vanished")))
    }

    /// The draw commitment already logged for `round`, with what it commits to.
    async fn draw_commitment_of(
        &self,
        round: &str,
    ) -> Result<Option<(LogEntryRecord, DrawCommitment)>> {
        for entry in store::log_entries_of_kind(&self.inner.db, DRAW_COMMITTED).await? {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&entry.entry) else {
                continue;
            };
            let text = |key: &str| {
                value
                    .get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            if text("review_round") == round {
                let committed = DrawCommitment {
                    review_round: text("review_round"),
                    population_sha256: text("population_sha256"),
                    plan_sha256: text("plan_sha256"),
                    tool_version: text("tool_version"),
                };
                return Ok(Some((entry, committed)));
            }
        }
        Ok(None)
    }
}
