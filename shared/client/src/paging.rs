//! Every page of a list call.

use std::collections::HashSet;
use std::future::Future;

use tica_proto::tica::{assessment::v1 as assessment, certificate::v1 as certificate};
use tica_proto::tica::{roster::v1 as roster, sampling::v1 as sampling};

use crate::status::{Upstream, UpstreamError};

/// A list response that may continue on another page.
pub trait Paged {
    /// Empty on the last page.
    fn next_page_token(&self) -> &str;
}

macro_rules! paged {
    ($($t:ty),* $(,)?) => {$(
        impl Paged for $t {
            fn next_page_token(&self) -> &str {
                &self.next_page_token
            }
        }
    )*};
}

paged!(
    assessment::ListMicroCompetenciesResponse,
    assessment::ListPoliciesResponse,
    assessment::ListPolicyVersionsResponse,
    assessment::ListBatchesResponse,
    assessment::ListParticipantsResponse,
    assessment::ListHoursRecordsResponse,
    assessment::ListEvidenceResponse,
    assessment::ListSubmissionsResponse,
    assessment::ListSchoolResultsResponse,
    assessment::ListProgressResponse,
    assessment::ListMicroCompetencyProgressResponse,
    assessment::ListAuditEventsResponse,
    certificate::ListParkedResultsResponse,
    certificate::ListIssuanceRunsResponse,
    certificate::ListCertificatesResponse,
    certificate::ListAuditEventsResponse,
    roster::ListJurisdictionsResponse,
    roster::ListSchoolsResponse,
    roster::ListTeachersResponse,
    roster::ListTeamsResponse,
    roster::ListAssessorsResponse,
    roster::ListAuditEventsResponse,
    roster::ListTeacherIdentitiesResponse,
    sampling::ListReviewRoundsResponse,
    sampling::ListStrataResponse,
    sampling::ListDrawnItemsResponse,
    sampling::ListRegradesResponse,
    sampling::ListReviewUnitsResponse,
    sampling::ListUnitAgreementsResponse,
    sampling::ListAuditEventsResponse,
);

/// Every page of a list: `fetch(page_token)` from the empty token until a page answers an empty
/// `next_page_token`, in order. A token the server already gave is refused rather than followed
/// (it would loop for ever), naming `what` was listed.
pub async fn all_pages<P, E, F, Fut>(what: &str, mut fetch: F) -> Result<Vec<P>, E>
where
    P: Paged,
    E: From<UpstreamError>,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<P, E>>,
{
    let mut pages = Vec::new();
    let mut seen = HashSet::new();
    let mut token = String::new();
    loop {
        let page = fetch(token).await?;
        let next = page.next_page_token().to_owned();
        pages.push(page);
        if next.is_empty() {
            return Ok(pages);
        }
        if !seen.insert(next.clone()) {
            return Err(UpstreamError::broken(
                what,
                format!(
                    "the server gave the page token {next:?} twice (after {} pages)",
                    pages.len()
                ),
            )
            .into());
        }
        token = next;
    }
}

/// Every page of a list call made with `client`: `call(client, page_token)` sends one request
/// (on its own clone of the client), and a refusal names `what` was listed. The shape most
/// callers need: `every(&roster, "the schools of …", |mut c, page_token| async move {
/// c.list_schools(ListSchoolsRequest { page_token, .. }).await })`.
pub async fn every<C, P, F, Fut>(
    client: &C,
    what: &str,
    mut call: F,
) -> Result<Vec<P>, UpstreamError>
where
    C: Clone,
    P: Paged,
    F: FnMut(C, String) -> Fut,
    Fut: Future<Output = Result<tonic::Response<P>, tonic::Status>>,
{
    all_pages(what, |page_token| {
        let sent = call(client.clone(), page_token);
        async move { sent.await.upstream(what) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Page(&'static str);
    impl Paged for Page {
        fn next_page_token(&self) -> &str {
            self.0
        }
    }

    #[tokio::test]
    async fn pages_are_fetched_in_order_until_the_token_is_empty() {
        let mut asked = Vec::new();
        let pages: Result<Vec<Page>, UpstreamError> = all_pages("schools", |token| {
            asked.push(token.clone());
            async move {
                Ok(match token.as_str() {
                    "" => Page("a"),
                    "a" => Page("b"),
                    _ => Page(""),
                })
            }
        })
        .await;
        assert_eq!(pages.unwrap().len(), 3);
        assert_eq!(asked, ["", "a", "b"]);
    }

    #[tokio::test]
    async fn a_server_that_repeats_a_page_token_is_refused_instead_of_looping() {
        let pages: Result<Vec<Page>, UpstreamError> = all_pages("schools", |token| async move {
            Ok(if token == "b" { Page("a") } else { Page("b") })
        })
        .await;
        let error = pages.err().expect("refused");
        assert_eq!(error.refusal, crate::Refusal::Internal);
        assert!(
            error
                .to_string()
                .starts_with("schools: the server gave the page token \"b\" twice"),
            "{error}"
        );
    }
}
