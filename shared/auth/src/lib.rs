//! Caller identity and access for every TICA service.
//!
//! Every gRPC call carries `authorization: Bearer <token>`: a JWT signed with Ed25519 (`alg`
//! `EdDSA`, `kid` naming the key) whose claims name the caller's [`Role`] and the jurisdiction
//! (and, for school roles, the school) it acts for. [`AuthLayer`] — one tower layer, shared by
//! all services — verifies the token, refuses roles a method does not admit, and hands the
//! handlers a [`Caller`]. Handlers then check the *resource's* place in the tree with
//! [`Caller::require_covers`]: a caller reads and writes only inside its own subtree.
//!
//! [`secret_file`] writes the private keys and secrets the suite creates: mode 0600 from their
//! first byte, never half-written.
//!
//! [`access::TABLE`] is the one role × RPC table of the suite; every service's policy is
//! derived from it.
//!
//! Invariants:
//! - Only Ed25519 is accepted; the algorithm is never taken from the token.
//! - A method missing from a service's [`MethodPolicy`] is refused (fail closed).
//! - Nothing here logs a token, a name or a resident ID number.

#![deny(missing_docs)]

pub mod access;
mod caller;
mod keys;
mod layer;
mod provider;
mod role;
pub mod secret_file;
mod token;

/// The `domain` of every google.rpc.ErrorInfo TICA sends (`proto/tica/common/v1/errors.proto`).
pub const ERROR_DOMAIN: &str = "tica";

/// A refusal with a google.rpc.ErrorInfo naming `reason` (a name from `errors.proto`, without
/// its `ERROR_REASON_` prefix).
pub fn refusal(
    code: tonic::Code,
    reason: &'static str,
    message: impl Into<String>,
) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    tonic::Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new()),
    )
}

pub use caller::{Bearer, BearerToken, Caller, bearer_from, caller_from};
pub use keys::{
    KeyError, KeyPair, key_id, load_verifying_keys, read_signing_key, read_trusted_signing_key,
    write_key_pair,
};
pub use layer::{AuthLayer, AuthService, MethodPolicy, PolicySet};
pub use role::Role;
pub use token::{
    AuthError, CLOCK_LEEWAY_SECS, Claims, DEFAULT_AUDIENCE, DEFAULT_ISSUER, TokenSigner,
    TokenVerifier,
};
