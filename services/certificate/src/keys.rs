//! The signing keys: private keys from files (a Kubernetes secret mounted as a directory), never
//! from the database. The database keeps only each key's public half and when it signed, so a
//! retired key stays published — and keeps verifying what it signed — even after its file is
//! gone.
//!
//! A key directory holds `{kid}.pem` (PKCS#8 Ed25519 private keys) and may hold
//! `{kid}.pub.pem` (public keys of retired keys whose private half was destroyed). The active
//! key is the one configuration names, or the only private key there is.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// A key id: letters, digits, `-`, `_`, `.`; 1 to 64 characters (it is printed on certificates
/// and travels in QR codes).
pub fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The keys read from a directory.
pub struct KeyFiles {
    /// The key that signs new certificates and checkpoints.
    pub active_kid: String,
    /// The active private key.
    pub active: SigningKey,
    /// Every public key found (private keys' public halves included), by kid.
    pub public: BTreeMap<String, VerifyingKey>,
}

impl std::fmt::Debug for KeyFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFiles")
            .field("active_kid", &self.active_kid)
            .field("public", &self.public.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads `dir`; `active` names the signing key when the directory holds several private keys.
pub fn read_key_dir(dir: &Path, active: Option<&str>) -> anyhow::Result<KeyFiles> {
    use anyhow::{Context, bail};
    let mut private = BTreeMap::new();
    let mut public = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading key directory {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Kubernetes mounts secrets through `..data` symlinks: skip the dot entries.
        if name.starts_with('.') {
            continue;
        }
        let (kid, is_public) = if let Some(kid) = name.strip_suffix(".pub.pem") {
            (kid, true)
        } else if let Some(kid) = name.strip_suffix(".pem") {
            (kid, false)
        } else {
            continue;
        };
        if !valid_kid(kid) {
            bail!(
                "{}: a key id (the file name) uses letters, digits, '-', '_' and '.' only",
                path.display()
            );
        }
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if is_public {
            let key = VerifyingKey::from_public_key_pem(&pem)
                .map_err(|_| anyhow::anyhow!("{}: not a PEM Ed25519 public key", path.display()))?;
            public.insert(kid.to_owned(), key);
        } else {
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
                anyhow::anyhow!("{}: not a PEM PKCS#8 Ed25519 private key", path.display())
            })?;
            private.insert(kid.to_owned(), key);
        }
    }
    for (kid, key) in &private {
        if let Some(pubkey) = public.get(kid)
            && *pubkey != key.verifying_key()
        {
            bail!("key {kid}: {kid}.pub.pem is not the public half of {kid}.pem");
        }
        public.insert(kid.clone(), key.verifying_key());
    }
    let active_kid = match active {
        Some(kid) => kid.to_owned(),
        None if private.len() == 1 => private.keys().next().cloned().unwrap_or_default(),
        None if private.is_empty() => bail!(
            "no private signing key (*.pem) in {}: certificates cannot be signed",
            dir.display()
        ),
        None => bail!(
            "{} holds several private keys ({}): name the active one (TICA_CERT_ACTIVE_KEY)",
            dir.display(),
            private.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    let active = private.remove(&active_kid).with_context(|| {
        format!(
            "the active key {active_kid} has no private key {active_kid}.pem in {}",
            dir.display()
        )
    })?;
    Ok(KeyFiles {
        active_kid,
        active,
        public,
    })
}

/// Writes a fresh development key `{kid}.pem` into `dir` unless it already holds a private key;
/// returns the directory's keys' ids.
pub fn ensure_dev_key(dir: &Path, kid: &str) -> anyhow::Result<()> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    std::fs::create_dir_all(dir)?;
    let has_private = std::fs::read_dir(dir)?.any(|e| {
        e.ok()
            .and_then(|e| e.file_name().into_string().ok())
            .is_some_and(|n| n.ends_with(".pem") && !n.ends_with(".pub.pem"))
    });
    if has_private {
        return Ok(());
    }
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding a key: {e}"))?;
    let path = dir.join(format!("{kid}.pem"));
    write_private(&path, pem.as_bytes())?;
    Ok(())
}

/// A private key file, created 0600 and never over an existing one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if tica_auth::secret_file::create_secret(path, bytes)? {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_with_one_private_and_one_retired_public_key_reads_both() {
        let dir = std::env::temp_dir().join(format!("tica-keys-{}", uuid_like()));
        ensure_dev_key(&dir, "sx-2026-1").unwrap();
        let old = SigningKey::from_bytes(&[9; 32]);
        use ed25519_dalek::pkcs8::EncodePublicKey;
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        let pem = old
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        std::fs::write(dir.join("sx-2025-1.pub.pem"), pem).unwrap();
        let keys = read_key_dir(&dir, None).unwrap();
        assert_eq!(keys.active_kid, "sx-2026-1");
        assert_eq!(
            keys.public.keys().collect::<Vec<_>>(),
            ["sx-2025-1", "sx-2026-1"]
        );
        // A second private key makes the choice explicit.
        ensure_dev_key(&dir, "ignored").unwrap();
        std::fs::write(
            dir.join("sx-2027-1.pem"),
            std::fs::read(dir.join("sx-2026-1.pem")).unwrap(),
        )
        .unwrap();
        let refused = read_key_dir(&dir, None).unwrap_err().to_string();
        assert!(refused.contains("several private keys"), "{refused}");
        assert_eq!(
            read_key_dir(&dir, Some("sx-2027-1")).unwrap().active_kid,
            "sx-2027-1"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn uuid_like() -> String {
        let mut b = [0u8; 8];
        rand::fill(&mut b);
        hex::encode(b)
    }
}
