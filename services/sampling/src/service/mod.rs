//! The sampling service's logic: who may do what, the draw, the review and its decisions. No
//! proto types except the upstream services' messages read in [`rounds`].
//!
//! Writes read the round they change, change it and its children in memory, and
//! [`store::commit`] them with their audit entries in one transaction; a concurrent change to
//! the round makes the commit fail and [`Sampling::retry`] runs the step again from a fresh
//! read. Calls to the assessment service that a step makes (approve, return, certify) happen
//! before its local commit and are not repeated by a retry.

mod export;
mod review;
mod rounds;
mod summary;
mod units;

pub use export::{ExportFile, Part};
pub use review::{Assignment, RegradeInput, item_name};
pub use rounds::NewRound;
pub use summary::{AgreementFilter, AgreementPage, UnitAgreement};
pub use units::UnitReport;

use tica_auth::Role;
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_storage::Database;

use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store;
use crate::upstream::Upstream;

/// The fully-qualified gRPC service name (audit entries name methods under it).
pub const SERVICE_NAME: &str = "tica.sampling.v1.SamplingService";

/// The sampling service's logic.
#[derive(Clone, Debug)]
pub struct Sampling {
    db: Database,
    upstream: Upstream,
}

pub use tica_server::Ctx;

/// A strictly later instant than `previous` (so that optimistic locks always move).
pub(crate) fn next_micros(previous: i64) -> i64 {
    tica_storage::now_micros().max(previous + 1)
}

fn not_found(what: String) -> SamplingError {
    SamplingError::NotFound(what)
}

fn precondition(message: impl Into<String>) -> SamplingError {
    SamplingError::FailedPrecondition(message.into())
}

fn denied(message: impl Into<String>) -> SamplingError {
    SamplingError::PermissionDenied(message.into())
}

impl Sampling {
    /// The logic over `db`, reaching the other services through `upstream`.
    pub fn new(db: Database, upstream: Upstream) -> Sampling {
        Sampling { db, upstream }
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A round the caller may see: an office whose jurisdiction contains the round's or lies
    /// inside it, or an assessor there.
    ///
    /// Scope before state: a round's id begins with its jurisdiction's code
    /// (`{scope}-{year}-{tag}-{n}`), so a caller who could see no round there is refused before
    /// anything is read — another jurisdiction's rounds answer alike whether they exist or not.
    /// Only then is a missing round NOT_FOUND.
    pub async fn round(&self, ctx: &Ctx, id: &str) -> Result<RoundRecord> {
        let named = id
            .split_once('-')
            .and_then(|(code, _)| DivisionCode::parse(code).ok())
            .map(ScopePath::for_jurisdiction)
            .ok_or_else(|| not_found(format!("reviewRounds/{id}")))?;
        let sees = |path: &ScopePath| {
            ctx.caller.covers(path)
                || (ctx.caller.role != Role::Teacher && path.contains(&ctx.caller.scope))
        };
        let refused = || {
            denied(format!(
                "outside the jurisdiction this token acts for ({})",
                ctx.caller.acting_for()
            ))
        };
        if !sees(&named) {
            return Err(refused());
        }
        let round = store::round(&self.db, id)
            .await?
            .ok_or_else(|| not_found(format!("reviewRounds/{id}")))?;
        if !sees(&round.path) {
            return Err(refused());
        }
        Ok(round)
    }

    /// A round the caller runs: the office of the round's own scope (or above it).
    async fn own_round(&self, ctx: &Ctx, id: &str) -> Result<RoundRecord> {
        let round = self.round(ctx, id).await?;
        require_office_of(ctx, &round)?;
        Ok(round)
    }

    /// A round with its counts.
    pub async fn counts(&self, round: &RoundRecord) -> Result<store::RoundCounts> {
        store::round_counts(&self.db, &round.id).await
    }

    /// Lists rounds within `parent` (default: the caller's jurisdiction).
    pub async fn list_rounds(
        &self,
        ctx: &Ctx,
        parent: Option<&str>,
        filter: &store::RoundFilter,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<(Vec<RoundRecord>, i64)> {
        let scope = scope_of(ctx, parent, true)?;
        store::rounds_in(&self.db, &scope, filter, after, limit).await
    }

    /// The audit trail within `parent` (default: the caller's jurisdiction). Offices only.
    pub async fn audit_events(
        &self,
        ctx: &Ctx,
        parent: Option<&str>,
        resource: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<tica_storage::audit::AuditEvent>> {
        if !ctx.caller.role.is_office() {
            return Err(denied("only offices read the audit trail"));
        }
        let scope = scope_of(ctx, parent, false)?;
        Ok(tica_storage::audit::list(&self.db, &scope, resource, before, limit).await?)
    }
}

/// The scope `parent` (a division code) names, or the caller's own; the caller must cover it.
/// With `or_above`, a parent above the caller gives the caller's own scope: rounds within it and
/// on its path (a county assessor sees the province's audit rounds, never other counties').
fn scope_of(ctx: &Ctx, parent: Option<&str>, or_above: bool) -> Result<ScopePath> {
    let Some(code) = parent else {
        return Ok(ctx.caller.scope.clone());
    };
    let code = tica_domain::division::DivisionCode::parse(code)
        .map_err(|e| SamplingError::invalid("parent", e.to_string()))?;
    let scope = ScopePath::for_jurisdiction(code);
    if ctx.caller.covers(&scope) {
        Ok(scope)
    } else if or_above && scope.contains(&ctx.caller.scope) {
        Ok(ctx.caller.scope.clone())
    } else {
        Err(denied(format!(
            "jurisdictions/{code} lies outside the jurisdiction this token acts for ({})",
            ctx.caller.acting_for()
        )))
    }
}

/// The caller is the office running the round: the office of the round's own scope (the
/// county for a county review, the province for an audit). Offices above it read, they do not
/// act.
fn require_office_of(ctx: &Ctx, round: &RoundRecord) -> Result<()> {
    let caller = &ctx.caller;
    if caller.role.is_office()
        && caller.school.is_none()
        && caller.jurisdiction.as_str() == round.scope_code
    {
        Ok(())
    } else {
        Err(denied(format!(
            "only the office running reviewRounds/{} (jurisdictions/{}) may do this",
            round.id, round.scope_code
        )))
    }
}

/// The caller is an office whose jurisdiction contains the round's scope (it may read the
/// round's items, units and files).
fn require_office_over(ctx: &Ctx, round: &RoundRecord) -> Result<()> {
    if ctx.caller.role.is_office() && ctx.caller.covers(&round.path) {
        Ok(())
    } else {
        Err(denied(format!(
            "only offices over jurisdictions/{} read reviewRounds/{}'s sample and figures",
            round.scope_code, round.id
        )))
    }
}

/// Appends a transition and moves the round.
fn transition(ctx: &Ctx, round: &mut RoundRecord, to: RoundState, reason: &str) {
    let micros = next_micros(round.update_micros);
    round.transitions.push(Transition {
        from: round.state,
        to,
        actor: ctx.actor(),
        micros,
        reason: reason.trim().to_owned(),
    });
    round.state = to;
    round.update_micros = micros;
}

/// Refuses unless the round is in one of `states`.
fn require_state(round: &RoundRecord, states: &[RoundState], doing: &str) -> Result<()> {
    if states.contains(&round.state) {
        Ok(())
    } else {
        Err(precondition(format!(
            "reviewRounds/{} is {}; {doing} needs {}",
            round.id,
            round.state.key().to_uppercase(),
            states
                .iter()
                .map(|s| s.key().to_uppercase())
                .collect::<Vec<_>>()
                .join(" or ")
        )))
    }
}
