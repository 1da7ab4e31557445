//! Test harness: a roster server on a free port over a fresh database, and token-bearing clients.

#![allow(dead_code)]

use tica_auth::Role;
use tica_client::Roster as RosterClient;
use tica_client::files::{self as client, ImportResult, Kind};
use tica_domain::division::DivisionCode;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::SampleRoster;
use tica_server::{GrpcServer, RunningServer};
use tica_storage::{Backend, Database};
use tica_testkit::{Keys, TestDatabase};
use tonic::transport::Channel;

/// A running roster for one test.
pub struct TestApp {
    pub server: RunningServer,
    pub keys: Keys,
    pub db: Database,
    channel: Channel,
    _location: TestDatabase,
}

impl TestApp {
    /// A roster on `backend`, or `None` when that backend is not configured.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let location = TestDatabase::new(backend)?;
        let db = location
            .connect("roster", tica_roster::MIGRATIONS)
            .await
            .expect("database opens and migrates");
        let keys = Keys::generate();
        let mut server = GrpcServer::new();
        tica_roster::startup::register(&mut server, db.clone());
        let (server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
        Some(TestApp {
            server,
            keys,
            db,
            channel,
            _location: location,
        })
    }

    /// A client acting as `role` for jurisdiction `jur` (and `school`).
    pub fn client(&self, role: Role, jur: &str, school: Option<&str>) -> RosterClient {
        let token = self.token(role, jur, school, "test-user");
        tica_client::roster(self.channel.clone(), &token)
    }

    /// A token.
    pub fn token(&self, role: Role, jur: &str, school: Option<&str>, subject: &str) -> String {
        self.keys.mint(subject, role, jur, school)
    }

    /// A client with an arbitrary token.
    pub fn client_with_token(&self, token: &str) -> RosterClient {
        tica_client::roster(self.channel.clone(), token)
    }

    /// The channel (for raw clients).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A province office client for `code`.
    pub fn office(&self, code: &str) -> RosterClient {
        let role = match DivisionCode::parse(code).unwrap().level() {
            tica_domain::JurisdictionLevel::Province => Role::ProvinceOffice,
            tica_domain::JurisdictionLevel::City => Role::CityOffice,
            tica_domain::JurisdictionLevel::County => Role::CountyOffice,
        };
        self.client(role, code, None)
    }

    /// Registers the sample's jurisdictions and imports its schools (CSV), as the province.
    pub async fn setup_sample(&self, sample: &SampleRoster) {
        let mut province = self.office(&sample.province().to_string());
        register_sample_jurisdictions(&mut province, sample).await;
        let result = import(
            &mut province,
            Kind::Schools,
            "",
            sample.schools_csv(),
            default_options(),
        )
        .await;
        assert!(
            result.errors.is_empty(),
            "schools import cleanly: {:?}",
            &result.errors[..result.errors.len().min(5)]
        );
        assert!(result.report.committed, "{:?}", result.report);
    }
}

/// Registers the sample's jurisdictions, parents first, as `province` (its province office).
pub async fn register_sample_jurisdictions(province: &mut RosterClient, sample: &SampleRoster) {
    let list: Vec<(String, String, String)> = sample
        .jurisdictions
        .iter()
        .map(|j| {
            let parent = j.parent.map(|p| p.to_string()).unwrap_or_default();
            (j.code.to_string(), j.name.clone(), parent)
        })
        .collect();
    let list: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|(code, name, parent)| (code.as_str(), name.as_str(), parent.as_str()))
        .collect();
    tica_testkit::fixtures::register_jurisdictions(province, &list).await;
}

/// ALL_OR_NOTHING, REJECT, detected format.
pub fn default_options() -> common::ImportOptions {
    common::ImportOptions {
        file_name: "test.csv".into(),
        ..Default::default()
    }
}

/// Imports `bytes`, panicking on a transport or status error.
pub async fn import(
    client: &mut RosterClient,
    kind: Kind,
    parent: &str,
    bytes: Vec<u8>,
    options: common::ImportOptions,
) -> ImportResult {
    client::import(client, kind, parent, options, bytes, |_| {})
        .await
        .expect("import call succeeds")
}

/// Every teacher under `parent`, reading page by page.
pub async fn all_teachers(
    client: &mut RosterClient,
    parent: &str,
    page_size: i32,
) -> (Vec<pb::Teacher>, usize) {
    let mut teachers = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_teachers(pb::ListTeachersRequest {
                parent: parent.into(),
                page_size,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list succeeds")
            .into_inner();
        pages += 1;
        teachers.extend(page.teachers);
        if page.next_page_token.is_empty() {
            return (teachers, pages);
        }
        token = page.next_page_token;
    }
}
