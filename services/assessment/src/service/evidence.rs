//! Evidence files: streamed in, checked against the policy's limits, stored whole or not at all.

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tica_auth::Role;

use super::keys::{evidence_kind_from_key, evidence_kind_key};
use super::rules::batch_rules;
use super::{Assessment, Ctx, denied, require_participant_access};
use crate::error::{AssessmentError, Problems, Result};
use crate::model::*;
use crate::store::{self, Work};

/// An upload's metadata (the stream's first message).
#[derive(Clone, Debug, Default)]
pub struct EvidenceUpload {
    /// Codes it supports.
    pub codes: Vec<String>,
    /// Kind key.
    pub kind: String,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Declared size.
    pub size_bytes: i64,
    /// Declared SHA-256 (hex), optional.
    pub sha256: String,
    /// Declared duration (video).
    pub duration_seconds: i64,
    /// Description.
    pub description: String,
}

/// The most bytes one upload message may carry (the contract's 1 MiB): a larger chunk is
/// refused, whatever the transport would have accepted.
pub const MAX_CHUNK_BYTES: usize = 1 << 20;

/// One chunk of an upload as the transport delivers it.
pub type UploadedChunk = Result<Vec<u8>>;

/// The content types whose first bytes are known, and those bytes.
fn signature_matches(content_type: &str, head: &[u8]) -> Option<bool> {
    let zip = head.starts_with(b"PK\x03\x04");
    Some(match content_type {
        "application/pdf" => head.starts_with(b"%PDF"),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(b"\xFF\xD8\xFF"),
        "video/mp4" => head.len() >= 8 && &head[4..8] == b"ftyp",
        t if t.starts_with("application/vnd.openxmlformats-officedocument.") => zip,
        _ => return None,
    })
}

impl Assessment {
    /// Stores one evidence file for a participant. The bytes stream into the object store and
    /// only a complete, valid upload leaves anything behind: a refused or interrupted one is
    /// aborted and recorded nowhere.
    pub async fn upload_evidence<S>(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        meta: EvidenceUpload,
        mut chunks: S,
    ) -> Result<EvidenceRecord>
    where
        S: Stream<Item = UploadedChunk> + Unpin,
    {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::Teacher | Role::SchoolAdmin) {
            return Err(AssessmentError::PermissionDenied(
                "evidence is uploaded by the teacher or their school office".into(),
            ));
        }
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let rules = batch_rules(&batch)?;
        let evidence_rule = rules.evidence.clone().unwrap_or_default();
        // Check what can be checked before the first byte.
        let mut problems = Problems::new();
        let kind = evidence_kind_from_key(&meta.kind);
        let limit = kind.and_then(|k| evidence_rule.limits.iter().find(|l| l.kind == k));
        match (kind, limit) {
            (None, _) => problems.add("evidence.kind", "required"),
            (Some(_), None) => problems.add(
                "evidence.kind",
                format!("the policy accepts no {} files", meta.kind),
            ),
            (Some(_), Some(limit)) => {
                if !limit.content_types.is_empty()
                    && !limit.content_types.contains(&meta.content_type)
                {
                    problems.add(
                        "evidence.content_type",
                        format!("one of {}", limit.content_types.join(", ")),
                    );
                }
                if meta.size_bytes > limit.max_bytes {
                    problems.add(
                        "evidence.size_bytes",
                        format!("at most {} bytes for {}", limit.max_bytes, meta.kind),
                    );
                }
                if limit.max_duration_seconds > 0
                    && meta.duration_seconds > i64::from(limit.max_duration_seconds)
                {
                    problems.add(
                        "evidence.duration_seconds",
                        format!("at most {} seconds", limit.max_duration_seconds),
                    );
                }
            }
        }
        if meta.size_bytes <= 0 {
            problems.add("evidence.size_bytes", "declare the file's size in bytes");
        }
        if meta.codes.is_empty() {
            problems.add("evidence.micro_competencies", "at least one");
        }
        let submissions = store::submissions_of(&self.db, batch_id, teacher).await?;
        for (i, code) in meta.codes.iter().enumerate() {
            match submissions.iter().find(|s| &s.code == code) {
                None => problems.add(
                    format!("evidence.micro_competencies[{i}]"),
                    format!("{code} is not in the participant's selection"),
                ),
                Some(s) if s.state != SubmissionState::Draft => problems.add(
                    format!("evidence.micro_competencies[{i}]"),
                    format!("{code} is handed in; its evidence is frozen"),
                ),
                Some(_) => {}
            }
        }
        if meta.file_name.trim().is_empty()
            || meta.file_name.chars().count() > 200
            || meta.file_name.contains(['/', '\\'])
        {
            problems.add(
                "evidence.file_name",
                "1 to 200 characters, no path separators",
            );
        }
        if meta.description.chars().count() > 1000 {
            problems.add("evidence.description", "at most 1000 characters");
        }
        if !meta.sha256.is_empty()
            && (meta.sha256.len() != 64 || !meta.sha256.chars().all(|c| c.is_ascii_hexdigit()))
        {
            problems.add("evidence.sha256", "64 hex digits");
        }
        let existing = store::evidence_of(&self.db, batch_id, teacher).await?;
        let used: i64 = existing.iter().map(|e| e.size_bytes).sum();
        if evidence_rule.max_total_bytes > 0
            && used + meta.size_bytes > evidence_rule.max_total_bytes
        {
            problems.add(
                "evidence.size_bytes",
                format!(
                    "the participant's evidence would exceed {} bytes in all",
                    evidence_rule.max_total_bytes
                ),
            );
        }
        problems.finish()?;

        // Stream the bytes.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let key = format!("evidence/{batch_id}/{teacher}/{id}");
        let mut upload = self.objects.begin(&key).await?;
        let mut hasher = Sha256::new();
        let mut received: i64 = 0;
        let mut head: Vec<u8> = Vec::with_capacity(16);
        let outcome: Result<()> = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                if chunk.len() > MAX_CHUNK_BYTES {
                    return Err(AssessmentError::invalid(
                        "chunk",
                        format!(
                            "at most {MAX_CHUNK_BYTES} bytes (1 MiB) per message, not {}",
                            chunk.len()
                        ),
                    ));
                }
                received += chunk.len() as i64;
                if received > meta.size_bytes {
                    return Err(AssessmentError::invalid(
                        "chunk",
                        format!("more bytes than the declared {}", meta.size_bytes),
                    ));
                }
                if head.len() < 16 {
                    head.extend_from_slice(&chunk[..chunk.len().min(16 - head.len())]);
                }
                hasher.update(&chunk);
                upload.write(&chunk).await?;
            }
            if received != meta.size_bytes {
                return Err(AssessmentError::invalid(
                    "evidence.size_bytes",
                    format!("declared {} bytes, received {received}", meta.size_bytes),
                ));
            }
            if signature_matches(&meta.content_type, &head) == Some(false) {
                return Err(AssessmentError::invalid(
                    "evidence.content_type",
                    format!("the content is not {}", meta.content_type),
                ));
            }
            Ok(())
        }
        .await;
        let sha256 = hex::encode(hasher.finalize());
        let outcome = outcome.and_then(|()| {
            if !meta.sha256.is_empty() && !meta.sha256.eq_ignore_ascii_case(&sha256) {
                Err(AssessmentError::invalid(
                    "evidence.sha256",
                    "the content's SHA-256 differs from the declared one",
                ))
            } else {
                Ok(())
            }
        });
        if let Err(e) = outcome {
            upload.abort().await;
            return Err(e);
        }
        upload.finish().await?;
        let record = EvidenceRecord {
            id: id.clone(),
            batch_id: batch_id.to_owned(),
            teacher_number: teacher.to_owned(),
            path: p.path.clone(),
            codes: meta.codes.clone(),
            kind: evidence_kind_key(kind.expect("checked")).to_owned(),
            file_name: meta.file_name.trim().to_owned(),
            content_type: meta.content_type.clone(),
            size_bytes: received,
            sha256,
            duration_seconds: meta.duration_seconds,
            description: meta.description.trim().to_owned(),
            uploaded_by: ctx.actor(),
            object_key: key.clone(),
            create_micros: tica_storage::now_micros(),
        };
        let audit = ctx.audit(
            "UploadEvidence",
            evidence_name(&record),
            &record.path,
            serde_json::json!({
                "kind": record.kind,
                "size_bytes": record.size_bytes,
                "sha256": record.sha256,
                "codes": record.codes,
            }),
        );
        if let Err(e) = self
            .commit(&Work {
                evidence: vec![record.clone()],
                audits: vec![audit],
                ..Default::default()
            })
            .await
        {
            // The metadata did not land: do not keep an orphaned object.
            let _ = self.objects.delete(&key).await;
            return Err(e);
        }
        Ok(record)
    }

    /// One evidence file's metadata. Readers: the teacher, their school and the offices above,
    /// and assessors of the school.
    pub async fn get_evidence(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        id: &str,
    ) -> Result<EvidenceRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let e = store::evidence(&self.db, id)
            .await?
            .filter(|e| e.batch_id == batch_id && e.teacher_number == teacher)
            .ok_or_else(|| {
                AssessmentError::NotFound(format!(
                    "batches/{batch_id}/participants/{teacher}/evidence/{id}"
                ))
            })?;
        if ctx.caller.role == Role::Teacher && ctx.caller.subject != teacher {
            return Err(denied(&ctx.caller));
        }
        super::require_covers(&ctx.caller, &e.path)?;
        Ok(e)
    }

    /// A participant's evidence, optionally for one code.
    pub async fn list_evidence(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        code: Option<&str>,
    ) -> Result<Vec<EvidenceRecord>> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        Ok(store::evidence_of(&self.db, batch_id, teacher)
            .await?
            .into_iter()
            .filter(|e| code.is_none_or(|c| e.codes.iter().any(|x| x == c)))
            .collect())
    }

    /// The bytes of an evidence file.
    pub async fn download_evidence(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        id: &str,
    ) -> Result<(
        EvidenceRecord,
        futures::stream::BoxStream<'static, Result<bytes::Bytes>>,
    )> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let e = self.get_evidence(ctx, batch_id, teacher, id).await?;
        let stream = self.objects.get(&e.object_key).await?;
        Ok((e, stream))
    }

    /// Deletes an evidence file while every submission it supports is DRAFT.
    pub async fn delete_evidence(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        id: &str,
    ) -> Result<()> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::Teacher | Role::SchoolAdmin) {
            return Err(denied(&ctx.caller));
        }
        let e = self.get_evidence(ctx, batch_id, teacher, id).await?;
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        self.require_open_school(&batch, &p.school_code).await?;
        for s in store::submissions_of(&self.db, batch_id, teacher).await? {
            if e.codes.contains(&s.code) && s.state != SubmissionState::Draft {
                return Err(AssessmentError::refused(
                    tica_server::errors::ErrorReason::EvidenceFrozen,
                    "",
                    format!("{} is handed in; its evidence is frozen", s.code),
                ));
            }
        }
        let audit = ctx.audit(
            "DeleteEvidence",
            evidence_name(&e),
            &e.path,
            serde_json::json!({ "sha256": e.sha256 }),
        );
        self.commit(&Work {
            evidence_deleted: vec![e.id.clone()],
            audits: vec![audit],
            ..Default::default()
        })
        .await?;
        self.objects.delete(&e.object_key).await
    }
}

/// An evidence file's resource name.
pub fn evidence_name(e: &EvidenceRecord) -> String {
    format!(
        "batches/{}/participants/{}/evidence/{}",
        e.batch_id, e.teacher_number, e.id
    )
}
