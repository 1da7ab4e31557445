//! The gRPC adapter: authenticate, convert, call the logic, convert.

use std::collections::HashMap;
use std::pin::Pin;

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
        if let Some(code) = unit.strip_prefix("schools/") {
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
        ctx(&request)?;
        let code = convert::ids("name", &request.get_ref().name, &["microCompetencies"])?[0];
        let m = tica_domain::micro_competency::by_code(code).ok_or_else(|| {
            err(AssessmentError::NotFound(format!(
                "microCompetencies/{code}"
            )))
        })?;
        ok(convert::micro_competency(m))
    }

    async fn list_micro_competencies(
        &self,
        request: Request<pb::ListMicroCompetenciesRequest>,
    ) -> Reply<pb::ListMicroCompetenciesResponse> {
        ctx(&request)?;
        let r = request.into_inner();
        let (page, after) = page::<usize>(
            r.page_size,
            &r.page_token,
            format!("environment={}", r.environment),
        )?;
        let matching: Vec<(usize, &tica_domain::MicroCompetency)> = MICRO_COMPETENCIES
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                r.environment == 0 || convert::environment(m.environment) == r.environment
            })
            .collect();
        let total = matching.len() as i64;
        let rows: Vec<(usize, &tica_domain::MicroCompetency)> = matching
            .into_iter()
            .filter(|(i, _)| after.is_none_or(|a| *i > a))
            .take(page.limit() as usize)
            .collect();
        let (rows, next_page_token) = page.finish(rows, |(i, _)| *i);
        ok(pb::ListMicroCompetenciesResponse {
            micro_competencies: rows
                .into_iter()
                .map(|(_, m)| convert::micro_competency(m))
                .collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn list_policy_presets(
        &self,
        request: Request<pb::ListPolicyPresetsRequest>,
    ) -> Reply<pb::ListPolicyPresetsResponse> {
        ctx(&request)?;
        ok(pb::ListPolicyPresetsResponse {
            presets: Preset::ALL.into_iter().map(convert::preset_info).collect(),
        })
    }

    async fn get_policy(&self, request: Request<pb::GetPolicyRequest>) -> Reply<pb::Policy> {
        let c = ctx(&request)?;
        let code = convert::code_in("name", &request.get_ref().name, "policies")?;
        let p = self.svc.get_policy(&c, code).await?;
        let rules = self.svc.rules_of(&p)?;
        ok(convert::policy_to_proto(&p, &rules))
    }

    async fn list_policies(
        &self,
        request: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let parent = if r.parent.is_empty() {
            None
        } else {
            Some(convert::code_in("parent", &r.parent, "jurisdictions")?)
        };
        let (page, after) =
            page::<String>(r.page_size, &r.page_token, format!("parent={}", r.parent))?;
        let rows = self
            .svc
            .list_policies(&c, parent, after.as_deref().unwrap_or(""), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |p| p.jurisdiction.to_string());
        let policies = rows
            .iter()
            .map(|p| Ok(convert::policy_to_proto(p, &self.svc.rules_of(p)?)))
            .collect::<Result<Vec<_>, AssessmentError>>()?;
        ok(pb::ListPoliciesResponse {
            policies,
            next_page_token,
        })
    }

    async fn create_policy(&self, request: Request<pb::CreatePolicyRequest>) -> Reply<pb::Policy> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let policy = r
            .policy
            .ok_or_else(|| err(AssessmentError::invalid("policy", "required")))?;
        let code = convert::code_in("policy.name", &policy.name, "policies")?;
        let preset =
            if policy.preset == 0 {
                None
            } else {
                Some(pconv::preset_from_proto(policy.preset).ok_or_else(|| {
                    err(AssessmentError::invalid("policy.preset", "unknown preset"))
                })?)
            };
        let own = match &policy.rules {
            Some(rules) => pconv::rules_from_proto(rules, "policy.rules")
                .map_err(|p| err(AssessmentError::Invalid(p)))?,
            None => d::PolicyRules::default(),
        };
        let p = self
            .svc
            .create_policy(&c, code, policy.display_name, preset, own, r.validate_only)
            .await?;
        let rules = self.svc.rules_of(&p)?;
        ok(convert::policy_to_proto(&p, &rules))
    }

    async fn update_policy(&self, request: Request<pb::UpdatePolicyRequest>) -> Reply<pb::Policy> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let policy = r
            .policy
            .ok_or_else(|| err(AssessmentError::invalid("policy", "required")))?;
        let code = convert::code_in("policy.name", &policy.name, "policies")?;
        let mut allowed = vec!["display_name", "rules"];
        let section_paths: Vec<&'static str> = [
            "rules.hours",
            "rules.selection",
            "rules.evidence",
            "rules.grading",
            "rules.school_grade",
            "rules.county_grade",
            "rules.certificate",
            "rules.sampling",
            "rules.carry_over",
        ]
        .to_vec();
        allowed.extend(section_paths.iter().copied());
        let paths = mask_paths(r.update_mask.as_ref(), &allowed)?;
        let rules = match &policy.rules {
            Some(rules) => pconv::rules_from_proto(rules, "policy.rules")
                .map_err(|p| err(AssessmentError::Invalid(p)))?,
            None => d::PolicyRules::default(),
        };
        let mut change = PolicyChange {
            change_note: r.change_note,
            validate_only: r.validate_only,
            ..Default::default()
        };
        for path in paths {
            match path {
                "display_name" => change.display_name = Some(policy.display_name.clone()),
                "rules" => {
                    for s in d::PolicyRules::SECTIONS {
                        change.sections.push((s, rules.clone()));
                    }
                }
                other => {
                    let section = other.trim_start_matches("rules.");
                    let s = d::PolicyRules::SECTIONS
                        .into_iter()
                        .find(|s| *s == section)
                        .expect("allowed");
                    change.sections.push((s, rules.clone()));
                }
            }
        }
        if change.change_note.chars().count() > 500 {
            return Err(AssessmentError::invalid("change_note", "at most 500 characters").into());
        }
        let p = self.svc.update_policy(&c, code, change).await?;
        let rules = self.svc.rules_of(&p)?;
        ok(convert::policy_to_proto(&p, &rules))
    }

    async fn get_policy_version(
        &self,
        request: Request<pb::GetPolicyVersionRequest>,
    ) -> Reply<pb::PolicyVersion> {
        let c = ctx(&request)?;
        let v = convert::ids("name", &request.get_ref().name, &["policies", "versions"])?;
        let code = DivisionCode::parse(v[0])
            .map_err(|e| err(AssessmentError::invalid("name", e.to_string())))?;
        let n: i64 = v[1]
            .parse()
            .map_err(|_| err(AssessmentError::invalid("name", "the version is a number")))?;
        let version = self.svc.get_policy_version(&c, code, n).await?;
        ok(convert::version_to_proto(&version)?)
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Reply<pb::ListPolicyVersionsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let code = convert::code_in("parent", &r.parent, "policies")?;
        let (page, after) =
            page::<i64>(r.page_size, &r.page_token, format!("parent={}", r.parent))?;
        let rows = self
            .svc
            .list_policy_versions(&c, code, after.unwrap_or(i64::MAX), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |v| v.version);
        ok(pb::ListPolicyVersionsResponse {
            policy_versions: rows
                .iter()
                .map(convert::version_to_proto)
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }

    async fn get_effective_policy(
        &self,
        request: Request<pb::GetEffectivePolicyRequest>,
    ) -> Reply<pb::EffectivePolicy> {
        let c = ctx(&request)?;
        let code = convert::code_in(
            "jurisdiction",
            &request.get_ref().jurisdiction,
            "jurisdictions",
        )?;
        ok(convert::effective_to_proto(
            &self.svc.effective_policy(&c, code).await?,
        ))
    }

    async fn get_batch(&self, request: Request<pb::GetBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let id = convert::ids("name", &request.get_ref().name, &["batches"])?[0].to_owned();
        let b = self.svc.get_batch(&c, &id).await?;
        ok(self.batch_proto(&b).await?)
    }

    async fn list_batches(
        &self,
        request: Request<pb::ListBatchesRequest>,
    ) -> Reply<pb::ListBatchesResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let parent = if r.parent.is_empty() {
            None
        } else {
            Some(convert::code_in("parent", &r.parent, "jurisdictions")?)
        };
        let state = convert::filter("state", r.state, convert::batch_state_from)?;
        let (page, after) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!("parent={};year={};state={}", r.parent, r.year, r.state),
        )?;
        let (rows, total) = self
            .svc
            .list_batches(
                &c,
                parent,
                r.year,
                state,
                &after.unwrap_or_default(),
                page.limit(),
            )
            .await?;
        let (rows, next_page_token) =
            page.finish(rows, |b| (b.path.as_str().to_owned(), b.id.clone()));
        let mut batches = Vec::with_capacity(rows.len());
        for b in &rows {
            batches.push(self.batch_proto(b).await?);
        }
        ok(pb::ListBatchesResponse {
            batches,
            next_page_token,
            total_size: total,
        })
    }

    async fn create_batch(&self, request: Request<pb::CreateBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let b = request
            .into_inner()
            .batch
            .ok_or_else(|| err(AssessmentError::invalid("batch", "required")))?;
        let county = convert::code_in("batch.county", &b.county, "jurisdictions")?;
        let schools = b
            .schools
            .iter()
            .enumerate()
            .map(|(i, s)| {
                convert::ids(&format!("batch.schools[{i}]"), s, &["schools"])
                    .map(|v| v[0].to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let new = NewBatch {
            county,
            year: b.year,
            display_name: b.display_name,
            schools,
            selection_deadline: convert::date(
                "batch.selection_deadline",
                b.selection_deadline.as_ref(),
            )?,
            submission_deadline: convert::date(
                "batch.submission_deadline",
                b.submission_deadline.as_ref(),
            )?,
            grading_deadline: convert::date("batch.grading_deadline", b.grading_deadline.as_ref())?,
        };
        let batch = self.svc.create_batch(&c, new).await?;
        ok(self.batch_proto(&batch).await?)
    }

    async fn update_batch(&self, request: Request<pb::UpdateBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let b = r
            .batch
            .ok_or_else(|| err(AssessmentError::invalid("batch", "required")))?;
        let id = convert::ids("batch.name", &b.name, &["batches"])?[0].to_owned();
        let mut update = BatchUpdate::default();
        for path in mask_paths(
            r.update_mask.as_ref(),
            &[
                "display_name",
                "schools",
                "selection_deadline",
                "submission_deadline",
                "grading_deadline",
            ],
        )? {
            match path {
                "display_name" => update.display_name = Some(b.display_name.clone()),
                "schools" => {
                    update.schools = Some(
                        b.schools
                            .iter()
                            .enumerate()
                            .map(|(i, s)| {
                                convert::ids(&format!("batch.schools[{i}]"), s, &["schools"])
                                    .map(|v| v[0].to_owned())
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                }
                "selection_deadline" => {
                    update.selection_deadline = Some(convert::date(
                        "batch.selection_deadline",
                        b.selection_deadline.as_ref(),
                    )?)
                }
                "submission_deadline" => {
                    update.submission_deadline = Some(convert::date(
                        "batch.submission_deadline",
                        b.submission_deadline.as_ref(),
                    )?)
                }
                _ => {
                    update.grading_deadline = Some(convert::date(
                        "batch.grading_deadline",
                        b.grading_deadline.as_ref(),
                    )?)
                }
            }
        }
        let batch = self.svc.update_batch(&c, &id, update).await?;
        ok(self.batch_proto(&batch).await?)
    }

    async fn open_batch(&self, request: Request<pb::OpenBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
        let open = convert::date("open_date", r.open_date.as_ref())?;
        let batch = self.svc.open_batch(&c, &id, open).await?;
        ok(self.batch_proto(&batch).await?)
    }

    async fn carry_over_participants(
        &self,
        request: Request<pb::CarryOverParticipantsRequest>,
    ) -> Reply<pb::CarryOverParticipantsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
        let source = convert::ids("source_batch", &r.source_batch, &["batches"])?[0].to_owned();
        let (participants, skipped) = self.svc.carry_over(&c, &id, &source).await?;
        let batch = self.svc.get_batch(&c, &id).await?;
        ok(pb::CarryOverParticipantsResponse {
            participants: participants
                .iter()
                .map(|p| self.participant_proto(p, &batch))
                .collect(),
            skipped_count: skipped,
        })
    }

    async fn begin_province_audit(
        &self,
        request: Request<pb::BeginProvinceAuditRequest>,
    ) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
        let b = self
            .svc
            .begin_province_audit(&c, &id, &r.review_round, &r.reason)
            .await?;
        ok(self.batch_proto(&b).await?)
    }

    async fn certify_batch(&self, request: Request<pb::CertifyBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
        let b = self
            .svc
            .certify_batch(&c, &id, &r.review_round, &r.reason)
            .await?;
        ok(self.batch_proto(&b).await?)
    }

    async fn return_batch(&self, request: Request<pb::ReturnBatchRequest>) -> Reply<pb::Batch> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("name", &r.name, &["batches"])?[0].to_owned();
        let b = self
            .svc
            .return_batch(&c, &id, &r.review_round, &r.reason)
            .await?;
        ok(self.batch_proto(&b).await?)
    }

    async fn get_participant(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Reply<pb::Participant> {
        let c = ctx(&request)?;
        let (b, t) = convert::participant("name", &request.get_ref().name)?;
        let (p, batch) = self.svc.get_participant(&c, &b, &t).await?;
        ok(self.participant_proto(&p, &batch))
    }

    async fn list_participants(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Reply<pb::ListParticipantsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("parent", &r.parent, &["batches"])?[0].to_owned();
        let school = if r.school.is_empty() {
            None
        } else {
            Some(convert::ids("school", &r.school, &["schools"])?[0].to_owned())
        };
        let grade = convert::filter("grade", r.grade, pconv::grade_from_proto)?;
        let state = match pb::ParticipantState::try_from(r.state) {
            Ok(pb::ParticipantState::Enrolled) => "enrolled",
            Ok(pb::ParticipantState::Withdrawn) => "withdrawn",
            Ok(pb::ParticipantState::Unspecified) => "",
            Err(_) => return Err(AssessmentError::invalid("state", "unknown").into()),
        };
        let filter = ParticipantFilter {
            grade: grade.map(|g| g.key().to_owned()).unwrap_or_default(),
            state: state.into(),
        };
        let (page, after) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!(
                "parent={};school={};grade={};state={}",
                r.parent, r.school, r.grade, r.state
            ),
        )?;
        let (rows, total, batch) = self
            .svc
            .list_participants(
                &c,
                &id,
                school.as_deref(),
                &filter,
                &after.unwrap_or_default(),
                page.limit(),
            )
            .await?;
        let (rows, next_page_token) = page.finish(rows, |p| {
            (p.path.as_str().to_owned(), p.teacher_number.clone())
        });
        ok(pb::ListParticipantsResponse {
            participants: rows
                .iter()
                .map(|p| self.participant_proto(p, &batch))
                .collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn enrol_participants(
        &self,
        request: Request<pb::EnrolParticipantsRequest>,
    ) -> Reply<pb::EnrolParticipantsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
        let teachers = r
            .teachers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                convert::ids(&format!("teachers[{i}]"), t, &["teachers"]).map(|v| v[0].to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let enrolled = self.svc.enrol(&c, &id, &teachers).await?;
        let batch = self.svc.get_batch(&c, &id).await?;
        ok(pb::EnrolParticipantsResponse {
            participants: enrolled
                .iter()
                .map(|p| self.participant_proto(p, &batch))
                .collect(),
        })
    }

    async fn withdraw_participant(
        &self,
        request: Request<pb::WithdrawParticipantRequest>,
    ) -> Reply<pb::Participant> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t) = convert::participant("name", &r.name)?;
        let p = self.svc.withdraw(&c, &b, &t, &r.reason).await?;
        let batch = self.svc.get_batch(&c, &b).await?;
        ok(self.participant_proto(&p, &batch))
    }

    async fn get_selection(
        &self,
        request: Request<pb::GetSelectionRequest>,
    ) -> Reply<pb::Selection> {
        let c = ctx(&request)?;
        let v = convert::ids_with_suffix(
            "name",
            &request.get_ref().name,
            &["batches", "participants"],
            "selection",
        )?;
        let (p, batch) = self.svc.get_participant(&c, v[0], v[1]).await?;
        ok(convert::selection_to_proto(
            &p,
            batch
                .policy_versions
                .first()
                .map(String::as_str)
                .unwrap_or(""),
        ))
    }

    async fn check_selection(
        &self,
        request: Request<pb::CheckSelectionRequest>,
    ) -> Reply<pb::SelectionVerdict> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t) = convert::participant("participant", &r.participant)?;
        let (verdict, batch) = self
            .svc
            .check_selection(&c, &b, &t, &r.micro_competencies)
            .await?;
        ok(pconv::verdict_to_proto(
            &verdict,
            batch
                .policy_versions
                .first()
                .map(String::as_str)
                .unwrap_or(""),
        ))
    }

    async fn submit_selection(
        &self,
        request: Request<pb::SubmitSelectionRequest>,
    ) -> Reply<pb::Selection> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let v =
            convert::ids_with_suffix("name", &r.name, &["batches", "participants"], "selection")?;
        let (p, _, batch) = self
            .svc
            .submit_selection(&c, v[0], v[1], &r.micro_competencies, r.validate_only)
            .await?;
        ok(convert::selection_to_proto(
            &p,
            batch
                .policy_versions
                .first()
                .map(String::as_str)
                .unwrap_or(""),
        ))
    }

    async fn batch_push_hours_records(
        &self,
        request: Request<pb::BatchPushHoursRecordsRequest>,
    ) -> Reply<pb::BatchPushHoursRecordsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let provider = convert::ids("parent", &r.parent, &["providers"])?[0].to_owned();
        let mut pushes = Vec::with_capacity(r.records.len());
        for (i, rec) in r.records.iter().enumerate() {
            let record_id = if rec.name.is_empty() {
                String::new()
            } else {
                let v = convert::ids(
                    &format!("records[{i}].name"),
                    &rec.name,
                    &["providers", "hoursRecords"],
                )?;
                if v[0] != provider {
                    return Err(AssessmentError::invalid(
                        format!("records[{i}].name"),
                        "a record belongs to the parent provider",
                    )
                    .into());
                }
                v[1].to_owned()
            };
            pushes.push(HoursPush {
                record_id,
                teacher: rec.teacher.clone(),
                id_number: rec.id_number.clone(),
                kind: pconv::hours_kind_from_proto(rec.kind)
                    .map(service::hours_kind_key)
                    .unwrap_or("")
                    .to_owned(),
                course_id: rec.course_id.clone(),
                course_title: rec.course_title.clone(),
                centihours: rec.centihours,
                watched_minutes: i64::from(rec.watched_minutes),
                course_minutes: i64::from(rec.course_minutes),
                complete_micros: rec
                    .complete_time
                    .as_ref()
                    .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
                    .unwrap_or_else(tica_storage::now_micros),
                revision: rec.revision,
            });
        }
        let results = self.svc.push_hours(&c, &provider, pushes).await?;
        let mut out = Vec::with_capacity(results.len());
        for res in results {
            let record = match &res.record {
                Some(row) => {
                    let (participant, counted) = self.svc.count_in_current_batch(row).await?;
                    Some(convert::hours_record_to_proto(
                        row,
                        participant.as_ref(),
                        &counted,
                    ))
                }
                None => None,
            };
            out.push(pb::PushResult {
                name: res.name,
                outcome: (match res.outcome {
                    PushOutcome::Created => pb::PushOutcome::Created,
                    PushOutcome::Updated => pb::PushOutcome::Updated,
                    PushOutcome::Unchanged => pb::PushOutcome::Unchanged,
                    PushOutcome::Rejected => pb::PushOutcome::Rejected,
                }) as i32,
                record,
                error: res.error,
            });
        }
        ok(pb::BatchPushHoursRecordsResponse { results: out })
    }

    async fn get_hours_record(
        &self,
        request: Request<pb::GetHoursRecordRequest>,
    ) -> Reply<pb::HoursRecord> {
        let c = ctx(&request)?;
        let v = convert::ids(
            "name",
            &request.get_ref().name,
            &["providers", "hoursRecords"],
        )?;
        let (row, participant, counted) = self.svc.get_hours_record(&c, v[0], v[1]).await?;
        ok(convert::hours_record_to_proto(
            &row,
            participant.as_ref(),
            &counted,
        ))
    }

    async fn list_hours_records(
        &self,
        request: Request<pb::ListHoursRecordsRequest>,
    ) -> Reply<pb::ListHoursRecordsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let kind = convert::filter("kind", r.kind, pconv::hours_kind_from_proto)?
            .map(service::hours_kind_key);
        let (page, after) = page::<(String, String)>(
            r.page_size,
            &r.page_token,
            format!("parent={};kind={};status={}", r.parent, r.kind, r.status),
        )?;
        let after = after.unwrap_or_default();
        let rows = if r.parent.starts_with("providers/") {
            let provider = convert::ids("parent", &r.parent, &["providers"])?[0].to_owned();
            self.svc
                .list_hours_records(&c, None, Some(&provider), kind, &after, page.limit())
                .await?
        } else {
            let (b, t) = convert::participant("parent", &r.parent)?;
            self.svc.get_participant(&c, &b, &t).await?;
            self.svc
                .list_hours_records(&c, Some(&t), None, kind, &after, page.limit())
                .await?
        };
        let (rows, next_page_token) =
            page.finish(rows, |h| (h.provider_id.clone(), h.record_id.clone()));
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let (participant, counted) = self.svc.count_in_current_batch(row).await?;
            let record = convert::hours_record_to_proto(row, participant.as_ref(), &counted);
            if r.status == 0 || record.status == r.status {
                records.push(record);
            }
        }
        let total = records.len() as i64;
        ok(pb::ListHoursRecordsResponse {
            hours_records: records,
            next_page_token,
            total_size: total,
        })
    }

    async fn upload_evidence(
        &self,
        request: Request<Streaming<pb::UploadEvidenceRequest>>,
    ) -> Reply<pb::Evidence> {
        use pb::upload_evidence_request::Payload;
        let c = ctx(&request)?;
        let mut incoming = request.into_inner();
        let first = incoming
            .message()
            .await?
            .ok_or_else(|| err(AssessmentError::invalid("evidence", "the stream is empty")))?;
        let Some(Payload::Evidence(meta)) = first.payload else {
            return Err(AssessmentError::invalid(
                "evidence",
                "the first message carries the evidence's metadata",
            )
            .into());
        };
        let (b, t) = convert::participant("parent", &first.parent)?;
        let upload = EvidenceUpload {
            codes: meta.micro_competencies,
            kind: pconv::evidence_kind_from_proto(meta.kind)
                .map(service::evidence_kind_key)
                .unwrap_or("")
                .to_owned(),
            file_name: meta.file_name,
            content_type: meta.content_type,
            size_bytes: meta.size_bytes,
            sha256: meta.sha256,
            duration_seconds: i64::from(meta.duration_seconds),
            description: meta.description,
        };
        let chunks = incoming.map(|m| match m {
            Ok(pb::UploadEvidenceRequest {
                payload: Some(Payload::Chunk(bytes)),
                ..
            }) => Ok(bytes),
            Ok(_) => Err(AssessmentError::invalid(
                "chunk",
                "only the first message carries metadata",
            )),
            Err(status) => Err(AssessmentError::FailedPrecondition(format!(
                "the upload broke off: {}",
                status.message()
            ))),
        });
        let e = self
            .svc
            .upload_evidence(&c, &b, &t, upload, Box::pin(chunks))
            .await?;
        ok(convert::evidence_to_proto(&e))
    }

    async fn get_evidence(&self, request: Request<pb::GetEvidenceRequest>) -> Reply<pb::Evidence> {
        let c = ctx(&request)?;
        let v = convert::ids(
            "name",
            &request.get_ref().name,
            &["batches", "participants", "evidence"],
        )?;
        ok(convert::evidence_to_proto(
            &self.svc.get_evidence(&c, v[0], v[1], v[2]).await?,
        ))
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Reply<pb::ListEvidenceResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t) = convert::participant("parent", &r.parent)?;
        let code = if r.micro_competency.is_empty() {
            None
        } else {
            Some(r.micro_competency.as_str())
        };
        let (page, after) = page::<String>(
            r.page_size,
            &r.page_token,
            format!("parent={};code={}", r.parent, r.micro_competency),
        )?;
        let rows: Vec<EvidenceRecord> = self
            .svc
            .list_evidence(&c, &b, &t, code)
            .await?
            .into_iter()
            .filter(|e| after.as_ref().is_none_or(|a| &e.id > a))
            .take(page.limit() as usize)
            .collect();
        let (rows, next_page_token) = page.finish(rows, |e| e.id.clone());
        ok(pb::ListEvidenceResponse {
            evidence: rows.iter().map(convert::evidence_to_proto).collect(),
            next_page_token,
        })
    }

    type DownloadEvidenceStream = Stream_<pb::DownloadEvidenceResponse>;

    async fn download_evidence(
        &self,
        request: Request<pb::DownloadEvidenceRequest>,
    ) -> Reply<Self::DownloadEvidenceStream> {
        use pb::download_evidence_response::Payload;
        let c = ctx(&request)?;
        let v = convert::ids(
            "name",
            &request.get_ref().name,
            &["batches", "participants", "evidence"],
        )?;
        let (e, bytes) = self.svc.download_evidence(&c, v[0], v[1], v[2]).await?;
        let metadata = pb::DownloadEvidenceResponse {
            payload: Some(Payload::Metadata(common::FileMetadata {
                file_name: e.file_name,
                content_type: e.content_type,
                size_bytes: e.size_bytes,
                sha256: e.sha256,
            })),
        };
        let chunks = bytes.flat_map(|chunk| {
            let messages: Vec<Result<pb::DownloadEvidenceResponse, Status>> = match chunk {
                Ok(b) => b
                    .chunks(1 << 20)
                    .map(|c| {
                        Ok(pb::DownloadEvidenceResponse {
                            payload: Some(Payload::Chunk(c.to_vec())),
                        })
                    })
                    .collect(),
                Err(e) => vec![Err(Status::from(e))],
            };
            futures::stream::iter(messages)
        });
        ok(Box::pin(
            futures::stream::once(async { Ok(metadata) }).chain(chunks),
        ))
    }

    async fn delete_evidence(&self, request: Request<pb::DeleteEvidenceRequest>) -> Reply<()> {
        let c = ctx(&request)?;
        let v = convert::ids(
            "name",
            &request.get_ref().name,
            &["batches", "participants", "evidence"],
        )?;
        self.svc.delete_evidence(&c, v[0], v[1], v[2]).await?;
        ok(())
    }

    async fn get_submission(
        &self,
        request: Request<pb::GetSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        let c = ctx(&request)?;
        let (b, t, code) = convert::submission("name", &request.get_ref().name)?;
        let s = self.svc.get_submission(&c, &b, &t, &code).await?;
        let evidence = self
            .svc
            .list_evidence(&c, &b, &t, None)
            .await
            .unwrap_or_default();
        ok(convert::submission_to_proto(&s, &evidence, false))
    }

    async fn list_submissions(
        &self,
        request: Request<pb::ListSubmissionsRequest>,
    ) -> Reply<pb::ListSubmissionsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (batch_id, teacher) = if r.parent.contains("/participants/") {
            let (b, t) = convert::participant("parent", &r.parent)?;
            (b, t)
        } else {
            (
                convert::ids("parent", &r.parent, &["batches"])?[0].to_owned(),
                String::new(),
            )
        };
        let school = if r.school.is_empty() {
            None
        } else {
            Some(convert::ids("school", &r.school, &["schools"])?[0].to_owned())
        };
        let mut state = convert::filter("state", r.state, convert::submission_state_from)?
            .map(|s| s.key().to_owned())
            .unwrap_or_default();
        if r.gradable_by_caller && state.is_empty() {
            state = "submitted".into();
        }
        let filter = SubmissionFilter {
            teacher,
            state,
            code: r.micro_competency.clone(),
        };
        let (page, after) = page::<(String, String, String)>(
            r.page_size,
            &r.page_token,
            format!(
                "parent={};school={};state={};code={};gradable={}",
                r.parent, r.school, r.state, r.micro_competency, r.gradable_by_caller
            ),
        )?;
        let (rows, total) = self
            .svc
            .list_submissions(
                &c,
                &batch_id,
                school.as_deref(),
                &filter,
                &after.unwrap_or_default(),
                page.limit(),
            )
            .await?;
        let (rows, next_page_token) = page.finish(rows, |s| {
            (
                s.path.as_str().to_owned(),
                s.teacher_number.clone(),
                s.code.clone(),
            )
        });
        let mut out = Vec::with_capacity(rows.len());
        let mut evidence: HashMap<String, Vec<EvidenceRecord>> = HashMap::new();
        for s in &rows {
            if !evidence.contains_key(&s.teacher_number) {
                let e = self
                    .svc
                    .list_evidence(&c, &s.batch_id, &s.teacher_number, None)
                    .await
                    .unwrap_or_default();
                evidence.insert(s.teacher_number.clone(), e);
            }
            out.push(convert::submission_to_proto(
                s,
                &evidence[&s.teacher_number],
                false,
            ));
        }
        ok(pb::ListSubmissionsResponse {
            submissions: out,
            next_page_token,
            total_size: total,
        })
    }

    async fn submit_submission(
        &self,
        request: Request<pb::SubmitSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        let c = ctx(&request)?;
        let (b, t, code) = convert::submission("name", &request.get_ref().name)?;
        let s = self.svc.submit_submission(&c, &b, &t, &code).await?;
        let evidence = self
            .svc
            .list_evidence(&c, &b, &t, None)
            .await
            .unwrap_or_default();
        ok(convert::submission_to_proto(&s, &evidence, false))
    }

    async fn return_submission(
        &self,
        request: Request<pb::ReturnSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t, code) = convert::submission("name", &r.name)?;
        let s = self
            .svc
            .return_submission(&c, &b, &t, &code, &r.reason)
            .await?;
        let evidence = self
            .svc
            .list_evidence(&c, &b, &t, None)
            .await
            .unwrap_or_default();
        ok(convert::submission_to_proto(&s, &evidence, false))
    }

    async fn grade_submission(
        &self,
        request: Request<pb::GradeSubmissionRequest>,
    ) -> Reply<pb::Submission> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t, code) = convert::submission("name", &r.name)?;
        let mut problems = crate::error::Problems::new();
        let invalid_evidence = r
            .invalid_evidence
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let id = problems.check(
                    &format!("invalid_evidence[{i}].evidence"),
                    convert::ids(
                        "evidence",
                        &e.evidence,
                        &["batches", "participants", "evidence"],
                    )
                    .map(|v| v[2].to_owned())
                    .map_err(|_| "expected an evidence name"),
                )?;
                let reason = problems.check(
                    &format!("invalid_evidence[{i}].reason"),
                    convert::invalid_reason_from(e.reason).ok_or("required"),
                )?;
                Some(InvalidEvidenceRecord {
                    evidence: id,
                    reason: reason.to_owned(),
                    explanation: e.explanation.trim().to_owned(),
                })
            })
            .collect();
        let rubric_scores = r
            .rubric_scores
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                problems
                    .check(
                        &format!("rubric_scores[{i}].points"),
                        u32::try_from(s.points).map_err(|_| "points are not negative"),
                    )
                    .map(|p| (s.criterion_id.clone(), p))
            })
            .collect();
        problems.finish()?;
        let request = GradeRequest {
            assessor: r.assessor,
            grade: pconv::grade_from_proto(r.grade),
            rubric_scores,
            invalid_evidence,
            comment: r.comment,
        };
        let s = self
            .svc
            .grade_submission(&c, &b, &t, &code, request)
            .await?;
        let evidence = self
            .svc
            .list_evidence(&c, &b, &t, None)
            .await
            .unwrap_or_default();
        ok(convert::submission_to_proto(&s, &evidence, false))
    }

    async fn get_school_result(
        &self,
        request: Request<pb::GetSchoolResultRequest>,
    ) -> Reply<pb::SchoolResult> {
        let c = ctx(&request)?;
        let v = convert::ids(
            "name",
            &request.get_ref().name,
            &["batches", "schoolResults"],
        )?;
        let (r, f) = self.svc.get_school_result(&c, v[0], v[1]).await?;
        ok(convert::school_result_to_proto(&r, &f))
    }

    async fn list_school_results(
        &self,
        request: Request<pb::ListSchoolResultsRequest>,
    ) -> Reply<pb::ListSchoolResultsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("parent", &r.parent, &["batches"])?[0].to_owned();
        let state = convert::filter("state", r.state, convert::school_state_from)?;
        let (page, after) = page::<String>(
            r.page_size,
            &r.page_token,
            format!("parent={};state={}", r.parent, r.state),
        )?;
        let rows = self
            .svc
            .list_school_results(&c, &id, state, after.as_deref().unwrap_or(""), page.limit())
            .await?;
        let total = rows.len() as i64;
        let (rows, next_page_token) = page.finish(rows, |(r, _)| r.path.as_str().to_owned());
        ok(pb::ListSchoolResultsResponse {
            school_results: rows
                .iter()
                .map(|(r, f)| convert::school_result_to_proto(r, f))
                .collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn submit_school_results(
        &self,
        request: Request<pb::SubmitSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
        let result = self
            .svc
            .submit_school_results(&c, v[0], v[1], &r.reason)
            .await?;
        self.school_result_reply(result).await
    }

    async fn approve_school_results(
        &self,
        request: Request<pb::ApproveSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
        let result = self
            .svc
            .approve_school_results(&c, v[0], v[1], &r.review_round, &r.reason)
            .await?;
        self.school_result_reply(result).await
    }

    async fn return_school_results(
        &self,
        request: Request<pb::ReturnSchoolResultsRequest>,
    ) -> Reply<pb::SchoolResult> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let v = convert::ids("name", &r.name, &["batches", "schoolResults"])?;
        let result = self
            .svc
            .return_school_results(&c, v[0], v[1], &r.review_round, &r.reason)
            .await?;
        self.school_result_reply(result).await
    }

    async fn record_offline_check(
        &self,
        request: Request<pb::RecordOfflineCheckRequest>,
    ) -> Reply<pb::Participant> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t) = convert::participant("participant", &r.participant)?;
        let outcome = match pb::OfflineCheck::try_from(r.outcome) {
            Ok(pb::OfflineCheck::Pending) => "pending",
            Ok(pb::OfflineCheck::Passed) => "passed",
            Ok(pb::OfflineCheck::Failed) => "failed",
            _ => {
                return Err(
                    AssessmentError::invalid("outcome", "PENDING, PASSED or FAILED").into(),
                );
            }
        };
        let p = self
            .svc
            .record_offline_check(&c, &b, &t, outcome, &r.review_round, &r.reason)
            .await?;
        let batch = self.svc.get_batch(&c, &b).await?;
        ok(self.participant_proto(&p, &batch))
    }

    async fn withdraw_certified_result(
        &self,
        request: Request<pb::WithdrawCertifiedResultRequest>,
    ) -> Reply<pb::Participant> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (b, t) = convert::participant("participant", &r.participant)?;
        let p = self
            .svc
            .withdraw_certified_result(&c, &b, &t, &r.micro_competency, &r.reason)
            .await?;
        let batch = self.svc.get_batch(&c, &b).await?;
        ok(self.participant_proto(&p, &batch))
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Reply<pb::ProgressRow> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (scope, level) = self.unit_scope(&c, "unit", &r.unit).await?;
        let mut row = self.svc.get_progress(&c, scope, level, r.year).await?;
        row.unit = r.unit.clone();
        let names = self.svc.row_names(&c, std::slice::from_ref(&row)).await?;
        ok(convert::progress_to_proto(
            &row,
            names.get(&row.unit).cloned().unwrap_or_default(),
            r.year,
        ))
    }

    async fn list_progress(
        &self,
        request: Request<pb::ListProgressRequest>,
    ) -> Reply<pb::ListProgressResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let level = convert::level_from(r.level)
            .ok_or_else(|| err(AssessmentError::invalid("level", "required")))?;
        let scope = if r.parent.is_empty() {
            None
        } else {
            Some(self.unit_scope(&c, "parent", &r.parent).await?.0)
        };
        let (page, after) = page::<usize>(
            r.page_size,
            &r.page_token,
            format!("parent={};level={};year={}", r.parent, r.level, r.year),
        )?;
        let (rows, mut total) = self.svc.list_progress(&c, scope, level, r.year).await?;
        let count = rows.len() as i64;
        let rows: Vec<(usize, service::ProgressRow)> = rows
            .into_iter()
            .enumerate()
            .filter(|(i, _)| after.is_none_or(|a| *i > a))
            .take(page.limit() as usize)
            .collect();
        let (rows, next_page_token) = page.finish(rows, |(i, _)| *i);
        let plain: Vec<service::ProgressRow> = rows.into_iter().map(|(_, r)| r).collect();
        let names = self.svc.row_names(&c, &plain).await?;
        total.unit = r.parent.clone();
        ok(pb::ListProgressResponse {
            rows: plain
                .iter()
                .map(|row| {
                    convert::progress_to_proto(
                        row,
                        names.get(&row.unit).cloned().unwrap_or_default(),
                        r.year,
                    )
                })
                .collect(),
            next_page_token,
            total_size: count,
            total: Some(convert::progress_to_proto(&total, String::new(), r.year)),
        })
    }

    type ExportProgressStream = Stream_<pb::ExportProgressResponse>;

    async fn export_progress(
        &self,
        request: Request<pb::ExportProgressRequest>,
    ) -> Reply<Self::ExportProgressStream> {
        use pb::export_progress_response::Payload;
        let c = ctx(&request)?;
        let r = request.into_inner();
        let level = convert::level_from(r.level)
            .ok_or_else(|| err(AssessmentError::invalid("level", "required")))?;
        let scope = if r.parent.is_empty() {
            None
        } else {
            Some(self.unit_scope(&c, "parent", &r.parent).await?.0)
        };
        let (rows, total) = self
            .svc
            .list_progress(&c, scope.clone(), level, r.year)
            .await?;
        let names = self.svc.row_names(&c, &rows).await?;
        let xlsx = !matches!(
            common::FileFormat::try_from(r.format),
            Ok(common::FileFormat::Csv)
        );
        let file = if xlsx {
            // Lower levels, each its own sheet (a city's workbook: 区县进度, 学校进度).
            let lower: &[Level] = match (r.include_lower_levels, level) {
                (false, _) | (true, Level::School) => &[],
                (true, Level::County) => &[Level::School],
                (true, Level::City) => &[Level::County, Level::School],
                (true, Level::Province) => &[Level::City, Level::County, Level::School],
            };
            let mut more = Vec::new();
            for l in lower {
                let (rows, total) = self
                    .svc
                    .list_progress(&c, scope.clone(), *l, r.year)
                    .await?;
                let names = self.svc.row_names(&c, &rows).await?;
                more.push((*l, rows, total, names));
            }
            let mut sheets = vec![crate::export::ProgressSheet {
                level,
                rows: &rows,
                total: &total,
                names: &names,
            }];
            sheets.extend(more.iter().map(|(l, rows, total, names)| {
                crate::export::ProgressSheet {
                    level: *l,
                    rows,
                    total,
                    names,
                }
            }));
            let figures = if r.include_micro_competencies {
                Some(
                    self.svc
                        .micro_competency_progress(&c, scope.clone(), r.year, "")
                        .await?,
                )
            } else {
                None
            };
            let unit_name = match scope.as_ref() {
                Some(_) => self.parent_name(&c, &r.parent).await?,
                None => String::new(),
            };
            let info = crate::export::WorkbookInfo {
                unit_name,
                year: r.year,
                date: tica_server::proto_time::date_to_iso(service::today()),
            };
            crate::export::progress_workbook(&sheets, figures.as_ref(), &info).map_err(err)?
        } else {
            crate::export::progress_csv(&rows, &total, &names, level, r.year)
        };
        let metadata = pb::ExportProgressResponse {
            payload: Some(Payload::Metadata(common::ExportMetadata {
                file_name: file.0,
                content_type: file.1.to_owned(),
                row_count: rows.len() as i64,
            })),
        };
        let chunks: Vec<Result<pb::ExportProgressResponse, Status>> = file
            .2
            .chunks(1 << 20)
            .map(|c| {
                Ok(pb::ExportProgressResponse {
                    payload: Some(Payload::Chunk(c.to_vec())),
                })
            })
            .collect();
        ok(Box::pin(futures::stream::iter(
            std::iter::once(Ok(metadata)).chain(chunks),
        )))
    }

    async fn get_principal_appraisal(
        &self,
        request: Request<pb::GetPrincipalAppraisalRequest>,
    ) -> Reply<pb::PrincipalAppraisal> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let v = convert::ids(
            "school_result",
            &r.school_result,
            &["batches", "schoolResults"],
        )?;
        let a = self.svc.principal_appraisal(&c, v[0], v[1]).await?;
        ok(convert::appraisal_to_proto(r.school_result.clone(), &a))
    }

    async fn list_micro_competency_progress(
        &self,
        request: Request<pb::ListMicroCompetencyProgressRequest>,
    ) -> Reply<pb::ListMicroCompetencyProgressResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let scope = if r.parent.is_empty() {
            None
        } else {
            Some(self.unit_scope(&c, "parent", &r.parent).await?.0)
        };
        let batch = if r.batch.is_empty() {
            ""
        } else {
            convert::ids("batch", &r.batch, &["batches"])?[0]
        };
        let (page, after) = page::<usize>(
            r.page_size,
            &r.page_token,
            format!("parent={};year={};batch={}", r.parent, r.year, r.batch),
        )?;
        let figures = self
            .svc
            .micro_competency_progress(&c, scope, r.year, batch)
            .await?;
        let codes: Vec<(usize, &service::progress::CodeProgress)> = figures
            .codes
            .iter()
            .enumerate()
            .filter(|(i, _)| after.is_none_or(|a| *i > a))
            .take(page.limit() as usize)
            .collect();
        let (codes, next_page_token) = page.finish(codes, |(i, _)| *i);
        ok(pb::ListMicroCompetencyProgressResponse {
            micro_competencies: codes
                .iter()
                .map(|(_, code)| convert::code_progress_to_proto(code, figures.participants))
                .collect(),
            next_page_token,
            total_size: figures.codes.len() as i64,
            cells: convert::cells_to_proto(&figures),
            participants: figures.participants,
            compute_time: Some(tica_server::proto_time::timestamp(
                tica_storage::now_micros(),
            )),
        })
    }

    type StreamCertifiedResultsStream = Stream_<pb::StreamCertifiedResultsResponse>;

    async fn stream_certified_results(
        &self,
        request: Request<pb::StreamCertifiedResultsRequest>,
    ) -> Reply<Self::StreamCertifiedResultsStream> {
        use pb::stream_certified_results_response::Payload;
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = convert::ids("batch", &r.batch, &["batches"])?[0].to_owned();
        if r.after_sequence < 0 {
            return Err(AssessmentError::invalid("after_sequence", "not negative").into());
        }
        let (batch, _) = self
            .svc
            .certified_events(&c, &id, r.after_sequence, 0)
            .await?;
        let header = pb::StreamCertifiedResultsResponse {
            payload: Some(Payload::Header(pb::CertifiedResultsHeader {
                batch: r.batch.clone(),
                batch_state: convert::batch_state(batch.state),
                last_sequence: batch.last_sequence,
            })),
        };
        let svc = self.svc.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            if tx.send(Ok(header)).await.is_err() {
                return;
            }
            let mut after = r.after_sequence;
            loop {
                match svc.certified_events(&c, &id, after, 500).await {
                    Ok((_, events)) if events.is_empty() => {
                        if !r.follow {
                            return;
                        }
                        // Until the consumer hangs up: new events arrive when a batch is certified
                        // or a result withdrawn.
                        tokio::select! {
                            _ = tx.closed() => return,
                            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                        }
                    }
                    Ok((_, events)) => {
                        for e in events {
                            after = e.sequence;
                            let message = convert::certified_to_proto(&e)
                                .map(|result| pb::StreamCertifiedResultsResponse {
                                    payload: Some(Payload::Result(result)),
                                })
                                .map_err(Status::from);
                            if tx.send(message).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                }
            }
        }));
        ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        if !c.caller.role.is_office() {
            return Err(AssessmentError::PermissionDenied(
                "only an education office reads the audit trail".into(),
            )
            .into());
        }
        let scope = if r.parent.is_empty() {
            c.caller.scope.clone()
        } else {
            self.unit_scope(&c, "parent", &r.parent).await?.0
        };
        if !c.caller.covers(&scope) {
            return Err(err(service::denied_for(&c)));
        }
        let (page, after) = page::<i64>(
            r.page_size,
            &r.page_token,
            format!("parent={};resource={}", r.parent, r.resource),
        )?;
        let rows = tica_storage::audit::list(
            self.svc.database(),
            &scope,
            &r.resource,
            after,
            page.limit(),
        )
        .await
        .map_err(|e| err(e.into()))?;
        let (rows, next_page_token) = page.finish(rows, |e| e.id);
        ok(pb::ListAuditEventsResponse {
            audit_events: rows.iter().map(tica_server::audit_to_proto).collect(),
            next_page_token,
        })
    }
}
