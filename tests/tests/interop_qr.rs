//! The QR payload as a published format (issue 17 §7): `docs/qr-format.md` specifies it, and
//! `tests/interop/verify_qr.py`, a second verifier written in Python from that text alone, must
//! agree with `tica_credential::qr` on every text — real certificates issued through the running
//! suite (a county's micro-competency certificates, and the level certificates of the demo's
//! Ningxia year), and the same texts altered, moved to another host, signed by an unknown key or dated
//! outside their key's span; a version-1 payload (which the service no longer writes) built here
//! by the specification's §5; the edges of the format written by hand (white space, the version
//! in the claims against the fragment's encoding, wrong types, bad digit groups, trailing bytes);
//! and the specification's own worked example (§9), which must be exactly what the code writes.
//!
//! The verifier runs on `$TICA_PYTHON` (or `python3`) with `tests/interop/requirements.txt`
//! installed; without them a test says why and passes, unless `TICA_REQUIRE_INTEROP=1` (CI).

#[path = "support_year/mod.rs"]
mod support_year;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use support_year::{COUNTY, Year};
use tica_auth::Role;
use tica_credential::qr::{self, QrClaims};
use tica_credential::{CredentialError, KeySet};
use tica_e2e::certificates::{client, issue};
use tica_proto::tica::certificate::v1 as cpb;
use tica_storage::Backend;

// ---- the second verifier ----

/// The Python that runs the second verifier (`tests/interop/verify_qr.py`); None: skip.
fn python() -> Option<PathBuf> {
    tica_e2e::interop::python("verify_qr.py", "cbor2, cryptography")
}

/// The Python verifier's answers to `texts` (one a line on its standard input), against the key
/// set in `jwks` and, when given, `issuer` instead of the key set's own.
fn python_answers(
    python: &Path,
    jwks: &Path,
    issuer: Option<&str>,
    texts: &[String],
) -> Vec<Value> {
    let mut command = Command::new(python);
    command
        .arg(tica_e2e::interop::script("verify_qr.py"))
        .arg("--jwks")
        .arg(jwks);
    if let Some(issuer) = issuer {
        command.args(["--issuer", issuer]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the Python verifier starts");
    {
        let mut stdin = child.stdin.take().unwrap();
        for text in texts {
            writeln!(stdin, "{text}").unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 0: all valid, 1: some not genuine; anything else is the verifier failing.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "the Python verifier failed ({:?}): {stderr}",
        output.status
    );
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(answers.len(), texts.len(), "one answer a text; {stderr}");
    answers
}

/// The reason the specification's §8 names for each way `tica_credential` refuses.
fn reason(error: &CredentialError) -> &'static str {
    match error {
        CredentialError::Malformed(_) | CredentialError::Unsupported(_) => "malformed",
        CredentialError::UnknownKey(_) => "unknown_key",
        CredentialError::BadSignature => "bad_signature",
        CredentialError::WrongIssuer { .. } => "wrong_issuer",
        CredentialError::KeyNotInForce { .. } => "key_not_in_force",
    }
}

/// The Rust verifier's verdict, as `tica verify --qr` reaches it: the key set's keys, and its
/// `issuer` unless `issuer` is given.
fn rust_verdict(text: &str, keys: &KeySet, issuer: Option<&str>) -> Result<QrClaims, &'static str> {
    let issuer = issuer
        .or(keys.issuer.as_deref())
        .expect("an issuer to check against");
    qr::verify_qr(text, Some(issuer), &|kid| keys.get(kid)).map_err(|e| reason(&e))
}

/// Asserts that both verifiers reach the same verdict on every case, with the same reason when
/// refused and the same claims when valid; the verdicts.
fn assert_agree(
    python: &Path,
    jwks: &Path,
    issuer: Option<&str>,
    cases: &[(String, String)],
) -> Vec<Result<QrClaims, &'static str>> {
    let keys = tica_credential::key_set_from_jwks(
        &serde_json::from_str(&std::fs::read_to_string(jwks).unwrap()).unwrap(),
    )
    .unwrap();
    let texts: Vec<String> = cases.iter().map(|(_, text)| text.clone()).collect();
    let answers = python_answers(python, jwks, issuer, &texts);
    let mut verdicts = Vec::new();
    for ((case, text), answer) in cases.iter().zip(&answers) {
        let verdict = rust_verdict(text, &keys, issuer);
        match &verdict {
            Ok(claims) => {
                assert_eq!(answer["verdict"], "valid", "{case}: {answer}");
                let c = &answer["claims"];
                let python_claims = QrClaims {
                    version: c["version"].as_u64().unwrap() as u8,
                    kid: c["kid"].as_str().unwrap().into(),
                    id: c["id"].as_str().unwrap().into(),
                    number: c["number"].as_str().unwrap().into(),
                    name: c["name"].as_str().unwrap().into(),
                    id_masked: c["id_masked"].as_str().unwrap().into(),
                    school: c["school"].as_str().unwrap().into(),
                    competency: c["competency"].as_str().unwrap().into(),
                    grade: c["grade"].as_str().unwrap().into(),
                    issuer: c["issuer"].as_str().unwrap().into(),
                    issued: c["issued"].as_str().unwrap().into(),
                };
                assert_eq!(&python_claims, claims, "{case}");
            }
            Err(why) => {
                assert_eq!(answer["verdict"], "not_genuine", "{case}: {answer}");
                assert_eq!(answer["reason"], *why, "{case}: {answer}");
                assert!(answer["claims"].is_null(), "{case}: {answer}");
            }
        }
        eprintln!(
            "{case}: both {} {}",
            answer["verdict"],
            answer["reason"].as_str().unwrap_or_default()
        );
        verdicts.push(verdict);
    }
    verdicts
}

/// `text` with the payload digit at `at` (from the start of the fragment) changed.
fn with_digit_changed(text: &str, at: usize) -> String {
    let (url, digits) = text.split_once('#').unwrap();
    let mut digits = digits.as_bytes().to_vec();
    digits[at] = if digits[at] == b'1' { b'2' } else { b'1' };
    format!("{url}#{}", String::from_utf8(digits).unwrap())
}

fn x(key: &SigningKey) -> String {
    data_encoding::BASE64URL_NOPAD.encode(key.verifying_key().as_bytes())
}

/// A directory of its own under the system's temporary one, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tica-interop-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- real certificates ----

/// Every certificate of the county, as its office lists them.
async fn county_certificates(
    office: &mut tica_client::Certificate,
    county: &str,
) -> Vec<cpb::Certificate> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = office
            .list_certificates(cpb::ListCertificatesRequest {
                parent: format!("jurisdictions/{county}"),
                page_size: 100,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.certificates);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// The body of a plain HTTP answer.
fn body(answer: &str) -> &str {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.split_once("\r\n\r\n").unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_certificates_verify_alike_in_python_and_in_rust_and_altered_ones_are_refused_by_both()
{
    let Some(python) = python() else {
        return;
    };
    let year = Year::certified(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    let mut office = client(
        &year.cluster,
        "county-office",
        Role::CountyOffice,
        COUNTY,
        None,
    );
    let run = issue(&mut office, &year.batch).await;
    assert_eq!(
        run.state,
        cpb::IssuanceRunState::Succeeded as i32,
        "{run:?}"
    );
    let certificates = county_certificates(&mut office, COUNTY).await;
    assert!(certificates.len() >= 12, "{}", certificates.len());
    let competencies: std::collections::BTreeSet<&str> = certificates
        .iter()
        .map(|c| c.facts.as_ref().unwrap().micro_competency.as_str())
        .collect();
    assert!(competencies.len() >= 3, "{competencies:?}");

    // The key set exactly as an agency downloads it (specification §6).
    let dir = Scratch::new();
    let (published, jwks) = downloaded_key_set(&year.cluster, dir.path()).await;
    let issuer = published["issuer"].as_str().unwrap().to_owned();
    let kid = published["keys"][0]["kid"].as_str().unwrap().to_owned();

    let mut cases: Vec<(String, String)> = certificates
        .iter()
        .map(|c| (format!("{} as issued", c.number), c.qr_text.clone()))
        .collect();
    std::fs::write(
        dir.path().join("qr-texts.txt"),
        cases
            .iter()
            .map(|(_, t)| format!("{t}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let first = &certificates[0];
    let genuine = qr::parse_qr(&first.qr_text).unwrap();
    let claims = qr::decode_claims(&genuine.id, &genuine.protected).unwrap();
    let forger = SigningKey::from_bytes(&[7; 32]);
    let (url, digits) = first.qr_text.split_once('#').unwrap();
    let moved = first
        .qr_text
        .replacen("HTTP://127.0.0.1", "HTTP://127.0.0.2", 1);
    assert_ne!(moved, first.qr_text);
    cases.extend([
        // §3: the text before `#` is case-insensitive; the digits are not affected.
        ("lower-cased".into(), first.qr_text.to_lowercase()),
        // §8 step 1: the verification URL alone carries no payload.
        (
            "without its fragment".into(),
            first.verification_url.clone(),
        ),
        (
            "a digit of the claims changed".into(),
            with_digit_changed(&first.qr_text, 40),
        ),
        (
            "a digit of the signature changed".into(),
            with_digit_changed(&first.qr_text, digits.len() - 20),
        ),
        ("moved to another host".into(), moved.clone()),
        (
            "moved onto another certificate's id".into(),
            first
                .qr_text
                .replacen(url, certificates[1].qr_text.split_once('#').unwrap().0, 1),
        ),
        (
            "the same claims signed by another key under the real key id".into(),
            qr::qr_text(&issuer, &claims, &forger).unwrap(),
        ),
        (
            "signed by a key the issuer never published".into(),
            qr::qr_text(
                &issuer,
                &QrClaims {
                    kid: "nobody-1".into(),
                    ..claims.clone()
                },
                &forger,
            )
            .unwrap(),
        ),
        ("garbage".into(), "HTTP://127.0.0.1/C/X#12345".into()),
    ]);
    let verdicts = assert_agree(&python, &jwks, None, &cases);
    let valid = verdicts.iter().filter(|v| v.is_ok()).count();
    assert_eq!(
        valid,
        certificates.len() + 1,
        "every issued one and lower-cased"
    );
    let refused: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| v.as_ref().err().copied())
        .collect();
    assert_eq!(
        refused,
        [
            "malformed",
            refused[1], // a changed claims digit: bad_signature or malformed, alike in both
            "bad_signature",
            "wrong_issuer",
            "bad_signature",
            "bad_signature",
            "unknown_key",
            "malformed"
        ]
    );

    // §4: the base URL is signed. A verifier told the other host is the issuer still refuses.
    let other = issuer.replacen("127.0.0.1", "127.0.0.2", 1);
    let verdicts = assert_agree(
        &python,
        &jwks,
        Some(&other),
        &[("moved, and the other host expected".into(), moved)],
    );
    assert_eq!(verdicts, [Err("bad_signature")]);

    // §6: a key signs only within its span. The same key set with the key activated after the
    // certificates' date, then retired before it.
    for (member, at) in [
        ("activated", "2100-01-01T00:00:00Z"),
        ("retired", "2001-01-01T00:00:00Z"),
    ] {
        let mut shifted = published.clone();
        shifted["keys"][0][member] = at.into();
        let file = dir.path().join(format!("jwks-{member}.json"));
        std::fs::write(&file, shifted.to_string()).unwrap();
        let verdicts = assert_agree(
            &python,
            &file,
            None,
            &[(format!("{kid} {member} {at}"), first.qr_text.clone())],
        );
        assert_eq!(verdicts, [Err("key_not_in_force")]);
    }
    year.cluster.stop().await;
}

/// The key set an agency downloads from `/.well-known/jwks.json` of `cluster`, written to `dir`.
async fn downloaded_key_set(cluster: &tica_e2e::Cluster, dir: &Path) -> (Value, PathBuf) {
    let answer = tica_e2e::http_request(
        &cluster.http(),
        "GET",
        "/.well-known/jwks.json",
        "text/plain",
        b"",
    )
    .await;
    let published: Value = serde_json::from_str(body(&answer)).unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, published.to_string()).unwrap();
    (published, jwks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_certificates_of_a_ningxia_year_verify_alike_in_python_and_in_rust() {
    let Some(python) = python() else {
        return;
    };
    let cluster = tica_e2e::Cluster::start(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    // The demo's Ningxia year (《宁夏测评实施办法》): one level certificate a passed teacher.
    let outcome = tica::demo::run_year(
        &cluster.target(),
        &tica::demo::Options {
            teachers: 40,
            seed: 2022,
            policy: tica::demo::Policy::Ningxia,
            concurrency: 8,
            out: None,
            certificates: tica::demo::Certificates::Sample,
            quiet: true,
        },
    )
    .await
    .expect("the year runs to its end");
    assert!(outcome.certificates_issued > 0, "{outcome:?}");
    let county = "640121";
    let mut office = client(&cluster, "county-office", Role::CountyOffice, county, None);
    let certificates = county_certificates(&mut office, county).await;
    assert_eq!(
        i64::try_from(certificates.len()).unwrap(),
        outcome.certificates_issued
    );
    let dir = Scratch::new();
    let (_, jwks) = downloaded_key_set(&cluster, dir.path()).await;
    let cases: Vec<(String, String)> = certificates
        .iter()
        .map(|c| (format!("{} as issued", c.number), c.qr_text.clone()))
        .collect();
    let verdicts = assert_agree(&python, &jwks, None, &cases);
    for verdict in &verdicts {
        let claims = verdict.as_ref().expect("every level certificate is valid");
        assert_eq!(claims.competency, "level");
        assert!(claims.id_masked.starts_with("6401"), "{claims:?}");
    }
    cluster.stop().await;
}

// ---- what the service does not issue today ----

/// A hand-written CBOR head (RFC 8949 §3): major type and argument, shortest form.
fn head(major: u8, n: u64) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        0x100..=0xffff => [vec![m | 25], (n as u16).to_be_bytes().to_vec()].concat(),
        _ => [vec![m | 26], (n as u32).to_be_bytes().to_vec()].concat(),
    }
}

fn cbor_text(text: &str) -> Vec<u8> {
    [head(3, text.len() as u64), text.as_bytes().to_vec()].concat()
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    [head(2, bytes.len() as u64), bytes.to_vec()].concat()
}

/// A version-1 QR text built from the specification's §5 alone (certificates issued before
/// version 2 carry them; `tica_credential` no longer writes them).
fn version_1_text(base: &str, c: &QrClaims, key: &SigningKey) -> String {
    let mut claims = head(4, 10);
    claims.extend(head(0, 1));
    for text in [
        &c.kid,
        &c.number,
        &c.name,
        &c.id_masked,
        &c.school,
        &c.competency,
        &c.grade,
        &c.issuer,
        &c.issued,
    ] {
        claims.extend(cbor_text(text));
    }
    let message = [c.id.as_bytes(), &[0x1f], &claims].concat();
    let signature = key.sign(&message).to_bytes();
    let payload = [head(4, 2), cbor_bytes(&claims), cbor_bytes(&signature)].concat();
    let (scheme, host) = base.split_once("://").unwrap();
    format!(
        "{}://{}/C/{}#{}",
        scheme.to_uppercase(),
        host.to_uppercase(),
        c.id.to_uppercase(),
        data_encoding::BASE32_NOPAD.encode(&payload)
    )
}

const BASE: &str = "https://zhengshu.jyt.nx.tica.example";

/// A fictional Ningxia level certificate with every kind of text: a name with a CJK Extension B
/// character (four bytes in GB 18030), a long school name, the region's issuer.
fn level_certificate() -> QrClaims {
    QrClaims {
        version: 2,
        kid: "640000-2026-1".into(),
        id: "q7zk3m9x2v4j8d1r5t6w0nbhcp".into(),
        number: "640104-2026-000042".into(),
        name: "𠀀示例".into(),
        id_masked: "6401**********042X".into(),
        school: "宁夏回族自治区银川市示例区第二十一小学（北校区）".into(),
        competency: "level".into(),
        grade: "优秀".into(),
        issuer: "宁夏回族自治区教育厅能力提升2.0办公室".into(),
        issued: "2026-12-31".into(),
    }
}

#[test]
fn a_version_1_payload_a_level_certificate_and_key_spans_verify_alike_in_python_and_in_rust() {
    let Some(python) = python() else {
        return;
    };
    let dir = Scratch::new();
    let active = SigningKey::from_bytes(&[5; 32]);
    let retired = SigningKey::from_bytes(&[4; 32]);
    let spring = SigningKey::from_bytes(&[6; 32]);
    let jwks = dir.path().join("jwks.json");
    // 2026-03-02T16:00:00Z is 2026-03-03 00:00 in China: the key's first day is 3 March.
    std::fs::write(
        &jwks,
        json!({ "issuer": BASE, "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2026-1", "x": x(&active),
              "use": "sig", "alg": "EdDSA", "activated": "2026-01-01T00:00:00Z" },
            { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2024-1", "x": x(&retired),
              "use": "sig", "alg": "EdDSA", "activated": "2024-01-01T00:00:00Z",
              "retired": "2024-12-31T15:59:59Z" },
            { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2026-3", "x": x(&spring),
              "activated": "2026-03-02T16:00:00Z" },
        ]})
        .to_string(),
    )
    .unwrap();
    let level = level_certificate();
    let v1 = QrClaims {
        version: 1,
        ..level.clone()
    };
    let v1_text = version_1_text(BASE, &v1, &active);
    let v2_text = qr::qr_text(BASE, &level, &active).unwrap();
    let signed_by = |kid: &str, key: &SigningKey, issued: &str| {
        qr::qr_text(
            BASE,
            &QrClaims {
                kid: kid.into(),
                issued: issued.into(),
                ..level.clone()
            },
            key,
        )
        .unwrap()
    };
    let cases: Vec<(String, String)> = vec![
        ("a level certificate, version 2".into(), v2_text.clone()),
        ("the same, version 1".into(), v1_text.clone()),
        (
            "version 1 moved to another host".into(),
            v1_text.replacen("ZHENGSHU.", "EVIL.", 1),
        ),
        (
            "version 1 with a character of its payload changed".into(),
            {
                let (url, payload) = v1_text.split_once('#').unwrap();
                let at = payload.len() - 10;
                let swap = if &payload[at..=at] == "A" { "B" } else { "A" };
                format!("{url}#{}{swap}{}", &payload[..at], &payload[at + 1..])
            },
        ),
        (
            "a retired key on its last day (China time)".into(),
            signed_by("640000-2024-1", &retired, "2024-12-31"),
        ),
        (
            "a retired key after its retirement".into(),
            signed_by("640000-2024-1", &retired, "2025-01-01"),
        ),
        (
            "a key on the China day it was activated".into(),
            signed_by("640000-2026-3", &spring, "2026-03-03"),
        ),
        (
            "a key the day before (its UTC activation date)".into(),
            signed_by("640000-2026-3", &spring, "2026-03-02"),
        ),
        ("version 2 lower-cased".into(), v2_text.to_lowercase()),
    ];
    let verdicts = assert_agree(&python, &jwks, None, &cases);
    let outcomes: Vec<Result<(), &str>> = verdicts
        .iter()
        .map(|v| v.as_ref().map(|_| ()).map_err(|e| *e))
        .collect();
    assert_eq!(
        outcomes,
        [
            Ok(()),
            Ok(()),
            Err("wrong_issuer"),
            outcomes[3], // bad_signature or malformed, alike in both
            Ok(()),
            Err("key_not_in_force"),
            Ok(()),
            Err("key_not_in_force"),
            Ok(()),
        ]
    );
    assert!(outcomes[3].is_err());
    assert_eq!(verdicts[1].as_ref().unwrap(), &v1);
    assert!(qr::qr_version(&v2_text).unwrap() <= qr::MAX_VERSION);
}

/// A CBOR array of already encoded items.
fn array(items: &[Vec<u8>]) -> Vec<u8> {
    [head(4, items.len() as u64), items.concat()].concat()
}

#[test]
fn the_edges_of_the_format_are_read_alike_in_python_and_in_rust() {
    let Some(python) = python() else {
        return;
    };
    let dir = Scratch::new();
    let key = SigningKey::from_bytes(&[5; 32]);
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        json!({ "issuer": BASE, "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2026-1", "x": x(&key),
              "activated": "2026-01-01T00:00:00Z" }]})
        .to_string(),
    )
    .unwrap();
    let id = "q7zk3m9x2v4j8d1r5t6w0nbhcp";
    let address = format!(
        "HTTPS://ZHENGSHU.JYT.NX.TICA.EXAMPLE/C/{}",
        id.to_uppercase()
    );
    // Version-2 claims written by hand (§4.2); ASCII is its own GB 18030.
    let claims = |version: u64, name: Vec<u8>, grade: Vec<u8>| {
        array(&[
            head(0, version),
            cbor_text("640000-2026-1"),
            cbor_text("640104-2026-000042"),
            name,
            cbor_text("6401**********042X"),
            cbor_bytes(b"Example School"),
            cbor_text("B2"),
            grade,
            cbor_bytes(b"Example Office"),
            head(0, 20261124),
        ])
    };
    let good = claims(2, cbor_bytes(b"Li Si"), head(0, 1));
    // §4.3 and §5.3.
    let sign_v2 = |claims: &[u8]| {
        let message = [
            b"tica-qr-v2\x1f",
            BASE.as_bytes(),
            b"\x1f",
            id.as_bytes(),
            b"\x1f",
            claims,
        ];
        key.sign(&message.concat()).to_bytes().to_vec()
    };
    let sign_v1 = |claims: &[u8]| {
        key.sign(&[id.as_bytes(), b"\x1f", claims].concat())
            .to_bytes()
            .to_vec()
    };
    let digits = |claims: &[u8], signature: &[u8]| {
        format!("{address}#{}", qr::to_digits(&[claims, signature].concat()))
    };
    let envelope = |claims: &[u8], signature: &[u8]| {
        let payload = array(&[cbor_bytes(claims), cbor_bytes(signature)]);
        format!("{address}#{}", data_encoding::BASE32_NOPAD.encode(&payload))
    };
    let v1_with = |grade: &str, issued: &str| {
        array(
            &[
                vec![head(0, 1)],
                [
                    "640000-2026-1",
                    "640104-2026-000042",
                    "Li Si",
                    "6401**********042X",
                    "Example School",
                    "B2",
                    grade,
                    "Example Office",
                    issued,
                ]
                .map(cbor_text)
                .to_vec(),
            ]
            .concat(),
        )
    };
    let v1 = v1_with("合格", "2026-11-24");
    let v1_grade = v1_with("满分", "2026-11-24");
    let v1_feb_31 = v1_with("合格", "2026-02-31");
    // The date is the claims' last item: head(0, 20261124), five bytes.
    let feb_31 = [good[..good.len() - 5].to_vec(), head(0, 20260231)].concat();
    let feb_29 = [good[..good.len() - 5].to_vec(), head(0, 20240229)].concat();
    let with_trailing_byte = [good.clone(), vec![0]].concat();
    let version_3 = claims(3, cbor_bytes(b"Li Si"), head(0, 1));
    let grade_3 = claims(2, cbor_bytes(b"Li Si"), head(0, 3));
    let grade_true = claims(2, cbor_bytes(b"Li Si"), vec![0xf5]);
    let name_as_text = claims(2, cbor_text("Li Si"), head(0, 1));
    let eleven = {
        let mut c = good.clone();
        c[0] = 0x8b;
        c.push(0);
        c
    };
    let not_gb18030 = claims(2, cbor_bytes(&[0x81, 0x20]), head(0, 1));
    let cases: Vec<(String, String, &str)> = vec![
        (
            "hand-written version 2".into(),
            digits(&good, &sign_v2(&good)),
            "valid",
        ),
        (
            "white space around the text (§3.3 step 1)".into(),
            format!("\t {} ", digits(&good, &sign_v2(&good))),
            "valid",
        ),
        (
            "version 2 claims in a base32 envelope: the claims decide (§4.2)".into(),
            envelope(&good, &sign_v2(&good)),
            "valid",
        ),
        (
            "version 1 claims as digits: the claims decide (§4.2)".into(),
            digits(&v1, &sign_v1(&v1)),
            "valid",
        ),
        (
            "version 1 lower-cased: base32 is upper case (§5.1)".into(),
            envelope(&v1, &sign_v1(&v1)).to_lowercase(),
            "malformed",
        ),
        (
            "a version-1 signature of 63 bytes (§8 step 5)".into(),
            envelope(&v1, &sign_v1(&v1)[..63]),
            "malformed",
        ),
        (
            "signed bytes after the claims' array (§4.2: issuers write none)".into(),
            digits(&with_trailing_byte, &sign_v2(&with_trailing_byte)),
            "either",
        ),
        (
            "version 3".into(),
            digits(&version_3, &sign_v2(&version_3)),
            "malformed",
        ),
        (
            "grade 3".into(),
            digits(&grade_3, &sign_v2(&grade_3)),
            "malformed",
        ),
        (
            "31 February (§4.2: a day of the calendar)".into(),
            digits(&feb_31, &sign_v2(&feb_31)),
            "malformed",
        ),
        (
            "29 February of a leap year".into(),
            digits(&feb_29, &sign_v2(&feb_29)),
            "key_not_in_force",
        ),
        (
            "version 1 with a grade TICA never gives (§5.2)".into(),
            envelope(&v1_grade, &sign_v1(&v1_grade)),
            "malformed",
        ),
        (
            "version 1 dated 31 February (§5.2)".into(),
            envelope(&v1_feb_31, &sign_v1(&v1_feb_31)),
            "malformed",
        ),
        (
            "grade true".into(),
            digits(&grade_true, &sign_v2(&grade_true)),
            "malformed",
        ),
        (
            "the name a text string".into(),
            digits(&name_as_text, &sign_v2(&name_as_text)),
            "malformed",
        ),
        (
            "the name not GB 18030".into(),
            digits(&not_gb18030, &sign_v2(&not_gb18030)),
            "malformed",
        ),
        (
            "eleven members".into(),
            digits(&eleven, &sign_v2(&eleven)),
            "malformed",
        ),
        (
            "a digit group above 2^56 (§4.1)".into(),
            format!("{address}#{}", "9".repeat(17 * 10)),
            "malformed",
        ),
        (
            "digits of no group length (§4.1)".into(),
            format!("{address}#{}", "1".repeat(17 * 10 + 4)),
            "malformed",
        ),
        (
            "an empty fragment".into(),
            format!("{address}#"),
            "malformed",
        ),
        (
            "a second /C/ in the address: the last one counts (§3.3)".into(),
            digits(&good, &sign_v2(&good)).replacen("/C/", "/C/X/C/", 1),
            "wrong_issuer",
        ),
    ];
    let texts: Vec<(String, String)> = cases
        .iter()
        .map(|(case, text, _)| (case.clone(), text.clone()))
        .collect();
    let verdicts = assert_agree(&python, &jwks, None, &texts);
    for ((case, _, expected), verdict) in cases.iter().zip(&verdicts) {
        let got = verdict.as_ref().map_or_else(|e| *e, |_| "valid");
        assert!(
            *expected == "either" || got == *expected,
            "{case}: {got}, the specification says {expected}"
        );
    }
}

/// §6.2: a key set that names one kid twice is unusable to both verifiers, which read no
/// certificate against it, rather than each picking one of the two keys.
#[test]
fn a_key_set_naming_a_key_id_twice_is_refused_by_both_verifiers() {
    let Some(python) = python() else {
        return;
    };
    let dir = Scratch::new();
    let jwks = dir.path().join("jwks.json");
    let document = json!({ "issuer": BASE, "keys": [
        { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2026-1",
          "x": x(&SigningKey::from_bytes(&[5; 32])) },
        { "kty": "OKP", "crv": "Ed25519", "kid": "640000-2026-1",
          "x": x(&SigningKey::from_bytes(&[6; 32])) }]});
    std::fs::write(&jwks, document.to_string()).unwrap();
    assert!(matches!(
        tica_credential::key_set_from_jwks(&document),
        Err(CredentialError::Malformed(_))
    ));
    let output = Command::new(&python)
        .arg(tica_e2e::interop::script("verify_qr.py"))
        .arg("--jwks")
        .arg(&jwks)
        .arg(format!("{BASE}/c/q7zk3m9x2v4j8d1r5t6w0nbhcp#0"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("twice"),
        "{output:?}"
    );
}

// ---- the worked example ----

/// The inputs of the specification's §9, fictional.
fn example() -> (String, QrClaims, SigningKey) {
    (
        "https://verify.tica.example".into(),
        QrClaims {
            version: 2,
            kid: "340000-2026-1".into(),
            id: "0123456789abcdefghjkmnpqrs".into(),
            number: "341324-2026-000001".into(),
            name: "李四".into(),
            id_masked: "3413**********001X".into(),
            school: "泗县示例小学".into(),
            competency: "B2".into(),
            grade: "合格".into(),
            issuer: "泗县教育体育局".into(),
            issued: "2026-11-24".into(),
        },
        SigningKey::from_bytes(&[7; 32]),
    )
}

#[test]
fn the_specifications_worked_example_is_exactly_what_the_code_writes() {
    let (base, claims, key) = example();
    let signed = qr::sign_claims(&base, &claims, &key).unwrap();
    let text = qr::encode_qr(&base, &claims.id, &signed).unwrap();
    let spec =
        std::fs::read_to_string(tica_e2e::interop::repository().join("docs/qr-format.md")).unwrap();
    // The document wraps long values at 64 characters; compare without line breaks.
    let unwrapped: String = spec.split_whitespace().collect();
    let message = [
        b"tica-qr-v2\x1f".as_slice(),
        base.as_bytes(),
        &[0x1f],
        claims.id.as_bytes(),
        &[0x1f],
        &signed.protected,
    ]
    .concat();
    for (what, value) in [
        ("public key (x)", x(&key)),
        ("claims", hex::encode(&signed.protected)),
        ("signature input", hex::encode(&message)),
        ("signature", hex::encode(signed.signature)),
        ("QR text", text.clone()),
    ] {
        eprintln!("{what}: {value}");
        assert!(
            unwrapped.contains(&value),
            "docs/qr-format.md §9 lacks the {what} the code writes: {value}"
        );
    }
    assert_eq!(
        qr::verify_qr(&text, Some(&base), &|kid| {
            (kid == claims.kid).then(|| qr::PublishedKey::unbounded(key.verifying_key()))
        }),
        Ok(claims.clone())
    );
    eprintln!("QR version: {}", qr::qr_version(&text).unwrap());
    // And the Python verifier, against the example's key set, finds it valid.
    if let Some(python) = python() {
        let dir = Scratch::new();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(
            &jwks,
            json!({ "issuer": base, "keys": [{ "kty": "OKP", "crv": "Ed25519",
                "kid": claims.kid, "x": x(&key), "activated": "2026-01-01T00:00:00Z" }] })
            .to_string(),
        )
        .unwrap();
        let verdicts = assert_agree(&python, &jwks, None, &[("§9".into(), text)]);
        assert_eq!(verdicts, [Ok(claims)]);
    }
}
