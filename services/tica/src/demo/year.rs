//! The year, month by month, as 《泗县实施意见》附件3 (泗县 2022, 整校推进工作安排) schedules it — every step a
//! call to the services' gRPC APIs, made by whoever makes it in life (the province and county
//! offices, the school offices, the teachers, a training provider, the assessors).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{Context, anyhow, bail, ensure};
use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_client::files::Kind;
use tica_domain::sampling::TicketSequence;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::common::v1::Grade;
use tica_proto::tica::roster::v1 as roster;
use tica_proto::tica::sampling::v1 as sp;

use super::api::{self, AssessmentClient, SamplingClient, Target, each};
use super::model::{Model, Policy, credits};
use super::story::Story;
use super::{Certificates, Options, Outcome, Verification};

/// The assessment year the model plays.
pub const YEAR: i32 = 2022;

/// The run's shared state.
pub(super) struct Year<'a> {
    pub target: &'a Target,
    pub model: &'a Model,
    pub options: &'a Options,
    pub story: Story,
    pub outcome: Outcome,
    pub(super) calls: AtomicU64,
    /// Evidence name per teacher (index).
    evidence: Vec<String>,
    /// Assessor id per teacher index, for those registered (school level).
    school_assessor: HashMap<usize, String>,
    /// County-level assessor ids, parallel to the model's training team.
    county_assessors: Vec<String>,
    pub(super) batch: String,
}

/// Who re-grades a round's draw and how.
pub(super) struct Review {
    /// Assessor ids (each re-grades what was assigned to them).
    pub reviewers: Vec<String>,
    /// The jurisdiction (bare code) their tokens act for.
    pub at: String,
    /// Now and then one re-grade differs (in units large enough to absorb it).
    pub noise: bool,
    /// A visit to a lesson (OFFLINE_CHECK): the re-grade is the teacher's, with a date and
    /// the lesson seen.
    pub visit: bool,
    /// The reason given with each decision.
    pub reason: &'static str,
}

fn participant(batch: &str, number: &str) -> String {
    format!("{batch}/participants/{number}")
}

impl<'a> Year<'a> {
    pub fn new(target: &'a Target, model: &'a Model, options: &'a Options) -> Year<'a> {
        Year {
            target,
            model,
            options,
            story: Story::new(options.quiet),
            outcome: Outcome::default(),
            calls: AtomicU64::new(0),
            evidence: vec![String::new(); model.teachers.len()],
            school_assessor: HashMap::new(),
            county_assessors: Vec::new(),
            batch: String::new(),
        }
    }

    fn county(&self) -> &str {
        &self.model.county.0
    }

    /// Counts `n` calls made by the demo.
    pub(super) fn calls(&self, n: u64) {
        self.calls.fetch_add(n, Ordering::Relaxed);
    }

    /// Ends a phase with its calls.
    pub(super) fn step(&mut self, name: &'static str, what: impl AsRef<str>) {
        let calls = self.calls.swap(0, Ordering::Relaxed);
        self.story.step(name, calls, what);
    }

    pub(super) fn out(&self, relative: &str) -> Option<PathBuf> {
        self.options.out.as_ref().map(|o| o.join(relative))
    }

    pub(super) fn county_office(&self) -> AssessmentClient {
        self.target
            .assessment("county-office", Role::CountyOffice, self.county(), None)
    }

    fn sampling_office(&self) -> SamplingClient {
        self.target
            .sampling("county-office", Role::CountyOffice, self.county())
    }

    fn teacher_client(&self, t: usize) -> AssessmentClient {
        let teacher = &self.model.teachers[t];
        let school = &self.model.schools[teacher.school].code;
        self.target
            .assessment(&teacher.number, Role::Teacher, self.county(), Some(school))
    }

    fn school_office(&self, s: usize) -> AssessmentClient {
        let code = &self.model.schools[s].code;
        self.target.assessment(
            &format!("office-{code}"),
            Role::SchoolAdmin,
            self.county(),
            Some(code),
        )
    }

    // ---------------------------------------------------------------------------------------
    // 三月: the roster

    /// Jurisdictions, the school and teacher files, teams, assessors.
    pub async fn roster(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        self.story.month("三月");
        let mut province =
            self.target
                .roster("province-office", Role::ProvinceOffice, &m.province.0);
        for (code, name, parent) in [
            (&m.province.0, &m.province.1, None),
            (&m.city.0, &m.city.1, Some(&m.province.0)),
            (&m.county.0, &m.county.1, Some(&m.city.0)),
        ] {
            province
                .create_jurisdiction(roster::CreateJurisdictionRequest {
                    jurisdiction: Some(roster::Jurisdiction {
                        name: format!("jurisdictions/{code}"),
                        display_name: name.clone(),
                        parent: parent
                            .map(|p| format!("jurisdictions/{p}"))
                            .unwrap_or_default(),
                        ..Default::default()
                    }),
                })
                .await
                .with_context(|| format!("registering {name}"))?;
        }
        self.calls(3);
        let schools_csv = m.roster.schools_csv();
        let teachers_csv = m.roster.teachers_csv();
        if let Some(dir) = self.out("roster") {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("schools.csv"), &schools_csv)?;
            std::fs::write(dir.join("teachers.csv"), &teachers_csv)?;
        }
        let mut office = self
            .target
            .roster("county-office", Role::CountyOffice, self.county());
        let parent = format!("jurisdictions/{}", self.county());
        for (kind, bytes, file) in [
            (Kind::Schools, schools_csv, "schools.csv"),
            (Kind::Teachers, teachers_csv, "teachers.csv"),
        ] {
            let result = tica_client::files::import(
                &mut office,
                kind,
                &parent,
                common::ImportOptions {
                    file_name: file.into(),
                    ..Default::default()
                },
                bytes,
                |_| {},
            )
            .await
            .with_context(|| format!("importing {file}"))?;
            ensure!(
                result.errors.is_empty(),
                "{file}: {} rows refused, first: {:?}",
                result.errors.len(),
                result.errors.first()
            );
        }
        self.calls(2);
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for s in &m.roster.schools {
            *kinds.entry(kind_label(s.kind)).or_default() += 1;
        }
        let rural = m.roster.schools.iter().filter(|s| s.rural).count();
        self.outcome.schools = m.schools.len();
        self.outcome.teachers = m.teachers.len();
        let kinds_text = kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join("、");
        self.step(
            "roster",
            format!(
                "{} 级行政区划；{} 所学校（{kinds_text}；农村 {rural}），{} 名教师：两个文件导入",
                3,
                m.schools.len(),
                m.teachers.len()
            ),
        );
        Ok(())
    }

    /// School ICT teams, the county training team, assessors (created, certified, registered).
    pub async fn teams_and_assessors(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        let county = self.county().to_owned();
        let office = self
            .target
            .roster("county-office", Role::CountyOffice, &county);
        let limit = self.options.concurrency;
        // 学校信息化管理团队: the principal leads (《泗县实施意见》§二 1: 校长是第一责任人), 3–5 people
        // (附件2 §三(一)2).
        let small = m.schools.iter().filter(|s| s.teachers.len() < 3).count();
        let teams = each(
            m.schools.iter().filter(|s| s.teachers.len() >= 3),
            limit,
            |s| {
                let mut office = office.clone();
                let members: Vec<roster::TeamMember> = s
                    .teachers
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(k, &t)| roster::TeamMember {
                        member: Some(roster::team_member::Member::Teacher(format!(
                            "teachers/{}",
                            m.teachers[t].number
                        ))),
                        role: if k == 0 {
                            roster::TeamMemberRole::Leader
                        } else {
                            roster::TeamMemberRole::Member
                        } as i32,
                        duty: if k == 0 {
                            "校长（首席信息官）"
                        } else {
                            "成员"
                        }
                        .into(),
                    })
                    .collect();
                let request = roster::CreateTeamRequest {
                    team: Some(roster::Team {
                        kind: roster::TeamKind::SchoolIctManagement as i32,
                        owner: format!("schools/{}", s.code),
                        display_name: format!("{}信息化管理团队", s.name),
                        members,
                        ..Default::default()
                    }),
                };
                async move {
                    office
                        .create_team(request)
                        .await
                        .with_context(|| format!("the ICT team of {}", s.code))?;
                    Ok(())
                }
            },
        )
        .await?
        .len();
        self.calls(teams as u64);
        let team_members: Vec<roster::TeamMember> = m
            .training_team
            .iter()
            .enumerate()
            .map(|(k, &t)| roster::TeamMember {
                member: Some(roster::team_member::Member::Teacher(format!(
                    "teachers/{}",
                    m.teachers[t].number
                ))),
                role: if k == 0 {
                    roster::TeamMemberRole::Leader
                } else {
                    roster::TeamMemberRole::Member
                } as i32,
                duty: match k {
                    0 => "负责人",
                    1 => "联络人",
                    _ => "成员",
                }
                .into(),
            })
            .collect();
        office
            .clone()
            .create_team(roster::CreateTeamRequest {
                team: Some(roster::Team {
                    kind: roster::TeamKind::Training as i32,
                    owner: format!("jurisdictions/{county}"),
                    display_name: format!("{}能力提升工程2.0培训团队", m.county.1),
                    members: team_members,
                    ..Default::default()
                }),
            })
            .await
            .context("the county training team")?;
        self.calls(1);
        let issued_by = match m.policy {
            Policy::Sixian => format!("{}教育体育局", m.county.1),
            Policy::Ningxia => format!("{}教育局", m.county.1),
        };
        // One school-level assessor per school; the training team at county level.
        let mut wanted: Vec<(usize, roster::AssessorLevel, String)> = m
            .schools
            .iter()
            .flat_map(|s| {
                s.assessor.into_iter().chain(s.second).map(|a| {
                    (
                        a,
                        roster::AssessorLevel::School,
                        format!("schools/{}", s.code),
                    )
                })
            })
            .collect();
        wanted.extend(m.training_team.iter().map(|&t| {
            (
                t,
                roster::AssessorLevel::County,
                format!("jurisdictions/{county}"),
            )
        }));
        let registered = each(wanted, limit, |(t, level, at)| {
            let mut office = office.clone();
            let issued_by = issued_by.clone();
            async move {
                let id = api::register_assessor(
                    &mut office,
                    &m.teachers[t].number,
                    level,
                    &at,
                    &issued_by,
                )
                .await
                .with_context(|| format!("registering the assessor at {at}"))?;
                Ok((t, level, id))
            }
        })
        .await?;
        self.calls(3 * registered.len() as u64);
        let mut county_ids: HashMap<usize, String> = HashMap::new();
        for (t, level, id) in registered {
            if level == roster::AssessorLevel::School {
                self.school_assessor.insert(t, id);
            } else {
                county_ids.insert(t, id);
            }
        }
        self.county_assessors = m
            .training_team
            .iter()
            .map(|t| county_ids[t].clone())
            .collect();
        self.step(
            "teams",
            format!(
                "{teams} 个学校信息化管理团队（校长牵头{}）；县培训团队 {} 人\n\
                 assessors: {} school-level, {} county-level (created, certified, registered)",
                if small > 0 {
                    format!("；{small} 所不足 3 人的学校未组队")
                } else {
                    String::new()
                },
                m.training_team.len(),
                self.school_assessor.len(),
                self.county_assessors.len()
            ),
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 四月–五月: batch, selections, hours

    /// Opens the county's batch (pinning its effective policy) and enrols every teacher.
    pub async fn open_batch(&mut self) -> anyhow::Result<()> {
        self.story.month("四月");
        let mut office = self.county_office();
        let county = format!("jurisdictions/{}", self.county());
        let effective = office
            .get_effective_policy(pb::GetEffectivePolicyRequest {
                jurisdiction: county.clone(),
            })
            .await
            .context("GetEffectivePolicy")?
            .into_inner();
        let batch = office
            .create_batch(pb::CreateBatchRequest {
                batch: Some(pb::Batch {
                    county: county.clone(),
                    year: YEAR,
                    display_name: format!("{} {YEAR} 年能力提升工程2.0", self.model.county.1),
                    // The county's acceptance date, which its certificates print (not the
                    // day the demo runs).
                    certificate_date: Some(tica_proto::google::r#type::Date {
                        year: YEAR,
                        month: 12,
                        day: 30,
                    }),
                    ..Default::default()
                }),
            })
            .await
            .context("CreateBatch")?
            .into_inner();
        let batch = office
            .open_batch(pb::OpenBatchRequest {
                name: batch.name,
                open_date: Some(tica_proto::google::r#type::Date {
                    year: YEAR,
                    month: 4,
                    day: 15,
                }),
            })
            .await
            .context("OpenBatch")?
            .into_inner();
        self.calls(3);
        ensure!(
            batch.participant_count as usize == self.model.teachers.len(),
            "the batch enrolled {} of {} teachers",
            batch.participant_count,
            self.model.teachers.len()
        );
        let policy = effective.policy_versions.join(" ← ");
        self.batch = batch.name.clone();
        self.outcome.batch = batch.name.clone();
        self.step(
            "batch",
            format!(
                "{} opened 2022-04-15: {} participants; policy pinned ({})",
                batch.name,
                batch.participant_count,
                if policy.is_empty() {
                    "effective"
                } else {
                    &policy
                }
            ),
        );
        Ok(())
    }

    /// Every teacher selects; some first pick too few credits and are refused, then correct it.
    pub async fn selections(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        let batch = self.batch.clone();
        // One teacher checks before submitting: the verdict says what is missing.
        if let Some(t) = m.teachers.iter().position(|t| t.first_try.is_some()) {
            let first = m.teachers[t].first_try.clone().unwrap_or_default();
            let verdict = self
                .teacher_client(t)
                .check_selection(pb::CheckSelectionRequest {
                    participant: participant(&batch, &m.teachers[t].number),
                    micro_competencies: first.iter().map(|c| c.to_string()).collect(),
                })
                .await
                .context("CheckSelection")?
                .into_inner();
            self.calls(1);
            ensure!(
                !verdict.accepted,
                "a pick of {} credits was accepted",
                credits(&first)
            );
            self.outcome.refusal_example = verdict.message;
        }
        let refused = AtomicUsize::new(0);
        let submitted = each(0..m.teachers.len(), self.options.concurrency, |t| {
            let mut client = self.teacher_client(t);
            let teacher = &m.teachers[t];
            let name = format!("{}/selection", participant(&batch, &teacher.number));
            let refused = &refused;
            let calls = &self.calls;
            async move {
                if let Some(first) = &teacher.first_try {
                    let answer = client
                        .submit_selection(pb::SubmitSelectionRequest {
                            name: name.clone(),
                            micro_competencies: first.iter().map(|c| c.to_string()).collect(),
                            validate_only: false,
                        })
                        .await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    match answer {
                        Err(status) if status.code() == tonic::Code::InvalidArgument => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => bail!(
                            "teacher {}: a selection of {} credits was not refused: {other:?}",
                            teacher.number,
                            credits(first)
                        ),
                    }
                }
                let selection = client
                    .submit_selection(pb::SubmitSelectionRequest {
                        name,
                        micro_competencies: teacher.picks.iter().map(|c| c.to_string()).collect(),
                        validate_only: false,
                    })
                    .await
                    .with_context(|| format!("the selection of teacher {}", teacher.number))?
                    .into_inner();
                calls.fetch_add(1, Ordering::Relaxed);
                ensure!(
                    selection.verdict.is_some_and(|v| v.accepted),
                    "teacher {}'s selection was not accepted",
                    teacher.number
                );
                Ok(teacher.picks.len())
            }
        })
        .await?;
        let codes: usize = submitted.iter().sum();
        let refused = refused.into_inner();
        self.outcome.refused_selections = refused;
        let credits_total: u32 = m.teachers.iter().map(|t| credits(&t.picks)).sum();
        let n = m.teachers.len().max(1) as f64;
        self.step(
            "selection",
            format!(
                "{} teachers picked (avg {:.1} codes{}); {refused} refused at first:\n“{}” — corrected",
                m.teachers.len(),
                codes as f64 / n,
                // Credits are Anhui's measure (合计不少于 20 学分); Ningxia counts codes by case.
                match m.policy {
                    Policy::Sixian => format!(", {:.1} credits", f64::from(credits_total) / n),
                    Policy::Ningxia => String::new(),
                },
                self.outcome.refusal_example
            ),
        );
        Ok(())
    }

    /// A training provider pushes 30 online hours for everyone (and retries one push), then
    /// the practice hours (30, or 20 for the few who fall short).
    pub async fn hours(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        // A provider the province's offices would pick (issue 21: Ningxia's year used a 宿州
        // one).
        let provider = match m.policy {
            Policy::Sixian => "suzhou-online",
            Policy::Ningxia => "yinchuan-online",
        };
        let client = self
            .target
            .assessment(provider, Role::TrainingProvider, &m.province.0, None);
        let record = |t: usize, kind: pb::HoursKind, what: &str, centihours: i64| pb::HoursRecord {
            name: format!(
                "providers/{provider}/hoursRecords/{}-{what}",
                m.teachers[t].number
            ),
            teacher: format!("teachers/{}", m.teachers[t].number),
            kind: kind as i32,
            course_id: format!("{YEAR}-{what}"),
            course_title: match kind {
                pb::HoursKind::OnlineStudy => "信息技术应用能力提升工程2.0 线上课程",
                _ => "校本研修实践",
            }
            .into(),
            centihours,
            revision: 1,
            complete_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            ..Default::default()
        };
        let push = |records: Vec<pb::HoursRecord>| {
            let mut client = client.clone();
            async move {
                let answer = client
                    .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
                        parent: format!("providers/{provider}"),
                        records,
                    })
                    .await
                    .context("BatchPushHoursRecords")?
                    .into_inner();
                Ok(answer.results)
            }
        };
        let everyone: Vec<usize> = (0..m.teachers.len()).collect();
        let full = m.policy.centihours_each();
        let hours = full / 100;
        let online: Vec<Vec<pb::HoursRecord>> = everyone
            .chunks(1000)
            .map(|c| {
                c.iter()
                    .map(|&t| record(t, pb::HoursKind::OnlineStudy, "online", full))
                    .collect()
            })
            .collect();
        let retry = online.first().cloned().unwrap_or_default();
        let results = each(online, self.options.concurrency, push).await?;
        self.calls(results.len() as u64);
        let created = results
            .iter()
            .flatten()
            .filter(|r| r.outcome == pb::PushOutcome::Created as i32)
            .count();
        ensure!(
            created == m.teachers.len(),
            "{created} of {} online records created",
            m.teachers.len()
        );
        let again = push(retry).await?;
        self.calls(1);
        let unchanged = again
            .iter()
            .filter(|r| r.outcome == pb::PushOutcome::Unchanged as i32)
            .count();
        self.outcome.repush = (unchanged, again.len());
        self.step(
            "hours",
            format!(
                "providers/{provider} pushed {} × {hours} h online; a retried push: {unchanged} of {} unchanged",
                m.teachers.len(),
                again.len()
            ),
        );
        self.story.month("五月");
        let practice: Vec<Vec<pb::HoursRecord>> = everyone
            .chunks(1000)
            .map(|c| {
                c.iter()
                    .map(|&t| {
                        record(
                            t,
                            pb::HoursKind::Practice,
                            "practice",
                            m.teachers[t].practice_centihours,
                        )
                    })
                    .collect()
            })
            .collect();
        let results = each(practice, self.options.concurrency, push).await?;
        self.calls(results.len() as u64);
        let short = m
            .teachers
            .iter()
            .filter(|t| t.practice_centihours < t.practice_required)
            .count();
        self.outcome.short_of_hours = short;
        self.step(
            "hours",
            format!(
                "practice hours pushed; {short} teachers short ({} h of {hours})",
                hours - 10
            ),
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 六月–九月: evidence and submissions

    /// Each teacher uploads one design plan covering their picks and hands in each pick.
    pub async fn evidence(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        self.story.month("六–九月");
        let batch = self.batch.clone();
        let bytes = AtomicU64::new(0);
        let uploaded = each(0..m.teachers.len(), self.options.concurrency, |t| {
            let mut client = self.teacher_client(t);
            let teacher = &m.teachers[t];
            let parent = participant(&batch, &teacher.number);
            let file = plan_pdf(t, 12_000 + (t * 7919) % 28_000);
            let bytes = &bytes;
            async move {
                bytes.fetch_add(file.len() as u64, Ordering::Relaxed);
                let evidence = api::upload_evidence(
                    &mut client,
                    &parent,
                    pb::Evidence {
                        micro_competencies: teacher.picks.iter().map(|c| c.to_string()).collect(),
                        kind: pb::EvidenceKind::DesignPlan as i32,
                        file_name: "应用设计方案.pdf".into(),
                        content_type: "application/pdf".into(),
                        size_bytes: file.len() as i64,
                        description: format!("{} 的设计方案", teacher.picks.join("、")),
                        ..Default::default()
                    },
                    &file,
                )
                .await
                .with_context(|| format!("teacher {}'s upload", teacher.number))?;
                for code in &teacher.handed {
                    client
                        .submit_submission(pb::SubmitSubmissionRequest {
                            name: format!("{parent}/submissions/{code}"),
                        })
                        .await
                        .with_context(|| format!("teacher {} handing in {code}", teacher.number))?;
                }
                Ok((t, evidence.name))
            }
        })
        .await?;
        let submissions: usize = m.teachers.iter().map(|t| t.handed.len()).sum();
        self.calls((uploaded.len() + submissions) as u64);
        for (t, name) in uploaded {
            self.evidence[t] = name;
        }
        self.outcome.submissions = submissions;
        self.step(
            "evidence",
            format!(
                "{} files uploaded ({:.1} MB); {submissions} submissions handed in",
                m.teachers.len(),
                bytes.into_inner() as f64 / 1e6
            ),
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // 十月: school grading

    /// Grades one teacher's submissions as `grader` (`kind`: the disputed school's first,
    /// too-kind grading); only the submissions whose grade differs from `previous`, if given.
    async fn grade_teacher(
        &self,
        t: usize,
        grader: &str,
        school: Option<&str>,
        kind: bool,
    ) -> anyhow::Result<u64> {
        let all = &self.model.teachers[t].handed;
        self.grade_pieces(t, grader, school, kind, all).await
    }

    /// Grades the pieces `only` of teacher `t` (see [`Year::grade_teacher`]).
    pub(super) async fn grade_pieces(
        &self,
        t: usize,
        grader: &str,
        school: Option<&str>,
        kind: bool,
        only: &[&str],
    ) -> anyhow::Result<u64> {
        let m = self.model;
        let teacher = &m.teachers[t];
        let mut client = self
            .target
            .assessment(grader, Role::Assessor, self.county(), school);
        let parent = participant(&self.batch, &teacher.number);
        for (k, code) in teacher.handed.iter().enumerate() {
            if !only.contains(code) {
                continue;
            }
            // (The model never gives the disputed school's teachers invalid evidence, so the
            // kind first grading there has nothing to overlook.)
            let invalid = teacher.invalid_evidence && k == 0;
            let grade = if invalid {
                Grade::Fail
            } else {
                m.school_grade(t, k, kind)
            };
            client
                .grade_submission(pb::GradeSubmissionRequest {
                    name: format!("{parent}/submissions/{code}"),
                    assessor: format!("assessors/{grader}"),
                    grade: grade as i32,
                    rubric_scores: Vec::new(),
                    invalid_evidence: if invalid {
                        vec![common::InvalidEvidence {
                            evidence: self.evidence[t].clone(),
                            reason: common::InvalidEvidenceReason::TeacherNotShown as i32,
                            explanation: "视频中未出现教师本人".into(),
                        }]
                    } else {
                        Vec::new()
                    },
                    comment: match grade {
                        Grade::Excellent => "优秀",
                        Grade::Fail => "未达到要求",
                        _ => "符合要求",
                    }
                    .into(),
                })
                .await
                .with_context(|| format!("grading teacher {}'s {code}", teacher.number))?;
        }
        Ok(only.len() as u64)
    }

    /// The grader of teacher `t` in school `s` when the school has two assessors.
    fn school_grader(&self, s: usize, t: usize) -> Option<&String> {
        let school = &self.model.schools[s];
        let (first, second) = (school.assessor?, school.second?);
        Some(&self.school_assessor[if t == first { &second } else { &first }])
    }

    /// A returned school whose last grade sends its results on (Ningxia): the pieces graded
    /// wrongly are returned to their teachers first, handed in again and graded to the truth;
    /// the grading that completes the school sends the results (a re-grade alone completes
    /// nothing, and the school would send them itself). Calls made.
    async fn regrade_returned(&self, s: usize) -> anyhow::Result<u64> {
        let m = self.model;
        let school = &m.schools[s];
        let mut wrong: Vec<(usize, Vec<&'static str>)> = Vec::new();
        for &t in &school.teachers {
            let teacher = &m.teachers[t];
            let codes: Vec<&'static str> = (0..teacher.handed.len())
                .filter(|&k| m.school_grade(t, k, true) != m.school_grade(t, k, false))
                .map(|k| teacher.handed[k])
                .collect();
            if !codes.is_empty() {
                wrong.push((t, codes));
            }
        }
        let mut office = self.school_office(s);
        let mut calls = 0;
        for (t, codes) in &wrong {
            let parent = participant(&self.batch, &m.teachers[*t].number);
            for code in codes {
                office
                    .return_submission(pb::ReturnSubmissionRequest {
                        name: format!("{parent}/submissions/{code}"),
                        reason: "按县级复核意见重新评审".into(),
                    })
                    .await
                    .with_context(|| format!("returning {parent}'s {code}"))?;
                calls += 1;
            }
        }
        for (t, codes) in &wrong {
            let mut client = self.teacher_client(*t);
            let parent = participant(&self.batch, &m.teachers[*t].number);
            for code in codes {
                client
                    .submit_submission(pb::SubmitSubmissionRequest {
                        name: format!("{parent}/submissions/{code}"),
                    })
                    .await
                    .with_context(|| format!("handing in {parent}'s {code} again"))?;
                calls += 1;
            }
        }
        for (t, codes) in &wrong {
            let grader = self
                .school_grader(s, *t)
                .ok_or_else(|| anyhow!("school {} has no two assessors", school.code))?;
            calls += self
                .grade_pieces(*t, grader, Some(&school.code), false, codes)
                .await?;
        }
        Ok(calls)
    }

    /// Grades every teacher of school `s`: its assessor grades the others, a county assessor
    /// grades the assessor (或委托县级培训团队, 《泗县实施意见》附件2 §四(二)4; the
    /// Sixian preset allows it).
    /// Who grades teacher `t` of school `s`, as [`Year::grade_school`] chooses: the assessor's
    /// id and the school their token acts for (none for a county assessor).
    pub(super) fn grader_of(&self, s: usize, t: usize) -> (String, Option<String>) {
        let school = &self.model.schools[s];
        if let (Some(first), Some(second)) = (school.assessor, school.second) {
            let grader = &self.school_assessor[if t == first { &second } else { &first }];
            return (grader.clone(), Some(school.code.clone()));
        }
        match school.assessor {
            Some(a) if a != t => (self.school_assessor[&a].clone(), Some(school.code.clone())),
            _ => {
                let n = self.county_assessors.len();
                let grader = if self.model.training_team[s % n] == t {
                    &self.county_assessors[(s + 1) % n]
                } else {
                    &self.county_assessors[s % n]
                };
                (grader.clone(), None)
            }
        }
    }

    async fn grade_school(&self, s: usize, kind: bool) -> anyhow::Result<u64> {
        let m = self.model;
        let school = &m.schools[s];
        let mut calls = 0;
        if let (Some(first), Some(second)) = (school.assessor, school.second) {
            // Two school assessors: the first grades everyone else, the second grades them.
            for &t in &school.teachers {
                let grader = &self.school_assessor[if t == first { &second } else { &first }];
                calls += self
                    .grade_teacher(t, grader, Some(&school.code), kind)
                    .await?;
            }
            return Ok(calls);
        }
        let county_grader = &self.county_assessors[s % self.county_assessors.len()];
        for &t in &school.teachers {
            let own = match school.assessor {
                Some(a) if a != t => Some(&self.school_assessor[&a]),
                _ => None,
            };
            calls += match own {
                Some(grader) => {
                    self.grade_teacher(t, grader, Some(&school.code), kind)
                        .await?
                }
                None => {
                    // Never their own work: another county assessor if this one is the teacher.
                    let grader = if self.model.training_team[s % self.county_assessors.len()] == t {
                        &self.county_assessors[(s + 1) % self.county_assessors.len()]
                    } else {
                        county_grader
                    };
                    self.grade_teacher(t, grader, None, kind).await?
                }
            };
        }
        Ok(calls)
    }

    /// Every school grades its teachers and sends its results to the county.
    pub async fn grading(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        self.story.month("十月");
        let graded = each(0..m.schools.len(), self.options.concurrency, |s| {
            self.grade_school(s, true)
        })
        .await?;
        self.calls(graded.iter().sum());
        let sent = each(0..m.schools.len(), self.options.concurrency, |s| {
            self.send_results(s, "校本考核完成")
        })
        .await?;
        let submitted = sent.iter().filter(|s| **s).count();
        self.outcome.schools_submitted_by_hand += submitted;
        let progress = self.progress().await?;
        let invalid = m.teachers.iter().filter(|t| t.invalid_evidence).count();
        self.outcome.invalid_evidence = invalid;
        self.outcome.failed_teachers = progress.failed;
        let excellent_subs: usize = m
            .teachers
            .iter()
            .enumerate()
            .map(|(t, teacher)| {
                (0..teacher.handed.len())
                    .filter(|&k| m.school_grade(t, k, true) == Grade::Excellent)
                    .count()
            })
            .sum();
        let appraisal = self
            .school_office(0)
            .get_principal_appraisal(pb::GetPrincipalAppraisalRequest {
                school_result: format!("{}/schoolResults/{}", self.batch, m.schools[0].code),
            })
            .await
            .context("GetPrincipalAppraisal")?
            .into_inner();
        self.calls(1);
        self.step(
            "grading",
            format!(
                "{} submissions graded ({excellent_subs} 优秀); teachers: {} 优秀, {} 合格, {} 不合格\n\
                 ({invalid} invalid evidence: 教师未出镜; {} short of hours); {} schools sent to county review{}\n\
                 {}: 教师合格率 {:.1} %, 微能力通过率 {:.1} % (校长考核)",
                m.teachers.iter().map(|t| t.handed.len()).sum::<usize>(),
                progress.excellent,
                progress.passed - progress.excellent,
                progress.failed,
                self.outcome.short_of_hours,
                sent.len(),
                if self.auto_submit() {
                    format!(" (by their last grade: 自动进入县级复核; {submitted} by hand)")
                } else {
                    String::new()
                },
                m.schools[0].name,
                f64::from(appraisal.teacher_pass_permille) / 10.0,
                f64::from(appraisal.micro_competency_pass_permille) / 10.0,
            ),
        );
        Ok(())
    }

    /// Whether the school's last grade sends its results to the county (Ningxia).
    fn auto_submit(&self) -> bool {
        self.model.policy == Policy::Ningxia
    }

    /// Sends school `s`'s results to county review: by hand where the policy wants it; where
    /// the last grade sends them, only if its state shows they did not move. Whether the
    /// school office called SubmitSchoolResults.
    async fn send_results(&self, s: usize, reason: &str) -> anyhow::Result<bool> {
        let code = &self.model.schools[s].code;
        let name = format!("{}/schoolResults/{code}", self.batch);
        let mut office = self.school_office(s);
        if self.auto_submit() {
            let result = office
                .get_school_result(pb::GetSchoolResultRequest { name: name.clone() })
                .await
                .with_context(|| format!("school {code}'s results"))?
                .into_inner();
            self.calls(1);
            if result.state == pb::SchoolResultState::InCountyReview as i32 {
                return Ok(false);
            }
        }
        office
            .submit_school_results(pb::SubmitSchoolResultsRequest {
                name,
                reason: reason.into(),
            })
            .await
            .with_context(|| format!("school {code} sending its results"))?;
        self.calls(1);
        Ok(true)
    }

    /// The county review's reviewers: the training team, at county level.
    fn county_reviewers(&self) -> Review {
        Review {
            reviewers: self.county_assessors.clone(),
            at: self.county().to_owned(),
            noise: true,
            visit: false,
            reason: "县级专家抽验",
        }
    }

    /// The county's progress now.
    async fn progress(&self) -> anyhow::Result<pb::ProgressRow> {
        self.calls(1);
        Ok(self
            .county_office()
            .get_progress(pb::GetProgressRequest {
                unit: format!("jurisdictions/{}", self.county()),
                year: YEAR,
            })
            .await
            .context("GetProgress")?
            .into_inner())
    }

    // ---------------------------------------------------------------------------------------
    // 十一月: the county's spot check

    /// Round 1 with the public seed; the disputed school is sent back, re-grades, and round 2
    /// (a fresh seed, skipping what round 1 drew) passes it.
    pub async fn county_review(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        self.story.month("十一月");
        let mut office = self.sampling_office();
        let round = office
            .create_review_round(new_round(self.batch.clone()))
            .await
            .context("CreateReviewRound")?
            .into_inner()
            .name;
        let frozen = office
            .freeze_population(sp::FreezePopulationRequest {
                name: round.clone(),
            })
            .await
            .context("FreezePopulation")?
            .into_inner();
        let population = export_round(
            &mut office,
            &round,
            common::FileFormat::Csv,
            sp::RoundExportPart::Population,
        )
        .await?;
        ensure!(
            hex::encode(Sha256::digest(&population)) == frozen.population_sha256,
            "the exported population does not hash to the published SHA-256"
        );
        let note = "2022-11-08 县工程办专家抽验会，20 枚十面骰（演示数据：由 --seed 生成）";
        let drawn = office
            .draw_sample(sp::DrawSampleRequest {
                name: round.clone(),
                seed: m.seed.clone(),
                seed_note: note.into(),
            })
            .await
            .context("DrawSample")?
            .into_inner();
        self.calls(4);
        let redraw = self
            .redraw_offline(&mut office, &round, &population)
            .await?;
        self.outcome.redraw_matches = redraw;
        if let Some(dir) = self.out("sampling") {
            std::fs::create_dir_all(&dir)?;
            let stem = round.trim_start_matches("reviewRounds/");
            std::fs::write(dir.join(format!("{stem}-population.csv")), &population)?;
            std::fs::write(
                dir.join(format!("{stem}-population.csv.sha256")),
                format!("{}  {stem}-population.csv\n", frozen.population_sha256),
            )?;
            std::fs::write(
                dir.join("redraw.sh"),
                format!(
                    "#!/bin/sh\n# Re-run the county's school draw from the published population and seed.\n\
                     grep ',school,' {stem}-population.csv | (echo id; cut -d, -f1) > schools.csv\n\
                     tica sampling draw --seed {} --population schools.csv --count {}\n",
                    m.seed, drawn.schools_drawn
                ),
            )?;
        }
        let (compared, agreed, sent_back) = self
            .review_round(&mut office, &round, &self.county_reviewers())
            .await?;
        self.outcome.rounds.push(round.clone());
        self.outcome.first_round_sent_back = sent_back.clone();
        let disputed = &m.schools[m.disputed];
        ensure!(
            sent_back == vec![disputed.code.clone()],
            "round 1 sent back {sent_back:?}, expected only {}",
            disputed.code
        );
        let first_unit = self.unit(&mut office, &round, &disputed.code).await?;
        self.step(
            "county review",
            format!(
                "population {} schools / {} teachers, SHA-256 {}… published before the seed;\n\
                 seed {} (20 dice); drawn {} schools, {} teachers; offline re-draw: {}\n\
                 {}\n\
                 {compared} blind re-grades by {} reviewers; agreement {:.1} %;\n\
                 {} {:.1} % < 80 % → sent back",
                frozen.population_schools,
                frozen.population_teachers,
                &frozen.population_sha256[..12],
                m.seed,
                drawn.schools_drawn,
                drawn.teachers_drawn,
                if redraw {
                    "same sample ✓"
                } else {
                    "DIFFERENT ✗"
                },
                plan_rates(&drawn),
                self.county_assessors.len(),
                100.0 * agreed as f64 / compared.max(1) as f64,
                disputed.name,
                f64::from(first_unit.agreement_permille) / 10.0,
            ),
        );
        // The school grades again, as it should have, and sends its results once more.
        let regraded = if self.auto_submit() {
            self.regrade_returned(m.disputed).await?
        } else {
            self.grade_school(m.disputed, false).await?
        };
        self.calls(regraded);
        let by_hand = self
            .send_results(m.disputed, "按县级复核意见重新评审")
            .await
            .context("re-submitting the returned school's results")?;
        if by_hand {
            self.outcome.schools_submitted_by_hand += 1;
        }
        let round2 = office
            .create_review_round(new_round(self.batch.clone()))
            .await
            .context("CreateReviewRound (round 2)")?
            .into_inner();
        ensure!(round2.extends == round, "round 2 does not extend round 1");
        office
            .freeze_population(sp::FreezePopulationRequest {
                name: round2.name.clone(),
            })
            .await
            .context("FreezePopulation (round 2)")?;
        // A fresh public seed: under round 1's, the school sent back would have known which
        // of its teachers come next (issue 18 §4).
        let seed2: String = m.seed.chars().rev().chain("2".chars()).collect();
        let drawn2 = office
            .draw_sample(sp::DrawSampleRequest {
                name: round2.name.clone(),
                seed: seed2.clone(),
                seed_note: "复核第2轮会议（演示数据：由 --seed 生成）".into(),
            })
            .await
            .context("DrawSample (round 2)")?
            .into_inner();
        self.calls(3);
        ensure!(
            drawn2.seed == seed2 && drawn2.draw_commitment.is_some(),
            "round 2 was not drawn under its own seed after its commitment"
        );
        let again = Review {
            reason: "退回重评后复核",
            ..self.county_reviewers()
        };
        let (compared2, agreed2, sent_back2) =
            self.review_round(&mut office, &round2.name, &again).await?;
        ensure!(sent_back2.is_empty(), "round 2 sent back {sent_back2:?}");
        self.outcome.rounds.push(round2.name.clone());
        for r in [&round, &round2.name] {
            if let Some(dir) = self.out("sampling") {
                let book = export_round(
                    &mut office,
                    r,
                    common::FileFormat::Xlsx,
                    sp::RoundExportPart::Unspecified,
                )
                .await?;
                std::fs::write(
                    dir.join(format!("{}.xlsx", r.trim_start_matches("reviewRounds/"))),
                    book,
                )?;
                self.calls(1);
            }
        }
        self.step(
            "re-review",
            format!(
                "{} re-graded {regraded} submissions; its results went back to the county {};\n\
                 {} (its own seed, logged after its draw commitment): {} teachers, {agreed2}/{compared2} agree → passed ✓",
                disputed.name,
                if by_hand {
                    "(sent by the school office)"
                } else {
                    "(by the last grade)"
                },
                round2.name,
                drawn2.teachers_drawn
            ),
        );
        Ok(())
    }

    /// Re-runs the school draw and each drawn school's teacher draw from the population file
    /// and the seed alone; whether they name the same sample as the server.
    async fn redraw_offline(
        &self,
        office: &mut SamplingClient,
        round: &str,
        population: &[u8],
    ) -> anyhow::Result<bool> {
        let text = std::str::from_utf8(population).context("the population file is UTF-8")?;
        let mut schools = Vec::new();
        let mut teachers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for line in text.lines().skip(1) {
            let mut cols = line.split(',');
            let (Some(id), Some(stage), Some(stratum)) = (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            if stage == "school" {
                schools.push(id);
            } else {
                teachers.entry(stratum).or_default().push(id);
            }
        }
        let drawn_schools = drawn_items(office, round, sp::Stage::School).await?;
        let drawn_teachers = drawn_items(office, round, sp::Stage::Teacher).await?;
        self.calls(2);
        let mut by_position = drawn_schools.clone();
        by_position.sort_by_key(|i| i.position);
        let offline: Vec<String> = TicketSequence::new(&self.model.seed, schools.iter().copied())
            .first(by_position.len())
            .iter()
            .map(|t| t.id.clone())
            .collect();
        let server: Vec<String> = by_position.iter().map(|i| i.sampler_id.clone()).collect();
        if offline != server {
            return Ok(false);
        }
        let mut per_school: BTreeMap<String, Vec<&sp::DrawnItem>> = BTreeMap::new();
        for item in &drawn_teachers {
            let school = item.school.trim_start_matches("schools/").to_owned();
            per_school.entry(school).or_default().push(item);
        }
        for (school, mut items) in per_school {
            items.sort_by_key(|i| i.position);
            let ids = teachers
                .get(format!("school-{school}").as_str())
                .cloned()
                .unwrap_or_default();
            let offline: Vec<String> = TicketSequence::new(&self.model.seed, ids.iter().copied())
                .first(items.len())
                .iter()
                .map(|t| t.id.clone())
                .collect();
            let server: Vec<String> = items.iter().map(|i| i.sampler_id.clone()).collect();
            if offline != server {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Assigns, re-grades blind (reviewers grade the truth; now and then one differs in a unit
    /// large enough to absorb it), decides every drawn unit and closes `round`; (compared,
    /// agreed, school codes sent back).
    pub(super) async fn review_round(
        &self,
        office: &mut SamplingClient,
        round: &str,
        review: &Review,
    ) -> anyhow::Result<(i64, i64, Vec<String>)> {
        let m = self.model;
        office
            .assign_reviewers(sp::AssignReviewersRequest {
                round: round.to_owned(),
                assessors: Vec::new(),
            })
            .await
            .context("AssignReviewers")?;
        self.calls(1);
        // Which re-grade (if any) differs in each school: the first teacher item's first code,
        // in one school of three with at least six re-grades.
        let items = drawn_items(office, round, sp::Stage::Teacher).await?;
        let number_of = |item: &str| {
            item.rsplit('/')
                .next()
                .and_then(|s| s.strip_prefix("teacher-"))
                .map(str::to_owned)
        };
        let index: HashMap<&str, usize> = m
            .teachers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.number.as_str(), i))
            .collect();
        let mut per_school: BTreeMap<String, Vec<&sp::DrawnItem>> = BTreeMap::new();
        for item in &items {
            per_school
                .entry(item.school.clone())
                .or_default()
                .push(item);
        }
        let mut differs = std::collections::HashSet::new();
        for (school, items) in &per_school {
            let total: i64 = items.iter().map(|i| i64::from(i.regrades_total)).sum();
            let code = school.trim_start_matches("schools/");
            let lucky = code.bytes().map(u64::from).sum::<u64>() % 3 == 0;
            if review.noise && code != m.schools[m.disputed].code && total >= 6 && lucky {
                let item = items.iter().min_by_key(|i| &i.name).expect("non-empty");
                if let Some(t) = number_of(&item.name).and_then(|n| index.get(n.as_str()).copied())
                {
                    differs.insert(format!("{}/regrades/{}", item.name, m.teachers[t].picks[0]));
                }
            }
        }
        let reviewers = review.reviewers.clone();
        let at = review.at.clone();
        let visit = review.visit;
        let done = each(reviewers, self.options.concurrency, |reviewer| {
            let mut me = self.target.sampling(&reviewer, Role::Assessor, &at);
            let differs = &differs;
            let index = &index;
            let calls = &self.calls;
            async move {
                let mut inbox = Vec::new();
                let mut page_token = String::new();
                loop {
                    let page = me
                        .list_regrades(sp::ListRegradesRequest {
                            parent: "reviewRounds/-".into(),
                            state: sp::RegradeState::Pending as i32,
                            page_size: 500,
                            page_token: page_token.clone(),
                            ..Default::default()
                        })
                        .await
                        .context("ListRegrades")?
                        .into_inner();
                    calls.fetch_add(1, Ordering::Relaxed);
                    inbox.extend(page.regrades);
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    page_token = page.next_page_token;
                }
                let mut agreed = 0i64;
                for r in &inbox {
                    let (item, code) = r
                        .name
                        .rsplit_once("/regrades/")
                        .ok_or_else(|| anyhow!("a re-grade named {}", r.name))?;
                    let t = number_of(item)
                        .and_then(|n| index.get(n.as_str()).copied())
                        .ok_or_else(|| anyhow!("a re-grade of an unknown teacher: {}", r.name))?;
                    let truth = if visit && code == "visit" {
                        m.teachers[t].overall()
                    } else {
                        m.teachers[t]
                            .truth_of(code)
                            .ok_or_else(|| anyhow!("a re-grade of an unpicked code: {}", r.name))?
                    };
                    let grade = if differs.contains(&r.name) {
                        match truth {
                            Grade::Excellent => Grade::Pass,
                            _ => Grade::Excellent,
                        }
                    } else {
                        truth
                    };
                    let done = me
                        .submit_regrade(sp::SubmitRegradeRequest {
                            name: r.name.clone(),
                            grade: grade as i32,
                            comment: if visit { "推门听课" } else { "复核" }.into(),
                            visit_date: visit.then_some(tica_proto::google::r#type::Date {
                                year: YEAR,
                                month: 12,
                                day: 6,
                            }),
                            visited_lesson: if visit {
                                "信息技术支持的课堂教学（推门听课）".into()
                            } else {
                                String::new()
                            },
                            ..Default::default()
                        })
                        .await
                        .with_context(|| format!("re-grading {}", r.name))?
                        .into_inner();
                    calls.fetch_add(1, Ordering::Relaxed);
                    agreed += i64::from(done.agrees);
                }
                Ok((inbox.len() as i64, agreed))
            }
        })
        .await?;
        let compared: i64 = done.iter().map(|d| d.0).sum();
        let agreed: i64 = done.iter().map(|d| d.1).sum();
        // Decisions one at a time (each may move a school's results).
        let units = review_units(office, round).await?;
        let mut sent_back = Vec::new();
        for unit in units {
            let decided = office
                .decide_review_unit(sp::DecideReviewUnitRequest {
                    name: unit.name.clone(),
                    reason: review.reason.into(),
                })
                .await
                .with_context(|| format!("deciding {}", unit.name))?
                .into_inner();
            self.calls(1);
            if decided.outcome == sp::UnitOutcome::SentBack as i32 {
                sent_back.push(
                    decided
                        .unit
                        .trim_start_matches("schools/")
                        .trim_start_matches("jurisdictions/")
                        .to_owned(),
                );
            }
        }
        office
            .close_review_round(sp::CloseReviewRoundRequest {
                name: round.to_owned(),
                reason: String::new(),
            })
            .await
            .context("CloseReviewRound")?;
        self.calls(1);
        Ok((compared, agreed, sent_back))
    }

    async fn unit(
        &self,
        office: &mut SamplingClient,
        round: &str,
        school: &str,
    ) -> anyhow::Result<sp::ReviewUnit> {
        self.calls(1);
        Ok(office
            .get_review_unit(sp::GetReviewUnitRequest {
                name: format!("{round}/units/{school}"),
            })
            .await
            .context("GetReviewUnit")?
            .into_inner())
    }

    // ---------------------------------------------------------------------------------------
    // 十二月: certification, certificates, verification

    /// The county certifies its batch (Sixian: 县级验收, no province audit).
    pub async fn certify(&mut self) -> anyhow::Result<()> {
        self.story.month("十二月");
        let mut office = self.county_office();
        let batch = office
            .certify_batch(pb::CertifyBatchRequest {
                name: self.batch.clone(),
                review_round: String::new(),
                reason: "县级验收".into(),
            })
            .await
            .context("CertifyBatch")?
            .into_inner();
        self.calls(1);
        ensure!(
            batch.state == pb::BatchState::Certified as i32,
            "the batch is not certified"
        );
        self.outcome.certified = true;
        self.count_passed().await
    }

    /// The teachers who passed, and the certificates the model expects for them: one per
    /// micro-competency (Sixian: 《泗县实施意见》附件2 §四(三)3; a teacher with a failed piece fails) or
    /// one level certificate each (Ningxia).
    pub(super) async fn count_passed(&mut self) -> anyhow::Result<()> {
        let progress = self.progress().await?;
        self.outcome.passed_teachers = progress.passed;
        // One certificate per micro-competency of every teacher who passed (all their picks
        // pass: a teacher with a failed piece fails, as the preset grades).
        let policy = self.model.policy;
        self.outcome.expected_certificates = self
            .model
            .teachers
            .iter()
            .filter(|t| t.passes())
            .map(|t| match policy {
                Policy::Sixian => t.picks.len() as i64,
                Policy::Ningxia => 1,
            })
            .sum();
        Ok(())
    }

    /// Issues the certificates (and issues again: nothing twice), keeps a few, revokes one,
    /// verifies four ways.
    pub async fn certificates(&mut self) -> anyhow::Result<()> {
        let county = self.county().to_owned();
        let mut office =
            self.target
                .certificates("county-office", Role::CountyOffice, &county, None);
        self.issue_and_verify(&mut office, "县级验收").await
    }

    /// Issues the batch's certificates as `office` (and again: nothing twice), then keeps,
    /// revokes and verifies ([`Year::verify`]); `certified_by` names who certified.
    pub(super) async fn issue_and_verify(
        &mut self,
        office: &mut api::CertificateClient,
        certified_by: &str,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let run = api::issue(office, &self.batch).await?;
        let seconds = started.elapsed().as_secs_f64();
        ensure!(
            run.state == cpb::IssuanceRunState::Succeeded as i32,
            "the issuance run ended {:?}: {}",
            run.state,
            run.error
        );
        let again = api::issue(office, &self.batch).await?;
        self.calls(4);
        self.outcome.certificates_issued = run.certificates_issued;
        self.outcome.second_run_issued = again.certificates_issued;
        self.step(
            "certificates",
            format!(
                "batch certified ({certified_by}); {} {}certificates issued ({:.0}/s), a second run: {} new",
                run.certificates_issued,
                if self.model.policy == Policy::Ningxia { "level " } else { "" },
                run.certificates_issued as f64 / seconds.max(1e-3),
                again.certificates_issued
            ),
        );
        self.verify(office).await
    }

    async fn verify(&mut self, office: &mut api::CertificateClient) -> anyhow::Result<()> {
        use cpb::verify_request::Subject;
        let county = self.county().to_owned();
        // A dozen certificates of different people to keep; all of them with --certificates all.
        let mut kept = Vec::new();
        let mut page_token = String::new();
        let all = self.options.certificates == Certificates::All;
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = office
                .list_certificates(cpb::ListCertificatesRequest {
                    parent: format!("jurisdictions/{county}"),
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .context("ListCertificates")?
                .into_inner();
            self.calls(1);
            if all {
                kept.extend(page.certificates);
            } else {
                // One per school, until a dozen.
                kept.extend(
                    page.certificates
                        .into_iter()
                        .filter(|c| seen.insert(c.school.clone())),
                );
                kept.truncate(12);
            }
            if (!all && kept.len() >= 12) || page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        ensure!(kept.len() >= 2, "fewer than two certificates to show");
        let dir = self.out("certificates");
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        let pdfs = each(kept.iter().cloned(), self.options.concurrency, |c| {
            let mut office = office.clone();
            let dir = dir.clone();
            async move {
                let pdf = api::download(&mut office, &c.name).await?;
                if let Some(dir) = dir {
                    let file = format!(
                        "{}-{}.pdf",
                        c.number,
                        c.facts
                            .as_ref()
                            .map(|f| f.micro_competency.as_str())
                            .filter(|code| !code.is_empty())
                            .unwrap_or("level")
                    );
                    std::fs::write(dir.join(sanitize(&file)), &pdf)?;
                }
                Ok((c.name, pdf))
            }
        })
        .await?;
        self.calls(pdfs.len() as u64);
        let pdf_of: HashMap<String, Vec<u8>> = pdfs.into_iter().collect();
        let (valid, revoked) = (&kept[0], &kept[1]);
        office
            .revoke_certificate(cpb::RevokeCertificateRequest {
                name: revoked.name.clone(),
                reason: cpb::RevocationReason::IssuedInError as i32,
                explanation: "演示：颁发有误".into(),
                ..Default::default()
            })
            .await
            .context("RevokeCertificate")?;
        self.calls(1);
        let mut public = self.target.public_certificates();
        let ask = |subject: Subject| {
            let mut public = public.clone();
            async move {
                Ok::<_, anyhow::Error>(
                    public
                        .verify(cpb::VerifyRequest {
                            subject: Some(subject),
                        })
                        .await
                        .context("Verify")?
                        .into_inner(),
                )
            }
        };
        let by_qr = ask(Subject::QrText(valid.qr_text.clone())).await?;
        let by_pdf = ask(Subject::Pdf(pdf_of[&valid.name].clone())).await?;
        let of_revoked = ask(Subject::QrText(revoked.qr_text.clone())).await?;
        let forged_text = forge(valid)?;
        let forged = ask(Subject::QrText(forged_text.clone())).await?;
        let _ = &mut public;
        self.calls(4);
        let page = api::http_get(
            self.target.http_base(),
            &format!("/c/{}", revoked.name.trim_start_matches("certificates/")),
        )
        .await?;
        let page_says_revoked = page.contains("已撤销");
        self.outcome.revoked_page_says_revoked = page_says_revoked;
        // The page a phone opens from the forged code checks its fragment and says 无法验证
        // (its script posts the fragment; this is that post).
        let (forged_url, forged_fragment) = forged_text
            .split_once('#')
            .ok_or_else(|| anyhow!("a forged QR text without a payload"))?;
        let forged_id = forged_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let forged_page = api::http_post(
            self.target.http_base(),
            &format!("/c/{forged_id}/qr"),
            "text/plain; charset=utf-8",
            forged_fragment.as_bytes(),
        )
        .await?;
        let forged_page_says_not_genuine = forged_page.contains("无法验证");
        self.outcome.forged_page_says_not_genuine = forged_page_says_not_genuine;
        let verdicts = [
            ("QR", &by_qr, cpb::Verdict::Valid),
            ("PDF", &by_pdf, cpb::Verdict::Valid),
            ("revoked", &of_revoked, cpb::Verdict::Revoked),
            ("forged QR", &forged, cpb::Verdict::NotGenuine),
        ];
        let mut line = Vec::new();
        for (how, answer, expected) in verdicts {
            let ok = answer.verdict == expected as i32;
            self.outcome.verifications.push(Verification {
                how: how.into(),
                verdict: answer.verdict,
                failure: answer.failure,
                expected: expected as i32,
            });
            line.push(format!(
                "{} {} ({how})",
                answer.message.split_whitespace().next().unwrap_or("?"),
                if ok { "✓" } else { "✗" }
            ));
        }
        if let Some(path) = self.out("verification-urls.txt") {
            let mut text = String::from("# URL\texpected verdict\twho (synthetic demo data)\n");
            for c in &kept {
                let expected = if c.name == revoked.name {
                    "已撤销 REVOKED"
                } else {
                    "有效 VALID"
                };
                // The whole QR text: the page checks the signed fragment it is opened with.
                text.push_str(&format!(
                    "{}\t{expected}\t{} {}\n",
                    c.qr_text,
                    c.number,
                    c.facts
                        .as_ref()
                        .map(|f| f.micro_competency.as_str())
                        .unwrap_or_default()
                ));
            }
            text.push_str(&format!("# a forged QR (signed by a key the province never published):\n{forged_text}\tNOT_GENUINE\n"));
            std::fs::write(path, text)?;
        }
        // What an offline verifier needs beside the QR texts: `tica verify --qr … --keys
        // jwks.json --revocations revocations.jwt`.
        for (file, path) in [
            ("jwks.json", "/.well-known/jwks.json"),
            ("revocations.jwt", "/revocations"),
        ] {
            if let Some(out) = self.out(file) {
                let answer = api::http_get(self.target.http_base(), path).await?;
                let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                std::fs::write(out, body)?;
            }
        }
        self.step(
            "verify",
            format!(
                "{}; the revoked one's page says 已撤销: {}; the forged one's page says 无法验证: {}",
                line.join("  "),
                if page_says_revoked { "✓" } else { "✗" },
                if forged_page_says_not_genuine { "✓" } else { "✗" }
            ),
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // The reports an office hands upward

    /// The county's workbook by school, the city's by county and school, the summary PDF.
    pub async fn reports(&mut self) -> anyhow::Result<()> {
        let Some(dir) = self.out("reports") else {
            return Ok(());
        };
        std::fs::create_dir_all(&dir)?;
        let m = self.model;
        let county_token =
            self.target
                .token("county-office", Role::CountyOffice, self.county(), None);
        let county_book = dir.join(format!("{}-{YEAR}-进度-按学校.xlsx", m.county.1));
        crate::report::write_workbook(
            self.target.channel(),
            &county_token,
            &format!("jurisdictions/{}", self.county()),
            pb::ProgressLevel::School,
            YEAR,
            true,
            false,
            &county_book,
        )
        .await
        .context("the county's progress workbook")?;
        let city_token = self
            .target
            .token("city-office", Role::CityOffice, &m.city.0, None);
        let city_book = dir.join(format!("{}-{YEAR}-进度-按区县.xlsx", m.city.1));
        crate::report::write_workbook(
            self.target.channel(),
            &city_token,
            &format!("jurisdictions/{}", m.city.0),
            pb::ProgressLevel::County,
            YEAR,
            false,
            true,
            &city_book,
        )
        .await
        .context("the city's progress workbook")?;
        let summary = crate::report::county_summary(
            self.target.channel(),
            &county_token,
            self.county(),
            YEAR,
        )
        .await
        .context("gathering the county summary")?;
        self.outcome.summary_certificates = summary.totals.certificates;
        let summary_pdf = dir.join(format!("{}-{YEAR}-县级总结.pdf", m.county.1));
        crate::report::write_summary(&summary, &summary_pdf)?;
        self.calls(12);
        let sheets = sheet_names(&county_book)?;
        self.outcome.workbook_sheets = sheets.clone();
        self.outcome.reports = vec![county_book, city_book, summary_pdf];
        self.step(
            "reports",
            format!(
                "county workbook (sheets {}), city workbook, summary PDF with charts",
                sheets.join("、")
            ),
        );
        Ok(())
    }
}

/// The sheet names of a workbook file (opened with a reader, as a spreadsheet tool would).
fn sheet_names(path: &Path) -> anyhow::Result<Vec<String>> {
    use calamine::Reader;
    let book: calamine::Xlsx<_> =
        calamine::open_workbook(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(book.sheet_names())
}

/// The pinned rates the draw followed, in words: why Sixian's spot check draws every school
/// (its county checks each school's results, 《泗县实施意见》附件2 四5, rate 1/1) and a tenth
/// of each school's teachers (issue 21 asked whether 107 of 107 was right: it is the policy).
fn plan_rates(round: &sp::ReviewRound) -> String {
    let Some(plan) = round.plans.first() else {
        return "no draw plan".into();
    };
    let percent = |r: &Option<common::Ratio>| {
        r.as_ref()
            .filter(|r| r.denominator > 0)
            .map_or(0.0, |r| 100.0 * r.numerator as f64 / r.denominator as f64)
    };
    let schools = percent(&plan.school_rate);
    let every = if schools >= 100.0 {
        " (every school: the county checks each school's results)"
    } else {
        ""
    };
    format!(
        "pinned rates: {schools:.0} % of schools{every}, {:.0} % of each drawn school's teachers, at least {}",
        percent(&plan.teacher_rate),
        plan.minimum_per_stratum
    )
}

/// A county review round of the online kind over `batch`.
fn new_round(batch: String) -> sp::CreateReviewRoundRequest {
    sp::CreateReviewRoundRequest {
        review_round: Some(sp::ReviewRound {
            level: sp::RoundLevel::CountyReview as i32,
            kind: sp::RoundKind::OnlineRegrade as i32,
            batches: vec![batch],
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The drawn items of `stage`, every page.
pub(super) async fn drawn_items(
    office: &mut SamplingClient,
    round: &str,
    stage: sp::Stage,
) -> anyhow::Result<Vec<sp::DrawnItem>> {
    let pages = crate::report::all_pages("ListDrawnItems", |page_token| {
        let mut office = office.clone();
        let request = sp::ListDrawnItemsRequest {
            parent: round.into(),
            stage: stage as i32,
            page_size: 1000,
            page_token,
            ..Default::default()
        };
        async move {
            anyhow::Ok(
                office
                    .list_drawn_items(request)
                    .await
                    .context("ListDrawnItems")?
                    .into_inner(),
            )
        }
    })
    .await?;
    Ok(pages.into_iter().flat_map(|p| p.drawn_items).collect())
}

/// The drawn units of `round`, every page.
pub(super) async fn review_units(
    office: &mut SamplingClient,
    round: &str,
) -> anyhow::Result<Vec<sp::ReviewUnit>> {
    let pages = crate::report::all_pages("ListReviewUnits", |page_token| {
        let mut office = office.clone();
        let request = sp::ListReviewUnitsRequest {
            parent: round.into(),
            drawn_only: true,
            page_size: 1000,
            page_token,
            ..Default::default()
        };
        async move {
            anyhow::Ok(
                office
                    .list_review_units(request)
                    .await
                    .context("ListReviewUnits")?
                    .into_inner(),
            )
        }
    })
    .await?;
    Ok(pages.into_iter().flat_map(|p| p.review_units).collect())
}

/// A round's export, gathered from its stream.
pub(in crate::demo) async fn export_round(
    office: &mut SamplingClient,
    round: &str,
    format: common::FileFormat,
    part: sp::RoundExportPart,
) -> anyhow::Result<Vec<u8>> {
    let mut stream = office
        .export_review_round(sp::ExportReviewRoundRequest {
            name: round.into(),
            format: format as i32,
            part: part as i32,
        })
        .await
        .context("ExportReviewRound")?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await? {
        if let Some(sp::export_review_round_response::Payload::Chunk(chunk)) = message.payload {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

/// A QR text with the real key id and a key the province never published (what a forger with
/// a printer and a phone can make).
fn forge(genuine: &cpb::Certificate) -> anyhow::Result<String> {
    let facts = genuine.facts.clone().unwrap_or_default();
    let (url, _) = genuine
        .qr_text
        .split_once('#')
        .ok_or_else(|| anyhow!("a QR text without a payload"))?;
    let base = url.split("/C/").next().unwrap_or(url);
    let claims = tica_credential::qr::QrClaims {
        version: 2,
        kid: facts.key_id.clone(),
        id: genuine.name.trim_start_matches("certificates/").to_owned(),
        number: genuine.number.clone(),
        name: facts.teacher_display_name.clone(),
        id_masked: facts.teacher_id_number_masked.clone(),
        school: facts.school_display_name.clone(),
        competency: facts.micro_competency.clone(),
        grade: "优秀".into(),
        issuer: facts.issuing_authority.clone(),
        issued: "2022-12-30".into(),
    };
    let forger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    Ok(tica_credential::qr::qr_text(base, &claims, &forger)?)
}

/// A file name without path separators.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':') {
                '-'
            } else {
                c
            }
        })
        .collect()
}

/// A design-plan "PDF" of about `len` bytes: a PDF header and a body unique to the teacher (the
/// service checks the type signature and hashes the content).
fn plan_pdf(teacher: usize, len: usize) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.7\n% 应用设计方案 {teacher}\n").into_bytes();
    let mut x = teacher as u64 ^ 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(b' ' + (x % 90) as u8);
    }
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

fn kind_label(kind: tica_domain::school::SchoolKind) -> String {
    kind.label_zh().to_owned()
}
