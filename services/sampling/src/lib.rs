//! The sampling service (`tica.sampling.v1`): the county's and the province's review draws —
//! a frozen population with its published hash, a public seed, Rivest's consistent sampler by
//! real-world codes, stratified by county and school, committed in the certificate service's
//! transparency log before the seed is entered, later rounds under a fresh seed skipping what
//! their chain drew — then assignment to reviewers, blind re-grades, agreement per unit (percent, Wilson
//! interval, Cohen's κ) and the decision carried to the assessment service.
//!
//! Layers, outermost first: `grpc` (tonic adapter and conversions) → [`service`] (access and
//! rules) → [`store`] (all SQL) and [`upstream`] (the assessment, roster and certificate APIs,
//! with the caller's own token). The draw itself is pure: `tica_domain::sampling`.

pub mod bundle;
pub mod error;
pub mod grpc;
pub mod model;
pub mod policy;
pub mod service;
pub mod startup;
pub mod store;
pub mod upstream;
