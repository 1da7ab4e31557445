//! Verification answers remembered by id (`verify::Answers`) stay true where it matters, on both
//! databases: a certificate revoked through another replica stops verifying here within
//! [`REVOCATION_SHOWS_WITHIN`] of the service's clock, and one revoked through this replica at
//! once — while the others keep verifying.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use support::{certified_event, withdrawn_event};
use tica_certificate::model::RunRecord;
use tica_certificate::service::{
    Certificates, Clock, Numbers, REVOCATION_SHOWS_WITHIN, Subject, Verdict,
};
use tica_storage::Backend;
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_certificate_revoked_through_another_replica_stops_verifying_here_within_a_second,
    a_certificate_revoked_through_this_replica_answers_revoked_at_once,
);

/// Two replicas of the service over one database, sharing the key directory and a clock the
/// test moves; two certificates issued through `here`.
struct Replicas {
    _test_db: TestDatabase,
    _dir: tempfile::TempDir,
    here: Certificates,
    there: Certificates,
    clock: Arc<AtomicI64>,
    run: RunRecord,
    search_keys: HashMap<String, String>,
    /// Certificate 0's id, then certificate 1's.
    ids: Vec<String>,
}

async fn replicas(backend: Backend) -> Option<Replicas> {
    let test_db = TestDatabase::new(backend)?;
    let db = test_db
        .connect("certificate", tica_certificate::startup::MIGRATIONS)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(tica_storage::now_micros()));
    let config = || {
        let mut config = support::test_config(dir.path());
        let clock = clock.clone();
        config.clock = Clock::from_fn(move || clock.load(Ordering::SeqCst));
        config
    };
    let here = support::offline_service_with(db.clone(), dir.path(), config())
        .await
        .unwrap();
    let there = support::offline_service_with(db.clone(), dir.path(), config())
        .await
        .unwrap();
    let search_keys: HashMap<String, String> = (0..2)
        .map(|i| (support::teacher_of(i), format!("key-{i}")))
        .collect();
    let mut run = support::stored_run(&db, 1, 0).await.unwrap();
    here.process(
        &mut run,
        (0..2).map(certified_event).collect(),
        &search_keys,
        &mut Numbers::new(),
    )
    .await
    .unwrap();
    let mut records = support::all_certificates(&db).await;
    records.sort_by(|a, b| a.number.cmp(&b.number));
    let ids = records.into_iter().map(|r| r.id).collect();
    Some(Replicas {
        _test_db: test_db,
        _dir: dir,
        here,
        there,
        clock,
        run,
        search_keys,
        ids,
    })
}

impl Replicas {
    /// Result 0 (certificate 0) withdrawn through `svc`: its certificate is revoked.
    async fn withdraw_first_through(&mut self, svc: &Certificates) {
        svc.process(
            &mut self.run,
            vec![withdrawn_event(0, 3)],
            &self.search_keys,
            &mut Numbers::new(),
        )
        .await
        .unwrap();
    }

    fn advance(&self, by: std::time::Duration) {
        self.clock
            .fetch_add(by.as_micros() as i64, Ordering::SeqCst);
    }
}

async fn verdict(svc: &Certificates, id: &str) -> Verdict {
    svc.verify(Subject::Id(id.to_owned()))
        .await
        .unwrap()
        .verdict
}

async fn a_certificate_revoked_through_another_replica_stops_verifying_here_within_a_second(
    backend: Backend,
) {
    let Some(mut r) = replicas(backend).await else {
        return;
    };
    let (first, second) = (r.ids[0].clone(), r.ids[1].clone());
    // Verified here, and again: the second answer may come from memory.
    for _ in 0..2 {
        assert_eq!(verdict(&r.here, &first).await, Verdict::Valid);
        assert_eq!(verdict(&r.here, &second).await, Verdict::Valid);
    }
    let there = r.there.clone();
    r.withdraw_first_through(&there).await;
    assert_eq!(verdict(&r.there, &first).await, Verdict::Revoked);
    // Within the documented window this replica may still say VALID; past it, never.
    r.advance(REVOCATION_SHOWS_WITHIN);
    assert_eq!(
        verdict(&r.here, &first).await,
        Verdict::Revoked,
        "a revocation through another replica must show here within {REVOCATION_SHOWS_WITHIN:?}"
    );
    assert_eq!(verdict(&r.here, &second).await, Verdict::Valid);
    let v = r
        .here
        .verify(Subject::Id(format!(
            "certificates/{}",
            first.to_uppercase()
        )))
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Revoked);
    assert!(v.record.unwrap().doc.revocation.is_some());
}

async fn a_certificate_revoked_through_this_replica_answers_revoked_at_once(backend: Backend) {
    let Some(mut r) = replicas(backend).await else {
        return;
    };
    let (first, second) = (r.ids[0].clone(), r.ids[1].clone());
    for _ in 0..2 {
        assert_eq!(verdict(&r.here, &first).await, Verdict::Valid);
        assert_eq!(verdict(&r.there, &first).await, Verdict::Valid);
    }
    // The clock stands still: only the revocation itself can tell this replica.
    let here = r.here.clone();
    r.withdraw_first_through(&here).await;
    assert_eq!(verdict(&r.here, &first).await, Verdict::Revoked);
    assert_eq!(verdict(&r.here, &second).await, Verdict::Valid);
    // And the other replica within its window.
    r.advance(REVOCATION_SHOWS_WITHIN);
    assert_eq!(verdict(&r.there, &first).await, Verdict::Revoked);
}
