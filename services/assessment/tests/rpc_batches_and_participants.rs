//! Batches, participants and selections, RPC by RPC, over real gRPC on SQLite and PostgreSQL:
//! each RPC's main success path and its most important refusals, and a refused write leaves the
//! stored batch, participant or selection as it was.
//!
//! Most tests run in a Sixian year (`support/year.rs`): a batch over schools A and B with
//! teachers `a1`, `a2` (A) and `b1` (B); the review chain's province steps run in a Yongning
//! (Ningxia) batch, whose policy has a region and city audit.

mod support;
#[path = "support/year.rs"]
mod year;

use prost_types::FieldMask;
use tica_auth::Role;
use tica_proto::google::r#type::Date;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_storage::Backend;
use tonic::Code;
use year::{
    COUNTY, NINGXIA_COUNTY, PICKS, SCHOOL_A, SCHOOL_B, SCHOOL_C, Year, ningxia_ready_for_audit,
    refused, refused_on_field, stale, well_formed,
};

tica_testkit::backend_tests!(
    // GetBatch
    a_school_reads_its_countys_batch_and_another_county_cannot,
    // ListBatches
    batches_are_listed_by_year_and_state_within_the_callers_subtree,
    // CreateBatch
    a_batch_is_refused_to_a_school_in_another_county_for_a_bad_year_and_twice,
    // UpdateBatch
    an_update_renames_and_sets_deadlines_and_a_refused_one_changes_nothing,
    two_offices_that_read_one_batch_cannot_overwrite_each_other,
    // OpenBatch
    opening_pins_the_policy_versions_and_enrols_every_teacher_of_the_batchs_schools,
    a_batch_opens_once_by_its_county_office_and_only_under_a_policy,
    // CarryOverParticipants
    teachers_who_did_not_pass_last_year_are_carried_into_this_years_open_batch,
    a_carried_teacher_keeps_passed_micro_competencies_which_stay_as_they_are,
    // BeginProvinceAudit, ReturnBatch, CertifyBatch (province audit)
    a_city_office_audits_a_ningxia_county_returns_it_and_the_province_certifies,
    a_ningxia_county_cannot_audit_or_certify_itself,
    // CertifyBatch (no province audit)
    a_sixian_county_certifies_only_when_every_participant_has_a_final_grade,
    // GetParticipant
    a_teacher_reads_their_own_participant_and_not_a_colleagues,
    // ListParticipants
    participants_are_listed_within_the_callers_school_and_never_to_a_teacher,
    // EnrolParticipants
    a_late_arrival_is_enrolled_once_and_only_from_the_batchs_schools,
    an_unknown_teacher_number_is_refused_on_its_field_and_enrols_no_one,
    // WithdrawParticipant
    a_withdrawn_participant_says_why_and_is_withdrawn_once,
    // GetSelection
    a_selection_is_read_back_as_accepted_with_its_verdict,
    // CheckSelection
    a_check_gives_a_verdict_to_act_on_and_stores_nothing,
    // SubmitSelection
    a_refused_selection_leaves_the_stored_one_as_it_was,
    a_selection_after_the_deadline_or_dropping_a_handed_in_code_is_refused,
);

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

async fn list_batches(
    client: &mut support::AssessmentClient,
    request: pb::ListBatchesRequest,
) -> Result<Vec<String>, tonic::Status> {
    client
        .list_batches(request)
        .await
        .map(|r| r.into_inner().batches.into_iter().map(|b| b.name).collect())
}

fn new_batch(county: &str, year: i32, schools: &[&str]) -> pb::CreateBatchRequest {
    pb::CreateBatchRequest {
        batch: Some(pb::Batch {
            county: format!("jurisdictions/{county}"),
            year,
            display_name: format!("{year} 年能力提升工程2.0"),
            schools: schools.iter().map(|s| format!("schools/{s}")).collect(),
            ..Default::default()
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// GetBatch

async fn a_school_reads_its_countys_batch_and_another_county_cannot(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let get = |name: &str| pb::GetBatchRequest { name: name.into() };
    let seen = year
        .school_office(SCHOOL_A)
        .get_batch(get(&year.batch))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.name, "batches/341324-2026");
    assert_eq!(seen.state, pb::BatchState::Open as i32);
    assert_eq!(seen.participant_count, 3);
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    refused(
        neighbour.get_batch(get(&year.batch)).await,
        Code::PermissionDenied,
    );
    // Scope before state: the neighbour is refused alike for a batch that does not exist.
    refused(
        neighbour.get_batch(get("batches/341324-2030")).await,
        Code::PermissionDenied,
    );
    refused(
        year.county().get_batch(get("batches/341324-2030")).await,
        Code::NotFound,
    );
    refused_on_field(year.county().get_batch(get("341324-2026")).await, "name");
}

// ---------------------------------------------------------------------------------------------
// ListBatches

async fn batches_are_listed_by_year_and_state_within_the_callers_subtree(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let mut county = year.county();
    county
        .create_batch(new_batch(COUNTY, 2027, &[SCHOOL_A]))
        .await
        .unwrap();
    let all = list_batches(&mut county, pb::ListBatchesRequest::default())
        .await
        .unwrap();
    assert_eq!(all, ["batches/341324-2026", "batches/341324-2027"]);
    let open = list_batches(
        &mut county,
        pb::ListBatchesRequest {
            state: pb::BatchState::Open as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(open, ["batches/341324-2026"]);
    let of_2027 = list_batches(
        &mut county,
        pb::ListBatchesRequest {
            year: 2027,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(of_2027, ["batches/341324-2027"]);
    // A school office, without a parent, sees its county's batches.
    let from_school = list_batches(&mut year.school_office(SCHOOL_B), Default::default())
        .await
        .unwrap();
    assert_eq!(from_school.len(), 2);
    // The neighbour county sees none of them, and may not ask for Sixian's.
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    assert!(
        list_batches(&mut neighbour, Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    refused(
        list_batches(
            &mut neighbour,
            pb::ListBatchesRequest {
                parent: format!("jurisdictions/{COUNTY}"),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        list_batches(
            &mut county,
            pb::ListBatchesRequest {
                state: 99,
                ..Default::default()
            },
        )
        .await,
        "state",
    );
}

// ---------------------------------------------------------------------------------------------
// CreateBatch

async fn a_batch_is_refused_to_a_school_in_another_county_for_a_bad_year_and_twice(
    backend: Backend,
) {
    let Some(year) = Year::draft(backend).await else {
        return;
    };
    let mut county = year.county();
    refused(
        year.school_office(SCHOOL_A)
            .create_batch(new_batch(COUNTY, 2027, &[]))
            .await,
        Code::PermissionDenied,
    );
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    refused(
        neighbour.create_batch(new_batch(COUNTY, 2027, &[])).await,
        Code::PermissionDenied,
    );
    // The project began in 2019 (教师〔2019〕1号).
    refused_on_field(
        county.create_batch(new_batch(COUNTY, 2018, &[])).await,
        "batch.year",
    );
    year.suite
        .roster(Role::ProvinceOffice, "340000")
        .create_jurisdiction(roster::CreateJurisdictionRequest {
            jurisdiction: Some(roster::Jurisdiction {
                name: "jurisdictions/341323".into(),
                display_name: "灵璧县".into(),
                parent: "jurisdictions/341300".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    year.suite
        .register_school("341323", "3413230001", "灵璧县第一小学")
        .await;
    refused_on_field(
        county
            .create_batch(new_batch(COUNTY, 2027, &["3413230001"]))
            .await,
        "batch.schools[0]",
    );
    refused_on_field(
        county
            .create_batch(new_batch(COUNTY, 2027, &[SCHOOL_A, SCHOOL_A]))
            .await,
        "batch.schools[1]",
    );
    refused(
        county.create_batch(new_batch(COUNTY, 2026, &[])).await,
        Code::AlreadyExists,
    );
    // Nothing refused was stored, and the existing batch is as it was.
    let batches = list_batches(&mut county, Default::default()).await.unwrap();
    assert_eq!(batches, ["batches/341324-2026"]);
    let stored = year.batch().await;
    assert_eq!(stored.schools.len(), 2);
    assert_eq!(stored.state, pb::BatchState::Draft as i32);
}

// ---------------------------------------------------------------------------------------------
// UpdateBatch

async fn an_update_renames_and_sets_deadlines_and_a_refused_one_changes_nothing(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let mut county = year.county();
    let update = |batch: pb::Batch, paths: &[&str]| pb::UpdateBatchRequest {
        batch: Some(batch),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let updated = county
        .update_batch(update(
            pb::Batch {
                name: year.batch.clone(),
                display_name: "泗县 2026 年度测评".into(),
                selection_deadline: date(2099, 5, 31),
                submission_deadline: date(2099, 10, 31),
                certificate_date: date(2026, 1, 2),
                ..Default::default()
            },
            &[
                "display_name",
                "selection_deadline",
                "submission_deadline",
                "certificate_date",
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "泗县 2026 年度测评");
    assert_eq!(updated.selection_deadline, date(2099, 5, 31));
    assert_eq!(updated.certificate_date, date(2026, 1, 2));
    let before = year.batch().await;
    // A certificate date prints a decision already made: never one to come.
    refused_on_field(
        county
            .update_batch(update(
                pb::Batch {
                    name: year.batch.clone(),
                    certificate_date: date(2099, 1, 1),
                    ..Default::default()
                },
                &["certificate_date"],
            ))
            .await,
        "batch.certificate_date",
    );
    // Schools change only while DRAFT: the open batch has enrolled theirs.
    refused(
        county
            .update_batch(update(
                pb::Batch {
                    name: year.batch.clone(),
                    schools: vec![format!("schools/{SCHOOL_C}")],
                    ..Default::default()
                },
                &["schools"],
            ))
            .await,
        Code::FailedPrecondition,
    );
    refused_on_field(
        county
            .update_batch(update(
                pb::Batch {
                    name: year.batch.clone(),
                    grading_deadline: date(2099, 6, 1),
                    ..Default::default()
                },
                &["grading_deadline"],
            ))
            .await,
        "batch.grading_deadline",
    );
    refused_on_field(
        county
            .update_batch(update(
                pb::Batch {
                    name: year.batch.clone(),
                    ..Default::default()
                },
                &[],
            ))
            .await,
        "update_mask",
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .update_batch(update(
                pb::Batch {
                    name: year.batch.clone(),
                    display_name: "改名".into(),
                    ..Default::default()
                },
                &["display_name"],
            ))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.batch().await, before);
}

async fn two_offices_that_read_one_batch_cannot_overwrite_each_other(backend: Backend) {
    let Some(year) = Year::draft(backend).await else {
        return;
    };
    let mut county = year.county();
    let mut province =
        year.suite
            .assessment("province-office", Role::ProvinceOffice, "340000", None);
    let rename = |display_name: &str, etag: &str| pb::UpdateBatchRequest {
        batch: Some(pb::Batch {
            name: year.batch.clone(),
            display_name: display_name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    // Create, Get and List fill the etag.
    let created = county
        .create_batch(new_batch(COUNTY, 2027, &[SCHOOL_A]))
        .await
        .unwrap()
        .into_inner();
    well_formed(&created.etag);
    let read = county
        .get_batch(pb::GetBatchRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.etag, created.etag);
    let listed = county
        .list_batches(pb::ListBatchesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .batches;
    assert!(listed.iter().all(|b| b.etag.starts_with("W/")));
    assert_eq!(
        listed
            .iter()
            .find(|b| b.name == created.name)
            .map(|b| &b.etag),
        Some(&created.etag)
    );
    // Both offices read the 2026 batch, with the same etag.
    let read_by_county = year.batch().await;
    let read_by_province = province
        .get_batch(pb::GetBatchRequest {
            name: year.batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read_by_county.etag, read_by_province.etag);
    // The county's update goes first: it lands and changes the etag.
    let first = county
        .update_batch(rename("泗县 2026 年度测评", &read_by_county.etag))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(first.etag, read_by_county.etag);
    assert_eq!(
        year.batch().await.etag,
        first.etag,
        "Get answers Update's etag"
    );
    // The province's, made on what it read before, is refused and writes nothing.
    stale(
        province
            .update_batch(rename("安徽省抽查批次", &read_by_province.etag))
            .await,
    );
    assert_eq!(year.batch().await, first, "the first writer's");
    // Opening is a write too: the etag read before it is stale after it.
    county
        .open_batch(pb::OpenBatchRequest {
            name: year.batch.clone(),
            open_date: None,
        })
        .await
        .unwrap();
    let opened = year.batch().await;
    assert_ne!(opened.etag, first.etag);
    stale(county.update_batch(rename("泗县 2026", &first.etag)).await);
    // Without an etag, an update is unconditional.
    let unconditional = province
        .update_batch(rename("泗县 2026", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unconditional.display_name, "泗县 2026");
    assert_ne!(unconditional.etag, opened.etag);
}

// ---------------------------------------------------------------------------------------------
// OpenBatch

async fn opening_pins_the_policy_versions_and_enrols_every_teacher_of_the_batchs_schools(
    backend: Backend,
) {
    let Some(year) = Year::draft(backend).await else {
        return;
    };
    let opened = year
        .county()
        .open_batch(pb::OpenBatchRequest {
            name: year.batch.clone(),
            open_date: date(2026, 3, 19),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.state, pb::BatchState::Open as i32);
    assert_eq!(opened.open_date, date(2026, 3, 19));
    assert_eq!(
        opened.policy_versions,
        ["policies/341324/versions/1", "policies/340000/versions/1"],
        "the county's and the province's policies, nearest first"
    );
    // a1, a2 and b1; the assessor teaches at school C, which is not in the batch.
    assert_eq!(opened.participant_count, 3);
    assert_eq!(opened.schools_total, 2);
}

async fn a_batch_opens_once_by_its_county_office_and_only_under_a_policy(backend: Backend) {
    let Some(year) = Year::draft(backend).await else {
        return;
    };
    let open = |name: &str| pb::OpenBatchRequest {
        name: name.into(),
        open_date: None,
    };
    refused(
        year.school_office(SCHOOL_A)
            .open_batch(open(&year.batch))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.batch().await.state, pb::BatchState::Draft as i32);
    year.county().open_batch(open(&year.batch)).await.unwrap();
    let before = year.batch().await;
    refused(
        year.county().open_batch(open(&year.batch)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(year.batch().await, before);
    refused(
        year.county().open_batch(open("batches/341324-2031")).await,
        Code::NotFound,
    );
    // 江宁区 (Jiangsu): no preset and no policy attached anywhere above it.
    let mut jiangning = year
        .suite
        .assessment("office", Role::CountyOffice, "320115", None);
    let batch = jiangning
        .create_batch(new_batch("320115", 2026, &[]))
        .await
        .unwrap()
        .into_inner();
    let status = refused(
        jiangning.open_batch(open(&batch.name)).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("policy"), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// CarryOverParticipants

async fn teachers_who_did_not_pass_last_year_are_carried_into_this_years_open_batch(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    // A teacher who arrived after 2026 opened took part in an earlier batch (2025) and did not
    // pass it: carried into 2026 (兜底测评, 《宁夏实施方案》§三 第二、三阶段; every preset
    // carries over). a1, a2 and b1 are enrolled in 2026 already and are skipped.
    let late = year.suite.register_teacher(COUNTY, SCHOOL_A, 5).await;
    let mut county = year.county();
    let earlier = county
        .create_batch(new_batch(COUNTY, 2025, &[SCHOOL_A, SCHOOL_B]))
        .await
        .unwrap()
        .into_inner()
        .name;
    county
        .open_batch(pb::OpenBatchRequest {
            name: earlier.clone(),
            open_date: None,
        })
        .await
        .unwrap();
    let carry = |batch: &str, source: &str| pb::CarryOverParticipantsRequest {
        batch: batch.into(),
        source_batch: source.into(),
    };
    refused(
        year.school_office(SCHOOL_A)
            .carry_over_participants(carry(&year.batch, &earlier))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        county
            .carry_over_participants(carry(&earlier, &year.batch))
            .await,
        "source_batch",
    );
    assert_eq!(
        year.batch().await.participant_count,
        3,
        "nothing carried yet"
    );
    let carried = county
        .carry_over_participants(carry(&year.batch, &earlier))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = carried
        .participants
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, [year.participant(&late)]);
    assert_eq!(carried.participants[0].carried_over_from, earlier);
    assert_eq!(carried.skipped_count, 3);
    assert_eq!(year.batch().await.participant_count, 4);
    // Again: everyone is enrolled now.
    let again = county
        .carry_over_participants(carry(&year.batch, &earlier))
        .await
        .unwrap()
        .into_inner();
    assert!(again.participants.is_empty());
    assert_eq!(again.skipped_count, 4);
    // Only into an OPEN batch.
    let draft = county
        .create_batch(new_batch(COUNTY, 2027, &[SCHOOL_A]))
        .await
        .unwrap()
        .into_inner()
        .name;
    refused(
        county
            .carry_over_participants(carry(&draft, &earlier))
            .await,
        Code::FailedPrecondition,
    );
}

/// The presets keep a carried teacher's passed micro-competencies (keep_passed_submissions; a
/// choice beyond 《宁夏实施方案》§三 第二阶段, which only says 继续参加…直至测评合格): they come
/// GRADED and marked carried over, stay as they are, and cannot be dropped; the rest starts
/// again as DRAFT.
async fn a_carried_teacher_keeps_passed_micro_competencies_which_stay_as_they_are(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let late = year.suite.register_teacher(COUNTY, SCHOOL_A, 5).await;
    let mut county = year.county();
    let earlier = county
        .create_batch(new_batch(COUNTY, 2025, &[SCHOOL_A, SCHOOL_B]))
        .await
        .unwrap()
        .into_inner()
        .name;
    county
        .open_batch(pb::OpenBatchRequest {
            name: earlier.clone(),
            open_date: None,
        })
        .await
        .unwrap();
    // 2025: B2 and C4 pass, C1 fails; no hours, so the teacher does not pass the year.
    let then = format!("{earlier}/participants/{late}");
    support::select(&mut county, &then, &PICKS).await;
    for (code, g) in [
        ("B2", common::Grade::Pass),
        ("C1", common::Grade::Fail),
        ("C4", common::Grade::Pass),
    ] {
        support::hand_in(&mut county, &then, code).await;
        support::grade(&mut year.grader(), &year.assessor, &then, code, g)
            .await
            .unwrap();
    }
    let last_year = county
        .get_participant(pb::GetParticipantRequest { name: then })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last_year.grade, common::Grade::Fail as i32);
    let carried = county
        .carry_over_participants(pb::CarryOverParticipantsRequest {
            batch: year.batch.clone(),
            source_batch: earlier.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(carried.participants.len(), 1);
    let now = &carried.participants[0];
    assert_eq!(now.selected_micro_competencies, PICKS);
    assert_eq!(now.submissions_graded, 2);
    let b2 = year.submission_record(&late, "B2").await;
    assert_eq!(b2.state, pb::SubmissionState::Graded as i32);
    assert!(b2.carried_over);
    let c1 = year.submission_record(&late, "C1").await;
    assert_eq!(c1.state, pb::SubmissionState::Draft as i32);
    assert!(!c1.carried_over);
    // A carried result stays as it is: not returned, not dropped from the selection.
    refused(
        year.grader()
            .return_submission(pb::ReturnSubmissionRequest {
                name: year.submission(&late, "B2"),
                reason: "重新评价".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    refused_on_field(
        county
            .submit_selection(pb::SubmitSelectionRequest {
                name: format!("{}/selection", year.participant(&late)),
                micro_competencies: vec!["C1".into(), "C4".into(), "C7".into()],
                validate_only: false,
            })
            .await,
        "micro_competencies",
    );
    assert_eq!(year.submission_record(&late, "B2").await, b2);
}

// ---------------------------------------------------------------------------------------------
// BeginProvinceAudit, ReturnBatch, CertifyBatch

async fn a_city_office_audits_a_ningxia_county_returns_it_and_the_province_certifies(
    backend: Backend,
) {
    let Some((suite, batch)) = ningxia_ready_for_audit(backend).await else {
        return;
    };
    let mut city = suite.assessment("city", Role::CityOffice, "640100", None);
    let audited = city
        .begin_province_audit(pb::BeginProvinceAuditRequest {
            name: batch.clone(),
            review_round: "2026-区市抽检".into(),
            reason: "抽取 5% 学校".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audited.state, pb::BatchState::InProvinceAudit as i32);
    let last = audited.transitions.last().unwrap();
    assert_eq!(last.review_round, "2026-区市抽检");
    // Once in audit, it cannot begin again.
    refused(
        city.begin_province_audit(pb::BeginProvinceAuditRequest {
            name: batch.clone(),
            review_round: "again".into(),
            reason: String::new(),
        })
        .await,
        Code::FailedPrecondition,
    );
    // Sent back, it says why: 区市抽检 below 80 % agreement goes back to the county
    // (《宁夏测评实施办法》§五(一)4).
    refused_on_field(
        city.return_batch(pb::ReturnBatchRequest {
            name: batch.clone(),
            review_round: "2026-区市抽检".into(),
            reason: " ".into(),
        })
        .await,
        "reason",
    );
    let returned = city
        .return_batch(pb::ReturnBatchRequest {
            name: batch.clone(),
            review_round: "2026-区市抽检".into(),
            reason: "一致率低于 80%".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::BatchState::ReturnedToCounty as i32);
    let mut county = suite.assessment("county", Role::CountyOffice, NINGXIA_COUNTY, None);
    let results = county
        .list_school_results(pb::ListSchoolResultsRequest {
            parent: batch.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        results
            .school_results
            .iter()
            .all(|r| r.state == pb::SchoolResultState::InCountyReview as i32),
        "every school's results go back to county review: {results:?}"
    );
    // A returned batch is not in audit: nothing to return or certify until it is again.
    refused(
        city.return_batch(pb::ReturnBatchRequest {
            name: batch.clone(),
            review_round: String::new(),
            reason: "再退".into(),
        })
        .await,
        Code::FailedPrecondition,
    );
    let mut province = suite.assessment("province", Role::ProvinceOffice, "640000", None);
    refused(
        province
            .certify_batch(pb::CertifyBatchRequest {
                name: batch.clone(),
                review_round: String::new(),
                reason: "认定".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    // Approved again by the county, audited again, and certified by the province.
    let school = format!("{NINGXIA_COUNTY}0001");
    county
        .approve_school_results(pb::ApproveSchoolResultsRequest {
            name: format!("{batch}/schoolResults/{school}"),
            review_round: String::new(),
            reason: "复核通过".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        county
            .get_batch(pb::GetBatchRequest {
                name: batch.clone()
            })
            .await
            .unwrap()
            .into_inner()
            .state,
        pb::BatchState::ReadyForAudit as i32
    );
    city.begin_province_audit(pb::BeginProvinceAuditRequest {
        name: batch.clone(),
        review_round: "2026-区市抽检-2".into(),
        reason: String::new(),
    })
    .await
    .unwrap();
    let certified = province
        .certify_batch(pb::CertifyBatchRequest {
            name: batch.clone(),
            review_round: "2026-区市抽检-2".into(),
            reason: "抽检通过".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(certified.state, pb::BatchState::Certified as i32);
}

async fn a_ningxia_county_cannot_audit_or_certify_itself(backend: Backend) {
    let Some((suite, batch)) = ningxia_ready_for_audit(backend).await else {
        return;
    };
    let mut county = suite.assessment("county", Role::CountyOffice, NINGXIA_COUNTY, None);
    let before = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    refused(
        county
            .begin_province_audit(pb::BeginProvinceAuditRequest {
                name: batch.clone(),
                review_round: String::new(),
                reason: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    // The policy has a region and city audit (《宁夏测评实施办法》§五(一)4): the county does not
    // accept its own results.
    refused(
        county
            .certify_batch(pb::CertifyBatchRequest {
                name: batch.clone(),
                review_round: String::new(),
                reason: "自行认定".into(),
            })
            .await,
        Code::PermissionDenied,
    );
    refused(
        county
            .return_batch(pb::ReturnBatchRequest {
                name: batch.clone(),
                review_round: String::new(),
                reason: "自行退回".into(),
            })
            .await,
        Code::PermissionDenied,
    );
    // Another region's office may not audit it either.
    let mut beijing = suite.assessment("city", Role::ProvinceOffice, "110000", None);
    refused(
        beijing
            .begin_province_audit(pb::BeginProvinceAuditRequest {
                name: batch.clone(),
                review_round: String::new(),
                reason: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    let after = county
        .get_batch(pb::GetBatchRequest {
            name: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before);
    assert_eq!(after.state, pb::BatchState::ReadyForAudit as i32);
}

async fn a_sixian_county_certifies_only_when_every_participant_has_a_final_grade(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let certify = || pb::CertifyBatchRequest {
        name: year.batch.clone(),
        review_round: String::new(),
        reason: "县级验收".into(),
    };
    refused(
        year.county().certify_batch(certify()).await,
        Code::FailedPrecondition,
    );
    assert_eq!(year.batch().await.state, pb::BatchState::Open as i32);
    year.everyone_passes().await;
    year.submit_results().await;
    year.approve_results().await;
    assert_eq!(
        year.batch().await.state,
        pb::BatchState::ReadyForAudit as i32
    );
    refused(
        year.school_office(SCHOOL_A).certify_batch(certify()).await,
        Code::PermissionDenied,
    );
    // Sixian has no province audit: the county accepts (验收, 《安徽指导意见》§四(二)5).
    let certified = year
        .county()
        .certify_batch(certify())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(certified.state, pb::BatchState::Certified as i32);
    // One certificate per passed micro-competency: 3 teachers × 3 picks.
    assert_eq!(certified.last_certified_sequence, 9);
    refused(
        year.county().certify_batch(certify()).await,
        Code::FailedPrecondition,
    );
}

// ---------------------------------------------------------------------------------------------
// GetParticipant

async fn a_teacher_reads_their_own_participant_and_not_a_colleagues(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let get = |name: String| pb::GetParticipantRequest { name };
    let own = year
        .teacher(&year.a1, SCHOOL_A)
        .get_participant(get(year.participant(&year.a1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.teacher, format!("teachers/{}", year.a1));
    assert_eq!(own.school, format!("schools/{SCHOOL_A}"));
    assert_eq!(own.state, pb::ParticipantState::Enrolled as i32);
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .get_participant(get(year.participant(&year.a1)))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .get_participant(get(year.participant(&year.a1)))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county()
            .get_participant(get(year.participant("34132419850301999X")))
            .await,
        Code::NotFound,
    );
    refused_on_field(
        year.county()
            .get_participant(get(format!("teachers/{}", year.a1)))
            .await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// ListParticipants

async fn participants_are_listed_within_the_callers_school_and_never_to_a_teacher(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let list = |school: &str, state: pb::ParticipantState| pb::ListParticipantsRequest {
        parent: year.batch.clone(),
        school: school.into(),
        state: state as i32,
        ..Default::default()
    };
    let names = |r: pb::ListParticipantsResponse| -> Vec<String> {
        r.participants.into_iter().map(|p| p.teacher).collect()
    };
    let all = year
        .county()
        .list_participants(list("", pb::ParticipantState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 3);
    let of_a = year
        .school_office(SCHOOL_A)
        .list_participants(list("", pb::ParticipantState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    let mut expected = vec![
        format!("teachers/{}", year.a1),
        format!("teachers/{}", year.a2),
    ];
    expected.sort();
    let mut got = names(of_a);
    got.sort();
    assert_eq!(got, expected, "a school office sees its own teachers");
    let page = year
        .county()
        .list_participants(pb::ListParticipantsRequest {
            page_size: 2,
            ..list("", pb::ParticipantState::Unspecified)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.participants.len(), 2);
    assert!(!page.next_page_token.is_empty());
    refused(
        year.school_office(SCHOOL_A)
            .list_participants(list(
                &format!("schools/{SCHOOL_B}"),
                pb::ParticipantState::Unspecified,
            ))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .list_participants(list("", pb::ParticipantState::Unspecified))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .list_participants(list(
                &format!("schools/{SCHOOL_C}"),
                pb::ParticipantState::Unspecified,
            ))
            .await,
        "school",
    );
    let withdrawn = year
        .county()
        .list_participants(list("", pb::ParticipantState::Withdrawn))
        .await
        .unwrap()
        .into_inner();
    assert!(withdrawn.participants.is_empty());
}

// ---------------------------------------------------------------------------------------------
// EnrolParticipants

async fn a_late_arrival_is_enrolled_once_and_only_from_the_batchs_schools(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let late = year.suite.register_teacher(COUNTY, SCHOOL_A, 5).await;
    let elsewhere = year.suite.register_teacher(COUNTY, SCHOOL_C, 6).await;
    let enrol = |numbers: &[&str]| pb::EnrolParticipantsRequest {
        batch: year.batch.clone(),
        teachers: numbers.iter().map(|n| format!("teachers/{n}")).collect(),
    };
    refused(
        year.teacher(&late, SCHOOL_A)
            .enrol_participants(enrol(&[&late]))
            .await,
        Code::PermissionDenied,
    );
    // The roster shows school B's office no teacher of school A: to it, the number is one it
    // cannot find, named on its field exactly as an unknown number is.
    refused_on_field(
        year.school_office(SCHOOL_B)
            .enrol_participants(enrol(&[&late]))
            .await,
        "teachers[0]",
    );
    // The county sees the teacher of school C, which is not one of the batch's schools.
    let outside = refused_on_field(
        year.county().enrol_participants(enrol(&[&elsewhere])).await,
        "teachers[0]",
    );
    assert!(
        tica_server::errors::field_violations(&outside)
            .iter()
            .any(|(_, d)| d.contains("not in this batch")),
        "{outside:?}"
    );
    refused_on_field(
        year.school_office(SCHOOL_A)
            .enrol_participants(enrol(&[]))
            .await,
        "teachers",
    );
    assert_eq!(year.batch().await.participant_count, 3, "nothing enrolled");
    let enrolled = year
        .school_office(SCHOOL_A)
        .enrol_participants(enrol(&[&late]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(enrolled.participants.len(), 1);
    assert_eq!(enrolled.participants[0].name, year.participant(&late));
    let twice = refused_on_field(
        year.school_office(SCHOOL_A)
            .enrol_participants(enrol(&[&late]))
            .await,
        "teachers[0]",
    );
    assert!(
        tica_server::errors::field_violations(&twice)
            .iter()
            .any(|(_, d)| d.contains("enrolled already")),
        "{twice:?}"
    );
    assert_eq!(year.batch().await.participant_count, 4);
    // Only while OPEN.
    let mut county = year.county();
    let draft = county
        .create_batch(new_batch(COUNTY, 2027, &[SCHOOL_A]))
        .await
        .unwrap()
        .into_inner()
        .name;
    refused(
        county
            .enrol_participants(pb::EnrolParticipantsRequest {
                batch: draft,
                teachers: vec![format!("teachers/{late}")],
            })
            .await,
        Code::FailedPrecondition,
    );
}

/// EnrolParticipants checks each number and names the one it cannot find
/// (`teachers[i]`: `teachers/{number}: not found`), enrolling no one.
async fn an_unknown_teacher_number_is_refused_on_its_field_and_enrols_no_one(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let late = year.suite.register_teacher(COUNTY, SCHOOL_A, 5).await;
    let status = refused_on_field(
        year.county()
            .enrol_participants(pb::EnrolParticipantsRequest {
                batch: year.batch.clone(),
                teachers: vec![
                    format!("teachers/{late}"),
                    "teachers/34132419850301999X".into(),
                ],
            })
            .await,
        "teachers[1]",
    );
    assert!(
        status.message().contains("34132419850301999X"),
        "{status:?}"
    );
    assert_eq!(year.batch().await.participant_count, 3, "nothing enrolled");
}

// ---------------------------------------------------------------------------------------------
// WithdrawParticipant

async fn a_withdrawn_participant_says_why_and_is_withdrawn_once(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let withdraw = |teacher: &str, reason: &str| pb::WithdrawParticipantRequest {
        name: year.participant(teacher),
        reason: reason.into(),
    };
    let before = year.participant_record(&year.a2).await;
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .withdraw_participant(withdraw(&year.a2, "本人申请"))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .withdraw_participant(withdraw(&year.a2, "调出"))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.school_office(SCHOOL_A)
            .withdraw_participant(withdraw(&year.a2, "  "))
            .await,
        "reason",
    );
    assert_eq!(year.participant_record(&year.a2).await, before);
    let withdrawn = year
        .school_office(SCHOOL_A)
        .withdraw_participant(withdraw(&year.a2, "长期病假"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.state, pb::ParticipantState::Withdrawn as i32);
    assert_eq!(withdrawn.withdraw_reason, "长期病假");
    refused(
        year.school_office(SCHOOL_A)
            .withdraw_participant(withdraw(&year.a2, "再次"))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        year.participant_record(&year.a2).await.withdraw_reason,
        "长期病假"
    );
    let listed = year
        .county()
        .list_participants(pb::ListParticipantsRequest {
            parent: year.batch.clone(),
            state: pb::ParticipantState::Withdrawn as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.participants.len(), 1);
    // A withdrawn participant selects nothing.
    let status = refused(
        year.county()
            .submit_selection(pb::SubmitSelectionRequest {
                name: format!("{}/selection", year.participant(&year.a2)),
                micro_competencies: PICKS.iter().map(|c| c.to_string()).collect(),
                validate_only: false,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("withdrawn"), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// GetSelection

async fn a_selection_is_read_back_as_accepted_with_its_verdict(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let get = |teacher: &str| pb::GetSelectionRequest {
        name: format!("{}/selection", year.participant(teacher)),
    };
    let empty = year
        .teacher(&year.a1, SCHOOL_A)
        .get_selection(get(&year.a1))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.micro_competencies.is_empty());
    year.select(&year.a1).await;
    let selection = year
        .teacher(&year.a1, SCHOOL_A)
        .get_selection(get(&year.a1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        selection.name,
        format!("{}/selection", year.participant(&year.a1))
    );
    assert_eq!(selection.micro_competencies, PICKS);
    assert_eq!(selection.state, pb::SelectionState::Accepted as i32);
    let verdict = selection.verdict.unwrap();
    assert!(verdict.accepted);
    assert_eq!(verdict.total_credits, 22);
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .get_selection(get(&year.a1))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county().get_selection(get("34132419850301999X")).await,
        Code::NotFound,
    );
    refused_on_field(
        year.county()
            .get_selection(pb::GetSelectionRequest {
                name: year.participant(&year.a1),
            })
            .await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// CheckSelection

async fn a_check_gives_a_verdict_to_act_on_and_stores_nothing(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let check = |teacher: &str, codes: &[&str]| pb::CheckSelectionRequest {
        participant: year.participant(teacher),
        micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
    };
    let mut own = year.teacher(&year.a1, SCHOOL_A);
    // 《泗县实施意见》一: 合计不少于 20 学分; A1 4 + A5 5 = 9.
    let short = own
        .check_selection(check(&year.a1, &["A1", "A5"]))
        .await
        .unwrap()
        .into_inner();
    assert!(!short.accepted);
    assert_eq!(short.total_credits, 9);
    assert!(short.message.contains("20"), "{}", short.message);
    let enough = own
        .check_selection(check(&year.a1, &PICKS))
        .await
        .unwrap()
        .into_inner();
    assert!(enough.accepted);
    assert_eq!(enough.policy_version, "policies/341324/versions/1");
    assert!(
        year.participant_record(&year.a1)
            .await
            .selected_micro_competencies
            .is_empty(),
        "a check stores nothing"
    );
    refused(
        year.school_office(SCHOOL_B)
            .check_selection(check(&year.a1, &PICKS))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        own.check_selection(pb::CheckSelectionRequest {
            participant: format!("teachers/{}", year.a1),
            micro_competencies: vec!["B2".into()],
        })
        .await,
        "participant",
    );
}

// ---------------------------------------------------------------------------------------------
// SubmitSelection

async fn a_refused_selection_leaves_the_stored_one_as_it_was(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let submit = |codes: &[&str]| pb::SubmitSelectionRequest {
        name: format!("{}/selection", year.participant(&year.a1)),
        micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
        validate_only: false,
    };
    let mut own = year.teacher(&year.a1, SCHOOL_A);
    let stored = own
        .submit_selection(submit(&PICKS))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.micro_competencies, PICKS);
    assert_eq!(
        year.participant_record(&year.a1).await.submissions_expected,
        3
    );
    let before = year.participant_record(&year.a1).await;
    // Too few credits: the field violation carries the verdict's message.
    let status = refused_on_field(
        own.submit_selection(submit(&["A1"])).await,
        "micro_competencies",
    );
    let violations = tica_server::errors::field_violations(&status);
    assert!(
        violations.iter().any(|(_, d)| d.contains("20")),
        "{violations:?}"
    );
    refused(
        year.grader()
            .submit_selection(submit(&["A1", "A5", "C7"]))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .submit_selection(submit(&["A1", "A5", "C7"]))
            .await,
        Code::PermissionDenied,
    );
    // validate_only judges and stores nothing.
    let mut check = submit(&["B2", "C4", "C7"]);
    check.validate_only = true;
    own.submit_selection(check).await.unwrap();
    assert_eq!(year.participant_record(&year.a1).await, before);
}

async fn a_selection_after_the_deadline_or_dropping_a_handed_in_code_is_refused(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let submit = |teacher: &str, codes: &[&str]| pb::SubmitSelectionRequest {
        name: format!("{}/selection", year.participant(teacher)),
        micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
        validate_only: false,
    };
    year.select(&year.a1).await;
    support::hand_in(&mut year.county(), &year.participant(&year.a1), "B2").await;
    // B2 is handed in: a new selection without it is refused and B2 stays.
    refused_on_field(
        year.county()
            .submit_selection(submit(&year.a1, &["C1", "C4", "C7"]))
            .await,
        "micro_competencies",
    );
    assert_eq!(
        year.participant_record(&year.a1)
            .await
            .selected_micro_competencies,
        PICKS
    );
    // The county sets a selection deadline that has passed.
    year.county()
        .update_batch(pb::UpdateBatchRequest {
            batch: Some(pb::Batch {
                name: year.batch.clone(),
                selection_deadline: date(2026, 1, 31),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["selection_deadline".into()],
            }),
        })
        .await
        .unwrap();
    let late = refused(
        year.teacher(&year.b1, SCHOOL_B)
            .submit_selection(submit(&year.b1, &PICKS))
            .await,
        Code::FailedPrecondition,
    );
    assert!(late.message().contains("deadline"), "{late:?}");
    assert!(
        year.participant_record(&year.b1)
            .await
            .selected_micro_competencies
            .is_empty()
    );
}
