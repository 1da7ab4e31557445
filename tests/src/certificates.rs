//! The certificate chapter of a county's year, over gRPC and HTTP: issue a certified batch,
//! issue again (nothing twice), verify by id, by QR text and by PDF, tamper and forge, verify
//! offline against the published keys, open the verification page in a browser from the QR code
//! read out of the rendered PDF, revoke, prove the log independently, search, archive.

use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::certificate::v1::certificate_service_client::CertificateServiceClient;
use tracing::Instrument;

use crate::Cluster;
use crate::traces::{CLIENT, SERVER};

/// A certificate client that authenticates every call (and carries the caller's trace).
pub type CertificateClient = tica_client::Certificate;

/// A certificate client for `role` acting for `jurisdiction` (and `school`), as `subject`.
pub fn client(
    cluster: &Cluster,
    subject: &str,
    role: Role,
    jurisdiction: &str,
    school: Option<&str>,
) -> CertificateClient {
    tica_client::certificate(
        cluster.channel.clone(),
        &cluster.token_as(subject, role, jurisdiction, school),
    )
}

/// Starts a run of `batch` and follows it to its end.
pub async fn issue(office: &mut CertificateClient, batch: &str) -> cpb::IssuanceRun {
    let run = office
        .start_issuance_run(cpb::StartIssuanceRunRequest {
            batch: batch.to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut watch = office
        .watch_issuance_run(cpb::WatchIssuanceRunRequest { name: run.name })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(update) = watch.message().await.unwrap() {
        last = Some(update);
    }
    last.expect("at least the run's state")
}

/// Downloads a certificate's PDF.
pub async fn download(
    client: &mut CertificateClient,
    name: &str,
) -> (cpb::DownloadCertificatePdfResponse, Vec<u8>) {
    use cpb::download_certificate_pdf_response::Payload;
    let mut stream = client
        .download_certificate_pdf(cpb::DownloadCertificatePdfRequest {
            name: name.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().expect("metadata first");
    assert!(matches!(first.payload, Some(Payload::Metadata(_))));
    let mut bytes = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        match m.payload {
            Some(Payload::Chunk(c)) => bytes.extend_from_slice(&c),
            other => panic!("only chunks follow the metadata: {other:?}"),
        }
    }
    (first, bytes)
}

/// Verifies one subject with no token.
pub async fn verify(
    cluster: &Cluster,
    subject: cpb::verify_request::Subject,
) -> cpb::VerifyResponse {
    CertificateServiceClient::new(cluster.channel.clone())
        .verify(cpb::VerifyRequest {
            subject: Some(subject),
        })
        .await
        .unwrap()
        .into_inner()
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Runs `tica certificates ARGS…` against `server` with `token`.
pub async fn cli(args: &[&str], server: &str, token: &str) -> anyhow::Result<()> {
    use clap::Parser;
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        command: tica::certificate::CertificatesCommand,
    }
    let mut argv = vec!["tica-certificates", "--server", server, "--token", token];
    argv.extend_from_slice(args);
    let parsed = Cli::try_parse_from(argv)?;
    tica::certificate::run(parsed.command).await
}

/// A teacher of the county: name and full ID number.
#[derive(Clone, Debug)]
pub struct Holder {
    /// Teacher number.
    pub number: String,
    /// Name as registered.
    pub name: String,
    /// Full resident ID number.
    pub id_number: String,
    /// School code.
    pub school: String,
}

/// The whole chapter for a CERTIFIED `batch` of `county` with `expected` certified results;
/// `holder` has certificates among them.
pub async fn certificates_chapter(
    cluster: &Cluster,
    batch: &str,
    county: &str,
    expected: i64,
    holder: &Holder,
) {
    use cpb::verify_request::Subject;
    let mut office = client(cluster, "county-office", Role::CountyOffice, county, None);

    // Issue: one certificate per certified result; a second run issues nothing twice. The
    // first run is traced from this test's own span through every service it reaches.
    let receiver = crate::traces::receiver();
    let root = tracing::info_span!("e2e", otel.name = "e2e: issue a county's certificates");
    let trace_id = crate::traces::trace_id(&root);
    let run = issue(&mut office, batch).instrument(root).await;
    assert_one_trace_across_services(receiver, &trace_id);
    assert_eq!(
        run.state,
        cpb::IssuanceRunState::Succeeded as i32,
        "{run:?}"
    );
    assert_eq!(run.certificates_issued, expected, "{run:?}");
    assert_eq!(run.cursor, run.target_sequence);
    let again = issue(&mut office, batch).await;
    assert_eq!(
        again.state,
        cpb::IssuanceRunState::Succeeded as i32,
        "{again:?}"
    );
    assert_eq!(
        again.name,
        format!("issuanceRuns/{}-2", batch.trim_start_matches("batches/"))
    );
    assert_eq!((again.certificates_issued, again.events_processed), (0, 0));
    assert_eq!(
        again.start_after_sequence, run.cursor,
        "the second run resumes after the first"
    );
    let all = office
        .list_certificates(cpb::ListCertificatesRequest {
            parent: format!("jurisdictions/{county}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, expected);

    // The holder's certificates, as the holder sees them.
    let mut teacher = client(
        cluster,
        &holder.number,
        Role::Teacher,
        county,
        Some(&holder.school),
    );
    let mine = teacher
        .list_certificates(cpb::ListCertificatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!mine.certificates.is_empty());
    assert!(
        mine.certificates
            .iter()
            .all(|c| c.teacher == format!("teachers/{}", holder.number))
    );
    let cert = mine.certificates[0].clone();
    let facts = cert.facts.clone().unwrap();
    assert_eq!(facts.teacher_display_name, holder.name);
    assert!(facts.teacher_id_number_masked.contains("**********"));
    assert_eq!(
        cert.name.len(),
        "certificates/".len() + 26,
        "128-bit id: {}",
        cert.name
    );
    assert!(
        cert.number.starts_with(&format!("{county}-")),
        "{}",
        cert.number
    );
    let (metadata, pdf) = download(&mut teacher, &cert.name).await;
    assert_eq!(hex::encode(Sha256::digest(&pdf)), cert.pdf_sha256);
    assert!(
        pdf.len() <= 25 * 1024,
        "a certificate PDF of {} bytes",
        pdf.len()
    );
    let _ = metadata;

    // The operator's CLI over the same server: issue (a third run, nothing new), download, verify.
    let server = format!("http://{}", cluster.suite.as_ref().unwrap().grpc_addr);
    let token = cluster.token_as("county-office", Role::CountyOffice, county, None);
    let out = cluster.data_dir().join("cli-certificate.pdf");
    cli(&["issue", "--batch", batch], &server, &token)
        .await
        .expect("tica certificates issue");
    cli(
        &["download", &cert.name, "--out", out.to_str().unwrap()],
        &server,
        &token,
    )
    .await
    .expect("tica certificates download");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        pdf,
        "the CLI saves exactly the PDF issued"
    );
    cli(&["verify", "--pdf", out.to_str().unwrap()], &server, &token)
        .await
        .expect("the downloaded PDF verifies");
    let mut forged = pdf.clone();
    let at = forged.len() / 2;
    forged[at] ^= 0x10;
    std::fs::write(&out, &forged).unwrap();
    assert!(
        cli(&["verify", "--pdf", out.to_str().unwrap()], &server, &token)
            .await
            .is_err(),
        "an altered PDF makes `tica certificates verify` fail"
    );

    // Valid by id, by QR text, by PDF bytes.
    for subject in [
        Subject::Certificate(cert.name.clone()),
        Subject::QrText(cert.qr_text.clone()),
        Subject::Pdf(pdf.clone()),
    ] {
        let v = verify(cluster, subject).await;
        assert_eq!(v.verdict, cpb::Verdict::Valid as i32, "{v:?}");
        assert_eq!(v.message, "有效 VALID");
        assert_eq!(v.facts.as_ref().unwrap().teacher_display_name, holder.name);
    }
    // Not genuine: a byte flipped in the payload, another key under the same id, an unknown
    // key, an unknown id, an altered PDF.
    let (url, payload) = cert.qr_text.split_once('#').unwrap();
    let mut digits = payload.as_bytes().to_vec();
    let middle = digits.len() / 2;
    digits[middle] = if digits[middle] == b'1' { b'2' } else { b'1' };
    let flipped = format!("{url}#{}", String::from_utf8(digits).unwrap());
    let v = verify(cluster, Subject::QrText(flipped)).await;
    assert_eq!(v.verdict, cpb::Verdict::NotGenuine as i32, "{v:?}");
    assert!(
        [
            cpb::VerifyFailure::BadSignature as i32,
            cpb::VerifyFailure::Malformed as i32
        ]
        .contains(&v.failure),
        "{v:?}"
    );
    let claims = tica_credential::qr::QrClaims {
        version: 2,
        kid: facts.key_id.clone(),
        id: cert.name.trim_start_matches("certificates/").to_owned(),
        number: cert.number.clone(),
        name: holder.name.clone(),
        id_masked: facts.teacher_id_number_masked.clone(),
        school: facts.school_display_name.clone(),
        competency: facts.micro_competency.clone(),
        grade: "优秀".into(),
        issuer: facts.issuing_authority.clone(),
        issued: "2022-12-30".into(),
    };
    let forger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let base = url.split("/C/").next().unwrap();
    let forged = tica_credential::qr::qr_text(base, &claims, &forger).unwrap();
    // The same forgery with only the grade changed, for the page.
    let genuine_claims = {
        let scanned = tica_credential::qr::parse_qr(&cert.qr_text).unwrap();
        tica_credential::qr::decode_claims(&scanned.id, &scanned.protected).unwrap()
    };
    let forged_on_page = tica_credential::qr::qr_text(
        base,
        &tica_credential::qr::QrClaims {
            grade: if genuine_claims.grade == "合格" {
                "优秀"
            } else {
                "合格"
            }
            .into(),
            ..genuine_claims.clone()
        },
        &forger,
    )
    .unwrap();
    let (forged_grade, real_grade) = if genuine_claims.grade == "合格" {
        ("优秀", "合格")
    } else {
        ("合格", "优秀")
    };
    let v = verify(cluster, Subject::QrText(forged)).await;
    assert_eq!(v.failure, cpb::VerifyFailure::BadSignature as i32, "{v:?}");
    let unknown_key = tica_credential::qr::qr_text(
        base,
        &tica_credential::qr::QrClaims {
            kid: "nobody-1".into(),
            ..claims.clone()
        },
        &forger,
    )
    .unwrap();
    let v = verify(cluster, Subject::QrText(unknown_key)).await;
    assert_eq!(v.failure, cpb::VerifyFailure::UnknownKey as i32, "{v:?}");
    let v = verify(
        cluster,
        Subject::Certificate("certificates/0000000000000000000000000z".into()),
    )
    .await;
    assert_eq!(
        (v.verdict, v.failure),
        (
            cpb::Verdict::NotGenuine as i32,
            cpb::VerifyFailure::UnknownId as i32
        )
    );
    let mut altered = pdf.clone();
    let at = altered.len() / 3;
    altered[at] ^= 0x20;
    let v = verify(cluster, Subject::Pdf(altered)).await;
    assert_eq!(v.failure, cpb::VerifyFailure::PdfAltered as i32, "{v:?}");

    // The page's PDF check: the exact file, then an altered one.
    let answer = crate::http_request(
        &cluster.http(),
        "POST",
        "/verify/pdf",
        "application/pdf",
        &pdf,
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("有效"),
        "{answer}"
    );
    assert!(answer.contains("与签发文件完全一致"), "{answer}");
    let mut touched = pdf.clone();
    let at = touched.len() / 4;
    touched[at] ^= 0x08;
    let answer = crate::http_request(
        &cluster.http(),
        "POST",
        "/verify/pdf",
        "application/pdf",
        &touched,
    )
    .await;
    assert!(
        answer.contains("无法验证") && answer.contains("文件已被修改"),
        "{answer}"
    );

    // BatchVerify: one answer per request, in order; more than 1,000 is refused.
    let batch_answer = CertificateServiceClient::new(cluster.channel.clone())
        .batch_verify(cpb::BatchVerifyRequest {
            requests: vec![
                cpb::VerifyRequest {
                    subject: Some(Subject::Certificate(cert.name.clone())),
                },
                cpb::VerifyRequest {
                    subject: Some(Subject::QrText("https://example.com/nothing".into())),
                },
                cpb::VerifyRequest {
                    subject: Some(Subject::Pdf(pdf.clone())),
                },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let verdicts: Vec<i32> = batch_answer.responses.iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [
            cpb::Verdict::Valid as i32,
            cpb::Verdict::NotGenuine as i32,
            cpb::Verdict::Valid as i32
        ]
    );
    let too_many = CertificateServiceClient::new(cluster.channel.clone())
        .batch_verify(cpb::BatchVerifyRequest {
            requests: vec![
                cpb::VerifyRequest {
                    subject: Some(Subject::Certificate(cert.name.clone())),
                };
                1001
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), tonic::Code::InvalidArgument);

    // Offline: the QR text against the published keys alone.
    let keys = CertificateServiceClient::new(cluster.channel.clone())
        .list_signing_keys(cpb::ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    let jwks: serde_json::Value = serde_json::from_str(&keys.jwks_json).unwrap();
    let published = tica_credential::keys_from_jwks(&jwks).unwrap();
    let offline = tica_credential::qr::verify_qr(&cert.qr_text, None, &|kid| {
        published
            .get(kid)
            .copied()
            .map(tica_credential::qr::PublishedKey::unbounded)
    })
    .expect("the QR verifies offline");
    assert_eq!(offline.name, holder.name);

    // The Verifiable Credential verifies against the same keys.
    let credential = teacher
        .get_certificate_credential(cpb::GetCertificateCredentialRequest {
            name: cert.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let vc: serde_json::Value = serde_json::from_str(&credential.credential_json).unwrap();
    let kid_of = |method: &str| {
        method
            .rsplit_once('#')
            .map(|(_, k)| k.to_owned())
            .unwrap_or_default()
    };
    tica_credential::verify(&vc, &|method| published.get(&kid_of(method)).copied())
        .expect("the credential verifies");

    // The browser: the QR read out of the rendered certificate opens the page, which says 有效.
    let tools = crate::browser::tools();
    if let Some(tools) = &tools {
        let png = tools.render_png(&pdf, 150);
        // `TICA_E2E_ARTIFACTS=DIR` keeps what a person would look at.
        if let Some(dir) = std::env::var_os("TICA_E2E_ARTIFACTS") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("certificate.pdf"), &pdf).unwrap();
            std::fs::write(dir.join("certificate.png"), &png).unwrap();
            let page = tools.screenshot(&cert.qr_text, 412, 915);
            std::fs::write(dir.join("verification-page.png"), page).unwrap();
            let page = tools.screenshot(&forged_on_page, 412, 915);
            std::fs::write(dir.join("forged-page.png"), page).unwrap();
        }
        let scanned = crate::browser::decode_qr(&png).expect("the QR code reads back");
        assert_eq!(scanned, cert.qr_text);
        let dom = tools.dump_dom(&scanned);
        assert!(dom.contains("有效"), "{dom}");
        assert!(dom.contains(&holder.name), "{dom}");
        assert!(
            !dom.contains(&holder.id_number),
            "the full ID number never shows"
        );
        // On a phone: the genuine code says 有效 once the page has checked its fragment; a code
        // whose signed fragment was altered (合格 → 优秀, re-signed by a forger under TICA's key
        // id) opens the same page, which says 无法验证 and names what differs; without script
        // the page never shows a bare green verdict.
        // What the page shows as its result (its templates hold other verdicts, unshown).
        let result = |dom: &str| {
            let start = dom.find("id=\"result\"").unwrap_or(0);
            let end = dom[start..]
                .find("<template")
                .map_or(dom.len(), |e| start + e);
            dom[start..end].to_owned()
        };
        let text = |dom: &str| crate::browser::page_text(&result(dom));
        // Opened without a fragment (the address typed): the registered certificate's verdict.
        let typed = tools.dump_dom_on_phone(&cert.verification_url);
        assert!(result(&typed).contains("verdict valid"), "{typed}");
        let genuine = tools.dump_dom_on_phone(&scanned);
        assert!(
            result(&genuine).contains("verdict valid") && text(&genuine).contains("有效 VALID"),
            "{genuine}"
        );
        assert!(
            text(&genuine).contains("二维码内容与登记的证书完全一致"),
            "{genuine}"
        );
        let forged_page = tools.dump_dom_on_phone(&forged_on_page);
        let shown = text(&forged_page);
        assert!(
            shown.contains("无法验证 NOT GENUINE")
                && !result(&forged_page).contains("verdict valid"),
            "{forged_page}"
        );
        assert!(
            shown.contains(&format!("等级 Grade {forged_grade} {real_grade}")),
            "{shown}"
        );
        // Without script a browser shows the page as served (templates inert): 已登记 and the
        // request to compare the paper, never a green verdict.
        let served = crate::http_request(
            &cluster.http(),
            "GET",
            &format!("/c/{}", cert.name.trim_start_matches("certificates/")),
            "text/plain",
            b"",
        )
        .await;
        assert!(
            !result(&served).contains("verdict valid")
                && text(&served).contains("已登记 REGISTERED")
                && served.contains("<noscript>"),
            "{served}"
        );
        let fonts = tools.pdf_fonts(&pdf);
        assert!(fonts.contains("yes yes"), "an embedded subset: {fonts}");
    }

    // Revoke: the same URL now says 已撤销, with the reason.
    let refused = teacher
        .revoke_certificate(cpb::RevokeCertificateRequest {
            name: cert.name.clone(),
            reason: cpb::RevocationReason::Fraud as i32,
            explanation: "x".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let missing = office
        .revoke_certificate(cpb::RevokeCertificateRequest {
            name: cert.name.clone(),
            reason: cpb::RevocationReason::IssuedInError as i32,
            explanation: "  ".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    let revoked = office
        .revoke_certificate(cpb::RevokeCertificateRequest {
            name: cert.name.clone(),
            reason: cpb::RevocationReason::IssuedInError as i32,
            explanation: "复核结果不合格，证书撤销".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.status, cpb::CertificateStatus::Revoked as i32);
    let v = verify(cluster, Subject::QrText(cert.qr_text.clone())).await;
    assert_eq!(v.verdict, cpb::Verdict::Revoked as i32, "{v:?}");
    assert_eq!(v.message, "已撤销 REVOKED");
    assert_eq!(
        v.revocation.as_ref().unwrap().explanation,
        "复核结果不合格，证书撤销"
    );
    if let Some(tools) = &tools {
        let dom = tools.dump_dom(&cert.qr_text);
        assert!(dom.contains("已撤销"), "{dom}");
        let typed = tools.dump_dom(&cert.verification_url);
        let shown = &typed[typed.find("id=\"result\"").unwrap_or(0)..];
        assert!(
            shown.contains("verdict revoked")
                && !shown[..shown.find("<template").unwrap_or(shown.len())]
                    .contains("verdict valid"),
            "a revoked certificate's page stays 已撤销 without a fragment: {typed}"
        );
        assert!(dom.contains("复核结果不合格"), "{dom}");
    }
    let twice = office
        .revoke_certificate(cpb::RevokeCertificateRequest {
            name: cert.name.clone(),
            reason: cpb::RevocationReason::Other as i32,
            explanation: "again".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), tonic::Code::FailedPrecondition);

    // The log: the issuance entry's inclusion and the log's growth, checked by an RFC 9162
    // verifier that shares no code with the service, under a checkpoint signed by a published key.
    let mut public = CertificateServiceClient::new(cluster.channel.clone());
    let proof = public
        .get_inclusion_proof(cpb::GetInclusionProofRequest {
            entry: Some(cpb::get_inclusion_proof_request::Entry::Certificate(
                cert.name.clone(),
            )),
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let entry = proof.entry.clone().unwrap();
    assert_eq!(entry.index, cert.log_index);
    let checkpoint = proof.checkpoint.clone().unwrap();
    assert_eq!(
        checkpoint.tree_size,
        expected + 1,
        "every issue and the revocation"
    );
    let leaf = crate::rfc9162::leaf_hash(&entry.entry);
    assert_eq!(leaf.to_vec(), entry.leaf_hash);
    crate::rfc9162::verify_inclusion(
        entry.index as u64,
        proof.tree_size as u64,
        &leaf,
        &proof.hashes,
        &checkpoint.root_hash,
    )
    .expect("the inclusion proof verifies");
    let key = published
        .get(&checkpoint.key_id)
        .expect("a published key signed the checkpoint");
    let signature = ed25519_dalek::Signature::from_slice(&checkpoint.signature).unwrap();
    ed25519_dalek::Verifier::verify(key, checkpoint.note.as_bytes(), &signature)
        .expect("the checkpoint's signature verifies");
    assert!(
        checkpoint
            .note
            .contains(&format!("\n{}\n", checkpoint.tree_size))
    );
    let earlier = public
        .get_log_checkpoint(cpb::GetLogCheckpointRequest {
            tree_size: expected,
        })
        .await
        .unwrap()
        .into_inner();
    let consistency = public
        .get_consistency_proof(cpb::GetConsistencyProofRequest {
            first_tree_size: expected,
            second_tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    crate::rfc9162::verify_consistency(
        expected as u64,
        consistency.second_tree_size as u64,
        &earlier.root_hash,
        &consistency.checkpoint.as_ref().unwrap().root_hash,
        &consistency.hashes,
    )
    .expect("the consistency proof verifies");
    let mut tampered = consistency.hashes.clone();
    if let Some(h) = tampered.first_mut() {
        h[0] ^= 1;
    }
    assert!(
        crate::rfc9162::verify_consistency(
            expected as u64,
            consistency.second_tree_size as u64,
            &earlier.root_hash,
            &consistency.checkpoint.as_ref().unwrap().root_hash,
            &tampered,
        )
        .is_err()
    );

    // The teachers' search: name and full ID number; a wrong number finds nothing.
    let found = public
        .search_certificates(cpb::SearchCertificatesRequest {
            teacher_display_name: holder.name.clone(),
            id_number: holder.id_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.certificates.len(), mine.certificates.len());
    let mut wrong = holder.id_number.clone().into_bytes();
    wrong[14] = if wrong[14] == b'1' { b'2' } else { b'1' };
    let wrong = String::from_utf8(wrong).unwrap();
    let nothing = public
        .search_certificates(cpb::SearchCertificatesRequest {
            teacher_display_name: holder.name.clone(),
            id_number: wrong,
        })
        .await;
    match nothing {
        Ok(r) => assert!(r.into_inner().certificates.is_empty()),
        Err(s) => assert_eq!(
            s.code(),
            tonic::Code::InvalidArgument,
            "a malformed number: {s:?}"
        ),
    }

    // The same search on the teachers' page, with a download link that serves the PDF.
    let page = crate::http_request(
        &cluster.http(),
        "POST",
        "/certificates",
        "application/x-www-form-urlencoded",
        &form(&[("name", &holder.name), ("id_number", &holder.id_number)]),
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    // The revoked certificate is marked and not offered; another one is, to its holder.
    assert!(
        page.contains("已撤销 revoked") && page.contains("不提供下载"),
        "{page}"
    );
    let revoked_link = format!(
        "/c/{}/certificate.pdf",
        cert.name.trim_start_matches("certificates/")
    );
    assert!(!page.contains(&revoked_link), "{page}");
    let revoked_download = crate::http_request(
        &cluster.http(),
        "POST",
        &revoked_link,
        "application/x-www-form-urlencoded",
        &form(&[("proof", cert.qr_text.split_once('#').unwrap().1)]),
    )
    .await;
    assert!(
        revoked_download.starts_with("HTTP/1.1 410"),
        "{revoked_download}"
    );
    let active = mine
        .certificates
        .iter()
        .find(|c| c.name != cert.name)
        .expect("the holder has a second certificate")
        .clone();
    let link = format!(
        "/c/{}/certificate.pdf",
        active.name.trim_start_matches("certificates/")
    );
    assert!(page.contains(&link), "{page}");
    assert!(
        !page.contains(&holder.id_number),
        "the full ID number is not echoed"
    );
    // The link needs what only the holder has: without the QR code's signed part, no PDF.
    let bare = crate::http_request(&cluster.http(), "GET", &link, "text/plain", b"").await;
    assert!(bare.starts_with("HTTP/1.1 403"), "{bare}");
    let guessed = crate::http_request(
        &cluster.http(),
        "POST",
        &link,
        "application/x-www-form-urlencoded",
        &form(&[("proof", "12345678901234567")]),
    )
    .await;
    assert!(guessed.starts_with("HTTP/1.1 403"), "{guessed}");
    let fragment = active.qr_text.split_once('#').unwrap().1;
    assert!(
        page.contains(fragment),
        "the teacher's page carries the proof"
    );
    let download = crate::http_request(
        &cluster.http(),
        "POST",
        &link,
        "application/x-www-form-urlencoded",
        &form(&[("proof", fragment)]),
    )
    .await;
    assert!(
        download.starts_with("HTTP/1.1 200") && download.contains("application/pdf"),
        "{}",
        &download[..download.len().min(300)]
    );

    // The school's archive: built in the background, downloaded in chunks, every PDF inside.
    let mut school_office = client(
        cluster,
        "school-office",
        Role::SchoolAdmin,
        county,
        Some(&holder.school),
    );
    let archive = school_office
        .create_certificate_archive(cpb::CreateCertificateArchiveRequest {
            certificate_archive: Some(cpb::CertificateArchive {
                school: format!("schools/{}", holder.school),
                include_revoked: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut watch = school_office
        .watch_certificate_archive(cpb::WatchCertificateArchiveRequest {
            name: archive.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut done = None;
    while let Some(a) = watch.message().await.unwrap() {
        done = Some(a);
    }
    let done = done.unwrap();
    assert_eq!(done.state, cpb::ArchiveState::Succeeded as i32, "{done:?}");
    assert_eq!(done.certificates_added, done.certificates_total);
    let mut stream = school_office
        .download_certificate_archive(cpb::DownloadCertificateArchiveRequest {
            name: archive.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut zip = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        if let Some(cpb::download_certificate_archive_response::Payload::Chunk(c)) = m.payload {
            zip.extend_from_slice(&c);
        }
    }
    assert_eq!(zip.len() as i64, done.size_bytes);
    assert_eq!(hex::encode(Sha256::digest(&zip)), done.sha256);
    assert!(zip.starts_with(b"PK"));
    let revoked_entry = format!("revoked/{}.pdf", cert.number);
    assert!(
        zip.windows(revoked_entry.len())
            .any(|w| w == revoked_entry.as_bytes()),
        "the revoked certificate sits in revoked/"
    );
}

/// The issuance run's trace: the test's client span → the certificate service's
/// StartIssuanceRun → the background run → the assessment service's stream and the roster's
/// export (each a server span whose parent is the calling service's client span, linked only by
/// the `traceparent` header) → each service's database statements; all under one trace id, and
/// no personal data in any attribute.
fn assert_one_trace_across_services(receiver: &crate::traces::Receiver, trace_id: &str) {
    const START: &str = "/tica.certificate.v1.CertificateService/StartIssuanceRun";
    const STREAM: &str = "/tica.assessment.v1.AssessmentService/StreamCertifiedResults";
    let trace = receiver.wait_for(trace_id, |t| {
        !t.named("issuance run", None).is_empty()
            && !t.named(STREAM, Some(SERVER)).is_empty()
            && t.spans.iter().any(|s| s.name.starts_with("certificate."))
            && t.spans.iter().any(|s| s.name.starts_with("roster."))
    });
    let outline = trace.outline();
    let one = |name: &str, kind: Option<i32>| {
        let found = trace.named(name, kind);
        assert!(!found.is_empty(), "no {name} span in the trace:\n{outline}");
        found[0]
    };
    assert!(
        trace.spans.iter().all(|s| s.trace_id == trace_id),
        "one trace id"
    );
    let root = one("e2e: issue a county's certificates", None);
    assert!(root.parent.is_empty(), "the test's span is the root");
    let call = one(START, Some(CLIENT));
    assert_eq!(call.parent, root.span_id, "{outline}");
    let served = one(START, Some(SERVER));
    assert_eq!(
        served.parent, call.span_id,
        "the server continues the caller's span:\n{outline}"
    );
    let run = one("issuance run", None);
    assert_eq!(run.parent, served.span_id, "{outline}");
    let stream_call = one(STREAM, Some(CLIENT));
    assert!(trace.descends_from(stream_call, run), "{outline}");
    let stream = one(STREAM, Some(SERVER));
    assert_eq!(stream.parent, stream_call.span_id, "{outline}");
    let roster = trace
        .spans
        .iter()
        .find(|s| {
            s.kind == SERVER
                && s.name.starts_with("/tica.roster.v1.RosterService/")
                && trace.descends_from(s, run)
        })
        .unwrap_or_else(|| panic!("no roster call under the run:\n{outline}"));
    let roster_call = trace.parent(roster).expect("the roster's caller");
    assert_eq!(
        (roster_call.kind, &roster_call.name),
        (CLIENT, &roster.name)
    );
    for (prefix, under) in [
        ("certificate.", run),
        ("assessment.", stream),
        ("roster.", roster),
    ] {
        assert!(
            trace
                .spans
                .iter()
                .any(|s| s.name.starts_with(prefix) && trace.descends_from(s, under)),
            "a {prefix}* database span under {}:\n{outline}",
            under.name
        );
    }
    // Privacy: no name (Chinese characters) and no resident ID number (17+ digits) anywhere.
    for span in &trace.spans {
        for (key, value) in &span.attributes {
            let cjk = value
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            let mut digits = 0usize;
            let id_like = value.chars().any(|c| {
                digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
                digits >= 17
            });
            assert!(!cjk && !id_like, "{} carries {key}={value:?}", span.name);
        }
    }
}
