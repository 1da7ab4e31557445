//! A round whose stored scope path is corrupt is refused to everyone, on both databases: it
//! never widens into the whole tree (which once let any office read it), and another county's
//! office is refused before the round is read at all.

use tica_auth::{BearerToken, Caller, Role};
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_sampling::error::SamplingError;
use tica_sampling::model::*;
use tica_sampling::service::{Ctx, Sampling};
use tica_sampling::store::{self, Work};
use tica_storage::{Backend, with_db};
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_round_whose_stored_path_is_corrupt_is_refused_not_granted,
    another_countys_round_is_refused_alike_whether_it_exists_or_not,
);

const ROUND: &str = "341324-2026-county-1";

fn round() -> RoundRecord {
    RoundRecord {
        id: ROUND.into(),
        display_name: "泗县 2026 县级抽测".into(),
        level: Level::CountyReview,
        kind: Kind::OnlineRegrade,
        scope_code: "341324".into(),
        path: ScopePath::for_jurisdiction(code("341324")),
        year: 2026,
        batches: vec!["341324-2026".into()],
        extends: String::new(),
        chain: ROUND.into(),
        plans: Vec::new(),
        state: RoundState::Draft,
        population_schools: 0,
        population_teachers: 0,
        population_sha256: String::new(),
        freeze_micros: None,
        seed: String::new(),
        seed_note: String::new(),
        seed_actor: None,
        seed_micros: None,
        creator: Actor::default(),
        transitions: Vec::new(),
        create_micros: 1,
        update_micros: 1,
        commitment: None,
    }
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

fn office(county: &str) -> Ctx {
    Ctx::new(
        tica_sampling::service::SERVICE_NAME,
        Caller::new("office".into(), Role::CountyOffice, code(county), None),
        BearerToken(String::new()),
    )
}

async fn service(backend: Backend) -> Option<(TestDatabase, tica_storage::Database, Sampling)> {
    let test = TestDatabase::new(backend)?;
    let db = test
        .connect("sampling", tica_sampling::startup::MIGRATIONS)
        .await
        .expect("migrated");
    store::commit(
        &db,
        &Work {
            round: Some((round(), None)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let nowhere = tica_sampling::startup::channel("http://127.0.0.1:9").unwrap();
    let svc = Sampling::new(
        db.clone(),
        tica_sampling::upstream::Upstream::new(nowhere.clone(), nowhere.clone(), nowhere),
    );
    Some((test, db, svc))
}

async fn a_round_whose_stored_path_is_corrupt_is_refused_not_granted(backend: Backend) {
    let Some((_test, db, svc)) = service(backend).await else {
        return;
    };
    assert!(svc.round(&office("341324"), ROUND).await.is_ok());
    // Someone (a bad migration, a hand in the database) breaks the stored path.
    with_db!(&db, pool => {
        let done = sqlx::query(
            "UPDATE rounds SET path = 'corrupt', \
             doc_json = REPLACE(doc_json, '\"/340000/341300/341324/\"', '\"corrupt\"') \
             WHERE id = $1 AND doc_json LIKE '%/340000/341300/341324/%'",
        )
        .bind(ROUND)
        .execute(pool)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
    });
    for county in ["341324", "341322"] {
        let refused = svc.round(&office(county), ROUND).await.unwrap_err();
        assert!(
            matches!(
                refused,
                SamplingError::Internal(_) | SamplingError::PermissionDenied(_)
            ),
            "{county}: {refused:?}"
        );
    }
    // Even the round's own office gets an internal error, not the round.
    assert!(matches!(
        svc.round(&office("341324"), ROUND).await.unwrap_err(),
        SamplingError::Internal(_)
    ));
}

async fn another_countys_round_is_refused_alike_whether_it_exists_or_not(backend: Backend) {
    let Some((_test, _db, svc)) = service(backend).await else {
        return;
    };
    let nosy = office("341322");
    let existing = svc.round(&nosy, ROUND).await.unwrap_err();
    let missing = svc.round(&nosy, "341324-2026-county-9").await.unwrap_err();
    assert!(
        matches!(existing, SamplingError::PermissionDenied(_)),
        "{existing:?}"
    );
    assert_eq!(format!("{existing:?}"), format!("{missing:?}"));
    // In the caller's own county, a missing round is simply NOT_FOUND.
    assert!(matches!(
        svc.round(&office("341324"), "341324-2026-county-9")
            .await
            .unwrap_err(),
        SamplingError::NotFound(_)
    ));
}
