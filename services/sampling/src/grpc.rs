//! The gRPC adapter: authenticate, parse names, call the logic, convert records to messages.

use std::pin::Pin;
use tica_domain::names::{AssessorName, BatchName, JurisdictionName, ReviewRoundName};

use futures::Stream;
use tica_auth::Role;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::sampling::v1 as pb;
use tica_proto::tica::sampling::v1::sampling_service_server::SamplingService;
use tica_server::errors::invalid;
use tica_server::paging::Page;
use tica_server::proto_time::timestamp;
use tonic::{Request, Response, Status};

use crate::model::*;
use crate::service::{
    AgreementFilter, Ctx, ExportFile, NewRound, Part, RegradeInput, Sampling, UnitAgreement,
    UnitReport,
};
use crate::store::{ItemFilter, RegradeFilter, RoundCounts, RoundFilter};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct SamplingGrpc {
    svc: Sampling,
}

impl SamplingGrpc {
    /// Serves `svc`.
    pub fn new(svc: Sampling) -> SamplingGrpc {
        SamplingGrpc { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;
type Chunks = Pin<Box<dyn Stream<Item = Result<pb::ExportReviewRoundResponse, Status>> + Send>>;

fn ctx<T>(request: &Request<T>) -> Result<Ctx, Status> {
    Ctx::from_request(crate::service::SERVICE_NAME, request)
}

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

/// `reviewRounds/{id}`.
fn round_id<'a>(field: &str, name: &'a str) -> Result<&'a str, Status> {
    match ReviewRoundName::id_of(name) {
        Some(id) => Ok(id),
        None => Err(invalid(
            field,
            format!("expected reviewRounds/{{round_id}}, got {name:?}"),
        )),
    }
}

/// `reviewRounds/{id}/{collection}/{child}` → (id, child).
fn child<'a>(field: &str, name: &'a str, collection: &str) -> Result<(&'a str, &'a str), Status> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["reviewRounds", id, c, child]
            if *c == collection && !id.is_empty() && !child.is_empty() =>
        {
            Ok((id, child))
        }
        _ => Err(invalid(
            field,
            format!("expected reviewRounds/{{round_id}}/{collection}/{{id}}, got {name:?}"),
        )),
    }
}

/// `reviewRounds/{id}/items/{item}/regrades/{code}` → (id, item, code).
fn regrade_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str, &'a str), Status> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["reviewRounds", id, "items", item, "regrades", code]
            if !id.is_empty() && !item.is_empty() && !code.is_empty() =>
        {
            Ok((id, item, code))
        }
        _ => Err(invalid(
            field,
            format!(
                "expected reviewRounds/{{round_id}}/items/{{item_id}}/regrades/{{code}}, got {name:?}"
            ),
        )),
    }
}

/// A `batches/{county_code}-{year}` filter as its id ("" when empty).
fn batch_filter(name: &str) -> Result<String, Status> {
    if name.is_empty() {
        return Ok(String::new());
    }
    let id = BatchName::id_of(name).unwrap_or_default();
    let well_formed = id.len() == 11
        && id.as_bytes()[6] == b'-'
        && id
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 6 || b.is_ascii_digit());
    if well_formed {
        Ok(id.to_owned())
    } else {
        Err(invalid(
            "batch",
            format!("expected batches/{{county_code}}-{{year}}, got {name:?}"),
        ))
    }
}

/// A list's optional `jurisdictions/{code}` parent as its code.
fn parent_jurisdiction(parent: &str) -> Result<Option<&str>, Status> {
    if parent.is_empty() {
        return Ok(None);
    }
    JurisdictionName::id_of(parent)
        .map(Some)
        .ok_or_else(|| invalid("parent", "expected jurisdictions/{code}"))
}

fn assessor_id<'a>(field: &str, name: &'a str) -> Result<&'a str, Status> {
    if name.is_empty() {
        return Ok("");
    }
    match AssessorName::id_of(name) {
        Some(id) => Ok(id),
        None => Err(invalid(
            field,
            format!("expected assessors/{{assessor_id}}, got {name:?}"),
        )),
    }
}

fn actor(a: &Actor) -> common::Actor {
    common::Actor {
        subject: a.subject.clone(),
        role: a.role.clone(),
        acting_for: a.acting_for.clone(),
    }
}

fn ratio(r: tica_domain::policy::Ratio) -> common::Ratio {
    common::Ratio {
        numerator: i64::from(r.numerator),
        denominator: i64::from(r.denominator),
    }
}

fn grade(g: Grade) -> common::Grade {
    match g {
        Grade::Fail => common::Grade::Fail,
        Grade::Pass => common::Grade::Pass,
        Grade::Excellent => common::Grade::Excellent,
    }
}

fn round_state(s: RoundState) -> pb::RoundState {
    match s {
        RoundState::Draft => pb::RoundState::Draft,
        RoundState::PopulationFrozen => pb::RoundState::PopulationFrozen,
        RoundState::Drawn => pb::RoundState::Drawn,
        RoundState::InReview => pb::RoundState::InReview,
        RoundState::Decided => pb::RoundState::Decided,
        RoundState::Cancelled => pb::RoundState::Cancelled,
    }
}

fn stage(s: Stage) -> pb::Stage {
    match s {
        Stage::School => pb::Stage::School,
        Stage::Teacher => pb::Stage::Teacher,
    }
}

fn outcome(o: Outcome) -> pb::UnitOutcome {
    match o {
        Outcome::Undecided => pb::UnitOutcome::Unspecified,
        Outcome::Passed => pb::UnitOutcome::Passed,
        Outcome::SentBack => pb::UnitOutcome::SentBack,
        Outcome::PassedNotDrawn => pb::UnitOutcome::PassedNotDrawn,
    }
}

fn criterion(c: tica_domain::policy::AgreementCriterion) -> common::AgreementCriterion {
    match c {
        tica_domain::policy::AgreementCriterion::PointEstimate => {
            common::AgreementCriterion::PointEstimate
        }
        tica_domain::policy::AgreementCriterion::WilsonLowerBound => {
            common::AgreementCriterion::WilsonLowerBound
        }
    }
}

fn comparison(c: tica_domain::policy::ThresholdComparison) -> common::ThresholdComparison {
    match c {
        tica_domain::policy::ThresholdComparison::AtLeast => common::ThresholdComparison::AtLeast,
        tica_domain::policy::ThresholdComparison::MoreThan => common::ThresholdComparison::MoreThan,
    }
}

/// An export as ExportReviewRound streams it: the metadata, then chunks of at most 1 MiB.
fn export_stream(file: ExportFile) -> Chunks {
    let mut messages = vec![Ok(pb::ExportReviewRoundResponse {
        payload: Some(pb::export_review_round_response::Payload::Metadata(
            common::ExportMetadata {
                file_name: file.file_name,
                content_type: file.content_type,
                row_count: file.rows,
            },
        )),
    })];
    messages.extend(file.bytes.chunks(1 << 20).map(|chunk| {
        Ok(pb::ExportReviewRoundResponse {
            payload: Some(pb::export_review_round_response::Payload::Chunk(
                chunk.to_vec(),
            )),
        })
    }));
    Box::pin(tokio_stream::iter(messages))
}

fn round_to_proto(r: &RoundRecord, c: &RoundCounts) -> pb::ReviewRound {
    pb::ReviewRound {
        name: r.name(),
        display_name: r.display_name.clone(),
        level: match r.level {
            Level::CountyReview => pb::RoundLevel::CountyReview,
            Level::ProvinceAudit => pb::RoundLevel::ProvinceAudit,
        } as i32,
        kind: match r.kind {
            Kind::OnlineRegrade => pb::RoundKind::OnlineRegrade,
            Kind::OfflineCheck => pb::RoundKind::OfflineCheck,
        } as i32,
        scope: format!("jurisdictions/{}", r.scope_code),
        year: r.year,
        batches: r.batches.iter().map(|b| format!("batches/{b}")).collect(),
        extends: if r.extends.is_empty() {
            String::new()
        } else {
            format!("reviewRounds/{}", r.extends)
        },
        plans: r
            .plans
            .iter()
            .map(|p| pb::DrawPlan {
                batch: format!("batches/{}", p.batch),
                policy_versions: p.policy_versions.clone(),
                school_rate: Some(ratio(p.school_rate)),
                teacher_rate: Some(ratio(p.teacher_rate)),
                minimum_per_stratum: p.minimum as i32,
                agreement_threshold: Some(ratio(p.threshold)),
                agreement_criterion: criterion(p.criterion) as i32,
                agreement_comparison: comparison(p.comparison) as i32,
            })
            .collect(),
        state: round_state(r.state) as i32,
        population_schools: r.population_schools,
        population_teachers: r.population_teachers,
        population_sha256: r.population_sha256.clone(),
        population_freeze_time: r.freeze_micros.map(timestamp),
        seed: r.seed.clone(),
        seed_note: r.seed_note.clone(),
        seed_entered_by: r.seed_actor.as_ref().map(actor),
        seed_enter_time: r.seed_micros.map(timestamp),
        schools_drawn: c.schools_drawn,
        teachers_drawn: c.teachers_drawn,
        items_unassigned: c.items_unassigned,
        regrades_total: c.regrades_total,
        regrades_submitted: c.regrades_submitted,
        units_total: c.units_total,
        units_decided: c.units_decided,
        units_passed: c.units_passed,
        units_sent_back: c.units_sent_back,
        creator: Some(actor(&r.creator)),
        transitions: r
            .transitions
            .iter()
            .map(|t| pb::RoundTransition {
                from_state: round_state(t.from) as i32,
                to_state: round_state(t.to) as i32,
                actor: Some(actor(&t.actor)),
                time: Some(timestamp(t.micros)),
                reason: t.reason.clone(),
            })
            .collect(),
        create_time: Some(timestamp(r.create_micros)),
        update_time: Some(timestamp(r.update_micros)),
        draw_commitment: r.commitment.as_ref().map(|c| pb::DrawCommitment {
            log_index: c.log_index,
            leaf_hash: hex::decode(&c.leaf_hash).unwrap_or_default(),
            log_time: Some(timestamp(c.log_micros)),
            plan_sha256: c.plan_sha256.clone(),
            tool_version: c.tool_version.clone(),
        }),
    }
}

fn stratum_to_proto(round: &str, s: &StratumRecord) -> pb::Stratum {
    pb::Stratum {
        name: format!("reviewRounds/{round}/strata/{}", s.id),
        stage: stage(s.stage) as i32,
        parent_unit: s.parent_unit.clone(),
        population_size: s.population_size,
        rate: Some(ratio(s.rate)),
        minimum: s.minimum as i32,
        sample_size: s.sample_size,
        first_position: s.first_position,
        wrapped: s.wrapped,
    }
}

fn item_to_proto(i: &ItemRecord, total: i32, submitted: i32) -> pb::DrawnItem {
    let assessor = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            format!("assessors/{id}")
        }
    };
    let teacher = i.stage == Stage::Teacher;
    pb::DrawnItem {
        name: crate::service::item_name(i),
        stage: stage(i.stage) as i32,
        sampler_id: i.sampler_id.clone(),
        stratum: format!("reviewRounds/{}/strata/{}", i.round, i.stratum),
        position: i.position,
        ticket: i.ticket.clone(),
        unit: i.unit.clone(),
        school: format!("schools/{}", i.school),
        teacher: if teacher {
            format!("teachers/{}", i.teacher)
        } else {
            String::new()
        },
        participant: if teacher {
            format!("batches/{}/participants/{}", i.batch, i.teacher)
        } else {
            String::new()
        },
        assessor: assessor(&i.assessor),
        state: match i.state {
            ItemState::Drawn => pb::DrawnItemState::Drawn,
            ItemState::Assigned => pb::DrawnItemState::Assigned,
            ItemState::Regraded => pb::DrawnItemState::Regraded,
        } as i32,
        regrades_total: total,
        regrades_submitted: submitted,
        assignment_history: i
            .history
            .iter()
            .map(|h| pb::AssignmentChange {
                from_assessor: assessor(&h.from),
                to_assessor: assessor(&h.to),
                actor: Some(actor(&h.actor)),
                time: Some(timestamp(h.micros)),
                reason: h.reason.clone(),
            })
            .collect(),
    }
}

/// A re-grade as `viewer` may see it: the assigned reviewer sees the original grade only once
/// they have submitted.
fn regrade_to_proto(r: &RegradeRecord, viewer: &Ctx) -> pb::Regrade {
    let blind = viewer.caller.role == Role::Assessor && r.state == RegradeState::Pending;
    pb::Regrade {
        name: r.name(),
        submission: r.submission.clone(),
        micro_competency: if r.code == "visit" || r.code == "leadership" {
            String::new()
        } else {
            r.code.clone()
        },
        assessor: if r.assessor.is_empty() {
            String::new()
        } else {
            format!("assessors/{}", r.assessor)
        },
        state: match r.state {
            RegradeState::Pending => pb::RegradeState::Pending,
            RegradeState::Submitted => pb::RegradeState::Submitted,
        } as i32,
        grade: r.grade.map_or(0, |g| grade(g) as i32),
        rubric_scores: r
            .detail
            .rubric_scores
            .iter()
            .map(|(id, points)| common::RubricScore {
                criterion_id: id.clone(),
                points: *points,
            })
            .collect(),
        invalid_evidence: r
            .detail
            .invalid_evidence
            .iter()
            .map(|(evidence, reason, explanation)| common::InvalidEvidence {
                evidence: evidence.clone(),
                reason: *reason,
                explanation: explanation.clone(),
            })
            .collect(),
        comment: r.detail.comment.clone(),
        visit_date: tica_server::proto_time::date_from_iso(&r.detail.visit_date)
            .map(tica_server::proto_time::date_to_proto),
        visited_lesson: r.detail.visited_lesson.clone(),
        original_grade: if blind { 0 } else { grade(r.original) as i32 },
        agrees: r.state == RegradeState::Submitted && r.agrees,
        submit_time: r.submit_micros.map(timestamp),
    }
}

fn unit_to_proto(u: &UnitReport) -> pb::ReviewUnit {
    let f = &u.figures;
    let ppm = |x: f64| (x * 1_000_000.0) as i32;
    pb::ReviewUnit {
        name: format!("reviewRounds/{}/units/{}", u.unit.round, u.unit.id),
        unit: u.unit.unit.clone(),
        batch: format!("batches/{}", u.unit.batch),
        drawn: u.unit.drawn,
        compared: f.n as i64,
        pending: u.pending,
        agreements: f.agreeing as i64,
        agreement_permille: if f.n == 0 {
            0
        } else {
            ((f.agreeing * 2000 + f.n) / (2 * f.n)) as i32
        },
        wilson_lower_ppm: if f.n == 0 { 0 } else { ppm(f.wilson.0).max(0) },
        wilson_upper_ppm: if f.n == 0 {
            0
        } else {
            ((f.wilson.1 * 1_000_000.0).ceil() as i32).min(1_000_000)
        },
        kappa_ppm: f.kappa.map(|k| (k * 1_000_000.0).round() as i32),
        confusion: u
            .confusion
            .iter()
            .map(|((o, r), n)| pb::ConfusionCell {
                original_grade: grade(*o) as i32,
                regrade: grade(*r) as i32,
                count: *n,
            })
            .collect(),
        threshold: Some(ratio(u.plan.threshold)),
        criterion: criterion(u.plan.criterion) as i32,
        comparison: comparison(u.plan.comparison) as i32,
        point_estimate_meets: u.verdict.point_estimate_meets,
        wilson_lower_meets: u.verdict.wilson_lower_meets,
        computed_outcome: outcome(u.computed()) as i32,
        outcome: outcome(u.unit.outcome) as i32,
        decision: u.unit.decision.as_ref().map(|d| pb::UnitDecision {
            outcome: outcome(d.outcome) as i32,
            actor: Some(actor(&d.actor)),
            time: Some(timestamp(d.micros)),
            reason: d.reason.clone(),
            target: d.target.clone(),
        }),
    }
}

/// ‰ rounded half up; 0 when nothing was compared.
fn permille(agreeing: u64, n: u64) -> i32 {
    if n == 0 {
        0
    } else {
        ((agreeing * 2000 + n) / (2 * n)) as i32
    }
}

fn round_agreement_to_proto(u: &UnitReport) -> pb::RoundAgreement {
    let unit = unit_to_proto(u);
    pb::RoundAgreement {
        review_unit: unit.name,
        compared: unit.compared,
        agreements: unit.agreements,
        agreement_permille: unit.agreement_permille,
        wilson_lower_ppm: unit.wilson_lower_ppm,
        wilson_upper_ppm: unit.wilson_upper_ppm,
        kappa_ppm: unit.kappa_ppm,
        pending: unit.pending,
        outcome: unit.outcome,
    }
}

fn agreement_to_proto(u: &UnitAgreement) -> pb::UnitAgreement {
    let (n, agreeing) = u.pooled();
    pb::UnitAgreement {
        unit: u.unit.clone(),
        batch: format!("batches/{}", u.batch),
        rounds: u.rounds.iter().map(round_agreement_to_proto).collect(),
        latest_outcome: outcome(u.latest_outcome()) as i32,
        sent_back: u.sent_back() as i32,
        pooled_compared: n as i64,
        pooled_agreements: agreeing as i64,
        pooled_agreement_permille: permille(agreeing, n),
        threshold: Some(ratio(u.threshold)),
    }
}

fn enum_filter<T>(
    field: &str,
    value: i32,
    from: impl Fn(i32) -> Option<T>,
) -> Result<Option<T>, Status> {
    if value == 0 {
        return Ok(None);
    }
    from(value)
        .map(Some)
        .ok_or_else(|| invalid(field, format!("unknown value {value}")))
}

fn stage_key(field: &str, value: i32) -> Result<String, Status> {
    Ok(enum_filter(field, value, |v| match pb::Stage::try_from(v) {
        Ok(pb::Stage::School) => Some(Stage::School),
        Ok(pb::Stage::Teacher) => Some(Stage::Teacher),
        _ => None,
    })?
    .map(|s| s.key().to_owned())
    .unwrap_or_default())
}

impl SamplingGrpc {
    async fn round_reply(&self, round: &RoundRecord) -> Result<pb::ReviewRound, Status> {
        let counts = self.svc.counts(round).await?;
        Ok(round_to_proto(round, &counts))
    }

    /// Items with their re-grade counts, read in one query for the whole round.
    async fn items_reply(&self, items: &[ItemRecord]) -> Result<Vec<pb::DrawnItem>, Status> {
        let Some(round) = items.first().map(|i| i.round.as_str()) else {
            return Ok(Vec::new());
        };
        let counts = crate::store::regrade_counts(self.svc.db(), round).await?;
        Ok(items
            .iter()
            .map(|item| {
                let (total, submitted) = counts.get(&item.id).copied().unwrap_or_default();
                item_to_proto(item, total as i32, submitted as i32)
            })
            .collect())
    }

    async fn item_reply(&self, item: &ItemRecord) -> Result<pb::DrawnItem, Status> {
        Ok(self
            .items_reply(std::slice::from_ref(item))
            .await?
            .pop()
            .expect("one item in, one out"))
    }
}

#[tonic::async_trait]
impl SamplingService for SamplingGrpc {
    async fn create_review_round(
        &self,
        request: Request<pb::CreateReviewRoundRequest>,
    ) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let request = request.into_inner();
        let r = request
            .review_round
            .ok_or_else(|| invalid("review_round", "required"))?;
        let level = match pb::RoundLevel::try_from(r.level) {
            Ok(pb::RoundLevel::CountyReview) => Level::CountyReview,
            Ok(pb::RoundLevel::ProvinceAudit) => Level::ProvinceAudit,
            _ => {
                return Err(invalid(
                    "review_round.level",
                    "COUNTY_REVIEW or PROVINCE_AUDIT",
                ));
            }
        };
        let kind = match pb::RoundKind::try_from(r.kind) {
            Ok(pb::RoundKind::OnlineRegrade) => Kind::OnlineRegrade,
            Ok(pb::RoundKind::OfflineCheck) => Kind::OfflineCheck,
            _ => {
                return Err(invalid(
                    "review_round.kind",
                    "ONLINE_REGRADE or OFFLINE_CHECK",
                ));
            }
        };
        let mut batches = Vec::new();
        for (i, b) in r.batches.iter().enumerate() {
            match BatchName::id_of(b) {
                Some(id) => batches.push(id.to_owned()),
                None => {
                    return Err(invalid(
                        format!("review_round.batches[{i}]"),
                        format!("expected batches/{{batch_id}}, got {b:?}"),
                    ));
                }
            }
        }
        let round = self
            .svc
            .create_round(
                &c,
                NewRound {
                    level,
                    kind,
                    batches,
                    display_name: r.display_name,
                    request_id: request.request_id,
                },
            )
            .await?;
        ok(self.round_reply(&round).await?)
    }

    async fn get_review_round(
        &self,
        request: Request<pb::GetReviewRoundRequest>,
    ) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let id = round_id("name", &request.get_ref().name)?;
        let round = self.svc.round(&c, id).await?;
        ok(self.round_reply(&round).await?)
    }

    async fn list_review_rounds(
        &self,
        request: Request<pb::ListReviewRoundsRequest>,
    ) -> Reply<pb::ListReviewRoundsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let parent = parent_jurisdiction(&r.parent)?;
        let filter = RoundFilter {
            batch: batch_filter(&r.batch)?,
            level: enum_filter("level", r.level, |v| match pb::RoundLevel::try_from(v) {
                Ok(pb::RoundLevel::CountyReview) => Some(Level::CountyReview.key()),
                Ok(pb::RoundLevel::ProvinceAudit) => Some(Level::ProvinceAudit.key()),
                _ => None,
            })?
            .unwrap_or_default()
            .to_owned(),
            kind: enum_filter("kind", r.kind, |v| match pb::RoundKind::try_from(v) {
                Ok(pb::RoundKind::OnlineRegrade) => Some(Kind::OnlineRegrade.key()),
                Ok(pb::RoundKind::OfflineCheck) => Some(Kind::OfflineCheck.key()),
                _ => None,
            })?
            .unwrap_or_default()
            .to_owned(),
            state: enum_filter("state", r.state, |v| {
                pb::RoundState::try_from(v).ok().and_then(|s| {
                    RoundState::from_key(
                        &s.as_str_name()
                            .trim_start_matches("ROUND_STATE_")
                            .to_lowercase(),
                    )
                })
            })?
            .map(|s| s.key().to_owned())
            .unwrap_or_default(),
        };
        let page: Page<(i64, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!(
                "{}|{}|{}|{}|{}",
                r.parent, r.batch, r.level, r.kind, r.state
            ),
        )?;
        let (rows, total) = self
            .svc
            .list_rounds(&c, parent, &filter, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |r| (r.create_micros, r.id.clone()));
        let mut review_rounds = Vec::with_capacity(rows.len());
        for round in &rows {
            review_rounds.push(self.round_reply(round).await?);
        }
        ok(pb::ListReviewRoundsResponse {
            review_rounds,
            next_page_token,
            total_size: total,
        })
    }

    async fn freeze_population(
        &self,
        request: Request<pb::FreezePopulationRequest>,
    ) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let id = round_id("name", &request.get_ref().name)?;
        let round = self.svc.freeze(&c, id).await?;
        ok(self.round_reply(&round).await?)
    }

    async fn draw_sample(&self, request: Request<pb::DrawSampleRequest>) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let r = request.get_ref();
        let id = round_id("name", &r.name)?;
        let round = self.svc.draw(&c, id, &r.seed, &r.seed_note).await?;
        ok(self.round_reply(&round).await?)
    }

    async fn cancel_review_round(
        &self,
        request: Request<pb::CancelReviewRoundRequest>,
    ) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let r = request.get_ref();
        let round = self
            .svc
            .cancel(&c, round_id("name", &r.name)?, &r.reason)
            .await?;
        ok(self.round_reply(&round).await?)
    }

    async fn close_review_round(
        &self,
        request: Request<pb::CloseReviewRoundRequest>,
    ) -> Reply<pb::ReviewRound> {
        let c = ctx(&request)?;
        let r = request.get_ref();
        let round = self
            .svc
            .close(&c, round_id("name", &r.name)?, &r.reason)
            .await?;
        ok(self.round_reply(&round).await?)
    }

    async fn list_strata(
        &self,
        request: Request<pb::ListStrataRequest>,
    ) -> Reply<pb::ListStrataResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = round_id("parent", &r.parent)?;
        let stage = stage_key("stage", r.stage)?;
        let page: Page<(String, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("{}|{}", r.parent, r.stage),
        )?;
        let (rows, total) = self
            .svc
            .strata(&c, id, &stage, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) =
            page.finish(rows, |s| (s.stage.key().to_owned(), s.id.clone()));
        ok(pb::ListStrataResponse {
            strata: rows.iter().map(|s| stratum_to_proto(id, s)).collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn get_drawn_item(
        &self,
        request: Request<pb::GetDrawnItemRequest>,
    ) -> Reply<pb::DrawnItem> {
        let c = ctx(&request)?;
        let (id, item) = child("name", &request.get_ref().name, "items")?;
        let round = self.svc.round(&c, id).await?;
        let item = self.svc.item(&c, &round, item).await?;
        ok(self.item_reply(&item).await?)
    }

    async fn list_drawn_items(
        &self,
        request: Request<pb::ListDrawnItemsRequest>,
    ) -> Reply<pb::ListDrawnItemsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = round_id("parent", &r.parent)?;
        let filter = ItemFilter {
            stage: stage_key("stage", r.stage)?,
            unit: r.unit.clone(),
            assessor: assessor_id("assessor", &r.assessor)?.to_owned(),
            state: enum_filter("state", r.state, |v| {
                match pb::DrawnItemState::try_from(v) {
                    Ok(pb::DrawnItemState::Drawn) => Some(ItemState::Drawn),
                    Ok(pb::DrawnItemState::Assigned) => Some(ItemState::Assigned),
                    Ok(pb::DrawnItemState::Regraded) => Some(ItemState::Regraded),
                    _ => None,
                }
            })?
            .map(|s| s.key().to_owned())
            .unwrap_or_default(),
        };
        let page: Page<(String, String, i64)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!(
                "{}|{}|{}|{}|{}",
                r.parent, r.stage, r.unit, r.assessor, r.state
            ),
        )?;
        let (rows, total) = self
            .svc
            .items(&c, id, filter, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |i| {
            (i.stage.key().to_owned(), i.stratum.clone(), i.position)
        });
        ok(pb::ListDrawnItemsResponse {
            drawn_items: self.items_reply(&rows).await?,
            next_page_token,
            total_size: total,
        })
    }

    async fn assign_reviewers(
        &self,
        request: Request<pb::AssignReviewersRequest>,
    ) -> Reply<pb::AssignReviewersResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = round_id("round", &r.round)?;
        for (i, a) in r.assessors.iter().enumerate() {
            assessor_id(&format!("assessors[{i}]"), a)?;
        }
        let done = self.svc.assign(&c, id, &r.assessors).await?;
        ok(pb::AssignReviewersResponse {
            review_round: Some(self.round_reply(&done.round).await?),
            assigned_count: done.assigned,
            unassigned_count: done.unassigned,
            loads: done
                .loads
                .into_iter()
                .map(|(id, open, n)| pb::AssessorLoad {
                    assessor: format!("assessors/{id}"),
                    open_regrades: open,
                    items_in_round: n,
                })
                .collect(),
        })
    }

    async fn reassign_drawn_item(
        &self,
        request: Request<pb::ReassignDrawnItemRequest>,
    ) -> Reply<pb::DrawnItem> {
        let c = ctx(&request)?;
        let r = request.get_ref();
        let (id, item) = child("name", &r.name, "items")?;
        let to = assessor_id("assessor", &r.assessor)?;
        let item = self.svc.reassign(&c, id, item, to, &r.reason).await?;
        ok(self.item_reply(&item).await?)
    }

    async fn get_regrade(&self, request: Request<pb::GetRegradeRequest>) -> Reply<pb::Regrade> {
        let c = ctx(&request)?;
        let (id, item, code) = regrade_name("name", &request.get_ref().name)?;
        let r = self.svc.regrade(&c, id, item, code).await?;
        ok(regrade_to_proto(&r, &c))
    }

    async fn list_regrades(
        &self,
        request: Request<pb::ListRegradesRequest>,
    ) -> Reply<pb::ListRegradesResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (round, item) = if r.parent == "reviewRounds/-" {
            (String::new(), String::new())
        } else if let Ok((id, item)) = child("parent", &r.parent, "items") {
            (id.to_owned(), item.to_owned())
        } else {
            (round_id("parent", &r.parent)?.to_owned(), String::new())
        };
        let filter = RegradeFilter {
            round,
            item,
            unit: String::new(),
            assessor: assessor_id("assessor", &r.assessor)?.to_owned(),
            state: enum_filter("state", r.state, |v| match pb::RegradeState::try_from(v) {
                Ok(pb::RegradeState::Pending) => Some(RegradeState::Pending),
                Ok(pb::RegradeState::Submitted) => Some(RegradeState::Submitted),
                _ => None,
            })?
            .map(|s| s.key().to_owned())
            .unwrap_or_default(),
        };
        let page: Page<(String, i64, String, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("{}|{}|{}", r.parent, r.assessor, r.state),
        )?;
        let (rows, total) = self
            .svc
            .regrades(&c, filter, page.after.clone(), page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |g| {
            (g.round.clone(), g.seq, g.item.clone(), g.code.clone())
        });
        ok(pb::ListRegradesResponse {
            regrades: rows.iter().map(|g| regrade_to_proto(g, &c)).collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn submit_regrade(
        &self,
        request: Request<pb::SubmitRegradeRequest>,
    ) -> Reply<pb::Regrade> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let (id, item, code) = regrade_name("name", &r.name)?;
        let grade = match r.grade {
            0 => None,
            g => Some(
                crate::upstream::grade_from(g)
                    .ok_or_else(|| invalid("grade", "FAIL, PASS or EXCELLENT"))?,
            ),
        };
        let visit_date = match &r.visit_date {
            Some(d) => tica_server::proto_time::date_to_iso(
                tica_server::proto_time::date_from_proto(d)
                    .map_err(|e| invalid("visit_date", e))?,
            ),
            None => String::new(),
        };
        let input = RegradeInput {
            grade,
            rubric_scores: r
                .rubric_scores
                .iter()
                .map(|s| (s.criterion_id.clone(), s.points))
                .collect(),
            invalid_evidence: r
                .invalid_evidence
                .iter()
                .map(|e| (e.evidence.clone(), e.reason, e.explanation.clone()))
                .collect(),
            comment: r.comment.clone(),
            visit_date,
            visited_lesson: r.visited_lesson.clone(),
        };
        let done = self.svc.submit_regrade(&c, id, item, code, &input).await?;
        ok(regrade_to_proto(&done, &c))
    }

    async fn get_review_unit(
        &self,
        request: Request<pb::GetReviewUnitRequest>,
    ) -> Reply<pb::ReviewUnit> {
        let c = ctx(&request)?;
        let (id, unit) = child("name", &request.get_ref().name, "units")?;
        let report = self.svc.unit(&c, id, unit).await?;
        ok(unit_to_proto(&report))
    }

    async fn list_review_units(
        &self,
        request: Request<pb::ListReviewUnitsRequest>,
    ) -> Reply<pb::ListReviewUnitsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = round_id("parent", &r.parent)?;
        let wanted = enum_filter("outcome", r.outcome, |v| {
            match pb::UnitOutcome::try_from(v) {
                Ok(pb::UnitOutcome::Passed) => Some(Outcome::Passed),
                Ok(pb::UnitOutcome::SentBack) => Some(Outcome::SentBack),
                Ok(pb::UnitOutcome::PassedNotDrawn) => Some(Outcome::PassedNotDrawn),
                _ => None,
            }
        })?;
        let page: Page<String> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("{}|{}|{}", r.parent, r.drawn_only, r.outcome),
        )?;
        let (rows, total) = self
            .svc
            .units(
                &c,
                id,
                r.drawn_only,
                wanted,
                page.after.as_deref().unwrap_or_default(),
                page.limit(),
            )
            .await?;
        let (rows, next_page_token) = page.finish(rows, |u| u.unit.id.clone());
        ok(pb::ListReviewUnitsResponse {
            review_units: rows.iter().map(unit_to_proto).collect(),
            next_page_token,
            total_size: total,
        })
    }

    async fn list_unit_agreements(
        &self,
        request: Request<pb::ListUnitAgreementsRequest>,
    ) -> Reply<pb::ListUnitAgreementsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let parent = parent_jurisdiction(&r.parent)?;
        let level = match pb::RoundLevel::try_from(r.level) {
            Ok(pb::RoundLevel::CountyReview) => Level::CountyReview,
            Ok(pb::RoundLevel::ProvinceAudit) => Level::ProvinceAudit,
            _ => {
                return Err(invalid(
                    "level",
                    "required: COUNTY_REVIEW or PROVINCE_AUDIT",
                ));
            }
        };
        let kind = enum_filter("kind", r.kind, |v| match pb::RoundKind::try_from(v) {
            Ok(pb::RoundKind::OnlineRegrade) => Some(Kind::OnlineRegrade),
            Ok(pb::RoundKind::OfflineCheck) => Some(Kind::OfflineCheck),
            _ => None,
        })?;
        if r.year < 0 {
            return Err(invalid("year", "a year, or 0 for every year"));
        }
        let filter = AgreementFilter {
            level: Some(level),
            kind,
            batch: batch_filter(&r.batch)?,
            year: r.year,
            drawn_only: r.drawn_only,
        };
        let page: Page<(String, String)> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!(
                "{}|{}|{}|{}|{}|{}",
                r.parent, r.level, r.kind, r.batch, r.year, r.drawn_only
            ),
        )?;
        let found = self
            .svc
            .unit_agreements(&c, parent, &filter, page.after.as_ref(), page.limit())
            .await?;
        let (rows, next_page_token) =
            page.finish(found.units, |u| (u.unit.clone(), u.batch.clone()));
        let (n, agreeing) = found.pooled;
        ok(pb::ListUnitAgreementsResponse {
            unit_agreements: rows.iter().map(agreement_to_proto).collect(),
            next_page_token,
            total_size: found.total,
            total: Some(pb::UnitAgreement {
                pooled_compared: n as i64,
                pooled_agreements: agreeing as i64,
                pooled_agreement_permille: permille(agreeing, n),
                ..Default::default()
            }),
        })
    }

    async fn decide_review_unit(
        &self,
        request: Request<pb::DecideReviewUnitRequest>,
    ) -> Reply<pb::ReviewUnit> {
        let c = ctx(&request)?;
        let r = request.get_ref();
        let (id, unit) = child("name", &r.name, "units")?;
        let report = self.svc.decide(&c, id, unit, &r.reason).await?;
        ok(unit_to_proto(&report))
    }

    type ExportReviewRoundStream = Chunks;

    async fn export_review_round(
        &self,
        request: Request<pb::ExportReviewRoundRequest>,
    ) -> Reply<Self::ExportReviewRoundStream> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let id = round_id("name", &r.name)?;
        let xlsx = match common::FileFormat::try_from(r.format) {
            Ok(common::FileFormat::Unspecified | common::FileFormat::Csv) => false,
            Ok(common::FileFormat::Xlsx) => true,
            _ => return Err(invalid("format", "CSV or XLSX")),
        };
        if r.part == pb::RoundExportPart::Bundle as i32 {
            if r.format != common::FileFormat::Unspecified as i32 {
                return Err(invalid(
                    "format",
                    "leave it unspecified: the BUNDLE part is a ZIP",
                ));
            }
            let file = self.svc.export_bundle(&c, id).await?;
            return ok(export_stream(file));
        }
        let part = match pb::RoundExportPart::try_from(r.part) {
            Ok(pb::RoundExportPart::Unspecified) => None,
            Ok(pb::RoundExportPart::Summary) => Some(Part::Summary),
            Ok(pb::RoundExportPart::Population) => Some(Part::Population),
            Ok(pb::RoundExportPart::Tickets) => Some(Part::Tickets),
            Ok(pb::RoundExportPart::Sample) => Some(Part::Sample),
            Ok(pb::RoundExportPart::Bundle) | Err(_) => {
                return Err(invalid(
                    "part",
                    "SUMMARY, POPULATION, TICKETS, SAMPLE or BUNDLE",
                ));
            }
        };
        let file = self.svc.export(&c, id, part, xlsx).await?;
        ok(export_stream(file))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let c = ctx(&request)?;
        let r = request.into_inner();
        let parent = parent_jurisdiction(&r.parent)?;
        let page: Page<i64> = Page::from_request(
            r.page_size,
            &r.page_token,
            &format!("{}|{}", r.parent, r.resource),
        )?;
        let rows = self
            .svc
            .audit_events(&c, parent, &r.resource, page.after, page.limit())
            .await?;
        let (rows, next_page_token) = page.finish(rows, |e| e.id);
        ok(pb::ListAuditEventsResponse {
            audit_events: rows.iter().map(tica_server::audit_to_proto).collect(),
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tica_domain::policy::{AgreementCriterion, Ratio, ThresholdComparison};
    use tica_domain::sampling::{agreement, verdict};

    #[test]
    fn a_unit_report_shows_every_figure_rounded_as_the_contract_says() {
        // The 3-grade table of tica_domain's κ test: 20 re-grades, 15 agree, κ = 0.534884,
        // Wilson 95 % (0.5312991, 0.8881383).
        let cells = [
            ((Grade::Fail, Grade::Fail), 2),
            ((Grade::Fail, Grade::Pass), 1),
            ((Grade::Pass, Grade::Fail), 1),
            ((Grade::Pass, Grade::Pass), 10),
            ((Grade::Pass, Grade::Excellent), 1),
            ((Grade::Excellent, Grade::Pass), 2),
            ((Grade::Excellent, Grade::Excellent), 3),
        ];
        let pairs: Vec<(Grade, Grade)> = cells
            .iter()
            .flat_map(|(pair, n)| std::iter::repeat_n(*pair, *n))
            .collect();
        let figures = agreement(&pairs);
        let plan = Plan {
            batch: "341324-2026".into(),
            county: "341324".into(),
            policy_versions: Vec::new(),
            school_rate: Ratio::new(15, 100),
            teacher_rate: Ratio::new(15, 100),
            minimum: 1,
            threshold: Ratio::new(80, 100),
            criterion: AgreementCriterion::PointEstimate,
            comparison: ThresholdComparison::AtLeast,
            offline_required: false,
            subject_match: false,
            rubric_rule: Default::default(),
        };
        let report = UnitReport {
            unit: UnitRecord {
                round: "341324-2026-county-1".into(),
                id: "3413240007".into(),
                unit: "schools/3413240007".into(),
                batch: "341324-2026".into(),
                drawn: true,
                outcome: Outcome::Undecided,
                decision: None,
            },
            verdict: verdict(&figures, plan.threshold, plan.criterion, plan.comparison),
            plan,
            pending: 0,
            figures,
            confusion: cells.iter().map(|(pair, n)| (*pair, *n as i64)).collect(),
        };
        let proto = unit_to_proto(&report);
        assert_eq!((proto.compared, proto.agreements), (20, 15));
        assert_eq!(proto.agreement_permille, 750);
        assert_eq!(proto.wilson_lower_ppm, 531_299, "rounded down");
        assert_eq!(proto.wilson_upper_ppm, 888_139, "rounded up");
        assert_eq!(proto.kappa_ppm, Some(534_884));
        assert_eq!(proto.confusion.len(), 7);
        assert!(!proto.point_estimate_meets && !proto.wilson_lower_meets);
        assert_eq!(
            proto.computed_outcome,
            pb::UnitOutcome::SentBack as i32,
            "75 % < 80 %"
        );
        assert_eq!(
            proto.outcome,
            pb::UnitOutcome::Unspecified as i32,
            "not decided yet"
        );
    }
}
