//! The signing keys: private keys from files (a Kubernetes secret mounted as a directory), never
//! from the database. The database keeps only each key's public half and when it signed, so a
//! retired key stays published — and keeps verifying what it signed — even after its file is
//! gone.
//!
//! A key directory holds `{kid}.pem` (PKCS#8 Ed25519 private keys) and may hold
//! `{kid}.pub.pem` (public keys of retired keys whose private half was destroyed). The active
//! key is the one configuration names, or the only private key there is.
//!
//! An installation that signs with SM2 too (China's national cryptography, issue 18 §2) puts an
//! SM2 private key in the same directory, `{kid}.pem` in PKCS#8 (as `openssl genpkey -algorithm
//! SM2` writes it; the file's content says which algorithm it is, not its name), and keeps the
//! public halves of retired SM2 keys as `{kid}.pub.pem`. With an SM2 private key there, every
//! certificate and checkpoint is signed with both; without one, nothing changes. The active SM2
//! key is the only SM2 private key, or the one `TICA_CERT_ACTIVE_SM2_KEY` names. Key ids name one
//! key across both algorithms.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use tica_credential::gm::{Sm2Key, Sm2PublicKey};

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
    /// The SM2 key that signs beside the active key, with its id: None unless the installation
    /// signs with SM2 too.
    pub sm2: Option<(String, Sm2Key)>,
    /// Every SM2 public key found (the private keys' public halves included), by kid.
    pub sm2_public: BTreeMap<String, Sm2PublicKey>,
}

impl std::fmt::Debug for KeyFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFiles")
            .field("active_kid", &self.active_kid)
            .field("public", &self.public.keys().collect::<Vec<_>>())
            .field("sm2", &self.sm2.as_ref().map(|(kid, _)| kid))
            .field("sm2_public", &self.sm2_public.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads `dir`; `active` names the signing key when the directory holds several private keys.
pub fn read_key_dir(dir: &Path, active: Option<&str>) -> anyhow::Result<KeyFiles> {
    read_key_dir_with(dir, active, None)
}

/// [`read_key_dir`], `active_sm2` naming the SM2 key that signs when there are several.
pub fn read_key_dir_with(
    dir: &Path,
    active: Option<&str>,
    active_sm2: Option<&str>,
) -> anyhow::Result<KeyFiles> {
    use anyhow::{Context, bail};
    let mut private = BTreeMap::new();
    let mut public = BTreeMap::new();
    let mut sm2_private: BTreeMap<String, Sm2Key> = BTreeMap::new();
    let mut sm2_public: BTreeMap<String, Sm2PublicKey> = BTreeMap::new();
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
            if let Ok(key) = VerifyingKey::from_public_key_pem(&pem) {
                public.insert(kid.to_owned(), key);
            } else if let Ok(key) = Sm2PublicKey::from_pem(&pem) {
                sm2_public.insert(kid.to_owned(), key);
            } else {
                bail!("{}: not a PEM Ed25519 or SM2 public key", path.display());
            }
        } else if let Ok(key) = SigningKey::from_pkcs8_pem(&pem) {
            private.insert(kid.to_owned(), key);
        } else if let Ok(key) = Sm2Key::from_pkcs8_pem(&pem) {
            sm2_private.insert(kid.to_owned(), key);
        } else {
            bail!(
                "{}: not a PEM PKCS#8 Ed25519 or SM2 private key",
                path.display()
            );
        }
    }
    for (kid, key) in &sm2_private {
        if let Some(pubkey) = sm2_public.get(kid)
            && *pubkey != key.public()
        {
            bail!("key {kid}: {kid}.pub.pem is not the public half of {kid}.pem");
        }
        sm2_public.insert(kid.clone(), key.public());
    }
    if let Some(kid) = sm2_public.keys().find(|kid| public.contains_key(*kid)) {
        bail!("key id {kid} names an Ed25519 key and an SM2 key: a key id names one key");
    }
    let sm2 = match active_sm2 {
        Some(kid) => Some((
            kid.to_owned(),
            sm2_private.remove(kid).with_context(|| {
                format!(
                    "the active SM2 key {kid} has no SM2 private key {kid}.pem in {}",
                    dir.display()
                )
            })?,
        )),
        None if sm2_private.len() <= 1 => sm2_private.pop_first(),
        None => bail!(
            "{} holds several SM2 private keys ({}): name the active one (TICA_CERT_ACTIVE_SM2_KEY)",
            dir.display(),
            sm2_private.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
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
        sm2,
        sm2_public,
    })
}

/// Writes a fresh development SM2 key `{kid}.pem` into `dir` unless it already holds an SM2
/// private key: an installation (or `tica serve`) that chooses SM2 signatures without a key of
/// its own.
pub fn ensure_dev_sm2_key(dir: &Path, kid: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".pem")
            && !name.ends_with(".pub.pem")
            && !name.starts_with('.')
            && std::fs::read_to_string(&path).is_ok_and(|pem| Sm2Key::from_pkcs8_pem(&pem).is_ok())
        {
            return Ok(());
        }
    }
    let key = Sm2Key::generate(&mut |bytes| rand::fill(bytes));
    write_private(
        &dir.join(format!("{kid}.pem")),
        key.to_pkcs8_pem().as_bytes(),
    )?;
    Ok(())
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

    #[test]
    fn an_sm2_key_in_the_directory_signs_beside_the_ed25519_key_and_nothing_changes_without_one() {
        let dir = std::env::temp_dir().join(format!("tica-keys-{}", uuid_like()));
        ensure_dev_key(&dir, "sx-2026-1").unwrap();
        let plain = read_key_dir(&dir, None).unwrap();
        assert!(plain.sm2.is_none() && plain.sm2_public.is_empty());
        ensure_dev_sm2_key(&dir, "sx-2026-sm2").unwrap();
        ensure_dev_sm2_key(&dir, "not-written").unwrap();
        assert!(
            !dir.join("not-written.pem").exists(),
            "one SM2 key is enough"
        );
        let keys = read_key_dir(&dir, None).unwrap();
        assert_eq!(
            keys.active_kid, "sx-2026-1",
            "the Ed25519 key stays the active one"
        );
        let (kid, key) = keys.sm2.as_ref().unwrap();
        assert_eq!(kid, "sx-2026-sm2");
        assert_eq!(keys.sm2_public["sx-2026-sm2"], key.public());
        assert_eq!(keys.public.keys().collect::<Vec<_>>(), ["sx-2026-1"]);
        // A retired SM2 key's public half, and a second SM2 private key needing a name.
        let old = Sm2Key::from_secret(&[8; 32]).unwrap();
        std::fs::write(dir.join("sx-2025-sm2.pub.pem"), old.public().to_pem()).unwrap();
        std::fs::write(dir.join("sx-2027-sm2.pem"), old.to_pkcs8_pem()).unwrap();
        let refused = read_key_dir(&dir, None).unwrap_err().to_string();
        assert!(refused.contains("TICA_CERT_ACTIVE_SM2_KEY"), "{refused}");
        std::fs::remove_file(dir.join("sx-2025-sm2.pub.pem")).unwrap();
        let chosen = read_key_dir_with(&dir, None, Some("sx-2027-sm2")).unwrap();
        assert_eq!(chosen.sm2.unwrap().0, "sx-2027-sm2");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn uuid_like() -> String {
        let mut b = [0u8; 8];
        rand::fill(&mut b);
        hex::encode(b)
    }
}
