//! What HR offices actually hand to Verify, on both databases: QR text as their scanner gives it
//! (upper or lower case: QR alphanumeric text has no case), the certificate's own verification
//! address or a QR text cut at its `#`, and a BatchVerify with one empty item — each answered on
//! its own; and an anonymous verifier is told when and why a certificate was revoked, not who
//! revoked it.

mod support;

use std::collections::{BTreeMap, HashMap};

use support::{certified_event, withdrawn_event};
use tica_auth::{KeyPair, TokenVerifier};
use tica_certificate::service::{Failure, Numbers, Subject, Verdict};
use tica_proto::tica::certificate::v1 as pb;
use tica_server::GrpcServer;
use tica_storage::Backend;
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_scanned_qr_text_verifies_in_whatever_case_the_scanner_gives_it,
    the_certificates_own_address_or_a_qr_text_cut_at_its_fragment_verifies_by_the_register,
    one_empty_item_is_that_items_answer_not_the_whole_batchs,
    an_anonymous_verifier_is_told_when_and_why_a_certificate_was_revoked_not_who_revoked_it,
    an_agency_may_send_its_requests_gzip_compressed_and_ask_for_compressed_answers,
    a_request_over_the_documented_two_mebibytes_is_refused_out_of_range_and_a_pdf_fits_alone,
);

struct Issued {
    _test_db: TestDatabase,
    _dir: tempfile::TempDir,
    svc: tica_certificate::service::Certificates,
    /// Certificate 0 (valid) and 1 (revoked), as issued.
    records: Vec<tica_certificate::model::CertificateRecord>,
}

/// Two certificates issued; the second revoked after its result was withdrawn.
async fn issued(backend: Backend) -> Option<Issued> {
    let test_db = TestDatabase::new(backend)?;
    let db = test_db
        .connect("certificate", tica_certificate::startup::MIGRATIONS)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svc = support::offline_service(db.clone(), dir.path())
        .await
        .unwrap();
    let keys: HashMap<String, String> = (0..2)
        .map(|i| (support::teacher_of(i), format!("key-{i}")))
        .collect();
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    let mut events: Vec<_> = (0..2).map(certified_event).collect();
    events.push(withdrawn_event(1, 3));
    svc.process(&mut run, events, &keys, &mut Numbers::new())
        .await
        .unwrap();
    let mut records = support::all_certificates(&db).await;
    records.sort_by_key(|r| r.status == tica_certificate::model::Status::Revoked);
    assert_eq!(records.len(), 2);
    Some(Issued {
        _test_db: test_db,
        _dir: dir,
        svc,
        records,
    })
}

async fn verdict(
    svc: &tica_certificate::service::Certificates,
    text: &str,
) -> (Verdict, Option<Failure>) {
    let v = svc.verify(Subject::Qr(text.to_owned())).await.unwrap();
    (v.verdict, v.failure)
}

async fn a_scanned_qr_text_verifies_in_whatever_case_the_scanner_gives_it(backend: Backend) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let qr = f.records[0].doc.qr_text.clone();
    assert!(qr.starts_with("HTTPS://"), "{qr}");
    for text in [qr.clone(), qr.to_lowercase(), format!("  {qr}\n")] {
        assert_eq!(
            verdict(&f.svc, &text).await,
            (Verdict::Valid, None),
            "{text}"
        );
    }
    // Case is not a way around the checks: another host stays another host.
    let elsewhere = qr.replacen(
        "HTTPS://VERIFY.AHEDU.GOV.CN",
        "https://verify.example.cn",
        1,
    );
    assert_eq!(
        verdict(&f.svc, &elsewhere.to_lowercase()).await,
        (Verdict::NotGenuine, Some(Failure::WrongIssuer))
    );
}

async fn the_certificates_own_address_or_a_qr_text_cut_at_its_fragment_verifies_by_the_register(
    backend: Backend,
) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let valid = &f.records[0];
    let cut = valid.doc.qr_text.split('#').next().unwrap().to_owned();
    for text in [
        valid.doc.verification_url.clone(),
        cut.clone(),
        cut.to_lowercase(),
        format!("{}#", valid.doc.verification_url),
    ] {
        assert_eq!(
            verdict(&f.svc, &text).await,
            (Verdict::Valid, None),
            "{text}"
        );
    }
    let revoked = &f.records[1];
    assert_eq!(
        verdict(&f.svc, &revoked.doc.verification_url).await.0,
        Verdict::Revoked
    );
    // An address is checked as a QR text is: this issuer's, and a certificate on record.
    let elsewhere = valid.doc.verification_url.replacen(
        "https://verify.ahedu.gov.cn",
        "https://verify.example.cn",
        1,
    );
    assert_eq!(
        verdict(&f.svc, &elsewhere).await,
        (Verdict::NotGenuine, Some(Failure::WrongIssuer))
    );
    let unknown = format!(
        "https://verify.ahedu.gov.cn/c/{}",
        "a".repeat(valid.id.len())
    );
    assert_eq!(
        verdict(&f.svc, &unknown).await,
        (Verdict::NotGenuine, Some(Failure::UnknownId))
    );
    assert_eq!(
        verdict(&f.svc, "https://verify.ahedu.gov.cn/").await,
        (Verdict::NotGenuine, Some(Failure::Malformed))
    );
}

/// The service over gRPC, as an HR office's program calls it (no token).
async fn grpc(f: &Issued) -> (tica_server::RunningServer, tica_client::Certificate) {
    let pair = KeyPair::generate();
    let keys = BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]);
    let mut server = GrpcServer::new();
    tica_certificate::startup::register(&mut server, f.svc.clone());
    let running = server
        .spawn("127.0.0.1:0".parse().unwrap(), TokenVerifier::new(&keys))
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(running.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    (running, tica_client::certificate(channel, ""))
}

fn by_id(id: &str) -> pb::VerifyRequest {
    pb::VerifyRequest {
        subject: Some(pb::verify_request::Subject::Certificate(format!(
            "certificates/{id}"
        ))),
    }
}

async fn one_empty_item_is_that_items_answer_not_the_whole_batchs(backend: Backend) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let (_server, mut client) = grpc(&f).await;
    let answer = client
        .batch_verify(pb::BatchVerifyRequest {
            requests: vec![
                by_id(&f.records[0].id),
                pb::VerifyRequest { subject: None },
                by_id("not-a-certificate"),
            ],
        })
        .await
        .expect("one bad item does not fail the batch")
        .into_inner();
    let verdicts: Vec<(i32, i32)> = answer
        .responses
        .iter()
        .map(|r| (r.verdict, r.failure))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (pb::Verdict::Valid as i32, 0),
            (
                pb::Verdict::NotGenuine as i32,
                pb::VerifyFailure::Malformed as i32
            ),
            (
                pb::Verdict::NotGenuine as i32,
                pb::VerifyFailure::UnknownId as i32
            ),
        ]
    );
    assert!(
        answer.responses[1]
            .message
            .contains("certificate, qr_text or pdf"),
        "{:?}",
        answer.responses[1]
    );
    // A lone Verify without a subject is still a bad request, on its field.
    let lone = client
        .verify(pb::VerifyRequest { subject: None })
        .await
        .unwrap_err();
    assert_eq!(lone.code(), tonic::Code::InvalidArgument);
}

async fn an_anonymous_verifier_is_told_when_and_why_a_certificate_was_revoked_not_who_revoked_it(
    backend: Backend,
) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let (_server, mut client) = grpc(&f).await;
    let revoked = &f.records[1];
    let one = client
        .verify(by_id(&revoked.id))
        .await
        .unwrap()
        .into_inner();
    let many = client
        .batch_verify(pb::BatchVerifyRequest {
            requests: vec![by_id(&revoked.id)],
        })
        .await
        .unwrap()
        .into_inner()
        .responses
        .remove(0);
    for answer in [one, many] {
        assert_eq!(answer.verdict, pb::Verdict::Revoked as i32);
        let revocation = answer.revocation.expect("when and why");
        assert!(revocation.revoke_time.is_some());
        assert!(!revocation.explanation.is_empty());
        assert_eq!(
            revocation.actor, None,
            "who revoked is not a visitor's business"
        );
    }
}

/// Agencies' gRPC stacks compress by default (`grpc-encoding: gzip`); it used to be refused as
/// UNIMPLEMENTED. A client that asks gets its answer compressed; one that does not, plain.
async fn an_agency_may_send_its_requests_gzip_compressed_and_ask_for_compressed_answers(
    backend: Backend,
) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let (_server, plain) = grpc(&f).await;
    let request = || pb::BatchVerifyRequest {
        requests: (0..50).map(|_| by_id(&f.records[0].id)).collect(),
    };
    let answer = plain
        .clone()
        .send_compressed(tica_server::GZIP)
        .accept_compressed(tica_server::GZIP)
        .batch_verify(request())
        .await
        .expect("a gzip request is accepted");
    assert_eq!(
        answer
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    assert_eq!(answer.into_inner().responses.len(), 50);
    let answer = plain.clone().batch_verify(request()).await.unwrap();
    assert_eq!(answer.metadata().get("grpc-encoding"), None);
}

/// The certificate service reads requests of at most 2 MiB (docs/operations.md, "Transport"):
/// a PDF (at most 1 MiB) verifies alone or two to a BatchVerify; three are refused as a whole,
/// OUT_OF_RANGE, before any is read. Ids and QR texts fit 1,000 to a call.
async fn a_request_over_the_documented_two_mebibytes_is_refused_out_of_range_and_a_pdf_fits_alone(
    backend: Backend,
) {
    let Some(f) = issued(backend).await else {
        return;
    };
    let (_server, mut client) = grpc(&f).await;
    let pdf = |n: usize| pb::VerifyRequest {
        subject: Some(pb::verify_request::Subject::Pdf(vec![b'%'; n])),
    };
    let two = client
        .batch_verify(pb::BatchVerifyRequest {
            requests: vec![pdf(1 << 20), pdf((1 << 20) - 4096)],
        })
        .await
        .expect("two PDFs of up to 1 MiB fit in one call")
        .into_inner();
    assert_eq!(two.responses.len(), 2);
    let three = client
        .batch_verify(pb::BatchVerifyRequest {
            requests: vec![pdf(1 << 20), pdf(1 << 20), pdf(1 << 20)],
        })
        .await
        .unwrap_err();
    assert_eq!(three.code(), tonic::Code::OutOfRange, "{three:?}");
    let ids = client
        .batch_verify(pb::BatchVerifyRequest {
            requests: (0..1000).map(|_| by_id(&f.records[0].id)).collect(),
        })
        .await
        .expect("a thousand ids fit")
        .into_inner();
    assert_eq!(ids.responses.len(), 1000);
}
