//! What every service's logic shares: who is calling ([`Ctx`]), the audit entry it writes, and
//! running a step again when it loses an optimistic-locking race ([`retry_conflicts`]).

use std::future::Future;
use std::time::Duration;

use tica_auth::{BearerToken, Caller};
use tica_domain::ScopePath;
use tica_storage::audit::{Actor, AuditEntry};

use crate::service_error::{Result, ServiceError};

/// Who is calling one service, with the token it forwards upstream (services act with their
/// caller's authority, never their own).
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The authenticated caller.
    pub caller: Caller,
    /// Their bearer token.
    pub token: BearerToken,
    /// The fully-qualified gRPC service name the audit entries name methods under.
    service: &'static str,
}

impl Ctx {
    /// The context of `caller` with `token`, calling `service` (e.g.
    /// `tica.sampling.v1.SamplingService`).
    pub fn new(service: &'static str, caller: Caller, token: BearerToken) -> Ctx {
        Ctx {
            caller,
            token,
            service,
        }
    }

    /// The context of a request that passed [`tica_auth::AuthLayer`]; UNAUTHENTICATED if it
    /// never did (a wiring bug).
    #[allow(clippy::result_large_err)]
    pub fn from_request<T>(
        service: &'static str,
        request: &tonic::Request<T>,
    ) -> std::result::Result<Ctx, tonic::Status> {
        Ok(Ctx::new(
            service,
            tica_auth::caller_from(request)?,
            tica_auth::bearer_from(request)?,
        ))
    }

    /// The audit trail's view of the caller.
    pub fn actor(&self) -> Actor {
        crate::actor(&self.caller)
    }

    /// An audit entry for this service's `method` about `resource` at `path`.
    pub fn audit(
        &self,
        method: &str,
        resource: String,
        path: &ScopePath,
        change: serde_json::Value,
    ) -> AuditEntry {
        audit_entry(self.service, self.actor(), method, resource, path, change)
    }
}

/// An audit entry by `actor` for `service`'s `method` (for work no request carries, such as a
/// background run started earlier).
pub fn audit_entry(
    service: &str,
    actor: Actor,
    method: &str,
    resource: String,
    path: &ScopePath,
    change: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor,
        method: format!("{service}/{method}"),
        resource,
        path: path.clone(),
        change,
    }
}

/// The rule for a request's `request_id` (AIP-155): optional, and when given at most 64 of
/// `[0-9A-Za-z-]`, e.g. a UUID; INVALID_ARGUMENT on `request_id` otherwise. A retry by the same
/// caller with the same id gets the first call's answer.
pub fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.len() > 64
        || !request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ServiceError::invalid(
            "request_id",
            "at most 64 of [0-9A-Za-z-], e.g. a UUID",
        ));
    }
    Ok(())
}

/// How many times a step that keeps losing races runs before the conflict reaches the caller.
pub const CONFLICT_ATTEMPTS: u32 = 5;

/// Runs `step` (which reads afresh each time) again while it fails with
/// [`ServiceError::Conflict`], at most [`CONFLICT_ATTEMPTS`] times in all, backing off 10, 20,
/// 40 and 80 ms so that racing writers spread out instead of colliding again.
pub async fn retry_conflicts<T, F, Fut>(mut step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(ServiceError::Conflict(_)) if attempt < CONFLICT_ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The pause after the `attempt`-th lost race (1-based).
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(5 << attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_step_that_always_loses_runs_five_times_then_reports_the_conflict() {
        let runs = AtomicU32::new(0);
        let outcome: Result<()> = retry_conflicts(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(ServiceError::Conflict("lost".into()))
        })
        .await;
        assert!(matches!(outcome, Err(ServiceError::Conflict(_))));
        assert_eq!(runs.load(Ordering::SeqCst), CONFLICT_ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_that_wins_on_its_third_run_returns_its_value() {
        let runs = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let outcome = retry_conflicts(|| async {
            match runs.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(ServiceError::Conflict("lost".into())),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(outcome.unwrap(), 2);
        assert_eq!(started.elapsed(), Duration::from_millis(10 + 20));
    }

    #[tokio::test(start_paused = true)]
    async fn any_other_error_is_returned_at_once() {
        let runs = AtomicU32::new(0);
        let outcome: Result<()> = retry_conflicts(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(ServiceError::NotFound("batches/x".into()))
        })
        .await;
        assert!(matches!(outcome, Err(ServiceError::NotFound(_))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
