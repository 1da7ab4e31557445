//! The gRPC adapter: authenticate, convert, call the logic, convert. The tonic trait is
//! implemented here in one thin block; each RPC's body lives in its resource's file.

mod audit;
mod batches;
mod catalogue;
mod evidence;
mod hours;
mod participants;
mod policies;
mod progress;
mod results;
mod submissions;

use std::collections::HashMap;
use std::pin::Pin;
use tica_domain::names::SchoolName;

use futures::{Stream, StreamExt};

use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_domain::micro_competency::MICRO_COMPETENCIES;
use tica_domain::policy::{self as d, Preset};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::assessment::v1::assessment_service_server::AssessmentService;
use tica_proto::tica::common::v1 as common;
use tica_server::paging::Page;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{self, policy as pconv};
use crate::error::AssessmentError;
use crate::model::*;
use crate::service::progress::Level;
use crate::service::{
    self, Assessment, BatchUpdate, Ctx, EvidenceUpload, GradeRequest, HoursPush, NewBatch,
    PolicyChange, PushOutcome,
};
use crate::store::{ParticipantFilter, SubmissionFilter};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct AssessmentGrpc {
    svc: Assessment,
}

impl AssessmentGrpc {
    /// Serves `svc`.
    pub fn new(svc: Assessment) -> AssessmentGrpc {
        AssessmentGrpc { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;
type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn ctx<T>(request: &Request<T>) -> Result<Ctx, Status> {
    Ctx::from_request(crate::service::SERVICE_NAME, request)
}

fn page<K: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    size: i32,
    token: &str,
    filter: String,
) -> Result<(Page<K>, Option<K>), Status> {
    let page: Page<K> = Page::from_request(size, token, &filter)?;
    let after = page.after.clone();
    Ok((page, after))
}

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

fn err(e: AssessmentError) -> Status {
    e.into()
}

impl AssessmentGrpc {
    /// A school result just changed by the caller, with its figures (no second read or access
    /// check: the change already did both).
    async fn school_result_reply(
        &self,
        result: crate::model::SchoolResultRecord,
    ) -> Reply<pb::SchoolResult> {
        let (result, f) = self.svc.with_figures(result).await?;
        ok(convert::school_result_to_proto(&result, &f))
    }

    async fn batch_proto(&self, b: &BatchRecord) -> Result<pb::Batch, Status> {
        let figures = self.svc.batch_figures(b).await?;
        Ok(convert::batch_to_proto(b, &figures)?)
    }

    fn participant_proto(&self, p: &ParticipantRecord, b: &BatchRecord) -> pb::Participant {
        convert::participant_to_proto(p, self.svc.reference_date(b).ok())
    }

    /// The display name of a progress parent (`schools/…` or `jurisdictions/…`), or empty.
    async fn parent_name(&self, ctx: &Ctx, parent: &str) -> Result<String, Status> {
        Ok(self
            .svc
            .unit_names(ctx, &[parent])
            .await?
            .remove(parent)
            .unwrap_or_default())
    }

    /// The scope a progress unit or parent names.
    async fn unit_scope(
        &self,
        ctx: &Ctx,
        field: &str,
        unit: &str,
    ) -> Result<(ScopePath, Level), Status> {
        if let Some(code) = SchoolName::id_of(unit) {
            let school = self.svc.roster().school(&ctx.token, code).await?;
            return Ok((school.path(), Level::School));
        }
        let code = convert::code_in(field, unit, "jurisdictions")?;
        let level = match code.level() {
            tica_domain::JurisdictionLevel::Province => Level::Province,
            tica_domain::JurisdictionLevel::City => Level::City,
            tica_domain::JurisdictionLevel::County => Level::County,
        };
        Ok((ScopePath::for_jurisdiction(code), level))
    }
}

fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<Vec<&'static str>, Status> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(AssessmentError::invalid(
            "update_mask",
            format!("required: one or more of {}", allowed.join(", ")),
        )
        .into());
    }
    if paths.iter().any(|p| p == "*") {
        return Ok(allowed.to_vec());
    }
    let mut out = Vec::new();
    for path in paths {
        match allowed.iter().find(|a| **a == path) {
            Some(a) => out.push(*a),
            None => {
                return Err(AssessmentError::invalid(
                    "update_mask",
                    format!(
                        "{path:?} cannot be updated; updatable: {}",
                        allowed.join(", ")
                    ),
                )
                .into());
            }
        }
    }
    Ok(out)
}

#[tonic::async_trait]
impl AssessmentService for AssessmentGrpc {
    async fn get_micro_competency(
        &self,
        request: Request<pb::GetMicroCompetencyRequest>,
    ) -> Reply<pb::MicroCompetency> {
        catalogue::get_micro_competency(request).await
    }

    async fn list_micro_competencies(
        &self,
        request: Request<pb::ListMicroCompetenciesRequest>,
    ) -> Reply<pb::ListMicroCompetenciesResponse> {
        catalogue::list_micro_competencies(request).await
    }

    async fn list_policy_presets(
        &self,
        request: Request<pb::ListPolicyPresetsRequest>,
    ) -> Reply<pb::ListPolicyPresetsResponse> {
        catalogue::list_policy_presets(request).await
    }

    async fn get_policy(&self, request: Request<pb::GetPolicyRequest>) -> Reply<pb::Policy> {
        policies::get_policy(self, request).await
    }

    async fn list_policies(
        &self,
        request: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        policies::list_policies(self, request).await
    }

    async fn create_policy(&self, request: Request<pb::CreatePolicyRequest>) -> Reply<pb::Policy> {
        policies::create_policy(self, request).await
    }

    async fn update_policy(&self, request: Request<pb::UpdatePolicyRequest>) -> Reply<pb::Policy> {
        policies::update_policy(self, request).await
    }

    async fn get_policy_version(
        &self,
        request: Request<pb::GetPolicyVersionRequest>,
    ) -> Reply<pb::PolicyVersion> {
        policies::get_policy_version(self, request).await
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Reply<pb::ListPolicyVersionsResponse> {
        policies::list_policy_versions(self, request).await
    }

    async fn get_effective_policy(
        &self,
        request: Request<pb::GetEffectivePolicyRequest>,
    ) -> Reply<pb::EffectivePolicy> {
        policies::get_effective_policy(self, request).await
    }

    async fn get_batch(&self, request: Request<pb::GetBatchRequest>) -> Reply<pb::Batch> {
        batches::get_batch(self, request).await
    }

    async fn list_batches(
        &self,
        request: Request<pb::ListBatchesRequest>,
    ) -> Reply<pb::ListBatchesResponse> {
        batches::list_batches(self, request).await
    }

    async fn create_batch(&self, request: Request<pb::CreateBatchRequest>) -> Reply<pb::Batch> {
        batches::create_batch(self, request).await
    }

    async fn update_batch(&self, request: Request<pb::UpdateBatchRequest>) -> Reply<pb::Batch> {
        batches::update_batch(self, request).await
    }

    async fn open_batch(&self, request: Request<pb::OpenBatchRequest>) -> Reply<pb::Batch> {
        batches::open_batch(self, request).await
    }

    async fn carry_over_participants(
        &self,
        request: Request<pb::CarryOverParticipantsRequest>,
    ) -> Reply<pb::CarryOverParticipantsResponse> {
        participants::carry_over_participants(self, request).await
    }

    async fn begin_province_audit(
        &self,
        request: Request<pb::BeginProvinceAuditRequest>,
    ) -> Reply<pb::Batch> {
        batches::begin_province_audit(self, request).await
    }

    async fn certify_batch(&self, request: Request<pb::CertifyBatchRequest>) -> Reply<pb::Batch> {
        batches::certify_batch(self, request).await
    }

    async fn return_batch(&self, request: Request<pb::ReturnBatchRequest>) -> Reply<pb::Batch> {
        batches::return_batch(self, request).await
    }

    async fn get_participant(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Reply<pb::Participant> {
        participants::get_participant(self, request).await
    }

    async fn list_participants(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Reply<pb::ListParticipantsResponse> {
        participants::list_participants(self, request).await
    }

    async fn enrol_participants(
        &self,
        request: Request<pb::EnrolParticipantsRequest>,
    ) -> Reply<pb::EnrolParticipantsResponse> {
        participants::enrol_participants(self, request).await
    }

    async fn withdraw_participant(
        &self,
        request: Request<pb::WithdrawParticipantRequest>,
    ) -> Reply<pb::Participant> {
        participants::withdraw_participant(self, request).await
    }

    async fn get_selection(
        &self,
        request: Request<pb::GetSelectionRequest>,
    ) -> Reply<pb::Selection> {
        participants::get_selection(self, request).await
    }

    async fn check_selection(
        &self,
        request: Request<pb::CheckSelectionRequest>,
    ) -> Reply<pb::SelectionVerdict> {
        participants::check_selection(self, request).await
    }

    async fn submit_selection(
        &self,
        request: Request<pb::SubmitSelectionRequest>,
    ) -> Reply<pb::Selection> {
        participants::submit_selection(self, request).await
    }

    async fn batch_push_hours_records(
        &self,
        request: Request<pb::BatchPushHoursRecordsRequest>,
    ) -> Reply<pb::BatchPushHoursRecordsResponse> {
        hours::batch_push_hours_records(self, request).await
    }

    async fn get_hours_record(
        &self,
        request: Request<pb::GetHoursRecordRequest>,
    ) -> Reply<pb::HoursRecord> {
        hours::get_hours_record(self, request).await
    }

    async fn list_hours_records(
        &self,
        request: Request<pb::ListHoursRecordsRequest>,
    ) -> Reply<pb::ListHoursRecordsResponse> {
        hours::list_hours_records(self, request).await
    }

    async fn upload_evidence(
        &self,
        request: Request<Streaming<pb::UploadEvidenceRequest>>,
    ) -> Reply<pb::Evidence> {
        evidence::upload_evidence(self, request).await
    }

    async fn get_evidence(&self, request: Request<pb::GetEvidenceRequest>) -> Reply<pb::Evidence> {
        evidence::get_evidence(self, request).await
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Reply<pb::ListEvidenceResponse> {
        evidence::list_evidence(self, request).await
    }

    type DownloadEvidenceStream = Stream_<pb::DownloadEvidenceResponse>;

    async fn download_evidence(
        &self,
        request: Request<pb::DownloadEvidenceRequest>,
    ) -> Reply<Self::DownloadEvidenceStream> {
        evidence::download_evidence(self, request).await
    }

    async fn delete_evidence(&self, request: Request<pb::DeleteEvidenceRequest>) -> Reply<()> {
        evidence::delete_evidence(self, request).await
    }

    async fn get_submission(
        &self,
        request: Request<pb::GetSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        submissions::get_submission(self, request).await
    }

    async fn list_submissions(
        &self,
        request: Request<pb::ListSubmissionsRequest>,
    ) -> Reply<pb::ListSubmissionsResponse> {
        submissions::list_submissions(self, request).await
    }

    async fn submit_submission(
        &self,
        request: Request<pb::SubmitSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        submissions::submit_submission(self, request).await
    }

    async fn return_submission(
        &self,
        request: Request<pb::ReturnSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        submissions::return_submission(self, request).await
    }

    async fn grade_submission(
        &self,
        request: Request<pb::GradeSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        submissions::grade_submission(self, request).await
    }

    async fn get_school_result(
        &self,
        request: Request<pb::GetSchoolResultRequest>,
    ) -> Reply<pb::SchoolResult> {
        results::get_school_result(self, request).await
    }

    async fn list_school_results(
        &self,
        request: Request<pb::ListSchoolResultsRequest>,
    ) -> Reply<pb::ListSchoolResultsResponse> {
        results::list_school_results(self, request).await
    }

    async fn submit_school_results(
        &self,
        request: Request<pb::SubmitSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        results::submit_school_results(self, request).await
    }

    async fn approve_school_results(
        &self,
        request: Request<pb::ApproveSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        results::approve_school_results(self, request).await
    }

    async fn return_school_results(
        &self,
        request: Request<pb::ReturnSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        results::return_school_results(self, request).await
    }

    async fn record_offline_check(
        &self,
        request: Request<pb::RecordOfflineCheckRequest>,
    ) -> Reply<pb::Participant> {
        results::record_offline_check(self, request).await
    }

    async fn withdraw_certified_result(
        &self,
        request: Request<pb::WithdrawCertifiedResultRequest>,
    ) -> Reply<pb::Participant> {
        results::withdraw_certified_result(self, request).await
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Reply<pb::ProgressRow> {
        progress::get_progress(self, request).await
    }

    async fn list_progress(
        &self,
        request: Request<pb::ListProgressRequest>,
    ) -> Reply<pb::ListProgressResponse> {
        progress::list_progress(self, request).await
    }

    type ExportProgressStream = Stream_<pb::ExportProgressResponse>;

    async fn export_progress(
        &self,
        request: Request<pb::ExportProgressRequest>,
    ) -> Reply<Self::ExportProgressStream> {
        progress::export_progress(self, request).await
    }

    async fn get_principal_appraisal(
        &self,
        request: Request<pb::GetPrincipalAppraisalRequest>,
    ) -> Reply<pb::PrincipalAppraisal> {
        results::get_principal_appraisal(self, request).await
    }

    async fn list_micro_competency_progress(
        &self,
        request: Request<pb::ListMicroCompetencyProgressRequest>,
    ) -> Reply<pb::ListMicroCompetencyProgressResponse> {
        progress::list_micro_competency_progress(self, request).await
    }

    type StreamCertifiedResultsStream = Stream_<pb::StreamCertifiedResultsResponse>;

    async fn stream_certified_results(
        &self,
        request: Request<pb::StreamCertifiedResultsRequest>,
    ) -> Reply<Self::StreamCertifiedResultsStream> {
        results::stream_certified_results(self, request).await
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        audit::list_audit_events(self, request).await
    }
}
