//! The certificate service (`tica.certificate.v1`): turns the assessment service's certified
//! results into signed Chinese PDF certificates — one per passed micro-competency, or one
//! level certificate, as the batch's policy says — whose QR code opens the verification page
//! and carries a signed payload that also verifies offline; appends every issue and revocation
//! to an RFC 9162 transparency log; lets teachers find and download their certificates and
//! school offices archive theirs.
//!
//! Layers, outermost first: `grpc` and `http` (adapters) → [`service`] (access and rules) →
//! [`store`] (all SQL) and [`upstream`] (the assessment and roster APIs, with the issuing
//! office's token). Signing and the log's hashing are `tica_credential`; the PDF is `tica_pdf`.

pub mod error;
pub mod grpc;
pub mod http;
pub mod keys;
pub mod model;
pub mod policy;
pub mod service;
pub mod startup;
pub mod store;
pub mod upstream;
