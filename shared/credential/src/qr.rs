//! The certificate's QR code: a URL any phone camera opens on the verification page, whose
//! fragment carries the compact signed payload, so that the certificate also verifies offline
//! against the published keys (in the manner of the EU Digital COVID Certificate).
//!
//! `{base}/c/{certificate id}#{payload}`: the page's URL is the part before `#` (the fragment
//! never reaches the server); the payload is base32 (RFC 4648, no padding — the QR
//! alphanumeric alphabet, 5.5 bits a character) of the CBOR array
//! `[protected, signature]`, `protected` being the CBOR bytes of [`QrClaims`] with the key id,
//! and `signature` Ed25519 over the certificate id, a 0x1F separator and exactly those bytes
//! (the id travels once, in the URL, and is still signed; verification never re-encodes).
//! What the verifier can derive is left out: the micro-competency's name comes from its code.
//! Error correction level Q; a real Chinese certificate fits version 18 (a Ningxia level
//! certificate, with the region office's long name as issuer, needs 16).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use crate::CredentialError;

/// What a certificate's QR code says, signed: what an HR office needs to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QrClaims {
    /// Payload format version (1).
    pub version: u8,
    /// The signing key's id.
    pub kid: String,
    /// The certificate's unguessable id: its verification URL's last segment, signed but carried
    /// only in the URL.
    pub id: String,
    /// The number printed on it.
    pub number: String,
    /// Teacher's name.
    pub name: String,
    /// Masked resident ID number, e.g. `6401**********123X`.
    pub id_masked: String,
    /// School.
    pub school: String,
    /// Micro-competency code (e.g. `B2`, whose name the verifier looks up), or `level` for a
    /// level certificate.
    pub competency: String,
    /// Grade: 合格 / 优秀.
    pub grade: String,
    /// Issuing authority.
    pub issuer: String,
    /// Issue date, `YYYY-MM-DD`.
    pub issued: String,
}

/// The QR error correction level the certificates use.
pub const EC_LEVEL: qrcode::EcLevel = qrcode::EcLevel::Q;
/// The largest QR version a certificate may need.
pub const MAX_VERSION: i16 = 18;

/// The claims on the wire: a CBOR array (no member names), id left out (it is in the URL).
type Wire = (
    u8,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn to_wire(c: &QrClaims) -> Wire {
    (
        c.version,
        c.kid.clone(),
        c.number.clone(),
        c.name.clone(),
        c.id_masked.clone(),
        c.school.clone(),
        c.competency.clone(),
        c.grade.clone(),
        c.issuer.clone(),
        c.issued.clone(),
    )
}

fn from_wire(w: Wire, id: String) -> QrClaims {
    QrClaims {
        version: w.0,
        kid: w.1,
        id,
        number: w.2,
        name: w.3,
        id_masked: w.4,
        school: w.5,
        competency: w.6,
        grade: w.7,
        issuer: w.8,
        issued: w.9,
    }
}

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR into a Vec cannot fail");
    out
}

/// A certificate's claims, signed: the CBOR bytes of the claims (the certificate's canonical
/// payload, stored beside it) and the Ed25519 signature over the certificate id, 0x1F and
/// exactly those bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedClaims {
    /// The claims' CBOR bytes, key id included, certificate id left out.
    pub protected: Vec<u8>,
    /// Ed25519 over `id ‖ 0x1F ‖ protected`.
    pub signature: [u8; 64],
}

/// Signs `claims` with `key`.
pub fn sign_claims(claims: &QrClaims, key: &SigningKey) -> SignedClaims {
    let protected = cbor(&to_wire(claims));
    let signature = key.sign(&signed_message(&claims.id, &protected)).to_bytes();
    SignedClaims {
        protected,
        signature,
    }
}

/// The QR text of `claims` signed with `key`: `{BASE_URL}/C/{ID}#{payload}`. The scheme and
/// host of `base_url` are upper-cased (they are case-insensitive) and the certificate id is
/// written in capitals, so that all but the `#` fits the QR alphanumeric mode.
///
/// Refused when the text would need a QR version above [`MAX_VERSION`] at level Q (a school or
/// issuer name far longer than usual): the caller shortens what it prints in the code.
pub fn qr_text(
    base_url: &str,
    claims: &QrClaims,
    key: &SigningKey,
) -> Result<String, CredentialError> {
    encode_qr(base_url, &claims.id, &sign_claims(claims, key))
}

/// The QR text of claims already signed for certificate `id` (see [`qr_text`]).
pub fn encode_qr(
    base_url: &str,
    id: &str,
    signed: &SignedClaims,
) -> Result<String, CredentialError> {
    let payload = cbor(&(cbor_bytes(&signed.protected), cbor_bytes(&signed.signature)));
    let text = format!(
        "{}/C/{}#{}",
        upper_origin(base_url.trim_end_matches('/')),
        id.to_uppercase(),
        data_encoding::BASE32_NOPAD.encode(&payload)
    );
    let version = qr_version(&text)?;
    if version > MAX_VERSION {
        return Err(CredentialError::Malformed(format!(
            "the QR code would need version {version} (at most {MAX_VERSION} at level Q): {} characters",
            text.len()
        )));
    }
    Ok(text)
}

/// Verifies a stored payload: `signature` over `id ‖ 0x1F ‖ protected` by the key `resolve`
/// gives for the payload's key id; the claims when genuine.
pub fn verify_signed(
    id: &str,
    protected: &[u8],
    signature: &[u8],
    resolve: &dyn Fn(&str) -> Option<VerifyingKey>,
) -> Result<QrClaims, CredentialError> {
    let malformed =
        |why: &str| CredentialError::Malformed(format!("not a TICA certificate payload: {why}"));
    let wire: Wire =
        ciborium::from_reader(protected).map_err(|_| malformed("the claims are not readable"))?;
    if wire.0 != 1 {
        return Err(CredentialError::Unsupported(format!(
            "QR payload version {}",
            wire.0
        )));
    }
    let claims = from_wire(wire, id.to_owned());
    let key =
        resolve(&claims.kid).ok_or_else(|| CredentialError::UnknownKey(claims.kid.clone()))?;
    let signature = <[u8; 64]>::try_from(signature)
        .map(|b| Signature::from_bytes(&b))
        .map_err(|_| malformed("the signature is not 64 bytes"))?;
    key.verify(&signed_message(id, protected), &signature)
        .map_err(|_| CredentialError::BadSignature)?;
    Ok(claims)
}

/// `https://verify.example.cn/x` → `HTTPS://VERIFY.EXAMPLE.CN/x`.
fn upper_origin(url: &str) -> String {
    let origin_end = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| url[start..].find('/').map(|j| start + j))
        .unwrap_or(url.len());
    format!("{}{}", url[..origin_end].to_uppercase(), &url[origin_end..])
}

/// What the signature covers: the id, 0x1F, the claims' CBOR bytes.
fn signed_message(id: &str, protected: &[u8]) -> Vec<u8> {
    let mut message = id.as_bytes().to_vec();
    message.push(0x1f);
    message.extend_from_slice(protected);
    message
}

/// CBOR byte strings (major type 2) rather than arrays of integers.
fn cbor_bytes(bytes: &[u8]) -> ciborium::Value {
    ciborium::Value::Bytes(bytes.to_vec())
}

/// The QR version `text` needs at level Q.
pub fn qr_version(text: &str) -> Result<i16, CredentialError> {
    // Segmenting and choosing the version is all that is needed: no masks are scored.
    let bits = qrcode::bits::encode_auto(text.as_bytes(), EC_LEVEL)
        .map_err(|e| CredentialError::Malformed(format!("no QR code holds this text: {e}")))?;
    Ok(match bits.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    })
}

/// Reads scanned QR text and verifies its signature with the key `resolve` gives for its key
/// id; the claims when genuine.
pub fn verify_qr(
    text: &str,
    resolve: &dyn Fn(&str) -> Option<VerifyingKey>,
) -> Result<QrClaims, CredentialError> {
    let malformed =
        |why: &str| CredentialError::Malformed(format!("not a TICA certificate QR code: {why}"));
    let (url, payload) = text
        .trim()
        .split_once('#')
        .ok_or_else(|| malformed("no signed payload after `#`"))?;
    let bytes = data_encoding::BASE32_NOPAD
        .decode(payload.as_bytes())
        .map_err(|_| malformed("the payload is not base32"))?;
    let parts: Vec<ciborium::Value> = ciborium::from_reader(bytes.as_slice())
        .map_err(|_| malformed("the payload is not CBOR"))?;
    let [
        ciborium::Value::Bytes(protected),
        ciborium::Value::Bytes(signature),
    ] = parts.as_slice()
    else {
        return Err(malformed("the payload is not [claims, signature]"));
    };
    let id = url
        .rsplit_once("/C/")
        .map(|(_, id)| id.to_lowercase())
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| malformed("the URL names no certificate"))?;
    verify_signed(&id, protected, signature, resolve)
}

/// The certificate id in QR text (`…/C/{ID}#…`), lower-cased; None when there is none.
pub fn qr_certificate_id(text: &str) -> Option<String> {
    let url = text.trim().split('#').next()?;
    url.rsplit_once("/C/")
        .map(|(_, id)| id.to_lowercase())
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> QrClaims {
        QrClaims {
            version: 1,
            kid: "340000-2026-1".into(),
            // 128 random bits in base32, as the certificate service makes them.
            id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
            number: "AH-341324-2026-000123".into(),
            name: "欧阳䶮".into(),
            id_masked: "3413**********123X".into(),
            school: "泗县大路口乡中心小学".into(),
            competency: "B2".into(),
            grade: "合格".into(),
            issuer: "泗县教育体育局".into(),
            issued: "2026-11-24".into(),
        }
    }

    #[test]
    fn a_certificate_qr_verifies_offline_and_fits_version_18_at_level_q() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let text = qr_text("https://verify.ahedu.gov.cn/", &claims(), &key).unwrap();
        assert!(
            text.starts_with("HTTPS://VERIFY.AHEDU.GOV.CN/C/B2C4E1F07A9D4C3E8F615D2A9C#"),
            "{text}"
        );
        let version = qr_version(&text).unwrap();
        assert!(
            version <= MAX_VERSION,
            "version {version} for {} characters",
            text.len()
        );
        let known = |kid: &str| (kid == "340000-2026-1").then(|| key.verifying_key());
        assert_eq!(verify_qr(&text, &known).unwrap(), claims());
        // A Ningxia level certificate, issued under the region office's long name, fits.
        let level = QrClaims {
            competency: "level".into(),
            school: "永宁县望洪镇九年一贯制学校".into(),
            issuer: "宁夏回族自治区教育厅能力提升2.0办公室".into(),
            ..claims()
        };
        let text = qr_text("https://verify.nxedu.gov.cn/", &level, &key).unwrap();
        assert!(qr_version(&text).unwrap() <= MAX_VERSION, "{}", text.len());
        // A name far beyond any school's is refused rather than printed as an unreadable code.
        let mut long = claims();
        long.school = "宁夏回族自治区银川市兴庆区第二十一小学（北校区）教师发展中心".repeat(2);
        assert!(matches!(
            qr_text("https://verify.ahedu.gov.cn", &long, &key),
            Err(CredentialError::Malformed(_))
        ));
    }

    #[test]
    fn a_forged_or_foreign_qr_is_not_genuine() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let known = |kid: &str| (kid == "340000-2026-1").then(|| key.verifying_key());
        // Claims signed by someone else's key under TICA's key id.
        let forger = SigningKey::from_bytes(&[4; 32]);
        let forged = qr_text("https://verify.ahedu.gov.cn", &claims(), &forger).unwrap();
        assert_eq!(
            verify_qr(&forged, &known),
            Err(CredentialError::BadSignature)
        );
        // A genuine payload moved onto another certificate's URL.
        let genuine = qr_text("https://verify.ahedu.gov.cn", &claims(), &key).unwrap();
        let moved = genuine.replacen("/C/B2C4", "/C/FFFF", 1);
        assert_eq!(
            verify_qr(&moved, &known),
            Err(CredentialError::BadSignature)
        );
        // An unknown key id, and garbage.
        let mut other = claims();
        other.kid = "retired-and-unpublished".into();
        let unknown = qr_text("https://verify.ahedu.gov.cn", &other, &key).unwrap();
        let refused = verify_qr(&unknown, &known);
        assert!(
            matches!(refused, Err(CredentialError::UnknownKey(_))),
            "{refused:?}"
        );
        assert!(matches!(
            verify_qr("https://example.com", &known),
            Err(CredentialError::Malformed(_))
        ));
        assert!(matches!(
            verify_qr("https://x/C/1#AAAA", &known),
            Err(CredentialError::Malformed(_))
        ));
    }
}
