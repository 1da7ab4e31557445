//! A cluster for tests that span services: the whole suite (`tica serve`) started in-process on
//! free ports over a fresh database, with token-bearing clients.

pub mod browser;
pub mod certificates;
pub mod rfc9162;
pub mod traces;

use std::path::PathBuf;
use std::time::Duration;

use tica::serve::{ServeArgs, Suite, start};
use tica_auth::{Role, TokenSigner};
use tica_client::Roster as RosterClient;
use tica_domain::division::DivisionCode;
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;
use tonic::transport::Channel;

/// An assessment client that authenticates every call.
pub type AssessmentClient = tica_client::Assessment;

/// The suite for one test.
#[derive(Debug)]
pub struct Cluster {
    /// The running servers.
    pub suite: Option<Suite>,
    /// A connected channel to the gRPC address.
    pub channel: Channel,
    signer: TokenSigner,
    data_dir: PathBuf,
}

impl Cluster {
    /// Starts the suite on `backend`; `None` when PostgreSQL is asked for but not configured.
    pub async fn start(backend: Backend) -> Option<Cluster> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let data_dir = std::env::temp_dir().join(format!("tica-e2e-{unique}"));
        let (database_url, prefix) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => (Some(url), Some(format!("e2e_{}", &unique[..12]))),
                _ => {
                    assert!(
                        std::env::var("TICA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                        "TICA_REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
                    );
                    eprintln!("skipped on PostgreSQL: DATABASE_URL is not set");
                    return None;
                }
            },
        };
        let args = ServeArgs {
            grpc: "127.0.0.1:0".parse().unwrap(),
            http: "127.0.0.1:0".parse().unwrap(),
            admin: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            database_url,
            token_public_keys: None,
            database_schema_prefix: prefix,
            evidence_store: None,
            verify_base_url: None,
            cert_keys: None,
            cert_active_key: None,
            certificate_public: Default::default(),
            imports: Default::default(),
            edge: tica_server::edge::EdgeConfig::default(),
        };
        let suite = start(&args).await.expect("the suite starts");
        let channel = Channel::from_shared(format!("http://{}", suite.grpc_addr))
            .unwrap()
            .connect()
            .await
            .expect("connects");
        let signer =
            TokenSigner::new(&tica::token::dev_key(&data_dir).expect("the suite created its key"));
        Some(Cluster {
            suite: Some(suite),
            channel,
            signer,
            data_dir,
        })
    }

    /// A token for `role` acting for `jurisdiction` (and `school`).
    pub fn token(&self, role: Role, jurisdiction: &str, school: Option<&str>) -> String {
        self.token_as("e2e", role, jurisdiction, school)
    }

    /// A token for `subject` (a teacher number, an assessor id, a provider id) as `role`.
    pub fn token_as(
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
                Duration::from_secs(600),
            )
            .unwrap()
    }

    /// A roster client for a province-level office.
    pub fn roster(&self, role: Role, jurisdiction: &str) -> RosterClient {
        tica_client::roster(self.channel.clone(), &self.token(role, jurisdiction, None))
    }

    /// An assessment client for `subject` as `role` acting for `jurisdiction` (and `school`).
    pub fn assessment(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> AssessmentClient {
        tica_client::assessment(
            self.channel.clone(),
            &self.token_as(subject, role, jurisdiction, school),
        )
    }

    /// Registers jurisdictions `(code, name, parent code or "")` in order, as the province office
    /// of the first.
    pub async fn register_jurisdictions(&self, list: &[(&str, &str, &str)]) {
        let mut office = self.roster(Role::ProvinceOffice, list[0].0);
        for (code, name, parent) in list {
            office
                .create_jurisdiction(tica_proto::tica::roster::v1::CreateJurisdictionRequest {
                    jurisdiction: Some(tica_proto::tica::roster::v1::Jurisdiction {
                        name: format!("jurisdictions/{code}"),
                        display_name: (*name).into(),
                        parent: if parent.is_empty() {
                            String::new()
                        } else {
                            format!("jurisdictions/{parent}")
                        },
                        ..Default::default()
                    }),
                })
                .await
                .expect("jurisdiction registered");
        }
    }

    /// Registers a primary school of 60 teachers in `county`, as its county office.
    pub async fn register_school(&self, county: &str, code: &str, display_name: &str) {
        use tica_proto::tica::roster::v1 as rpb;
        self.roster(Role::CountyOffice, county)
            .create_school(rpb::CreateSchoolRequest {
                school: Some(rpb::School {
                    name: format!("schools/{code}"),
                    display_name: display_name.into(),
                    jurisdiction: format!("jurisdictions/{county}"),
                    kind: rpb::SchoolKind::Primary as i32,
                    full_time_teacher_count: 60,
                    ..Default::default()
                }),
            })
            .await
            .expect("school registered");
    }

    /// Registers an ordinary primary teacher of `subject` at `school` in `county`, born on
    /// `birth` (their ID number's sequence `sequence`), as the county office; their number.
    pub async fn register_teacher(
        &self,
        county: &str,
        school: &str,
        display_name: &str,
        subject: &str,
        birth: time::Date,
        sequence: u16,
    ) -> String {
        use tica_proto::tica::roster::v1 as rpb;
        let id = tica_domain::ResidentId::generate(county, birth, sequence);
        let teacher = self
            .roster(Role::CountyOffice, county)
            .create_teacher(rpb::CreateTeacherRequest {
                teacher: Some(rpb::Teacher {
                    display_name: display_name.into(),
                    id_number: id.as_str().into(),
                    school: format!("schools/{school}"),
                    stage: rpb::Stage::Primary as i32,
                    subject: subject.into(),
                    category: rpb::TeacherCategory::Ordinary as i32,
                    ..Default::default()
                }),
                teacher_id: String::new(),
            })
            .await
            .expect("teacher registered")
            .into_inner();
        teacher.name.trim_start_matches("teachers/").to_owned()
    }

    /// Creates and opens `county`'s batch for `year` as its county office; the opened batch.
    pub async fn open_batch(&self, county: &str, year: i32, display_name: &str) -> pb::Batch {
        let mut office = self.assessment("county-office", Role::CountyOffice, county, None);
        let batch = office
            .create_batch(pb::CreateBatchRequest {
                batch: Some(pb::Batch {
                    county: format!("jurisdictions/{county}"),
                    year,
                    display_name: display_name.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("batch created")
            .into_inner();
        office
            .open_batch(pb::OpenBatchRequest {
                name: batch.name,
                open_date: None,
            })
            .await
            .expect("batch opened")
            .into_inner()
    }

    /// Creates, certifies and registers an assessor as `office` (role, jurisdiction code) and
    /// returns its id (the subject of its tokens) — the demo's own steps.
    pub async fn register_assessor(
        &self,
        office: (Role, &str),
        teacher: &str,
        level: tica_proto::tica::roster::v1::AssessorLevel,
        at: &str,
    ) -> String {
        let mut office = self.roster(office.0, office.1);
        tica::demo::api::register_assessor(&mut office, teacher, level, at, "泗县教育体育局")
            .await
            .expect("assessor created, certified and registered")
    }

    /// The suite as the demo drives it: the same channel, tokens from the same key.
    pub fn target(&self) -> tica::demo::Target {
        tica::demo::Target::new(self.channel.clone(), self.signer.clone(), self.http())
    }

    /// The signer of the suite's tokens (tests forge claims with it).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// The suite's data directory (databases, keys, evidence).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The HTTP base URL.
    pub fn http(&self) -> String {
        format!("http://{}", self.suite.as_ref().unwrap().http_addr)
    }

    /// Stops the suite gracefully.
    pub async fn stop(mut self) {
        if let Some(suite) = self.suite.take() {
            suite.shutdown().await.expect("clean shutdown");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Streams an evidence upload: `first` (the metadata message, with `parent`), then `bytes` in
/// 64 KiB chunks; with `stop_after`, the stream ends after that many bytes, as a dropped
/// connection looks to the server.
pub async fn upload_evidence(
    client: &mut AssessmentClient,
    first: pb::UploadEvidenceRequest,
    bytes: &[u8],
    stop_after: Option<usize>,
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages = vec![first];
    for chunk in bytes[..stop_after.unwrap_or(bytes.len())].chunks(64 << 10) {
        messages.push(pb::UploadEvidenceRequest {
            parent: String::new(),
            payload: Some(pb::upload_evidence_request::Payload::Chunk(chunk.to_vec())),
        });
    }
    client
        .upload_evidence(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// 30 hours of `kind` for `teacher`, as the provider `anhui-online` reports them (record id
/// `{teacher}-{what}`).
pub fn hours(teacher: &str, kind: pb::HoursKind, what: &str) -> pb::HoursRecord {
    pb::HoursRecord {
        name: format!("providers/anhui-online/hoursRecords/{teacher}-{what}"),
        teacher: format!("teachers/{teacher}"),
        kind: kind as i32,
        course_id: what.into(),
        course_title: "信息技术应用能力提升".into(),
        centihours: 3000,
        revision: 1,
        complete_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Default::default()
    }
}

/// A plain HTTP/1.1 request over a TCP socket (`Connection: close`); the whole answer.
pub async fn http_request(
    base: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}
