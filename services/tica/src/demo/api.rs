//! The demo's way into a running suite: scoped tokens, clients, and the few multi-call steps
//! (register an assessor, upload a file, follow an issuance run) it repeats.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tica_domain::names::AssessorName;

use anyhow::{Context, anyhow};
use futures::{StreamExt, TryStreamExt};
use tica_auth::{Role, TokenSigner};
use tica_client::Roster as RosterClient;
use tica_domain::division::DivisionCode;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::certificate::v1::certificate_service_client::CertificateServiceClient;
use tica_proto::tica::roster::v1 as roster;
use tonic::transport::Channel;

pub use tica_client::{
    Assessment as AssessmentClient, Certificate as CertificateClient, Sampling as SamplingClient,
};

/// Who a token is for: subject, role, jurisdiction, school.
type TokenKey = (String, Role, String, Option<String>);

/// A running suite the demo drives: its gRPC channel (or one per service, when they run
/// apart), a key that signs tokens it trusts, and its HTTP base URL (the verification pages).
pub struct Target {
    channel: Channel,
    services: Option<Services>,
    signer: TokenSigner,
    http_base: String,
    tokens: Mutex<HashMap<TokenKey, String>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("http_base", &self.http_base)
            .finish_non_exhaustive()
    }
}

/// One channel per service, for services deployed apart (the four binaries).
#[derive(Clone, Debug)]
pub struct Services {
    /// The roster service.
    pub roster: Channel,
    /// The assessment service.
    pub assessment: Channel,
    /// The sampling service.
    pub sampling: Channel,
    /// The certificate service.
    pub certificate: Channel,
}

impl Target {
    /// A target reached through `channel`, trusting tokens of `signer`, serving pages at
    /// `http_base` (`http://host:port`).
    pub fn new(channel: Channel, signer: TokenSigner, http_base: impl Into<String>) -> Target {
        Target {
            channel,
            services: None,
            signer,
            http_base: http_base.into(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// A target whose services run apart, each reached through its own channel. (The reports,
    /// which read assessment and sampling through one channel, need [`Target::new`].)
    pub fn apart(services: Services, signer: TokenSigner, http_base: impl Into<String>) -> Target {
        Target {
            channel: services.assessment.clone(),
            services: Some(services),
            signer,
            http_base: http_base.into(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn channel_of(&self, pick: fn(&Services) -> &Channel) -> Channel {
        self.services
            .as_ref()
            .map_or_else(|| self.channel.clone(), |s| pick(s).clone())
    }

    /// The HTTP base URL.
    pub fn http_base(&self) -> &str {
        &self.http_base
    }

    /// The gRPC channel.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A token for `subject` as `role` acting for `jurisdiction` (a bare code) and `school`;
    /// minted once per combination and kept for the run (an hour).
    pub fn token(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> String {
        let key = (
            subject.to_owned(),
            role,
            jurisdiction.to_owned(),
            school.map(str::to_owned),
        );
        let mut tokens = self
            .tokens
            .lock()
            .expect("the token cache is never poisoned");
        tokens
            .entry(key)
            .or_insert_with(|| {
                self.signer
                    .mint(
                        subject,
                        role,
                        DivisionCode::parse(jurisdiction).expect("the demo's codes are valid"),
                        school,
                        Duration::from_secs(3600),
                    )
                    .expect("the demo's claims are valid")
            })
            .clone()
    }

    /// A roster client.
    pub fn roster(&self, subject: &str, role: Role, jurisdiction: &str) -> RosterClient {
        tica_client::roster(
            self.channel_of(|s| &s.roster),
            &self.token(subject, role, jurisdiction, None),
        )
    }

    /// An assessment client.
    pub fn assessment(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> AssessmentClient {
        tica_client::assessment(
            self.channel_of(|s| &s.assessment),
            &self.token(subject, role, jurisdiction, school),
        )
    }

    /// A sampling client.
    pub fn sampling(&self, subject: &str, role: Role, jurisdiction: &str) -> SamplingClient {
        tica_client::sampling(
            self.channel_of(|s| &s.sampling),
            &self.token(subject, role, jurisdiction, None),
        )
    }

    /// A certificate client.
    pub fn certificates(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> CertificateClient {
        tica_client::certificate(
            self.channel_of(|s| &s.certificate),
            &self.token(subject, role, jurisdiction, school),
        )
    }

    /// The certificate service as anyone reaches it: no token (verification).
    pub fn public_certificates(&self) -> CertificateServiceClient<Channel> {
        CertificateServiceClient::new(self.channel_of(|s| &s.certificate))
    }
}

/// Runs `work` for every item with at most `limit` in flight; the results in completion
/// order, or the first error.
pub async fn each<T, R, F, Fut>(
    items: impl IntoIterator<Item = T>,
    limit: usize,
    work: F,
) -> anyhow::Result<Vec<R>>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = anyhow::Result<R>>,
{
    futures::stream::iter(items)
        .map(work)
        .buffer_unordered(limit.max(1))
        .try_collect()
        .await
}

/// Creates, certifies and registers an assessor for `teacher` at `at` (`schools/{code}` or
/// `jurisdictions/{code}`) as the county office; the assessor's id.
pub async fn register_assessor(
    office: &mut RosterClient,
    teacher: &str,
    level: roster::AssessorLevel,
    at: &str,
    issued_by: &str,
) -> anyhow::Result<String> {
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
        .context("CreateAssessor")?
        .into_inner();
    office
        .certify_assessor(roster::CertifyAssessorRequest {
            name: created.name.clone(),
            certification: Some(roster::AssessorCertification {
                certificate_number: format!("CP-2022-{teacher}"),
                exam_date: Some(tica_proto::google::r#type::Date {
                    year: 2022,
                    month: 4,
                    day: 20,
                }),
                issued_by: issued_by.into(),
            }),
        })
        .await
        .context("CertifyAssessor")?;
    office
        .register_assessor(roster::RegisterAssessorRequest {
            name: created.name.clone(),
        })
        .await
        .context("RegisterAssessor")?;
    Ok(AssessorName::id_of(&created.name)
        .unwrap_or(&created.name)
        .to_owned())
}

/// Streams one evidence file: the metadata, then the bytes in 64 KiB chunks.
pub async fn upload_evidence(
    client: &mut AssessmentClient,
    participant: &str,
    evidence: pb::Evidence,
    bytes: &[u8],
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages = vec![pb::UploadEvidenceRequest {
        parent: participant.to_owned(),
        payload: Some(pb::upload_evidence_request::Payload::Evidence(evidence)),
    }];
    for chunk in bytes.chunks(64 << 10) {
        messages.push(pb::UploadEvidenceRequest {
            parent: String::new(),
            payload: Some(pb::upload_evidence_request::Payload::Chunk(chunk.to_vec())),
        });
    }
    client
        .upload_evidence(futures::stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// Starts an issuance run of `batch` and follows it to its end; the run as it ended.
pub async fn issue(
    office: &mut CertificateClient,
    batch: &str,
) -> anyhow::Result<cpb::IssuanceRun> {
    let run = office
        .start_issuance_run(cpb::StartIssuanceRunRequest {
            batch: batch.to_owned(),
            ..Default::default()
        })
        .await
        .context("StartIssuanceRun")?
        .into_inner();
    let mut watch = office
        .watch_issuance_run(cpb::WatchIssuanceRunRequest { name: run.name })
        .await
        .context("WatchIssuanceRun")?
        .into_inner();
    let mut last = None;
    while let Some(update) = watch.message().await.context("WatchIssuanceRun")? {
        last = Some(update);
    }
    last.ok_or_else(|| anyhow!("the issuance run's watch ended without a state"))
}

/// A certificate's PDF.
pub async fn download(client: &mut CertificateClient, name: &str) -> anyhow::Result<Vec<u8>> {
    use cpb::download_certificate_pdf_response::Payload;
    let mut stream = client
        .download_certificate_pdf(cpb::DownloadCertificatePdfRequest {
            name: name.to_owned(),
        })
        .await
        .with_context(|| format!("DownloadCertificatePdf {name}"))?
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(m) = stream.message().await? {
        if let Some(Payload::Chunk(c)) = m.payload {
            bytes.extend_from_slice(&c);
        }
    }
    Ok(bytes)
}

/// A plain HTTP/1.1 GET (`Connection: close`) of `path` at `base`; the whole answer.
pub async fn http_get(base: &str, path: &str) -> anyhow::Result<String> {
    http_post(base, path, "", b"").await
}

/// A plain HTTP/1.1 request (`Connection: close`): a POST of `body` as `content_type`, or a
/// GET when `content_type` is empty; the whole answer.
pub async fn http_post(
    base: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .with_context(|| format!("connecting to {host}"))?;
    let head = if content_type.is_empty() {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    } else {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
    };
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
