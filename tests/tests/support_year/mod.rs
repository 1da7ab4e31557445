//! A county's year driven over gRPC up to the point the per-RPC tests need it: every school's
//! results IN_COUNTY_REVIEW, the batch READY_FOR_AUDIT, or CERTIFIED. The steps are those of
//! `review_chain.rs` (《宁夏测评实施办法》§五(一)3–4), at four schools of three teachers, so
//! each test can start its own year.

#![allow(dead_code)] // each test file uses its part

use tica_auth::Role;
use tica_e2e::{AssessmentClient, Cluster};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_proto::tica::sampling::v1 as sp;
use tica_storage::Backend;

/// A sampling client that authenticates every call.
pub type SamplingClient = tica_client::Sampling;

pub const PROVINCE: &str = "340000";
pub const CITY: &str = "341300";
pub const COUNTY: &str = "341324";
/// A second county of the same city, with no batch of its own.
pub const OTHER_COUNTY: &str = "341323";
pub const YEAR: i32 = 2026;
pub const SCHOOLS: usize = 4;
pub const TEACHERS_PER_SCHOOL: usize = 3;
/// 5 + 8 + 9 = 22 credits ≥ Sixian's 20 (《泗县实施意见》§一).
pub const PICKS: [&str; 3] = ["B2", "C1", "C4"];
pub const SEED: &str = "07318552946601823357";

/// The school code of school `i` (1-based).
pub fn school(i: usize) -> String {
    format!("{COUNTY}{i:04}")
}

/// One county's year in a running suite.
pub struct Year {
    pub cluster: Cluster,
    /// Teacher numbers by school (index 0 is school 1).
    pub teachers: Vec<Vec<String>>,
    /// County-level assessors: the first teacher of schools 1, 2 and 3.
    pub county_assessors: Vec<String>,
    /// Province-level assessors: the second teacher of schools 3 and 4 (one of them is always
    /// from another school than the one an audit draws).
    pub province_assessors: Vec<String>,
    /// `batches/{county}-{year}`.
    pub batch: String,
}

/// CreateReviewRound for `level` and `kind` over `batches` (none: every batch awaiting audit).
pub fn new_round(
    level: sp::RoundLevel,
    kind: sp::RoundKind,
    batches: Vec<String>,
) -> sp::CreateReviewRoundRequest {
    sp::CreateReviewRoundRequest {
        review_round: Some(sp::ReviewRound {
            level: level as i32,
            kind: kind as i32,
            batches,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

impl Year {
    /// The suite with the year run up to every school's results IN_COUNTY_REVIEW, with county
    /// review at 50 % of schools and 50 % of their teachers, the province audit at 5 %/5 %,
    /// and visits (五(二)) at 50 % when `offline`.
    pub async fn in_county_review(backend: Backend, offline: bool) -> Option<Year> {
        Year::start(backend, offline, None).await
    }

    /// As [`Year::in_county_review`], with `rubric` in the county's grading rule (grades still
    /// given, not taken from the rubric total).
    pub async fn in_county_review_with_rubric(
        backend: Backend,
        rubric: pb::Rubric,
    ) -> Option<Year> {
        Year::start(backend, false, Some(rubric)).await
    }

    async fn start(backend: Backend, offline: bool, rubric: Option<pb::Rubric>) -> Option<Year> {
        let cluster = Cluster::start(backend).await?;
        let teachers = register_roster(&cluster).await;
        let mut county_assessors = Vec::new();
        for school_teachers in &teachers[..3] {
            county_assessors.push(
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
        let mut province_assessors = Vec::new();
        for school_teachers in &teachers[2..4] {
            province_assessors.push(
                cluster
                    .register_assessor(
                        (Role::ProvinceOffice, PROVINCE),
                        &school_teachers[1],
                        roster::AssessorLevel::Province,
                        &format!("jurisdictions/{PROVINCE}"),
                    )
                    .await,
            );
        }
        let mut county = cluster.assessment("county-office", Role::CountyOffice, COUNTY, None);
        set_review_rates(&mut county, 50, offline.then_some(50)).await;
        if let Some(rubric) = rubric {
            set_rubric(&mut county, rubric).await;
        }
        let batch = cluster
            .open_batch(COUNTY, YEAR, "泗县 2026 年能力提升工程2.0")
            .await
            .name;
        let year = Year {
            cluster,
            teachers,
            county_assessors,
            province_assessors,
            batch,
        };
        year.run_school_year().await;
        for s in 1..=SCHOOLS {
            year.submit_school(&school(s)).await;
        }
        Some(year)
    }

    /// The year with its county review passed: the batch READY_FOR_AUDIT.
    pub async fn ready_for_audit(backend: Backend) -> Option<Year> {
        let year = Year::in_county_review(backend, false).await?;
        let round = year.county_round().await.name;
        year.run_round_through(&round, common::Grade::Pass).await;
        let mut office = year.county_sampling();
        office
            .close_review_round(sp::CloseReviewRoundRequest {
                name: round,
                reason: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            year.batch_state().await,
            pb::BatchState::ReadyForAudit as i32
        );
        Some(year)
    }

    /// The year with its province audit passed: the batch CERTIFIED.
    pub async fn certified(backend: Backend) -> Option<Year> {
        let year = Year::ready_for_audit(backend).await?;
        let round = year.audit_round().await.name;
        year.run_round_through(&round, common::Grade::Pass).await;
        year.province_sampling()
            .close_review_round(sp::CloseReviewRoundRequest {
                name: round,
                reason: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(year.batch_state().await, pb::BatchState::Certified as i32);
        Some(year)
    }

    /// A sampling client for `subject` as `role` acting for `jurisdiction`.
    pub fn sampling(&self, subject: &str, role: Role, jurisdiction: &str) -> SamplingClient {
        tica_client::sampling(
            self.cluster.channel.clone(),
            &self.cluster.token_as(subject, role, jurisdiction, None),
        )
    }

    /// The county office's sampling client.
    pub fn county_sampling(&self) -> SamplingClient {
        self.sampling("county-office", Role::CountyOffice, COUNTY)
    }

    /// The province office's sampling client.
    pub fn province_sampling(&self) -> SamplingClient {
        self.sampling("province-office", Role::ProvinceOffice, PROVINCE)
    }

    /// The county office's assessment client.
    pub fn county_assessment(&self) -> AssessmentClient {
        self.cluster
            .assessment("county-office", Role::CountyOffice, COUNTY, None)
    }

    /// The batch's state.
    pub async fn batch_state(&self) -> i32 {
        self.county_assessment()
            .get_batch(pb::GetBatchRequest {
                name: self.batch.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .state
    }

    /// A school's result state.
    pub async fn school_state(&self, code: &str) -> i32 {
        self.county_assessment()
            .get_school_result(pb::GetSchoolResultRequest {
                name: format!("{}/schoolResults/{code}", self.batch),
            })
            .await
            .unwrap()
            .into_inner()
            .state
    }

    /// A county-review online round over the batch, in DRAFT.
    pub async fn county_round(&self) -> sp::ReviewRound {
        self.county_sampling()
            .create_review_round(new_round(
                sp::RoundLevel::CountyReview,
                sp::RoundKind::OnlineRegrade,
                vec![self.batch.clone()],
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// A province-audit online round over every batch awaiting audit, in DRAFT.
    pub async fn audit_round(&self) -> sp::ReviewRound {
        self.province_sampling()
            .create_review_round(new_round(
                sp::RoundLevel::ProvinceAudit,
                sp::RoundKind::OnlineRegrade,
                Vec::new(),
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The office running `round` (the county's for `-county-`, else the province's).
    pub fn office_of(&self, round: &str) -> SamplingClient {
        if round.contains("-county") {
            self.county_sampling()
        } else {
            self.province_sampling()
        }
    }

    /// Freezes `round`'s population and draws it with [`SEED`]; the drawn round.
    pub async fn freeze_and_draw(&self, round: &str) -> sp::ReviewRound {
        let mut office = self.office_of(round);
        office
            .freeze_population(sp::FreezePopulationRequest { name: round.into() })
            .await
            .unwrap();
        office
            .draw_sample(sp::DrawSampleRequest {
                name: round.into(),
                seed: SEED.into(),
                seed_note: "县工程办会议，20 枚十面骰".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Freezes, draws and assigns `round` to every eligible reviewer: IN_REVIEW.
    pub async fn drawn_and_assigned(&self, round: &str) -> sp::ReviewRound {
        self.freeze_and_draw(round).await;
        self.office_of(round)
            .assign_reviewers(sp::AssignReviewersRequest {
                round: round.into(),
                assessors: Vec::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .review_round
            .unwrap()
    }

    /// The drawn items of `round` at `stage`, as its office reads them.
    pub async fn drawn(&self, round: &str, stage: sp::Stage) -> Vec<sp::DrawnItem> {
        self.office_of(round)
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

    /// The jurisdiction an assessor's tokens act for: the county's or the province's.
    pub fn assessor_jurisdiction(&self, id: &str) -> &'static str {
        if self.province_assessors.iter().any(|p| p == id) {
            PROVINCE
        } else {
            COUNTY
        }
    }

    /// An assessor's sampling client.
    pub fn assessor_sampling(&self, id: &str) -> SamplingClient {
        self.sampling(id, Role::Assessor, self.assessor_jurisdiction(id))
    }

    /// Every pending re-grade of `round`, submitted as `grade` by its reviewer; how many.
    pub async fn regrade_all(&self, round: &str, grade: common::Grade) -> usize {
        let mut reviewers: Vec<String> = self
            .drawn(round, sp::Stage::Teacher)
            .await
            .into_iter()
            .map(|i| i.assessor.trim_start_matches("assessors/").to_owned())
            .collect();
        reviewers.sort();
        reviewers.dedup();
        let offline = round.contains("offline");
        let mut done = 0;
        for reviewer in reviewers {
            let mut me = self.assessor_sampling(&reviewer);
            let pending = me
                .list_regrades(sp::ListRegradesRequest {
                    parent: round.into(),
                    state: sp::RegradeState::Pending as i32,
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .regrades;
            for r in pending {
                me.submit_regrade(sp::SubmitRegradeRequest {
                    name: r.name,
                    grade: grade as i32,
                    comment: "复核".into(),
                    visit_date: offline.then_some(tica_proto::google::r#type::Date {
                        year: YEAR,
                        month: 11,
                        day: 20,
                    }),
                    visited_lesson: if offline {
                        "四年级数学".into()
                    } else {
                        String::new()
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
                done += 1;
            }
        }
        done
    }

    /// Decides every drawn unit of `round` by its figures.
    pub async fn decide_all(&self, round: &str) -> Vec<sp::ReviewUnit> {
        let mut office = self.office_of(round);
        let units = office
            .list_review_units(sp::ListReviewUnitsRequest {
                parent: round.into(),
                drawn_only: true,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .review_units;
        let mut decided = Vec::new();
        for unit in units {
            decided.push(
                office
                    .decide_review_unit(sp::DecideReviewUnitRequest {
                        name: unit.name,
                        reason: "复核一致率".into(),
                    })
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
        decided
    }

    /// Draws, assigns, re-grades every item as `grade` and decides every drawn unit.
    pub async fn run_round_through(&self, round: &str, grade: common::Grade) {
        self.drawn_and_assigned(round).await;
        self.regrade_all(round, grade).await;
        self.decide_all(round).await;
    }

    /// Every teacher selects, uploads a plan and submits; assessor A grades all but their own
    /// work, which B grades — all PASS.
    async fn run_school_year(&self) {
        let (a, b) = (&self.county_assessors[0], &self.county_assessors[1]);
        let graders = [(a.as_str(), self.teachers[0][0].as_str()), (b.as_str(), "")];
        run_school_year(&self.cluster, &self.batch, &self.teachers, graders).await;
    }

    async fn submit_school(&self, code: &str) {
        let mut office = self
            .cluster
            .assessment("office", Role::SchoolAdmin, COUNTY, Some(code));
        if self.school_state(code).await == pb::SchoolResultState::InCountyReview as i32 {
            return;
        }
        office
            .submit_school_results(pb::SubmitSchoolResultsRequest {
                name: format!("{}/schoolResults/{code}", self.batch),
                reason: "校本考核完成".into(),
            })
            .await
            .unwrap();
    }
}

/// The birth date of the teacher registered `sequence`-th (1-based).
fn birth_of(sequence: u16) -> time::Date {
    time::Date::from_calendar_date(
        1980 + (sequence % 20) as i32,
        time::Month::May,
        1 + (sequence % 28) as u8,
    )
    .unwrap()
}

/// The name and full ID number of the teacher at `school_index` (0-based) and position `j`,
/// as registered.
pub fn identity(school_index: usize, j: usize) -> (String, String) {
    let sequence = (school_index * TEACHERS_PER_SCHOOL + j + 1) as u16;
    (
        format!("教师{sequence}"),
        tica_domain::ResidentId::generate(COUNTY, birth_of(sequence), sequence)
            .as_str()
            .to_owned(),
    )
}

/// The province, city, two counties, and `SCHOOLS` schools of three teachers in the first;
/// the teacher numbers by school.
async fn register_roster(cluster: &Cluster) -> Vec<Vec<String>> {
    cluster
        .register_jurisdictions(&[
            (PROVINCE, "安徽省", ""),
            (CITY, "宿州市", PROVINCE),
            (COUNTY, "泗县", CITY),
            (OTHER_COUNTY, "灵璧县", CITY),
        ])
        .await;
    let mut teachers = Vec::new();
    let mut sequence = 0u16;
    for s in 1..=SCHOOLS {
        cluster
            .register_school(COUNTY, &school(s), &format!("泗县第{s}小学"))
            .await;
        let mut numbers = Vec::new();
        for _ in 0..TEACHERS_PER_SCHOOL {
            sequence += 1;
            let birth = birth_of(sequence);
            numbers.push(
                cluster
                    .register_teacher(
                        COUNTY,
                        &school(s),
                        &format!("教师{sequence}"),
                        "数学",
                        birth,
                        sequence,
                    )
                    .await,
            );
        }
        teachers.push(numbers);
    }
    teachers
}

/// Puts `rubric` in the county's grading rule.
async fn set_rubric(county: &mut AssessmentClient, rubric: pb::Rubric) {
    update_grading(county, "案例评分量规", |grading| {
        grading.rubric = Some(rubric);
        grading.grade_from_rubric = false;
    })
    .await;
}

/// Changes the county's grading rule as it is in force, with `change_note`.
pub async fn update_grading(
    county: &mut AssessmentClient,
    change_note: &str,
    change: impl FnOnce(&mut pb::GradingRule),
) {
    let mut grading = county
        .get_effective_policy(pb::GetEffectivePolicyRequest {
            jurisdiction: format!("jurisdictions/{COUNTY}"),
        })
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap()
        .grading
        .unwrap();
    change(&mut grading);
    county
        .update_policy(pb::UpdatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                rules: Some(pb::PolicyRules {
                    grading: Some(grading),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["rules.grading".into()],
            }),
            change_note: change_note.into(),
            validate_only: false,
        })
        .await
        .unwrap();
}

/// Every teacher selects, uploads a plan and submits; `grader` grades all but their own work,
/// which `second` grades.
pub async fn run_school_year(
    cluster: &Cluster,
    batch: &str,
    teachers: &[Vec<String>],
    graders: [(&str, &str); 2],
) {
    let plan = {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend((0..20_000).map(|i| (i % 251) as u8));
        bytes
    };
    for (s, numbers) in teachers.iter().enumerate() {
        for n in numbers {
            let participant = format!("{batch}/participants/{n}");
            let mut own = cluster.assessment(n, Role::Teacher, COUNTY, Some(&school(s + 1)));
            own.submit_selection(pb::SubmitSelectionRequest {
                name: format!("{participant}/selection"),
                micro_competencies: PICKS.iter().map(|c| c.to_string()).collect(),
                validate_only: false,
            })
            .await
            .unwrap();
            tica_e2e::upload_evidence(
                &mut own,
                pb::UploadEvidenceRequest {
                    parent: participant.clone(),
                    payload: Some(pb::upload_evidence_request::Payload::Evidence(
                        pb::Evidence {
                            micro_competencies: PICKS.iter().map(|c| c.to_string()).collect(),
                            kind: pb::EvidenceKind::DesignPlan as i32,
                            file_name: "应用设计方案.pdf".into(),
                            content_type: "application/pdf".into(),
                            size_bytes: plan.len() as i64,
                            description: "三个微能力的设计方案".into(),
                            ..Default::default()
                        },
                    )),
                },
                &plan,
                None,
            )
            .await
            .unwrap();
            for code in PICKS {
                own.submit_submission(pb::SubmitSubmissionRequest {
                    name: format!("{participant}/submissions/{code}"),
                })
                .await
                .unwrap();
            }
        }
    }
    // A training provider reports 30 online and 30 practice hours for everyone.
    let mut provider = cluster.assessment("anhui-online", Role::TrainingProvider, PROVINCE, None);
    let records = teachers
        .iter()
        .flatten()
        .flat_map(|n| {
            [
                (pb::HoursKind::OnlineStudy, "online"),
                (pb::HoursKind::Practice, "practice"),
            ]
            .map(|(kind, what)| tica_e2e::hours(n, kind, what))
        })
        .collect();
    provider
        .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
            parent: "providers/anhui-online".into(),
            records,
        })
        .await
        .unwrap();
    for numbers in teachers {
        for n in numbers {
            let (id, _) = if graders[0].1 == n {
                graders[1]
            } else {
                graders[0]
            };
            for code in PICKS {
                grade(
                    cluster,
                    id,
                    &format!("{batch}/participants/{n}"),
                    code,
                    common::Grade::Pass,
                )
                .await;
            }
        }
    }
}

/// `assessor` grades one submission of `participant` as `g`.
pub async fn grade(
    cluster: &Cluster,
    assessor: &str,
    participant: &str,
    code: &str,
    g: common::Grade,
) {
    let mut client = cluster.assessment(assessor, Role::Assessor, COUNTY, None);
    tica_testkit::fixtures::grade(&mut client, assessor, participant, code, g)
        .await
        .unwrap();
}

/// The county's policy with the review chain of 《宁夏测评实施办法》§五(一)3–4: county review at
/// `county_rate` % of schools and of their teachers (15 % in the Ningxia document; 50 % lets a
/// county of four schools draw two), province audit 5 %/5 %, 80 % agreement (the Sixian preset
/// checks every school); with `offline`, classroom visits at that rate (§五(二)).
pub async fn set_review_rates(
    county: &mut AssessmentClient,
    county_rate: i64,
    offline: Option<i64>,
) {
    let ratio = |n, d| {
        Some(common::Ratio {
            numerator: n,
            denominator: d,
        })
    };
    let stage = |rate: i64, enabled: bool| {
        Some(pb::ReviewStageRule {
            enabled,
            school_rate: ratio(rate, 100),
            teacher_rate: ratio(rate, 100),
            minimum_per_stratum: 1,
            source: "县工程办 2026-03 会议（参照宁夏测评实施办法 五(一)3、4）".into(),
        })
    };
    county
        .update_policy(pb::UpdatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                rules: Some(pb::PolicyRules {
                    sampling: Some(pb::SamplingRule {
                        county_review: stage(county_rate, true),
                        province_audit: stage(5, true),
                        offline_check: stage(offline.unwrap_or(5), offline.is_some()),
                        agreement_threshold: ratio(80, 100),
                        agreement_criterion: common::AgreementCriterion::PointEstimate as i32,
                        agreement_comparison: common::ThresholdComparison::AtLeast as i32,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["rules.sampling".into()],
            }),
            change_note: format!("县复核抽 {county_rate}%，省抽测 5%"),
            validate_only: false,
        })
        .await
        .unwrap();
}
