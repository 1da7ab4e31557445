//! The `tica` binary's library: `tica serve` (the whole suite in one process), development
//! tokens, and the operator's gRPC client. The cross-service tests in `tests/` start the suite
//! through [`serve::start`].

pub mod cli;
pub mod serve;
pub mod token;
