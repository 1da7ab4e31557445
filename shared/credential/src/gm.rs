//! China's commercial cryptography (商用密码, the GM/T standards) for installations that
//! choose it (issue 18 §2): SM2 signatures (GM/T 0003.2-2012, GB/T 32918.2-2016) over SM3
//! (GM/T 0004-2012, GB/T 32905-2016) on the recommended curve (GM/T 0003.5-2012,
//! GB/T 32918.5-2017), with RustCrypto's `sm2` crate. Government e-certificate systems are
//! assessed against GB/T 39786-2021, which asks for exactly these algorithms.
//!
//! TICA signs with SM2 only *beside* Ed25519, never instead: a payload or checkpoint carries both
//! signatures over the same bytes, and a verifier that knows both keys checks both.
//!
//! - **Distinguishing identifier**: always [`DEFAULT_ID`], `1234567812345678`, the default of
//!   GM/T 0009-2012 §10 (SM2 usage specification) that OpenSSL, GmSSL and the other
//!   implementations use when none is agreed: a signer's `Z_A` is
//!   `SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)` and the signed hash `SM3(Z_A ‖ M)`. A
//!   certificate's verifier has no channel to learn another ID, so none is configurable.
//! - **Signatures**: `r ‖ s`, 32 bytes each, big-endian (64 bytes; GB/T 32918.2 §6.1 gives the
//!   pair, GM/T 0009 §7 the DER `SEQUENCE { r, s }` TICA does not use: it would cost the QR code
//!   up to 8 bytes more). Signing is deterministic (RFC 6979 nonces with SM3), so the same
//!   certificate page still gives the same PDF bytes.
//! - **Keys**: PKCS#8 PEM (`id-ecPublicKey` with the curve `1.2.156.10197.1.301`, as
//!   `openssl genpkey -algorithm SM2` writes them), public keys as SPKI PEM, and in the JWK Set
//!   as `{"kty": "EC", "crv": "SM2", "x", "y"}` (the form jsrsasign, fibjs and the DID documents
//!   of China's BSN write; no JOSE registry names SM2) with `"alg": "SM2SM3"` ([`JWK_ALG`]), each
//!   coordinate 32 bytes base64url.
//! - **Signed notes**: the C2SP signed-note form assigns SM2 no signature type; it reserves
//!   `0xff` for unassigned types, "followed by a longer identifier that is unlikely to collide"
//!   (c2sp.org/signed-note §Signature types). TICA's is `0xff` followed by the ASCII of the OID
//!   of SM2-with-SM3, `1.2.156.10197.1.501` (GM/T 0006-2012), then the 65-byte uncompressed public
//!   key ([`NOTE_TYPE`], `crate::note`).

use base64::Engine;
use serde_json::Value;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sm3::Digest;

use crate::CredentialError;

/// The signer's distinguishing identifier every TICA SM2 signature uses (GM/T 0009-2012 §10).
pub const DEFAULT_ID: &str = "1234567812345678";
/// Bytes in an SM2 signature as TICA carries it: `r ‖ s`.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes in an uncompressed SM2 public key: `0x04 ‖ x ‖ y`.
pub const PUBLIC_KEY_LEN: usize = 65;
/// The JWK `crv` of SM2 keys.
pub const JWK_CRV: &str = "SM2";
/// The JWK `alg` TICA publishes its SM2 keys with (not registered with IANA).
pub const JWK_ALG: &str = "SM2SM3";
/// The algorithm name `ListSigningKeys` and the key records give SM2 keys.
pub const ALGORITHM: &str = "SM2";
/// What follows the signature type `0xff` in a signed-note key of SM2 (see the module's
/// documentation).
pub const NOTE_TYPE: &[u8] = b"\xff1.2.156.10197.1.501";

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use sm2::dsa::SigningKey as Sm2SigningKey;

/// SM3 of `bytes` (GB/T 32905-2016).
pub fn sm3(bytes: &[u8]) -> [u8; 32] {
    sm3::Sm3::digest(bytes).into()
}

/// An SM2 public key, checked to be a point of the curve: its 65 uncompressed bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sm2PublicKey([u8; PUBLIC_KEY_LEN]);

impl std::fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sm2PublicKey({})", B64URL.encode(self.0))
    }
}

impl Sm2PublicKey {
    /// From SEC1 bytes (compressed or uncompressed); None when they are not a point of the curve.
    pub fn from_sec1(bytes: &[u8]) -> Option<Sm2PublicKey> {
        let key = sm2::PublicKey::from_sec1_bytes(bytes).ok()?;
        let point = key.to_sec1_point(false);
        <[u8; PUBLIC_KEY_LEN]>::try_from(point.as_bytes())
            .ok()
            .map(Sm2PublicKey)
    }

    /// From the coordinates (32 bytes each, big-endian).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Option<Sm2PublicKey> {
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut bytes = vec![0x04];
        bytes.extend_from_slice(x);
        bytes.extend_from_slice(y);
        Sm2PublicKey::from_sec1(&bytes)
    }

    /// The public key of a PEM SPKI document (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Sm2PublicKey, CredentialError> {
        let key = sm2::PublicKey::from_public_key_pem(pem)
            .map_err(|_| CredentialError::Malformed("not a PEM SM2 public key".into()))?;
        Sm2PublicKey::from_sec1(key.to_sec1_point(false).as_bytes())
            .ok_or_else(|| CredentialError::Malformed("not an SM2 public key".into()))
    }

    /// As a PEM SPKI document.
    pub fn to_pem(&self) -> String {
        sm2::PublicKey::from_sec1_bytes(&self.0)
            .expect("checked on construction")
            .to_public_key_pem(LineEnding::LF)
            .expect("an SM2 public key encodes")
    }

    /// `0x04 ‖ x ‖ y`.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_sec1_bytes(DEFAULT_ID, &self.0).expect("checked on construction")
    }

    /// Whether `signature` (`r ‖ s`) is this key's SM2 signature of `message` under
    /// [`DEFAULT_ID`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.verifying_key().verify(message, &signature).is_ok())
    }

    /// The key as a JWK (RFC 7517) named `kid`: `kty` EC, `crv` SM2, `x`, `y`, `use` sig, `alg`
    /// SM2SM3.
    pub fn jwk(&self, kid: &str) -> Value {
        serde_json::json!({
            "kty": "EC",
            "crv": JWK_CRV,
            "kid": kid,
            "use": "sig",
            "alg": JWK_ALG,
            "x": B64URL.encode(&self.0[1..33]),
            "y": B64URL.encode(&self.0[33..]),
        })
    }

    /// The key of a JWK of SM2 (`kty` EC, `crv` SM2); None for a JWK of another kind, an error
    /// for an SM2 JWK whose coordinates are not a point of the curve.
    pub fn from_jwk(jwk: &Value) -> Result<Option<Sm2PublicKey>, CredentialError> {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
        if member("kty") != "EC" || member("crv") != JWK_CRV {
            return Ok(None);
        }
        let coordinate = |name: &str| B64URL.decode(member(name)).ok();
        coordinate("x")
            .zip(coordinate("y"))
            .and_then(|(x, y)| Sm2PublicKey::from_coordinates(&x, &y))
            .map(Some)
            .ok_or_else(|| {
                CredentialError::Malformed(format!(
                    "key {}: `x` and `y` are not a point of the SM2 curve",
                    member("kid")
                ))
            })
    }
}

/// An installation's SM2 private key, with its public half.
#[derive(Clone)]
pub struct Sm2Key {
    key: SigningKey,
    public: Sm2PublicKey,
}

impl std::fmt::Debug for Sm2Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm2Key")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Sm2Key {
    /// The key whose secret scalar is `secret` (big-endian); None when it is 0 or not below the
    /// curve's order.
    pub fn from_secret(secret: &[u8; 32]) -> Option<Sm2Key> {
        let key = SigningKey::from_slice(DEFAULT_ID, secret).ok()?;
        let public = Sm2PublicKey::from_sec1(&key.verifying_key().to_sec1_bytes())?;
        Some(Sm2Key { key, public })
    }

    /// A PKCS#8 PEM private key of SM2 (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Sm2Key, CredentialError> {
        let secret = sm2::SecretKey::from_pkcs8_pem(pem)
            .map_err(|_| CredentialError::Malformed("not a PEM PKCS#8 SM2 private key".into()))?;
        Sm2Key::from_secret(&secret.to_bytes().into())
            .ok_or_else(|| CredentialError::Malformed("not an SM2 private key".into()))
    }

    /// As a PKCS#8 PEM document.
    pub fn to_pkcs8_pem(&self) -> String {
        let secret = sm2::SecretKey::from_bytes(&self.key.to_bytes()).expect("a valid scalar");
        secret
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an SM2 private key encodes")
            .to_string()
    }

    /// A fresh key from `fill`, which fills a buffer with random bytes (the OS CSPRNG).
    pub fn generate(fill: &mut dyn FnMut(&mut [u8; 32])) -> Sm2Key {
        loop {
            let mut secret = [0u8; 32];
            fill(&mut secret);
            if let Some(key) = Sm2Key::from_secret(&secret) {
                return key;
            }
        }
    }

    /// The public half.
    pub fn public(&self) -> Sm2PublicKey {
        self.public
    }

    /// The SM2 signature (`r ‖ s`) of `message` under [`DEFAULT_ID`]: `SM3(Z_A ‖ message)`
    /// signed with an RFC 6979 nonce.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    //! The vectors are the standards' own examples:
    //!
    //! - SM3: GB/T 32905-2016 Appendix A (= GM/T 0004-2012 Appendix A), examples 1 (`abc`) and 2
    //!   (`abcd` sixteen times).
    //! - SM2: GB/T 32918.2-2016 Appendix A signs on a 256-bit *test* curve that the `sm2` crate
    //!   (the recommended curve only) cannot take, so the signature vector is the one on the
    //!   recommended curve of GM/T 0003.5-2012 Appendix A.2 (= GB/T 32918.5-2017 Appendix A):
    //!   message `message digest`, ID `1234567812345678`, private key `3945208F…`, public key
    //!   `09F9DF31…`/`CCEA490C…`, `Z_A`, `e`, and the signature `(r, s)` = `F5A03B06…`,
    //!   `B1B6AA29…` (the random `k` = `59276E27…` is not reproducible with deterministic nonces:
    //!   the test checks every step but `k`, and verifies the published `(r, s)`).

    use super::*;

    fn hex32(text: &str) -> [u8; 32] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    const D_A: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const X_A: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    const Y_A: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const Z_A: &str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
    const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
    /// The recommended curve's a, b and base point (GM/T 0003.5-2012 §3, GB/T 32918.5-2017 §3).
    const CURVE: [&str; 4] = [
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
        "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
        "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    ];

    fn standard_public() -> Sm2PublicKey {
        Sm2PublicKey::from_coordinates(&hex32(X_A), &hex32(Y_A)).unwrap()
    }

    fn standard_signature() -> Vec<u8> {
        hex::decode(format!("{R}{S}")).unwrap()
    }

    #[test]
    fn sm3_gives_the_standards_two_example_hashes() {
        assert_eq!(
            hex::encode(sm3(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex::encode(sm3("abcd".repeat(16).as_bytes())),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn the_recommended_curve_example_of_gmt_0003_5_verifies_step_by_step() {
        // The private key gives the published public key.
        let key = Sm2Key::from_secret(&hex32(D_A)).unwrap();
        assert_eq!(key.public(), standard_public());
        // Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), ENTL the ID's length in bits.
        let mut z_input = ((DEFAULT_ID.len() * 8) as u16).to_be_bytes().to_vec();
        z_input.extend_from_slice(DEFAULT_ID.as_bytes());
        for part in CURVE.iter().chain([&X_A, &Y_A]) {
            z_input.extend_from_slice(&hex32(part));
        }
        let z = sm3(&z_input);
        assert_eq!(hex::encode_upper(z), Z_A);
        // e = SM3(Z_A ‖ M).
        let mut e_input = z.to_vec();
        e_input.extend_from_slice(b"message digest");
        assert_eq!(hex::encode_upper(sm3(&e_input)), E);
        // The published (r, s) verifies under the published key, ID and message.
        assert!(standard_public().verify(b"message digest", &standard_signature()));
    }

    #[test]
    fn the_standards_signature_fails_on_another_message_key_or_signature() {
        let public = standard_public();
        assert!(!public.verify(b"message digesT", &standard_signature()));
        let mut flipped = standard_signature();
        flipped[63] ^= 1;
        assert!(!public.verify(b"message digest", &flipped));
        // s and r swapped; a signature of the wrong length.
        let swapped = hex::decode(format!("{S}{R}")).unwrap();
        assert!(!public.verify(b"message digest", &swapped));
        assert!(!public.verify(b"message digest", &standard_signature()[..63]));
        let other = Sm2Key::from_secret(&[7; 32]).unwrap().public();
        assert!(!other.verify(b"message digest", &standard_signature()));
    }

    #[test]
    fn a_key_signs_deterministically_and_round_trips_through_pem_and_jwk() {
        let key = Sm2Key::from_secret(&hex32(D_A)).unwrap();
        let signature = key.sign(b"tica");
        assert_eq!(signature, key.sign(b"tica"), "RFC 6979: the same bytes");
        assert!(key.public().verify(b"tica", &signature));
        assert!(standard_public().verify(b"tica", &signature));
        assert!(!key.public().verify(b"tica!", &signature));

        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let read = Sm2Key::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(read.public(), key.public());
        assert_eq!(
            Sm2PublicKey::from_pem(&key.public().to_pem()).unwrap(),
            key.public()
        );

        let jwk = key.public().jwk("sx-2026-sm2");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "SM2");
        assert_eq!(jwk["x"], B64URL.encode(hex32(X_A)));
        assert_eq!(
            Sm2PublicKey::from_jwk(&jwk).unwrap(),
            Some(standard_public())
        );
        let ed25519 = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": "AA" });
        assert_eq!(Sm2PublicKey::from_jwk(&ed25519).unwrap(), None);
        let mut off_curve = jwk.clone();
        off_curve["y"] = B64URL.encode([1u8; 32]).into();
        assert!(Sm2PublicKey::from_jwk(&off_curve).is_err());
    }

    #[test]
    fn an_ed25519_pem_is_not_an_sm2_key() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let ed = ed25519_dalek::SigningKey::from_bytes(&[1; 32])
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        assert!(Sm2Key::from_pkcs8_pem(&ed).is_err());
        assert!(Sm2Key::from_secret(&[0; 32]).is_none());
        assert!(
            Sm2Key::from_secret(&[0xff; 32]).is_none(),
            "above the order"
        );
    }

    /// A key made by OpenSSL (`openssl genpkey -algorithm SM2`), as the RustCrypto crate's own
    /// tests carry it: TICA reads what the installations' tools write.
    #[test]
    fn a_pkcs8_key_written_by_openssl_reads() {
        const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgS7jfUFciKZWSy+1C
g7NUoT/10/7rOgZgxb3zyHxVlJmhRANCAAQI13rgTAHMTBEENg3Yr2tvffM0KD18
Gmr9VlJAe4e+5QFOKlfDbBUNFjJNxmTjHmQyNZYJxOeYR6WxYcjHNkyK
-----END PRIVATE KEY-----
";
        let key = Sm2Key::from_pkcs8_pem(OPENSSL_PEM).unwrap();
        assert_eq!(
            hex::encode_upper(key.public().as_bytes()),
            "0408D77AE04C01CC4C1104360DD8AF6B6F7DF334283D7C1A6AFD5652407B87BEE5014E2A57C36C150D16324DC664E31E6432359609C4E79847A5B161C8C7364C8A"
        );
    }

    #[test]
    fn a_published_key_set_reads_its_sm2_keys_beside_the_ed25519_ones() {
        let ed = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let x = B64URL.encode(ed.verifying_key().as_bytes());
        let mut sm2 = standard_public().jwk("sx-2026-sm2");
        sm2["activated"] = "2026-01-01T00:00:00Z".into();
        let jwks = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "sx-2026-1", "x": x }, sm2 ] });
        let set = crate::key_set_from_jwks(&jwks).unwrap();
        assert_eq!(set.keys.keys().collect::<Vec<_>>(), ["sx-2026-1"]);
        let published = set.get_sm2("sx-2026-sm2").unwrap();
        assert_eq!(published.key, standard_public());
        assert!(published.in_force_on("2026-11-24") && !published.in_force_on("2025-12-31"));
        // An SM2 key under an Ed25519 key's id says two things about one id: refused.
        let clash = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "sx-2026-1", "x": x },
            standard_public().jwk("sx-2026-1") ] });
        assert!(crate::key_set_from_jwks(&clash).is_err());
    }
}
