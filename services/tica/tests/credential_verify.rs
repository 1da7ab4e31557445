//! `tica credential verify`: the W3C eddsa-jcs-2022 test vector verifies (exit 0, "valid"); an
//! altered copy, an unknown key and garbage do not (exit 1 and the reason); a credential signed
//! with a key TICA publishes verifies against the published key set.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;

fn vector() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/eddsa-jcs-2022/signedJCS.json")
}

fn verify(file: &Path, keys: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tica"));
    command.args(["credential", "verify"]).arg(file);
    if let Some(keys) = keys {
        command.arg("--keys").arg(keys);
    }
    command.output().expect("tica runs")
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_w3c_vector_is_valid_and_an_altered_copy_is_not() {
    let ok = verify(&vector(), None);
    assert_eq!(ok.status.code(), Some(0), "{}", text_of(&ok));
    assert!(text_of(&ok).starts_with("valid"), "{}", text_of(&ok));

    let dir = tempfile::tempdir().unwrap();
    let mut credential: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector()).unwrap()).unwrap();
    credential["credentialSubject"]["alumniOf"] = "Another School".into();
    let altered = dir.path().join("altered.json");
    std::fs::write(&altered, credential.to_string()).unwrap();
    let bad = verify(&altered, None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text_of(&bad).contains("altered"), "{}", text_of(&bad));

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let bad = verify(&garbage, None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text_of(&bad).contains("not JSON"), "{}", text_of(&bad));
}

#[test]
fn a_credential_signed_with_a_published_key_verifies_against_the_key_set() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut unsecured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector()).unwrap()).unwrap();
    unsecured.as_object_mut().unwrap().remove("proof");
    let signed = tica_credential::sign(
        &unsecured,
        &tica_credential::ProofOptions {
            created: "2026-11-24T08:00:00Z".into(),
            verification_method: "https://verify.tica.example/keys#tica-2026-1".into(),
            proof_purpose: "assertionMethod".into(),
        },
        &key,
    )
    .unwrap();
    let file = dir.path().join("signed.json");
    std::fs::write(&file, signed.to_string()).unwrap();
    let unknown = verify(&file, None);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text_of(&unknown).contains("unknown verification method"),
        "{}",
        text_of(&unknown)
    );

    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let keys = dir.path().join("keys.json");
    std::fs::write(
        &keys,
        serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "tica-2026-1", "x": x }] })
            .to_string(),
    )
    .unwrap();
    let ok = verify(&file, Some(&keys));
    assert_eq!(ok.status.code(), Some(0), "{}", text_of(&ok));
    assert!(text_of(&ok).contains("tica-2026-1"), "{}", text_of(&ok));
}

/// An issuer as an offline verifier meets it: its key set (`issuer`, a key in force since 2026
/// and one retired at the start of 2025) and certificates' QR texts.
struct Issuer {
    dir: tempfile::TempDir,
    key: ed25519_dalek::SigningKey,
    retired: ed25519_dalek::SigningKey,
    keys: PathBuf,
}

const BASE: &str = "https://verify.ahedu.gov.cn";

impl Issuer {
    fn new() -> Issuer {
        let dir = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let retired = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let x = |k: &ed25519_dalek::SigningKey| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes())
        };
        let keys = dir.path().join("jwks.json");
        std::fs::write(
            &keys,
            serde_json::json!({ "issuer": BASE, "keys": [
                { "kty": "OKP", "crv": "Ed25519", "kid": "340000-2026-1", "x": x(&key),
                  "activated": "2026-01-01T00:00:00Z" },
                { "kty": "OKP", "crv": "Ed25519", "kid": "340000-2024-1", "x": x(&retired),
                  "activated": "2024-01-01T00:00:00Z", "retired": "2025-01-01T00:00:00Z" }
            ]})
            .to_string(),
        )
        .unwrap();
        Issuer {
            dir,
            key,
            retired,
            keys,
        }
    }

    fn claims(&self) -> tica_credential::qr::QrClaims {
        tica_credential::qr::QrClaims {
            version: 2,
            kid: "340000-2026-1".into(),
            id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
            number: "341324-2026-000123".into(),
            name: "王芳".into(),
            id_masked: "3413**********123X".into(),
            school: "泗县第一小学".into(),
            competency: "B2".into(),
            grade: "合格".into(),
            issuer: "泗县教育体育局".into(),
            issued: "2026-11-24".into(),
        }
    }

    fn qr(&self) -> String {
        tica_credential::qr::qr_text(BASE, &self.claims(), &self.key).unwrap()
    }

    /// A revocation list of `revoked` made `age` seconds ago, valid for a day.
    fn revocations(&self, revoked: &[&str], age: i64) -> PathBuf {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let ids: Vec<String> = revoked.iter().map(|s| (*s).to_owned()).collect();
        let list = tica_credential::revocation::RevocationList::new(BASE, &ids, now - age, 86_400);
        let path = self
            .dir
            .path()
            .join(format!("revocations-{}-{age}.jwt", ids.len()));
        std::fs::write(&path, list.sign("340000-2026-1", &self.key)).unwrap();
        path
    }

    fn verify(&self, qr: &str, revocations: Option<&Path>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tica"));
        command
            .args(["verify", "--qr", qr, "--keys"])
            .arg(&self.keys);
        if let Some(list) = revocations {
            command.arg("--revocations").arg(list);
        }
        command.output().expect("tica runs")
    }
}

#[test]
fn a_genuine_qr_without_a_revocation_list_is_genuine_with_revocation_not_checked() {
    let issuer = Issuer::new();
    let out = issuer.verify(&issuer.qr(), None);
    assert_eq!(out.status.code(), Some(4), "{}", text_of(&out));
    let text = text_of(&out);
    assert!(text.contains("REVOCATION NOT CHECKED"), "{text}");
    assert!(!text.contains("有效 VALID"), "no plain VALID: {text}");
    assert!(
        text.contains("https://verify.ahedu.gov.cn/revocations"),
        "{text}"
    );
    assert!(text.contains("泗县第一小学"), "{text}");
}

#[test]
fn with_a_current_revocation_list_a_certificate_is_valid_or_revoked() {
    let issuer = Issuer::new();
    let clean = issuer.revocations(&["00000000000000000000000000"], 60);
    let out = issuer.verify(&issuer.qr(), Some(&clean));
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert!(text_of(&out).starts_with("有效 VALID"), "{}", text_of(&out));

    let listed = issuer.revocations(&["b2c4e1f07a9d4c3e8f615d2a9c"], 60);
    let out = issuer.verify(&issuer.qr(), Some(&listed));
    assert_eq!(out.status.code(), Some(3), "{}", text_of(&out));
    assert!(
        text_of(&out).starts_with("已撤销 REVOKED"),
        "{}",
        text_of(&out)
    );
}

#[test]
fn an_expired_revocation_list_leaves_revocation_unchecked_since_it_was_made() {
    let issuer = Issuer::new();
    let stale = issuer.revocations(&[], 2 * 86_400);
    let out = issuer.verify(&issuer.qr(), Some(&stale));
    assert_eq!(out.status.code(), Some(4), "{}", text_of(&out));
    assert!(text_of(&out).contains("expired"), "{}", text_of(&out));
    // A list that is not the issuer's is refused outright.
    let forged = issuer.dir.path().join("forged.jwt");
    let list = tica_credential::revocation::RevocationList::new(BASE, &[], 1_900_000_000, 86_400);
    std::fs::write(
        &forged,
        list.sign(
            "340000-2026-1",
            &ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        ),
    )
    .unwrap();
    let out = issuer.verify(&issuer.qr(), Some(&forged));
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("not a genuine revocation list"),
        "{}",
        text_of(&out)
    );
}

#[test]
fn a_forged_qr_another_hosts_url_and_a_retired_keys_later_signature_are_not_genuine() {
    let issuer = Issuer::new();
    let forger = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let forged = tica_credential::qr::qr_text(BASE, &issuer.claims(), &forger).unwrap();
    // A genuine payload under another host's URL.
    let moved = issuer
        .qr()
        .replace("VERIFY.AHEDU.GOV.CN", "VERIFY-AHEDU.GOV.CN.EXAMPLE");
    // The retired key (it leaked) signs a certificate dated after its retirement.
    let late = tica_credential::qr::QrClaims {
        kid: "340000-2024-1".into(),
        ..issuer.claims()
    };
    let late = tica_credential::qr::qr_text(BASE, &late, &issuer.retired).unwrap();
    for (what, qr, why) in [
        ("forged", forged, "signature does not match"),
        ("moved", moved, "not at the issuer's"),
        ("late", late, "not in force"),
    ] {
        let out = issuer.verify(&qr, None);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text_of(&out));
        assert!(
            text_of(&out).contains("NOT GENUINE"),
            "{what}: {}",
            text_of(&out)
        );
        assert!(text_of(&out).contains(why), "{what}: {}", text_of(&out));
    }
}

/// Issue 18 §2, offline: a certificate signed with Ed25519 and SM2 (QR payload version 3) is
/// genuine against a key set that publishes both keys; without the SM2 key, or with an SM2
/// signature by another key while the Ed25519 one holds, it is NOT GENUINE.
#[test]
fn a_dual_signed_qr_is_genuine_offline_only_when_its_sm2_signature_holds_too() {
    let issuer = Issuer::new();
    let sm2 = tica_credential::gm::Sm2Key::from_secret(&[8; 32]).unwrap();
    let mut jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&issuer.keys).unwrap()).unwrap();
    let mut jwk = sm2.public().jwk("340000-2026-s1");
    jwk["activated"] = "2026-01-01T00:00:00Z".into();
    jwks["keys"].as_array_mut().unwrap().push(jwk);
    let both = issuer.dir.path().join("jwks-sm2.json");
    std::fs::write(&both, jwks.to_string()).unwrap();
    let dual = |sm2: &tica_credential::gm::Sm2Key| {
        let signed = tica_credential::qr::sign_claims_dual(
            BASE,
            &issuer.claims(),
            &issuer.key,
            "340000-2026-s1",
            sm2,
        )
        .unwrap();
        tica_credential::qr::encode_qr(BASE, &issuer.claims().id, &signed).unwrap()
    };
    let run = |qr: &str, keys: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tica"))
            .args(["verify", "--qr", qr, "--keys"])
            .arg(keys)
            .output()
            .expect("tica runs")
    };
    let genuine = dual(&sm2);
    let out = run(&genuine, &both);
    assert_eq!(out.status.code(), Some(4), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("340000-2026-s1"),
        "{}",
        text_of(&out)
    );
    let forger = tica_credential::gm::Sm2Key::from_secret(&[6; 32]).unwrap();
    for (what, qr, keys) in [
        ("no SM2 key published", genuine.clone(), issuer.keys.clone()),
        ("SM2 by another key", dual(&forger), both.clone()),
    ] {
        let out = run(&qr, &keys);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text_of(&out));
        assert!(
            text_of(&out).contains("NOT GENUINE"),
            "{what}: {}",
            text_of(&out)
        );
    }
}

#[test]
fn without_the_published_keys_it_says_it_cannot_check_rather_than_not_genuine() {
    let issuer = Issuer::new();
    let out = Command::new(env!("CARGO_BIN_EXE_tica"))
        .args(["verify", "--qr", &issuer.qr()])
        .output()
        .expect("tica runs");
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    let text = text_of(&out);
    assert!(!text.contains("NOT GENUINE"), "{text}");
    assert!(
        text.contains("https://verify.ahedu.gov.cn/.well-known/jwks.json"),
        "{text}"
    );
}

#[test]
fn a_credential_with_a_revocation_status_is_valid_only_against_a_current_list() {
    let issuer = Issuer::new();
    let mut unsecured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector()).unwrap()).unwrap();
    unsecured.as_object_mut().unwrap().remove("proof");
    let id = "b2c4e1f07a9d4c3e8f615d2a9c";
    let entry = hex::encode(tica_credential::revocation::revocation_entry(id));
    unsecured["credentialStatus"] = serde_json::json!({
        "id": format!("{BASE}/revocations#{entry}"),
        "type": tica_credential::revocation::STATUS_TYPE,
        "revocationList": format!("{BASE}/revocations"),
        "revocationEntry": entry,
    });
    let signed = tica_credential::sign(
        &unsecured,
        &tica_credential::ProofOptions {
            created: "2026-11-24T08:00:00Z".into(),
            verification_method: format!("{BASE}/.well-known/jwks.json#340000-2026-1"),
            proof_purpose: "assertionMethod".into(),
        },
        &issuer.key,
    )
    .unwrap();
    let file = issuer.dir.path().join("vc.json");
    std::fs::write(&file, signed.to_string()).unwrap();
    let run = |list: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tica"));
        command
            .args(["credential", "verify"])
            .arg(&file)
            .arg("--keys")
            .arg(&issuer.keys);
        if let Some(list) = list {
            command.arg("--revocations").arg(list);
        }
        command.output().expect("tica runs")
    };
    let unchecked = run(None);
    assert_eq!(unchecked.status.code(), Some(4), "{}", text_of(&unchecked));
    assert!(text_of(&unchecked).contains("revocation not checked"));
    let clean = issuer.revocations(&[], 60);
    assert_eq!(run(Some(&clean)).status.code(), Some(0));
    let listed = issuer.revocations(&[id], 60);
    let revoked = run(Some(&listed));
    assert_eq!(revoked.status.code(), Some(3), "{}", text_of(&revoked));
    assert!(text_of(&revoked).contains("revoked"));
}

/// Issue 18 §1: eddsa-rdfc-2022. The W3C vector (a `did:key`) is valid; a badge the DCC's own
/// issuing libraries signed for a `did:web` issuer is genuine with that issuer's DID document
/// (`--did`, `/.well-known/did.json`) — its Bitstring Status List is not one this tool reads, so
/// revocation is left unchecked (exit 4) — cannot be checked without it, and is not valid once
/// its holder's name is changed.
#[test]
fn an_rdfc_credential_verifies_with_did_key_or_the_issuers_did_document_and_not_once_altered() {
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let run = |file: &Path, did: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tica"));
        command.args(["credential", "verify"]).arg(file);
        if let Some(did) = did {
            command.arg("--did").arg(did);
        }
        command.output().expect("tica runs")
    };
    let w3c = verify(&vectors.join("eddsa-rdfc-2022/signedDataInt.json"), None);
    assert_eq!(w3c.status.code(), Some(0), "{}", text_of(&w3c));
    assert!(text_of(&w3c).starts_with("valid"), "{}", text_of(&w3c));

    let badge = vectors.join("jsonld-ob3/dcc-signed-badge.json");
    let did = vectors.join("jsonld-ob3/dcc-did.json");
    let genuine = run(&badge, Some(&did));
    assert_eq!(genuine.status.code(), Some(4), "{}", text_of(&genuine));
    assert!(
        text_of(&genuine).starts_with("valid: signed by did:web:127.0.0.1%3A8080#k1"),
        "{}",
        text_of(&genuine)
    );
    let unknown = run(&badge, None);
    assert_eq!(unknown.status.code(), Some(1), "{}", text_of(&unknown));

    let dir = tempfile::tempdir().unwrap();
    let mut altered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&badge).unwrap()).unwrap();
    altered["credentialSubject"]["name"] = "王五".into();
    let path = dir.path().join("altered.json");
    std::fs::write(&path, altered.to_string()).unwrap();
    let bad = run(&path, Some(&did));
    assert_eq!(bad.status.code(), Some(1), "{}", text_of(&bad));
    assert!(text_of(&bad).contains("altered"), "{}", text_of(&bad));
}
