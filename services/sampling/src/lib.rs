//! The sampling service (`tica.sampling.v1`): the county's and the province's review draws —
//! a frozen population with its published hash, a public seed, Rivest's consistent sampler by
//! real-world codes, stratified by county and school, later rounds continuing the same ticket
//! order — then assignment to reviewers, blind re-grades, agreement per unit (percent, Wilson
//! interval, Cohen's κ) and the decision carried to the assessment service.
//!
//! Layers, outermost first: `grpc` (tonic adapter and conversions) → [`service`] (access and
//! rules) → [`store`] (all SQL) and [`upstream`] (the assessment and roster APIs, with the
//! caller's own token). The draw itself is pure: `tica_domain::sampling`.

pub mod error;
pub mod grpc;
pub mod model;
pub mod policy;
pub mod service;
pub mod startup;
pub mod store;
pub mod upstream;
