//! The certificate service's public edge, played as a hostile visitor would, on both
//! databases: the log walked by index, the teachers' search attacked from many addresses for a
//! (simulated) year, the number lookup guessed, downloads without the QR code, forged QR codes
//! on the verification page, revocation offline, and a retired key brought back.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use support::{certified_event, withdrawn_event};
use tica_certificate::error::CertificateError;
use tica_certificate::model::{CertificateRecord, Status};
use tica_certificate::service::{
    Certificates, Clock, Lookup, Numbers, Subject, Verdict, target_key, verification_code,
};
use tica_certificate::store;
use tica_domain::ResidentId;
use tica_storage::Backend;
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_log_walked_by_index_names_no_certificate_yet_every_holder_finds_theirs,
    the_teachers_search_cannot_confirm_an_id_number_within_a_year_from_any_number_of_addresses,
    guessing_names_for_a_known_id_number_is_throttled_too,
    the_overall_failure_budget_stops_a_breadth_attack_and_backs_off,
    a_number_lookup_needs_the_holders_name_or_printed_code_and_is_throttled,
    a_pdf_is_handed_only_to_whoever_holds_the_qr_codes_signed_part,
    the_page_check_names_what_a_forged_qr_changed,
    the_revocation_list_lists_revoked_certificates_by_hash_only,
    a_retired_key_named_active_again_is_refused_at_start,
    a_free_failure_sets_no_lock_that_refuses_a_concurrent_correct_search,
    a_teacher_whose_roster_name_has_a_space_inside_finds_their_certificates,
    the_json_api_answers_as_the_grpc_methods_do_in_proto3_json,
    hostile_json_gets_a_clear_4xx_json_error_and_never_a_500,
    the_json_api_is_rate_limited_per_client_and_a_batch_pays_per_fifty_items,
    pages_on_allowed_origins_may_call_the_json_api_and_the_pages_answer_no_cors,
    the_openapi_document_is_openapi_3_1_and_lists_exactly_the_routes_served,
    a_verification_code_is_shown_once_opens_the_certificate_with_its_holders_name_and_stops_when_expired_or_revoked,
    wrong_expired_and_revoked_codes_and_wrong_names_answer_alike_and_every_guess_is_charged,
    guessing_codes_from_one_address_or_from_many_is_throttled_to_a_refusal,
    only_the_holder_makes_codes_within_the_limits_and_a_refused_create_stores_nothing,
);

/// 2026-12-06 00:00 UTC, in µs.
const START: i64 = 1_796_515_200_000_000;
const MINUTE: i64 = 60_000_000;
const YEAR: i64 = 365 * 24 * 60 * MINUTE;

/// The teacher whose ID number the attacker wants: 王芳, born 1985-03-02 in 泗县.
fn target_id() -> ResidentId {
    ResidentId::generate(
        "341324",
        time::Date::from_calendar_date(1985, time::Month::March, 2).unwrap(),
        417,
    )
}

/// A service over a fresh database with a clock the test moves, and `limits`.
struct Edge {
    _test_db: TestDatabase,
    db: tica_storage::Database,
    _dir: tempfile::TempDir,
    svc: Certificates,
    now: Arc<AtomicI64>,
}

impl Edge {
    async fn open(backend: Backend) -> Option<Edge> {
        Edge::with(backend, |_| {}).await
    }

    async fn with(
        backend: Backend,
        configure: impl FnOnce(&mut tica_certificate::service::Config),
    ) -> Option<Edge> {
        let now = Arc::new(AtomicI64::new(START));
        let support::Offline {
            test_db,
            db,
            dir,
            svc,
        } = support::Offline::with_config(backend, |dir| {
            let mut config = support::test_config(dir);
            config.clock = Clock::from_fn({
                let now = now.clone();
                move || now.load(Ordering::SeqCst)
            });
            // Every guess comes from its own address: the per-client limit is not what stops them.
            config.searches_per_client_minute = 1_000_000;
            configure(&mut config);
            config
        })
        .await?;
        Some(Edge {
            _test_db: test_db,
            db,
            _dir: dir,
            svc,
            now,
        })
    }

    /// Issues results `0..n` (teacher `T0000000`, 王芳, holds the first three with the target's
    /// ID number; the others get numbers of their own), then the events `more`.
    async fn issue(&self, n: usize, more: Vec<tica_proto::tica::assessment::v1::CertifiedResult>) {
        let id = target_id();
        let mut keys = HashMap::new();
        for i in 0..n {
            let teacher = support::teacher_of(i);
            let key = if i < 3 {
                tica_certificate::upstream::search_key(support::SEARCH_SECRET, "王芳", id.as_str())
            } else {
                format!("other-{teacher}")
            };
            keys.insert(teacher, key);
        }
        let mut events: Vec<_> = (0..n)
            .map(|i| {
                let mut e = certified_event(i);
                if i < 3 {
                    e.teacher_display_name = "王芳".into();
                    e.teacher_id_number_masked = id.masked();
                }
                e
            })
            .collect();
        events.extend(more);
        let mut run = support::stored_run(&self.db, 1, 0).await.unwrap();
        self.svc
            .process(&mut run, events, &keys, &mut Numbers::new())
            .await
            .unwrap();
    }

    async fn all(&self) -> Vec<CertificateRecord> {
        support::all_certificates(&self.db).await
    }

    fn advance_to(&self, micros: i64) {
        self.now.fetch_max(micros, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

fn fragment_of(record: &CertificateRecord) -> String {
    record.doc.qr_text.split_once('#').unwrap().1.to_owned()
}

async fn a_log_walked_by_index_names_no_certificate_yet_every_holder_finds_theirs(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(12, vec![withdrawn_event(4, 13)]).await;
    let issued = edge.all().await;
    let checkpoint = edge.svc.log_checkpoint(0).await.unwrap();
    assert_eq!(checkpoint.tree_size, 13, "12 issues and a revocation");
    // The harvester: every entry by index, as GetInclusionProof { log_index } gives it.
    for index in 0..checkpoint.tree_size {
        let view = edge.svc.inclusion_proof(index, 0, false).await.unwrap();
        let entry = view.entry.unwrap();
        assert!(
            entry.certificate_id.is_empty(),
            "entry {index} names no certificate"
        );
        let text = String::from_utf8(entry.entry.clone()).unwrap();
        for c in &issued {
            assert!(!text.contains(&c.id), "entry {index} holds an id: {text}");
            assert!(
                !text.contains(&c.number),
                "entry {index} holds a number: {text}"
            );
        }
        // Still verifiable by anyone: the leaf hash and the proof into the signed root.
        let root: tica_credential::merkle::Hash =
            view.checkpoint.root_hash.as_slice().try_into().unwrap();
        let proof: Vec<tica_credential::merkle::Hash> = view
            .hashes
            .iter()
            .map(|h| h.as_slice().try_into().unwrap())
            .collect();
        tica_credential::merkle::verify_inclusion(
            index as u64,
            checkpoint.tree_size as u64,
            &tica_credential::merkle::leaf_hash(&entry.entry),
            &proof,
            &root,
        )
        .unwrap();
    }
    // The holder: the id and payload from the QR code give the commitment the entry holds.
    for c in &issued {
        let scanned = tica_credential::qr::parse_qr(&c.doc.qr_text).unwrap();
        let commitment = hex::encode(tica_credential::qr::log_commitment(
            &scanned.id,
            &scanned.protected,
        ));
        let view = edge
            .svc
            .inclusion_proof(c.log_index, 0, true)
            .await
            .unwrap();
        let entry = view.entry.unwrap();
        assert_eq!(entry.certificate_id, c.id);
        let text = String::from_utf8(entry.entry).unwrap();
        assert!(text.contains(&commitment), "{text}");
    }
    edge.db.close().await;
}

/// Every ID number consistent with what a certificate page shows of 王芳's: the masked form
/// `3413**********XXXX` and the county 泗县 (341324) give the region code; the birth date
/// (teachers are 22 to 64) is unknown; the check character must match the printed last one.
fn candidates(masked: &str) -> Vec<String> {
    let (prefix, last4) = (&masked[..4], &masked[14..]);
    assert_eq!(prefix, "3413");
    let mut out = Vec::new();
    let mut date = time::Date::from_calendar_date(1962, time::Month::January, 1).unwrap();
    let end = time::Date::from_calendar_date(2004, time::Month::December, 31).unwrap();
    while date <= end {
        let body = format!(
            "341324{:04}{:02}{:02}{}",
            date.year(),
            date.month() as u8,
            date.day(),
            &last4[..3]
        );
        let first17: [u8; 17] = body.as_bytes().try_into().unwrap();
        if Some(tica_domain::resident_id::check_character(&first17)) == last4.chars().nth(3) {
            out.push(format!("{body}{}", &last4[3..]));
        }
        date = date.next_day().unwrap();
    }
    out
}

async fn the_teachers_search_cannot_confirm_an_id_number_within_a_year_from_any_number_of_addresses(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(3, vec![]).await;
    let real = target_id();
    let masked = real.masked();
    let candidates = candidates(&masked);
    assert!(
        (1_300..1_600).contains(&candidates.len()),
        "about 1,500 candidates: {}",
        candidates.len()
    );
    let position = candidates.iter().position(|c| c == real.as_str()).unwrap();
    // The attacker tries them in a fixed shuffled order, each from a new address, and waits
    // out every lock exactly (they read it from the answer) — the best they can do.
    let mut order: Vec<&String> = candidates.iter().collect();
    order.sort_by_key(|c| tica_certificate::upstream::search_key(b"order", "", c));
    let real_at = order.iter().position(|c| *c == real.as_str()).unwrap();
    let target = target_key(
        support::SEARCH_SECRET,
        "search",
        &["王芳", &masked[..4], &masked[14..]],
    );
    let mut evaluated = 0;
    let mut found = false;
    let mut next = order.iter();
    let mut guess = next.next();
    while let Some(candidate) = guess {
        if edge.now() > START + YEAR {
            break;
        }
        let client = format!(
            "10.{}.{}.{}",
            evaluated / 65536,
            evaluated / 256 % 256,
            evaluated % 256
        );
        match edge.svc.search(&client, "王芳", candidate).await {
            Ok(rows) => {
                evaluated += 1;
                found |= !rows.is_empty();
                guess = next.next();
            }
            Err(CertificateError::ResourceExhausted(_)) => {
                let row = store::throttle(&edge.db, &target).await.unwrap().unwrap();
                assert!(row.locked_until_micros > edge.now());
                edge.advance_to(row.locked_until_micros);
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    // 22 failures at most in a year: 1.5 % of the candidates, whatever the addresses.
    let bound = tica_certificate::service::GuessLimits::default()
        .most_failures_within(Duration::from_micros(YEAR as u64));
    assert_eq!(bound, 22);
    assert!(
        evaluated <= bound as usize,
        "{evaluated} guesses were evaluated in a year"
    );
    assert_eq!(
        found,
        real_at < evaluated,
        "the real number is candidate {real_at} of {} (position {position} by date)",
        candidates.len()
    );
    assert!(
        !found,
        "the real number was not among the first {evaluated} guesses"
    );
    eprintln!(
        "{} candidates; {evaluated} guesses evaluated in a simulated year from {evaluated} addresses \
         (≤ {bound} = {:.1} %); the real number was guess {real_at}",
        candidates.len(),
        100.0 * bound as f64 / candidates.len() as f64
    );
    // While locked, even the right answer is refused: a lock reveals nothing.
    let wrong = order.iter().find(|c| **c != real.as_str()).unwrap();
    let _ = edge.svc.search("203.0.113.8", "王芳", wrong).await;
    let locked = edge.svc.search("203.0.113.9", "王芳", real.as_str()).await;
    assert!(
        matches!(locked, Err(CertificateError::ResourceExhausted(_))),
        "{locked:?}"
    );
    edge.db.close().await;
}

async fn guessing_names_for_a_known_id_number_is_throttled_too(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(3, vec![]).await;
    let real = target_id();
    for (i, name) in ["王一", "王二", "王三"].iter().enumerate() {
        let rows = edge
            .svc
            .search(&format!("client-{i}"), name, real.as_str())
            .await
            .unwrap();
        assert!(rows.is_empty());
    }
    let refused = edge.svc.search("client-x", "王芳", real.as_str()).await;
    assert!(
        matches!(refused, Err(CertificateError::ResourceExhausted(_))),
        "the fourth name within a minute is refused, even the right one: {refused:?}"
    );
    // After the lock, the teacher finds theirs, and that forgives the failures.
    edge.advance_to(START + 2 * MINUTE);
    let rows = edge
        .svc
        .search("client-y", "王芳", real.as_str())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let rows = edge
        .svc
        .search("client-z", " 王 芳 ", &real.as_str().to_lowercase())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "spaces and a lower-case x are forgiven");
    // A malformed number is refused before it counts, naming the field.
    let bad = edge
        .svc
        .search("client-y", "王芳", "34132419850302001")
        .await;
    match bad {
        Err(CertificateError::Invalid(problems)) => {
            assert_eq!(problems[0].0, "id_number");
            assert!(problems[0].1.contains("18"), "{problems:?}");
        }
        other => panic!("{other:?}"),
    }
    let mut wrong_check = real.as_str().to_owned();
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '1' { '2' } else { '1' });
    match edge.svc.search("client-y", "王芳", &wrong_check).await {
        Err(CertificateError::Invalid(problems)) => {
            assert!(problems[0].1.contains("校验位"), "{problems:?}");
            assert!(
                !problems[0].1.contains("18位") && !problems[0].1.contains("应为"),
                "{problems:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    edge.db.close().await;
}

async fn the_overall_failure_budget_stops_a_breadth_attack_and_backs_off(backend: Backend) {
    let Some(edge) = Edge::with(backend, |config| {
        config.guesses.budget = 20;
    })
    .await
    else {
        return;
    };
    edge.issue(3, vec![]).await;
    // One guess each at many people: no target is locked, but the budget is spent.
    let mut refused_at = None;
    for n in 0..40u16 {
        let id = ResidentId::generate(
            "341324",
            time::Date::from_calendar_date(1980, time::Month::May, 1).unwrap(),
            n + 1,
        );
        match edge
            .svc
            .search(&format!("c{n}"), &format!("李{n}"), id.as_str())
            .await
        {
            Ok(rows) => assert!(rows.is_empty()),
            Err(CertificateError::ResourceExhausted(_)) => {
                refused_at = Some(n);
                break;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(
        refused_at,
        Some(21),
        "the 22nd failure in the hour is refused"
    );
    // Everyone waits, the real teacher too, for five minutes.
    let real = target_id();
    assert!(
        edge.svc
            .search("teacher", "王芳", real.as_str())
            .await
            .is_err()
    );
    edge.advance_to(START + 5 * MINUTE + 1);
    assert_eq!(
        edge.svc
            .search("teacher", "王芳", real.as_str())
            .await
            .unwrap()
            .len(),
        3
    );
    // The attack goes on: the next lock is twice as long.
    for n in 100..130u16 {
        let id = ResidentId::generate(
            "341324",
            time::Date::from_calendar_date(1980, time::Month::May, 1).unwrap(),
            n,
        );
        if edge
            .svc
            .search(&format!("c{n}"), &format!("赵{n}"), id.as_str())
            .await
            .is_err()
        {
            break;
        }
    }
    let global = store::throttle(&edge.db, "global").await.unwrap().unwrap();
    assert_eq!(global.strikes, 2);
    assert_eq!(global.locked_until_micros - edge.now(), 10 * MINUTE);
    edge.db.close().await;
}

async fn a_number_lookup_needs_the_holders_name_or_printed_code_and_is_throttled(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![]).await;
    let cert = edge.all().await.remove(0);
    let code = verification_code(&cert.id);
    let found = |lookup: Lookup| match lookup {
        Lookup::Found(v) => Some(v.record.unwrap().id),
        Lookup::NotFound => None,
    };
    let by_name = edge
        .svc
        .lookup("a", &cert.number, &cert.doc.facts.teacher_display_name, "")
        .await
        .unwrap();
    assert_eq!(found(by_name), Some(cert.id.clone()));
    let by_code = edge
        .svc
        .lookup("a", &cert.number, "", &code.to_lowercase().replace('-', ""))
        .await
        .unwrap();
    assert_eq!(found(by_code), Some(cert.id.clone()));
    // A wrong name and an unknown number answer alike.
    let wrong = edge
        .svc
        .lookup("b", &cert.number, "李四", "")
        .await
        .unwrap();
    assert!(found(wrong).is_none());
    let unknown = edge
        .svc
        .lookup("b", "341324-2022-999999", "王芳", "")
        .await
        .unwrap();
    assert!(found(unknown).is_none());
    // Three wrong names for one number from three addresses, then the number is locked —
    // for the right name too.
    for (i, name) in ["李一", "李二"].iter().enumerate() {
        let answer = edge
            .svc
            .lookup(&format!("x{i}"), &cert.number, name, "")
            .await
            .unwrap();
        assert!(found(answer).is_none());
    }
    let locked = edge
        .svc
        .lookup("y", &cert.number, &cert.doc.facts.teacher_display_name, "")
        .await;
    assert!(
        matches!(locked, Err(CertificateError::ResourceExhausted(_))),
        "{locked:?}"
    );
    let invalid = edge.svc.lookup("y", "12345", "王芳", "").await;
    assert!(matches!(invalid, Err(CertificateError::Invalid(_))));
    edge.db.close().await;
}

async fn a_pdf_is_handed_only_to_whoever_holds_the_qr_codes_signed_part(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![withdrawn_event(5, 7)]).await;
    let issued = edge.all().await;
    let active = issued.iter().find(|c| c.status == Status::Active).unwrap();
    let revoked = issued.iter().find(|c| c.status == Status::Revoked).unwrap();
    // The id alone (the URL without its fragment), or another certificate's fragment: no.
    for proof in ["", "1234567", &fragment_of(revoked)] {
        let refused = edge.svc.pdf_for_holder(&active.id, proof).await;
        assert!(
            matches!(
                refused,
                Err(CertificateError::PermissionDenied(_) | CertificateError::NotFound(_))
            ),
            "{proof:?}: {refused:?}"
        );
    }
    let (record, pdf) = edge
        .svc
        .pdf_for_holder(&active.id, &fragment_of(active))
        .await
        .unwrap();
    assert_eq!(record.id, active.id);
    assert_eq!(pdf, edge.svc.pdf_of(&active.id).await.unwrap());
    // A revoked certificate is not handed out, even to its holder.
    let gone = edge
        .svc
        .pdf_for_holder(&revoked.id, &fragment_of(revoked))
        .await;
    assert_eq!(
        gone.map(|_| ()).unwrap_err().reason(),
        tica_server::errors::ErrorReason::CertificateRevoked
    );
    edge.db.close().await;
}

async fn the_page_check_names_what_a_forged_qr_changed(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(3, vec![]).await;
    let cert = edge
        .all()
        .await
        .into_iter()
        .find(|c| c.doc.facts.grade == tica_certificate::model::Grade::Pass)
        .unwrap();
    let genuine = edge
        .svc
        .check_qr(&cert.id, &fragment_of(&cert))
        .await
        .unwrap();
    assert_eq!(genuine.verification.verdict, Verdict::Valid);
    assert!(genuine.differences.is_empty());
    // The grade 合格 → 优秀 in the signed fragment, re-signed by a forger's key under TICA's kid.
    let scanned = tica_credential::qr::parse_qr(&cert.doc.qr_text).unwrap();
    let mut claims = tica_credential::qr::decode_claims(&scanned.id, &scanned.protected).unwrap();
    claims.grade = "优秀".into();
    let forger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forged = tica_credential::qr::qr_text(&scanned.base_url, &claims, &forger).unwrap();
    let check = edge
        .svc
        .check_qr(&cert.id, forged.split_once('#').unwrap().1)
        .await
        .unwrap();
    assert_eq!(check.verification.verdict, Verdict::NotGenuine);
    assert_eq!(check.differences.len(), 1, "{:?}", check.differences);
    let d = &check.differences[0];
    assert_eq!(
        (d.label, d.scanned.as_str(), d.registered.as_str()),
        ("等级 Grade", "优秀", "合格")
    );
    // The genuine claims with a signature from elsewhere: the signature differs.
    let resigned = tica_credential::qr::qr_text(
        &scanned.base_url,
        &tica_credential::qr::decode_claims(&scanned.id, &scanned.protected).unwrap(),
        &forger,
    )
    .unwrap();
    let check = edge
        .svc
        .check_qr(&cert.id, resigned.split_once('#').unwrap().1)
        .await
        .unwrap();
    assert_eq!(check.verification.verdict, Verdict::NotGenuine);
    assert_eq!(check.differences[0].label, "签名 Signature");
    // Verify by QR text of another host: not genuine, whatever it carries.
    let moved = cert
        .doc
        .qr_text
        .replace("VERIFY.AHEDU.GOV.CN", "VERIFY.AHEDU.GOV.CN.EXAMPLE.COM");
    let v = edge.svc.verify(Subject::Qr(moved)).await.unwrap();
    assert_eq!(
        v.failure,
        Some(tica_certificate::service::Failure::WrongIssuer)
    );
    edge.db.close().await;
}

async fn the_revocation_list_lists_revoked_certificates_by_hash_only(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![withdrawn_event(2, 7)]).await;
    let issued = edge.all().await;
    let first = edge.svc.revocation_list().await.unwrap();
    assert_eq!(first.count, 1);
    for c in &issued {
        assert!(!first.token.contains(&c.id));
    }
    let jwks: serde_json::Value = serde_json::from_str(&edge.svc.jwks_json()).unwrap();
    let keys = tica_credential::key_set_from_jwks(&jwks).unwrap();
    assert_eq!(keys.issuer.as_deref(), Some("https://verify.ahedu.gov.cn"));
    let list = tica_credential::revocation::RevocationList::verify(&first.token, &keys).unwrap();
    for c in &issued {
        assert_eq!(
            list.revokes(&c.id),
            c.status == Status::Revoked,
            "{}",
            c.number
        );
    }
    assert_eq!(
        list.expires_at - list.issued_at,
        24 * 3600,
        "good for a day offline"
    );
    // Cached until a revocation is appended.
    assert_eq!(edge.svc.revocation_list().await.unwrap(), first);
    let mut run = support::stored_run(&edge.db, 2, 7).await.unwrap();
    edge.svc
        .process(
            &mut run,
            vec![withdrawn_event(3, 8)],
            &HashMap::new(),
            &mut Numbers::new(),
        )
        .await
        .unwrap();
    let second = edge.svc.revocation_list().await.unwrap();
    assert_eq!(second.count, 2);
    edge.db.close().await;
}

async fn a_retired_key_named_active_again_is_refused_at_start(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The installation's first key, then a rotation to a second: the first retires.
    let keys = dir.path().join("keys");
    let first = tica_certificate::keys::read_key_dir(&edge._dir.path().join("keys"), None).unwrap();
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(
        edge._dir.path().join("keys/test-1.pem"),
        keys.join("test-1.pem"),
    )
    .unwrap();
    tica_certificate::keys::ensure_dev_key(&dir.path().join("second"), "test-2").unwrap();
    std::fs::copy(
        dir.path().join("second/test-2.pem"),
        keys.join("test-2.pem"),
    )
    .unwrap();
    let nowhere = tica_certificate::startup::channel("http://127.0.0.1:9").unwrap();
    let start = |active: &'static str| {
        tica_certificate::startup::build(
            edge.db.clone(),
            nowhere.clone(),
            nowhere.clone(),
            &keys,
            Some(active),
            edge.svc.config().clone(),
        )
    };
    let rotated = start("test-2").await.unwrap();
    assert_eq!(rotated.active_kid(), "test-2");
    let retired = rotated
        .signing_keys()
        .iter()
        .find(|k| k.kid == "test-1")
        .unwrap()
        .retire_micros;
    assert!(retired.is_some());
    // Naming the retired key active again is refused, and its retirement stands.
    let refused = start("test-1").await.unwrap_err();
    assert!(refused.to_string().contains("retired"), "{refused:#}");
    let keys_now = store::keys(&edge.db).await.unwrap();
    let test1 = keys_now.iter().find(|k| k.kid == "test-1").unwrap();
    assert_eq!(test1.retire_micros, retired);
    assert_eq!(first.active_kid, "test-1");
    // The published set carries each key's span.
    let jwks: serde_json::Value = serde_json::from_str(&rotated.jwks_json()).unwrap();
    let set = tica_credential::key_set_from_jwks(&jwks).unwrap();
    assert!(set.get("test-1").unwrap().retired_micros.is_some());
    assert!(set.get("test-2").unwrap().retired_micros.is_none());
    edge.db.close().await;
}

/// The soak's four refused searches (issue 16): two searches for one person at once, the
/// second's clock read a moment before the first stored its free failure. A free failure must
/// set no lock, or the correct search is refused "try again in 1 秒" though nobody guessed.
async fn a_free_failure_sets_no_lock_that_refuses_a_concurrent_correct_search(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(3, vec![]).await;
    let real = target_id();
    edge.advance_to(START + 500_000);
    let rows = edge
        .svc
        .search("client-a", "王一", real.as_str())
        .await
        .unwrap();
    assert!(rows.is_empty(), "a wrong name: one free failure");
    // The concurrent search read the clock half a second earlier.
    edge.now.store(START, Ordering::SeqCst);
    let rows = edge
        .svc
        .search("client-b", "王芳", real.as_str())
        .await
        .expect("no lock after one free failure");
    assert_eq!(rows.len(), 3);
    edge.db.close().await;
}

/// The roster keeps a name as entered, inner space and all ("欧阳 娜娜"); the search drops a
/// name's whitespace before it compares. Issuance keyed the name with only its ends trimmed, so
/// such a teacher could never find their certificates, however they typed the name.
async fn a_teacher_whose_roster_name_has_a_space_inside_finds_their_certificates(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    let id = target_id();
    let mut event = certified_event(0);
    event.teacher_display_name = "欧阳 娜娜".into();
    event.teacher_id_number_masked = id.masked();
    let keys = HashMap::from([(
        support::teacher_of(0),
        tica_certificate::upstream::search_key(support::SEARCH_SECRET, "欧阳 娜娜", id.as_str()),
    )]);
    let mut run = support::stored_run(&edge.db, 1, 0).await.unwrap();
    edge.svc
        .process(&mut run, vec![event], &keys, &mut Numbers::new())
        .await
        .unwrap();
    for typed in ["欧阳娜娜", "欧阳 娜娜"] {
        let rows = edge
            .svc
            .search(&format!("client-{typed}"), typed, id.as_str())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "typed {typed:?}");
    }
    edge.db.close().await;
}

// ---- The JSON API (issue 17 §6), through the public edge as a visitor meets it ----

/// The public router behind the real edge (`limits`: per-minute rate and burst), answering
/// CORS for `https://hr.example.gov.cn` only.
fn json_front(edge: &Edge, rate_per_minute: u32, burst: u32) -> axum::Router {
    let origins: tica_server::edge::CorsOrigins = "https://hr.example.gov.cn".parse().unwrap();
    let config = tica_server::edge::EdgeConfig {
        rate_per_minute,
        burst,
        cors_allowed_origins: origins.clone(),
        ..tica_server::edge::EdgeConfig::default()
    };
    tica_server::edge::Edge::new(config)
        .guard(tica_certificate::http::router(edge.svc.clone(), &origins))
}

struct Answer {
    status: axum::http::StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The google.rpc.Status under `error`, checked against the HTTP status; its `status`.
    fn refusal(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        let error = &body["error"];
        assert_eq!(error["code"], self.status.as_u16(), "{body}");
        assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
        let types: Vec<&str> = error["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["@type"].as_str().unwrap())
            .collect();
        for wanted in ["ErrorInfo", "LocalizedMessage"] {
            assert!(
                types.contains(&format!("type.googleapis.com/google.rpc.{wanted}").as_str()),
                "{wanted}: {body}"
            );
        }
        error.clone()
    }
}

/// One request from 192.0.2.9 (or `client`).
async fn send_from(
    router: &axum::Router,
    client: [u8; 4],
    mut request: axum::http::Request<axum::body::Body>,
) -> Answer {
    use tower::ServiceExt;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            client, 40000,
        ))));
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: axum::body::to_bytes(body, 16 << 20).await.unwrap().to_vec(),
    }
}

async fn send(router: &axum::Router, request: axum::http::Request<axum::body::Body>) -> Answer {
    send_from(router, [192, 0, 2, 9], request).await
}

fn post_json(
    path: &str,
    body: impl Into<axum::body::Body>,
) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn get(path: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap()
}

const VERIFY: &str = "/api/v1/certificates:verify";
const BATCH: &str = "/api/v1/certificates:batchVerify";

async fn the_json_api_answers_as_the_grpc_methods_do_in_proto3_json(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(4, vec![withdrawn_event(2, 5)]).await;
    let all = edge.all().await;
    let active = all
        .iter()
        .find(|c| c.status == Status::Active && c.log_index > 0)
        .unwrap();
    let revoked = all.iter().find(|c| c.status == Status::Revoked).unwrap();
    let front = json_front(&edge, 6000, 1000);

    // Verify by name, by bare id and by the QR text: the service's verdict, in proto3 JSON.
    let by_name = json!({"certificate": format!("certificates/{}", active.id)});
    let answer = send(&front, post_json(VERIFY, by_name.to_string())).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let v = answer.json();
    assert_eq!(v["verdict"], "VERDICT_VALID", "{v}");
    assert_eq!(v["certificate"], format!("certificates/{}", active.id));
    assert_eq!(v["facts"]["number"], active.number.as_str());
    assert_eq!(
        v["facts"]["kind"], "CERTIFICATE_KIND_MICRO_COMPETENCY",
        "{v}"
    );
    assert_eq!(
        v["logIndex"],
        active.log_index.to_string(),
        "int64 as a string"
    );
    assert!(v.get("failure").is_none(), "defaults are left out: {v}");
    let service = edge
        .svc
        .verify(Subject::Id(active.id.clone()))
        .await
        .unwrap();
    assert_eq!(v["message"], service.message());
    let qr = json!({"qrText": active.doc.qr_text});
    let v = send(&front, post_json(VERIFY, qr.to_string())).await.json();
    assert_eq!(v["verdict"], "VERDICT_VALID", "{v}");
    // Proto names are accepted too, as proto3 JSON parsers must.
    let snake = json!({"qr_text": revoked.doc.qr_text});
    let v = send(&front, post_json(VERIFY, snake.to_string()))
        .await
        .json();
    assert_eq!(v["verdict"], "VERDICT_REVOKED", "{v}");
    assert_eq!(
        v["revocation"]["reason"], "REVOCATION_REASON_RESULT_WITHDRAWN",
        "{v}"
    );
    assert!(
        v["revocation"]["revokeTime"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "RFC 3339: {v}"
    );
    assert!(
        v["revocation"].get("actor").is_none(),
        "verifiers are anonymous: {v}"
    );
    let unknown = json!({"certificate": "certificates/nosuchcertificate"});
    let v = send(&front, post_json(VERIFY, unknown.to_string()))
        .await
        .json();
    assert_eq!(v["verdict"], "VERDICT_NOT_GENUINE");
    assert_eq!(v["failure"], "VERIFY_FAILURE_UNKNOWN_ID");

    // BatchVerify: one answer per item, in order; an empty item is its own MALFORMED answer.
    let batch = json!({"requests": [
        {"certificate": active.id},
        {},
        {"qrText": revoked.doc.qr_text},
    ]});
    let answer = send(&front, post_json(BATCH, batch.to_string())).await;
    assert_eq!(answer.status, 200);
    let responses = answer.json()["responses"].as_array().unwrap().clone();
    let verdicts: Vec<&str> = responses
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["VERDICT_VALID", "VERDICT_NOT_GENUINE", "VERDICT_REVOKED"]
    );
    assert_eq!(responses[1]["failure"], "VERIFY_FAILURE_MALFORMED");

    // The keys: bytes in base64, times in RFC 3339, the JWKS beside.
    let keys = send(&front, get("/api/v1/signingKeys")).await;
    assert_eq!(keys.status, 200);
    let keys = keys.json();
    let key = &keys["signingKeys"][0];
    assert_eq!(key["state"], "SIGNING_KEY_STATE_ACTIVE", "{keys}");
    assert_eq!(key["algorithm"], "Ed25519");
    let public_key = base64::engine::general_purpose::STANDARD
        .decode(key["publicKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(public_key.len(), 32);
    assert!(
        time::OffsetDateTime::parse(
            key["activateTime"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert_eq!(keys["jwksJson"], edge.svc.jwks_json());

    // The log's checkpoint: the latest, or one by size; a size never signed is NOT_FOUND.
    let latest = edge.svc.log_checkpoint(0).await.unwrap();
    let checkpoint = send(&front, get("/api/v1/log/checkpoint")).await.json();
    assert_eq!(checkpoint["treeSize"], latest.tree_size.to_string());
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(checkpoint["rootHash"].as_str().unwrap())
            .unwrap(),
        latest.root_hash
    );
    let by_size = send(
        &front,
        get(&format!(
            "/api/v1/log/checkpoint?treeSize={}",
            latest.tree_size
        )),
    )
    .await;
    assert_eq!(by_size.json()["treeSize"], latest.tree_size.to_string());
    let missing = send(&front, get("/api/v1/log/checkpoint?tree_size=999999")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.refusal()["status"], "NOT_FOUND");
    edge.db.close().await;
}

async fn hostile_json_gets_a_clear_4xx_json_error_and_never_a_500(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(1, vec![]).await;
    let front = json_front(&edge, 60_000, 10_000);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{}{}",
        "{\"requests\":[".repeat(20_000),
        "]}".repeat(20_000)
    );
    let many = json!({"requests": vec![json!({"certificate": "x"}); 1001]});
    // (body, HTTP status, the field a BadRequest names, if any)
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("malformed", "{\"certificate\": ".into(), 400, None),
        ("not an object", "[1,2,3]".into(), 400, None),
        ("null", "null".into(), 400, None),
        ("empty", String::new(), 400, None),
        ("text after the value", "{} {}".into(), 400, None),
        (
            "unknown field",
            "{\"certificat\": \"x\"}".into(),
            400,
            Some("certificat"),
        ),
        (
            "wrong type",
            "{\"certificate\": 5}".into(),
            400,
            Some("certificate"),
        ),
        ("bad base64", "{\"pdf\": \"%%%\"}".into(), 400, Some("pdf")),
        (
            "two subjects of one oneof",
            "{\"certificate\": \"a\", \"qrText\": \"b\"}".into(),
            400,
            None,
        ),
        ("deeply nested arrays", deep, 400, None),
        ("deeply nested objects", deep_object, 400, None),
    ];
    for (what, body, status, field) in cases {
        let path = if what.starts_with("deeply nested objects") {
            BATCH
        } else {
            VERIFY
        };
        let answer = send(&front, post_json(path, body)).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{what}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let error = answer.refusal();
        assert_eq!(error["status"], "INVALID_ARGUMENT", "{what}: {error}");
        if let Some(field) = field {
            let violations = error["details"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
                .unwrap_or_else(|| panic!("{what}: no BadRequest: {error}"))["fieldViolations"]
                .clone();
            assert_eq!(violations[0]["field"], field, "{what}: {error}");
        }
    }
    // Raw bytes that are not UTF-8 at all.
    let answer = send(
        &front,
        post_json(VERIFY, b"{\"certificate\": \"\xff\xfe\"}".to_vec()),
    )
    .await;
    assert_eq!(answer.status, 400);
    answer.refusal();

    // Over BatchVerify's documented limit: the field is named.
    let answer = send(&front, post_json(BATCH, many.to_string())).await;
    assert_eq!(answer.status, 400);
    let error = answer.refusal();
    assert!(error.to_string().contains("at most 1000"), "{error}");

    // As many empty items as the body limit holds (~690,000): refused as quickly as over gRPC.
    let flood = format!(
        "{{\"requests\":[{}{{}}]}}",
        "{},".repeat(((2 << 20) - 20) / 3)
    );
    let answer = send(&front, post_json(BATCH, flood)).await;
    assert_eq!(answer.status, 400);
    answer.refusal();

    // Not JSON, by its content type (or none): 415, as JSON.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        let mut request = axum::http::Request::post(VERIFY);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let answer = send(&front, request.body(axum::body::Body::from("{}")).unwrap()).await;
        assert_eq!(answer.status, 415, "{content_type:?}");
        assert_eq!(answer.refusal()["status"], "INVALID_ARGUMENT");
    }
    // Capitalised and with a charset, it is JSON.
    let request = axum::http::Request::post(VERIFY)
        .header("content-type", "Application/JSON; charset=UTF-8")
        .body(axum::body::Body::from(
            json!({"certificate": "x"}).to_string(),
        ))
        .unwrap();
    assert_eq!(send(&front, request).await.status, 200);

    // Query parameters the request does not have, or that are no number.
    for query in [
        "bogus=1",
        "treeSize=abc",
        "treeSize=1&treeSize=2",
        "treeSize=99999999999999999999",
    ] {
        let answer = send(&front, get(&format!("/api/v1/log/checkpoint?{query}"))).await;
        assert_eq!(
            answer.status,
            400,
            "{query}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.refusal();
    }

    // A body over the edge's limit: refused before it is read (a declared length) or as soon
    // as it passes the limit (a stream without one).
    let big = vec![b' '; 3 << 20];
    let request = axum::http::Request::post(VERIFY)
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(axum::body::Body::from(big.clone()))
        .unwrap();
    assert_eq!(send(&front, request).await.status, 413);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 << 10).map(|c| Ok(c.to_vec())).collect();
    let streamed = axum::body::Body::from_stream(futures::stream::iter(chunks));
    let answer = send(&front, post_json(VERIFY, streamed)).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.refusal()["status"], "OUT_OF_RANGE");

    // A PDF over 1 MiB (in 1.4 MB of base64, under the body limit): the service's own limit.
    let pdf = base64::engine::general_purpose::STANDARD.encode(vec![b'%'; (1 << 20) + 1]);
    let answer = send(&front, post_json(VERIFY, json!({"pdf": pdf}).to_string())).await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    answer.refusal();
    edge.db.close().await;
}

async fn the_json_api_is_rate_limited_per_client_and_a_batch_pays_per_fifty_items(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(1, vec![]).await;
    let id = edge.all().await[0].id.clone();
    // A burst of 5, then one a second.
    let front = json_front(&edge, 60, 5);
    // 100 items cost 2 units: the call's own and one more.
    let batch = json!({"requests": vec![json!({"certificate": id}); 100]});
    let answer = send(&front, post_json(BATCH, batch.to_string())).await;
    assert_eq!(answer.status, 200);
    // 250 items would cost 5 with 3 left: the handler's charge refuses, in JSON with RetryInfo.
    let batch = json!({"requests": vec![json!({"certificate": id}); 250]});
    let answer = send(&front, post_json(BATCH, batch.to_string())).await;
    assert_eq!(
        answer.status,
        429,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let error = answer.refusal();
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED");
    let retry = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .unwrap_or_else(|| panic!("RetryInfo: {error}"));
    assert!(
        retry["retryDelay"].as_str().unwrap().ends_with('s'),
        "{retry}"
    );
    assert!(answer.header("retry-after").is_some());
    // Spend the rest with single calls: then the edge refuses before any handler runs.
    let mut refused = None;
    for _ in 0..5 {
        let answer = send(&front, get("/api/v1/signingKeys")).await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the budget runs out");
    assert!(refused.header("retry-after").is_some());
    // Another client has its own budget.
    let other = send_from(&front, [198, 51, 100, 4], get("/api/v1/signingKeys")).await;
    assert_eq!(other.status, 200);
    edge.db.close().await;
}

async fn pages_on_allowed_origins_may_call_the_json_api_and_the_pages_answer_no_cors(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(1, vec![]).await;
    let id = edge.all().await[0].id.clone();
    let front = json_front(&edge, 6000, 1000);
    let preflight = |origin: &str, path: &str, method: &str| {
        axum::http::Request::options(path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    for (path, method) in [
        (VERIFY, "POST"),
        (BATCH, "POST"),
        ("/api/v1/signingKeys", "GET"),
    ] {
        let answer = send(&front, preflight("https://hr.example.gov.cn", path, method)).await;
        assert!(answer.status.is_success(), "{path}: {}", answer.status);
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("https://hr.example.gov.cn"),
            "{path}"
        );
        let methods = answer.header("access-control-allow-methods").unwrap();
        assert!(methods.contains(method), "{path}: {methods}");
        assert!(
            answer
                .header("access-control-allow-headers")
                .unwrap()
                .contains("content-type")
        );
        assert!(answer.header("access-control-allow-credentials").is_none());
    }
    // The call itself carries the origin back; a page on another origin gets no CORS header, so
    // its browser withholds the answer.
    let call = |origin: &str| {
        axum::http::Request::post(VERIFY)
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"certificate": id}).to_string(),
            ))
            .unwrap()
    };
    let answer = send(&front, call("https://hr.example.gov.cn")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://hr.example.gov.cn")
    );
    let answer = send(&front, call("https://evil.example")).await;
    assert!(answer.header("access-control-allow-origin").is_none());
    let answer = send(&front, preflight("https://evil.example", VERIFY, "POST")).await;
    assert!(answer.header("access-control-allow-origin").is_none());
    // The pages keep their strict policy and answer no CORS at all.
    let page = axum::http::Request::get(format!("/c/{id}"))
        .header("origin", "https://hr.example.gov.cn")
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = send(&front, page).await;
    assert_eq!(answer.status, 200);
    assert!(answer.header("access-control-allow-origin").is_none());
    assert!(
        answer
            .header("content-security-policy")
            .unwrap()
            .contains("script-src 'sha256-")
    );
    let answer = send(
        &front,
        preflight("https://hr.example.gov.cn", "/c/x/qr", "POST"),
    )
    .await;
    assert!(answer.header("access-control-allow-origin").is_none());
    edge.db.close().await;
}

async fn the_openapi_document_is_openapi_3_1_and_lists_exactly_the_routes_served(backend: Backend) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    let front = json_front(&edge, 60_000, 10_000);
    let answer = send(&front, get("/api/openapi.json")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let doc = answer.json();
    check_openapi_3_1(&doc);

    // Exactly the routes served: every documented operation is answered (not 404 or 405), and
    // every route of the table the router is built from is documented, nothing more.
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let request = axum::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(path)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(if method == "post" {
                    "{}"
                } else {
                    ""
                }))
                .unwrap();
            let answer = send(&front, request).await;
            assert!(
                answer.status != 404 && answer.status != 405,
                "{method} {path}: {}",
                answer.status
            );
        }
        // A method the document does not list for the path is not served.
        let undocumented = if item.get("get").is_some() {
            "PUT"
        } else {
            "GET"
        };
        let request = axum::http::Request::builder()
            .method(undocumented)
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            send(&front, request).await.status,
            405,
            "{undocumented} {path}"
        );
    }
    let mut served: std::collections::BTreeSet<(String, String)> =
        tica_certificate::http::rest::ROUTES
            .iter()
            .map(|r| (r.method.name().to_owned(), r.path.to_owned()))
            .collect();
    served.insert((
        "get".into(),
        tica_certificate::http::rest::OPENAPI_PATH.into(),
    ));
    assert_eq!(documented, served);
    for unserved in [
        "/api/v1/certificates",
        "/api/v1/certificates:revoke",
        "/api/v1/log",
    ] {
        assert_eq!(send(&front, get(unserved)).await.status, 404, "{unserved}");
    }
    edge.db.close().await;
}

/// What OpenAPI 3.1 requires of the document, and what a generator could get wrong: the
/// version, info, paths whose operations have unique ids and responses, every `$ref` resolving
/// to a component, and schemas whose types JSON Schema knows.
fn check_openapi_3_1(doc: &serde_json::Value) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(
                ["get", "post", "put", "delete", "patch", "options", "head"]
                    .contains(&method.as_str())
            );
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "{method} {path}"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty());
            for (code, response) in responses {
                assert!(code == "default" || code.parse::<u16>().is_ok(), "{code}");
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code}"
                );
            }
            if let Some(parameters) = op.get("parameters") {
                for p in parameters.as_array().unwrap() {
                    assert!(p["name"].is_string() && p["in"] == "query" && p["schema"].is_object());
                }
            }
        }
    }
    fn walk(
        value: &serde_json::Value,
        schemas: &serde_json::Map<String, serde_json::Value>,
        refs: &mut usize,
    ) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(target) = object.get("$ref") {
                    let name = target
                        .as_str()
                        .unwrap()
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("{target}"));
                    assert!(
                        schemas.contains_key(name),
                        "{name} is referred to, not defined"
                    );
                    *refs += 1;
                }
                if let Some(t) = object.get("type") {
                    let types: Vec<&serde_json::Value> = match t {
                        serde_json::Value::Array(list) => list.iter().collect(),
                        one => vec![one],
                    };
                    for t in types {
                        assert!(
                            [
                                "object", "array", "string", "integer", "number", "boolean", "null"
                            ]
                            .contains(&t.as_str().unwrap()),
                            "{t}"
                        );
                    }
                }
                for v in object.values() {
                    walk(v, schemas, refs);
                }
            }
            serde_json::Value::Array(list) => list.iter().for_each(|v| walk(v, schemas, refs)),
            _ => {}
        }
    }
    let mut refs = 0;
    walk(doc, schemas, &mut refs);
    assert!(refs > 10, "the messages refer to each other: {refs}");
    // Every component is used by something.
    let text = doc.to_string();
    for name in schemas.keys() {
        assert!(
            text.contains(&format!("\"#/components/schemas/{name}\"")),
            "{name} is unused"
        );
    }
    // The protos' comments are the descriptions.
    let verify = &doc["paths"]["/api/v1/certificates:verify"]["post"];
    assert!(
        verify["description"]
            .as_str()
            .unwrap()
            .contains("VALID, REVOKED or NOT")
    );
}

// ---- Verification codes (issue 18 §3): a teacher's code, HR's lookup, the attacker's guesses ----

const DAY: i64 = 24 * 60 * MINUTE;

/// The teacher `subject` of school 3413240001 in 泗县, as their token says.
fn teacher_ctx(subject: &str) -> tica_certificate::service::Ctx {
    tica_certificate::service::Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        tica_auth::Caller::new(
            subject.into(),
            tica_auth::Role::Teacher,
            tica_domain::division::DivisionCode::parse("341324").unwrap(),
            Some("3413240001".into()),
        ),
        tica_auth::BearerToken(String::new()),
    )
}

/// The county office of `county`.
fn office_ctx(county: &str) -> tica_certificate::service::Ctx {
    tica_certificate::service::Ctx::new(
        tica_certificate::service::SERVICE_NAME,
        tica_auth::Caller::new(
            format!("office-{county}"),
            tica_auth::Role::CountyOffice,
            tica_domain::division::DivisionCode::parse(county).unwrap(),
            None,
        ),
        tica_auth::BearerToken(String::new()),
    )
}

/// The certificate a lookup found, None for NOT FOUND.
fn found_id(lookup: &Lookup) -> Option<(String, Verdict)> {
    match lookup {
        Lookup::Found(v) => Some((v.record.as_ref().unwrap().id.clone(), v.verdict)),
        Lookup::NotFound => None,
    }
}

/// The first certificate of 王芳 (teacher T0000000), and her.
async fn wang_fangs_first(edge: &Edge) -> (CertificateRecord, tica_certificate::service::Ctx) {
    let cert = edge
        .all()
        .await
        .into_iter()
        .find(|c| c.teacher == "T0000000")
        .unwrap();
    assert_eq!(cert.doc.facts.teacher_display_name, "王芳");
    (cert, teacher_ctx("T0000000"))
}

/// Every code the holder may list.
async fn codes_of(
    edge: &Edge,
    ctx: &tica_certificate::service::Ctx,
) -> Vec<tica_certificate::model::CodeRecord> {
    edge.svc
        .codes(
            &ctx.caller,
            tica_certificate::service::CodeParent::All,
            None,
            100,
        )
        .await
        .unwrap()
}

async fn a_verification_code_is_shown_once_opens_the_certificate_with_its_holders_name_and_stops_when_expired_or_revoked(
    backend: Backend,
) {
    use tica_certificate::model::CodeState;
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![]).await;
    let (cert, holder) = wang_fangs_first(&edge).await;
    let (record, code) = edge.svc.create_code(&holder, &cert.id, 0).await.unwrap();
    // 12 characters of the unambiguous alphabet, grouped by four; valid 90 days by default.
    let plain = tica_certificate::service::parse_code(&code).unwrap();
    assert_eq!((code.len(), plain.len()), (14, 12), "{code}");
    assert!(
        plain
            .bytes()
            .all(|b| tica_certificate::service::CODE_ALPHABET.contains(&b))
    );
    assert_eq!(record.expire_micros, START + 90 * DAY);
    assert_eq!(record.state(edge.now()), CodeState::Active);
    // Stored as a keyed hash only: the list shows it masked, the row never holds it.
    assert_eq!(record.masked(), format!("****-****-{}", &plain[8..]));
    assert_eq!(
        record.code_hash,
        tica_certificate::service::code_hash(support::SEARCH_SECRET, &plain)
    );
    let listed = codes_of(&edge, &holder).await;
    assert_eq!(listed, vec![record.clone()]);
    assert!(!format!("{listed:?}").contains(&plain[..8]));
    // HR types it as it comes (lower case, spaces) with the holder's name: the certificate.
    let typed = code.to_lowercase().replace('-', " ");
    let lookup = edge.svc.lookup_code("hr", &typed, "王 芳").await.unwrap();
    assert_eq!(found_id(&lookup), Some((cert.id.clone(), Verdict::Valid)));
    edge.advance_to(START + DAY);
    edge.svc.lookup_code("hr", &code, "王芳").await.unwrap();
    let used = codes_of(&edge, &holder).await.remove(0);
    assert_eq!((used.use_count, used.last_use_micros), (2, START + DAY));
    // The certificate is revoked since: the code shows the real verdict.
    edge.svc
        .revoke(
            &office_ctx("341324"),
            &cert.id,
            tica_certificate::model::Reason::Fraud,
            "成果非本人所作，证书撤销",
            "",
        )
        .await
        .unwrap();
    let lookup = edge.svc.lookup_code("hr", &code, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), Some((cert.id.clone(), Verdict::Revoked)));
    // At its expiry it stops: NOT FOUND, listed EXPIRED.
    edge.advance_to(START + 90 * DAY);
    let lookup = edge.svc.lookup_code("hr", &code, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), None);
    assert_eq!(
        codes_of(&edge, &holder).await[0].state(edge.now()),
        CodeState::Expired
    );
    // A second code, on another certificate, revoked by its teacher: NOT FOUND at once.
    let other = edge
        .all()
        .await
        .into_iter()
        .find(|c| c.teacher == "T0000000" && c.id != cert.id)
        .unwrap();
    let (second, code2) = edge.svc.create_code(&holder, &other.id, 30).await.unwrap();
    assert_eq!(second.expire_micros, edge.now() + 30 * DAY);
    let lookup = edge.svc.lookup_code("hr", &code2, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), Some((other.id.clone(), Verdict::Valid)));
    let revoked = edge
        .svc
        .revoke_code(&holder, &other.id, &second.id)
        .await
        .unwrap();
    assert_eq!(revoked.state(edge.now()), CodeState::Revoked);
    assert_eq!(revoked.revoker, "T0000000");
    let lookup = edge.svc.lookup_code("hr", &code2, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), None);
    // Revoking it again answers it again, unchanged.
    let again = edge
        .svc
        .revoke_code(&holder, &other.id, &second.id)
        .await
        .unwrap();
    assert_eq!(again.revoke_micros, revoked.revoke_micros);
    // Listed newest first with their states; the trail has each write, never the code or name.
    let states: Vec<CodeState> = codes_of(&edge, &holder)
        .await
        .iter()
        .map(|c| c.state(edge.now()))
        .collect();
    assert_eq!(states, vec![CodeState::Revoked, CodeState::Expired]);
    let scope = tica_domain::ScopePath::parse("/340000/").unwrap();
    let trail = tica_storage::audit::list(&edge.db, &scope, "", None, 100)
        .await
        .unwrap();
    let methods: Vec<&str> = trail
        .iter()
        .map(|e| e.method.rsplit('/').next().unwrap())
        .filter(|m| m.contains("VerificationCode"))
        .collect();
    assert_eq!(
        methods,
        [
            "RevokeVerificationCode",
            "CreateVerificationCode",
            "CreateVerificationCode"
        ]
    );
    let text = format!("{trail:?}");
    for secret in [&plain[..8], &code2[..9], "王芳"] {
        assert!(!text.contains(secret), "the audit trail holds {secret}");
    }
    edge.db.close().await;
}

async fn wrong_expired_and_revoked_codes_and_wrong_names_answer_alike_and_every_guess_is_charged(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![]).await;
    let (cert, holder) = wang_fangs_first(&edge).await;
    let (expiring, expired_code) = edge.svc.create_code(&holder, &cert.id, 30).await.unwrap();
    let (revoked, revoked_code) = edge.svc.create_code(&holder, &cert.id, 180).await.unwrap();
    let (_, code) = edge.svc.create_code(&holder, &cert.id, 180).await.unwrap();
    edge.svc
        .revoke_code(&holder, &cert.id, &revoked.id)
        .await
        .unwrap();
    edge.advance_to(expiring.expire_micros);
    let front = json_front(&edge, 1000, 1000);
    let page = |code: &str, name: &str| {
        axum::http::Request::post("/code")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!(
                "code={}&name={}",
                code,
                percent(name)
            )))
            .unwrap()
    };
    // A made-up code, the right code with a wrong name, the expired and the revoked code (each
    // with the right name): one answer, on the page and in the service.
    let unknown = "ABCD-EFGH-JKLM";
    let mut pages = Vec::new();
    for (i, (typed, name)) in [
        (unknown, "王芳"),
        (code.as_str(), "王方"),
        (expired_code.as_str(), "王芳"),
        (revoked_code.as_str(), "王芳"),
    ]
    .into_iter()
    .enumerate()
    {
        let lookup = edge
            .svc
            .lookup_code(&format!("s{i}"), typed, name)
            .await
            .unwrap();
        assert!(matches!(lookup, Lookup::NotFound), "{typed} {name}");
        let answer = send_from(&front, [198, 51, 100, i as u8], page(typed, name)).await;
        assert_eq!(answer.status, axum::http::StatusCode::NOT_FOUND);
        let body = String::from_utf8(answer.body).unwrap();
        assert!(
            !body.contains(&cert.number) && !body.contains("王芳"),
            "{body}"
        );
        pages.push(body.split("<p class=\"meta\">").next().unwrap().to_owned());
    }
    assert!(pages.windows(2).all(|w| w[0] == w[1]), "{pages:#?}");
    // The right code and name, on the page: the certificate.
    let answer = send_from(&front, [198, 51, 100, 9], page(&code, "王芳")).await;
    assert_eq!(answer.status, axum::http::StatusCode::OK);
    assert!(
        String::from_utf8(answer.body)
            .unwrap()
            .contains(&cert.number)
    );
    // Someone who saw the code but not the name tries names: three misses, then the code is
    // locked — for the right name too, from any address; nothing is evaluated while locked.
    for (i, name) in ["王一", "王二", "王三"].iter().enumerate() {
        let lookup = edge
            .svc
            .lookup_code(&format!("n{i}"), &code, name)
            .await
            .unwrap();
        assert!(matches!(lookup, Lookup::NotFound));
    }
    let locked = edge.svc.lookup_code("hr", &code, "王芳").await;
    assert!(
        matches!(locked, Err(CertificateError::ResourceExhausted(_))),
        "{locked:?}"
    );
    // The lock passes; the right name works and forgives the misses.
    edge.advance_to(edge.now() + MINUTE + 1);
    let lookup = edge.svc.lookup_code("hr", &code, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), Some((cert.id.clone(), Verdict::Valid)));
    // What cannot be a code, or no name: a field violation, not charged to anything.
    let before = store::throttle(&edge.db, "global").await.unwrap();
    for (typed, name, field) in [
        ("0OI1-ABCD-EFGH", "王芳", "code"),
        (&verification_code(&cert.id)[..], "王芳", "code"),
        (code.as_str(), " ", "teacher_display_name"),
    ] {
        match edge.svc.lookup_code("v", typed, name).await {
            Err(CertificateError::Invalid(problems)) => {
                assert_eq!(problems[0].0, field, "{typed}: {problems:?}")
            }
            other => panic!("{typed}: {other:?}"),
        }
    }
    assert_eq!(store::throttle(&edge.db, "global").await.unwrap(), before);
    edge.db.close().await;
}

/// The form's value of `text`, percent-encoded (UTF-8).
fn percent(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn guessing_codes_from_one_address_or_from_many_is_throttled_to_a_refusal(backend: Backend) {
    let Some(edge) = Edge::with(backend, |config| {
        config.searches_per_client_minute = 5;
        config.guesses.budget = 20;
    })
    .await
    else {
        return;
    };
    edge.issue(3, vec![]).await;
    let (cert, holder) = wang_fangs_first(&edge).await;
    let (_, code) = edge.svc.create_code(&holder, &cert.id, 0).await.unwrap();
    let guess = |n: u32| {
        let plain: String = (0..12)
            .map(|i| {
                tica_certificate::service::CODE_ALPHABET[((n >> (i % 4 * 5)) as usize + i) % 32]
                    as char
            })
            .collect();
        plain
    };
    // One address: five lookups a minute, then refused.
    for n in 0..5 {
        let lookup = edge.svc.lookup_code("scraper", &guess(n), "王芳").await;
        assert!(matches!(lookup, Ok(Lookup::NotFound)), "{lookup:?}");
    }
    let refused = edge.svc.lookup_code("scraper", &guess(5), "王芳").await;
    assert!(
        matches!(refused, Err(CertificateError::ResourceExhausted(_))),
        "{refused:?}"
    );
    // Many addresses, a new code each time: the overall failure budget stops them, and then
    // every lookup waits, the honest one too.
    let mut refused_at = None;
    for n in 100..140 {
        match edge
            .svc
            .lookup_code(&format!("bot{n}"), &guess(n), "王芳")
            .await
        {
            Ok(Lookup::NotFound) => {}
            Err(CertificateError::ResourceExhausted(_)) => {
                refused_at = Some(n);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        refused_at,
        Some(116),
        "5 + 16 failures spend the budget of 20: the 22nd guess is refused"
    );
    let honest = edge.svc.lookup_code("hr", &code, "王芳").await;
    assert!(
        matches!(honest, Err(CertificateError::ResourceExhausted(_))),
        "{honest:?}"
    );
    edge.advance_to(START + 5 * MINUTE + 1);
    let lookup = edge.svc.lookup_code("hr", &code, "王芳").await.unwrap();
    assert_eq!(found_id(&lookup), Some((cert.id.clone(), Verdict::Valid)));
    edge.db.close().await;
}

async fn only_the_holder_makes_codes_within_the_limits_and_a_refused_create_stores_nothing(
    backend: Backend,
) {
    let Some(edge) = Edge::open(backend).await else {
        return;
    };
    edge.issue(6, vec![withdrawn_event(2, 7)]).await;
    let (cert, holder) = wang_fangs_first(&edge).await;
    // Out of range: a field violation, nothing stored.
    for ttl in [-1, 29, 181, 365] {
        match edge.svc.create_code(&holder, &cert.id, ttl).await {
            Err(CertificateError::Invalid(problems)) => assert_eq!(problems[0].0, "ttl_days"),
            other => panic!("{ttl}: {other:?}"),
        }
    }
    // Another teacher: as a missing certificate; an office: not theirs to give.
    let other_teacher = teacher_ctx("T0000001");
    let refused = edge.svc.create_code(&other_teacher, &cert.id, 0).await;
    assert!(
        matches!(refused, Err(CertificateError::NotFound(_))),
        "{refused:?}"
    );
    let refused = edge
        .svc
        .create_code(&office_ctx("341324"), &cert.id, 0)
        .await;
    assert!(
        matches!(refused, Err(CertificateError::PermissionDenied(_))),
        "{refused:?}"
    );
    // A revoked certificate gets no new code.
    let revoked = edge
        .all()
        .await
        .into_iter()
        .find(|c| c.status == Status::Revoked)
        .unwrap();
    assert_eq!(revoked.teacher, "T0000000");
    let refused = edge.svc.create_code(&holder, &revoked.id, 0).await;
    assert_eq!(
        refused.map(|_| ()).unwrap_err().reason(),
        tica_server::errors::ErrorReason::CertificateRevoked
    );
    assert!(codes_of(&edge, &holder).await.is_empty());
    // Twenty active codes at most; revoking one makes room.
    let mut made = Vec::new();
    for _ in 0..tica_certificate::service::MAX_ACTIVE_CODES {
        made.push(edge.svc.create_code(&holder, &cert.id, 0).await.unwrap().0);
    }
    let full = edge.svc.create_code(&holder, &cert.id, 0).await;
    assert!(
        matches!(full, Err(CertificateError::FailedPrecondition(_))),
        "{full:?}"
    );
    // Other people neither list nor revoke them; the county office over the school may.
    let listed = edge
        .svc
        .codes(
            &other_teacher.caller,
            tica_certificate::service::CodeParent::Certificate(cert.id.clone()),
            None,
            100,
        )
        .await;
    assert!(
        matches!(listed, Err(CertificateError::NotFound(_))),
        "{listed:?}"
    );
    assert!(codes_of(&edge, &other_teacher).await.is_empty());
    assert!(codes_of(&edge, &office_ctx("341302")).await.is_empty());
    for stranger in [other_teacher, office_ctx("341302")] {
        let refused = edge.svc.revoke_code(&stranger, &cert.id, &made[0].id).await;
        assert!(
            matches!(refused, Err(CertificateError::NotFound(_))),
            "{refused:?}"
        );
    }
    let office = office_ctx("341324");
    assert_eq!(codes_of(&edge, &office).await.len(), 20);
    edge.svc
        .revoke_code(&office, &cert.id, &made[0].id)
        .await
        .unwrap();
    edge.svc.create_code(&holder, &cert.id, 0).await.unwrap();
    // An unknown code of the certificate: not found.
    let missing = edge
        .svc
        .revoke_code(&holder, &cert.id, &made[0].certificate_id)
        .await;
    assert!(
        matches!(missing, Err(CertificateError::NotFound(_))),
        "{missing:?}"
    );
    edge.db.close().await;
}
