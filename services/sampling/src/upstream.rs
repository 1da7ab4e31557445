//! What the sampling service needs from the assessment service (batches, graded results, the
//! transitions a review decides) and the roster (assessors and where they work), asked over
//! their gRPC APIs with the caller's own bearer token: the callee decides what the caller may
//! see and do, so a review can never reach further than the office running it.

use std::collections::HashMap;

use tica_auth::BearerToken;
use tica_client::{Upstream as _, every};
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::roster::v1 as rpb;
use tonic::transport::Channel;

use crate::error::Result;

/// The channels to the services upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    assessment: Channel,
    roster: Channel,
}

/// A school code from `schools/{code}`.
pub fn school_code(name: &str) -> &str {
    name.strip_prefix("schools/").unwrap_or(name)
}

impl Upstream {
    /// Clients on `assessment` and `roster` (connected lazily).
    pub fn new(assessment: Channel, roster: Channel) -> Upstream {
        Upstream { assessment, roster }
    }

    fn assessment(&self, token: &BearerToken) -> tica_client::Assessment {
        tica_client::assessment(self.assessment.clone(), &token.0)
    }

    fn roster(&self, token: &BearerToken) -> tica_client::Roster {
        tica_client::roster(self.roster.clone(), &token.0)
    }

    /// A batch.
    pub async fn batch(&self, token: &BearerToken, id: &str) -> Result<apb::Batch> {
        let what = format!("batches/{id}");
        Ok(self
            .assessment(token)
            .get_batch(apb::GetBatchRequest { name: what.clone() })
            .await
            .upstream(&what)?)
    }

    /// Batches in `jurisdiction`'s subtree in `state`.
    pub async fn batches_in(
        &self,
        token: &BearerToken,
        jurisdiction: &str,
        state: apb::BatchState,
    ) -> Result<Vec<apb::Batch>> {
        let pages = every(
            &self.assessment(token),
            "listing batches",
            |mut client, page_token| async move {
                client
                    .list_batches(apb::ListBatchesRequest {
                        parent: format!("jurisdictions/{jurisdiction}"),
                        page_size: 1000,
                        page_token,
                        year: 0,
                        state: state as i32,
                    })
                    .await
            },
        )
        .await?;
        Ok(pages.into_iter().flat_map(|page| page.batches).collect())
    }

    /// Codes of the batch's schools whose results are in `state`.
    pub async fn schools_in_state(
        &self,
        token: &BearerToken,
        batch: &str,
        state: apb::SchoolResultState,
    ) -> Result<Vec<String>> {
        let pages = every(
            &self.assessment(token),
            "listing school results",
            |mut client, page_token| async move {
                client
                    .list_school_results(apb::ListSchoolResultsRequest {
                        parent: format!("batches/{batch}"),
                        page_size: 1000,
                        page_token,
                        state: state as i32,
                    })
                    .await
            },
        )
        .await?;
        let results = pages.into_iter().flat_map(|page| page.school_results);
        Ok(results.map(|r| school_code(&r.school).to_owned()).collect())
    }

    /// The state of a school's results in a batch.
    pub async fn school_state(
        &self,
        token: &BearerToken,
        batch: &str,
        school: &str,
    ) -> Result<i32> {
        let what = format!("batches/{batch}/schoolResults/{school}");
        Ok(self
            .assessment(token)
            .get_school_result(apb::GetSchoolResultRequest { name: what.clone() })
            .await
            .upstream(&what)?
            .state)
    }

    /// Every GRADED submission of the batch, by school, teacher number, code.
    pub async fn graded_submissions(
        &self,
        token: &BearerToken,
        batch: &str,
    ) -> Result<Vec<apb::Submission>> {
        let pages = every(
            &self.assessment(token),
            "listing graded submissions",
            |mut client, page_token| async move {
                client
                    .list_submissions(apb::ListSubmissionsRequest {
                        parent: format!("batches/{batch}"),
                        page_size: 1000,
                        page_token,
                        state: apb::SubmissionState::Graded as i32,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.submissions)
            .collect())
    }

    /// Every participant of the batch.
    pub async fn participants(
        &self,
        token: &BearerToken,
        batch: &str,
    ) -> Result<Vec<apb::Participant>> {
        let pages = every(
            &self.assessment(token),
            "listing participants",
            |mut client, page_token| async move {
                client
                    .list_participants(apb::ListParticipantsRequest {
                        parent: format!("batches/{batch}"),
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.participants)
            .collect())
    }

    /// Carries a decision to the assessment service.
    pub async fn apply(&self, token: &BearerToken, step: Step<'_>) -> Result<()> {
        let mut client = self.assessment(token);
        let (round, reason) = (step.round.to_owned(), step.reason.to_owned());
        let result = match step.change {
            Change::ApproveSchool { batch, school } => client
                .approve_school_results(apb::ApproveSchoolResultsRequest {
                    name: format!("batches/{batch}/schoolResults/{school}"),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::ReturnSchool { batch, school } => client
                .return_school_results(apb::ReturnSchoolResultsRequest {
                    name: format!("batches/{batch}/schoolResults/{school}"),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::BeginAudit { batch } => client
                .begin_province_audit(apb::BeginProvinceAuditRequest {
                    name: format!("batches/{batch}"),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::Certify { batch } => client
                .certify_batch(apb::CertifyBatchRequest {
                    name: format!("batches/{batch}"),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::ReturnBatch { batch } => client
                .return_batch(apb::ReturnBatchRequest {
                    name: format!("batches/{batch}"),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::OfflineCheck {
                batch,
                teacher,
                outcome,
            } => client
                .record_offline_check(apb::RecordOfflineCheckRequest {
                    participant: format!("batches/{batch}/participants/{teacher}"),
                    outcome: outcome as i32,
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
        };
        result.upstream(&step.change.describe())?;
        Ok(())
    }

    /// REGISTERED assessors registered anywhere in `jurisdiction`'s subtree.
    pub async fn registered_assessors(
        &self,
        token: &BearerToken,
        jurisdiction: &str,
    ) -> Result<Vec<rpb::Assessor>> {
        let pages = every(
            &self.roster(token),
            "listing assessors",
            |mut client, page_token| async move {
                client
                    .list_assessors(rpb::ListAssessorsRequest {
                        parent: format!("jurisdictions/{jurisdiction}"),
                        page_size: 1000,
                        page_token,
                        state: rpb::AssessorState::Registered as i32,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        Ok(pages.into_iter().flat_map(|page| page.assessors).collect())
    }

    /// The school each of `teachers` (numbers) works at, and the subject they teach.
    pub async fn schools_of(
        &self,
        token: &BearerToken,
        teachers: &[String],
    ) -> Result<HashMap<String, (String, String)>> {
        let mut client = self.roster(token);
        let mut out = HashMap::new();
        for chunk in teachers.chunks(1000) {
            let found = client
                .batch_get_teachers(rpb::BatchGetTeachersRequest {
                    names: chunk.iter().map(|n| format!("teachers/{n}")).collect(),
                })
                .await
                .upstream("looking up assessors' schools")?;
            for (number, teacher) in chunk.iter().zip(found.teachers) {
                out.insert(
                    number.clone(),
                    (school_code(&teacher.school).to_owned(), teacher.subject),
                );
            }
        }
        Ok(out)
    }
}

/// A change a review carries to the assessment service.
#[derive(Clone, Debug)]
pub enum Change<'a> {
    /// IN_COUNTY_REVIEW → COUNTY_APPROVED.
    ApproveSchool {
        /// Batch id.
        batch: &'a str,
        /// School code.
        school: &'a str,
    },
    /// IN_COUNTY_REVIEW → RETURNED.
    ReturnSchool {
        /// Batch id.
        batch: &'a str,
        /// School code.
        school: &'a str,
    },
    /// READY_FOR_AUDIT → IN_PROVINCE_AUDIT.
    BeginAudit {
        /// Batch id.
        batch: &'a str,
    },
    /// IN_PROVINCE_AUDIT → CERTIFIED.
    Certify {
        /// Batch id.
        batch: &'a str,
    },
    /// IN_PROVINCE_AUDIT → RETURNED_TO_COUNTY.
    ReturnBatch {
        /// Batch id.
        batch: &'a str,
    },
    /// A drawn teacher's offline check.
    OfflineCheck {
        /// Batch id.
        batch: &'a str,
        /// Teacher number.
        teacher: &'a str,
        /// PENDING, PASSED or FAILED.
        outcome: apb::OfflineCheck,
    },
}

impl Change<'_> {
    /// The assessment resource it changes.
    pub fn target(&self) -> String {
        match self {
            Change::ApproveSchool { batch, school } | Change::ReturnSchool { batch, school } => {
                format!("batches/{batch}/schoolResults/{school}")
            }
            Change::BeginAudit { batch }
            | Change::Certify { batch }
            | Change::ReturnBatch { batch } => {
                format!("batches/{batch}")
            }
            Change::OfflineCheck { batch, teacher, .. } => {
                format!("batches/{batch}/participants/{teacher}")
            }
        }
    }

    fn describe(&self) -> String {
        let verb = match self {
            Change::ApproveSchool { .. } => "approving",
            Change::ReturnSchool { .. } => "returning",
            Change::BeginAudit { .. } => "starting the audit of",
            Change::Certify { .. } => "certifying",
            Change::ReturnBatch { .. } => "returning",
            Change::OfflineCheck { .. } => "recording the offline check of",
        };
        format!("{verb} {}", self.target())
    }
}

/// One change with the round deciding it and why.
#[derive(Clone, Debug)]
pub struct Step<'a> {
    /// What.
    pub change: Change<'a>,
    /// `reviewRounds/{id}`.
    pub round: &'a str,
    /// Why.
    pub reason: &'a str,
}
