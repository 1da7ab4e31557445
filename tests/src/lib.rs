//! A cluster for tests that span services: the whole suite (`tica serve`) started in-process on
//! free ports over a fresh database, with token-bearing clients.

pub mod browser;
pub mod certificates;
pub mod interop;
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

/// How clients reach the suite's gRPC port and public pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plaintext on loopback.
    Plaintext,
    /// TLS with the test PKI's server certificate (`shared/testkit/tls/server.pem`, for
    /// `localhost` and 127.0.0.1); no client certificate asked.
    Tls,
    /// TLS, and the gRPC port accepts only clients with a certificate of the test CA: the
    /// cluster's clients present `client.pem`, as the province's gateway presents its own.
    MutualTls,
}

/// A file of the committed test PKI in `shared/testkit/tls/` (not secret: tests only): `ca.pem`,
/// `server.pem`/`.key`, `client.pem`/`.key` (both of the test CA), `stranger.pem`/`.key` (of
/// `other-ca.pem`).
pub fn test_pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testkit/tls")
        .join(name)
}

/// A client's TLS that trusts the test CA and presents `identity` (`"client"`, `"stranger"`:
/// `{identity}.pem` and `.key` of [`test_pki`]) when given; its `channel`/`endpoint` dial
/// `https://` URLs.
pub fn client_tls(identity: Option<&str>) -> tica_server::tls::Tls {
    let read = |name: &str| std::fs::read(test_pki(name)).expect("the test PKI is committed");
    tica_server::tls::Tls::from_pem(
        identity.map(|name| (read(&format!("{name}.pem")), read(&format!("{name}.key")))),
        None,
        Some(read("ca.pem")),
    )
    .expect("the test PKI makes a client configuration")
}

/// The suite for one test.
#[derive(Debug)]
pub struct Cluster {
    /// The running servers.
    pub suite: Option<Suite>,
    /// A connected channel to the gRPC address (over TLS, with the test client's certificate,
    /// when the cluster serves TLS).
    pub channel: Channel,
    callers: Callers,
    storage: Storage,
    transport: Transport,
}

/// Where a cluster keeps its data.
#[derive(Debug)]
struct Storage {
    data_dir: PathBuf,
    database_url: Option<String>,
    prefix: Option<String>,
}

/// Starts the suite over `storage`, reached by `transport`, QR codes pointing at
/// `verify_base_url` (default: the suite's own pages); the suite, a connected channel, callers.
async fn serve(
    storage: &Storage,
    transport: Transport,
    verify_base_url: Option<String>,
) -> (Suite, Channel, Callers) {
    let tls = transport != Transport::Plaintext;
    let args = ServeArgs {
        grpc: "127.0.0.1:0".parse().unwrap(),
        http: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        data_dir: storage.data_dir.clone(),
        database_url: storage.database_url.clone(),
        token_public_keys: None,
        database_schema_prefix: storage.prefix.clone(),
        evidence_store: None,
        verify_base_url,
        cert_keys: None,
        cert_active_key: None,
        certificate_public: Default::default(),
        imports: Default::default(),
        edge: tica_server::edge::EdgeConfig::default(),
        tls: tica_server::tls::TlsArgs {
            tls_cert: tls.then(|| test_pki("server.pem")),
            tls_key: tls.then(|| test_pki("server.key")),
            tls_client_ca: (transport == Transport::MutualTls).then(|| test_pki("ca.pem")),
            // The services inside call this process's own port: they trust the test CA.
            tls_ca: tls.then(|| test_pki("ca.pem")),
            allow_plaintext: false,
        },
    };
    let suite = start(&args).await.expect("the suite starts");
    let channel = match transport {
        Transport::Plaintext => {
            tica_testkit::grpc::connect(format!("http://{}", suite.grpc_addr)).await
        }
        Transport::Tls | Transport::MutualTls => {
            let identity = (transport == Transport::MutualTls).then_some("client");
            client_tls(identity)
                .endpoint(&format!("https://{}", suite.grpc_addr))
                .expect("an https endpoint")
                .connect()
                .await
                .expect("the client connects over TLS")
        }
    };
    let keys = Keys::from_pair(
        tica::token::dev_key(&storage.data_dir).expect("the suite created its key"),
    );
    let callers = Callers::new(keys, channel.clone(), channel.clone(), "e2e");
    (suite, channel, callers)
}

impl Cluster {
    /// Starts the suite on `backend`, plaintext on loopback; `None` when PostgreSQL is asked for
    /// but not configured.
    pub async fn start(backend: Backend) -> Option<Cluster> {
        Cluster::start_with(backend, Transport::Plaintext).await
    }

    /// As [`Cluster::start`], under mutual TLS with the test PKI ([`Transport::MutualTls`]):
    /// the cluster's channel trusts the test CA and presents the test client's certificate.
    pub async fn start_tls(backend: Backend) -> Option<Cluster> {
        Cluster::start_with(backend, Transport::MutualTls).await
    }

    /// As [`Cluster::start`], reached by `transport`.
    pub async fn start_with(backend: Backend, transport: Transport) -> Option<Cluster> {
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
        let storage = Storage {
            data_dir,
            database_url,
            prefix,
        };
        let (suite, channel, callers) = serve(&storage, transport, None).await;
        Some(Cluster {
            suite: Some(suite),
            channel,
            callers,
            storage,
            transport,
        })
    }

    /// Stops the suite and starts it again over the same data (databases, keys, evidence),
    /// reached by `transport` — as an operator turns TLS on. The QR codes keep pointing at the
    /// same base URL: a verification address is public and outlives a restart.
    pub async fn restart(&mut self, transport: Transport) {
        let suite = self.suite.take().expect("a running suite");
        let verify_base_url = suite.verify_base_url.clone();
        suite.shutdown().await.expect("clean shutdown");
        let (suite, channel, callers) =
            serve(&self.storage, transport, Some(verify_base_url)).await;
        self.suite = Some(suite);
        self.channel = channel;
        self.callers = callers;
        self.transport = transport;
    }

    /// How the cluster is reached.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The gRPC URL: `https://127.0.0.1:…` under TLS, else `http://…`.
    pub fn grpc_url(&self) -> String {
        let scheme = match self.transport {
            Transport::Plaintext => "http",
            Transport::Tls | Transport::MutualTls => "https",
        };
        format!("{scheme}://{}", self.suite.as_ref().unwrap().grpc_addr)
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
        &self.storage.data_dir
    }

    /// The HTTP base URL (`https://…` under TLS; [`http_request`] speaks plaintext only).
    pub fn http(&self) -> String {
        let scheme = match self.transport {
            Transport::Plaintext => "http",
            Transport::Tls | Transport::MutualTls => "https",
        };
        format!("{scheme}://{}", self.suite.as_ref().unwrap().http_addr)
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
        let _ = std::fs::remove_dir_all(&self.storage.data_dir);
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
