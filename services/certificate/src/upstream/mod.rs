//! What the certificate service needs from the assessment service (the batch and its stream of
//! certified results) and the roster (full identities, once per run, to key the teachers'
//! search), asked with the token of the office that started the run: the callee decides what
//! that office may see.

use std::collections::HashMap;

use tica_auth::BearerToken;
use tica_client::{Peers, Upstream as _, every};
use tica_domain::names::{BatchName, SchoolName, TeacherName};
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::roster::v1 as rpb;
use tonic::transport::Channel;

use crate::error::{CertificateError, Result};

mod facts;

pub use facts::{CertifiedEvent, EventKind, IssuingBatch, StreamItem};

/// A batch's certified-results stream, decoded message by message.
#[derive(Debug)]
pub struct CertifiedStream(tonic::Streaming<apb::StreamCertifiedResultsResponse>);

impl CertifiedStream {
    /// The next message; `None` at the end of the stream.
    pub async fn next(&mut self) -> std::result::Result<Option<StreamItem>, tonic::Status> {
        Ok(self.0.message().await?.map(StreamItem::from_proto))
    }
}

/// The teachers' search key, a rule of the domain; re-exported for callers and tests here.
pub use tica_domain::person::search_key;

/// The services upstream, called with the caller's token.
#[derive(Clone, Debug)]
pub struct Upstream(Peers);

impl Upstream {
    /// Clients on `assessment` and `roster` (connected lazily).
    pub fn new(assessment: Channel, roster: Channel) -> Upstream {
        Upstream(Peers::new(assessment, roster))
    }

    fn assessment(&self, token: &BearerToken) -> tica_client::Assessment {
        self.0.assessment(&token.0)
    }

    fn roster(&self, token: &BearerToken) -> tica_client::Roster {
        self.0.roster(&token.0)
    }

    /// A batch.
    pub async fn batch(&self, token: &BearerToken, id: &str) -> Result<IssuingBatch> {
        let what = BatchName::of(id);
        let batch = self
            .assessment(token)
            .get_batch(apb::GetBatchRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        Ok(IssuingBatch::from_proto(batch))
    }

    /// The batch's certified results after `after`.
    pub async fn certified_results(
        &self,
        token: &BearerToken,
        batch_id: &str,
        after: i64,
    ) -> Result<CertifiedStream> {
        let what = BatchName::of(batch_id);
        let stream = self
            .assessment(token)
            .stream_certified_results(apb::StreamCertifiedResultsRequest {
                batch: what.clone(),
                after_sequence: after,
                follow: false,
            })
            .await
            .upstream(&what)?;
        Ok(CertifiedStream(stream))
    }

    /// Search keys of the county's teachers by teacher number, from the roster's audited list
    /// of full identities (the numbers are hashed here and dropped), and their names as the
    /// roster has them now (a parked result is retried with the corrected name). `county` is
    /// `jurisdictions/{code}`.
    pub async fn search_keys(
        &self,
        token: &BearerToken,
        county: &str,
        secret: &[u8],
    ) -> Result<(HashMap<String, String>, HashMap<String, String>)> {
        let what = format!("the teachers of {county}");
        let pages = every(
            &self.roster(token),
            &what,
            |mut client, page_token| async move {
                client
                    .list_teacher_identities(rpb::ListTeacherIdentitiesRequest {
                        parent: county.to_owned(),
                        page_size: 1000,
                        page_token,
                    })
                    .await
            },
        )
        .await?;
        let mut keys = HashMap::new();
        let mut names = HashMap::new();
        for identity in pages.into_iter().flat_map(|page| page.identities) {
            let number = teacher_number(&identity.teacher)?;
            keys.insert(
                number.to_owned(),
                search_key(secret, &identity.display_name, &identity.id_number),
            );
            names.insert(number.to_owned(), identity.display_name.trim().to_owned());
        }
        Ok((keys, names))
    }

    /// The current display name of every school in `county`'s subtree (`jurisdictions/{code}`),
    /// by code: a parked result whose school name was too long is retried with the name as
    /// corrected since.
    pub async fn school_names(
        &self,
        token: &BearerToken,
        county: &str,
    ) -> Result<HashMap<String, String>> {
        let what = format!("the schools of {county}");
        let pages = every(
            &self.roster(token),
            &what,
            |mut client, page_token| async move {
                client
                    .list_schools(rpb::ListSchoolsRequest {
                        parent: county.to_owned(),
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        let mut names = HashMap::new();
        for school in pages.into_iter().flat_map(|page| page.schools) {
            let code = SchoolName::id_of(&school.name).ok_or_else(|| {
                CertificateError::Internal(format!("the roster named a school {:?}", school.name))
            })?;
            names.insert(code.to_owned(), school.display_name);
        }
        Ok(names)
    }
}

/// The number in `teachers/{number}`, as the roster names a teacher.
fn teacher_number(name: &str) -> Result<&str> {
    TeacherName::id_of(name)
        .ok_or_else(|| CertificateError::Internal(format!("the roster named a teacher {name:?}")))
}
