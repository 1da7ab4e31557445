//! TLS on the gRPC port and the public HTTP front, and mutual TLS between services (issue 17,
//! point 1).
//!
//! A service binary serves TLS when it is given a certificate and its key (`TICA_TLS_CERT`,
//! `TICA_TLS_KEY`, PEM). With `TICA_TLS_CLIENT_CA` its gRPC port also demands a client
//! certificate chained to that CA: the other services and the ingress present theirs (the same
//! `TICA_TLS_CERT`, issued by the cluster's CA through cert-manager), so nothing else on the
//! network reaches the port. The public HTTP front (the verification pages) never asks a browser
//! for a certificate. Peers named by `https://` URLs are verified against `TICA_TLS_CA`, and this
//! process presents its own certificate to them.
//!
//! Plaintext stays the default only on loopback: a gRPC port or public front bound to any other
//! address without a certificate refuses to start unless `TICA_ALLOW_PLAINTEXT` says the network
//! encrypts by itself (a service mesh). The admin port (`/metrics`, `/healthz`) is plaintext: the
//! kubelet and Prometheus scrape it inside the pod's network, and it serves nothing private.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The TLS settings every service binary shares (flattened into [`crate::process::ProcessArgs`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain this process presents: as a server on the gRPC port and the public
    /// front, and as a client to peers named by `https://` URLs. Needs `--tls-key`.
    #[arg(long, env = "TICA_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "TICA_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: the gRPC port accepts only clients presenting a certificate chained to this
    /// PEM CA (the other services and the ingress). Needs `--tls-cert`.
    #[arg(
        long,
        env = "TICA_TLS_CLIENT_CA",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// The PEM CA that signs the peers' server certificates, for `https://` peer URLs.
    #[arg(long, env = "TICA_TLS_CA", value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// Serve plaintext on an address other than loopback (the network encrypts by itself, e.g.
    /// a service mesh). Without it, such a listener needs `--tls-cert`.
    #[arg(
        long,
        env = "TICA_ALLOW_PLAINTEXT",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_plaintext: bool,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{variable} ({path}): {source}")]
    Read {
        /// The variable that names it.
        variable: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM.
    #[error("{variable} ({path}): {problem}")]
    Pem {
        /// The variable that names it.
        variable: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The certificate, key or CA do not make a TLS configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// A listener would serve plaintext beyond loopback.
    #[error(
        "{variable}={addr} is not a loopback address and no TLS certificate is set: set TICA_TLS_CERT and TICA_TLS_KEY, or TICA_ALLOW_PLAINTEXT=true when the network encrypts by itself"
    )]
    PlaintextBeyondLoopback {
        /// The variable that names the address.
        variable: &'static str,
        /// The address.
        addr: SocketAddr,
    },
}

/// TLS as configured, files read and checked once at startup.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    identity: Option<(Vec<u8>, Vec<u8>)>,
    client_ca: Option<Vec<u8>>,
    ca: Option<Vec<u8>>,
    allow_plaintext: bool,
}

impl TlsArgs {
    /// Reads and checks the files: a bad file fails at startup, not at the first connection.
    pub fn load(&self) -> Result<Tls, TlsError> {
        let identity = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let cert = read(cert, "TICA_TLS_CERT")?;
                let key = read(key, "TICA_TLS_KEY")?;
                Some((cert, key))
            }
            (None, None) => None,
            _ => {
                return Err(TlsError::Config(
                    "TICA_TLS_CERT and TICA_TLS_KEY go together".into(),
                ));
            }
        };
        let tls = Tls {
            identity,
            client_ca: self
                .tls_client_ca
                .as_deref()
                .map(|p| read(p, "TICA_TLS_CLIENT_CA"))
                .transpose()?,
            ca: self
                .tls_ca
                .as_deref()
                .map(|p| read(p, "TICA_TLS_CA"))
                .transpose()?,
            allow_plaintext: self.allow_plaintext,
        };
        if tls.client_ca.is_some() && tls.identity.is_none() {
            return Err(TlsError::Config(
                "TICA_TLS_CLIENT_CA needs TICA_TLS_CERT and TICA_TLS_KEY".into(),
            ));
        }
        // Build once now so that a key that does not match its certificate stops the start.
        tls.http_acceptor()?;
        Ok(tls)
    }
}

/// Reads a PEM file and checks it holds at least one PEM block.
fn read(path: &Path, variable: &'static str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        variable,
        path: path.display().to_string(),
        source,
    })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(TlsError::Pem {
            variable,
            path: path.display().to_string(),
            problem: "no PEM block in it".into(),
        });
    }
    Ok(bytes)
}

impl Tls {
    /// PEM texts given directly (tests, `tica serve`).
    pub fn from_pem(
        identity: Option<(Vec<u8>, Vec<u8>)>,
        client_ca: Option<Vec<u8>>,
        ca: Option<Vec<u8>>,
    ) -> Result<Tls, TlsError> {
        let tls = Tls {
            identity,
            client_ca,
            ca,
            allow_plaintext: false,
        };
        tls.http_acceptor()?;
        Ok(tls)
    }

    /// Whether this process serves TLS.
    pub fn serves_tls(&self) -> bool {
        self.identity.is_some()
    }

    /// Refuses to serve plaintext on `addr` (named by `variable`) beyond loopback.
    pub fn check_listen(&self, addr: SocketAddr, variable: &'static str) -> Result<(), TlsError> {
        if self.serves_tls() || self.allow_plaintext || addr.ip().is_loopback() {
            Ok(())
        } else {
            Err(TlsError::PlaintextBeyondLoopback { variable, addr })
        }
    }

    /// The gRPC server's TLS, demanding a client certificate when a client CA is set.
    pub fn grpc(&self) -> Option<ServerTlsConfig> {
        let (cert, key) = self.identity.as_ref()?;
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.client_ca {
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(false);
        }
        Some(config)
    }

    /// The public HTTP front's TLS acceptor (HTTP/1.1; no client certificate asked).
    pub fn http_acceptor(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, TlsError> {
        let Some((cert, key)) = &self.identity else {
            return Ok(None);
        };
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Config(format!("TICA_TLS_CERT: {e}")))?;
        if chain.is_empty() {
            return Err(TlsError::Config(
                "TICA_TLS_CERT holds no certificate".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsError::Config(format!("TICA_TLS_KEY: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(format!("TICA_TLS_CERT and TICA_TLS_KEY: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    /// A channel to the peer at `url`, connected on first use (so start-up order does not
    /// matter), over TLS for `https://` as [`Tls::endpoint`] says.
    pub fn channel(&self, url: &str) -> Result<tonic::transport::Channel, TlsError> {
        Ok(self
            .endpoint(url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            // HTTP/2's default 64 KiB window throttles the larger answers (a county's lists).
            .initial_stream_window_size(Some(4 << 20))
            .connect_lazy())
    }

    /// An endpoint for the peer at `url`: for `https://`, verified against `TICA_TLS_CA` and
    /// presenting this process's certificate when it has one.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, TlsError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| TlsError::Config(format!("{url}: {e}")))?;
        if !url.starts_with("https://") {
            return Ok(endpoint);
        }
        let Some(ca) = &self.ca else {
            return Err(TlsError::Config(format!(
                "{url} is https: set TICA_TLS_CA to the CA that signs its certificate"
            )));
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint
            .tls_config(config)
            .map_err(|e| TlsError::Config(format!("{url}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_the_default_only_on_loopback() {
        let plain = Tls::default();
        assert!(
            plain
                .check_listen("127.0.0.1:50051".parse().unwrap(), "TICA_LISTEN")
                .is_ok()
        );
        assert!(
            plain
                .check_listen("[::1]:50051".parse().unwrap(), "TICA_LISTEN")
                .is_ok()
        );
        let refused = plain
            .check_listen("0.0.0.0:50051".parse().unwrap(), "TICA_LISTEN")
            .unwrap_err();
        assert!(refused.to_string().contains("TICA_LISTEN=0.0.0.0:50051"));
        let meshed = Tls {
            allow_plaintext: true,
            ..Tls::default()
        };
        assert!(
            meshed
                .check_listen("0.0.0.0:50051".parse().unwrap(), "TICA_LISTEN")
                .is_ok()
        );
    }

    #[test]
    fn an_https_peer_needs_the_ca_that_signs_it() {
        let error = Tls::default()
            .endpoint("https://certificate:50051")
            .unwrap_err();
        assert!(error.to_string().contains("TICA_TLS_CA"), "{error}");
        assert!(Tls::default().endpoint("http://127.0.0.1:1").is_ok());
    }

    #[test]
    fn a_key_that_is_not_pem_stops_the_start() {
        let error = Tls::from_pem(
            Some((
                b"-----BEGIN CERTIFICATE-----\n".to_vec(),
                b"nothing".to_vec(),
            )),
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(error, TlsError::Config(_)), "{error}");
    }
}
