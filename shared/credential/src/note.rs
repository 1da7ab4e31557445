//! Signed notes in the C2SP `signed-note` form (<https://c2sp.org/signed-note>), the envelope
//! transparency logs sign their checkpoints in (`tlog-checkpoint`) and witnesses read.
//!
//! A signed note is a text ending in a newline, a blank line, then one or more signature lines
//! `— <key name> <base64(4-byte key id ‖ signature)>`. For Ed25519 (signature type `0x01`, the
//! only one here) the key id is the first four bytes, big-endian, of
//! `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ 32-byte public key)`, and the signature is Ed25519 over the
//! text (final newline included, the blank line not). A verifier is configured with a
//! *verifier key* string `<name>+<8 hex digits of the key id>+<base64(0x01 ‖ public key)>`
//! ([`VerifierKey`]).
//!
//! [`open`] follows the specification and Go's `golang.org/x/mod/sumdb/note` (whose published
//! vectors the tests run), with one deliberate difference: a note carrying two signature lines
//! for the same key (name and id) is refused as malformed, where Go keeps the first; a log signs
//! a checkpoint once, and a second line for a key can only be a mistake or an attempt to confuse.
//! Signatures by unknown keys are ignored, as the specification requires, but at least one
//! trusted key must have signed, and a trusted key's signature that fails rejects the whole note.
//!
//! An installation that signs with SM2 too (issue 18 §2) adds a second line under the same key
//! name: SM2 with SM3 over the same text, `r ‖ s`, with the key id
//! `SHA-256(name ‖ "\n" ‖ 0xff ‖ "1.2.156.10197.1.501" ‖ 65-byte public key)[:4]` — the signature
//! type `0xff` the specification reserves for unassigned types, followed by the OID of
//! SM2-with-SM3 as its longer identifier ([`crate::gm::NOTE_TYPE`]). Its verifier key string is
//! `<name>+<hex key id>+<base64(0xff ‖ OID ‖ key)>`. A verifier that knows only the Ed25519 key
//! ignores the SM2 line (another key id), as the specification requires.

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 signed-note keys.
pub const ED25519: u8 = 0x01;
/// The most signature lines [`open`] reads (the specification asks for at least 16; Go reads
/// 100).
pub const MAX_SIGNATURES: usize = 100;
/// What starts every signature line: an em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a note or a verifier key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not a signed note: bad UTF-8, a control character, no blank line before the signatures,
    /// a line in the signature block that is not a well-formed signature line, two lines for
    /// one key, too many signatures.
    #[error("malformed note: {0}")]
    Malformed(String),
    /// A verifier key string that is not `<name>+<hex key id>+<base64(0x01 ‖ key)>` with a key
    /// id that matches its name and key.
    #[error("malformed verifier key: {0}")]
    MalformedKey(String),
    /// Two trusted keys share a name and a key id (or one is given twice): the verifier's list
    /// is wrong, and it cannot tell which signed.
    #[error("ambiguous key {name}+{key_id:08x}: two trusted keys have this name and key id")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// A trusted key's signature does not verify over the text: the note was altered, or
    /// signed by another key that claims the same name and id.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    BadSignature {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// No trusted key signed the note (the signers it names are listed).
    #[error("the note is signed by no trusted key (it names {})", signers_list(.signers))]
    Untrusted {
        /// `name+keyid` of each signature line, none of them trusted.
        signers: Vec<String>,
    },
}

fn signers_list(signers: &[String]) -> String {
    if signers.is_empty() {
        "no signer".to_owned()
    } else {
        signers.join(", ")
    }
}

/// Whether `name` may name a key: non-empty, without Unicode spaces or `+`.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key id of an Ed25519 key named `name`:
/// `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4]`, big-endian.
pub fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    key_id_of_encoded(name, &encoded_key(public))
}

fn encoded_key(public: &VerifyingKey) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(33);
    encoded.push(ED25519);
    encoded.extend_from_slice(public.as_bytes());
    encoded
}

fn key_id_of_encoded(name: &str, encoded: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update(encoded);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The public key of a verifier key: Ed25519, or SM2 (`0xff` and the OID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKey {
    /// Signature type `0x01`.
    Ed25519(VerifyingKey),
    /// Signature type `0xff` ‖ `1.2.156.10197.1.501`.
    Sm2(crate::gm::Sm2PublicKey),
}

impl NoteKey {
    /// The signature type's bytes followed by the public key, as key ids hash it.
    fn encoded(&self) -> Vec<u8> {
        match self {
            NoteKey::Ed25519(public) => encoded_key(public),
            NoteKey::Sm2(public) => encoded_sm2(public),
        }
    }

    fn verifies(&self, text: &[u8], signature: &[u8]) -> bool {
        match self {
            NoteKey::Ed25519(public) => Signature::from_slice(signature)
                .is_ok_and(|sig| public.verify_strict(text, &sig).is_ok()),
            NoteKey::Sm2(public) => public.verify(text, signature),
        }
    }
}

fn encoded_sm2(public: &crate::gm::Sm2PublicKey) -> Vec<u8> {
    let mut encoded = crate::gm::NOTE_TYPE.to_vec();
    encoded.extend_from_slice(public.as_bytes());
    encoded
}

/// The key id of an SM2 key named `name`:
/// `SHA-256(name ‖ "\n" ‖ 0xff ‖ "1.2.156.10197.1.501" ‖ 65-byte public key)[:4]`.
pub fn sm2_key_id(name: &str, public: &crate::gm::Sm2PublicKey) -> u32 {
    key_id_of_encoded(name, &encoded_sm2(public))
}

/// The SM2 signature line of `text` by `key` under `name` (see the module's documentation).
pub fn sm2_signature(text: &str, name: &str, key: &crate::gm::Sm2Key) -> NoteSignature {
    NoteSignature {
        name: name.to_owned(),
        key_id: sm2_key_id(name, &key.public()),
        signature: key.sign(text.as_bytes()).to_vec(),
    }
}

/// A trusted key with its name, as a verifier key string names it.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    public: NoteKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl fmt::Display for VerifierKey {
    /// The verifier key string: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(self.public.encoded())
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<VerifierKey, NoteError> {
        VerifierKey::parse(text)
    }
}

impl VerifierKey {
    /// The verifier of the Ed25519 key `public` under `name`.
    pub fn ed25519(name: &str, public: &VerifyingKey) -> Result<VerifierKey, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::MalformedKey(format!(
                "the key name {name:?} is empty or holds a space or a plus sign"
            )));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, public),
            public: NoteKey::Ed25519(*public),
        })
    }

    /// The verifier of the SM2 key `public` under `name`.
    pub fn sm2(name: &str, public: &crate::gm::Sm2PublicKey) -> Result<VerifierKey, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::MalformedKey(format!(
                "the key name {name:?} is empty or holds a space or a plus sign"
            )));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: sm2_key_id(name, public),
            public: NoteKey::Sm2(*public),
        })
    }

    /// Parses a verifier key string `<name>+<8 hex digits>+<base64(0x01 ‖ 32-byte key)>`; the
    /// hex key id must be the one the name and key give.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let bad = |why: &str| NoteError::MalformedKey(why.to_owned());
        let (name, rest) = text
            .split_once('+')
            .ok_or_else(|| bad("no `+` after the key name"))?;
        let (hex_id, key64) = rest
            .split_once('+')
            .ok_or_else(|| bad("no `+` after the key id"))?;
        if !valid_key_name(name) {
            return Err(bad("the key name is empty or holds a space"));
        }
        if hex_id.len() != 8 || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key id is not 8 hexadecimal digits"));
        }
        let id = u32::from_str_radix(hex_id, 16).map_err(|_| bad("the key id is not hex"))?;
        let encoded = B64
            .decode(key64)
            .map_err(|_| bad("the key is not standard base64"))?;
        let Some((&algorithm, raw)) = encoded.split_first() else {
            return Err(bad("the key is empty"));
        };
        if key_id_of_encoded(name, &encoded) != id {
            return Err(bad(&format!(
                "the key id {hex_id} is not the one of this name and key"
            )));
        }
        if let Some(sm2) = encoded.strip_prefix(crate::gm::NOTE_TYPE) {
            let public = crate::gm::Sm2PublicKey::from_sec1(sm2)
                .filter(|_| sm2.len() == crate::gm::PUBLIC_KEY_LEN)
                .ok_or_else(|| bad("not a 65-byte SM2 public key"))?;
            return Ok(VerifierKey {
                name: name.to_owned(),
                key_id: id,
                public: NoteKey::Sm2(public),
            });
        }
        if algorithm != ED25519 {
            return Err(bad(&format!(
                "signature type {algorithm:#04x} is neither Ed25519 (0x01) nor SM2 (0xff ‖ 1.2.156.10197.1.501)"
            )));
        }
        let public = <[u8; 32]>::try_from(raw)
            .ok()
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .map(NoteKey::Ed25519)
            .ok_or_else(|| bad("not a 32-byte Ed25519 public key"))?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: id,
            public,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public key.
    pub fn public_key(&self) -> &NoteKey {
        &self.public
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, newline included: `— <name> <base64(key id ‖ signature)>\n`.
    pub fn line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// `name+keyid`, as messages name a signer.
    pub fn signer(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }
}

/// A note as read by [`parse`] or verified by [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text, final newline included.
    pub text: String,
    /// Signatures by trusted keys, each verified ([`open`]; empty from [`parse`]).
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys the verifier does not know, not checked.
    pub unverified: Vec<NoteSignature>,
}

/// The signed note of `text` with these signature lines, in order.
///
/// # Panics
///
/// If `text` does not end with a newline or a signer's name is not a key name: the caller
/// builds both, and a note that would not read back is a bug.
pub fn encode(text: &str, signatures: &[NoteSignature]) -> String {
    assert!(text.ends_with('\n'), "a note's text ends with a newline");
    let mut out = format!("{text}\n");
    for signature in signatures {
        assert!(
            valid_key_name(&signature.name),
            "not a key name: {:?}",
            signature.name
        );
        out.push_str(&signature.line());
    }
    out
}

/// Signs `text` with `key` under `name`: the signed note with that one signature.
///
/// # Panics
///
/// As [`encode`].
pub fn sign(text: &str, name: &str, key: &SigningKey) -> String {
    let signature = NoteSignature {
        name: name.to_owned(),
        key_id: key_id(name, &key.verifying_key()),
        signature: key.sign(text.as_bytes()).to_bytes().to_vec(),
    };
    encode(text, &[signature])
}

/// Reads a signed note without verifying anything: its text and its signature lines (all in
/// [`Note::unverified`]). Refuses what is not a signed note (see [`NoteError::Malformed`]).
pub fn parse(message: &[u8]) -> Result<Note, NoteError> {
    let bad = NoteError::Malformed;
    let message = std::str::from_utf8(message).map_err(|_| bad("not UTF-8".into()))?;
    if let Some(c) = message.chars().find(|&c| c < ' ' && c != '\n') {
        return Err(bad(format!("control character {:#04x}", c as u32)));
    }
    // The text ends at the last blank line; its final newline is part of it.
    let split = message
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures".into()))?;
    let (text, block) = (&message[..=split], &message[split + 2..]);
    if block.is_empty() {
        return Err(bad("no signature line after the blank line".into()));
    }
    let block = block
        .strip_suffix('\n')
        .ok_or_else(|| bad("the last signature line does not end with a newline".into()))?;
    let mut signatures: Vec<NoteSignature> = Vec::new();
    for (n, line) in block.split('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(bad(format!("more than {MAX_SIGNATURES} signatures")));
        }
        let line_no = n + 1;
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
            bad(format!(
                "signature line {line_no} does not start with an em dash and a space: {line:?}"
            ))
        })?;
        let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
        if !valid_key_name(name) {
            return Err(bad(format!(
                "signature line {line_no}: {name:?} is not a key name"
            )));
        }
        let raw = B64
            .decode(b64)
            .ok()
            .filter(|raw| raw.len() >= 5)
            .ok_or_else(|| {
                bad(format!(
                    "signature line {line_no} ({name}): not a key id and signature in standard base64"
                ))
            })?;
        let signature = NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        };
        if signatures
            .iter()
            .any(|s| s.name == signature.name && s.key_id == signature.key_id)
        {
            return Err(bad(format!(
                "two signature lines for the key {}",
                signature.signer()
            )));
        }
        signatures.push(signature);
    }
    Ok(Note {
        text: text.to_owned(),
        verified: Vec::new(),
        unverified: signatures,
    })
}

/// Reads a signed note and verifies it against the `trusted` keys: every signature by a
/// trusted key (same name and key id) must verify, and at least one must be there; signatures
/// by other keys are ignored (kept in [`Note::unverified`]).
pub fn open(message: &[u8], trusted: &[VerifierKey]) -> Result<Note, NoteError> {
    let parsed = parse(message)?;
    let mut note = Note {
        text: parsed.text,
        verified: Vec::new(),
        unverified: Vec::new(),
    };
    for signature in parsed.unverified {
        let mut matching = trusted
            .iter()
            .filter(|k| k.name == signature.name && k.key_id == signature.key_id);
        let Some(key) = matching.next() else {
            note.unverified.push(signature);
            continue;
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousKey {
                name: signature.name,
                key_id: signature.key_id,
            });
        }
        if !key
            .public
            .verifies(note.text.as_bytes(), &signature.signature)
        {
            return Err(NoteError::BadSignature {
                name: signature.name,
                key_id: signature.key_id,
            });
        }
        note.verified.push(signature);
    }
    if note.verified.is_empty() {
        return Err(NoteError::Untrusted {
            signers: note.unverified.iter().map(NoteSignature::signer).collect(),
        });
    }
    Ok(note)
}

#[cfg(test)]
mod tests {
    //! The vectors are those of Go's `golang.org/x/mod/sumdb/note` (`note_test.go`, `note.go`'s
    //! package documentation): the keys of "PeterNeumann" and "EnochRoot" and their signatures
    //! of the same two-line text.

    use super::*;

    const PETER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    /// The base64 of `PRIVATE+KEY+PeterNeumann+c74f20a3+…`: 0x01 ‖ the Ed25519 seed.
    const PETER_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_KEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> VerifierKey {
        PETER_KEY.parse().unwrap()
    }

    fn enoch() -> VerifierKey {
        ENOCH_KEY.parse().unwrap()
    }

    fn peter_signing_key() -> SigningKey {
        let raw = B64.decode(PETER_SEED).unwrap();
        assert_eq!(raw[0], ED25519);
        SigningKey::from_bytes(&raw[1..].try_into().unwrap())
    }

    fn msg(parts: &[&str]) -> Vec<u8> {
        parts.concat().into_bytes()
    }

    #[test]
    fn go_verifier_keys_parse_and_print_back() {
        for key in [PETER_KEY, ENOCH_KEY] {
            let parsed = VerifierKey::parse(key).unwrap();
            assert_eq!(parsed.to_string(), key);
        }
        assert_eq!(peter().name(), "PeterNeumann");
        assert_eq!(peter().key_id(), 0xc74f20a3);
        // The key id is SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4].
        assert_eq!(
            key_id("PeterNeumann", &peter_signing_key().verifying_key()),
            0xc74f20a3
        );
        let signing = peter_signing_key();
        assert_eq!(
            VerifierKey::ed25519("PeterNeumann", &signing.verifying_key()).unwrap(),
            peter()
        );
    }

    /// Go's TestNewVerifier: every proper substring and every byte incremented is refused, and
    /// so are a key of the wrong length and an unknown algorithm with their key ids adjusted.
    #[test]
    fn every_mangled_go_verifier_key_is_refused() {
        let b = PETER_KEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let Ok(part) = std::str::from_utf8(&b[i..j]) else {
                    continue;
                };
                assert!(VerifierKey::parse(part).is_err(), "{part:?}");
            }
        }
        let mut mangled = b.to_vec();
        for i in 0..mangled.len() {
            mangled[i] += 1;
            let text = String::from_utf8(mangled.clone()).unwrap();
            assert!(VerifierKey::parse(&text).is_err(), "{text:?}");
            mangled[i] -= 1;
        }
        for bad in [
            // Wrong length key, with adjusted key hash.
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            // Unknown algorithm, with adjusted key hash.
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(
                matches!(VerifierKey::parse(bad), Err(NoteError::MalformedKey(_))),
                "{bad}"
            );
        }
        assert!(
            VerifierKey::ed25519("Peter Neumann", &peter_signing_key().verifying_key()).is_err()
        );
        assert!(VerifierKey::ed25519("a+b", &peter_signing_key().verifying_key()).is_err());
        assert!(VerifierKey::ed25519("", &peter_signing_key().verifying_key()).is_err());
    }

    /// Go's TestSign: the same key and text give the same signed note, byte for byte.
    #[test]
    fn signing_the_go_text_with_the_go_key_gives_the_go_note() {
        let want = format!("{TEXT}\n{PETER_SIG}");
        assert_eq!(sign(TEXT, "PeterNeumann", &peter_signing_key()), want);
        let opened = open(want.as_bytes(), &[peter()]).unwrap();
        assert_eq!(opened.text, TEXT);
        assert_eq!(encode(&opened.text, &opened.verified), want);
    }

    /// Go's TestOpen.
    #[test]
    fn go_notes_open_with_the_keys_that_signed_them() {
        let both = msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG]);
        let peter_sig = NoteSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3,
            signature: B64.decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=").unwrap()[4..].to_vec(),
        };
        let enoch_sig = NoteSignature {
            name: "EnochRoot".into(),
            key_id: 0xaf0cfe78,
            signature: B64.decode("rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=").unwrap()[4..].to_vec(),
        };

        // One signature verified, one not.
        let note = open(&both, &[peter()]).unwrap();
        assert_eq!(note.text, TEXT);
        assert_eq!(note.verified, vec![peter_sig.clone()]);
        assert_eq!(note.unverified, vec![enoch_sig.clone()]);

        // Both verified.
        let note = open(&both, &[peter(), enoch()]).unwrap();
        assert_eq!(note.verified, vec![peter_sig.clone(), enoch_sig.clone()]);
        assert!(note.unverified.is_empty());

        // Both unverified: refused, naming the signers.
        let error = open(&both, &[]).unwrap_err();
        assert_eq!(
            error,
            NoteError::Untrusted {
                signers: vec!["PeterNeumann+c74f20a3".into(), "EnochRoot+af0cfe78".into()]
            }
        );
        assert_eq!(
            error.to_string(),
            "the note is signed by no trusted key (it names PeterNeumann+c74f20a3, EnochRoot+af0cfe78)"
        );
        let parsed = parse(&both).unwrap();
        assert_eq!(parsed.unverified, vec![peter_sig, enoch_sig]);

        // A trusted list with two keys of one name and id is ambiguous when that key signed
        // (Go: "ambiguous key EnochRoot+af0cfe78"), whether or not the keys differ; unused, it
        // does not matter.
        let impostor = VerifierKey {
            public: NoteKey::Ed25519(peter_signing_key().verifying_key()),
            ..enoch()
        };
        for twice in [
            [enoch(), peter(), enoch()],
            [enoch(), peter(), impostor.clone()],
        ] {
            let error = open(&msg(&[TEXT, "\n", ENOCH_SIG]), &twice).unwrap_err();
            assert_eq!(
                error.to_string(),
                "ambiguous key EnochRoot+af0cfe78: two trusted keys have this name and key id"
            );
            open(&msg(&[TEXT, "\n", PETER_SIG]), &twice).unwrap();
        }

        // Too many signatures.
        let many = msg(&[TEXT, "\n", &PETER_SIG.repeat(101)]);
        assert!(matches!(
            open(&many, &[peter()]),
            Err(NoteError::Malformed(_))
        ));

        // An invalid signature by a trusted key rejects the note (Go: "invalid signature for key
        // PeterNeumann+c74f20a3").
        let altered = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let error = open(&msg(&[TEXT, "\n", &altered]), &[peter()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid signature for key PeterNeumann+c74f20a3"
        );
        // So does the genuine signature over another text.
        let other_text = TEXT.replace("cryptography", "a blockchain");
        assert!(matches!(
            open(&msg(&[&other_text, "\n", PETER_SIG]), &[peter()]),
            Err(NoteError::BadSignature { .. })
        ));

        // Invalid syntax (Go's badMsgs).
        for bad in [
            msg(&[TEXT]),
            msg(&[TEXT, "\n"]),
            msg(&[TEXT, "\n", &PETER_SIG[..PETER_SIG.len() - 1]]),
            msg(&["\x01", TEXT, "\n", PETER_SIG]),
            [b"\xff".as_slice(), &msg(&[TEXT, "\n", PETER_SIG])].concat(),
            msg(&[
                TEXT,
                "\n",
                "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
            ]),
            msg(&[TEXT, "\n", PETER_SIG, "Unexpected line.\n"]),
        ] {
            assert!(
                matches!(open(&bad, &[peter()]), Err(NoteError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(&bad)
            );
        }

        // A signature line that names another key than the one that made it: its name or id
        // no longer match a trusted key, so nothing trusted signed.
        let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
        assert!(matches!(
            open(&msg(&[TEXT, "\n", &misnamed]), &[peter()]),
            Err(NoteError::Untrusted { .. })
        ));
        let wrong_id = PETER_SIG.replace("x08g", "xxxx");
        assert!(matches!(
            open(&msg(&[TEXT, "\n", &wrong_id]), &[peter()]),
            Err(NoteError::Untrusted { .. })
        ));
    }

    /// Go keeps the first of repeated signature lines; this module refuses the note (see the
    /// module documentation).
    #[test]
    fn a_note_with_two_lines_for_one_key_is_refused_where_go_keeps_the_first() {
        let altered_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        for repeated in [
            msg(&[TEXT, "\n", PETER_SIG, PETER_SIG]),
            msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG, ENOCH_SIG]),
            msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG, &altered_enoch]),
        ] {
            let error = open(&repeated, &[peter()]).unwrap_err();
            assert!(
                matches!(&error, NoteError::Malformed(why) if why.starts_with("two signature lines for the key")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_note_text_may_hold_blank_lines_and_the_last_one_ends_it() {
        let text = "a\n\nb\n";
        let key = peter_signing_key();
        let note = sign(text, "PeterNeumann", &key);
        assert_eq!(open(note.as_bytes(), &[peter()]).unwrap().text, text);
    }

    /// Issue 18 §2: a checkpoint signed with Ed25519 and SM2 under one name opens for a
    /// verifier of either key or both; a wrong SM2 line is caught by whoever trusts SM2.
    #[test]
    fn a_note_signed_with_ed25519_and_sm2_opens_for_either_key_and_a_bad_sm2_line_fails() {
        let name = "tica.example/log";
        let ed = peter_signing_key();
        let sm2 = crate::gm::Sm2Key::from_secret(&[9; 32]).unwrap();
        let ed_line = NoteSignature {
            name: name.into(),
            key_id: key_id(name, &ed.verifying_key()),
            signature: ed.sign(TEXT.as_bytes()).to_bytes().to_vec(),
        };
        let sm2_line = sm2_signature(TEXT, name, &sm2);
        assert_eq!(sm2_line.signature.len(), 64);
        let note = encode(TEXT, &[ed_line.clone(), sm2_line.clone()]);
        let ed_key = VerifierKey::ed25519(name, &ed.verifying_key()).unwrap();
        let sm2_key = VerifierKey::sm2(name, &sm2.public()).unwrap();
        // The verifier key string reads back, and names the type by 0xff and the OID.
        let text = sm2_key.to_string();
        assert_eq!(VerifierKey::parse(&text).unwrap(), sm2_key);
        let encoded = B64.decode(text.splitn(3, '+').nth(2).unwrap()).unwrap();
        assert!(encoded.starts_with(b"\xff1.2.156.10197.1.501"));
        assert_eq!(encoded.len(), 1 + 19 + 65);

        let both = open(note.as_bytes(), &[ed_key.clone(), sm2_key.clone()]).unwrap();
        assert_eq!(both.verified, [ed_line.clone(), sm2_line.clone()]);
        let only_ed = open(note.as_bytes(), std::slice::from_ref(&ed_key)).unwrap();
        assert_eq!(only_ed.unverified, std::slice::from_ref(&sm2_line));
        let only_sm2 = open(note.as_bytes(), std::slice::from_ref(&sm2_key)).unwrap();
        assert_eq!(only_sm2.verified, std::slice::from_ref(&sm2_line));

        // The SM2 line altered: whoever trusts the SM2 key rejects the note.
        let mut bad = sm2_line.clone();
        bad.signature[5] ^= 1;
        let altered = encode(TEXT, &[ed_line.clone(), bad]);
        assert!(matches!(
            open(altered.as_bytes(), &[ed_key.clone(), sm2_key.clone()]),
            Err(NoteError::BadSignature { .. })
        ));
        // Another text under the genuine SM2 line.
        let other = encode("another text\n", &[sm2_line]);
        assert!(matches!(
            open(other.as_bytes(), &[sm2_key]),
            Err(NoteError::BadSignature { .. })
        ));
    }
}
