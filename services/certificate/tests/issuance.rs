//! Issuance on both databases, driven with the events the assessment stream sends: a resumed
//! or repeated run issues nothing twice and skips nothing; a withdrawn result revokes its
//! certificate; every issue and revocation is in the log, whose proofs verify. Long-running
//! work: runs and archive jobs are cancelled for good, and a run is failed as interrupted only
//! when its lease lapsed.

mod support;

use std::collections::HashMap;

use support::{Offline as Fixture, certified_event, withdrawn_event};
use tica_auth::{BearerToken, Caller, Role};
use tica_certificate::model::{Actor, ArchiveRecord, ArchiveState, RunState, Status};
use tica_certificate::service::Ctx;
use tica_certificate::service::{Numbers, Subject, Verdict};
use tica_certificate::store;
use tica_credential::merkle;
use tica_domain::division::DivisionCode;
use tica_server::errors::ErrorReason;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_resumed_run_issues_nothing_twice_and_skips_nothing,
    a_certificate_prints_the_date_its_batch_was_certified_not_the_day_it_was_made,
    an_issuing_office_configured_with_its_seal_stamps_its_certificates_and_no_others,
    a_withdrawn_result_revokes_its_certificate_in_the_log,
    a_retired_key_keeps_verifying_what_it_signed,
    an_installation_that_chose_sm2_signs_certificates_and_checkpoints_with_both_keys,
    the_teachers_search_is_limited_per_client,
    a_cancelled_run_stays_cancelled_and_keeps_what_it_issued,
    only_a_run_whose_lease_lapsed_is_failed_whichever_replica_sweeps,
    a_run_whose_lease_lapsed_is_claimed_by_one_replica_with_its_progress,
    an_archive_job_is_cancelled_by_whoever_may_see_it_and_stays_cancelled,
    an_archive_job_whose_builder_stopped_is_built_again_by_another_replica,
);

/// The school of the archive jobs below (results 0..300 of [`certified_event`]).
const SCHOOL: &str = "3413240001";

/// A RUNNING archive job of [`SCHOOL`]'s certificates of `batch_id`, half done, created (and
/// last renewed) at `create_micros`.
fn archive_job(id: &str, batch_id: &str, create_micros: i64) -> ArchiveRecord {
    ArchiveRecord {
        id: id.into(),
        school: SCHOOL.into(),
        path: tica_domain::ScopePath::for_school(DivisionCode::parse("341324").unwrap(), SCHOOL),
        batch_id: batch_id.into(),
        include_revoked: false,
        state: ArchiveState::Running,
        total: 6,
        added: 3,
        size_bytes: 0,
        sha256: String::new(),
        error: String::new(),
        creator: Actor::default(),
        create_micros,
        end_micros: 0,
        expire_micros: 0,
    }
}

/// Stores `job` as CreateCertificateArchive would.
async fn store_archive(db: &tica_storage::Database, job: &ArchiveRecord) {
    let audit = tica_storage::audit::AuditEntry {
        actor: Actor::default(),
        method: format!(
            "{}/CreateCertificateArchive",
            tica_certificate::service::SERVICE_NAME
        ),
        resource: format!("certificateArchives/{}", job.id),
        path: job.path.clone(),
        change: serde_json::json!({}),
    };
    store::insert_archive(db, job, "", &audit).await.unwrap();
}

fn county_office(subject: &str, county: &str) -> Ctx {
    Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        Caller::new(
            subject.into(),
            Role::CountyOffice,
            DivisionCode::parse(county).unwrap(),
            None,
        ),
        BearerToken(String::new()),
    )
}

fn keys_for(n: usize) -> HashMap<String, String> {
    (0..n)
        .map(|i| (support::teacher_of(i), format!("key-{}", i / 3)))
        .collect()
}

async fn all(db: &tica_storage::Database) -> Vec<tica_certificate::model::CertificateRecord> {
    support::all_certificates(db).await
}

async fn a_resumed_run_issues_nothing_twice_and_skips_nothing(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(30);
    // A first run gets through results 1..=12, then stops (a crash after its last commit).
    let mut first = support::stored_run(&db, 1, 0).await.unwrap();
    let mut numbers = Numbers::new();
    svc.process(
        &mut first,
        (0..12).map(certified_event).collect(),
        &keys,
        &mut numbers,
    )
    .await
    .unwrap();
    assert_eq!(store::cursor(&db, "341324-2022").await.unwrap(), 12);
    // The next run starts after the cursor; the stream redelivers 10..=30 (a consumer may see
    // events again): those at or below the cursor are skipped, the rest issued once.
    let cursor = store::cursor(&db, "341324-2022").await.unwrap();
    let mut second = support::stored_run(&db, 2, cursor).await.unwrap();
    let mut numbers = Numbers::new();
    svc.process(
        &mut second,
        (9..30).map(certified_event).collect(),
        &keys,
        &mut numbers,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.certificates_issued, second.cursor),
        (18, 30),
        "{second:?}"
    );
    // The same result under a new sequence (a redelivery) is counted, not issued.
    let mut again = certified_event(5);
    again.sequence = 31;
    svc.process(&mut second, vec![again], &keys, &mut numbers)
        .await
        .unwrap();
    assert_eq!(second.already_issued, 1);
    let issued = all(&db).await;
    assert_eq!(issued.len(), 30, "every result once");
    let mut numbers: Vec<&str> = issued.iter().map(|c| c.number.as_str()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 30, "numbers are unique");
    assert_eq!(numbers[0], "341324-2022-000001");
    assert_eq!(numbers[29], "341324-2022-000030", "no gaps across runs");
    // Every certificate is VALID by its id and its QR text, and its PDF is exactly the bytes hashed.
    for c in issued.iter().take(5) {
        let v = svc.verify(Subject::Id(c.id.clone())).await.unwrap();
        assert_eq!(v.verdict, Verdict::Valid);
        let v = svc
            .verify(Subject::Qr(c.doc.qr_text.clone()))
            .await
            .unwrap();
        assert_eq!(v.verdict, Verdict::Valid);
        let pdf = svc.pdf_of(&c.id).await.unwrap();
        let v = svc.verify(Subject::Pdf(pdf)).await.unwrap();
        assert!(v.pdf_matches);
    }
    db.close().await;
}

async fn a_certificate_prints_the_date_its_batch_was_certified_not_the_day_it_was_made(
    backend: Backend,
) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    // Result 0 comes with its batch's acceptance date, 2022-12-30; result 3 (another teacher)
    // from an assessment service that sends none, which can only print the day it is made.
    let mut undated = certified_event(3);
    undated.certificate_date = None;
    undated.sequence = 2;
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        vec![certified_event(0), undated.clone()],
        &keys_for(6),
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let issued = all(&db).await;
    let of = |key: &str| issued.iter().find(|c| c.result_key == key).expect("issued");
    let today = tica_server::proto_time::date_to_iso(tica_domain::today_in_china(
        time::OffsetDateTime::now_utc(),
    ));
    let dated = of(&certified_event(0).result_key);
    assert_eq!(dated.doc.facts.printed_date(), "2022-12-30");
    // Signed today, by today's key: its span is checked against the day it signed.
    assert_eq!(dated.doc.facts.issue_date, today);
    let v = svc.verify(Subject::Id(dated.id.clone())).await.unwrap();
    assert_eq!(v.verdict, Verdict::Valid);
    let v = svc
        .verify(Subject::Qr(dated.doc.qr_text.clone()))
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Valid);
    assert_eq!(of(&undated.result_key).doc.facts.printed_date(), today);
    let id = dated.id.clone();
    // The page says so too: the PDF's text carries the batch's date, not today's.
    let pdf = svc.pdf_of(&id).await.unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        !text.contains(&format!("D:{}", today.replace('-', ""))),
        "the PDF's creation date is the certificate's, not today's"
    );
    assert!(text.contains("D:20221230"), "the PDF is dated 2022-12-30");
    db.close().await;
}

async fn an_issuing_office_configured_with_its_seal_stamps_its_certificates_and_no_others(
    backend: Backend,
) {
    // 泗县 (341324) configured its seal; another office, which issues result 3, did not.
    let seals = tempfile::tempdir().unwrap();
    std::fs::write(
        seals.path().join("341324.png"),
        tica_pdf::test_seal_png(300),
    )
    .unwrap();
    std::fs::write(seals.path().join("README.txt"), "not a seal").unwrap();
    let loaded = tica_certificate::startup::load_seals(seals.path()).unwrap();
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::with_config(backend, |dir| tica_certificate::service::Config {
        seals: loaded,
        ..support::test_config(dir)
    })
    .await
    else {
        return;
    };
    let mut other = certified_event(3);
    other.sequence = 2;
    other.issuing_authority = "宿州市教育局".into();
    other.issuing_jurisdiction = "jurisdictions/341300".into();
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        vec![certified_event(0), other.clone()],
        &keys_for(6),
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let issued = all(&db).await;
    let pdf_of = |key: &str| {
        let id = issued
            .iter()
            .find(|c| c.result_key == key)
            .expect("issued")
            .id
            .clone();
        let svc = svc.clone();
        async move { svc.pdf_of(&id).await.unwrap() }
    };
    let sealed = pdf_of(&certified_event(0).result_key).await;
    let unsealed = pdf_of(&other.result_key).await;
    let has = |pdf: &[u8], what: &[u8]| pdf.windows(what.len()).any(|w| w == what);
    assert!(has(&sealed, b"/TicaSeal") && has(&sealed, b"/SMask"));
    assert!(!has(&unsealed, b"/TicaSeal"));
    // A sealed certificate is as genuine as any: its PDF verifies byte for byte.
    let v = svc.verify(Subject::Pdf(sealed)).await.unwrap();
    assert!(v.pdf_matches && v.verdict == Verdict::Valid, "{v:?}");
    // An office's file that is no image stops the start, naming the file.
    std::fs::write(seals.path().join("341300.png"), b"GIF89a").unwrap();
    let error = tica_certificate::startup::load_seals(seals.path())
        .unwrap_err()
        .to_string();
    assert!(error.contains("341300.png"), "{error}");
    db.close().await;
}

async fn a_withdrawn_result_revokes_its_certificate_in_the_log(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(6);
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    let mut numbers = Numbers::new();
    let mut events: Vec<_> = (0..6).map(certified_event).collect();
    events.push(withdrawn_event(2, 7));
    // A withdrawal of a result that never had a certificate changes nothing.
    let mut stray = withdrawn_event(2, 8);
    stray.result_key = "341324-2022/T9999999/B2".into();
    events.push(stray);
    svc.process(&mut run, events, &keys, &mut numbers)
        .await
        .unwrap();
    assert_eq!(
        (
            run.certificates_issued,
            run.certificates_revoked,
            run.cursor
        ),
        (6, 1, 8)
    );
    let issued = all(&db).await;
    let revoked: Vec<_> = issued
        .iter()
        .filter(|c| c.status == Status::Revoked)
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].result_key, certified_event(2).result_key);
    let v = svc
        .verify(Subject::Qr(revoked[0].doc.qr_text.clone()))
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Revoked);
    assert_eq!(
        v.record.unwrap().doc.revocation.unwrap().explanation,
        "省级抽检复核不合格"
    );
    // Seven entries: six issues, one revocation; each proves into the signed checkpoint.
    let checkpoint = svc.log_checkpoint(0).await.unwrap();
    assert_eq!(checkpoint.tree_size, 7);
    let root: merkle::Hash = checkpoint.root_hash.as_slice().try_into().unwrap();
    for index in 0..7 {
        let view = svc.inclusion_proof(index, 0, true).await.unwrap();
        let entry = view.entry.unwrap();
        let proof: Vec<merkle::Hash> = view
            .hashes
            .iter()
            .map(|h| h.as_slice().try_into().unwrap())
            .collect();
        merkle::verify_inclusion(
            index as u64,
            7,
            &merkle::leaf_hash(&entry.entry),
            &proof,
            &root,
        )
        .unwrap();
    }
    let entry = svc
        .inclusion_proof(6, 0, true)
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!(entry.kind, "revoked");
    let text = String::from_utf8(entry.entry).unwrap();
    assert!(text.contains("\"reason\":\"result_withdrawn\""), "{text}");
    db.close().await;
}

async fn a_retired_key_keeps_verifying_what_it_signed(backend: Backend) {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir,
        svc: old,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    old.process(
        &mut run,
        vec![certified_event(0)],
        &keys_for(1),
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let signed = all(&db).await.remove(0);
    assert_eq!(signed.doc.facts.key_id, "test-1");
    // Rotation: a new private key signs; the old key's private half is destroyed and only its
    // public half stays in the secret.
    let old_key = tica_certificate::keys::read_key_dir(&dir.path().join("keys"), None).unwrap();
    let rotated = dir.path().join("rotated");
    tica_certificate::keys::ensure_dev_key(&rotated, "test-2").unwrap();
    let pem = old_key.public["test-1"]
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(rotated.join("test-1.pub.pem"), pem).unwrap();
    let nowhere = tica_certificate::startup::channel("http://127.0.0.1:9").unwrap();
    let new = tica_certificate::startup::build(
        db.clone(),
        nowhere.clone(),
        nowhere,
        &rotated,
        None,
        old.config().clone(),
    )
    .await
    .unwrap();
    assert_eq!(new.active_kid(), "test-2");
    let states: Vec<(String, bool)> = new
        .signing_keys()
        .iter()
        .map(|k| (k.kid.clone(), k.retire_micros.is_some()))
        .collect();
    assert_eq!(
        states,
        [("test-2".to_owned(), false), ("test-1".to_owned(), true)],
        "active first, then retired"
    );
    let v = new
        .verify(Subject::Qr(signed.doc.qr_text.clone()))
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Valid, "the retired key still verifies");
    assert!(new.jwks_json().contains("\"kid\": \"test-1\""));
    // A key id reused for another key is refused at start.
    let reused = dir.path().join("reused");
    tica_certificate::keys::ensure_dev_key(&reused, "test-1").unwrap();
    let nowhere = tica_certificate::startup::channel("http://127.0.0.1:9").unwrap();
    let refused = tica_certificate::startup::build(
        db.clone(),
        nowhere.clone(),
        nowhere,
        &reused,
        None,
        old.config().clone(),
    )
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("another public key"),
        "{refused:#}"
    );
    db.close().await;
}

/// Issue 18 §2: an installation with an SM2 key beside its Ed25519 key issues certificates
/// signed with both (QR payload version 3) and checkpoints with two signature lines; both
/// verify online (by id, QR and PDF) and offline (against the published JWK Set), and a payload
/// whose SM2 signature is wrong is NOT GENUINE though its Ed25519 signature holds.
async fn an_installation_that_chose_sm2_signs_certificates_and_checkpoints_with_both_keys(
    backend: Backend,
) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir,
        svc: plain,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    assert_eq!(plain.active_sm2_kid(), None, "off by default");
    let keys_dir = dir.path().join("keys");
    tica_certificate::keys::ensure_dev_sm2_key(&keys_dir, "test-sm2-1").unwrap();
    let nowhere = tica_certificate::startup::channel("http://127.0.0.1:9").unwrap();
    let svc = tica_certificate::startup::build(
        db.clone(),
        nowhere.clone(),
        nowhere,
        &keys_dir,
        None,
        plain.config().clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        (svc.active_kid(), svc.active_sm2_kid()),
        ("test-1", Some("test-sm2-1"))
    );
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        vec![certified_event(0)],
        &keys_for(1),
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let signed = all(&db).await.remove(0);
    assert_eq!(signed.signature.len(), 128, "Ed25519 and SM2");
    let scanned = tica_credential::qr::parse_qr(&signed.doc.qr_text).unwrap();
    assert_eq!(
        tica_credential::qr::sm2_kid(&scanned.protected).as_deref(),
        Some("test-sm2-1")
    );
    assert_eq!(
        (scanned.protected.clone(), scanned.signature.clone()),
        (signed.payload.clone(), signed.signature.clone())
    );

    // Online: by id, by QR, by PDF.
    for subject in [
        Subject::Id(signed.id.clone()),
        Subject::Qr(signed.doc.qr_text.clone()),
        Subject::Pdf(svc.pdf_of(&signed.id).await.unwrap()),
    ] {
        assert_eq!(svc.verify(subject).await.unwrap().verdict, Verdict::Valid);
    }
    // Offline: the published keys, Ed25519 and SM2 side by side.
    let jwks: serde_json::Value = serde_json::from_str(&svc.jwks_json()).unwrap();
    let set = tica_credential::key_set_from_jwks(&jwks).unwrap();
    assert!(set.get("test-1").is_some() && set.get_sm2("test-sm2-1").is_some());
    let offline = |text: &str| {
        tica_credential::qr::verify_qr_with(
            text,
            set.issuer.as_deref(),
            &|kid| set.get(kid),
            &|kid| set.get_sm2(kid),
        )
    };
    assert_eq!(offline(&signed.doc.qr_text).unwrap().version, 3);
    let kinds: Vec<(String, &str)> = svc
        .signing_keys()
        .iter()
        .map(|k| (k.kid.clone(), k.algorithm()))
        .collect();
    assert!(kinds.contains(&("test-sm2-1".into(), "SM2")), "{kinds:?}");

    // The attacker: the SM2 signature replaced (by another SM2 key's), Ed25519's untouched.
    let forger = tica_credential::gm::Sm2Key::from_secret(&[6; 32]).unwrap();
    let base = svc.config().base_url.clone();
    let claims = tica_credential::qr::decode_claims(&signed.id, &signed.payload).unwrap();
    let genuine_ed = {
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&signed.signature[..64]);
        sig
    };
    let forged_sm2 = tica_credential::qr::sign_claims_dual(
        &base,
        &claims,
        &ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
        "test-sm2-1",
        &forger,
    )
    .unwrap();
    assert_eq!(forged_sm2.protected, signed.payload, "the same claims");
    let forged = tica_credential::qr::SignedClaims {
        signature: genuine_ed,
        ..forged_sm2
    };
    let text = tica_credential::qr::encode_qr(&base, &signed.id, &forged).unwrap();
    assert_eq!(
        offline(&text),
        Err(tica_credential::CredentialError::BadSignature)
    );
    let online = svc.verify(Subject::Qr(text)).await.unwrap();
    assert_eq!(online.verdict, Verdict::NotGenuine);

    // The register: the checkpoint carries an SM2 line beside the Ed25519 one.
    let checkpoint = svc.log_checkpoint(0).await.unwrap();
    assert_eq!(
        checkpoint
            .sm2
            .as_ref()
            .map(|(kid, sig)| (kid.as_str(), sig.len())),
        Some(("test-sm2-1", 64))
    );
    let note = svc.signed_checkpoint(&checkpoint).unwrap();
    let origin = &svc.config().log_origin;
    let trusted: Vec<tica_credential::note::VerifierKey> = svc
        .log_verifier_keys()
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    let sm2_only: Vec<_> = trusted
        .iter()
        .filter(|k| matches!(k.public_key(), tica_credential::note::NoteKey::Sm2(_)))
        .cloned()
        .collect();
    assert_eq!(sm2_only.len(), 1);
    assert_eq!(sm2_only[0].name(), origin);
    let opened = tica_credential::note::open(note.as_bytes(), &trusted).unwrap();
    assert_eq!(opened.verified.len(), 2, "{note}");
    assert_eq!(
        tica_credential::note::open(note.as_bytes(), &sm2_only)
            .unwrap()
            .verified
            .len(),
        1
    );
    db.close().await;
}

async fn the_teachers_search_is_limited_per_client(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db: _db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    // Twenty searches a minute from one client, whatever the numbers.
    let mut refused = 0;
    for n in 2..30u16 {
        let other = tica_domain::ResidentId::generate(
            "341324",
            time::Date::from_calendar_date(1985, time::Month::March, 2).unwrap(),
            n,
        );
        if svc
            .search("one-client", "李强", other.as_str())
            .await
            .is_err()
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 28 - 20);
}

/// CancelIssuanceRun (issue 17 §8): the run ends CANCELLED at once and stays so; a chunk the
/// executor was committing at that moment commits whole (its certificates are issued) without
/// bringing the run back; cancelling again answers the same; an ended run is RUN_ENDED; another
/// county's office is refused and changes nothing.
async fn a_cancelled_run_stays_cancelled_and_keeps_what_it_issued(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(6);
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    let mut numbers = Numbers::new();
    svc.process(
        &mut run,
        (0..3).map(certified_event).collect(),
        &keys,
        &mut numbers,
    )
    .await
    .unwrap();

    let stranger = county_office("other-clerk", "341302");
    let refused = svc.cancel_run(&stranger, &run.id).await.unwrap_err();
    assert_eq!(refused.reason(), ErrorReason::OutsideScope, "{refused:?}");
    assert_eq!(
        store::run(&db, &run.id).await.unwrap().unwrap().state,
        RunState::Running
    );

    let office = county_office("county-clerk", "341324");
    let cancelled = svc.cancel_run(&office, &run.id).await.unwrap();
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(cancelled.end_micros > 0);
    assert_eq!(
        cancelled.cursor, 3,
        "what it issued before the cancel stays"
    );
    // The executor, not yet aware, commits the chunk it was on: issued, run still CANCELLED.
    svc.process(
        &mut run,
        (3..6).map(certified_event).collect(),
        &keys,
        &mut numbers,
    )
    .await
    .unwrap();
    assert_eq!(all(&db).await.len(), 6);
    let stored = store::run(&db, &run.id).await.unwrap().unwrap();
    assert_eq!(stored.state, RunState::Cancelled);
    assert!(
        !store::renew_run_lease(&db, &run.id, tica_storage::now_micros())
            .await
            .unwrap()
    );
    assert!(
        !store::save_run(&db, &run).await.unwrap(),
        "a save cannot revive it"
    );
    assert_eq!(
        store::run(&db, &run.id).await.unwrap().unwrap().state,
        RunState::Cancelled
    );
    // Again: the same answer, nothing new.
    let again = svc.cancel_run(&office, &run.id).await.unwrap();
    assert_eq!(again.state, RunState::Cancelled);
    assert_eq!(again.end_micros, cancelled.end_micros);

    // A run that ended otherwise has nothing to cancel.
    let mut done = support::stored_run(&db, 2, 6).await.unwrap();
    done.state = RunState::Succeeded;
    done.update_micros += 1;
    assert!(store::save_run(&db, &done).await.unwrap());
    let ended = svc.cancel_run(&office, &done.id).await.unwrap_err();
    assert_eq!(ended.reason(), ErrorReason::RunEnded);
    assert_eq!(
        store::run(&db, &done.id).await.unwrap().unwrap().state,
        RunState::Succeeded
    );
}

/// Two RUNNING runs: one a live replica renews now, and an orphan after `cursor` (as many
/// certificates issued) whose process stopped two lease periods ago; and now.
async fn live_and_orphan(
    db: &tica_storage::Database,
    cursor: i64,
) -> (
    tica_certificate::model::RunRecord,
    tica_certificate::model::RunRecord,
    i64,
) {
    let live = support::stored_run(db, 1, 0).await.unwrap();
    let mut orphan = support::stored_run(db, 2, cursor).await.unwrap();
    let now = tica_storage::now_micros();
    orphan.certificates_issued = cursor;
    orphan.update_micros = now - 2 * store::RUN_LEASE_MICROS;
    assert!(store::save_run(db, &orphan).await.unwrap());
    assert!(store::renew_run_lease(db, &live.id, now).await.unwrap());
    (live, orphan, now)
}

/// Leases (issue 17 §8): with several replicas, a replica that starts (or sweeps) fails only
/// the runs whose process stopped renewing their lease, never a run another replica is running.
async fn only_a_run_whose_lease_lapsed_is_failed_whichever_replica_sweeps(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc: _svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let (live, orphan, now) = live_and_orphan(&db, 0).await;

    let swept = store::fail_interrupted_runs(&db, now, now - store::RUN_LEASE_MICROS)
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(
        store::run(&db, &live.id).await.unwrap().unwrap().state,
        RunState::Running
    );
    let failed = store::run(&db, &orphan.id).await.unwrap().unwrap();
    assert_eq!(failed.state, RunState::Failed);
    assert!(failed.error.starts_with("interrupted"), "{}", failed.error);
    // Swept once: a second sweep finds nothing, and the orphan's process, should it come
    // back, cannot renew or save it.
    assert_eq!(
        store::fail_interrupted_runs(&db, now, now - store::RUN_LEASE_MICROS)
            .await
            .unwrap(),
        0
    );
    assert!(
        !store::renew_run_lease(&db, &orphan.id, now + 1)
            .await
            .unwrap()
    );
    assert!(!store::save_run(&db, &orphan).await.unwrap());
}

/// Leases (issue 17 §8): with the token key, a replica claims a run whose process stopped
/// (to resume it, progress as stored) instead of failing it; a run another replica is running,
/// and a run already claimed, are left alone.
async fn a_run_whose_lease_lapsed_is_claimed_by_one_replica_with_its_progress(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc: _svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let (live, orphan, now) = live_and_orphan(&db, 40).await;

    let cutoff = now - store::RUN_LEASE_MICROS;
    let claimed = store::claim_lapsed_runs(&db, now, cutoff).await.unwrap();
    assert_eq!(
        claimed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [orphan.id.as_str()]
    );
    assert_eq!(
        (claimed[0].cursor, claimed[0].certificates_issued),
        (40, 40)
    );
    assert_eq!(claimed[0].state, RunState::Running);
    // The claim is a fresh lease: another replica sweeping now claims nothing, fails nothing.
    assert!(
        store::claim_lapsed_runs(&db, now, cutoff)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::fail_interrupted_runs(&db, now, cutoff)
            .await
            .unwrap(),
        0
    );
    for id in [&live.id, &orphan.id] {
        assert_eq!(
            store::run(&db, id).await.unwrap().unwrap().state,
            RunState::Running
        );
    }
}

/// CancelCertificateArchive (issue 17 §8): a job not yet ended ends CANCELLED, audited, and its
/// builder can no longer record progress or success over it; another school's office does not
/// find it; an ended job is RUN_ENDED.
async fn an_archive_job_is_cancelled_by_whoever_may_see_it_and_stays_cancelled(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let school = SCHOOL;
    let running = ArchiveRecord {
        total: 300,
        added: 100,
        ..archive_job("a1", "", tica_storage::now_micros())
    };
    store_archive(&db, &running).await;
    let school_office = |school: &str| {
        Ctx::new(
            tica_certificate::service::SERVICE_NAME,
            Caller::new(
                "school-clerk".into(),
                Role::SchoolAdmin,
                DivisionCode::parse("341324").unwrap(),
                Some(school.into()),
            ),
            BearerToken(String::new()),
        )
    };
    let other = svc
        .cancel_archive(&school_office("3413240002"), "a1")
        .await
        .unwrap_err();
    assert_eq!(other.reason(), ErrorReason::ResourceNotFound, "{other:?}");

    let cancelled = svc
        .cancel_archive(&school_office(school), "a1")
        .await
        .unwrap();
    assert_eq!(cancelled.state, ArchiveState::Cancelled);
    assert!(cancelled.end_micros > 0);
    // Its builder, still going, can neither record progress nor success over it.
    let mut late = running.clone();
    late.state = ArchiveState::Succeeded;
    late.added = 300;
    assert!(!store::save_archive(&db, &late).await.unwrap());
    let stored = store::archive(&db, "a1").await.unwrap().unwrap();
    assert_eq!(stored.state, ArchiveState::Cancelled);
    assert_eq!(stored.added, 100);
    let again = svc
        .cancel_archive(&county_office("county-clerk", "341324"), "a1")
        .await
        .unwrap();
    assert_eq!(again, stored);

    let done = ArchiveRecord {
        state: ArchiveState::Succeeded,
        ..archive_job("a2", "", tica_storage::now_micros())
    };
    store_archive(&db, &done).await;
    let ended = svc
        .cancel_archive(&school_office(school), "a2")
        .await
        .unwrap_err();
    assert_eq!(ended.reason(), ErrorReason::RunEnded);
}

/// Issue 17 §8: an archive job whose replica died mid-build (its lease lapsed) is claimed by the
/// next replica that sweeps and built again to the end, without anyone asking; a job whose
/// builder still renews its lease is left to it.
async fn an_archive_job_whose_builder_stopped_is_built_again_by_another_replica(backend: Backend) {
    let Some(Fixture {
        test_db: _test_db,
        db,
        dir: _dir,
        svc,
    }) = Fixture::open(backend).await
    else {
        return;
    };
    let keys = keys_for(6);
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    svc.process(
        &mut run,
        (0..6).map(certified_event).collect(),
        &keys,
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let now = tica_storage::now_micros();
    // Its builder's last sign of life was two leases ago; another's is now.
    store_archive(
        &db,
        &archive_job("orphan", "341324-2022", now - 2 * store::RUN_LEASE_MICROS),
    )
    .await;
    store_archive(&db, &archive_job("alive", "341324-2022", now)).await;

    assert_eq!(svc.resume_lapsed_archives().await.unwrap(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let built = loop {
        let now = store::archive(&db, "orphan").await.unwrap().unwrap();
        if now.state.is_terminal() {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "never built: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(built.state, ArchiveState::Succeeded, "{built:?}");
    assert_eq!((built.added, built.total), (6, 6));
    let (record, file) = svc
        .archive_file(&county_office("county-clerk", "341324"), "orphan")
        .await
        .unwrap();
    assert_eq!(
        record.size_bytes as u64,
        std::fs::metadata(file).unwrap().len()
    );
    // The live one is its builder's; a second sweep claims nothing.
    assert_eq!(
        store::archive(&db, "alive").await.unwrap().unwrap().state,
        ArchiveState::Running
    );
    assert_eq!(svc.resume_lapsed_archives().await.unwrap(), 0);
}
