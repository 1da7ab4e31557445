//! The signed revocation list: what an offline verifier needs to know whether a genuine
//! certificate still holds, compact enough to download once a day and keep on a laptop.
//!
//! A JSON Web Token (RFC 7519) in JWS compact serialisation (RFC 7515), signed with EdDSA
//! (Ed25519, RFC 8037) by the issuer's active certificate key, so it verifies against the same
//! published key set (JWKS) as the certificates. Header `{"alg": "EdDSA", "typ":
//! "tica-revocations+jwt", "kid": …}`; claims:
//!
//! - `iss`: the issuer's base URL (the key set's `issuer`);
//! - `iat`, `exp`: when it was made and until when it may be relied on (seconds since the
//!   epoch); an offline verifier holding an expired list says revocation was not checked;
//! - `count`: how many certificates are revoked;
//! - `revoked`: base64url (no padding) of the sorted concatenation of one 12-byte entry per
//!   revoked certificate, [`revocation_entry`] of its id — the list names no certificate (the
//!   id is 128 random bits, the entry a hash of it), so it cannot be used to harvest the
//!   register; a collision with a valid certificate needs 2^96 tries.
//!
//! The JWS is written and checked here directly (one algorithm, one header shape): the
//! verifier refuses any `alg` but `EdDSA` and any other `typ`, so no algorithm confusion
//! arises. `jws_tests` checks the encoding against RFC 8037's Ed25519 example.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::qr::PublishedKey;
use crate::{CredentialError, KeySet};

/// The `credentialStatus` type of a credential whose revocation the list tells.
pub const STATUS_TYPE: &str = "TicaRevocationList2026";

/// The JWS `typ` of a revocation list.
pub const TYP: &str = "tica-revocations+jwt";
/// Bytes per entry.
pub const ENTRY_LEN: usize = 12;

/// The list's entry of certificate `id`: the first 12 bytes of SHA-256 of `"tica-revoked"
/// 0x1F id` (the id in lower case, as in the certificate's name).
pub fn revocation_entry(id: &str) -> [u8; ENTRY_LEN] {
    let mut hash = Sha256::new();
    hash.update(b"tica-revoked");
    hash.update([0x1f]);
    hash.update(id.trim().to_lowercase().as_bytes());
    let digest = hash.finalize();
    let mut entry = [0u8; ENTRY_LEN];
    entry.copy_from_slice(&digest[..ENTRY_LEN]);
    entry
}

/// A revocation list, verified or about to be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationList {
    /// The issuer's base URL.
    pub issuer: String,
    /// When it was made (seconds since the epoch).
    pub issued_at: i64,
    /// Until when it may be relied on (seconds since the epoch).
    pub expires_at: i64,
    /// The entries, sorted.
    pub entries: Vec<[u8; ENTRY_LEN]>,
}

impl RevocationList {
    /// The list of the certificates `revoked_ids`, valid for `max_age_seconds` from `now`.
    pub fn new(issuer: &str, revoked_ids: &[String], now: i64, max_age_seconds: i64) -> Self {
        let mut entries: Vec<[u8; ENTRY_LEN]> =
            revoked_ids.iter().map(|id| revocation_entry(id)).collect();
        entries.sort_unstable();
        entries.dedup();
        RevocationList {
            issuer: crate::qr::normalize_base(issuer),
            issued_at: now,
            expires_at: now + max_age_seconds,
            entries,
        }
    }

    /// Whether certificate `id` is revoked according to this list.
    pub fn revokes(&self, id: &str) -> bool {
        self.lists(&revocation_entry(id))
    }

    /// Whether the list holds `entry`.
    pub fn lists(&self, entry: &[u8; ENTRY_LEN]) -> bool {
        self.entries.binary_search(entry).is_ok()
    }

    /// Whether the list may still be relied on at `now` (seconds since the epoch).
    pub fn is_current(&self, now: i64) -> bool {
        now >= self.issued_at - 300 && now <= self.expires_at
    }

    /// The list signed by `key` (named `kid`): a compact JWS.
    pub fn sign(&self, kid: &str, key: &SigningKey) -> String {
        let header = json!({ "alg": "EdDSA", "typ": TYP, "kid": kid });
        let claims = json!({
            "iss": self.issuer,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "count": self.entries.len(),
            "revoked": B64.encode(self.entries.concat()),
        });
        sign_compact(&header, &claims, key)
    }

    /// Verifies a signed list against a published key set: the header, the signature by a key
    /// of the set in force on the list's date, and the issuer (the set's, when it names one).
    pub fn verify(token: &str, keys: &KeySet) -> Result<RevocationList, CredentialError> {
        let malformed = |why: &str| CredentialError::Malformed(format!("revocation list: {why}"));
        let (header, claims) = verify_compact(token, &|kid| keys.get(kid))?;
        if header.get("typ").and_then(Value::as_str) != Some(TYP) {
            return Err(malformed("not a tica-revocations+jwt"));
        }
        let number = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_i64)
                .ok_or_else(|| malformed(&format!("`{name}` is missing")))
        };
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("`iss` is missing"))?;
        if let Some(expected) = &keys.issuer
            && crate::qr::normalize_base(expected) != crate::qr::normalize_base(issuer)
        {
            return Err(CredentialError::WrongIssuer {
                expected: crate::qr::normalize_base(expected),
                found: issuer.to_owned(),
            });
        }
        let (issued_at, expires_at) = (number("iat")?, number("exp")?);
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = keys
            .get(kid)
            .ok_or_else(|| CredentialError::UnknownKey(kid.into()))?;
        let date = crate::qr::china_date(issued_at.saturating_mul(1_000_000));
        if !key.in_force_on(&date) {
            return Err(CredentialError::KeyNotInForce {
                kid: kid.into(),
                issued: date,
            });
        }
        let bytes = B64
            .decode(
                claims
                    .get("revoked")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("`revoked` is missing"))?,
            )
            .map_err(|_| malformed("`revoked` is not base64url"))?;
        if bytes.len() % ENTRY_LEN != 0 {
            return Err(malformed("`revoked` is not a whole number of entries"));
        }
        let entries: Vec<[u8; ENTRY_LEN]> = bytes
            .chunks_exact(ENTRY_LEN)
            .map(|c| c.try_into().expect("chunks of ENTRY_LEN"))
            .collect();
        if !entries.is_sorted() || usize::try_from(number("count")?).ok() != Some(entries.len()) {
            return Err(malformed("the entries are not sorted or not counted"));
        }
        Ok(RevocationList {
            issuer: crate::qr::normalize_base(issuer),
            issued_at,
            expires_at,
            entries,
        })
    }
}

/// A compact JWS of `claims` under `header` (which must say `"alg": "EdDSA"`), signed by `key`.
pub fn sign_compact(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let signing_input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
}

/// Verifies a compact JWS whose header says `"alg": "EdDSA"` with the key `resolve` gives for
/// its `kid`; its header and claims (JSON objects) when the signature holds. The key's span is
/// the caller's to check (it knows what date the claims carry).
pub fn verify_compact(
    token: &str,
    resolve: &dyn Fn(&str) -> Option<PublishedKey>,
) -> Result<(Value, Value), CredentialError> {
    let malformed = |why: &str| CredentialError::Malformed(format!("JWS: {why}"));
    let mut parts = token.trim().split('.');
    let (Some(header64), Some(claims64), Some(signature64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three base64url parts"));
    };
    let json_of = |part: &str, what: &str| -> Result<Value, CredentialError> {
        let bytes = B64
            .decode(part)
            .map_err(|_| malformed(&format!("the {what} is not base64url")))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| malformed(&format!("the {what} is not JSON")))?;
        value
            .is_object()
            .then_some(value)
            .ok_or_else(|| malformed(&format!("the {what} is not an object")))
    };
    let header = json_of(header64, "header")?;
    if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
        return Err(CredentialError::Unsupported(
            "JWS algorithms other than EdDSA".into(),
        ));
    }
    if header.get("crit").is_some() {
        return Err(CredentialError::Unsupported("JWS `crit` headers".into()));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = resolve(kid).ok_or_else(|| CredentialError::UnknownKey(kid.into()))?;
    let signature = B64
        .decode(signature64)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or_else(|| malformed("the signature is not 64 base64url bytes"))?;
    let signing_input = &token.trim()[..header64.len() + 1 + claims64.len()];
    key.key
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| CredentialError::BadSignature)?;
    Ok((header, json_of(claims64, "claims")?))
}

#[cfg(test)]
mod jws_tests {
    use super::*;

    fn key_set(key: &SigningKey) -> KeySet {
        let mut set = KeySet {
            issuer: Some("https://verify.ahedu.gov.cn".into()),
            ..KeySet::default()
        };
        set.keys
            .insert("k1".into(), PublishedKey::unbounded(key.verifying_key()));
        set
    }

    #[test]
    fn the_ed25519_signature_is_rfc_8037s_example() {
        // RFC 8037 Appendix A.1 and A.4: the key and the JWS of "Example of Ed25519 signing".
        let d = B64
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let key = SigningKey::from_bytes(&d.try_into().unwrap());
        assert_eq!(
            B64.encode(key.verifying_key().as_bytes()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        let signing_input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        assert_eq!(
            B64.encode(key.sign(signing_input.as_bytes()).to_bytes()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn a_signed_list_names_no_certificate_and_tells_which_are_revoked() {
        let key = SigningKey::from_bytes(&[8; 32]);
        let revoked = ["b2c4e1f07a9d4c3e8f615d2a9c".to_owned()];
        let list = RevocationList::new(
            "https://verify.ahedu.gov.cn/",
            &revoked,
            1_800_000_000,
            86_400,
        );
        let token = list.sign("k1", &key);
        assert!(!token.contains("b2c4e1f0"), "the id is not in the list");
        let read = RevocationList::verify(&token, &key_set(&key)).unwrap();
        assert_eq!(read, list);
        assert!(read.revokes("B2C4E1F07A9D4C3E8F615D2A9C"));
        assert!(!read.revokes("00000000000000000000000000"));
        assert!(read.is_current(1_800_000_000 + 86_400));
        assert!(!read.is_current(1_800_000_000 + 86_401));
    }

    #[test]
    fn an_altered_foreign_or_unsigned_list_is_refused() {
        let key = SigningKey::from_bytes(&[8; 32]);
        let list = RevocationList::new("https://verify.ahedu.gov.cn", &[], 1_800_000_000, 60);
        let token = list.sign("k1", &key);
        // Another key under the same kid.
        let forged = list.sign("k1", &SigningKey::from_bytes(&[9; 32]));
        assert_eq!(
            RevocationList::verify(&forged, &key_set(&key)),
            Err(CredentialError::BadSignature)
        );
        // `alg: none` with the signature dropped.
        let (_, rest) = token.split_once('.').unwrap();
        let (claims, _) = rest.split_once('.').unwrap();
        let none = format!(
            "{}.{claims}.",
            B64.encode(r#"{"alg":"none","typ":"tica-revocations+jwt","kid":"k1"}"#)
        );
        assert!(matches!(
            RevocationList::verify(&none, &key_set(&key)),
            Err(CredentialError::Unsupported(_))
        ));
        // A list of another issuer.
        let foreign =
            RevocationList::new("https://evil.example", &[], 1_800_000_000, 60).sign("k1", &key);
        assert!(matches!(
            RevocationList::verify(&foreign, &key_set(&key)),
            Err(CredentialError::WrongIssuer { .. })
        ));
    }
}
