//! The review chain end to end over gRPC (issue 4; 《宁夏测评实施办法》
//! §五(一)3–4): a county of 20 schools grades its teachers; the county draws 15 % of its schools
//! and 15 % of their teachers with a public seed; reviewers re-grade blind; one school disagrees,
//! goes back, is re-graded and passes on the next round, which commits its population and plan
//! in the transparency log and only then takes a fresh seed of its own (issue 18 §4: under the
//! first round's seed the school would have known which teachers come next), skipping what
//! round 1 drew; anyone re-runs each round from its reproducibility bundle; the province audit
//! draws 5 %/5 %, passes, and the county's results are certified.

#[path = "support_year/mod.rs"]
mod support_year;

use sha2::{Digest, Sha256};
use support_year::{grade, new_round, run_school_year, set_review_rates, update_grading};
use tica_auth::Role;
use tica_domain::sampling::TicketSequence;
use tica_e2e::{AssessmentClient, Cluster};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_proto::tica::sampling::v1 as sp;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic::Code;

tica_testkit::backend_tests!(
    a_county_review_sends_one_school_back_and_the_province_audit_certifies_the_county,
    offline_checks_reassignment_and_refused_calls_run_on_the_same_machinery,
    certification_waits_for_the_offline_audit_and_reviewers_match_the_subject,
);

type SamplingClient = tica_client::Sampling;

const PROVINCE: &str = "340000";
const CITY: &str = "341300";
const COUNTY: &str = "341324";
const YEAR: i32 = 2026;
const SCHOOLS: usize = 20;
const TEACHERS_PER_SCHOOL: usize = 3;
const PICKS: [&str; 3] = ["B2", "C1", "C4"]; // 5 + 8 + 9 = 22 credits ≥ Sixian's 20
const SEED: &str = "07318552946601823357";
/// Round 2's own seed, entered after its commitment is in the log.
const SEED2: &str = "55120983746610923874";

fn school(i: usize) -> String {
    format!("{COUNTY}{i:04}")
}

fn sampling(cluster: &Cluster, subject: &str, role: Role, jurisdiction: &str) -> SamplingClient {
    tica_client::sampling(
        cluster.channel.clone(),
        &cluster.token_as(subject, role, jurisdiction, None),
    )
}

/// The county and its `schools` schools of three teachers each; the teacher numbers by school.
async fn register_roster(cluster: &Cluster, schools: usize) -> Vec<Vec<String>> {
    cluster
        .register_jurisdictions(&[
            (PROVINCE, "安徽省", ""),
            (CITY, "宿州市", PROVINCE),
            (COUNTY, "泗县", CITY),
        ])
        .await;
    let mut county = cluster.roster(Role::CountyOffice, COUNTY);
    let mut teachers = Vec::new();
    let mut sequence = 0u16;
    for s in 1..=schools {
        county
            .create_school(roster::CreateSchoolRequest {
                school: Some(roster::School {
                    name: format!("schools/{}", school(s)),
                    display_name: format!("泗县第{s}小学"),
                    jurisdiction: format!("jurisdictions/{COUNTY}"),
                    kind: roster::SchoolKind::Primary as i32,
                    rural: s % 2 == 0,
                    full_time_teacher_count: 30,
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let mut numbers = Vec::new();
        for _ in 0..TEACHERS_PER_SCHOOL {
            sequence += 1;
            let id = tica_domain::ResidentId::generate(
                COUNTY,
                time::Date::from_calendar_date(
                    1980 + (sequence % 20) as i32,
                    time::Month::May,
                    1 + (sequence % 28) as u8,
                )
                .unwrap(),
                sequence,
            );
            let created = county
                .create_teacher(roster::CreateTeacherRequest {
                    teacher: Some(roster::Teacher {
                        display_name: format!("教师{sequence}"),
                        id_number: id.as_str().into(),
                        school: format!("schools/{}", school(s)),
                        stage: roster::Stage::Primary as i32,
                        subject: "数学".into(),
                        category: roster::TeacherCategory::Ordinary as i32,
                        ..Default::default()
                    }),
                    teacher_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            numbers.push(created.name.strip_prefix("teachers/").unwrap().to_owned());
        }
        teachers.push(numbers);
    }
    teachers
}

/// County-level assessors: the first teacher of each of the first `n` schools; their ids.
async fn county_assessors(cluster: &Cluster, teachers: &[Vec<String>], n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for school_teachers in &teachers[..n] {
        ids.push(
            cluster
                .register_assessor(
                    (Role::CountyOffice, COUNTY),
                    &school_teachers[0],
                    roster::AssessorLevel::County,
                    &format!("jurisdictions/{COUNTY}"),
                )
                .await,
        );
    }
    ids
}

async fn submit_school(cluster: &Cluster, batch: &str, code: &str) {
    let mut office = cluster.assessment("office", Role::SchoolAdmin, COUNTY, Some(code));
    let name = format!("{batch}/schoolResults/{code}");
    let result = office
        .get_school_result(pb::GetSchoolResultRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    if result.state != pb::SchoolResultState::InCountyReview as i32 {
        office
            .submit_school_results(pb::SubmitSchoolResultsRequest {
                name,
                reason: "校本考核完成".into(),
            })
            .await
            .unwrap();
    }
}

async fn school_state(county: &mut AssessmentClient, batch: &str, code: &str) -> i32 {
    county
        .get_school_result(pb::GetSchoolResultRequest {
            name: format!("{batch}/schoolResults/{code}"),
        })
        .await
        .unwrap()
        .into_inner()
        .state
}

/// Every re-grade in `assessor`'s inbox, submitted with `grade_for(original)`; returns how
/// many. Checks the reviewer is blind until they submit.
async fn regrade_inbox(
    cluster: &Cluster,
    assessor: &str,
    jurisdiction: &str,
    grade_for: impl Fn(&sp::Regrade) -> common::Grade,
) -> usize {
    let mut me = sampling(cluster, assessor, Role::Assessor, jurisdiction);
    let inbox = me
        .list_regrades(sp::ListRegradesRequest {
            parent: "reviewRounds/-".into(),
            state: sp::RegradeState::Pending as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .regrades;
    // All at once, as reviewers work side by side: submissions take no lock on the round.
    let mut submitting = tokio::task::JoinSet::new();
    for r in &inbox {
        assert_eq!(
            r.original_grade,
            common::Grade::Unspecified as i32,
            "blind: the reviewer does not see the grade under review"
        );
        let mut me = me.clone();
        let request = sp::SubmitRegradeRequest {
            name: r.name.clone(),
            grade: grade_for(r) as i32,
            comment: "复核".into(),
            ..Default::default()
        };
        submitting.spawn(async move { me.submit_regrade(request).await });
    }
    while let Some(done) = submitting.join_next().await {
        let done = done.unwrap().unwrap().into_inner();
        assert_eq!(done.state, sp::RegradeState::Submitted as i32);
        assert_ne!(
            done.original_grade,
            common::Grade::Unspecified as i32,
            "revealed once submitted"
        );
        assert_eq!(done.agrees, done.grade == done.original_grade);
    }
    inbox.len()
}

async fn export(
    office: &mut SamplingClient,
    round: &str,
    format: common::FileFormat,
    part: sp::RoundExportPart,
) -> Vec<u8> {
    let mut stream = office
        .export_review_round(sp::ExportReviewRoundRequest {
            name: round.into(),
            format: format as i32,
            part: part as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        if let Some(sp::export_review_round_response::Payload::Chunk(chunk)) =
            message.unwrap().payload
        {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}

async fn drawn(office: &mut SamplingClient, round: &str, stage: sp::Stage) -> Vec<sp::DrawnItem> {
    office
        .list_drawn_items(sp::ListDrawnItemsRequest {
            parent: round.into(),
            stage: stage as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .drawn_items
}

async fn a_county_review_sends_one_school_back_and_the_province_audit_certifies_the_county(
    backend: Backend,
) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let teachers = register_roster(&cluster, SCHOOLS).await;
    // County-level assessors from schools 1, 2 and 3 grade and review; a province assessor audits.
    let [a, b, c] =
        <[String; 3]>::try_from(county_assessors(&cluster, &teachers, 3).await).unwrap();
    let p = cluster
        .register_assessor(
            (Role::ProvinceOffice, PROVINCE),
            &teachers[19][0],
            roster::AssessorLevel::Province,
            &format!("jurisdictions/{PROVINCE}"),
        )
        .await;
    let school_of = |assessor: &str| {
        let teacher = if assessor == a {
            &teachers[0][0]
        } else if assessor == b {
            &teachers[1][0]
        } else if assessor == c {
            &teachers[2][0]
        } else {
            &teachers[19][0]
        };
        let s = teachers.iter().position(|t| t.contains(teacher)).unwrap();
        school(s + 1)
    };

    let mut county = cluster.assessment("county-office", Role::CountyOffice, COUNTY, None);
    set_review_rates(&mut county, 15, None).await;
    let batch = cluster
        .open_batch(COUNTY, YEAR, "泗县 2026 年能力提升工程2.0")
        .await
        .name;
    run_school_year(
        &cluster,
        &batch,
        &teachers,
        [(&a, &teachers[0][0]), (&b, &teachers[1][0])],
    )
    .await;
    for s in 1..=SCHOOLS {
        submit_school(&cluster, &batch, &school(s)).await;
    }

    // Round 1: the county freezes its population and publishes the hash before any seed exists.
    let mut office = sampling(&cluster, "county-office", Role::CountyOffice, COUNTY);
    let round = office
        .create_review_round(new_round(
            sp::RoundLevel::CountyReview,
            sp::RoundKind::OnlineRegrade,
            vec![batch.clone()],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(round.name, format!("reviewRounds/{COUNTY}-{YEAR}-county-1"));
    assert_eq!(round.state, sp::RoundState::Draft as i32);
    let plan = &round.plans[0];
    assert_eq!(
        plan.school_rate.as_ref().unwrap().numerator,
        15,
        "the rates come from the policy"
    );
    let r1 = round.name.clone();
    let early = office
        .draw_sample(sp::DrawSampleRequest {
            name: r1.clone(),
            seed: SEED.into(),
            seed_note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        early.code(),
        Code::FailedPrecondition,
        "no draw before the population is frozen"
    );
    let frozen = office
        .freeze_population(sp::FreezePopulationRequest { name: r1.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (frozen.population_schools, frozen.population_teachers),
        (20, 60)
    );
    let population = export(
        &mut office,
        &r1,
        common::FileFormat::Csv,
        sp::RoundExportPart::Population,
    )
    .await;
    assert_eq!(
        hex::encode(Sha256::digest(&population)),
        frozen.population_sha256,
        "the published hash is the hash of the exported population file"
    );
    let bad_seed = office
        .draw_sample(sp::DrawSampleRequest {
            name: r1.clone(),
            seed: "骰子".into(),
            seed_note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_seed.code(), Code::InvalidArgument);
    let drawn_round = office
        .draw_sample(sp::DrawSampleRequest {
            name: r1.clone(),
            seed: SEED.into(),
            seed_note: "2026-11-08 县工程办会议，20 枚十面骰".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drawn_round.seed, SEED);
    assert_eq!(
        drawn_round.seed_entered_by.as_ref().unwrap().subject,
        "county-office"
    );
    assert_eq!(
        (drawn_round.schools_drawn, drawn_round.teachers_drawn),
        (3, 3),
        "ceil(15 % × 20) schools, ceil(15 % × 3) teacher each"
    );
    let cancel = office
        .cancel_review_round(sp::CancelReviewRoundRequest {
            name: r1.clone(),
            reason: "换个种子".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        cancel.code(),
        Code::FailedPrecondition,
        "a drawn round cannot be redrawn by cancelling"
    );

    // Anyone with the population file and the seed gets the same schools with the reference
    // sampler's ticket order.
    let codes: Vec<String> = (1..=SCHOOLS).map(school).collect();
    let reference = TicketSequence::new(SEED, codes.iter().map(String::as_str));
    let schools = drawn(&mut office, &r1, sp::Stage::School).await;
    let mut by_position = schools.clone();
    by_position.sort_by_key(|i| i.position);
    assert_eq!(
        by_position
            .iter()
            .map(|i| (i.sampler_id.clone(), i.ticket.clone()))
            .collect::<Vec<_>>(),
        reference
            .first(3)
            .iter()
            .map(|t| (t.id.clone(), t.display()))
            .collect::<Vec<_>>()
    );

    // Assignment: balanced, never to a reviewer from the school under review.
    let assigned = office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: r1.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((assigned.assigned_count, assigned.unassigned_count), (3, 0));
    assert_eq!(
        assigned.review_round.unwrap().state,
        sp::RoundState::InReview as i32
    );
    let items = drawn(&mut office, &r1, sp::Stage::Teacher).await;
    for item in &items {
        let reviewer = item.assessor.strip_prefix("assessors/").unwrap();
        assert_ne!(
            format!("schools/{}", school_of(reviewer)),
            item.school,
            "never from the school under review"
        );
    }
    assert_eq!(
        assigned.loads.len(),
        3,
        "the county's three assessors; the province's is not of this level"
    );
    assert_eq!(
        assigned.loads.iter().map(|l| l.items_in_round).sum::<i64>(),
        3
    );
    assert!(
        assigned.loads.iter().all(|l| l.items_in_round <= 2),
        "balanced by load: {:?}",
        assigned.loads
    );

    // The reviewers re-grade blind; everything in the first drawn school is judged excellent.
    let disputed = by_position[0].school.clone();
    let mut wrong_reviewer = sampling(&cluster, &p, Role::Assessor, PROVINCE);
    let regrade_name = format!("{}/regrades/B2", items[0].name);
    let refused = wrong_reviewer
        .submit_regrade(sp::SubmitRegradeRequest {
            name: regrade_name,
            grade: common::Grade::Pass as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "only the assigned reviewer re-grades"
    );
    let item_school = |name: &str| {
        items
            .iter()
            .find(|i| name.starts_with(&i.name))
            .unwrap()
            .school
            .clone()
    };
    let mut submitted = 0;
    for reviewer in [&a, &b, &c] {
        submitted += regrade_inbox(&cluster, reviewer, COUNTY, |r| {
            if item_school(&r.name) == disputed {
                common::Grade::Excellent
            } else {
                common::Grade::Pass
            }
        })
        .await;
    }
    assert_eq!(
        submitted, 9,
        "three teachers × three graded micro-competencies"
    );
    for item in drawn(&mut office, &r1, sp::Stage::Teacher).await {
        assert_eq!(item.state, sp::DrawnItemState::Regraded as i32, "{item:?}");
        assert_eq!((item.regrades_total, item.regrades_submitted), (3, 3));
    }

    // Decisions: the disputed school goes back; the other two pass.
    let disputed_code = disputed.strip_prefix("schools/").unwrap().to_owned();
    for school_item in &by_position {
        let code = &school_item.sampler_id;
        let unit = office
            .decide_review_unit(sp::DecideReviewUnitRequest {
                name: format!("{r1}/units/{code}"),
                reason: "复核一致率".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(unit.compared, 3);
        if *code == disputed_code {
            assert_eq!(unit.outcome, sp::UnitOutcome::SentBack as i32);
            assert_eq!((unit.agreements, unit.agreement_permille), (0, 0));
            assert_eq!(
                unit.decision.unwrap().target,
                format!("{batch}/schoolResults/{code}")
            );
            assert_eq!(
                school_state(&mut county, &batch, code).await,
                pb::SchoolResultState::Returned as i32
            );
        } else {
            assert_eq!(unit.outcome, sp::UnitOutcome::Passed as i32);
            assert_eq!(unit.agreement_permille, 1000);
            assert_eq!(
                school_state(&mut county, &batch, code).await,
                pb::SchoolResultState::CountyApproved as i32
            );
        }
    }
    let closed = office
        .close_review_round(sp::CloseReviewRoundRequest {
            name: r1.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, sp::RoundState::Decided as i32);
    assert_eq!(
        (
            closed.units_total,
            closed.units_passed,
            closed.units_sent_back
        ),
        (20, 19, 1)
    );
    let b1 = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        b1.state,
        pb::BatchState::Open as i32,
        "one school is still back with its graders"
    );

    // The school re-grades and sends its results again; round 2 continues round 1's tickets.
    let returned = teachers[disputed_code[COUNTY.len()..].parse::<usize>().unwrap() - 1].clone();
    for n in &returned {
        let grader = if *n == teachers[0][0] { &b } else { &a };
        for code in PICKS {
            grade(
                &cluster,
                grader,
                &format!("{batch}/participants/{n}"),
                code,
                common::Grade::Excellent,
            )
            .await;
        }
    }
    submit_school(&cluster, &batch, &disputed_code).await;
    let round2 = office
        .create_review_round(new_round(
            sp::RoundLevel::CountyReview,
            sp::RoundKind::OnlineRegrade,
            vec![batch.clone()],
        ))
        .await
        .unwrap()
        .into_inner();
    let r2 = round2.name.clone();
    assert_eq!(r2, format!("reviewRounds/{COUNTY}-{YEAR}-county-2"));
    assert_eq!(round2.extends, r1);
    let frozen2 = office
        .freeze_population(sp::FreezePopulationRequest { name: r2.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (frozen2.population_schools, frozen2.population_teachers),
        (1, 3)
    );
    // Before any seed: the population's hash, the plan's and the tool's version are in the
    // public log (the round names the entry), provably so.
    let commitment = frozen2
        .draw_commitment
        .clone()
        .expect("frozen and committed in the transparency log");
    let logged = inclusion_proof(&cluster, commitment.log_index).await;
    let entry: serde_json::Value = serde_json::from_slice(&logged.entry).unwrap();
    assert_eq!(
        (
            entry["kind"].as_str(),
            entry["review_round"].as_str(),
            entry["population_sha256"].as_str(),
            entry["plan_sha256"].as_str(),
        ),
        (
            Some("draw_committed"),
            Some(r2.as_str()),
            Some(frozen2.population_sha256.as_str()),
            Some(commitment.plan_sha256.as_str()),
        ),
        "{entry}"
    );
    assert_eq!(logged.leaf_hash, commitment.leaf_hash);
    // The attacker: the school sent back knows round 1's seed. Under it, round 2's teachers
    // would have been known since round 1 was drawn; the chain's seed is refused, as is none.
    for (stale, why) in [
        (SEED, "round 1's seed"),
        ("", "no seed: the chain's order is not continued"),
    ] {
        let refused = office
            .draw_sample(sp::DrawSampleRequest {
                name: r2.clone(),
                seed: stale.into(),
                seed_note: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{why}: {refused:?}");
    }
    let drawn2 = office
        .draw_sample(sp::DrawSampleRequest {
            name: r2.clone(),
            seed: SEED2.into(),
            seed_note: "2026-12-02 县工程办会议，20 枚十面骰".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drawn2.seed, SEED2, "round 2's own seed");
    assert_eq!(drawn2.draw_commitment.as_ref(), Some(&commitment));
    let micros = |t: &prost_types::Timestamp| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000;
    assert!(
        micros(commitment.log_time.as_ref().unwrap())
            < micros(drawn2.seed_enter_time.as_ref().unwrap()),
        "the log entry comes before the seed"
    );
    let strata = office
        .list_strata(sp::ListStrataRequest {
            parent: r2.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .strata;
    let school_stratum = strata
        .iter()
        .find(|s| s.stage == sp::Stage::School as i32)
        .unwrap();
    assert_eq!(
        (school_stratum.population_size, school_stratum.sample_size),
        (1, 1)
    );
    let redrawn = drawn(&mut office, &r2, sp::Stage::School).await;
    assert_eq!(
        redrawn[0].sampler_id, disputed_code,
        "the school sent back is re-examined"
    );
    let teacher_stratum = strata
        .iter()
        .find(|s| s.stage == sp::Stage::Teacher as i32)
        .unwrap();
    // Under round 2's seed, the first of the school's teachers round 1 did not draw.
    let first_round_teacher = items
        .iter()
        .find(|i| i.school == format!("schools/{disputed_code}"))
        .unwrap()
        .sampler_id
        .clone();
    let teacher_order = TicketSequence::new(SEED2, returned.iter().map(String::as_str));
    let (position, expected) = teacher_order
        .tickets()
        .iter()
        .enumerate()
        .find(|(_, t)| t.id != first_round_teacher)
        .unwrap();
    assert_eq!(
        teacher_stratum.first_position,
        position as i64 + 1,
        "the teacher drawn in round 1 is skipped"
    );
    let second = drawn(&mut office, &r2, sp::Stage::Teacher).await;
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].sampler_id.clone(), second[0].ticket.clone()),
        (expected.id.clone(), expected.display()),
    );
    // Each round's bundle re-runs it: with this tool, and with the reference when a Python
    // with consistent_sampler is at hand.
    for round in [&r1, &r2] {
        let bundle = export(
            &mut office,
            round,
            common::FileFormat::Unspecified,
            sp::RoundExportPart::Bundle,
        )
        .await;
        check_bundle(round, &bundle);
    }
    office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: r2.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap();
    let mut again = 0;
    for reviewer in [&a, &b, &c] {
        again += regrade_inbox(&cluster, reviewer, COUNTY, |_| common::Grade::Excellent).await;
    }
    assert_eq!(again, 3);
    let unit = office
        .decide_review_unit(sp::DecideReviewUnitRequest {
            name: format!("{r2}/units/{disputed_code}"),
            reason: "复核一致".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unit.outcome, sp::UnitOutcome::Passed as i32);
    office
        .close_review_round(sp::CloseReviewRoundRequest {
            name: r2.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    let ready = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ready.state,
        pb::BatchState::ReadyForAudit as i32,
        "every school approved"
    );

    // The province audit: 5 % of the county's schools, 5 % of their teachers, then certification.
    let mut province = sampling(&cluster, "province-office", Role::ProvinceOffice, PROVINCE);
    let audit = province
        .create_review_round(new_round(
            sp::RoundLevel::ProvinceAudit,
            sp::RoundKind::OnlineRegrade,
            Vec::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        audit.batches,
        std::slice::from_ref(&batch),
        "every READY_FOR_AUDIT batch of the province"
    );
    let ra = audit.name.clone();
    province
        .freeze_population(sp::FreezePopulationRequest { name: ra.clone() })
        .await
        .unwrap();
    let in_audit = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_audit.state, pb::BatchState::InProvinceAudit as i32);
    let drawn_audit = province
        .draw_sample(sp::DrawSampleRequest {
            name: ra.clone(),
            seed: "64098812345".into(),
            seed_note: "省工程办".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (drawn_audit.schools_drawn, drawn_audit.teachers_drawn),
        (1, 1)
    );
    let assigned = province
        .assign_reviewers(sp::AssignReviewersRequest {
            round: ra.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.assigned_count, 1);
    assert_eq!(
        assigned.loads.len(),
        1,
        "only the province's assessor reviews an audit"
    );
    // The auditor agrees with the grades in force: EXCELLENT in the re-graded school, PASS elsewhere.
    let audited = regrade_inbox(&cluster, &p, PROVINCE, |r| {
        if returned
            .iter()
            .any(|n| r.name.contains(&format!("/items/teacher-{n}/")))
        {
            common::Grade::Excellent
        } else {
            common::Grade::Pass
        }
    })
    .await;
    assert_eq!(audited, 3);
    let units = province
        .list_review_units(sp::ListReviewUnitsRequest {
            parent: ra.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .review_units;
    assert_eq!(units.len(), 1);
    assert_eq!(
        units[0].unit,
        format!("jurisdictions/{COUNTY}"),
        "the county is the unit of an audit"
    );
    let decided = province
        .decide_review_unit(sp::DecideReviewUnitRequest {
            name: units[0].name.clone(),
            reason: "省抽测一致".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let certified = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        decided.outcome,
        sp::UnitOutcome::Passed as i32,
        "{decided:?}"
    );
    assert_eq!(decided.decision.as_ref().unwrap().target, batch);
    assert_eq!(certified.state, pb::BatchState::Certified as i32);
    assert!(
        certified.transitions.iter().any(|t| t.review_round == ra),
        "the transition names the round"
    );
    province
        .close_review_round(sp::CloseReviewRoundRequest {
            name: ra.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();

    // The round's workbook opens with every part as a sheet; the audit trail has the story.
    let workbook = export(
        &mut office,
        &r1,
        common::FileFormat::Xlsx,
        sp::RoundExportPart::Unspecified,
    )
    .await;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(workbook)).unwrap();
    use calamine::Reader;
    assert_eq!(
        book.sheet_names(),
        ["summary", "population", "tickets", "sample"]
    );
    let tickets = book.worksheet_range("tickets").unwrap();
    assert_eq!(
        tickets.height(),
        1 + 20 + 3 * 3,
        "header, the county's schools, each drawn school's teachers"
    );
    let events = office
        .list_audit_events(sp::ListAuditEventsRequest {
            resource: r1.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let methods: Vec<&str> = events
        .iter()
        .map(|e| e.method.rsplit('/').next().unwrap())
        .collect();
    for expected in [
        "CreateReviewRound",
        "FreezePopulation",
        "DrawSample",
        "AssignReviewers",
        "CloseReviewRound",
    ] {
        assert!(
            methods.contains(&expected),
            "{expected} missing from {methods:?}"
        );
    }
    cluster.stop().await;
}

async fn round_count(office: &mut SamplingClient) -> i64 {
    office
        .list_review_rounds(sp::ListReviewRoundsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total_size
}

async fn offline_checks_reassignment_and_refused_calls_run_on_the_same_machinery(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let teachers = register_roster(&cluster, 4).await;
    let [a, b, c] =
        <[String; 3]>::try_from(county_assessors(&cluster, &teachers, 3).await).unwrap();
    let mut county = cluster.assessment("county-office", Role::CountyOffice, COUNTY, None);
    // Half the schools and half their teachers are visited (rate set by the office, 五(二)).
    set_review_rates(&mut county, 15, Some(50)).await;
    let batch = cluster.open_batch(COUNTY, YEAR, "泗县 2026").await.name;
    run_school_year(
        &cluster,
        &batch,
        &teachers,
        [(&a, &teachers[0][0]), (&b, &teachers[1][0])],
    )
    .await;
    for s in 1..=4 {
        submit_school(&cluster, &batch, &school(s)).await;
    }
    let mut office = sampling(&cluster, "county-office", Role::CountyOffice, COUNTY);

    // Refused calls say what is wrong and store nothing.
    let new_round = |batches: Vec<String>, kind: sp::RoundKind| {
        new_round(sp::RoundLevel::CountyReview, kind, batches)
    };
    let two = office
        .create_review_round(new_round(
            vec![batch.clone(), "batches/341323-2026".into()],
            sp::RoundKind::OnlineRegrade,
        ))
        .await
        .unwrap_err();
    assert_eq!(two.code(), Code::InvalidArgument);
    assert!(
        tica_server::errors::field_violations(&two)
            .iter()
            .any(|(f, _)| f == "review_round.batches"),
        "{two:?}"
    );
    let kindless = office
        .create_review_round(new_round(vec![batch.clone()], sp::RoundKind::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(kindless.code(), Code::InvalidArgument);
    let mut province = sampling(&cluster, "province-office", Role::ProvinceOffice, PROVINCE);
    let not_theirs = province
        .create_review_round(new_round(vec![batch.clone()], sp::RoundKind::OnlineRegrade))
        .await
        .unwrap_err();
    assert_eq!(
        not_theirs.code(),
        Code::PermissionDenied,
        "county review is the county office's"
    );
    assert_eq!(
        round_count(&mut office).await,
        0,
        "refused calls store nothing"
    );

    // An online round, assigned to one reviewer, then reassigned when they drop out.
    let online = office
        .create_review_round(new_round(vec![batch.clone()], sp::RoundKind::OnlineRegrade))
        .await
        .unwrap()
        .into_inner()
        .name;
    freeze_and_draw(&mut office, &online, "314159").await;
    // Offices above the county read its round but do not run it; reviewers see no figures.
    let meddling = province
        .draw_sample(sp::DrawSampleRequest {
            name: online.clone(),
            seed: "1".into(),
            seed_note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(meddling.code(), Code::PermissionDenied, "{meddling:?}");
    province
        .list_review_units(sp::ListReviewUnitsRequest {
            parent: online.clone(),
            ..Default::default()
        })
        .await
        .expect("the province reads the county's figures");
    let peeking = sampling(&cluster, &a, Role::Assessor, COUNTY)
        .list_review_units(sp::ListReviewUnitsRequest {
            parent: online.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(peeking.code(), Code::PermissionDenied);
    let outsider = teachers[3][0].clone();
    let bad_pool = office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: online.clone(),
            assessors: vec![format!("assessors/{outsider}")],
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_pool.code(),
        Code::InvalidArgument,
        "only registered assessors of the level form a pool"
    );
    let solo = office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: online.clone(),
            assessors: vec![format!("assessors/{c}")],
        })
        .await
        .unwrap()
        .into_inner();
    let items = drawn(&mut office, &online, sp::Stage::Teacher).await;
    let in_c_school = items
        .iter()
        .filter(|i| i.school == format!("schools/{}", school(3)))
        .count() as i64;
    assert_eq!(
        solo.unassigned_count, in_c_school,
        "never to an assessor of the school under review"
    );
    let item = items
        .iter()
        .find(|i| i.assessor == format!("assessors/{c}"))
        .unwrap()
        .clone();
    let reasonless = office
        .reassign_drawn_item(sp::ReassignDrawnItemRequest {
            name: item.name.clone(),
            assessor: String::new(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reasonless.code(), Code::InvalidArgument);
    let unchanged = office
        .get_drawn_item(sp::GetDrawnItemRequest {
            name: item.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unchanged.assessor, item.assessor,
        "a refused reassignment changes nothing"
    );
    let moved = office
        .reassign_drawn_item(sp::ReassignDrawnItemRequest {
            name: item.name.clone(),
            assessor: String::new(),
            reason: "测评员调换".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(moved.assessor, item.assessor);
    assert_ne!(
        moved.assessor,
        format!(
            "assessors/{}",
            if moved.school.ends_with("0001") {
                &a
            } else {
                &b
            }
        ),
        "not from the school under review"
    );
    assert_eq!(moved.assignment_history.len(), 2);
    assert_eq!(moved.assignment_history[1].reason, "测评员调换");
    let mut dropped = sampling(&cluster, &c, Role::Assessor, COUNTY);
    let gone = dropped
        .submit_regrade(sp::SubmitRegradeRequest {
            name: format!("{}/regrades/B2", item.name),
            grade: common::Grade::Pass as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        gone.code(),
        Code::PermissionDenied,
        "the reviewer who dropped out no longer holds it"
    );

    // Offline checks: a second kind of draw, its own chain, beside the online one.
    let offline = office
        .create_review_round(new_round(vec![batch.clone()], sp::RoundKind::OfflineCheck))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        offline.name,
        format!("reviewRounds/{COUNTY}-{YEAR}-county-offline-1")
    );
    assert!(offline.extends.is_empty(), "the offline chain is its own");
    let off = offline.name;
    let frozen = office
        .freeze_population(sp::FreezePopulationRequest { name: off.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (frozen.population_schools, frozen.population_teachers),
        (4, 12)
    );
    let visited = office
        .draw_sample(sp::DrawSampleRequest {
            name: off.clone(),
            seed: "271828".into(),
            seed_note: "推门听课抽签".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (visited.schools_drawn, visited.teachers_drawn),
        (2, 4),
        "ceil(50 % × 4) schools, ceil(50 % × 3) teachers each"
    );
    let visits = drawn(&mut office, &off, sp::Stage::Teacher).await;
    for v in &visits {
        let p = county
            .get_participant(pb::GetParticipantRequest {
                name: v.participant.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            p.offline_check,
            pb::OfflineCheck::Pending as i32,
            "drawn teachers await their visit"
        );
    }
    office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: off.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap();
    let visits = drawn(&mut office, &off, sp::Stage::Teacher).await;
    for v in &visits {
        let reviewer = v.assessor.strip_prefix("assessors/").unwrap();
        let mut me = sampling(&cluster, reviewer, Role::Assessor, COUNTY);
        let name = format!("{}/regrades/visit", v.name);
        let undated = me
            .submit_regrade(sp::SubmitRegradeRequest {
                name: name.clone(),
                grade: common::Grade::Pass as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            undated.code(),
            Code::InvalidArgument,
            "a visit records its day"
        );
        let pending = me
            .get_regrade(sp::GetRegradeRequest { name: name.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            pending.state,
            sp::RegradeState::Pending as i32,
            "the refused submission changed nothing"
        );
        let done = me
            .submit_regrade(sp::SubmitRegradeRequest {
                name,
                grade: common::Grade::Pass as i32,
                visit_date: Some(tica_proto::google::r#type::Date {
                    year: YEAR,
                    month: 11,
                    day: 20,
                }),
                visited_lesson: "四年级数学《三角形的面积》".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(done.agrees, "the visit confirms the online PASS");
    }
    let units = office
        .list_review_units(sp::ListReviewUnitsRequest {
            parent: off.clone(),
            drawn_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .review_units;
    assert_eq!(units.len(), 2);
    for unit in units {
        let decided = office
            .decide_review_unit(sp::DecideReviewUnitRequest {
                name: unit.name,
                reason: "听课评价与线上一致".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(decided.outcome, sp::UnitOutcome::Passed as i32);
    }
    for v in &visits {
        let p = county
            .get_participant(pb::GetParticipantRequest {
                name: v.participant.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            p.offline_check,
            pb::OfflineCheck::Passed as i32,
            "recorded beside the online result"
        );
    }
    let closed = office
        .close_review_round(sp::CloseReviewRoundRequest {
            name: off,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.units_passed, 4);
    assert_eq!(round_count(&mut office).await, 2);
    let by_batch = |batch: &str| sp::ListReviewRoundsRequest {
        batch: batch.into(),
        ..Default::default()
    };
    let listed = office
        .list_review_rounds(by_batch(&batch))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 2, "both rounds are over the batch");
    let other_year = office
        .list_review_rounds(by_batch("batches/341324-2025"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other_year.total_size, 0);
    let partial = office
        .list_review_rounds(by_batch("batches/341324-202%"))
        .await
        .unwrap_err();
    assert_eq!(
        partial.code(),
        Code::InvalidArgument,
        "no wildcards: {partial:?}"
    );
    cluster.stop().await;
}

/// Freezes `round`'s population and draws with `seed`, as its office.
async fn freeze_and_draw(office: &mut SamplingClient, round: &str, seed: &str) {
    office
        .freeze_population(sp::FreezePopulationRequest { name: round.into() })
        .await
        .unwrap();
    office
        .draw_sample(sp::DrawSampleRequest {
            name: round.into(),
            seed: seed.into(),
            seed_note: String::new(),
        })
        .await
        .unwrap();
}

/// Runs a whole county-review round as the county office: everything drawn is re-graded PASS
/// (agreeing) by whoever it was assigned to.
async fn pass_county_review(cluster: &Cluster, office: &mut SamplingClient, batch: &str) {
    let round = office
        .create_review_round(new_round(
            sp::RoundLevel::CountyReview,
            sp::RoundKind::OnlineRegrade,
            vec![batch.to_owned()],
        ))
        .await
        .unwrap()
        .into_inner()
        .name;
    freeze_and_draw(office, &round, "1234567890").await;
    office
        .assign_reviewers(sp::AssignReviewersRequest {
            round: round.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap();
    for item in drawn(office, &round, sp::Stage::Teacher).await {
        let reviewer = item.assessor.strip_prefix("assessors/").unwrap();
        regrade_inbox(cluster, reviewer, COUNTY, |_| common::Grade::Pass).await;
    }
    for unit in office
        .list_review_units(sp::ListReviewUnitsRequest {
            parent: round.clone(),
            drawn_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .review_units
    {
        office
            .decide_review_unit(sp::DecideReviewUnitRequest {
                name: unit.name,
                reason: "一致".into(),
            })
            .await
            .unwrap();
    }
    office
        .close_review_round(sp::CloseReviewRoundRequest {
            name: round,
            reason: String::new(),
        })
        .await
        .unwrap();
}

/// Runs a province audit round of `kind` through its draw and assignment; its name.
async fn start_audit(province: &mut SamplingClient, kind: sp::RoundKind, seed: &str) -> String {
    let round = province
        .create_review_round(new_round(sp::RoundLevel::ProvinceAudit, kind, Vec::new()))
        .await
        .unwrap()
        .into_inner()
        .name;
    freeze_and_draw(province, &round, seed).await;
    province
        .assign_reviewers(sp::AssignReviewersRequest {
            round: round.clone(),
            assessors: Vec::new(),
        })
        .await
        .unwrap();
    round
}

async fn certification_waits_for_the_offline_audit_and_reviewers_match_the_subject(
    backend: Backend,
) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let teachers = register_roster(&cluster, 4).await;
    let at_province = format!("jurisdictions/{PROVINCE}");
    let [a, b, _] =
        <[String; 3]>::try_from(county_assessors(&cluster, &teachers, 3).await).unwrap();
    // Two province assessors: one registered for Chinese only, one for mathematics.
    let province_office = (Role::ProvinceOffice, PROVINCE);
    let province_level = roster::AssessorLevel::Province;
    let chinese = cluster
        .register_assessor(
            province_office,
            &teachers[3][1],
            province_level,
            &at_province,
        )
        .await;
    let maths = cluster
        .register_assessor(
            province_office,
            &teachers[3][2],
            province_level,
            &at_province,
        )
        .await;
    let mut roster_office = cluster.roster(Role::ProvinceOffice, PROVINCE);
    for (id, subject) in [(&chinese, "语文"), (&maths, "数学")] {
        roster_office
            .update_assessor(roster::UpdateAssessorRequest {
                assessor: Some(roster::Assessor {
                    name: format!("assessors/{id}"),
                    subjects: vec![subject.into()],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["subjects".into()],
                }),
            })
            .await
            .unwrap();
    }

    // The county's policy: review 50 %, visits required, reviewers of the teacher's subject.
    let mut county = cluster.assessment("county-office", Role::CountyOffice, COUNTY, None);
    set_review_rates(&mut county, 15, Some(50)).await;
    update_grading(&mut county, "以学科为单位测评", |grading| {
        grading.subject_match_required = true;
    })
    .await;
    let batch = cluster.open_batch(COUNTY, YEAR, "泗县 2026").await.name;
    run_school_year(
        &cluster,
        &batch,
        &teachers,
        [(&a, &teachers[0][0]), (&b, &teachers[1][0])],
    )
    .await;
    for s in 1..=4 {
        submit_school(&cluster, &batch, &school(s)).await;
    }
    let mut office = sampling(&cluster, "county-office", Role::CountyOffice, COUNTY);
    pass_county_review(&cluster, &mut office, &batch).await;
    let state = |county: &mut AssessmentClient| {
        let mut county = county.clone();
        let batch = batch.clone();
        async move {
            county
                .get_batch(pb::GetBatchRequest { name: batch })
                .await
                .unwrap()
                .into_inner()
                .state
        }
    };
    assert_eq!(
        state(&mut county).await,
        pb::BatchState::ReadyForAudit as i32
    );

    // The online audit passes, but the county is not certified until its visits pass too.
    let mut province = sampling(&cluster, "province-office", Role::ProvinceOffice, PROVINCE);
    let online = start_audit(&mut province, sp::RoundKind::OnlineRegrade, "555").await;
    let items = drawn(&mut province, &online, sp::Stage::Teacher).await;
    assert!(
        items
            .iter()
            .all(|i| i.assessor == format!("assessors/{maths}")),
        "mathematics teachers go to the mathematics reviewer: {items:?}"
    );
    regrade_inbox(&cluster, &maths, PROVINCE, |_| common::Grade::Pass).await;
    let unit = format!("{online}/units/{COUNTY}");
    let passed = province
        .decide_review_unit(sp::DecideReviewUnitRequest {
            name: unit,
            reason: "省抽测一致".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(passed.outcome, sp::UnitOutcome::Passed as i32);
    assert_eq!(passed.decision.unwrap().target, "", "nothing moves yet");
    assert_eq!(
        state(&mut county).await,
        pb::BatchState::InProvinceAudit as i32
    );

    let visits = start_audit(&mut province, sp::RoundKind::OfflineCheck, "777").await;
    for item in drawn(&mut province, &visits, sp::Stage::Teacher).await {
        assert_eq!(item.assessor, format!("assessors/{maths}"));
        sampling(&cluster, &maths, Role::Assessor, PROVINCE)
            .submit_regrade(sp::SubmitRegradeRequest {
                name: format!("{}/regrades/visit", item.name),
                grade: common::Grade::Pass as i32,
                visit_date: Some(tica_proto::google::r#type::Date {
                    year: YEAR,
                    month: 12,
                    day: 1,
                }),
                visited_lesson: "五年级数学".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let certified = province
        .decide_review_unit(sp::DecideReviewUnitRequest {
            name: format!("{visits}/units/{COUNTY}"),
            reason: "推门听课合格".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        certified.decision.unwrap().target,
        batch,
        "both kinds passed: certified"
    );
    assert_eq!(state(&mut county).await, pb::BatchState::Certified as i32);
    cluster.stop().await;
}

/// The inclusion proof of log entry `index` against the latest checkpoint, checked by RFC 9162
/// (`tica_e2e::rfc9162`), as anyone gets it without a token.
async fn inclusion_proof(cluster: &Cluster, index: i64) -> cpb::LogEntry {
    let mut log =
        cpb::certificate_service_client::CertificateServiceClient::new(cluster.channel.clone());
    let proof = log
        .get_inclusion_proof(cpb::GetInclusionProofRequest {
            entry: Some(cpb::get_inclusion_proof_request::Entry::LogIndex(index)),
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let entry = proof.entry.expect("the entry");
    assert_eq!(entry.kind, cpb::LogEntryKind::DrawCommitted as i32);
    assert!(entry.certificate.is_empty(), "it names no certificate");
    let leaf = tica_e2e::rfc9162::leaf_hash(&entry.entry);
    assert_eq!(leaf.as_slice(), entry.leaf_hash.as_slice());
    tica_e2e::rfc9162::verify_inclusion(
        index as u64,
        proof.tree_size as u64,
        &leaf,
        &proof.hashes,
        &proof.checkpoint.expect("the checkpoint").root_hash,
    )
    .expect("the entry is in the signed tree");
    entry
}

/// `round`'s reproducibility bundle re-runs its draw: `tica sampling check-bundle`'s check, and
/// the bundle's own `reproduce.py` with the reference `consistent_sampler` when a Python has it
/// (`TICA_PYTHON`, as `tica_e2e::interop::python` finds it).
fn check_bundle(round: &str, bundle: &[u8]) {
    let files = tica_sampling::bundle::unzip(bundle).unwrap();
    let checked = tica::sampling::check_bundle(&files).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(checked.round, round);
    assert!(checked.items > 0);
    let Some(python) =
        tica_e2e::interop::python("reproduce.py (a round's bundle)", "consistent_sampler")
    else {
        return;
    };
    // A directory of its own: the SQLite and PostgreSQL runs draw rounds of the same name at
    // the same time in this process.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let output = std::process::Command::new(python)
        .arg(dir.join("reproduce.py"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&format!("{round}: reproduced")), "{stdout}");
}
