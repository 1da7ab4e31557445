//! The certificate's QR code: a URL any phone camera opens on the verification page, whose
//! fragment carries the compact signed payload, so that the certificate also verifies offline
//! against the published keys (in the manner of the EU Digital COVID Certificate and SMART
//! Health Cards).
//!
//! `{BASE}/C/{ID}#{payload}`: the page's URL is the part before `#` (the fragment never reaches
//! a server); the payload is the CBOR claims ([`QrClaims`], key id included, certificate id left
//! out: it is in the URL) and an Ed25519 signature over them. Two payload versions exist:
//!
//! - **Version 2** (issued now), sized to scan from a photocopy: the fragment is decimal digits
//!   (QR numeric mode, 3.33 bits a character: every 7 bytes become 17 digits, the last group of
//!   `k` bytes the fewest digits that hold `256^k`), of the claims' CBOR bytes followed by the
//!   64-byte signature. The claims are a CBOR array `[2, kid, number, name, masked id, school,
//!   competency, grade, issuer, issued]` whose Chinese texts (name, school, issuer) are byte
//!   strings in GB 18030 (two bytes a common character instead of UTF-8's three), the grade an
//!   integer (1 合格, 2 优秀) and the date the integer `YYYYMMDD`. The signature covers
//!   `"tica-qr-v2" 0x1F base-url 0x1F id 0x1F claims`: the issuer's published base URL (scheme
//!   and host in lower case) is bound, so a genuine payload moved under another host's URL does
//!   not verify.
//! - **Version 1** (certificates issued before): base32 (RFC 4648, no padding) of the CBOR array
//!   `[claims, signature]`, UTF-8 texts, the signature over `id 0x1F claims`. Still verified;
//!   its base URL is checked against the expected issuer, not signed.
//!
//! - **Version 3** (issued while the installation signs with SM2 too, issue 18 §2): version 2's
//!   claims with an 11th member, the SM2 key's id (`[3, kid, …, issued, sm2 kid]`), followed by
//!   two signatures of the same message (`"tica-qr-v3" 0x1F base-url 0x1F id 0x1F claims`): the
//!   Ed25519 one by `kid`, then the SM2-with-SM3 one by the SM2 key ([`crate::gm`]), 64 bytes
//!   each. Both must hold; a verifier that does not know the SM2 key does not accept the payload.
//!   The stored signature of such a certificate is the 128 bytes of both.
//!
//! Verification never re-encodes: the signature covers exactly the bytes carried. A key signs
//! only within its published span: a payload dated outside its key's activation and retirement
//! (China's calendar days) is refused even when the signature holds — a retired key that leaked
//! cannot sign new certificates.

use ciborium::Value;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use crate::CredentialError;

/// What a certificate's QR code says, signed: what an HR office needs to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QrClaims {
    /// Payload format version (1, 2, or 3 when signed with SM2 too).
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

/// The payload version [`sign_claims`] writes.
pub const VERSION: u8 = 2;
/// The QR error correction level the certificates use: Q (a quarter of the codewords may be
/// lost). The one place it is set: [`encode_qr`] sizes texts at it and `tica-pdf` prints at it.
/// Measured on rendered certificate pages (`shared/pdf/tests/scan.rs`): with 0.762 mm modules, Q
/// still decodes from a 100-dpi render blurred by 1 px, where M and L do not.
pub const EC_LEVEL: qrcode::EcLevel = qrcode::EcLevel::Q;
/// The largest QR version a certificate may need at [`EC_LEVEL`]; [`encode_qr`] refuses longer
/// texts, so the service refuses before rendering, and `tica-pdf` refuses above it too. A
/// typical certificate needs 13; the longest realistic one (a Ningxia level certificate issued
/// by the region office to a school with a long name) 15, with 72 bits to spare; 16 leaves room
/// for about 19 more Chinese characters (a 61.7 mm code at 0.762 mm a module).
pub const MAX_VERSION: i16 = 16;
/// The largest QR version of a payload signed with SM2 too (version 3, [`sign_claims_dual`]):
/// the second signature and an SM2 key id of 14 characters (`640000-2026-s1`) take 80 bytes
/// more, up to three QR versions (measured: a typical certificate 13 → 16, the longest
/// realistic 15 → 17, every text at the budget's limit 16 → 19:
/// `a_dual_signed_certificate_needs_up_to_three_qr_versions_more`). Version 19 is 93 modules,
/// 70.9 mm at 0.762 mm a module; `tica-pdf`'s scan tests decode it from the same bad copies.
pub const MAX_VERSION_DUAL: i16 = 19;

/// The QR budget of what the roster stores (issue 16): the claims carry the teacher's, the
/// school's and the issuer's names in GB 18030 (2 bytes a common Chinese character, 4 one of
/// CJK Extension B), and a certificate whose texts do not fit [`MAX_VERSION`] cannot be issued.
/// With every text at its limit at once, an installation base URL of [`MAX_BASE_URL_CHARS`],
/// the longest key id and a level certificate, the QR text still fits (the test
/// `the_longest_accepted_texts_still_fit_the_largest_version`). The roster refuses longer names.
/// A teacher's name: 14 common characters (7 of Extension B).
pub const MAX_NAME_BYTES: usize = 28;
/// A school's name: 32 common characters.
pub const MAX_SCHOOL_BYTES: usize = 64;
/// The issuing authority: 21 common characters ("宁夏回族自治区教育厅能力提升2.0办公室" is 41 bytes).
pub const MAX_ISSUER_BYTES: usize = 42;
/// The installation's base URL the budget assumes, e.g. `https://zhengshu.jyt.nx.gov.cn` (30).
pub const MAX_BASE_URL_CHARS: usize = 30;

/// How many bytes `text` takes in the QR claims (GB 18030).
pub fn gb18030_len(text: &str) -> usize {
    gb18030(text).len()
}

/// What a version-2 signature starts with (domain separation from every other signature).
const V2_CONTEXT: &[u8] = b"tica-qr-v2";
/// What a version-3 signature starts with.
const V3_CONTEXT: &[u8] = b"tica-qr-v3";
/// The payload version of certificates signed with Ed25519 and SM2 ([`sign_claims_dual`]).
pub const VERSION_DUAL: u8 = 3;
/// Bytes in an Ed25519 signature.
const SIGNATURE_LEN: usize = 64;

/// A published signing key and the span in which it signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    /// The public key.
    pub key: VerifyingKey,
    /// When it started signing (µs since the epoch); `i64::MIN` when unknown.
    pub activated_micros: i64,
    /// When it stopped signing (µs); `None` while it signs.
    pub retired_micros: Option<i64>,
}

impl PublishedKey {
    /// A key with no known span: it covers every date.
    pub fn unbounded(key: VerifyingKey) -> PublishedKey {
        PublishedKey {
            key,
            activated_micros: i64::MIN,
            retired_micros: None,
        }
    }

    /// Whether a certificate dated `issued` (`YYYY-MM-DD`, China's calendar) may carry this
    /// key's signature: from the day it was activated to the day it retired, both included
    /// (certificates carry a date, not an instant).
    pub fn in_force_on(&self, issued: &str) -> bool {
        in_span(self.activated_micros, self.retired_micros, issued)
    }
}

/// Whether a certificate dated `issued` falls in a key's span (see [`PublishedKey::in_force_on`]).
fn in_span(activated_micros: i64, retired_micros: Option<i64>, issued: &str) -> bool {
    let Some(day) = day_number(issued) else {
        return false;
    };
    let after_start = activated_micros == i64::MIN || day >= china_day(activated_micros);
    let before_end = retired_micros.is_none_or(|retired| day <= china_day(retired));
    after_start && before_end
}

/// A published SM2 key and the span in which it signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedSm2Key {
    /// The public key.
    pub key: crate::gm::Sm2PublicKey,
    /// When it started signing (µs since the epoch); `i64::MIN` when unknown.
    pub activated_micros: i64,
    /// When it stopped signing (µs); `None` while it signs.
    pub retired_micros: Option<i64>,
}

impl PublishedSm2Key {
    /// A key with no known span: it covers every date.
    pub fn unbounded(key: crate::gm::Sm2PublicKey) -> PublishedSm2Key {
        PublishedSm2Key {
            key,
            activated_micros: i64::MIN,
            retired_micros: None,
        }
    }

    /// As [`PublishedKey::in_force_on`].
    pub fn in_force_on(&self, issued: &str) -> bool {
        in_span(self.activated_micros, self.retired_micros, issued)
    }
}

/// The day (since 1970-01-01) of an instant in China's calendar (UTC+8, its only time zone).
fn china_day(micros: i64) -> i64 {
    (micros.div_euclid(1_000_000) + 8 * 3600).div_euclid(86_400)
}

/// The day number (since 1970-01-01) of `YYYY-MM-DD`; None when it is not such a date.
fn day_number(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

/// The days of month `m` (1–12) of year `y` in the Gregorian calendar.
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The calendar date (UTC+8, China's only time zone) of an instant, `YYYY-MM-DD`.
pub fn china_date(micros: i64) -> String {
    let days = china_day(micros);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The claims of version 1 on the wire: a CBOR array (no member names), id left out.
type WireV1 = (
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

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR into a Vec cannot fail");
    out
}

fn gb18030(text: &str) -> Vec<u8> {
    // GB 18030 maps every Unicode scalar value: nothing is lost.
    let (bytes, _, _) = encoding_rs::GB18030.encode(text);
    bytes.into_owned()
}

fn grade_number(grade: &str) -> Result<u8, CredentialError> {
    match grade {
        "合格" => Ok(1),
        "优秀" => Ok(2),
        other => Err(CredentialError::Malformed(format!(
            "grade {other:?} is neither 合格 nor 优秀"
        ))),
    }
}

fn date_number(date: &str) -> Result<u32, CredentialError> {
    let bad = || CredentialError::Malformed(format!("issue date {date:?} is not YYYY-MM-DD"));
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let number = format!("{y}{m}{d}").parse::<u32>().map_err(|_| bad())?;
    valid_date_number(u64::from(number)).ok_or_else(bad)?;
    Ok(number)
}

/// `YYYYMMDD` → `YYYY-MM-DD` when it is a day of the calendar (no 31 June, no 29 February
/// outside leap years).
fn valid_date_number(n: u64) -> Option<String> {
    let (y, m, d) = (n / 10_000, n / 100 % 100, n % 100);
    let date = format!("{y:04}-{m:02}-{d:02}");
    ((1900..=9999).contains(&y) && day_number(&date).is_some()).then_some(date)
}

/// The version-2 CBOR bytes of `claims` (id left out).
fn encode_v2(claims: &QrClaims) -> Result<Vec<u8>, CredentialError> {
    encode_array(2, claims, None)
}

/// The CBOR claims of version 2, or of version 3 with the SM2 key id last.
fn encode_array(
    version: u8,
    claims: &QrClaims,
    sm2_kid: Option<&str>,
) -> Result<Vec<u8>, CredentialError> {
    let mut items = vec![
        Value::Integer(version.into()),
        Value::Text(claims.kid.clone()),
        Value::Text(claims.number.clone()),
        Value::Bytes(gb18030(&claims.name)),
        Value::Text(claims.id_masked.clone()),
        Value::Bytes(gb18030(&claims.school)),
        Value::Text(claims.competency.clone()),
        Value::Integer(grade_number(&claims.grade)?.into()),
        Value::Bytes(gb18030(&claims.issuer)),
        Value::Integer(date_number(&claims.issued)?.into()),
    ];
    items.extend(sm2_kid.map(|kid| Value::Text(kid.to_owned())));
    Ok(cbor(&Value::Array(items)))
}

/// The SM2 key id a version-3 payload's claims name; None for other versions (or what is not
/// claims at all).
pub fn sm2_kid(protected: &[u8]) -> Option<String> {
    let Ok(Value::Array(items)) = ciborium::from_reader::<Value, _>(protected) else {
        return None;
    };
    match items.as_slice() {
        [version, .., kid] if items.len() == 11 && version.as_integer() == Some(3.into()) => {
            kid.as_text().map(str::to_owned)
        }
        _ => None,
    }
}

/// Reads the claims of either version from their CBOR bytes, for certificate `id`. Nothing is
/// verified here: see [`verify_signed`].
pub fn decode_claims(id: &str, protected: &[u8]) -> Result<QrClaims, CredentialError> {
    let malformed =
        |why: &str| CredentialError::Malformed(format!("not a TICA certificate payload: {why}"));
    let value: Value =
        ciborium::from_reader(protected).map_err(|_| malformed("the claims are not CBOR"))?;
    let Value::Array(items) = value else {
        return Err(malformed("the claims are not an array"));
    };
    let version = items
        .first()
        .and_then(Value::as_integer)
        .and_then(|v| u8::try_from(v).ok());
    match version {
        Some(1) => {
            let w: WireV1 = ciborium::from_reader(protected)
                .map_err(|_| malformed("the version 1 claims are not readable"))?;
            // Held to what version 2 holds its numbers to: a grade TICA gives and a real date.
            if !matches!(w.7.as_str(), "合格" | "优秀") {
                return Err(malformed("the grade is neither 合格 nor 优秀"));
            }
            if w.9.len() != 10 || day_number(&w.9).is_none() {
                return Err(malformed("the issue date is not YYYY-MM-DD"));
            }
            Ok(QrClaims {
                version: w.0,
                kid: w.1,
                id: id.to_owned(),
                number: w.2,
                name: w.3,
                id_masked: w.4,
                school: w.5,
                competency: w.6,
                grade: w.7,
                issuer: w.8,
                issued: w.9,
            })
        }
        Some(version @ (2 | 3)) => {
            let fields = if version == 3 {
                match items.as_slice() {
                    [head @ .., kid] if items.len() == 11 => {
                        if kid.as_text().is_none_or(str::is_empty) {
                            return Err(malformed("the SM2 key id is not text"));
                        }
                        head
                    }
                    _ => return Err(malformed("version 3 claims have eleven members")),
                }
            } else {
                items.as_slice()
            };
            let [
                _,
                kid,
                number,
                name,
                masked,
                school,
                competency,
                grade,
                issuer,
                issued,
            ] = fields
            else {
                return Err(malformed("version 2 claims have ten members"));
            };
            let text = |v: &Value, what: &str| {
                v.as_text()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(&format!("the {what} is not text")))
            };
            let chinese = |v: &Value, what: &str| {
                v.as_bytes()
                    .and_then(|b| {
                        encoding_rs::GB18030
                            .decode_without_bom_handling_and_without_replacement(b)
                            .map(|t| t.into_owned())
                    })
                    .ok_or_else(|| malformed(&format!("the {what} is not GB 18030 text")))
            };
            let number_of = |v: &Value| v.as_integer().and_then(|i| u64::try_from(i).ok());
            let grade = match number_of(grade) {
                Some(1) => "合格",
                Some(2) => "优秀",
                _ => return Err(malformed("the grade is neither 1 (合格) nor 2 (优秀)")),
            };
            let issued = number_of(issued)
                .and_then(valid_date_number)
                .ok_or_else(|| malformed("the issue date is not YYYYMMDD"))?;
            Ok(QrClaims {
                version,
                kid: text(kid, "key id")?,
                id: id.to_owned(),
                number: text(number, "number")?,
                name: chinese(name, "name")?,
                id_masked: text(masked, "masked ID number")?,
                school: chinese(school, "school")?,
                competency: text(competency, "competency")?,
                grade: grade.to_owned(),
                issuer: chinese(issuer, "issuer")?,
                issued,
            })
        }
        Some(other) => Err(CredentialError::Unsupported(format!(
            "QR payload version {other}"
        ))),
        None => Err(malformed("the claims carry no version")),
    }
}

/// A certificate's claims, signed: the CBOR bytes of the claims (the certificate's canonical
/// payload, stored beside it) and the Ed25519 signature over them (see the module's
/// documentation for what else it covers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedClaims {
    /// The claims' CBOR bytes, key id included, certificate id left out.
    pub protected: Vec<u8>,
    /// Ed25519 over the version's signed message.
    pub signature: [u8; 64],
    /// SM2 over the same message (version 3 only), `r ‖ s`.
    pub sm2_signature: Option<[u8; 64]>,
}

impl SignedClaims {
    /// The signature bytes the payload carries after the claims, and the certificate's record
    /// stores: Ed25519's, then SM2's when there is one.
    pub fn signature_bytes(&self) -> Vec<u8> {
        let mut out = self.signature.to_vec();
        out.extend(self.sm2_signature.iter().flatten());
        out
    }
}

/// Signs `claims` with `key` as a version-2 payload of the issuer whose verification pages
/// live under `base_url`.
pub fn sign_claims(
    base_url: &str,
    claims: &QrClaims,
    key: &SigningKey,
) -> Result<SignedClaims, CredentialError> {
    let protected = encode_v2(claims)?;
    let message = signed_message(2, &normalize_base(base_url), &claims.id, &protected);
    Ok(SignedClaims {
        signature: key.sign(&message).to_bytes(),
        sm2_signature: None,
        protected,
    })
}

/// Signs `claims` as a version-3 payload: with `key` (Ed25519, the claims' `kid`) and with the
/// SM2 key `sm2_kid`, both over the same message.
pub fn sign_claims_dual(
    base_url: &str,
    claims: &QrClaims,
    key: &SigningKey,
    sm2_kid: &str,
    sm2_key: &crate::gm::Sm2Key,
) -> Result<SignedClaims, CredentialError> {
    if sm2_kid.is_empty() {
        return Err(CredentialError::Malformed("the SM2 key has no id".into()));
    }
    let protected = encode_array(VERSION_DUAL, claims, Some(sm2_kid))?;
    let message = signed_message(
        VERSION_DUAL,
        &normalize_base(base_url),
        &claims.id,
        &protected,
    );
    Ok(SignedClaims {
        signature: key.sign(&message).to_bytes(),
        sm2_signature: Some(sm2_key.sign(&message)),
        protected,
    })
}

/// The QR text of `claims` signed with `key`: `{BASE_URL}/C/{ID}#{digits}` (see [`encode_qr`]).
pub fn qr_text(
    base_url: &str,
    claims: &QrClaims,
    key: &SigningKey,
) -> Result<String, CredentialError> {
    encode_qr(base_url, &claims.id, &sign_claims(base_url, claims, key)?)
}

/// The QR text of claims already signed for certificate `id`: the scheme and host of
/// `base_url` upper-cased (they are case-insensitive) and the id in capitals, so that all
/// before the `#` fits the QR alphanumeric mode; after it, the payload's digits.
///
/// Refused when the text would need a QR version above [`MAX_VERSION`] at [`EC_LEVEL`] (a school
/// or issuer name far longer than usual): the caller shortens what it prints in the code.
pub fn encode_qr(
    base_url: &str,
    id: &str,
    signed: &SignedClaims,
) -> Result<String, CredentialError> {
    let mut payload = signed.protected.clone();
    payload.extend_from_slice(&signed.signature_bytes());
    let text = format!(
        "{}/C/{}#{}",
        upper_origin(base_url.trim().trim_end_matches('/')),
        id.to_uppercase(),
        to_digits(&payload)
    );
    let version = qr_version(&text)?;
    let max = if signed.sm2_signature.is_some() {
        MAX_VERSION_DUAL
    } else {
        MAX_VERSION
    };
    if version > max {
        return Err(CredentialError::Malformed(format!(
            "the QR code would need version {version} (at most {max}): {} characters",
            text.len()
        )));
    }
    Ok(text)
}

/// Verifies a payload: `signature` by the key `resolve` gives for the payload's key id, over
/// what its version signs (for version 2, `base_url` is part of it), and the key in force on
/// the payload's issue date. The claims when genuine.
///
/// A version-3 payload (signed with SM2 too) is refused here as signed by an unknown key: its
/// SM2 signature needs [`verify_signed_with`].
pub fn verify_signed(
    base_url: &str,
    id: &str,
    protected: &[u8],
    signature: &[u8],
    resolve: &dyn Fn(&str) -> Option<PublishedKey>,
) -> Result<QrClaims, CredentialError> {
    verify_signed_with(base_url, id, protected, signature, resolve, &|_| None)
}

/// As [`verify_signed`], with `resolve_sm2` giving the published SM2 keys: a version-3 payload
/// is genuine only when its Ed25519 signature by `kid` AND its SM2 signature by its SM2 key
/// both hold, each key in force on the payload's date.
pub fn verify_signed_with(
    base_url: &str,
    id: &str,
    protected: &[u8],
    signature: &[u8],
    resolve: &dyn Fn(&str) -> Option<PublishedKey>,
    resolve_sm2: &dyn Fn(&str) -> Option<PublishedSm2Key>,
) -> Result<QrClaims, CredentialError> {
    let claims = decode_claims(id, protected)?;
    let dual = claims.version == VERSION_DUAL;
    let key =
        resolve(&claims.kid).ok_or_else(|| CredentialError::UnknownKey(claims.kid.clone()))?;
    let sm2_key = if dual {
        let kid = sm2_kid(protected).unwrap_or_default();
        let key = resolve_sm2(&kid).ok_or_else(|| CredentialError::UnknownKey(kid.clone()))?;
        Some((kid, key))
    } else {
        None
    };
    let expected = if dual {
        SIGNATURE_LEN + crate::gm::SIGNATURE_LEN
    } else {
        SIGNATURE_LEN
    };
    if signature.len() != expected {
        return Err(CredentialError::Malformed(format!(
            "the signature is not {expected} bytes"
        )));
    }
    let (ed25519, sm2) = signature.split_at(SIGNATURE_LEN);
    let signature = <[u8; 64]>::try_from(ed25519)
        .map(|b| Signature::from_bytes(&b))
        .map_err(|_| CredentialError::Malformed("the signature is not 64 bytes".into()))?;
    let message = signed_message(claims.version, &normalize_base(base_url), id, protected);
    key.key
        .verify(&message, &signature)
        .map_err(|_| CredentialError::BadSignature)?;
    if let Some((_, sm2_key)) = &sm2_key
        && !sm2_key.key.verify(&message, sm2)
    {
        return Err(CredentialError::BadSignature);
    }
    if !key.in_force_on(&claims.issued) {
        return Err(CredentialError::KeyNotInForce {
            kid: claims.kid,
            issued: claims.issued,
        });
    }
    if let Some((kid, sm2_key)) = sm2_key
        && !sm2_key.in_force_on(&claims.issued)
    {
        return Err(CredentialError::KeyNotInForce {
            kid,
            issued: claims.issued,
        });
    }
    Ok(claims)
}

/// What a transparency-log entry (version 2) records of a certificate instead of its id:
/// SHA-256 of `"tica-log-v2" 0x1F id 0x1F claims`. Whoever holds the certificate's QR code (its
/// id and claims) recomputes it and finds the entry; nobody else learns the id from the log.
pub fn log_commitment(id: &str, protected: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"tica-log-v2");
    hash.update([0x1f]);
    hash.update(id.as_bytes());
    hash.update([0x1f]);
    hash.update(protected);
    hash.finalize().into()
}

/// A QR text taken apart, nothing verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedQr {
    /// The base URL before `/C/`, scheme and host in lower case, e.g. `https://verify.ahedu.gov.cn`.
    pub base_url: String,
    /// The certificate id, lower case.
    pub id: String,
    /// The claims' CBOR bytes.
    pub protected: Vec<u8>,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}

/// Takes a scanned QR text apart (either version); nothing is verified.
pub fn parse_qr(text: &str) -> Result<ScannedQr, CredentialError> {
    let malformed =
        |why: &str| CredentialError::Malformed(format!("not a TICA certificate QR code: {why}"));
    let (url, fragment) = text
        .trim()
        .split_once('#')
        .ok_or_else(|| malformed("no signed payload after `#`"))?;
    let (base, id) = parse_address(url)?;
    let (protected, signature) = if fragment.bytes().all(|b| b.is_ascii_digit()) {
        let mut bytes = from_digits(fragment).ok_or_else(|| malformed("the payload digits"))?;
        // Version 3's claims (an array of eleven, 0x8b, whose first member is 3) carry two
        // signatures after them; version 2's (ten, 0x8a) one.
        let signatures = if bytes.starts_with(&[0x8b, VERSION_DUAL]) {
            SIGNATURE_LEN + crate::gm::SIGNATURE_LEN
        } else {
            SIGNATURE_LEN
        };
        if bytes.len() <= signatures {
            return Err(malformed("the payload is shorter than its signatures"));
        }
        let signature = bytes.split_off(bytes.len() - signatures);
        (bytes, signature)
    } else {
        let bytes = data_encoding::BASE32_NOPAD
            .decode(fragment.as_bytes())
            .map_err(|_| malformed("the payload is neither digits nor base32"))?;
        let parts: Vec<Value> = ciborium::from_reader(bytes.as_slice())
            .map_err(|_| malformed("the payload is not CBOR"))?;
        let [Value::Bytes(protected), Value::Bytes(signature)] = parts.as_slice() else {
            return Err(malformed("the payload is not [claims, signature]"));
        };
        (protected.clone(), signature.clone())
    };
    Ok(ScannedQr {
        base_url: base,
        id,
        protected,
        signature,
    })
}

/// A certificate's address, `{base}/c/{id}` (the verification URL, or a QR text's part before
/// `#`; `/C/` as QR codes write it): its normalised base URL and lower-case id.
pub fn parse_address(url: &str) -> Result<(String, String), CredentialError> {
    let url = url.trim();
    let (base, id) = url
        .rsplit_once("/C/")
        .or_else(|| url.rsplit_once("/c/"))
        .filter(|(_, id)| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            CredentialError::Malformed(
                "not a TICA certificate QR code: the URL names no certificate".into(),
            )
        })?;
    Ok((normalize_base(base), id.to_lowercase()))
}

/// Reads scanned QR text and verifies it: its base URL is `expected_base` when one is given (the
/// issuer's published base URL; a genuine payload under another host's URL is refused), and its
/// signature holds by the key `resolve` gives for its key id, in force on its date. The claims
/// when genuine.
pub fn verify_qr(
    text: &str,
    expected_base: Option<&str>,
    resolve: &dyn Fn(&str) -> Option<PublishedKey>,
) -> Result<QrClaims, CredentialError> {
    verify_qr_with(text, expected_base, resolve, &|_| None)
}

/// As [`verify_qr`], with the published SM2 keys (see [`verify_signed_with`]).
pub fn verify_qr_with(
    text: &str,
    expected_base: Option<&str>,
    resolve: &dyn Fn(&str) -> Option<PublishedKey>,
    resolve_sm2: &dyn Fn(&str) -> Option<PublishedSm2Key>,
) -> Result<QrClaims, CredentialError> {
    let scanned = parse_qr(text)?;
    if let Some(expected) = expected_base {
        let expected = normalize_base(expected);
        if scanned.base_url != expected {
            return Err(CredentialError::WrongIssuer {
                expected,
                found: scanned.base_url,
            });
        }
    }
    verify_signed_with(
        &scanned.base_url,
        &scanned.id,
        &scanned.protected,
        &scanned.signature,
        resolve,
        resolve_sm2,
    )
}

/// The certificate id in QR text (`…/C/{ID}#…`), lower-cased; None when there is none.
pub fn qr_certificate_id(text: &str) -> Option<String> {
    let url = text.trim().split('#').next()?;
    url.rsplit_once("/C/")
        .or_else(|| url.rsplit_once("/c/"))
        .map(|(_, id)| id.to_lowercase())
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// A base URL as compared and signed: trimmed, no trailing `/`, scheme and host in lower case
/// (the path as given).
pub fn normalize_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let (origin, path) = split_origin(url);
    format!("{}{path}", origin.to_lowercase())
}

/// `https://verify.example.cn/x` → `HTTPS://VERIFY.EXAMPLE.CN/x`.
fn upper_origin(url: &str) -> String {
    let (origin, path) = split_origin(url);
    format!("{}{path}", origin.to_uppercase())
}

fn split_origin(url: &str) -> (&str, &str) {
    let end = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| url[start..].find('/').map(|j| start + j))
        .unwrap_or(url.len());
    url.split_at(end)
}

/// What a signature covers, by payload version.
fn signed_message(version: u8, base_url: &str, id: &str, protected: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(protected.len() + base_url.len() + 48);
    if version >= 2 {
        message.extend_from_slice(if version == VERSION_DUAL {
            V3_CONTEXT
        } else {
            V2_CONTEXT
        });
        message.push(0x1f);
        message.extend_from_slice(base_url.as_bytes());
        message.push(0x1f);
    }
    message.extend_from_slice(id.as_bytes());
    message.push(0x1f);
    message.extend_from_slice(protected);
    message
}

/// Decimal digits a group of `k` bytes (index) takes: the fewest that hold `256^k - 1`.
const GROUP_DIGITS: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];

/// Bytes as decimal digits: 7 bytes (a big-endian integer) become 17 digits, a last group of
/// `k` bytes `GROUP_DIGITS[k]`.
pub fn to_digits(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 5 / 2 + 3);
    for group in bytes.chunks(7) {
        let value = group.iter().fold(0u64, |v, b| v << 8 | u64::from(*b));
        let width = GROUP_DIGITS[group.len()];
        out.push_str(&format!("{value:0width$}"));
    }
    out
}

/// The inverse of [`to_digits`]; None when the digits are not such an encoding.
pub fn from_digits(digits: &str) -> Option<Vec<u8>> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = digits.len() / 17;
    let rest = digits.len() % 17;
    let last = GROUP_DIGITS.iter().position(|&d| d == rest)?;
    let mut out = Vec::with_capacity(full * 7 + last);
    let mut push = |text: &str, k: usize| -> Option<()> {
        let value: u64 = text.parse().ok()?;
        if k < 8 && value >> (8 * k) != 0 {
            return None;
        }
        out.extend_from_slice(&value.to_be_bytes()[8 - k..]);
        Some(())
    };
    for i in 0..full {
        push(&digits[i * 17..(i + 1) * 17], 7)?;
    }
    if last > 0 {
        push(&digits[full * 17..], last)?;
    }
    Some(out)
}

/// The QR version `text` needs at [`EC_LEVEL`].
pub fn qr_version(text: &str) -> Result<i16, CredentialError> {
    // Segmenting and choosing the version is all that is needed: no masks are scored.
    let bits = qrcode::bits::encode_auto(text.as_bytes(), EC_LEVEL)
        .map_err(|e| CredentialError::Malformed(format!("no QR code holds this text: {e}")))?;
    Ok(match bits.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://verify.ahedu.gov.cn/";

    fn claims() -> QrClaims {
        QrClaims {
            version: 2,
            kid: "340000-2026-1".into(),
            // 128 random bits in base32, as the certificate service makes them.
            id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
            number: "341324-2026-000123".into(),
            name: "欧阳䶮".into(),
            id_masked: "3413**********123X".into(),
            school: "泗县大路口乡中心小学".into(),
            competency: "B2".into(),
            grade: "合格".into(),
            issuer: "泗县教育体育局".into(),
            issued: "2026-11-24".into(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn known(kid: &str) -> Option<PublishedKey> {
        (kid == "340000-2026-1").then(|| PublishedKey::unbounded(key().verifying_key()))
    }

    #[test]
    fn day_numbers_agree_with_the_calendar_dates_of_instants() {
        for micros in [
            0,
            1_735_662_600_000_000,
            1_782_831_600_000_000,
            951_782_400_000_000,
        ] {
            assert_eq!(day_number(&china_date(micros)), Some(china_day(micros)));
        }
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2026-13-01"), None);
        assert_eq!(day_number("2026-1-01"), None);
    }

    #[test]
    fn digits_round_trip_every_length_and_refuse_what_no_bytes_encode() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let digits = to_digits(&bytes);
            assert_eq!(
                from_digits(&digits).as_deref(),
                Some(bytes.as_slice()),
                "{len}"
            );
        }
        assert_eq!(to_digits(&[0xff; 7]), "72057594037927935");
        // 4 digits is no group's length; 256 does not fit one byte.
        assert_eq!(from_digits("1234"), None);
        assert_eq!(from_digits("256"), None);
        assert_eq!(from_digits("12a"), None);
    }

    #[test]
    fn a_version_2_qr_verifies_offline_and_binds_the_issuers_base_url() {
        let text = qr_text(BASE, &claims(), &key()).unwrap();
        let (url, fragment) = text.split_once('#').unwrap();
        assert_eq!(
            url,
            "HTTPS://VERIFY.AHEDU.GOV.CN/C/B2C4E1F07A9D4C3E8F615D2A9C"
        );
        assert!(fragment.bytes().all(|b| b.is_ascii_digit()), "{fragment}");
        assert_eq!(verify_qr(&text, Some(BASE), &known).unwrap(), claims());
        // Without an expected issuer the signature alone still binds the URL's host.
        assert_eq!(verify_qr(&text, None, &known).unwrap(), claims());
        let moved = text.replace("VERIFY.AHEDU.GOV.CN", "VERIFY.AHEDU.GOV.CN.EVIL.EXAMPLE");
        assert_eq!(
            verify_qr(&moved, None, &known),
            Err(CredentialError::BadSignature)
        );
        assert!(matches!(
            verify_qr(&moved, Some(BASE), &known),
            Err(CredentialError::WrongIssuer { .. })
        ));
    }

    #[test]
    fn chinese_text_travels_in_gb18030_and_reads_back_exactly() {
        let rare = QrClaims {
            name: "𠀀明".into(),
            school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）".into(),
            ..claims()
        };
        let signed = sign_claims(BASE, &rare, &key()).unwrap();
        assert_eq!(decode_claims(&rare.id, &signed.protected).unwrap(), rare);
        // Two bytes a common character, not UTF-8's three.
        assert!(signed.protected.len() < encode_v1(&rare).len() - 20);
    }

    #[test]
    fn a_typical_certificate_fits_a_smaller_code_than_version_1_did() {
        let v2 = qr_text(BASE, &claims(), &key()).unwrap();
        let v1 = v1_qr_text(BASE, &claims(), &key());
        let (new, old) = (qr_version(&v2).unwrap(), qr_version(&v1).unwrap());
        assert!(
            new + 2 <= old,
            "version 2 needs QR version {new}, version 1 {old}"
        );
    }

    /// The longest realistic certificate: a Ningxia level certificate issued by the region
    /// office to a school with a long name.
    fn ningxia() -> QrClaims {
        QrClaims {
            kid: "640000-2026-12".into(),
            id: "q7zk3m9x2v4j8d1r5t6w0nbhcp".into(),
            number: "640104-2026-012345".into(),
            name: "马哈麦提·艾力".into(),
            id_masked: "6401**********123X".into(),
            school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）".into(),
            competency: "level".into(),
            grade: "优秀".into(),
            issuer: "宁夏回族自治区教育厅能力提升2.0办公室".into(),
            issued: "2026-12-31".into(),
            ..claims()
        }
    }

    #[test]
    fn the_longest_realistic_certificate_fits_with_a_version_to_spare() {
        let typical = qr_text(BASE, &claims(), &key()).unwrap();
        assert_eq!(qr_version(&typical).unwrap(), 13);
        let longest = qr_text("https://zhengshu.jyt.nx.gov.cn", &ningxia(), &key()).unwrap();
        assert_eq!(qr_version(&longest).unwrap(), MAX_VERSION - 1);
    }

    #[test]
    fn a_text_needing_more_than_the_largest_version_is_refused() {
        let base = "https://zhengshu.jyt.nx.gov.cn";
        // About 19 more Chinese characters than the longest realistic certificate still fit.
        let longer = QrClaims {
            school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）附属幼儿园分园".into(),
            name: "马哈麦提·艾力·买买提".into(),
            ..ningxia()
        };
        let text = qr_text(base, &longer, &key()).unwrap();
        assert_eq!(qr_version(&text).unwrap(), MAX_VERSION);
        let too_long = QrClaims {
            school: longer.school.repeat(2),
            ..longer
        };
        match qr_text(base, &too_long, &key()) {
            Err(CredentialError::Malformed(why)) => {
                assert!(why.contains(&format!("at most {MAX_VERSION}")), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_longest_accepted_texts_still_fit_the_largest_version() {
        // Issue 16: every text the claims carry at its limit at once, in the characters that
        // take the most bytes each.
        let ext_b = "𠀀".repeat(MAX_NAME_BYTES / 4);
        let common = "泗".repeat(MAX_NAME_BYTES / 2);
        let school = "学".repeat(MAX_SCHOOL_BYTES / 2);
        let issuer = "局".repeat(MAX_ISSUER_BYTES / 2);
        let base = format!("https://{}", "z".repeat(MAX_BASE_URL_CHARS - 8));
        assert_eq!(base.len(), MAX_BASE_URL_CHARS);
        for name in [ext_b, common] {
            assert_eq!(gb18030_len(&name), MAX_NAME_BYTES);
            let longest = QrClaims {
                name,
                school: school.clone(),
                issuer: issuer.clone(),
                number: "640104-2026-999999".into(),
                ..ningxia()
            };
            assert_eq!(gb18030_len(&longest.school), MAX_SCHOOL_BYTES);
            assert_eq!(gb18030_len(&longest.issuer), MAX_ISSUER_BYTES);
            let text = qr_text(&base, &longest, &key()).expect("the longest accepted texts fit");
            assert!(qr_version(&text).unwrap() <= MAX_VERSION);
        }
        // The issue's 100-character school name does not.
        let hundred = QrClaims {
            school: "学".repeat(100),
            ..ningxia()
        };
        assert!(qr_text(&base, &hundred, &key()).is_err());
    }

    #[test]
    fn a_forged_or_foreign_qr_is_not_genuine() {
        let forger = SigningKey::from_bytes(&[4; 32]);
        let forged = qr_text(BASE, &claims(), &forger).unwrap();
        assert_eq!(
            verify_qr(&forged, Some(BASE), &known),
            Err(CredentialError::BadSignature)
        );
        // A genuine payload moved onto another certificate's URL.
        let genuine = qr_text(BASE, &claims(), &key()).unwrap();
        let moved = genuine.replacen("/C/B2C4", "/C/FFFF", 1);
        assert_eq!(
            verify_qr(&moved, Some(BASE), &known),
            Err(CredentialError::BadSignature)
        );
        // One digit of the payload changed.
        let (url, digits) = genuine.split_once('#').unwrap();
        let mut altered: Vec<u8> = digits.bytes().collect();
        altered[40] = if altered[40] == b'1' { b'2' } else { b'1' };
        let altered = format!("{url}#{}", String::from_utf8(altered).unwrap());
        assert!(verify_qr(&altered, Some(BASE), &known).is_err());
        let mut other = claims();
        other.kid = "retired-and-unpublished".into();
        let unknown = qr_text(BASE, &other, &key()).unwrap();
        assert!(matches!(
            verify_qr(&unknown, Some(BASE), &known),
            Err(CredentialError::UnknownKey(_))
        ));
        for garbage in [
            "https://example.com",
            "https://x/C/1#AAAA",
            "https://x/C/1#1234",
        ] {
            assert!(
                matches!(
                    verify_qr(garbage, None, &known),
                    Err(CredentialError::Malformed(_))
                ),
                "{garbage}"
            );
        }
    }

    #[test]
    fn a_key_signs_only_between_its_activation_and_retirement_days() {
        // Activated 2025-01-01 00:30 and retired 2026-06-30 23:00, China time.
        let activated = 1_735_662_600_000_000; // 2024-12-31T16:30:00Z
        let retired = 1_782_831_600_000_000; // 2026-06-30T15:00:00Z
        assert_eq!(china_date(activated), "2025-01-01");
        assert_eq!(china_date(retired), "2026-06-30");
        let span = PublishedKey {
            key: key().verifying_key(),
            activated_micros: activated,
            retired_micros: Some(retired),
        };
        assert!(span.in_force_on("2025-01-01") && span.in_force_on("2026-06-30"));
        assert!(!span.in_force_on("2024-12-31") && !span.in_force_on("2026-07-01"));
        let resolve = |kid: &str| (kid == "340000-2026-1").then_some(span);
        let after = QrClaims {
            issued: "2026-11-24".into(),
            ..claims()
        };
        let text = qr_text(BASE, &after, &key()).unwrap();
        assert_eq!(
            verify_qr(&text, Some(BASE), &resolve),
            Err(CredentialError::KeyNotInForce {
                kid: "340000-2026-1".into(),
                issued: "2026-11-24".into()
            })
        );
        let within = QrClaims {
            issued: "2026-03-01".into(),
            ..claims()
        };
        let text = qr_text(BASE, &within, &key()).unwrap();
        assert!(verify_qr(&text, Some(BASE), &resolve).is_ok());
    }

    #[test]
    fn version_1_certificates_issued_before_still_verify_and_their_host_is_checked() {
        let v1 = QrClaims {
            version: 1,
            ..claims()
        };
        let text = v1_qr_text(BASE, &v1, &key());
        assert!(text.split_once('#').unwrap().1.starts_with('Q'), "{text}");
        assert_eq!(verify_qr(&text, Some(BASE), &known).unwrap(), v1);
        let moved = text.replace("VERIFY.AHEDU.GOV.CN", "EVIL.EXAMPLE");
        assert!(matches!(
            verify_qr(&moved, Some(BASE), &known),
            Err(CredentialError::WrongIssuer { .. })
        ));
    }

    /// A signature over a date that is not a day (31 June, 29 February 2026) proves nothing a
    /// certificate could say: such a date is malformed whichever way it comes in.
    #[test]
    fn only_days_of_the_calendar_are_issue_dates() {
        for day in ["2024-02-29", "2026-12-31", "2026-06-30"] {
            assert!(date_number(day).is_ok(), "{day}");
        }
        for not_a_day in [
            "2026-02-29",
            "2026-02-31",
            "2026-06-31",
            "2100-02-29",
            "2026-13-01",
        ] {
            assert!(date_number(not_a_day).is_err(), "{not_a_day}");
            assert!(day_number(not_a_day).is_none(), "{not_a_day}");
        }
        assert_eq!(valid_date_number(20240229).as_deref(), Some("2024-02-29"));
        assert_eq!(valid_date_number(20260231), None);
        // Version 2's integer date, altered in the claims bytes to 2026-02-31.
        let mut bytes = encode_v2(&claims()).unwrap();
        let mut was = vec![0x1a];
        was.extend(20261124u32.to_be_bytes());
        let at = bytes.windows(5).position(|w| w == was).unwrap();
        bytes[at + 1..at + 5].copy_from_slice(&20260231u32.to_be_bytes());
        assert!(matches!(
            decode_claims(&claims().id, &bytes),
            Err(CredentialError::Malformed(_))
        ));
    }

    #[test]
    fn a_version_1_payload_with_a_grade_or_date_tica_never_gives_is_malformed_though_signed() {
        for v1 in [
            QrClaims {
                version: 1,
                grade: "满分".into(),
                ..claims()
            },
            QrClaims {
                version: 1,
                issued: "2026-02-31".into(),
                ..claims()
            },
            QrClaims {
                version: 1,
                issued: "20261124".into(),
                ..claims()
            },
        ] {
            let text = v1_qr_text(BASE, &v1, &key());
            let answer = verify_qr(&text, Some(BASE), &known);
            assert!(
                matches!(answer, Err(CredentialError::Malformed(_))),
                "{v1:?}: {answer:?}"
            );
        }
    }

    fn sm2_key() -> crate::gm::Sm2Key {
        crate::gm::Sm2Key::from_secret(&[5; 32]).unwrap()
    }

    fn known_sm2(kid: &str) -> Option<PublishedSm2Key> {
        (kid == "340000-2026-sm2").then(|| PublishedSm2Key::unbounded(sm2_key().public()))
    }

    fn dual_text(base: &str, claims: &QrClaims, sm2: &crate::gm::Sm2Key) -> String {
        let signed = sign_claims_dual(base, claims, &key(), "340000-2026-sm2", sm2).unwrap();
        encode_qr(base, &claims.id, &signed).unwrap()
    }

    #[test]
    fn a_dual_signed_payload_verifies_only_with_both_published_keys() {
        let text = dual_text(BASE, &claims(), &sm2_key());
        let dual = QrClaims {
            version: VERSION_DUAL,
            ..claims()
        };
        assert_eq!(
            verify_qr_with(&text, Some(BASE), &known, &known_sm2).unwrap(),
            dual
        );
        let scanned = parse_qr(&text).unwrap();
        assert_eq!(scanned.signature.len(), 128);
        assert_eq!(
            sm2_kid(&scanned.protected).as_deref(),
            Some("340000-2026-sm2")
        );
        assert_eq!(decode_claims(&dual.id, &scanned.protected).unwrap(), dual);
        // A verifier that knows no SM2 key cannot call it genuine.
        assert_eq!(
            verify_qr(&text, Some(BASE), &known),
            Err(CredentialError::UnknownKey("340000-2026-sm2".into()))
        );
        // Moved to another host: both signatures bind the base URL.
        let moved = text.replace("VERIFY.AHEDU.GOV.CN", "VERIFY.AHEDU.GOV.CN.EVIL.EXAMPLE");
        assert_eq!(
            verify_qr_with(&moved, None, &known, &known_sm2),
            Err(CredentialError::BadSignature)
        );
    }

    /// The attacker holds the Ed25519 key (or a payload it signed) but not the SM2 key: the
    /// payload is not genuine, whatever Ed25519 says.
    #[test]
    fn a_payload_whose_sm2_signature_is_wrong_is_not_genuine_though_ed25519_holds() {
        let genuine =
            sign_claims_dual(BASE, &claims(), &key(), "340000-2026-sm2", &sm2_key()).unwrap();
        let forger = crate::gm::Sm2Key::from_secret(&[6; 32]).unwrap();
        let forged_sm2 = dual_text(BASE, &claims(), &forger);
        assert_eq!(
            verify_qr_with(&forged_sm2, Some(BASE), &known, &known_sm2),
            Err(CredentialError::BadSignature)
        );
        // One bit of the SM2 signature flipped, the Ed25519 signature untouched.
        let mut flipped = genuine.clone();
        flipped.sm2_signature.as_mut().unwrap()[10] ^= 1;
        let text = encode_qr(BASE, &claims().id, &flipped).unwrap();
        assert_eq!(
            verify_qr_with(&text, Some(BASE), &known, &known_sm2),
            Err(CredentialError::BadSignature)
        );
        // The SM2 signature cut off (a downgrade to one signature): not a payload at all.
        let mut stripped = genuine.clone();
        stripped.sm2_signature = None;
        let text = encode_qr(BASE, &claims().id, &stripped).unwrap();
        assert!(verify_qr_with(&text, Some(BASE), &known, &known_sm2).is_err());
        // The SM2 key retired before the certificate's date.
        let retired = |kid: &str| {
            known_sm2(kid).map(|k| PublishedSm2Key {
                retired_micros: Some(1_782_831_600_000_000), // 2026-06-30, China time
                ..k
            })
        };
        let text = encode_qr(BASE, &claims().id, &genuine).unwrap();
        assert_eq!(
            verify_qr_with(&text, Some(BASE), &known, &retired),
            Err(CredentialError::KeyNotInForce {
                kid: "340000-2026-sm2".into(),
                issued: "2026-11-24".into()
            })
        );
    }

    /// The QR versions of the certificates of `the_longest_realistic_certificate_fits_…` and
    /// `the_longest_accepted_texts_…` signed with SM2 too (issue 18 §2): 64 bytes of signature
    /// and the SM2 key id cost two or three versions.
    #[test]
    fn a_dual_signed_certificate_needs_up_to_three_qr_versions_more() {
        let typical = dual_text(BASE, &claims(), &sm2_key());
        let longest = dual_text("https://zhengshu.jyt.nx.gov.cn", &ningxia(), &sm2_key());
        let versions = (qr_version(&typical).unwrap(), qr_version(&longest).unwrap());
        // Every text at the budget's limit (as `the_longest_accepted_texts_still_fit_the_largest_version`).
        let base = format!("https://{}", "z".repeat(MAX_BASE_URL_CHARS - 8));
        let mut largest = 0;
        for name in [
            "𠀀".repeat(MAX_NAME_BYTES / 4),
            "泗".repeat(MAX_NAME_BYTES / 2),
        ] {
            let longest = QrClaims {
                name,
                school: "学".repeat(MAX_SCHOOL_BYTES / 2),
                issuer: "局".repeat(MAX_ISSUER_BYTES / 2),
                number: "640104-2026-999999".into(),
                kid: "k".repeat(14),
                ..ningxia()
            };
            let signed =
                sign_claims_dual(&base, &longest, &key(), "640000-2026-s1", &sm2_key()).unwrap();
            let text = encode_qr(&base, &longest.id, &signed).expect("the longest texts fit");
            largest = largest.max(qr_version(&text).unwrap());
        }
        // Version 2 needs 13, 15 and 16 (`the_longest_realistic_certificate_fits_…`).
        assert_eq!(
            (versions.0, versions.1, largest),
            (16, 17, MAX_VERSION_DUAL)
        );
    }

    /// Version 1's claims bytes, as certificates issued before carry them.
    fn encode_v1(c: &QrClaims) -> Vec<u8> {
        cbor(&(
            1u8,
            c.kid.clone(),
            c.number.clone(),
            c.name.clone(),
            c.id_masked.clone(),
            c.school.clone(),
            c.competency.clone(),
            c.grade.clone(),
            c.issuer.clone(),
            c.issued.clone(),
        ))
    }

    /// A version 1 QR text, exactly as the service wrote them before version 2.
    fn v1_qr_text(base: &str, c: &QrClaims, key: &SigningKey) -> String {
        let protected = encode_v1(c);
        let signature = key
            .sign(&signed_message(1, "", &c.id, &protected))
            .to_bytes();
        let payload = cbor(&(Value::Bytes(protected), Value::Bytes(signature.to_vec())));
        format!(
            "{}/C/{}#{}",
            upper_origin(base.trim_end_matches('/')),
            c.id.to_uppercase(),
            data_encoding::BASE32_NOPAD.encode(&payload)
        )
    }
}
