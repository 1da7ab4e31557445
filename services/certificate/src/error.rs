//! The certificate service's error type: the shared [`tica_server::ServiceError`].

pub use tica_server::service_error::{Result, ServiceError as CertificateError};
