//! The roster's logic: who may do what to which record, and the rules each write keeps.
//!
//! Every function takes the authenticated [`Caller`] first and checks the resource's place in
//! the tree against the caller's scope before it reads or writes anything else. No proto types
//! here; `grpc.rs` and `convert.rs` translate.

pub mod api_clients;
mod assessors;
mod audit;
mod export;
mod import;
mod jurisdictions;
mod schools;
mod teachers;
mod teams;

pub use api_clients::{IssuedToken, NewApiClient};
pub use assessors::NewAssessor;
pub use export::{ExportFile, ExportFormat};
pub use import::{ImportOptions, ImportOutcome, ImportProgress, ProgressSink};
pub use jurisdictions::{JurisdictionUpdate, NewJurisdiction, RuleField};
pub use schools::{NewSchool, PlanDecision, SchoolUpdate};
pub use teachers::{NewTeacher, TeacherUpdate};
pub use teams::{NewTeam, TeamUpdate};

use tica_auth::{Caller, Role};
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_storage::Database;

use crate::error::{Result, RosterError};
use crate::model::Unit;
use crate::store;

/// The roster service's logic over its database.
#[derive(Clone, Debug)]
pub struct Roster {
    db: Database,
    limits: crate::files::Limits,
}

/// What a `List` call asks for beyond its filters.
#[derive(Clone, Debug)]
pub struct PageSpec<K> {
    /// Rows to return plus one.
    pub limit: i64,
    /// Last key of the previous page.
    pub after: Option<K>,
}

impl Roster {
    /// The logic over `db` (already migrated).
    pub fn new(db: Database) -> Roster {
        Roster::with_limits(db, crate::files::Limits::default())
    }

    /// The logic over `db`, reading import files within `limits`.
    pub fn with_limits(db: Database, limits: crate::files::Limits) -> Roster {
        Roster { db, limits }
    }

    /// What an import file may hold.
    pub fn limits(&self) -> &crate::files::Limits {
        &self.limits
    }

    /// The database, for readiness checks.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// Today in China, for ID numbers' birth dates and default assignment dates.
pub fn today() -> time::Date {
    tica_domain::today_in_china(time::OffsetDateTime::now_utc())
}

/// `Ok` if the caller covers `path`.
pub(crate) fn require_covers(caller: &Caller, path: &ScopePath) -> Result<()> {
    if caller.covers(path) {
        Ok(())
    } else {
        Err(denied(caller))
    }
}

/// A record the caller asked for by name, if it is there *for the caller*: one outside the
/// caller's subtree answers NOT_FOUND exactly like a missing one, so no answer confirms that a
/// school, teacher, team or assessor exists in another jurisdiction (issue 16, point 4).
pub(crate) fn visible<T>(
    caller: &Caller,
    found: Option<T>,
    path: impl FnOnce(&T) -> &ScopePath,
    name: impl FnOnce() -> String,
) -> Result<T> {
    match found {
        Some(record) if caller.covers(path(&record)) => Ok(record),
        _ => Err(RosterError::NotFound(name())),
    }
}

/// The PERMISSION_DENIED error naming only the caller's own scope.
pub(crate) fn denied(caller: &Caller) -> RosterError {
    RosterError::PermissionDenied(format!(
        "outside the jurisdiction this token acts for ({})",
        caller.acting_for()
    ))
}

/// `Ok` if the caller is an education office.
pub(crate) fn require_office(caller: &Caller, what: &str) -> Result<()> {
    if caller.role.is_office() {
        Ok(())
    } else {
        Err(RosterError::PermissionDenied(format!(
            "only an education office may {what}"
        )))
    }
}

/// The scope a `parent` filter names, checked against the caller; the caller's own scope when
/// `parent` is `None`. A school parent is resolved through the database.
pub(crate) async fn parent_scope(
    roster: &Roster,
    caller: &Caller,
    parent: Option<&Unit>,
) -> Result<ScopePath> {
    let scope = match parent {
        None => return Ok(caller.scope.clone()),
        Some(Unit::Jurisdiction(code)) => ScopePath::for_jurisdiction(*code),
        Some(Unit::School(code)) => {
            let school = store::schools::get(&roster.db, code).await?;
            match school {
                Some(school) => school.path,
                None if caller.role == Role::Teacher || caller.school.is_some() => {
                    return Err(denied(caller));
                }
                None => return Err(RosterError::NotFound(format!("schools/{code}"))),
            }
        }
    };
    require_covers(caller, &scope)?;
    Ok(scope)
}

/// The jurisdiction path of a registered jurisdiction code (checks it exists).
pub(crate) async fn jurisdiction_path(roster: &Roster, code: DivisionCode) -> Result<ScopePath> {
    match store::jurisdictions::get(&roster.db, code).await? {
        Some(j) => Ok(j.path),
        None => Err(RosterError::NotFound(format!("jurisdictions/{code}"))),
    }
}

/// An update's etag check (AIP-154): `Ok` when the caller sent none, or the current etag of
/// `resource` (last written at `update_micros`); else ABORTED with ETAG_MISMATCH, and nothing is
/// written. The write that follows commits only over the `update_micros` checked here, so a
/// writer that comes first in between makes this call read again and meet the mismatch.
pub(crate) fn check_etag(sent: Option<&str>, resource: &str, update_micros: i64) -> Result<()> {
    match sent {
        Some(sent) if sent != crate::model::etag(resource, update_micros) => {
            Err(RosterError::refused(
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

/// Masks for the audit trail: the change records field names and non-personal values only.
pub(crate) fn json_fields(fields: &[&str]) -> serde_json::Value {
    serde_json::json!({ "fields": fields })
}
