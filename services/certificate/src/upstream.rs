//! What the certificate service needs from the assessment service (the batch and its stream of
//! certified results) and the roster (full ID numbers, once per run, to key the teachers'
//! search), asked with the token of the office that started the run: the callee decides what
//! that office may see.

use std::collections::HashMap;

use tica_auth::{Bearer, BearerToken};
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::assessment::v1::assessment_service_client::AssessmentServiceClient;
use tica_proto::tica::common::v1 as common;
use tica_roster::client::{Kind, RosterClient};
use tica_telemetry::{TracedChannel, traced};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::{CertificateError, Result};

type Assessment = AssessmentServiceClient<InterceptedService<TracedChannel, Bearer>>;

/// The channels to the services upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    assessment: Channel,
    roster: Channel,
}

/// A refusal upstream, as this service reports it.
pub fn map_status(status: tonic::Status, what: &str) -> CertificateError {
    match status.code() {
        tonic::Code::NotFound => CertificateError::NotFound(what.to_owned()),
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
            CertificateError::PermissionDenied(format!("{what}: {}", status.message()))
        }
        tonic::Code::FailedPrecondition | tonic::Code::InvalidArgument => {
            CertificateError::FailedPrecondition(format!("{what}: {}", status.message()))
        }
        _ => CertificateError::Internal(format!("{what} failed: {status}")),
    }
}

/// The teachers' search key, a rule of the domain; re-exported for callers and tests here.
pub use tica_domain::person::search_key;

impl Upstream {
    /// Clients on `assessment` and `roster` (connected lazily).
    pub fn new(assessment: Channel, roster: Channel) -> Upstream {
        Upstream { assessment, roster }
    }

    fn assessment(&self, token: &BearerToken) -> Assessment {
        AssessmentServiceClient::with_interceptor(
            traced(self.assessment.clone()),
            Bearer::new(&token.0),
        )
        .max_decoding_message_size(64 << 20)
    }

    /// A batch.
    pub async fn batch(&self, token: &BearerToken, id: &str) -> Result<apb::Batch> {
        let what = format!("batches/{id}");
        self.assessment(token)
            .get_batch(apb::GetBatchRequest { name: what.clone() })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| map_status(s, &what))
    }

    /// The batch's certified results after `after`.
    pub async fn certified_results(
        &self,
        token: &BearerToken,
        batch_id: &str,
        after: i64,
    ) -> Result<tonic::Streaming<apb::StreamCertifiedResultsResponse>> {
        let what = format!("batches/{batch_id}");
        self.assessment(token)
            .stream_certified_results(apb::StreamCertifiedResultsRequest {
                batch: what.clone(),
                after_sequence: after,
                follow: false,
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| map_status(s, &what))
    }

    /// Search keys of the county's teachers by teacher number, from one audited export of
    /// full ID numbers (the numbers are hashed here and dropped), and their names as the
    /// roster has them now (a parked result is retried with the corrected name).
    pub async fn search_keys(
        &self,
        token: &BearerToken,
        county: &str,
        secret: &[u8],
    ) -> Result<(HashMap<String, String>, HashMap<String, String>)> {
        let mut client: RosterClient = tica_roster::client::client(self.roster.clone(), &token.0);
        let exported = tica_roster::client::export(
            &mut client,
            Kind::Teachers,
            county,
            common::FileFormat::Csv,
            true,
        )
        .await
        .map_err(|s| map_status(s, &format!("the teachers of {county}")))?;
        let text = String::from_utf8_lossy(&exported.bytes);
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| CertificateError::Internal(format!("the roster's export: {e}")))?
            .clone();
        let column = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                CertificateError::Internal(format!("the roster's export has no {name} column"))
            })
        };
        let (number, name, id) = (column("教师编号")?, column("姓名")?, column("身份证号")?);
        let mut keys = HashMap::new();
        let mut names = HashMap::new();
        for row in reader.records() {
            let row =
                row.map_err(|e| CertificateError::Internal(format!("the roster's export: {e}")))?;
            let get = |i: usize| row.get(i).unwrap_or_default();
            keys.insert(
                get(number).to_owned(),
                search_key(secret, get(name), get(id)),
            );
            names.insert(get(number).to_owned(), get(name).trim().to_owned());
        }
        Ok((keys, names))
    }

    /// The current display name of every school in `county`'s subtree, by code: a parked result
    /// whose school name was too long is retried with the name as corrected since.
    pub async fn school_names(
        &self,
        token: &BearerToken,
        county: &str,
    ) -> Result<HashMap<String, String>> {
        use tica_proto::tica::roster::v1 as rpb;
        let mut client: RosterClient = tica_roster::client::client(self.roster.clone(), &token.0);
        let mut names = HashMap::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_schools(rpb::ListSchoolsRequest {
                    parent: format!("jurisdictions/{county}"),
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| map_status(s, &format!("the schools of {county}")))?
                .into_inner();
            for school in page.schools {
                if let Some(code) = school.name.strip_prefix("schools/") {
                    names.insert(code.to_owned(), school.display_name);
                }
            }
            if page.next_page_token.is_empty() || page.next_page_token == page_token {
                return Ok(names);
            }
            page_token = page.next_page_token;
        }
    }
}
