//! Fuzz targets for what the credential crate reads from outside (see `tica-fuzz`): the QR text
//! a phone scans (both payload versions), the CBOR claims inside it, the signed revocation list
//! and the JWKS a verifier downloads, and Verifiable Credentials. Arbitrary input, and genuine
//! input flipped, cut, extended and spliced — for CBOR also random well-formed CBOR values, for
//! the QR text payloads re-signed with the trusted key so the claims decoding behind the
//! signature is reached. No panic, no hang; nothing mutated verifies unless it is unchanged.

use ciborium::Value;
use ed25519_dalek::SigningKey;
use tica_credential::KeySet;
use tica_credential::qr::{self, PublishedKey, QrClaims, SignedClaims};
use tica_credential::revocation::RevocationList;
use tica_fuzz::{Fuzz, Rng, show_bytes, show_text};

const BASE: &str = "https://verify.ahedu.gov.cn";
const KID: &str = "340000-2026-1";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn known(kid: &str) -> Option<PublishedKey> {
    (kid == KID).then(|| PublishedKey::unbounded(key().verifying_key()))
}

fn claims(rng: &mut Rng) -> QrClaims {
    let names = ["欧阳䶮", "张喆", "李", "Ａ", "王小明明明明明明"];
    QrClaims {
        version: 2,
        kid: KID.into(),
        id: format!("{:026x}", rng.next_u64() as u128 * 1_000_003)[..26].to_owned(),
        number: format!("341324-2026-{:06}", rng.below(1_000_000)),
        name: (*rng.pick(&names)).into(),
        id_masked: "3413**********123X".into(),
        school: "泗县大路口乡中心小学".into(),
        competency: (*rng.pick(&["B2", "A3", "level"])).into(),
        grade: (*rng.pick(&["合格", "优秀"])).into(),
        issuer: "泗县教育体育局".into(),
        issued: format!(
            "20{:02}-{:02}-{:02}",
            20 + rng.below(10),
            1 + rng.below(12),
            1 + rng.below(28)
        ),
    }
}

fn genuine_qr(rng: &mut Rng) -> String {
    let claims = claims(rng);
    if rng.one_in(4) {
        // Version 1: base32 of CBOR [claims, signature], still verified.
        let v1 = QrClaims {
            version: 1,
            ..claims
        };
        let protected = v1_claims(&v1);
        let mut message = Vec::new();
        message.extend_from_slice(v1.id.as_bytes());
        message.push(0x1f);
        message.extend_from_slice(&protected);
        use ed25519_dalek::Signer;
        let signature = key().sign(&message).to_bytes();
        let mut wire = Vec::new();
        ciborium::into_writer(
            &Value::Array(vec![
                Value::Bytes(protected),
                Value::Bytes(signature.to_vec()),
            ]),
            &mut wire,
        )
        .unwrap();
        format!(
            "{BASE}/c/{}#{}",
            v1.id,
            data_encoding::BASE32_NOPAD.encode(&wire)
        )
    } else {
        qr::qr_text(BASE, &claims, &key()).unwrap()
    }
}

/// Version 1's claims array (see `qr::WireV1`).
fn v1_claims(c: &QrClaims) -> Vec<u8> {
    let value = Value::Array(vec![
        Value::Integer(1.into()),
        Value::Text(c.kid.clone()),
        Value::Text(c.number.clone()),
        Value::Text(c.name.clone()),
        Value::Text(c.id_masked.clone()),
        Value::Text(c.school.clone()),
        Value::Text(c.competency.clone()),
        Value::Text(c.grade.clone()),
        Value::Text(c.issuer.clone()),
        Value::Text(c.issued.clone()),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

/// A random well-formed CBOR value, nested at most `depth` deep.
fn cbor_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Integer((rng.next_u64() as i64 >> rng.below(64)).into()),
        1 => Value::Integer(i64::from(rng.below(5) as u8).into()),
        2 => Value::Text(rng.arbitrary_text(20)),
        3 => Value::Bytes(rng.arbitrary_bytes(40)),
        4 => Value::Bool(rng.one_in(2)),
        5 => match rng.below(3) {
            0 => Value::Null,
            1 => Value::Float(f64::from_bits(rng.next_u64())),
            _ => Value::Tag(rng.next_u64() % 300, Box::new(Value::Null)),
        },
        6 => Value::Array(
            (0..rng.below(12))
                .map(|_| cbor_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Map(
            (0..rng.below(4))
                .map(|_| (cbor_value(rng, depth - 1), cbor_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// A claims array in the shape of version 2 (or 1) with some members replaced by random values.
fn claims_like(rng: &mut Rng) -> Vec<u8> {
    let valid = qr::sign_claims(BASE, &claims(rng), &key())
        .unwrap()
        .protected;
    let Value::Array(mut items) = ciborium::from_reader::<Value, _>(valid.as_slice()).unwrap()
    else {
        unreachable!("claims are an array")
    };
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(items.len());
        items[i] = cbor_value(rng, 2);
    }
    if rng.one_in(4) {
        items.truncate(rng.below(items.len() + 1));
    }
    if rng.one_in(4) {
        items.push(cbor_value(rng, 1));
    }
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Array(items), &mut out).unwrap();
    out
}

const QR_TOKENS: &[&str] = &[
    "#",
    "/C/",
    "/c/",
    "/",
    "0",
    "9",
    "99999999999999999",
    "HTTPS://",
    "=",
    " ",
    "\n",
    "A",
    "Z",
    "2",
    "7",
];

#[test]
fn arbitrary_and_mutated_qr_text_never_panics_the_qr_parser_or_verifier() {
    let mut genuine = 0u32;
    Fuzz::new("qr_text", 3_000).run(
        |rng| match rng.below(8) {
            0 => rng.arbitrary_text(600),
            1 => format!(
                "{BASE}/C/{}#{}",
                rng.arbitrary_text(30),
                rng.arbitrary_text(500)
            ),
            2 => {
                // Digits of arbitrary length: the numeric payload's decoder.
                let n = rng.below(800);
                format!(
                    "{BASE}/C/ABC#{}",
                    (0..n)
                        .map(|_| char::from(b'0' + rng.below(10) as u8))
                        .collect::<String>()
                )
            }
            3 => {
                // Claims shaped like the real ones, signed by the trusted key.
                let protected = claims_like(rng);
                let signed = signed_over(rng, &protected);
                qr::encode_qr(BASE, "b2c4e1f07a9d4c3e8f615d2a9c", &signed).unwrap_or_else(|_| {
                    format!(
                        "{BASE}/C/B2C4E1F07A9D4C3E8F615D2A9C#{}",
                        qr::to_digits(&[protected, signed.signature.to_vec()].concat())
                    )
                })
            }
            _ => {
                let valid = genuine_qr(rng);
                let other = genuine_qr(rng);
                rng.mutate_text(&valid, &[&other], QR_TOKENS)
            }
        },
        |s| show_text(s),
        |text| {
            let _ = qr::qr_certificate_id(text);
            if let Ok(scanned) = qr::parse_qr(text) {
                let _ = qr::decode_claims(&scanned.id, &scanned.protected);
                let _ = qr::log_commitment(&scanned.id, &scanned.protected);
            }
            if qr::verify_qr(text, Some(BASE), &known).is_ok() {
                genuine += 1;
            }
            if text.len() < 2000 {
                let _ = qr::qr_version(text);
            }
        },
    );
    eprintln!("genuine {genuine}");
    assert!(genuine > 0, "the generator must also produce genuine texts");
}

fn signed_over(_rng: &mut Rng, protected: &[u8]) -> SignedClaims {
    use ed25519_dalek::Signer;
    let mut message = Vec::new();
    message.extend_from_slice(b"tica-qr-v2");
    message.push(0x1f);
    message.extend_from_slice(BASE.as_bytes());
    message.push(0x1f);
    message.extend_from_slice(b"b2c4e1f07a9d4c3e8f615d2a9c");
    message.push(0x1f);
    message.extend_from_slice(protected);
    SignedClaims {
        protected: protected.to_vec(),
        signature: key().sign(&message).to_bytes(),
        sm2_signature: None,
    }
}

#[test]
fn arbitrary_and_mutated_cbor_never_panics_the_claims_decoder() {
    Fuzz::new("cbor_claims", 6_000).run(
        |rng| match rng.below(5) {
            0 => rng.arbitrary_bytes(400),
            1 => {
                let mut out = Vec::new();
                ciborium::into_writer(&cbor_value(rng, 4), &mut out).unwrap();
                out
            }
            2 => claims_like(rng),
            _ => {
                let valid = qr::sign_claims(BASE, &claims(rng), &key())
                    .unwrap()
                    .protected;
                let v1 = v1_claims(&QrClaims {
                    version: 1,
                    ..claims(rng)
                });
                rng.mutate(
                    &valid,
                    &[&v1],
                    &[
                        &[0x9f],
                        &[0xff],
                        &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                        &[0x5b],
                        &[0xbf],
                        &[0xc0],
                        &[0xf9, 0x7e, 0x00],
                    ],
                )
            }
        },
        |b| show_bytes(b),
        |bytes| {
            let _ = qr::decode_claims("b2c4e1f07a9d4c3e8f615d2a9c", bytes);
            let _ = qr::verify_signed(BASE, "b2c4e1f07a9d4c3e8f615d2a9c", bytes, &[0; 64], &known);
        },
    );
}

#[test]
fn arbitrary_and_mutated_revocation_lists_and_key_sets_never_panic_the_verifier() {
    let mut keys = KeySet {
        issuer: Some(BASE.into()),
        ..KeySet::default()
    };
    keys.keys.insert(KID.into(), known(KID).unwrap());
    let genuine = |rng: &mut Rng| {
        let ids: Vec<String> = (0..rng.below(20)).map(|i| format!("id{i}")).collect();
        RevocationList::new(BASE, &ids, 1_790_000_000 + rng.below(1000) as i64, 86_400)
            .sign(KID, &key())
    };
    Fuzz::new("revocation_list", 3_000).run(
        |rng| match rng.below(4) {
            0 => rng.arbitrary_text(400),
            1 => {
                // Claims re-signed: the checks behind the signature.
                let header = serde_json::json!({"alg": "EdDSA", "kid": KID, "typ": *rng.pick(&["tica-revocations+jwt", "JWT"])});
                let number = |rng: &mut Rng| match rng.below(4) {
                    0 => serde_json::json!(i64::MAX),
                    1 => serde_json::json!(i64::MIN),
                    2 => serde_json::json!(rng.arbitrary_text(5)),
                    _ => serde_json::json!(1_790_000_000),
                };
                let claims = serde_json::json!({
                    "iss": *rng.pick(&[BASE, "https://evil.example", ""]),
                    "iat": number(rng), "exp": number(rng), "count": number(rng),
                    "revoked": rng.arbitrary_text(40),
                });
                tica_credential::revocation::sign_compact(&header, &claims, &key())
            }
            _ => {
                let valid = genuine(rng);
                let other = genuine(rng);
                rng.mutate_text(&valid, &[&other], &[".", "-", "_", "eyJ", "=="])
            }
        },
        |s| show_text(s),
        |token| {
            let _ = RevocationList::verify(token, &keys);
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(token) {
                let _ = tica_credential::key_set_from_jwks(&json);
                let _ = tica_credential::verify(&json, &|_| None);
            }
        },
    );
}
