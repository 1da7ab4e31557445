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

#[test]
fn a_certificate_qr_is_valid_offline_with_the_published_keys_and_a_forged_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let claims = tica_credential::qr::QrClaims {
        version: 2,
        kid: "340000-2026-1".into(),
        id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
        number: "AH-341324-2026-000123".into(),
        name: "王芳".into(),
        id_masked: "3413**********123X".into(),
        school: "泗县第一小学".into(),
        competency: "B2".into(),
        grade: "合格".into(),
        issuer: "泗县教育体育局".into(),
        issued: "2026-11-24".into(),
    };
    let text = tica_credential::qr::qr_text("https://verify.ahedu.gov.cn", &claims, &key).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let keys = dir.path().join("keys.json");
    std::fs::write(
        &keys,
        serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "340000-2026-1", "x": x }] })
            .to_string(),
    )
    .unwrap();
    let run = |qr: &str| {
        Command::new(env!("CARGO_BIN_EXE_tica"))
            .args(["verify", "--qr", qr, "--keys"])
            .arg(&keys)
            .output()
            .expect("tica runs")
    };
    let ok = run(&text);
    assert_eq!(ok.status.code(), Some(0), "{}", text_of(&ok));
    assert!(text_of(&ok).starts_with("有效 VALID"), "{}", text_of(&ok));
    assert!(text_of(&ok).contains("泗县第一小学"));

    let forger = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let forged =
        tica_credential::qr::qr_text("https://verify.ahedu.gov.cn", &claims, &forger).unwrap();
    let bad = run(&forged);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text_of(&bad).contains("NOT GENUINE"), "{}", text_of(&bad));
}
