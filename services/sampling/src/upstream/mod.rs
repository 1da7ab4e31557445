//! What the sampling service needs from the assessment service (batches, graded results, the
//! transitions a review decides), the roster (assessors and where they work) and the
//! certificate service (the transparency log a round commits its draw to), asked over
//! their gRPC APIs with the caller's own bearer token: the callee decides what the caller may
//! see and do, so a review can never reach further than the office running it. Every answer
//! is decoded in [`facts`]; nothing else in the service reads an upstream proto.

mod facts;

use facts::school_code;
pub use facts::{
    BatchState, GradedWork, LoggedEntry, OfflineOutcome, Placement, RegisteredAssessor,
    ReviewBatch, SchoolState, grade_from,
};

use std::collections::HashMap;

use tica_auth::BearerToken;
use tica_client::{Peers, Upstream as _, every};
use tica_domain::names::{BatchName, JurisdictionName, TeacherName};
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::roster::v1 as rpb;
use tonic::transport::Channel;

use crate::error::Result;

/// The services upstream, called with the caller's token.
#[derive(Clone, Debug)]
pub struct Upstream {
    peers: Peers,
    certificate: Channel,
}

impl Upstream {
    /// Clients on `assessment`, `roster` and `certificate` (connected lazily).
    pub fn new(assessment: Channel, roster: Channel, certificate: Channel) -> Upstream {
        Upstream {
            peers: Peers::new(assessment, roster),
            certificate,
        }
    }

    fn assessment(&self, token: &BearerToken) -> tica_client::Assessment {
        self.peers.assessment(&token.0)
    }

    fn roster(&self, token: &BearerToken) -> tica_client::Roster {
        self.peers.roster(&token.0)
    }

    /// Appends `round`'s draw commitment to the transparency log (the certificate service's
    /// RecordDrawCommitment, idempotent for the same values), answering the entry.
    pub async fn record_draw_commitment(
        &self,
        token: &BearerToken,
        round: &str,
        population_sha256: &str,
        plan_sha256: &str,
        tool_version: &str,
    ) -> Result<LoggedEntry> {
        let what = format!("the draw commitment of {round} in the transparency log");
        let entry = tica_client::certificate(self.certificate.clone(), &token.0)
            .record_draw_commitment(cpb::RecordDrawCommitmentRequest {
                review_round: round.to_owned(),
                population_sha256: population_sha256.to_owned(),
                plan_sha256: plan_sha256.to_owned(),
                tool_version: tool_version.to_owned(),
            })
            .await
            .upstream(&what)?;
        Ok(LoggedEntry::from_proto(entry))
    }

    /// A batch.
    pub async fn batch(&self, token: &BearerToken, id: &str) -> Result<ReviewBatch> {
        let what = BatchName::of(id);
        let batch = self
            .assessment(token)
            .get_batch(apb::GetBatchRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        Ok(ReviewBatch::from_proto(batch))
    }

    /// Batches in `jurisdiction`'s subtree in `state`.
    pub async fn batches_in(
        &self,
        token: &BearerToken,
        jurisdiction: &str,
        state: BatchState,
    ) -> Result<Vec<ReviewBatch>> {
        let pages = every(
            &self.assessment(token),
            "listing batches",
            |mut client, page_token| async move {
                client
                    .list_batches(apb::ListBatchesRequest {
                        parent: JurisdictionName::of(jurisdiction),
                        page_size: 1000,
                        page_token,
                        year: 0,
                        state: apb::BatchState::from(state) as i32,
                    })
                    .await
            },
        )
        .await?;
        let batches = pages.into_iter().flat_map(|page| page.batches);
        Ok(batches.map(ReviewBatch::from_proto).collect())
    }

    /// Codes of the batch's schools whose results are in `state`.
    pub async fn schools_in_state(
        &self,
        token: &BearerToken,
        batch: &str,
        state: SchoolState,
    ) -> Result<Vec<String>> {
        let pages = every(
            &self.assessment(token),
            "listing school results",
            |mut client, page_token| async move {
                client
                    .list_school_results(apb::ListSchoolResultsRequest {
                        parent: BatchName::of(batch),
                        page_size: 1000,
                        page_token,
                        state: state.to_proto() as i32,
                    })
                    .await
            },
        )
        .await?;
        let results = pages.into_iter().flat_map(|page| page.school_results);
        Ok(results.map(|r| school_code(&r.school)).collect())
    }

    /// The state of a school's results in a batch.
    pub async fn school_state(
        &self,
        token: &BearerToken,
        batch: &str,
        school: &str,
    ) -> Result<SchoolState> {
        let what = format!("batches/{batch}/schoolResults/{school}");
        let result = self
            .assessment(token)
            .get_school_result(apb::GetSchoolResultRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        Ok(SchoolState::from_proto(result.state))
    }

    /// Every GRADED submission of the batch that carries a grade.
    pub async fn graded_submissions(
        &self,
        token: &BearerToken,
        batch: &str,
    ) -> Result<Vec<GradedWork>> {
        let pages = every(
            &self.assessment(token),
            "listing graded submissions",
            |mut client, page_token| async move {
                client
                    .list_submissions(apb::ListSubmissionsRequest {
                        parent: BatchName::of(batch),
                        page_size: 1000,
                        page_token,
                        state: apb::SubmissionState::Graded as i32,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        let submissions = pages.into_iter().flat_map(|page| page.submissions);
        Ok(submissions
            .filter_map(GradedWork::from_submission)
            .collect())
    }

    /// The online grade of every participant of the batch that has one, for visits.
    pub async fn online_grades(&self, token: &BearerToken, batch: &str) -> Result<Vec<GradedWork>> {
        let pages = every(
            &self.assessment(token),
            "listing participants",
            |mut client, page_token| async move {
                client
                    .list_participants(apb::ListParticipantsRequest {
                        parent: BatchName::of(batch),
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        let participants = pages.into_iter().flat_map(|page| page.participants);
        Ok(participants
            .filter_map(GradedWork::from_participant)
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
                    name: BatchName::of(batch),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::Certify { batch } => client
                .certify_batch(apb::CertifyBatchRequest {
                    name: BatchName::of(batch),
                    review_round: round,
                    reason,
                })
                .await
                .map(|_| tonic::Response::new(())),
            Change::ReturnBatch { batch } => client
                .return_batch(apb::ReturnBatchRequest {
                    name: BatchName::of(batch),
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
                    outcome: apb::OfflineCheck::from(outcome) as i32,
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
    ) -> Result<Vec<RegisteredAssessor>> {
        let pages = every(
            &self.roster(token),
            "listing assessors",
            |mut client, page_token| async move {
                client
                    .list_assessors(rpb::ListAssessorsRequest {
                        parent: JurisdictionName::of(jurisdiction),
                        page_size: 1000,
                        page_token,
                        state: rpb::AssessorState::Registered as i32,
                        ..Default::default()
                    })
                    .await
            },
        )
        .await?;
        let assessors = pages.into_iter().flat_map(|page| page.assessors);
        Ok(assessors.map(RegisteredAssessor::from_proto).collect())
    }

    /// The school each of `teachers` (numbers) works at, and the subject they teach.
    pub async fn schools_of(
        &self,
        token: &BearerToken,
        teachers: &[String],
    ) -> Result<HashMap<String, Placement>> {
        let mut client = self.roster(token);
        let mut out = HashMap::new();
        for chunk in teachers.chunks(1000) {
            let found = client
                .batch_get_teachers(rpb::BatchGetTeachersRequest {
                    names: chunk.iter().map(|n| TeacherName::of(n)).collect(),
                })
                .await
                .upstream("looking up assessors' schools")?;
            for (number, teacher) in chunk.iter().zip(found.teachers) {
                let placement = Placement {
                    school: school_code(&teacher.school),
                    subject: teacher.subject,
                };
                out.insert(number.clone(), placement);
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
        outcome: OfflineOutcome,
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
            | Change::ReturnBatch { batch } => BatchName::of(batch),
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
