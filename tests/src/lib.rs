//! A cluster for tests that span services: the whole suite (`tica serve`) started in-process on
//! free ports over a fresh database, with token-bearing clients.

pub mod browser;
pub mod certificates;
pub mod rfc9162;
pub mod traces;

use std::path::PathBuf;

use tica::serve::{ServeArgs, Suite, start};
use tica_auth::{Role, TokenSigner};
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;
use tica_testkit::grpc::Callers;
use tica_testkit::{Keys, fixtures};
use tonic::transport::Channel;

pub use tica_testkit::fixtures::{hours, select, upload_evidence};

/// An assessment client that authenticates every call.
pub type AssessmentClient = tica_client::Assessment;

/// The suite for one test.
#[derive(Debug)]
pub struct Cluster {
    /// The running servers.
    pub suite: Option<Suite>,
    /// A connected channel to the gRPC address.
    pub channel: Channel,
    callers: Callers,
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
            allow_plaintext: false,
        };
        let suite = start(&args).await.expect("the suite starts");
        let channel = tica_testkit::grpc::connect(format!("http://{}", suite.grpc_addr)).await;
        let keys =
            Keys::from_pair(tica::token::dev_key(&data_dir).expect("the suite created its key"));
        Some(Cluster {
            suite: Some(suite),
            callers: Callers::new(keys, channel.clone(), channel.clone(), "e2e"),
            channel,
            data_dir,
        })
    }

    /// Registers jurisdictions `(code, name, parent code or "")` in order, as the province office
    /// of the first.
    pub async fn register_jurisdictions(&self, list: &[(&str, &str, &str)]) {
        let mut office = self.roster(Role::ProvinceOffice, list[0].0);
        fixtures::register_jurisdictions(&mut office, list).await;
    }

    /// Registers a primary school of 60 teachers in `county`, as its county office.
    pub async fn register_school(&self, county: &str, code: &str, display_name: &str) {
        let mut office = self.roster(Role::CountyOffice, county);
        fixtures::register_school(&mut office, county, code, display_name, 60, false).await;
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
        let mut office = self.roster(Role::CountyOffice, county);
        fixtures::register_teacher(
            &mut office,
            county,
            school,
            display_name,
            subject,
            birth,
            sequence,
        )
        .await
    }

    /// Creates and opens `county`'s batch for `year` as its county office; the opened batch.
    pub async fn open_batch(&self, county: &str, year: i32, display_name: &str) -> pb::Batch {
        let mut office = self.assessment("county-office", Role::CountyOffice, county, None);
        fixtures::open_batch(&mut office, county, year, display_name).await
    }

    /// Creates, certifies and registers an assessor as `office` (role, jurisdiction code) and
    /// returns its id (the subject of its tokens) — the demo's own steps and certification
    /// (2022, by 泗县教育体育局).
    pub async fn register_assessor(
        &self,
        office: (Role, &str),
        teacher: &str,
        level: tica_proto::tica::roster::v1::AssessorLevel,
        at: &str,
    ) -> String {
        let mut office = self.roster(office.0, office.1);
        fixtures::register_assessor(&mut office, teacher, level, at, 2022, "泗县教育体育局").await
    }

    /// The suite as the demo drives it: the same channel, tokens from the same key.
    pub fn target(&self) -> tica::demo::Target {
        tica::demo::Target::new(
            self.channel.clone(),
            self.callers.keys.signer().clone(),
            self.http(),
        )
    }

    /// The signer of the suite's tokens (tests forge claims with it).
    pub fn signer(&self) -> &TokenSigner {
        self.callers.keys.signer()
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

/// `token`, `token_as`, `roster` and `assessment` (an office's tokens are for subject `e2e`).
impl std::ops::Deref for Cluster {
    type Target = Callers;

    fn deref(&self) -> &Callers {
        &self.callers
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
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
