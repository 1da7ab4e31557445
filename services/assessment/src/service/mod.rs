//! The assessment service's logic: who may do what, and the rules each write keeps. No proto
//! types here.
//!
//! Writes read the records they change, change them in memory, and [`store::commit`] them with
//! their audit entries in one transaction; a concurrent change makes the commit fail and
//! [`tica_server::retry_conflicts`] runs the whole step again from a fresh read (at most five
//! times, backing off).

mod batches;
mod evidence;
mod grading;
mod hours;
mod keys;
mod participants;
mod policies;
pub mod progress;
mod recount;
mod results;
mod rules;
mod selection;
mod stream;

/// Whose hours records a listing is of.
pub use crate::store::HoursParent;
pub use batches::{BatchUpdate, NewBatch};
pub use evidence::{EvidenceUpload, UploadedChunk};
pub use grading::GradeRequest;
pub use hours::{HoursPush, PushOutcome, PushedRecord};
pub use policies::{EffectivePolicy, PolicyChange};
pub use progress::{Level, ProgressRow};
pub use results::Appraisal;
pub use stream::CertifiedPayload;

/// School and batch figures, for conversions.
pub mod results_figures {
    pub use super::results::{BatchFigures, SchoolFigures};
}
pub use evidence::evidence_name;
pub use grading::submission_name;
pub use participants::participant_name as participants_name;
pub use policies::version_name as policies_version_name;

/// An hours kind from its storage key.
pub fn hours_kind(key: &str) -> Option<tica_domain::policy::HoursKind> {
    keys::hours_kind_from_key(key)
}

/// An hours kind's storage key.
pub fn hours_kind_key(kind: tica_domain::policy::HoursKind) -> &'static str {
    keys::hours_kind_key(kind)
}

/// An evidence kind from its storage key.
pub fn evidence_kind(key: &str) -> Option<tica_domain::policy::EvidenceKind> {
    keys::evidence_kind_from_key(key)
}

/// An evidence kind's storage key.
pub fn evidence_kind_key(kind: tica_domain::policy::EvidenceKind) -> &'static str {
    keys::evidence_kind_key(kind)
}

use tica_auth::{Caller, Role};
use tica_domain::ScopePath;
use tica_storage::Database;

use crate::error::{AssessmentError, Result};
use crate::model::{BatchRecord, ParticipantRecord, Transition};
use crate::objects::EvidenceStore;
use crate::roster::Roster;
use crate::store::{self, CommitError, Work};

/// One step along a review chain: the method taking it, the states it starts from, where it
/// goes, and why (recorded in the transition history and the audit trail).
pub(crate) struct Step<'a, S> {
    pub method: &'static str,
    pub from: &'a [S],
    pub to: S,
    pub reason: &'a str,
    pub round: &'a str,
}

/// A transition of a review chain, by the caller, now.
pub(crate) fn transition(ctx: &Ctx, from: &str, to: &str, reason: &str, round: &str) -> Transition {
    Transition {
        from: from.to_owned(),
        to: to.to_owned(),
        actor: ctx.actor(),
        micros: tica_storage::now_micros(),
        reason: reason.trim().to_owned(),
        review_round: round.to_owned(),
    }
}

/// What a step decided: the record as it changes and what its audit entry says about it.
#[derive(Debug)]
pub(crate) struct Decision<T> {
    pub record: T,
    pub audit: serde_json::Value,
}

impl<S> Step<'_, S> {
    /// The transition this step records, from `from`, by the caller, now.
    pub fn transition(&self, ctx: &Ctx, from: &str, to: &str) -> Transition {
        transition(ctx, from, to, self.reason, self.round)
    }
}

/// The fully-qualified gRPC service name (audit entries name methods under it).
pub const SERVICE_NAME: &str = "tica.assessment.v1.AssessmentService";

/// The assessment service's logic.
#[derive(Clone, Debug)]
pub struct Assessment {
    db: Database,
    roster: Roster,
    objects: EvidenceStore,
}

pub use tica_server::Ctx;

impl Assessment {
    /// The logic over `db`, asking `roster` for people and schools, keeping evidence in `objects`.
    pub fn new(db: Database, roster: Roster, objects: EvidenceStore) -> Assessment {
        Assessment {
            db,
            roster,
            objects,
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The roster client.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Commits, mapping a lost race to [`AssessmentError::Conflict`].
    async fn commit(&self, work: &Work) -> Result<()> {
        match store::commit(&self.db, work).await {
            Ok(()) => Ok(()),
            Err(CommitError::Conflict) => Err(AssessmentError::Conflict(
                "changed concurrently; retry".into(),
            )),
            Err(CommitError::Duplicate) => {
                Err(AssessmentError::AlreadyExists("already exists".into()))
            }
            Err(CommitError::Other(e)) => Err(e),
        }
    }

    /// The batch `id` as `caller` may see it: inside its subtree, or its own county's (a school
    /// sees its county's batch).
    ///
    /// Scope before state: a batch's id begins with its county (`{county}-{year}`), so a caller
    /// who could see no batch there is refused (PERMISSION_DENIED naming only its own scope)
    /// before anything is read — another county's batches answer alike whether they exist or
    /// not, and in whatever state. Only then is a missing batch NOT_FOUND. Every method that
    /// takes a batch (or anything under one) starts here.
    async fn batch_or_404(&self, caller: &Caller, id: &str) -> Result<BatchRecord> {
        require_batch_scope(caller, id)?;
        let batch = self.stored_batch(id).await?;
        if !can_see(caller, &batch.path) {
            return Err(denied(caller));
        }
        Ok(batch)
    }

    /// The batch `id`, for the service's own reads once access is decided.
    async fn stored_batch(&self, id: &str) -> Result<BatchRecord> {
        store::batch(&self.db, id)
            .await?
            .ok_or_else(|| AssessmentError::NotFound(format!("batches/{id}")))
    }

    async fn participant_or_404(&self, batch: &str, teacher: &str) -> Result<ParticipantRecord> {
        // Callers have passed `require_batch_scope` for `batch` already.
        store::participant(&self.db, batch, teacher)
            .await?
            .ok_or_else(|| {
                AssessmentError::NotFound(format!("batches/{batch}/participants/{teacher}"))
            })
    }
}

/// Scope before state, for anything named under `batches/{id}`: decided from the id alone,
/// before any read, so a caller who could see no batch in the county the id names gets the
/// same PERMISSION_DENIED whether the batch (or what it asks for under it) exists or not. An id
/// that names no county cannot exist: NOT_FOUND.
pub(crate) fn require_batch_scope(caller: &Caller, id: &str) -> Result<()> {
    let named =
        batch_scope(id).ok_or_else(|| AssessmentError::NotFound(format!("batches/{id}")))?;
    if can_see(caller, &named) {
        Ok(())
    } else {
        Err(denied(caller))
    }
}

/// The scope a batch id names: `{county}-{year}` → the county's path.
pub(crate) fn batch_scope(id: &str) -> Option<ScopePath> {
    let (code, year) = id.split_once('-')?;
    if year.is_empty() || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tica_domain::division::DivisionCode::parse(code)
        .ok()
        .map(ScopePath::for_jurisdiction)
}

/// Today in China.
pub fn today() -> time::Date {
    tica_domain::today_in_china(time::OffsetDateTime::now_utc())
}

/// PERMISSION_DENIED naming only the caller's own scope.
pub(crate) fn denied(caller: &Caller) -> AssessmentError {
    AssessmentError::PermissionDenied(format!(
        "outside the jurisdiction this token acts for ({})",
        caller.acting_for()
    ))
}

/// PERMISSION_DENIED for `ctx`'s caller.
pub fn denied_for(ctx: &Ctx) -> AssessmentError {
    denied(&ctx.caller)
}

/// `Ok` if the caller covers `path`.
pub(crate) fn require_covers(caller: &Caller, path: &ScopePath) -> Result<()> {
    if caller.covers(path) {
        Ok(())
    } else {
        Err(denied(caller))
    }
}

/// Whether the caller may read something that applies to `path`: inside its subtree, or an
/// ancestor of it (a county office reads its province's policy; a school reads its county's
/// batch).
pub(crate) fn can_see(caller: &Caller, path: &ScopePath) -> bool {
    caller.covers(path) || path.contains(&caller.scope)
}

/// `Ok` if the caller is one of `roles`.
pub(crate) fn require_role(caller: &Caller, roles: &[Role], what: &str) -> Result<()> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(AssessmentError::PermissionDenied(format!(
            "a {} token may not {what}",
            caller.role
        )))
    }
}

/// A participant's record is the teacher's own (teachers), or inside the caller's subtree.
pub(crate) fn require_participant_access(caller: &Caller, p: &ParticipantRecord) -> Result<()> {
    if caller.role == Role::Teacher && caller.subject != p.teacher_number {
        return Err(denied(caller));
    }
    require_covers(caller, &p.path)
}

/// The offices, which administer.
pub(crate) const ADMINISTRATORS: &[Role] = &Role::OFFICES;

/// An update's etag check (AIP-154): `Ok` when the caller sent none, or the current etag of
/// `resource` (last written at `update_micros`); else ABORTED with ETAG_MISMATCH, and nothing is
/// written. The commit that follows is guarded by the `update_micros` checked here, so a writer
/// that comes first in between makes the step read again and meet the mismatch.
pub(crate) fn check_etag(sent: Option<&str>, resource: &str, update_micros: i64) -> Result<()> {
    match sent {
        Some(sent) if sent != crate::model::etag(resource, update_micros) => {
            Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::EtagMismatch,
                resource,
                format!(
                    "{resource} changed since the etag sent was read; read it again and update what it is now"
                ),
            ))
        }
        _ => Ok(()),
    }
}
