//! W3C Verifiable Credentials 2.0 secured with a Data Integrity proof of the `eddsa-jcs-2022`
//! cryptosuite (W3C "Data Integrity EdDSA Cryptosuites v1.0", §3.3): the document and the proof
//! options are each canonicalized with JCS (RFC 8785) and hashed with SHA-256; the proof's
//! hash followed by the document's is signed with Ed25519; the signature travels as a
//! base58-btc multibase `proofValue`.
//!
//! Verification keys come from `did:key` identifiers (an Ed25519 public key in the identifier
//! itself) or from a set of published keys (JWKS-style JSON, `kty` OKP, `crv` Ed25519), matched
//! by the fragment of the proof's `verificationMethod`. Tested against the W3C test vectors
//! (`tests/vectors/eddsa-jcs-2022/`, from w3c/vc-di-eddsa).
//!
//! The same with `eddsa-rdfc-2022` (§3.2, [`Suite::Rdfc`]): the document and the proof options
//! are turned into RDF ([`jsonld`], bundled contexts only) and canonicalized with RDFC-1.0 before
//! hashing; the Open Badges 3.0 exports use it, with `did:web` keys
//! ([`keys_from_did_document`]). W3C vectors in `tests/vectors/eddsa-rdfc-2022/`.
//!
//! [`qr`] is the certificate's QR code: a verification URL carrying a compact signed payload.
//! [`merkle`] is the transparency log's tree; [`note`] the C2SP signed notes its checkpoints
//! travel in.
//!
//! Pure: no I/O; callers read files and fetch keys.

#![deny(missing_docs)]

pub mod gm;
pub mod jsonld;
pub mod merkle;
pub mod note;
pub mod qr;
pub mod revocation;

use std::collections::BTreeMap;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The cryptosuite [`sign`] uses.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The RDF cryptosuite (W3C "Data Integrity EdDSA Cryptosuites v1.0" §3.2): what the DCC
/// verifier and Open Badges 3.0 verifiers accept.
pub const CRYPTOSUITE_RDFC: &str = "eddsa-rdfc-2022";

/// A Data Integrity cryptosuite over Ed25519.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// `eddsa-jcs-2022`: JSON canonicalization (RFC 8785).
    Jcs,
    /// `eddsa-rdfc-2022`: JSON-LD to RDF ([`jsonld`], bundled contexts) and RDFC-1.0.
    Rdfc,
}

impl Suite {
    /// The `cryptosuite` name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Jcs => CRYPTOSUITE,
            Suite::Rdfc => CRYPTOSUITE_RDFC,
        }
    }

    fn from_name(name: &str) -> Option<Suite> {
        [Suite::Jcs, Suite::Rdfc]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// The canonical form of `value` under this suite.
    pub fn canonicalize(self, value: &Value) -> Result<String, CredentialError> {
        match self {
            Suite::Jcs => Ok(canonical(value)),
            Suite::Rdfc => jsonld::canonical_nquads(value),
        }
    }

    /// `SHA-256(canonical proof options) ‖ SHA-256(canonical document)`.
    pub fn hash_data(
        self,
        document: &Value,
        proof_options: &Value,
    ) -> Result<[u8; 64], CredentialError> {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&Sha256::digest(
            self.canonicalize(proof_options)?.as_bytes(),
        ));
        out[32..].copy_from_slice(&Sha256::digest(self.canonicalize(document)?.as_bytes()));
        Ok(out)
    }
}
/// The proof type of Data Integrity.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The multicodec prefix of an Ed25519 public key (`ed01`, varint of 0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// Why a credential does not verify (or cannot be signed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// Not a JSON object, or a required member is missing or of the wrong kind.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// The proof is not one this verifier handles.
    #[error("unsupported proof: {0}")]
    Unsupported(String),
    /// The verification method names no key this verifier knows.
    #[error("unknown verification method {0}")]
    UnknownKey(String),
    /// The signature does not match the document and proof options: altered, or signed by
    /// another key.
    #[error("the signature does not match: the credential was altered or signed by another key")]
    BadSignature,
    /// The QR code's URL is not under the issuer's published base URL: a genuine payload moved
    /// to another host.
    #[error("the QR code points at {found}, not at the issuer's {expected}")]
    WrongIssuer {
        /// The issuer's published base URL.
        expected: String,
        /// The base URL the code carries.
        found: String,
    },
    /// The signature holds, but the key was not in force on the certificate's date: signed
    /// before the key was activated or after it was retired.
    #[error(
        "key {kid} was not in force on {issued}: it signs only between its published activation and retirement"
    )]
    KeyNotInForce {
        /// The key id.
        kid: String,
        /// The date the payload claims.
        issued: String,
    },
}

/// Proof options chosen by the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofOptions {
    /// XML Schema dateTime, e.g. `2026-11-24T08:00:00Z`.
    pub created: String,
    /// The key's URL: `did:key:z6Mk…#z6Mk…` or a published key's `https://…/keys#{kid}`.
    pub verification_method: String,
    /// `assertionMethod` for credentials.
    pub proof_purpose: String,
}

/// A verified credential's proof, as a verifier reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The verification method that signed.
    pub verification_method: String,
    /// When the proof says it was created.
    pub created: String,
}

fn object(value: &Value, what: &str) -> Result<Map<String, Value>, CredentialError> {
    value
        .as_object()
        .cloned()
        .ok_or_else(|| CredentialError::Malformed(format!("{what} is not a JSON object")))
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a str, CredentialError> {
    map.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| CredentialError::Malformed(format!("proof.{key} is missing")))
}

/// JCS (RFC 8785) of a JSON value.
pub fn canonical(value: &Value) -> String {
    serde_json_canonicalizer::to_string(value).expect("a serde_json::Value canonicalizes")
}

/// `SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document))`: what the signature covers.
pub fn hash_data(document: &Value, proof_options: &Value) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(canonical(proof_options).as_bytes()));
    out[32..].copy_from_slice(&Sha256::digest(canonical(document).as_bytes()));
    out
}

/// The `did:key` identifier of an Ed25519 public key (`did:key:z6Mk…`).
pub fn did_key(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUB.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

/// The key of a `did:key` verification method (`did:key:z6Mk…` with or without `#fragment`).
pub fn did_key_verifying_key(method: &str) -> Result<VerifyingKey, CredentialError> {
    let unknown = || CredentialError::UnknownKey(method.to_owned());
    let id = method.split('#').next().unwrap_or_default();
    let encoded = id.strip_prefix("did:key:z").ok_or_else(|| {
        CredentialError::Unsupported(format!("{method} is not a base58-btc did:key"))
    })?;
    let bytes = bs58::decode(encoded).into_vec().map_err(|_| unknown())?;
    let key: [u8; 32] = bytes
        .strip_prefix(&ED25519_PUB)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| {
            CredentialError::Unsupported(format!("{method} is not an Ed25519 did:key"))
        })?;
    VerifyingKey::from_bytes(&key).map_err(|_| unknown())
}

/// Published keys (`{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": …, "x": base64url}]}`) by
/// key id; keys of other types are skipped.
pub fn keys_from_jwks(jwks: &Value) -> Result<BTreeMap<String, VerifyingKey>, CredentialError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| CredentialError::Malformed("the key set has no `keys` array".into()))?;
    let mut out = BTreeMap::new();
    for key in keys {
        let member = |name: &str| key.get(name).and_then(Value::as_str).unwrap_or_default();
        if member("kty") != "OKP" || member("crv") != "Ed25519" {
            continue;
        }
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(member("x"))
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| {
                CredentialError::Malformed(format!(
                    "key {} has no valid Ed25519 `x`",
                    member("kid")
                ))
            })?;
        // An entry without a key id is never named: ignored (docs/qr-format.md §6.2).
        let Some(kid) = key.get("kid").and_then(Value::as_str) else {
            continue;
        };
        // Which of two keys a certificate names is not for a verifier to guess.
        if out.insert(kid.to_owned(), x).is_some() {
            return Err(CredentialError::Malformed(format!(
                "key {kid} is published twice"
            )));
        }
    }
    Ok(out)
}

/// The Ed25519 keys of a DID document (a `did:web` issuer's `/.well-known/did.json`) by
/// verification method id (`did:web:host#kid`): its `Multikey` methods with a `z6Mk…`
/// `publicKeyMultibase`; methods of other types are skipped.
pub fn keys_from_did_document(
    document: &Value,
) -> Result<BTreeMap<String, VerifyingKey>, CredentialError> {
    let did = document
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| CredentialError::Malformed("the DID document has no `id`".into()))?;
    let mut out = BTreeMap::new();
    for method in document
        .get("verificationMethod")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let member = |name: &str| method.get(name).and_then(Value::as_str).unwrap_or_default();
        if member("type") != "Multikey" || !member("publicKeyMultibase").starts_with("z6Mk") {
            continue;
        }
        let id = match member("id") {
            fragment if fragment.starts_with('#') => format!("{did}{fragment}"),
            id => id.to_owned(),
        };
        let key = did_key_verifying_key(&format!("did:key:{}", member("publicKeyMultibase")))?;
        if out.insert(id.clone(), key).is_some() {
            return Err(CredentialError::Malformed(format!(
                "verification method {id} is published twice"
            )));
        }
    }
    Ok(out)
}

/// A published key set: the issuer it belongs to and each key with the span it signed in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    /// The issuer's base URL (the JWKS document's `issuer`), e.g. `https://verify.ahedu.gov.cn`;
    /// None in key sets published before it was added.
    pub issuer: Option<String>,
    /// The keys by key id.
    pub keys: BTreeMap<String, qr::PublishedKey>,
    /// The SM2 keys (`kty` EC, `crv` SM2) by key id, of an installation that signs with SM2 too.
    pub sm2: BTreeMap<String, qr::PublishedSm2Key>,
}

impl KeySet {
    /// The key `kid` with its span.
    pub fn get(&self, kid: &str) -> Option<qr::PublishedKey> {
        self.keys.get(kid).copied()
    }

    /// The SM2 key `kid` with its span.
    pub fn get_sm2(&self, kid: &str) -> Option<qr::PublishedSm2Key> {
        self.sm2.get(kid).copied()
    }
}

/// Reads a published key set: [`keys_from_jwks`], the document's `issuer`, and each key's
/// `activated` and `retired` times (RFC 3339, UTC; a key without `activated` covers every date
/// up to its retirement).
pub fn key_set_from_jwks(jwks: &Value) -> Result<KeySet, CredentialError> {
    let plain = keys_from_jwks(jwks)?;
    let mut keys = BTreeMap::new();
    let mut sm2 = BTreeMap::new();
    for entry in jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(kid) = entry.get("kid").and_then(Value::as_str) else {
            continue;
        };
        let sm2_key = gm::Sm2PublicKey::from_jwk(entry)?;
        if sm2_key.is_none() && !plain.contains_key(kid) {
            continue;
        }
        if sm2_key.is_some() && (plain.contains_key(kid) || sm2.contains_key(kid)) {
            return Err(CredentialError::Malformed(format!(
                "key {kid} is published twice"
            )));
        }
        let time = |member: &str| -> Result<Option<i64>, CredentialError> {
            match entry.get(member) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => rfc3339_micros(text).map(Some).ok_or_else(|| {
                    CredentialError::Malformed(format!(
                        "key {kid}: `{member}` is not an RFC 3339 UTC time: {text}"
                    ))
                }),
                Some(_) => Err(CredentialError::Malformed(format!(
                    "key {kid}: `{member}` is not a string"
                ))),
            }
        };
        let (activated_micros, retired_micros) =
            (time("activated")?.unwrap_or(i64::MIN), time("retired")?);
        match (sm2_key, plain.get(kid)) {
            (Some(key), _) => {
                sm2.insert(
                    kid.to_owned(),
                    qr::PublishedSm2Key {
                        key,
                        activated_micros,
                        retired_micros,
                    },
                );
            }
            (None, Some(key)) => {
                keys.insert(
                    kid.to_owned(),
                    qr::PublishedKey {
                        key: *key,
                        activated_micros,
                        retired_micros,
                    },
                );
            }
            (None, None) => {}
        }
    }
    Ok(KeySet {
        sm2,
        issuer: jwks
            .get("issuer")
            .and_then(Value::as_str)
            .map(str::to_owned),
        keys,
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` as µs since the epoch.
pub fn rfc3339_micros(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let micros = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain("000000".chars()).take(6).collect();
        digits.parse::<i64>().ok()?
    };
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + sec) * 1_000_000) + micros)
}

/// An instant (µs since the epoch) as RFC 3339 UTC with seconds, e.g. `2026-12-06T02:05:36Z`.
pub fn micros_rfc3339(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let date = qr::china_date((seconds - 8 * 3600) * 1_000_000);
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Adds an `eddsa-jcs-2022` proof to `unsecured` (a credential without `proof`), signed by `key`.
pub fn sign(
    unsecured: &Value,
    options: &ProofOptions,
    key: &SigningKey,
) -> Result<Value, CredentialError> {
    sign_with(Suite::Jcs, unsecured, options, key)
}

/// Adds a `suite` proof to `unsecured` (a credential without `proof`), signed by `key`.
pub fn sign_with(
    suite: Suite,
    unsecured: &Value,
    options: &ProofOptions,
    key: &SigningKey,
) -> Result<Value, CredentialError> {
    let mut document = object(unsecured, "the credential")?;
    if document.contains_key("proof") {
        return Err(CredentialError::Malformed(
            "the credential already has a proof".into(),
        ));
    }
    let mut proof = Map::new();
    proof.insert("type".into(), PROOF_TYPE.into());
    proof.insert("cryptosuite".into(), suite.name().into());
    proof.insert("created".into(), options.created.clone().into());
    proof.insert(
        "verificationMethod".into(),
        options.verification_method.clone().into(),
    );
    proof.insert("proofPurpose".into(), options.proof_purpose.clone().into());
    if let Some(context) = document.get("@context") {
        proof.insert("@context".into(), context.clone());
    }
    let hash = suite.hash_data(unsecured, &Value::Object(proof.clone()))?;
    let signature = key.sign(&hash);
    if suite == Suite::Rdfc {
        // The RDF suite's proofs carry no @context of their own (the W3C vectors, the DCC
        // issuer): the verifier takes the document's.
        proof.remove("@context");
    }
    proof.insert(
        "proofValue".into(),
        format!("z{}", bs58::encode(signature.to_bytes()).into_string()).into(),
    );
    document.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(document))
}

/// Verifies `secured`'s `eddsa-jcs-2022` or `eddsa-rdfc-2022` proof with the key `resolve` gives for its
/// verification method (`did:key` methods resolve themselves when `resolve` knows nothing).
pub fn verify(
    secured: &Value,
    resolve: &dyn Fn(&str) -> Option<VerifyingKey>,
) -> Result<Verified, CredentialError> {
    let mut document = object(secured, "the credential")?;
    let proof = match document.remove("proof") {
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(_)) => {
            return Err(CredentialError::Unsupported(
                "proof sets (several proofs) are not supported".into(),
            ));
        }
        _ => {
            return Err(CredentialError::Malformed(
                "the credential has no proof".into(),
            ));
        }
    };
    if text(&proof, "type")? != PROOF_TYPE {
        return Err(CredentialError::Unsupported(format!(
            "proof type {}",
            text(&proof, "type")?
        )));
    }
    let suite = Suite::from_name(text(&proof, "cryptosuite")?).ok_or_else(|| {
        CredentialError::Unsupported(format!(
            "cryptosuite {}",
            text(&proof, "cryptosuite").unwrap_or_default()
        ))
    })?;
    let method = text(&proof, "verificationMethod")?.to_owned();
    let created = proof
        .get("created")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let signature = text(&proof, "proofValue")?
        .strip_prefix('z')
        .and_then(|b58| bs58::decode(b58).into_vec().ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or_else(|| {
            CredentialError::Malformed(
                "proof.proofValue is not a base58-btc Ed25519 signature".into(),
            )
        })?;
    let mut options = proof;
    options.remove("proofValue");
    // §3.3.2: the proof's @context must be how the document's begins; the document is then
    // hashed under the proof's.
    if let Some(context) = options.get("@context") {
        let starts = match (document.get("@context"), context) {
            (Some(Value::Array(doc)), Value::Array(proof)) => doc.starts_with(proof),
            (Some(doc), proof) => doc == proof,
            (None, _) => false,
        };
        if !starts {
            return Err(CredentialError::Malformed(
                "the proof's @context is not the start of the credential's".into(),
            ));
        }
        document.insert("@context".into(), context.clone());
    } else if let Some(context) = document.get("@context") {
        // §3.2.5/§3.3.5 proof configuration: the proof is read under the document's context.
        options.insert("@context".into(), context.clone());
    }
    let key = match resolve(&method) {
        Some(key) => key,
        None if method.starts_with("did:key:") => did_key_verifying_key(&method)?,
        None => return Err(CredentialError::UnknownKey(method)),
    };
    let hash = suite.hash_data(&Value::Object(document), &Value::Object(options))?;
    key.verify(&hash, &signature)
        .map_err(|_| CredentialError::BadSignature)?;
    Ok(Verified {
        verification_method: method,
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/eddsa-jcs-2022"
    );

    fn vector(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/{name}"))
            .unwrap()
            .trim_end()
            .to_owned()
    }

    fn json(name: &str) -> Value {
        serde_json::from_str(&vector(name)).unwrap()
    }

    fn no_keys(_: &str) -> Option<VerifyingKey> {
        None
    }

    #[test]
    fn the_w3c_vector_canonicalizes_hashes_and_verifies_step_by_step() {
        let signed = json("signedJCS.json");
        let mut document = signed.as_object().unwrap().clone();
        document.remove("proof");
        let document = Value::Object(document);
        let options = json("proofConfigJCS.json");
        assert_eq!(canonical(&document), vector("canonDocJCS.txt"));
        assert_eq!(canonical(&options), vector("proofCanonJCS.txt"));
        assert_eq!(
            hex::encode(Sha256::digest(canonical(&document).as_bytes())),
            vector("docHashJCS.txt")
        );
        assert_eq!(
            hex::encode(Sha256::digest(canonical(&options).as_bytes())),
            vector("proofHashJCS.txt")
        );
        assert_eq!(
            hex::encode(hash_data(&document, &options)),
            vector("combinedHashJCS.txt")
        );
        let proof_value = signed["proof"]["proofValue"].as_str().unwrap();
        assert_eq!(proof_value, vector("sigBTC58JCS.txt"));
        let signature = bs58::decode(&proof_value[1..]).into_vec().unwrap();
        assert_eq!(
            hex::encode(signature),
            vector("sigHexJCS.txt").to_lowercase()
        );
        let verified = verify(&signed, &no_keys).unwrap();
        assert_eq!(verified.created, "2023-02-24T23:36:38Z");
    }

    #[test]
    fn an_altered_credential_or_another_key_fails() {
        let mut altered = json("signedJCS.json");
        altered["credentialSubject"]["alumniOf"] = "Another School".into();
        assert_eq!(
            verify(&altered, &no_keys),
            Err(CredentialError::BadSignature)
        );
        let mut retimed = json("signedJCS.json");
        retimed["proof"]["created"] = "2024-01-01T00:00:00Z".into();
        assert_eq!(
            verify(&retimed, &no_keys),
            Err(CredentialError::BadSignature),
            "the proof options are signed too"
        );
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let signed = json("signedJCS.json");
        assert_eq!(
            verify(&signed, &|_| Some(other)),
            Err(CredentialError::BadSignature)
        );
        let mut unknown = json("signedJCS.json");
        unknown["proof"]["verificationMethod"] = "https://tica.example/keys#missing".into();
        assert!(matches!(
            verify(&unknown, &no_keys),
            Err(CredentialError::UnknownKey(_))
        ));
        let mut suite = json("signedJCS.json");
        suite["proof"]["cryptosuite"] = "ecdsa-jcs-2019".into();
        assert!(matches!(
            verify(&suite, &no_keys),
            Err(CredentialError::Unsupported(_))
        ));
    }

    #[test]
    fn a_signed_credential_verifies_with_its_did_key_and_with_published_keys() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let did = did_key(&key.verifying_key());
        assert!(did.starts_with("did:key:z6Mk"), "{did}");
        assert_eq!(did_key_verifying_key(&did).unwrap(), key.verifying_key());
        let mut unsecured = json("signedJCS.json");
        unsecured.as_object_mut().unwrap().remove("proof");
        let options = ProofOptions {
            created: "2026-11-24T08:00:00Z".into(),
            verification_method: format!("{did}#{}", &did["did:key:".len()..]),
            proof_purpose: "assertionMethod".into(),
        };
        let signed = sign(&unsecured, &options, &key).unwrap();
        assert!(verify(&signed, &no_keys).is_ok());

        // The same key published as TICA publishes its keys.
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let jwks = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "tica-2026-1", "x": x },
            { "kty": "RSA", "kid": "ignored" }
        ]});
        let published = keys_from_jwks(&jwks).unwrap();
        assert_eq!(published.len(), 1);
        let options = ProofOptions {
            verification_method: "https://verify.tica.example/keys#tica-2026-1".into(),
            ..options
        };
        let signed = sign(&unsecured, &options, &key).unwrap();
        let resolve = |method: &str| {
            method
                .rsplit_once('#')
                .and_then(|(_, kid)| published.get(kid).copied())
        };
        assert!(verify(&signed, &resolve).is_ok());
        assert!(matches!(
            verify(&signed, &no_keys),
            Err(CredentialError::UnknownKey(_))
        ));
    }
}

#[cfg(test)]
mod rdfc_tests {
    use super::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/eddsa-rdfc-2022"
    );

    fn vector(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/{name}"))
            .unwrap()
            .trim_end()
            .to_owned()
    }

    fn json(name: &str) -> Value {
        serde_json::from_str(&vector(name)).unwrap()
    }

    fn vector_key() -> SigningKey {
        let private = json("keyPair.json")["privateKeyMultibase"]
            .as_str()
            .unwrap()
            .to_owned();
        let bytes = bs58::decode(&private[1..]).into_vec().unwrap();
        // Multicodec ed25519-priv (0x1300, varint 80 26) then the 32-byte seed.
        assert_eq!(&bytes[..2], &[0x80, 0x26]);
        SigningKey::from_bytes(&bytes[2..].try_into().unwrap())
    }

    #[test]
    fn the_w3c_rdfc_vector_canonicalizes_hashes_signs_and_verifies_step_by_step() {
        let signed = json("signedDataInt.json");
        let mut document = signed.as_object().unwrap().clone();
        document.remove("proof");
        let document = Value::Object(document);
        let options = json("proofConfigDataInt.json");
        let canon_doc = Suite::Rdfc.canonicalize(&document).unwrap();
        assert_eq!(canon_doc.trim_end(), vector("canonDocDataInt.txt"));
        let canon_proof = Suite::Rdfc.canonicalize(&options).unwrap();
        assert_eq!(canon_proof.trim_end(), vector("proofCanonDataInt.txt"));
        assert_eq!(
            hex::encode(Sha256::digest(canon_doc.as_bytes())),
            vector("docHashDataInt.txt")
        );
        assert_eq!(
            hex::encode(Sha256::digest(canon_proof.as_bytes())),
            vector("proofHashDataInt.txt")
        );
        assert_eq!(
            hex::encode(Suite::Rdfc.hash_data(&document, &options).unwrap()),
            vector("combinedHashDataInt.txt")
        );
        // Ed25519 is deterministic: signing again with the vector's key gives its proof.
        let key = vector_key();
        assert_eq!(
            did_key(&key.verifying_key()),
            format!(
                "did:key:{}",
                json("keyPair.json")["publicKeyMultibase"].as_str().unwrap()
            )
        );
        let again = sign_with(
            Suite::Rdfc,
            &document,
            &ProofOptions {
                created: "2023-02-24T23:36:38Z".into(),
                verification_method: options["verificationMethod"].as_str().unwrap().into(),
                proof_purpose: "assertionMethod".into(),
            },
            &key,
        )
        .unwrap();
        assert_eq!(again, signed);
        assert_eq!(
            hex::encode(
                bs58::decode(&vector("sigBTC58DataInt.txt")[1..])
                    .into_vec()
                    .unwrap()
            ),
            vector("sigHexDataInt.txt").to_lowercase()
        );
        let verified = verify(&signed, &|_| None).unwrap();
        assert_eq!(verified.created, "2023-02-24T23:36:38Z");
    }

    #[test]
    fn an_rdfc_credential_altered_in_meaning_fails_but_not_one_merely_reformatted() {
        let mut altered = json("signedDataInt.json");
        altered["credentialSubject"]["alumniOf"] = "Another School".into();
        assert_eq!(
            verify(&altered, &|_| None),
            Err(CredentialError::BadSignature)
        );
        let mut retyped = json("signedDataInt.json");
        retyped["type"] = serde_json::json!(["VerifiableCredential"]);
        assert_eq!(
            verify(&retyped, &|_| None),
            Err(CredentialError::BadSignature)
        );
        // The same statements in another JSON order and layout: the RDF is the same.
        let signed = json("signedDataInt.json");
        let reordered: Value =
            serde_json::from_str(&serde_json::to_string(&signed).unwrap()).unwrap();
        let mut reordered = reordered;
        reordered["type"] = serde_json::json!(["AlumniCredential", "VerifiableCredential"]);
        assert!(verify(&reordered, &|_| None).is_ok());
    }

    #[test]
    fn a_document_with_a_term_no_context_defines_or_an_unbundled_context_is_refused() {
        let mut unknown = json("signedDataInt.json");
        unknown["@context"] = serde_json::json!([jsonld::VC_V2, jsonld::OB_V3]);
        unknown["credentialSubject"]["nickname"] = "x".into();
        assert!(matches!(
            verify(&unknown, &|_| None),
            Err(CredentialError::Malformed(_))
        ));
        let mut remote = json("signedDataInt.json");
        remote["@context"] = serde_json::json!([jsonld::VC_V2, "https://evil.example/ctx"]);
        assert!(matches!(
            verify(&remote, &|_| None),
            Err(CredentialError::Unsupported(_))
        ));
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn rfc3339_times_round_trip_through_microseconds() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-12-06T02:05:36Z",
            "2000-02-29T23:59:59Z",
        ] {
            let micros = rfc3339_micros(text).unwrap();
            assert_eq!(micros_rfc3339(micros), text);
        }
        assert_eq!(
            rfc3339_micros("2026-12-06T02:05:36.5Z"),
            Some(1_796_522_736_500_000)
        );
        assert_eq!(rfc3339_micros("2026-12-06 02:05:36"), None);
        assert_eq!(rfc3339_micros("2026-13-06T02:05:36Z"), None);
    }

    #[test]
    fn a_published_key_set_carries_its_issuer_and_each_keys_span() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let jwks = serde_json::json!({
            "issuer": "https://verify.ahedu.gov.cn",
            "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x,
                       "activated": "2025-01-01T00:00:00Z", "retired": "2026-01-01T00:00:00Z" }]
        });
        let set = key_set_from_jwks(&jwks).unwrap();
        assert_eq!(set.issuer.as_deref(), Some("https://verify.ahedu.gov.cn"));
        let k1 = set.get("k1").unwrap();
        assert!(k1.in_force_on("2025-06-01") && !k1.in_force_on("2026-01-02"));
        let bad = serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k1",
                                                 "x": x, "retired": "yesterday" }] });
        assert!(matches!(
            key_set_from_jwks(&bad),
            Err(CredentialError::Malformed(_))
        ));
    }

    /// A key set naming one kid twice (a tampered mirror, a botched rotation) says two things
    /// about the same certificates: it is refused, not read as whichever entry came last.
    #[test]
    fn a_key_set_that_publishes_a_key_id_twice_is_refused_and_an_entry_without_one_is_ignored() {
        let x = |seed: u8| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
                SigningKey::from_bytes(&[seed; 32])
                    .verifying_key()
                    .as_bytes(),
            )
        };
        let twice = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x(5) },
            { "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x(6) }] });
        let refused = key_set_from_jwks(&twice).unwrap_err();
        assert!(refused.to_string().contains("k1"), "{refused}");
        let anonymous = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "x": x(5) },
            { "kty": "OKP", "crv": "Ed25519", "x": x(6) },
            { "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x(7) }] });
        let set = key_set_from_jwks(&anonymous).unwrap();
        assert_eq!(set.keys.keys().collect::<Vec<_>>(), ["k1"]);
    }
}
