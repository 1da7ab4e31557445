//! The certificate service's public edge, played as a hostile visitor would, on both
//! databases: the log walked by index, the teachers' search attacked from many addresses for a
//! (simulated) year, the number lookup guessed, downloads without the QR code, forged QR codes
//! on the verification page, revocation offline, and a retired key brought back.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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
