//! Test harness: a roster and an assessment server on free ports over one fresh database, a
//! Sixian county registered over gRPC, and token-bearing clients.

#![allow(dead_code)]

use tica_assessment::objects::EvidenceStore;
use tica_auth::Role;
use tica_proto::tica::roster::v1 as roster;
use tica_server::{GrpcServer, RunningServer};
use tica_storage::{Backend, Database};
use tica_testkit::fixtures;
use tica_testkit::grpc::Callers;
use tica_testkit::{Keys, TestDatabase};

#[allow(unused_imports)] // not every test binary hands in and grades
pub use tica_testkit::fixtures::{grade, hand_in, select};

/// An assessment client that authenticates every call.
pub type AssessmentClient = tica_client::Assessment;

/// The roster and assessment services for one test.
pub struct Suite {
    pub roster_server: RunningServer,
    pub assessment_server: RunningServer,
    /// The assessment database (for the tests that look at its tables).
    pub db: Database,
    callers: Callers,
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
        let keys = Keys::generate();
        let mut server = GrpcServer::new();
        tica_roster::startup::register(&mut server, roster_db);
        let (roster_server, roster_channel) =
            tica_testkit::grpc::serve(server, keys.verifier()).await;
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
        let (assessment_server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
        Some(Suite {
            callers: Callers::new(keys, roster_channel, channel, "office"),
            roster_server,
            assessment_server,
            db,
            _evidence: evidence,
            _location: location,
        })
    }
}

/// `roster`, `assessment`, `token` and `token_as` (an office's tokens are for subject `office`).
impl std::ops::Deref for Suite {
    type Target = Callers;

    fn deref(&self) -> &Callers {
        &self.callers
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
        fixtures::register_jurisdictions(
            &mut province,
            &[
                (c.province.0, c.province.1, ""),
                (c.city.0, c.city.1, c.province.0),
                (c.county.0, c.county.1, c.city.0),
            ],
        )
        .await;
    }

    /// Registers school `code` in county `county`.
    pub async fn register_school(&self, county: &str, code: &str, name: &str) {
        let mut office = self.roster(Role::CountyOffice, county);
        fixtures::register_school(&mut office, county, code, name, 40, true).await;
    }

    /// Registers an ordinary primary mathematics teacher born in 1985 at `school`; their number.
    pub async fn register_teacher(&self, county: &str, school: &str, sequence: u16) -> String {
        let birth =
            time::Date::from_calendar_date(1985, time::Month::March, 1 + (sequence % 28) as u8)
                .unwrap();
        fixtures::register_teacher(
            &mut self.roster(Role::CountyOffice, county),
            county,
            school,
            &format!("教师{sequence}"),
            "数学",
            birth,
            sequence,
        )
        .await
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
        fixtures::register_assessor(&mut office, teacher, level, at, 2026, "县教育局").await
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
        fixtures::open_batch(&mut office, county, 2026, "2026 年能力提升工程2.0")
            .await
            .name
    }
}
