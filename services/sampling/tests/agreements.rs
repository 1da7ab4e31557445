//! `ListUnitAgreements` over real gRPC, on SQLite and on PostgreSQL: the sampling server alone
//! (the assessment service and the roster at an address where nothing listens — reading
//! agreement figures calls neither) over a database holding a county review chain written with
//! the store: a school sent back in the first round and passed in the second, a school passed
//! at once, a school not drawn; a cancelled round; another county's review.
//!
//! The same chain driven through every service (draw, re-grades, decisions) is
//! `tests/tests/review_chain.rs`.
//!
//! With the certificate service out of reach too, a round frozen without its draw commitment
//! in the transparency log takes no seed and stays as it was.

use tica_auth::Role;
use tica_domain::division::DivisionCode;
use tica_domain::policy::{AgreementCriterion, Ratio, ThresholdComparison};
use tica_proto::tica::sampling::v1 as pb;
use tica_sampling::model::*;
use tica_sampling::store::{self, Work};
use tica_server::{GrpcServer, RunningServer};
use tica_storage::Backend;
use tica_testkit::{Keys, TestDatabase};
use tonic::Code;
use tonic::transport::Channel;

tica_testkit::backend_tests!(
    agreement_per_school_follows_a_sent_back_school_across_the_chain,
    agreement_figures_page_filter_and_stay_within_the_callers_jurisdiction,
    a_round_without_its_draw_commitment_in_the_log_takes_no_seed_and_stays_as_it_was,
);

const COUNTY: &str = "341324";
const OTHER: &str = "341302";
const BATCH: &str = "341324-2022";

struct Suite {
    server: RunningServer,
    channel: Channel,
    keys: Keys,
    db: tica_storage::Database,
    _db: TestDatabase,
}

impl Suite {
    async fn start(backend: Backend) -> Option<Suite> {
        let location = TestDatabase::new(backend)?;
        let db = location
            .connect("sampling", tica_sampling::startup::MIGRATIONS)
            .await
            .expect("sampling database");
        seed(&db).await;
        let keys = Keys::generate();
        let nowhere = tica_sampling::startup::channel("http://127.0.0.1:1").unwrap();
        let svc =
            tica_sampling::startup::build(db.clone(), nowhere.clone(), nowhere.clone(), nowhere);
        let mut server = GrpcServer::new();
        tica_sampling::startup::register(&mut server, svc);
        let (server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
        Some(Suite {
            server,
            channel,
            keys,
            db,
            _db: location,
        })
    }

    /// Lists as `role` acting for `jurisdiction`.
    async fn list(
        &self,
        role: Role,
        jurisdiction: &str,
        request: pb::ListUnitAgreementsRequest,
    ) -> Result<pb::ListUnitAgreementsResponse, tonic::Status> {
        let token = self.keys.mint("tester", role, jurisdiction, None);
        tica_client::sampling(self.channel.clone(), &token)
            .list_unit_agreements(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

fn county_review() -> pb::ListUnitAgreementsRequest {
    pb::ListUnitAgreementsRequest {
        level: pb::RoundLevel::CountyReview as i32,
        ..Default::default()
    }
}

fn plan(batch: &str, county: &str) -> Plan {
    Plan {
        batch: batch.into(),
        county: county.into(),
        policy_versions: vec![format!("policies/{county}/versions/1")],
        school_rate: Ratio {
            numerator: 1,
            denominator: 2,
        },
        teacher_rate: Ratio {
            numerator: 1,
            denominator: 5,
        },
        minimum: 1,
        threshold: Ratio {
            numerator: 4,
            denominator: 5,
        },
        criterion: AgreementCriterion::PointEstimate,
        comparison: ThresholdComparison::AtLeast,
        offline_required: false,
        subject_match: false,
        rubric_rule: Default::default(),
    }
}

fn round(id: &str, county: &str, extends: &str, state: RoundState, micros: i64) -> RoundRecord {
    let batch = format!("{county}-2022");
    RoundRecord {
        id: id.into(),
        display_name: "县级复核".into(),
        level: Level::CountyReview,
        kind: Kind::OnlineRegrade,
        scope_code: county.into(),
        path: tica_domain::ScopePath::for_jurisdiction(DivisionCode::parse(county).unwrap()),
        year: 2022,
        batches: vec![batch.clone()],
        extends: extends.into(),
        chain: if extends.is_empty() { id } else { extends }.into(),
        plans: vec![plan(&batch, county)],
        state,
        population_schools: 3,
        population_teachers: 30,
        population_sha256: "0".repeat(64),
        freeze_micros: Some(micros),
        seed: "20221201".into(),
        seed_note: "test".into(),
        seed_actor: None,
        seed_micros: Some(micros),
        creator: Actor::default(),
        transitions: Vec::new(),
        create_micros: micros,
        update_micros: micros,
        commitment: None,
    }
}

fn unit(round: &str, school: &str, batch: &str, drawn: bool, outcome: Outcome) -> UnitRecord {
    UnitRecord {
        round: round.into(),
        id: school.into(),
        unit: format!("schools/{school}"),
        batch: batch.into(),
        drawn,
        outcome,
        decision: None,
    }
}

/// Submitted re-grades of `school` in `round`: (original, re-grade) pairs; `None` pending.
fn regrades(round: &str, school: &str, pairs: &[(Grade, Option<Grade>)]) -> Vec<RegradeRecord> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, (original, grade))| RegradeRecord {
            round: round.into(),
            item: format!("{school}{i:04}"),
            code: "B2".into(),
            seq: i as i64,
            unit: format!("schools/{school}"),
            submission: format!("batches/{BATCH}/submissions/{school}-{i}"),
            assessor: "a-1".into(),
            state: if grade.is_some() {
                RegradeState::Submitted
            } else {
                RegradeState::Pending
            },
            original: *original,
            grade: *grade,
            agrees: *grade == Some(*original),
            detail: RegradeDetail::default(),
            submit_micros: grade.map(|_| 5),
        })
        .collect()
}

const A: &str = "341324000001";
const B: &str = "341324000002";
const C: &str = "341324000003";
const D: &str = "341302000001";

async fn seed(db: &tica_storage::Database) {
    use Grade::*;
    let r1 = "341324-2022-county-1";
    let r2 = "341324-2022-county-2";
    let first = Work {
        round: Some((round(r1, COUNTY, "", RoundState::Decided, 10), None)),
        units: vec![
            unit(r1, A, BATCH, true, Outcome::SentBack),
            unit(r1, B, BATCH, true, Outcome::Passed),
            unit(r1, C, BATCH, false, Outcome::PassedNotDrawn),
        ],
        regrades: [
            // A: 3 of 5 agree (60 %), sent back.
            regrades(
                r1,
                A,
                &[
                    (Pass, Some(Pass)),
                    (Pass, Some(Fail)),
                    (Excellent, Some(Pass)),
                    (Fail, Some(Fail)),
                    (Excellent, Some(Excellent)),
                ],
            ),
            // B: 4 of 4 agree, passed.
            regrades(
                r1,
                B,
                &[
                    (Pass, Some(Pass)),
                    (Excellent, Some(Excellent)),
                    (Fail, Some(Fail)),
                    (Pass, Some(Pass)),
                ],
            ),
        ]
        .concat(),
        ..Default::default()
    };
    store::commit(db, &first).await.expect("round 1");
    let second = Work {
        round: Some((round(r2, COUNTY, r1, RoundState::InReview, 20), None)),
        units: vec![unit(r2, A, BATCH, true, Outcome::Passed)],
        // A re-graded: 4 of 5 agree (80 %), one re-grade still pending.
        regrades: regrades(
            r2,
            A,
            &[
                (Pass, Some(Pass)),
                (Pass, Some(Pass)),
                (Excellent, Some(Pass)),
                (Fail, Some(Fail)),
                (Excellent, Some(Excellent)),
                (Pass, None),
            ],
        ),
        ..Default::default()
    };
    store::commit(db, &second).await.expect("round 2");
    // A cancelled round of the same county: not counted.
    let r9 = "341324-2022-county-9";
    let cancelled = Work {
        round: Some((round(r9, COUNTY, "", RoundState::Cancelled, 30), None)),
        units: vec![unit(r9, B, BATCH, true, Outcome::Undecided)],
        regrades: regrades(r9, B, &[(Pass, Some(Fail))]),
        ..Default::default()
    };
    store::commit(db, &cancelled)
        .await
        .expect("cancelled round");
    // Another county's review.
    let other = "341302-2022-county-1";
    let work = Work {
        round: Some((round(other, OTHER, "", RoundState::InReview, 40), None)),
        units: vec![unit(other, D, "341302-2022", true, Outcome::Undecided)],
        regrades: regrades(other, D, &[(Pass, Some(Pass)), (Fail, Some(Pass))]),
        ..Default::default()
    };
    store::commit(db, &work).await.expect("other county");
}

async fn agreement_per_school_follows_a_sent_back_school_across_the_chain(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let list = suite
        .list(Role::CountyOffice, COUNTY, county_review())
        .await
        .expect("lists");
    let units: Vec<&str> = list
        .unit_agreements
        .iter()
        .map(|u| u.unit.as_str())
        .collect();
    assert_eq!(
        units,
        [
            format!("schools/{A}"),
            format!("schools/{B}"),
            format!("schools/{C}")
        ]
    );
    assert_eq!(list.total_size, 3);
    assert!(list.next_page_token.is_empty());

    // The disputed school: two rounds, sent back once, passed at last.
    let a = &list.unit_agreements[0];
    assert_eq!(a.batch, format!("batches/{BATCH}"));
    assert_eq!(a.rounds.len(), 2);
    assert_eq!(a.sent_back, 1);
    assert_eq!(a.latest_outcome, pb::UnitOutcome::Passed as i32);
    let (first, second) = (&a.rounds[0], &a.rounds[1]);
    assert_eq!(
        first.review_unit,
        format!("reviewRounds/341324-2022-county-1/units/{A}")
    );
    assert_eq!(
        (first.compared, first.agreements, first.agreement_permille),
        (5, 3, 600)
    );
    assert_eq!(first.outcome, pb::UnitOutcome::SentBack as i32);
    assert!(first.wilson_lower_ppm < 600_000 && first.wilson_upper_ppm > 600_000);
    assert!(first.kappa_ppm.is_some());
    assert_eq!(
        (second.compared, second.agreements, second.pending),
        (5, 4, 1)
    );
    assert_eq!(second.agreement_permille, 800);
    assert_eq!(second.outcome, pb::UnitOutcome::Passed as i32);
    assert_eq!((a.pooled_compared, a.pooled_agreements), (10, 7));
    assert_eq!(a.pooled_agreement_permille, 700);
    let threshold = a.threshold.as_ref().expect("threshold");
    assert_eq!((threshold.numerator, threshold.denominator), (4, 5));

    // Agreement throughout: κ = 1.
    let b = &list.unit_agreements[1];
    assert_eq!(b.rounds.len(), 1, "the cancelled round does not count");
    assert_eq!((b.pooled_compared, b.pooled_agreements), (4, 4));
    assert_eq!(b.rounds[0].kappa_ppm, Some(1_000_000));
    assert_eq!(b.rounds[0].wilson_upper_ppm, 1_000_000);
    assert_eq!(b.sent_back, 0);

    // Not drawn: nothing compared, passed when the round closed.
    let c = &list.unit_agreements[2];
    assert_eq!(c.rounds[0].compared, 0);
    assert_eq!(c.rounds[0].kappa_ppm, None);
    assert_eq!(c.latest_outcome, pb::UnitOutcome::PassedNotDrawn as i32);

    // Pooled over every unit.
    let total = list.total.expect("total");
    assert_eq!((total.pooled_compared, total.pooled_agreements), (14, 11));
    assert_eq!(total.pooled_agreement_permille, 786);
    assert!(total.unit.is_empty() && total.rounds.is_empty());

    // Only drawn schools; only this batch; the year.
    let drawn = suite
        .list(
            Role::CountyOffice,
            COUNTY,
            pb::ListUnitAgreementsRequest {
                drawn_only: true,
                batch: format!("batches/{BATCH}"),
                year: 2022,
                ..county_review()
            },
        )
        .await
        .unwrap();
    assert_eq!(drawn.total_size, 2);
    let none = suite
        .list(
            Role::CountyOffice,
            COUNTY,
            pb::ListUnitAgreementsRequest {
                year: 2021,
                ..county_review()
            },
        )
        .await
        .unwrap();
    assert_eq!(none.total_size, 0);
    assert!(none.unit_agreements.is_empty());
    suite.server.shutdown().await.unwrap();
}

async fn agreement_figures_page_filter_and_stay_within_the_callers_jurisdiction(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    // One unit a page; the token is bound to the filters.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = suite
            .list(
                Role::CountyOffice,
                COUNTY,
                pb::ListUnitAgreementsRequest {
                    page_size: 1,
                    page_token: token.clone(),
                    ..county_review()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total_size, 3);
        seen.extend(page.unit_agreements.into_iter().map(|u| u.unit));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        let changed = suite
            .list(
                Role::CountyOffice,
                COUNTY,
                pb::ListUnitAgreementsRequest {
                    page_size: 1,
                    page_token: token.clone(),
                    drawn_only: true,
                    ..county_review()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(changed.code(), Code::InvalidArgument);
    }
    assert_eq!(
        seen,
        [
            format!("schools/{A}"),
            format!("schools/{B}"),
            format!("schools/{C}")
        ]
    );

    // The province sees both counties; a county office sees only its own.
    let province = suite
        .list(
            Role::ProvinceOffice,
            "340000",
            pb::ListUnitAgreementsRequest {
                parent: "jurisdictions/340000".into(),
                ..county_review()
            },
        )
        .await
        .unwrap();
    assert_eq!(province.total_size, 4);
    assert_eq!(
        province.unit_agreements[0].unit,
        format!("schools/{D}"),
        "by unit code"
    );
    let other = suite
        .list(Role::CountyOffice, OTHER, county_review())
        .await
        .unwrap();
    assert_eq!(other.total_size, 1);
    let above = suite
        .list(
            Role::CountyOffice,
            OTHER,
            pb::ListUnitAgreementsRequest {
                parent: format!("jurisdictions/{COUNTY}"),
                ..county_review()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(above.code(), Code::PermissionDenied);

    // No province audit yet.
    let audits = suite
        .list(
            Role::ProvinceOffice,
            "340000",
            pb::ListUnitAgreementsRequest {
                level: pb::RoundLevel::ProvinceAudit as i32,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audits.total_size, 0);

    // The level is required; assessors are refused by the role table.
    let no_level = suite
        .list(
            Role::CountyOffice,
            COUNTY,
            pb::ListUnitAgreementsRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(no_level.code(), Code::InvalidArgument);
    let refused = suite
        .list(Role::Assessor, COUNTY, county_review())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    suite.server.shutdown().await.unwrap();
}

/// The commitment precedes the seed (issue 18 §4): a round whose population, plan and tool
/// version are not in the transparency log — its append failed, or it was frozen before draws
/// were committed — refuses every seed with FAILED_PRECONDITION saying why, and draws nothing.
/// Freezing it again retries the append; with the log still out of reach that is UNAVAILABLE,
/// and the round is still exactly as it was.
async fn a_round_without_its_draw_commitment_in_the_log_takes_no_seed_and_stays_as_it_was(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let id = "341324-2023-county-1";
    let batch = "341324-2023";
    let mut frozen = round(id, COUNTY, "", RoundState::PopulationFrozen, 50);
    frozen.year = 2023;
    frozen.batches = vec![batch.into()];
    frozen.plans = vec![plan(batch, COUNTY)];
    (frozen.seed, frozen.seed_note, frozen.seed_micros) = (String::new(), String::new(), None);
    let population = vec![PopulationRow {
        stage: Stage::School,
        stratum: format!("county-{COUNTY}"),
        sampler_id: A.into(),
        batch: batch.into(),
        school: A.into(),
        grades: Vec::new(),
    }];
    store::commit(
        &suite.db,
        &Work {
            round: Some((frozen, None)),
            population,
            ..Default::default()
        },
    )
    .await
    .expect("a frozen round without its commitment");
    let token = suite
        .keys
        .mint("county-office", Role::CountyOffice, COUNTY, None);
    let mut office = tica_client::sampling(suite.channel.clone(), &token);
    let name = format!("reviewRounds/{id}");
    let get = |mut office: tica_client::Sampling, name: String| async move {
        office
            .get_review_round(pb::GetReviewRoundRequest { name })
            .await
            .unwrap()
            .into_inner()
    };
    let before = get(office.clone(), name.clone()).await;
    assert_eq!(before.state, pb::RoundState::PopulationFrozen as i32);
    assert!(before.draw_commitment.is_none());

    let refused = office
        .draw_sample(pb::DrawSampleRequest {
            name: name.clone(),
            seed: "20230105".into(),
            seed_note: "县工程办会议".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("has no draw commitment in the transparency log"),
        "{}",
        refused.message()
    );
    assert_eq!(get(office.clone(), name.clone()).await, before, "unchanged");
    let items = office
        .list_drawn_items(pb::ListDrawnItemsRequest {
            parent: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(items.total_size, 0, "nothing drawn");

    let retried = office
        .freeze_population(pb::FreezePopulationRequest { name: name.clone() })
        .await
        .unwrap_err();
    assert_eq!(retried.code(), Code::Unavailable, "{retried:?}");
    assert!(
        retried.message().contains("call FreezePopulation again"),
        "{}",
        retried.message()
    );
    assert_eq!(get(office, name).await, before, "still as it was");
    suite.server.shutdown().await.unwrap();
}
