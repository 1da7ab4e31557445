//! The roster service's access policy: its rows of the suite's one role × RPC table,
//! [`tica_auth::access::TABLE`] (enforced by the auth layer before any handler runs; the logic
//! then checks the resource's place in the tree and finer rules).

use tica_auth::MethodPolicy;

/// The roster service's access policy.
pub fn policy() -> MethodPolicy {
    tica_auth::access::policy(crate::SERVICE_NAME)
}
