//! ZIP archives of a school's certificates, built in the background: the PDFs are read one at
//! a time and streamed into a file (never the whole archive in memory), with progress saved as
//! it goes; and the W3C credential export.

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_domain::ScopePath;

use super::{Certificates, Ctx, denied, not_found, precondition};
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store;

/// How long a finished archive stays downloadable.
pub const ARCHIVE_TTL_MICROS: i64 = 24 * 3600 * 1_000_000;

impl Certificates {
    fn archive_path(&self, id: &str) -> PathBuf {
        self.inner.config.archive_dir.join(format!("{id}.zip"))
    }

    /// Starts building a school's archive. With a `request_id` (AIP-155), a retry by the same
    /// caller gets the job the first call created, as it stands now.
    pub async fn create_archive(
        &self,
        ctx: &Ctx,
        school_path: ScopePath,
        batch_id: &str,
        include_revoked: bool,
        request_id: &str,
    ) -> Result<ArchiveRecord> {
        if ctx.caller.role == Role::Teacher || ctx.caller.role == Role::Assessor {
            return Err(denied(
                "archives are for school offices and offices above them",
            ));
        }
        ctx.caller
            .require_covers(&school_path)
            .map_err(|s| denied(s.message().to_owned()))?;
        tica_server::check_request_id(request_id)?;
        let retried = || async {
            let Some(first) = (match request_id {
                "" => None,
                id => store::archive_by_request(self.db(), &ctx.caller.subject, id).await?,
            }) else {
                return Ok(None);
            };
            if (&first.path, first.batch_id.as_str(), first.include_revoked)
                != (&school_path, batch_id, include_revoked)
            {
                return Err(CertificateError::AlreadyExists(format!(
                    "request_id {request_id} created certificateArchives/{} with another school, \
                     batch or include_revoked: make a new request_id for each archive",
                    first.id
                )));
            }
            Ok(Some(first))
        };
        if let Some(first) = retried().await? {
            return Ok(first);
        }
        self.delete_expired_archives();
        let school = school_path.school_code().unwrap_or_default().to_owned();
        let ids =
            store::school_certificate_ids(self.db(), &school, batch_id, include_revoked).await?;
        let now = tica_storage::now_micros();
        let mut id_bytes = [0u8; 10];
        rand::fill(&mut id_bytes);
        let archive = ArchiveRecord {
            id: hex::encode(id_bytes),
            school,
            path: school_path.clone(),
            batch_id: batch_id.to_owned(),
            include_revoked,
            state: ArchiveState::Pending,
            total: ids.len() as i64,
            added: 0,
            size_bytes: 0,
            sha256: String::new(),
            error: String::new(),
            creator: ctx.actor(),
            create_micros: now,
            end_micros: 0,
            expire_micros: 0,
        };
        let audit = ctx.audit(
            "CreateCertificateArchive",
            format!("certificateArchives/{}", archive.id),
            &archive.path,
            serde_json::json!({ "certificates": ids.len(), "batch": batch_id, "include_revoked": include_revoked }),
        );
        if let Err(error) = store::insert_archive(self.db(), &archive, request_id, &audit).await {
            // A retry racing its first call: the one that stored its job answers for both.
            return match retried().await? {
                Some(first) => Ok(first),
                None => Err(error),
            };
        }
        self.build_in_background(archive.clone(), ids);
        Ok(archive)
    }

    /// Claims the archive jobs whose builder stopped (their lease lapsed: a replica that died
    /// or restarted) and builds each again here from the start. Archives need no caller's
    /// token, so they resume by themselves; runs cannot (they stream on their starter's).
    pub async fn resume_lapsed_archives(&self) -> Result<usize> {
        let now = tica_storage::now_micros();
        let claimed =
            store::claim_lapsed_archives(self.db(), now, now - store::RUN_LEASE_MICROS).await?;
        let n = claimed.len();
        for mut job in claimed {
            let ids = store::school_certificate_ids(
                self.db(),
                &job.school,
                &job.batch_id,
                job.include_revoked,
            )
            .await?;
            job.total = ids.len() as i64;
            tracing::warn!(archive = %job.id, "an archive job whose builder stopped is built again");
            self.build_in_background(job, ids);
        }
        Ok(n)
    }

    /// Builds `job`'s ZIP of `ids` on a blocking thread, recording its end.
    fn build_in_background(&self, job: ArchiveRecord, ids: Vec<(String, String, Status)>) {
        let this = self.clone();
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut job = job;
            let result = this.build_archive(&handle, &mut job, &ids);
            let now = tica_storage::now_micros();
            job.end_micros = now;
            match result {
                Ok(Some((size, sha))) => {
                    job.state = ArchiveState::Succeeded;
                    job.size_bytes = size;
                    job.sha256 = sha;
                    job.expire_micros = now + ARCHIVE_TTL_MICROS;
                }
                Ok(None) => {
                    // Cancelled: what it wrote goes, and the job stays CANCELLED.
                    let path = this.archive_path(&job.id);
                    let _ = std::fs::remove_file(path.with_extension("zip.partial"));
                    let _ = std::fs::remove_file(path);
                    tracing::info!(archive = %job.id, added = job.added, "an archive job was cancelled");
                    return;
                }
                Err(error) => {
                    let path = this.archive_path(&job.id);
                    let _ = std::fs::remove_file(path.with_extension("zip.partial"));
                    let _ = std::fs::remove_file(path);
                    job.state = ArchiveState::Failed;
                    job.error = error.to_string();
                }
            }
            // Conditional: a job cancelled meanwhile stays CANCELLED.
            match handle.block_on(store::save_archive(this.db(), &job)) {
                Ok(true) => {}
                Ok(false) => {
                    let _ = std::fs::remove_file(this.archive_path(&job.id));
                }
                Err(error) => {
                    tracing::error!(archive = %job.id, %error, "an archive could not record its end");
                }
            }
        });
    }

    /// Writes the ZIP of `ids`: its size and SHA-256, or None when the job was cancelled.
    fn build_archive(
        &self,
        handle: &tokio::runtime::Handle,
        job: &mut ArchiveRecord,
        ids: &[(String, String, Status)],
    ) -> Result<Option<(i64, String)>> {
        let io =
            |e: std::io::Error| CertificateError::Internal(format!("writing the archive: {e}"));
        let zip_err = |e: zip::result::ZipError| {
            CertificateError::Internal(format!("writing the archive: {e}"))
        };
        job.state = ArchiveState::Running;
        if !handle.block_on(store::save_archive(self.db(), job))? {
            return Ok(None);
        }
        let path = self.archive_path(&job.id);
        let partial = path.with_extension("zip.partial");
        let file = std::fs::File::create(&partial).map_err(io)?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // PDFs are compressed already: store them.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (i, (id, number, status)) in ids.iter().enumerate() {
            let pdf = handle
                .block_on(store::pdf(self.db(), id))?
                .ok_or_else(|| not_found(format!("the PDF of certificates/{id}")))?;
            let name = match status {
                Status::Active => format!("{number}.pdf"),
                Status::Revoked => format!("revoked/{number}.pdf"),
            };
            zip.start_file(name, options).map_err(zip_err)?;
            zip.write_all(&pdf).map_err(io)?;
            job.added = i as i64 + 1;
            // Progress every hundred PDFs, which is also where a cancel is noticed.
            if job.added % 100 == 0 && !handle.block_on(store::save_archive(self.db(), job))? {
                return Ok(None);
            }
        }
        let writer = zip.finish().map_err(zip_err)?;
        writer
            .into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut size = 0i64;
        loop {
            let n = std::io::Read::read(&mut file, &mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            size += n as i64;
        }
        Ok(Some((size, hex::encode(hasher.finalize()))))
    }

    fn delete_expired_archives(&self) {
        let Ok(entries) = std::fs::read_dir(&self.inner.config.archive_dir) else {
            return;
        };
        let ttl = std::time::Duration::from_micros(ARCHIVE_TTL_MICROS as u64);
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ttl);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// An archive job the caller may see.
    pub async fn archive(&self, ctx: &Ctx, id: &str) -> Result<ArchiveRecord> {
        // One outside the caller's subtree answers exactly as a missing one.
        store::archive(self.db(), id)
            .await?
            .filter(|archive| ctx.caller.covers(&archive.path))
            .ok_or_else(|| not_found(format!("certificateArchives/{id}")))
    }

    /// Cancels a PENDING or RUNNING archive job the caller may see. A CANCELLED job answers as
    /// it stands; a job that ended otherwise is refused (RUN_ENDED).
    pub async fn cancel_archive(&self, ctx: &Ctx, id: &str) -> Result<ArchiveRecord> {
        let job = self.archive(ctx, id).await?;
        let ended = |job: &ArchiveRecord| {
            Err(super::job_ended(
                &format!("certificateArchives/{id}"),
                job.state.key(),
            ))
        };
        match job.state {
            ArchiveState::Cancelled => return Ok(job),
            state if state.is_terminal() => return ended(&job),
            _ => {}
        }
        let audit = ctx.audit(
            "CancelCertificateArchive",
            format!("certificateArchives/{id}"),
            &job.path,
            serde_json::json!({ "added": job.added }),
        );
        let mut cancelled = job;
        cancelled.state = ArchiveState::Cancelled;
        cancelled.end_micros = tica_storage::now_micros();
        if store::cancel_archive(self.db(), &cancelled, &audit).await? {
            return Ok(cancelled);
        }
        // It ended between the read and the write: say how.
        let now = self.archive(ctx, id).await?;
        if now.state == ArchiveState::Cancelled {
            Ok(now)
        } else {
            ended(&now)
        }
    }

    /// Archive jobs of the schools under `scope` (which the caller must cover; its own when
    /// None), newest first.
    pub async fn archives(
        &self,
        ctx: &Ctx,
        scope: Option<ScopePath>,
        state: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<ArchiveRecord>> {
        if ctx.caller.role == Role::Teacher || ctx.caller.role == Role::Assessor {
            return Err(denied(
                "archives are for school offices and offices above them",
            ));
        }
        let scope = match scope {
            Some(s) => {
                ctx.caller
                    .require_covers(&s)
                    .map_err(|s| denied(s.message().to_owned()))?;
                s
            }
            None => ctx.caller.scope.clone(),
        };
        // The same rule as `archive`: the caller covers every school in a scope it covers.
        store::archives_in(self.db(), scope.range(), state, after, limit).await
    }

    /// A SUCCEEDED archive's file.
    pub async fn archive_file(&self, ctx: &Ctx, id: &str) -> Result<(ArchiveRecord, PathBuf)> {
        let archive = self.archive(ctx, id).await?;
        if archive.state != ArchiveState::Succeeded {
            return Err(precondition(format!(
                "certificateArchives/{id} is not ready (state {})",
                archive.state.key()
            )));
        }
        if archive.expire_micros < tica_storage::now_micros() {
            return Err(precondition(format!(
                "certificateArchives/{id} expired: create a new one"
            )));
        }
        Ok((archive, self.archive_path(id)))
    }

    /// The certificate as a W3C Verifiable Credential 2.0 with an `eddsa-jcs-2022` proof by
    /// the active key.
    pub fn credential(&self, record: &CertificateRecord) -> Result<(String, String)> {
        let f = &record.doc.facts;
        let base = &self.inner.config.base_url;
        let unsecured = serde_json::json!({
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://www.w3.org/ns/credentials/examples/v2"
            ],
            "id": record.doc.verification_url,
            "type": ["VerifiableCredential", "TicaCertificate"],
            "name": f.title,
            "issuer": { "id": base, "name": f.issuing_authority },
            "validFrom": format!("{}T00:00:00+08:00", f.issue_date),
            "credentialSubject": {
                "type": "TicaCertificateSubject",
                "name": f.teacher_display_name,
                "idNumberMasked": f.teacher_id_number_masked,
                "school": f.school_display_name,
                "county": f.county_display_name,
                "certificateNumber": f.number,
                "kind": f.kind.key(),
                "microCompetency": f.micro_competency,
                "microCompetencyName": f.micro_competency_display_name,
                "grade": f.grade.zh(),
                "credits": f.credits,
                "countedHours": f.counted_centihours as f64 / 100.0,
                "year": f.year,
                "issueDate": f.issue_date,
                "pdfSha256": record.pdf_sha256,
            },
            // Where an offline verifier learns whether it was revoked: the signed list at
            // `/revocations` holds this 12-byte entry when it is (see
            // `tica_credential::revocation`).
            "credentialStatus": {
                "id": format!("{base}/revocations#{}", hex::encode(tica_credential::revocation::revocation_entry(&record.id))),
                "type": tica_credential::revocation::STATUS_TYPE,
                "revocationList": format!("{base}/revocations"),
                "revocationEntry": hex::encode(tica_credential::revocation::revocation_entry(&record.id)),
            },
        });
        let method = self.verification_method(&self.inner.keys.active_kid);
        // Signed now, by the key active now: `created` must fall within that key's published
        // span, whatever key signed the certificate years ago.
        let created =
            time::OffsetDateTime::from_unix_timestamp(tica_storage::now_micros() / 1_000_000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| CertificateError::Internal(e.to_string()))?;
        let options = tica_credential::ProofOptions {
            created,
            verification_method: method.clone(),
            proof_purpose: "assertionMethod".into(),
        };
        let secured = tica_credential::sign(&unsecured, &options, &self.inner.keys.active)
            .map_err(|e| CertificateError::Internal(e.to_string()))?;
        Ok((
            serde_json::to_string_pretty(&secured).expect("JSON serialises"),
            method,
        ))
    }
}
