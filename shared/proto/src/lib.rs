//! Generated code for TICA's gRPC contracts, compiled from the repository's `proto/` directory.
//!
//! The module tree mirrors the proto packages: `tica::roster::v1`, `tica::common::v1`,
//! `google::r#type` (the vendored `google.type.Date`), and so on. [`FILE_DESCRIPTOR_SET`] feeds
//! server reflection. Only the services' `grpc.rs` and `convert.rs` modules use these types;
//! domain logic never does.

#![allow(missing_debug_implementations)]

include!(concat!(env!("OUT_DIR"), "/tica.protos.rs"));

/// The encoded `FileDescriptorSet` of every TICA proto file and its imports, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tica_descriptor.bin"));

pub use prost;
pub use prost_types;
pub use tonic;
