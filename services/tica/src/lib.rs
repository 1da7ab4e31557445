//! The `tica` binary's library: `tica serve` (the whole suite in one process), development
//! tokens, the operator's gRPC client, and offline tools (`tica sampling draw`, `tica credential verify`). The cross-service tests in `tests/` start the suite
//! through [`serve::start`].

pub mod certificate;
pub mod cli;
pub mod credential;
pub mod demo;
pub mod refusal;
pub mod report;
pub mod sampling;
pub mod serve;
pub mod token;
