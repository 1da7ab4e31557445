//! A cluster for tests that span services: the whole suite (`tica serve`) started in-process on
//! free ports over a fresh database, with token-bearing clients.

use std::path::PathBuf;
use std::time::Duration;

use tica::serve::{ServeArgs, Suite, start};
use tica_auth::{Role, TokenSigner};
use tica_domain::division::DivisionCode;
use tica_proto::tica::assessment::v1::assessment_service_client::AssessmentServiceClient;
use tica_roster::client::{Bearer, RosterClient};
use tica_storage::Backend;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// An assessment client that authenticates every call.
pub type AssessmentClient = AssessmentServiceClient<InterceptedService<Channel, Bearer>>;

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
            data_dir: data_dir.clone(),
            database_url,
            token_public_keys: None,
            database_schema_prefix: prefix,
            evidence_store: None,
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
        tica_roster::client::client(self.channel.clone(), &self.token(role, jurisdiction, None))
    }

    /// An assessment client for `subject` as `role` acting for `jurisdiction` (and `school`).
    pub fn assessment(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> AssessmentClient {
        AssessmentServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(&self.token_as(subject, role, jurisdiction, school)),
        )
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
