//! Test harness: a roster and an assessment server on free ports over one fresh database, a
//! Sixian county registered over gRPC, and token-bearing clients.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use tica_assessment::objects::EvidenceStore;
use tica_auth::{KeyPair, Role, TokenSigner, TokenVerifier};
use tica_client::Roster as RosterClient;
use tica_domain::division::DivisionCode;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_server::{GrpcServer, RunningServer};
use tica_storage::{Backend, Database};
use tica_testkit::TestDatabase;
use tonic::transport::Channel;

/// An assessment client that authenticates every call.
pub type AssessmentClient = tica_client::Assessment;

/// The roster and assessment services for one test.
pub struct Suite {
    pub roster_server: RunningServer,
    pub assessment_server: RunningServer,
    /// The assessment database (for the tests that look at its tables).
    pub db: Database,
    signer: TokenSigner,
    roster_channel: Channel,
    channel: Channel,
    _evidence: tempfile::TempDir,
    _location: TestDatabase,
}

impl Suite {
    /// Both services on `backend`, or `None` when that backend is not configured.
    pub async fn start(backend: Backend) -> Option<Suite> {
        let location = TestDatabase::new(backend)?;
        let roster_db = location
            .connect("roster", tica_roster::MIGRATIONS)
            .await
            .expect("roster database");
        let db = location
            .connect("assessment", tica_assessment::startup::MIGRATIONS)
            .await
            .expect("assessment database");
        let pair = KeyPair::generate();
        let signer = TokenSigner::new(&pair);
        let keys = BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]);
        let mut server = GrpcServer::new();
        tica_roster::startup::register(&mut server, roster_db);
        let roster_server = server
            .spawn("127.0.0.1:0".parse().unwrap(), TokenVerifier::new(&keys))
            .await
            .expect("roster binds");
        let evidence = tempfile::tempdir().unwrap();
        let svc = tica_assessment::startup::build(
            db.clone(),
            tica_assessment::startup::roster_channel(&roster_server.url()).unwrap(),
            EvidenceStore::open(&evidence.path().display().to_string()).unwrap(),
        )
        .await
        .expect("assessment builds");
        let mut server = GrpcServer::new();
        tica_assessment::startup::register(&mut server, svc);
        let assessment_server = server
            .spawn("127.0.0.1:0".parse().unwrap(), TokenVerifier::new(&keys))
            .await
            .expect("assessment binds");
        let connect = |url: String| async move {
            Channel::from_shared(url)
                .unwrap()
                .connect()
                .await
                .expect("connects")
        };
        Some(Suite {
            roster_channel: connect(roster_server.url()).await,
            channel: connect(assessment_server.url()).await,
            roster_server,
            assessment_server,
            db,
            signer,
            _evidence: evidence,
            _location: location,
        })
    }

    /// A token for `subject` as `role` acting for `jurisdiction` (and `school`).
    pub fn token(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> String {
        self.signer
            .mint(
                subject,
                role,
                DivisionCode::parse(jurisdiction).unwrap(),
                school,
                Duration::from_secs(3600),
            )
            .unwrap()
    }

    /// An assessment client for `subject` as `role`.
    pub fn assessment(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> AssessmentClient {
        tica_client::assessment(
            self.channel.clone(),
            &self.token(subject, role, jurisdiction, school),
        )
    }

    /// A roster client for an office.
    pub fn roster(&self, role: Role, jurisdiction: &str) -> RosterClient {
        tica_client::roster(
            self.roster_channel.clone(),
            &self.token("office", role, jurisdiction, None),
        )
    }
}

/// A county to run a year in: `(code, name)` of the province, city and county.
pub struct County {
    pub province: (&'static str, &'static str),
    pub city: (&'static str, &'static str),
    pub county: (&'static str, &'static str),
}

/// 泗县 (Sixian preset: 《泗县实施意见》).
pub const SIXIAN: County = County {
    province: ("340000", "安徽省"),
    city: ("341300", "宿州市"),
    county: ("341324", "泗县"),
};

/// 永宁县 under 银川市 (the Ningxia preset, inherited from 640000).
pub const YONGNING: County = County {
    province: ("640000", "宁夏回族自治区"),
    city: ("640100", "银川市"),
    county: ("640121", "永宁县"),
};

impl Suite {
    /// Registers the county's jurisdictions.
    pub async fn register_county(&self, c: &County) {
        let mut province = self.roster(Role::ProvinceOffice, c.province.0);
        for (code, name, parent) in [
            (c.province.0, c.province.1, String::new()),
            (
                c.city.0,
                c.city.1,
                format!("jurisdictions/{}", c.province.0),
            ),
            (
                c.county.0,
                c.county.1,
                format!("jurisdictions/{}", c.city.0),
            ),
        ] {
            province
                .create_jurisdiction(roster::CreateJurisdictionRequest {
                    jurisdiction: Some(roster::Jurisdiction {
                        name: format!("jurisdictions/{code}"),
                        display_name: name.into(),
                        parent,
                        ..Default::default()
                    }),
                })
                .await
                .expect("jurisdiction registered");
        }
    }

    /// Registers school `code` in county `county`.
    pub async fn register_school(&self, county: &str, code: &str, name: &str) {
        self.roster(Role::CountyOffice, county)
            .create_school(roster::CreateSchoolRequest {
                school: Some(roster::School {
                    name: format!("schools/{code}"),
                    display_name: name.into(),
                    jurisdiction: format!("jurisdictions/{county}"),
                    kind: roster::SchoolKind::Primary as i32,
                    rural: true,
                    full_time_teacher_count: 40,
                    ..Default::default()
                }),
            })
            .await
            .expect("school registered");
    }

    /// Registers an ordinary primary mathematics teacher born in 1985 at `school`; their number.
    pub async fn register_teacher(&self, county: &str, school: &str, sequence: u16) -> String {
        let id = tica_domain::ResidentId::generate(
            county,
            time::Date::from_calendar_date(1985, time::Month::March, 1 + (sequence % 28) as u8)
                .unwrap(),
            sequence,
        );
        self.roster(Role::CountyOffice, county)
            .create_teacher(roster::CreateTeacherRequest {
                teacher: Some(roster::Teacher {
                    display_name: format!("教师{sequence}"),
                    id_number: id.as_str().into(),
                    school: format!("schools/{school}"),
                    stage: roster::Stage::Primary as i32,
                    subject: "数学".into(),
                    category: roster::TeacherCategory::Ordinary as i32,
                    ..Default::default()
                }),
                teacher_id: String::new(),
            })
            .await
            .expect("teacher registered")
            .into_inner()
            .name
            .strip_prefix("teachers/")
            .unwrap()
            .to_owned()
    }

    /// Creates, certifies and registers `teacher` as an assessor of `level` at `at`; its id.
    pub async fn register_assessor(
        &self,
        county: &str,
        teacher: &str,
        level: roster::AssessorLevel,
        at: &str,
    ) -> String {
        let mut office = self.roster(Role::CountyOffice, county);
        let created = office
            .create_assessor(roster::CreateAssessorRequest {
                assessor: Some(roster::Assessor {
                    teacher: format!("teachers/{teacher}"),
                    level: level as i32,
                    registered_at: at.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("assessor created")
            .into_inner();
        office
            .certify_assessor(roster::CertifyAssessorRequest {
                name: created.name.clone(),
                certification: Some(roster::AssessorCertification {
                    certificate_number: format!("CP-2026-{teacher}"),
                    exam_date: Some(tica_proto::google::r#type::Date {
                        year: 2026,
                        month: 4,
                        day: 20,
                    }),
                    issued_by: "县教育局".into(),
                }),
            })
            .await
            .expect("assessor certified");
        office
            .register_assessor(roster::RegisterAssessorRequest {
                name: created.name.clone(),
            })
            .await
            .expect("assessor registered");
        created.name.strip_prefix("assessors/").unwrap().to_owned()
    }

    /// Each teacher of `school` created, certified and registered as one of its school-level
    /// assessors; their assessor ids, in the teachers' order.
    pub async fn school_assessors(
        &self,
        county: &str,
        school: &str,
        teachers: &[String],
    ) -> Vec<String> {
        let mut assessors = Vec::with_capacity(teachers.len());
        for t in teachers {
            assessors.push(
                self.register_assessor(
                    county,
                    t,
                    roster::AssessorLevel::School,
                    &format!("schools/{school}"),
                )
                .await,
            );
        }
        assessors
    }

    /// Creates and opens the county's 2026 batch as its office; the batch's name.
    pub async fn open_batch(&self, county: &str) -> String {
        let mut office = self.assessment("county-office", Role::CountyOffice, county, None);
        let batch = office
            .create_batch(pb::CreateBatchRequest {
                batch: Some(pb::Batch {
                    county: format!("jurisdictions/{county}"),
                    year: 2026,
                    display_name: "2026 年能力提升工程2.0".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("batch created")
            .into_inner();
        office
            .open_batch(pb::OpenBatchRequest {
                name: batch.name.clone(),
                open_date: None,
            })
            .await
            .expect("batch opened");
        batch.name
    }
}

/// Submits an accepted selection of `codes` for `participant`.
pub async fn select(client: &mut AssessmentClient, participant: &str, codes: &[&str]) {
    let selection = client
        .submit_selection(pb::SubmitSelectionRequest {
            name: format!("{participant}/selection"),
            micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
            validate_only: false,
        })
        .await
        .expect("selection submitted")
        .into_inner();
    assert!(selection.verdict.unwrap().accepted);
}

/// Hands in `participant`'s submission of `code`.
pub async fn hand_in(client: &mut AssessmentClient, participant: &str, code: &str) {
    client
        .submit_submission(pb::SubmitSubmissionRequest {
            name: format!("{participant}/submissions/{code}"),
        })
        .await
        .expect("submission handed in");
}

/// Grades `participant`'s submission of `code` as `assessor`.
pub async fn grade(
    client: &mut AssessmentClient,
    assessor: &str,
    participant: &str,
    code: &str,
    grade: common::Grade,
) -> Result<pb::Submission, tonic::Status> {
    client
        .grade_submission(pb::GradeSubmissionRequest {
            name: format!("{participant}/submissions/{code}"),
            assessor: format!("assessors/{assessor}"),
            grade: grade as i32,
            rubric_scores: Vec::new(),
            invalid_evidence: Vec::new(),
            comment: "符合要求".into(),
        })
        .await
        .map(|r| r.into_inner())
}
