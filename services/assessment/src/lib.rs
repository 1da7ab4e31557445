//! The assessment service (`tica.assessment.v1`): policies as data, batches, selections, hours,
//! evidence, grading, results along the review chain, progress, and the stream of certified
//! results for the certificate service.
//!
//! Layers, outermost first: `grpc` (tonic adapter) → `convert` (proto ⇄ domain) → [`service`]
//! (access and rules, no proto types) → [`store`] (all SQL), [`objects`] (evidence bytes) and
//! [`roster`] (the roster's API, with the caller's own token).

pub mod convert;
pub mod error;
pub mod export;
pub mod grpc;
pub mod model;
pub mod objects;
pub mod policy;
pub mod roster;
pub mod service;
pub mod startup;
pub mod store;
