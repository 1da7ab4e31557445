//! Fuzz targets for the certificate service's public checks (see `tica-fuzz`): the PDF a visitor
//! uploads to be checked and the QR text the verification page posts, through
//! `Certificates::verify` — the PDF's hash looked up, its embedded QR text found, parsed,
//! verified and compared with the register — over a register (SQLite) holding genuine
//! certificates. Arbitrary bytes, and the issued PDFs and QR texts flipped, cut, extended and
//! spliced with the QR marker and PDF syntax. No panic, no hang, and nothing mutated verifies
//! as genuine.

mod support;

use std::collections::HashMap;

use support::certified_event;
use tica_certificate::service::{Numbers, Subject, Verdict};
use tica_fuzz::{Fuzz, show_bytes, show_text};
use tica_storage::Backend;
use tica_testkit::TestDatabase;

#[test]
fn arbitrary_and_mutated_pdfs_and_qr_texts_never_panic_the_public_checks() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let test_db = TestDatabase::new(Backend::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (svc, pdfs, qrs) = runtime.block_on(async {
        let db = test_db
            .connect("certificate", tica_certificate::startup::MIGRATIONS)
            .await
            .unwrap();
        let svc = support::offline_service(db.clone(), dir.path())
            .await
            .unwrap();
        let events: Vec<_> = (0..3).map(certified_event).collect();
        let keys: HashMap<String, String> =
            HashMap::from([("T0000000".to_owned(), "key-T0000000".to_owned())]);
        let mut run = support::stored_run(&db, 1, 0).await.unwrap();
        svc.process(&mut run, events, &keys, &mut Numbers::new())
            .await
            .unwrap();
        let mut pdfs = Vec::new();
        let mut qrs = Vec::new();
        for record in support::all_certificates(&db).await {
            pdfs.push(svc.pdf_of(&record.id).await.unwrap());
            qrs.push(record.doc.qr_text.clone());
        }
        (svc, pdfs, qrs)
    });
    assert_eq!(pdfs.len(), 3);
    // Every genuine file and text verifies, so the mutations start from the real thing.
    for (pdf, qr) in pdfs.iter().zip(&qrs) {
        let v = runtime
            .block_on(svc.verify(Subject::Pdf(pdf.clone())))
            .unwrap();
        assert_eq!(v.verdict, Verdict::Valid);
        let v = runtime
            .block_on(svc.verify(Subject::Qr(qr.clone())))
            .unwrap();
        assert_eq!(v.verdict, Verdict::Valid);
    }

    let pdf_others: Vec<&[u8]> = pdfs.iter().map(Vec::as_slice).collect();
    let pdf_tokens: &[&[u8]] = &[
        b"TICA-QR:",
        b"(TICA-QR:",
        b")",
        b"\\)",
        b"/Subject",
        b"%PDF-1.7",
        b"%%EOF",
        b"#",
        b"/C/",
    ];
    Fuzz::new("certificate_pdf", 400).run(
        |rng| match rng.below(4) {
            0 => rng.arbitrary_bytes(4000),
            1 => {
                // A file carrying a (mutated) genuine QR text where a certificate keeps it.
                let valid = rng.pick(&qrs).clone();
                let qr = rng.mutate_text(&valid, &[], &["#", "0", "/C/"]);
                format!("%PDF-1.7\n/Subject (TICA-QR:{qr})\n%%EOF").into_bytes()
            }
            _ => {
                let valid = rng.pick(&pdfs).clone();
                rng.mutate(&valid, &pdf_others, pdf_tokens)
            }
        },
        |b| show_bytes(b),
        |bytes| {
            let _ = tica_pdf::embedded_qr_text(bytes);
            let genuine = pdfs.iter().any(|p| p == bytes);
            let v = runtime
                .block_on(svc.verify(Subject::Pdf(bytes.clone())))
                .unwrap();
            assert!(
                genuine || v.verdict != Verdict::Valid,
                "a changed file must not verify"
            );
            assert!(
                genuine || !v.pdf_matches,
                "a changed file must not match the one issued"
            );
        },
    );

    let qr_others: Vec<&str> = qrs.iter().map(String::as_str).collect();
    Fuzz::new("certificate_qr", 1_500).run(
        |rng| {
            if rng.one_in(4) {
                rng.arbitrary_text(600)
            } else {
                let valid = rng.pick(&qrs).clone();
                rng.mutate_text(
                    &valid,
                    &qr_others,
                    &["#", "/C/", "/c/", "0", "9", "HTTPS://", " "],
                )
            }
        },
        |s| show_text(s),
        |text| {
            let v = runtime
                .block_on(svc.verify(Subject::Qr(text.clone())))
                .unwrap();
            if v.verdict == Verdict::Valid {
                // Only the genuine text (up to case and spaces around it) verifies.
                let scanned = tica_credential::qr::parse_qr(text).unwrap();
                let original = qrs
                    .iter()
                    .map(|q| tica_credential::qr::parse_qr(q).unwrap())
                    .find(|o| o.id == scanned.id)
                    .expect("a certificate of the register");
                assert_eq!(
                    (scanned.protected, scanned.signature),
                    (original.protected, original.signature)
                );
            }
        },
    );
}
