//! The sampling store on both databases: a province-sized population frozen in one commit and
//! read back in the order its published hash is taken in; a stale round is a conflict that
//! writes nothing.

use std::time::Instant;

use tica_sampling::error::SamplingError;
use tica_sampling::model::*;
use tica_sampling::store::{self, Work};
use tica_storage::Backend;
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_large_population_is_frozen_in_one_commit_and_read_back_sorted,
    a_write_over_a_stale_round_is_a_conflict_and_writes_nothing,
);

fn round() -> RoundRecord {
    RoundRecord {
        id: "340000-2026-province-1".into(),
        display_name: "省市抽测".into(),
        level: Level::ProvinceAudit,
        kind: Kind::OnlineRegrade,
        scope_code: "340000".into(),
        path: tica_domain::ScopePath::parse("/340000/").unwrap(),
        year: 2026,
        batches: vec!["341324-2026".into()],
        extends: String::new(),
        chain: "340000-2026-province-1".into(),
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

fn population(schools: usize, teachers: usize) -> Vec<PopulationRow> {
    let mut rows = Vec::new();
    // Reverse order, so that reading back sorted proves the store sorts.
    for s in (1..=schools).rev() {
        let school = format!("341324{s:04}");
        for t in (1..=teachers).rev() {
            rows.push(PopulationRow {
                stage: Stage::Teacher,
                stratum: format!("school-{school}"),
                sampler_id: format!("{school}{t:04}"),
                batch: "341324-2026".into(),
                school: school.clone(),
                grades: vec![("B2".into(), format!("s-{t}"), Grade::Pass)],
            });
        }
        rows.push(PopulationRow {
            stage: Stage::School,
            stratum: "county-341324".into(),
            sampler_id: school.clone(),
            batch: "341324-2026".into(),
            school,
            grades: Vec::new(),
        });
    }
    rows
}

async fn database(backend: Backend) -> Option<(TestDatabase, tica_storage::Database)> {
    let test = TestDatabase::new(backend)?;
    let db = test
        .connect("sampling", tica_sampling::startup::MIGRATIONS)
        .await
        .expect("migrated");
    Some((test, db))
}

async fn a_large_population_is_frozen_in_one_commit_and_read_back_sorted(backend: Backend) {
    let Some((_test, db)) = database(backend).await else {
        return;
    };
    let rows = population(1000, 100);
    let started = Instant::now();
    store::commit(
        &db,
        &Work {
            round: Some((round(), None)),
            population: rows.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    eprintln!(
        "{}: {} population rows frozen in {:.2} s",
        backend.as_str(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    let back = store::population(&db, "340000-2026-province-1")
        .await
        .unwrap();
    assert_eq!(back.len(), 101_000);
    let mut expected = rows;
    expected.sort_by(|a, b| {
        (a.stage.key(), &a.stratum, &a.sampler_id).cmp(&(b.stage.key(), &b.stratum, &b.sampler_id))
    });
    assert_eq!(
        back, expected,
        "sorted by stage, stratum, id; grades intact"
    );
}

async fn a_write_over_a_stale_round_is_a_conflict_and_writes_nothing(backend: Backend) {
    let Some((_test, db)) = database(backend).await else {
        return;
    };
    let first = round();
    store::commit(
        &db,
        &Work {
            round: Some((first.clone(), None)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut newer = first.clone();
    newer.state = RoundState::PopulationFrozen;
    newer.update_micros = 2;
    store::commit(
        &db,
        &Work {
            round: Some((newer, Some(1))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // A second writer that read the round at update_micros 1 loses, and its rows are not kept.
    let mut stale = first;
    stale.state = RoundState::Cancelled;
    stale.update_micros = 3;
    let lost = store::commit(
        &db,
        &Work {
            round: Some((stale, Some(1))),
            population: population(2, 2),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(lost, SamplingError::Conflict(_)), "{lost:?}");
    let kept = store::round(&db, "340000-2026-province-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.state, RoundState::PopulationFrozen);
    assert!(
        store::population(&db, "340000-2026-province-1")
            .await
            .unwrap()
            .is_empty()
    );
}
