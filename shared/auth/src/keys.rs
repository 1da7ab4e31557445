use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Problems with key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a PEM Ed25519 key of the expected kind.
    #[error(
        "{path}: not a PEM-encoded Ed25519 {kind} key (PKCS#8 / SPKI, as `openssl genpkey -algorithm ed25519` writes)"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// "private" or "public".
        kind: &'static str,
    },
    /// No public key was found where some were expected.
    #[error("no Ed25519 public keys (*.pub.pem) found in {0}")]
    NoKeys(PathBuf),
    /// A token signing key whose public half the services do not trust.
    #[error(
        "{path}: the public half of this token signing key (key id {kid}) is not among the trusted token keys (TICA_TOKEN_PUBLIC_KEYS): the services would refuse every token it signs"
    )]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// Its key id.
        kid: String,
    },
}

/// The key id of a public key: the first 16 hex characters of SHA-256 over its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// A signing key with its id.
#[derive(Clone)]
pub struct KeyPair {
    /// The private key.
    pub signing: SigningKey,
    /// Its key id.
    pub kid: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh random key.
    pub fn generate() -> KeyPair {
        let signing = SigningKey::from_bytes(&rand::random());
        let kid = key_id(&signing.verifying_key());
        KeyPair { signing, kid }
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }
}

/// Reads a PKCS#8 PEM private key.
pub fn read_signing_key(path: &Path) -> Result<KeyPair, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Format {
        path: path.to_path_buf(),
        kind: "private",
    })?;
    let kid = key_id(&signing.verifying_key());
    Ok(KeyPair { signing, kid })
}

/// Reads the token signing key at `path` (`TICA_TOKEN_SIGNING_KEY`) and checks that `trusted`
/// (the keys every service verifies tokens with) holds its public half: tokens no service
/// would accept are worse than none, so a process refuses to start instead.
pub fn read_trusted_signing_key(
    path: &Path,
    trusted: &BTreeMap<String, VerifyingKey>,
) -> Result<KeyPair, KeyError> {
    let pair = read_signing_key(path)?;
    match trusted.get(&pair.kid) {
        Some(key) if *key == pair.verifying_key() => Ok(pair),
        _ => Err(KeyError::Untrusted {
            path: path.to_path_buf(),
            kid: pair.kid,
        }),
    }
}

/// Writes `{stem}.pem` (private, mode 0600) and `{stem}.pub.pem` into `dir`.
pub fn write_key_pair(dir: &Path, stem: &str, pair: &KeyPair) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let private = dir.join(format!("{stem}.pem"));
    let public = dir.join(format!("{stem}.pub.pem"));
    let private_pem = pair
        .signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Format {
            path: private.clone(),
            kind: "private",
        })?;
    let public_pem = pair
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::Format {
            path: public.clone(),
            kind: "public",
        })?;
    write_private(&private, private_pem.as_bytes())?;
    std::fs::write(&public, public_pem).map_err(|source| KeyError::Io {
        path: public,
        source,
    })?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    crate::secret_file::write_secret(path, bytes).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads public keys: `path` is one `*.pem` file or a directory whose `*.pub.pem` files are
/// read (a Kubernetes secret mounted as a directory works). Returned by key id.
pub fn load_verifying_keys(path: &Path) -> Result<BTreeMap<String, VerifyingKey>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let file = entry.map_err(io)?.path();
            if file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".pub.pem"))
            {
                files.push(file);
            }
        }
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut keys = BTreeMap::new();
    for file in files {
        let pem = std::fs::read_to_string(&file).map_err(|source| KeyError::Io {
            path: file.clone(),
            source,
        })?;
        let key = VerifyingKey::from_public_key_pem(&pem).map_err(|_| KeyError::Format {
            path: file.clone(),
            kind: "public",
        })?;
        keys.insert(key_id(&key), key);
    }
    if keys.is_empty() {
        return Err(KeyError::NoKeys(path.to_path_buf()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_pair_reads_back_with_the_same_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate();
        write_key_pair(dir.path(), "token-signing", &pair).unwrap();
        let read = read_signing_key(&dir.path().join("token-signing.pem")).unwrap();
        assert_eq!(read.kid, pair.kid);
        let public = load_verifying_keys(dir.path()).unwrap();
        assert_eq!(public.keys().collect::<Vec<_>>(), vec![&pair.kid]);
    }

    #[test]
    fn a_directory_without_public_keys_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_verifying_keys(dir.path()),
            Err(KeyError::NoKeys(_))
        ));
    }

    #[test]
    fn a_debug_print_of_a_key_pair_shows_only_its_id() {
        let pair = KeyPair::generate();
        let printed = format!("{pair:?}");
        assert!(printed.contains(&pair.kid));
        assert!(!printed.contains("signing"));
    }
}
