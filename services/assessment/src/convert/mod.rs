//! Proto ⇄ domain. With `grpc.rs`, the only module that touches generated types.

pub mod policy;

use tica_domain::division::DivisionCode;
use tica_domain::micro_competency::{Dimension, Environment, MicroCompetency};
use tica_domain::policy::{self as d, Preset};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_server::proto_time::{date_to_proto, timestamp};

use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::service::{self, Appraisal, EffectivePolicy, Level, ProgressRow, progress};

// ----------------------------------------------------------------------------------------------
// Names

/// Splits `name` into the ids between fixed collection segments, e.g.
/// `ids(name, &["batches", "participants"])` for `batches/{b}/participants/{t}`.
pub fn ids<'a>(field: &str, name: &'a str, collections: &[&str]) -> Result<Vec<&'a str>> {
    let parts: Vec<&str> = name.split('/').collect();
    let shape = || {
        collections
            .iter()
            .map(|c| format!("{c}/{{id}}"))
            .collect::<Vec<_>>()
            .join("/")
    };
    if parts.len() != collections.len() * 2 {
        return Err(AssessmentError::invalid(
            field,
            format!("expected `{}`, got {name:?}", shape()),
        ));
    }
    let mut out = Vec::with_capacity(collections.len());
    for (i, collection) in collections.iter().enumerate() {
        if parts[i * 2] != *collection || parts[i * 2 + 1].is_empty() {
            return Err(AssessmentError::invalid(
                field,
                format!("expected `{}`, got {name:?}", shape()),
            ));
        }
        out.push(parts[i * 2 + 1]);
    }
    Ok(out)
}

/// `{…}/{suffix}` with the prefix's ids, e.g. `batches/{b}/participants/{t}/selection`.
pub fn ids_with_suffix<'a>(
    field: &str,
    name: &'a str,
    collections: &[&str],
    suffix: &str,
) -> Result<Vec<&'a str>> {
    let prefix = name
        .strip_suffix(suffix)
        .and_then(|p| p.strip_suffix('/'))
        .ok_or_else(|| {
            AssessmentError::invalid(
                field,
                format!("expected a name ending in `/{suffix}`, got {name:?}"),
            )
        })?;
    ids(field, prefix, collections)
}

/// `jurisdictions/{code}` (or a bare code when `collection` is empty).
pub fn code_in(field: &str, name: &str, collection: &str) -> Result<DivisionCode> {
    let code = ids(field, name, &[collection])?[0];
    DivisionCode::parse(code).map_err(|e| AssessmentError::invalid(field, e.to_string()))
}

/// A participant name → (batch, teacher).
pub fn participant(field: &str, name: &str) -> Result<(String, String)> {
    let v = ids(field, name, &["batches", "participants"])?;
    Ok((v[0].to_owned(), v[1].to_owned()))
}

/// A submission name → (batch, teacher, code).
pub fn submission(field: &str, name: &str) -> Result<(String, String, String)> {
    let v = ids(field, name, &["batches", "participants", "submissions"])?;
    Ok((v[0].to_owned(), v[1].to_owned(), v[2].to_owned()))
}

/// An enum filter: 0 means any; unknown values are refused.
pub fn filter<T>(field: &str, value: i32, from: impl Fn(i32) -> Option<T>) -> Result<Option<T>> {
    if value == 0 {
        return Ok(None);
    }
    from(value)
        .map(Some)
        .ok_or_else(|| AssessmentError::invalid(field, format!("unknown value {value}")))
}

/// A `google.type.Date`, if set and complete.
pub fn date(
    field: &str,
    value: Option<&tica_proto::google::r#type::Date>,
) -> Result<Option<time::Date>> {
    value
        .filter(|d| d.year != 0 || d.month != 0 || d.day != 0)
        .map(|d| {
            tica_server::proto_time::date_from_proto(d)
                .map_err(|e| AssessmentError::invalid(field, e))
        })
        .transpose()
}

// ----------------------------------------------------------------------------------------------
// Enums

/// A grade for the API.
pub fn grade(g: Option<GradeKey>) -> i32 {
    g.map(policy::grade_to_proto)
        .unwrap_or(common::Grade::Unspecified as i32)
}

fn actor(a: &Actor) -> common::Actor {
    common::Actor {
        subject: a.subject.clone(),
        role: a.role.clone(),
        acting_for: a.acting_for.clone(),
    }
}

/// Batch state to proto.
pub fn batch_state(s: BatchState) -> i32 {
    (match s {
        BatchState::Draft => pb::BatchState::Draft,
        BatchState::Open => pb::BatchState::Open,
        BatchState::ReadyForAudit => pb::BatchState::ReadyForAudit,
        BatchState::InProvinceAudit => pb::BatchState::InProvinceAudit,
        BatchState::ReturnedToCounty => pb::BatchState::ReturnedToCounty,
        BatchState::Certified => pb::BatchState::Certified,
    }) as i32
}

/// Batch state from proto.
pub fn batch_state_from(v: i32) -> Option<BatchState> {
    Some(match pb::BatchState::try_from(v).ok()? {
        pb::BatchState::Draft => BatchState::Draft,
        pb::BatchState::Open => BatchState::Open,
        pb::BatchState::ReadyForAudit => BatchState::ReadyForAudit,
        pb::BatchState::InProvinceAudit => BatchState::InProvinceAudit,
        pb::BatchState::ReturnedToCounty => BatchState::ReturnedToCounty,
        pb::BatchState::Certified => BatchState::Certified,
        pb::BatchState::Unspecified => return None,
    })
}

fn batch_state_from_key(key: &str) -> i32 {
    BatchState::from_key(key).map(batch_state).unwrap_or(0)
}

/// School result state to proto.
pub fn school_state(s: SchoolResultState) -> i32 {
    (match s {
        SchoolResultState::Open => pb::SchoolResultState::Open,
        SchoolResultState::InCountyReview => pb::SchoolResultState::InCountyReview,
        SchoolResultState::CountyApproved => pb::SchoolResultState::CountyApproved,
        SchoolResultState::Returned => pb::SchoolResultState::Returned,
        SchoolResultState::Certified => pb::SchoolResultState::Certified,
    }) as i32
}

/// School result state from proto.
pub fn school_state_from(v: i32) -> Option<SchoolResultState> {
    Some(match pb::SchoolResultState::try_from(v).ok()? {
        pb::SchoolResultState::Open => SchoolResultState::Open,
        pb::SchoolResultState::InCountyReview => SchoolResultState::InCountyReview,
        pb::SchoolResultState::CountyApproved => SchoolResultState::CountyApproved,
        pb::SchoolResultState::Returned => SchoolResultState::Returned,
        pb::SchoolResultState::Certified => SchoolResultState::Certified,
        pb::SchoolResultState::Unspecified => return None,
    })
}

fn school_state_from_key(key: &str) -> i32 {
    SchoolResultState::from_key(key)
        .map(school_state)
        .unwrap_or(0)
}

/// Submission state to proto.
pub fn submission_state(s: SubmissionState) -> i32 {
    (match s {
        SubmissionState::Draft => pb::SubmissionState::Draft,
        SubmissionState::Submitted => pb::SubmissionState::Submitted,
        SubmissionState::Graded => pb::SubmissionState::Graded,
    }) as i32
}

/// Submission state key from proto.
pub fn submission_state_from(v: i32) -> Option<SubmissionState> {
    Some(match pb::SubmissionState::try_from(v).ok()? {
        pb::SubmissionState::Draft => SubmissionState::Draft,
        pb::SubmissionState::Submitted => SubmissionState::Submitted,
        pb::SubmissionState::Graded => SubmissionState::Graded,
        pb::SubmissionState::Unspecified => return None,
    })
}

/// Progress level from proto.
pub fn level_from(v: i32) -> Option<Level> {
    Some(match pb::ProgressLevel::try_from(v).ok()? {
        pb::ProgressLevel::School => Level::School,
        pb::ProgressLevel::County => Level::County,
        pb::ProgressLevel::City => Level::City,
        pb::ProgressLevel::Province => Level::Province,
        pb::ProgressLevel::Unspecified => return None,
    })
}

fn level(l: Option<Level>) -> i32 {
    (match l {
        Some(Level::School) => pb::ProgressLevel::School,
        Some(Level::County) => pb::ProgressLevel::County,
        Some(Level::City) => pb::ProgressLevel::City,
        Some(Level::Province) => pb::ProgressLevel::Province,
        None => pb::ProgressLevel::Unspecified,
    }) as i32
}

// ----------------------------------------------------------------------------------------------
// Reference data and policies

/// A micro-competency for the API.
pub fn micro_competency(m: &MicroCompetency) -> pb::MicroCompetency {
    pb::MicroCompetency {
        name: format!("microCompetencies/{}", m.code),
        code: m.code.to_owned(),
        display_name: m.name_zh.to_owned(),
        dimension: dimension(m.dimension),
        environment: environment(m.environment),
        credits: i32::from(m.credits),
    }
}

/// An environment for the API.
pub fn environment(e: Environment) -> i32 {
    (match e {
        Environment::Multimedia => pb::Environment::Multimedia,
        Environment::Blended => pb::Environment::Blended,
        Environment::Smart => pb::Environment::Smart,
    }) as i32
}

/// A preset's description.
pub fn preset_info(p: Preset) -> pb::PolicyPresetInfo {
    pb::PolicyPresetInfo {
        preset: policy::preset_to_proto(p),
        display_name: p.display_name().to_owned(),
        default_jurisdiction: p.default_jurisdiction().to_owned(),
        source: p.source().to_owned(),
        rules: Some(policy::rules_to_proto(&d::preset(p))),
    }
}

/// A policy for the API.
pub fn policy_to_proto(p: &PolicyRecord, rules: &d::PolicyRules) -> pb::Policy {
    let name = format!("policies/{}", p.jurisdiction);
    pb::Policy {
        etag: crate::model::etag(&name, p.update_micros),
        name,
        jurisdiction: format!("jurisdictions/{}", p.jurisdiction),
        display_name: p.display_name.clone(),
        preset: [
            Preset::Ningxia,
            Preset::Anhui,
            Preset::Sixian,
            Preset::Beijing,
        ]
        .into_iter()
        .find(|x| x.key() == p.preset)
        .map(policy::preset_to_proto)
        .unwrap_or(0),
        rules: Some(policy::rules_to_proto(rules)),
        version: p.version as i32,
        create_time: Some(timestamp(p.create_micros)),
        update_time: Some(timestamp(p.update_micros)),
    }
}

/// A policy version for the API.
pub fn version_to_proto(v: &PolicyVersionRecord) -> Result<pb::PolicyVersion> {
    let rules: d::PolicyRules = serde_json::from_str(&v.rules_json)
        .map_err(|_| AssessmentError::Internal("stored version does not parse".into()))?;
    Ok(pb::PolicyVersion {
        name: service::policies_version_name(v.jurisdiction, v.version),
        version: v.version as i32,
        rules: Some(policy::rules_to_proto(&rules)),
        change_note: v.change_note.clone(),
        author: Some(actor(&v.author)),
        create_time: Some(timestamp(v.create_micros)),
    })
}

/// The effective policy for the API.
pub fn effective_to_proto(e: &EffectivePolicy) -> pb::EffectivePolicy {
    pb::EffectivePolicy {
        jurisdiction: format!("jurisdictions/{}", e.jurisdiction),
        rules: Some(policy::rules_to_proto(&e.rules)),
        sources: e
            .sources
            .iter()
            .map(|(section, source)| pb::SectionSource {
                section: section_to_proto(section),
                policy_version: source.clone().unwrap_or_default(),
            })
            .collect(),
        policy_versions: e.versions.clone(),
    }
}

fn section_to_proto(section: &str) -> i32 {
    (match section {
        "hours" => pb::PolicySection::Hours,
        "selection" => pb::PolicySection::Selection,
        "evidence" => pb::PolicySection::Evidence,
        "grading" => pb::PolicySection::Grading,
        "school_grade" => pb::PolicySection::SchoolGrade,
        "county_grade" => pb::PolicySection::CountyGrade,
        "certificate" => pb::PolicySection::Certificate,
        "sampling" => pb::PolicySection::Sampling,
        "carry_over" => pb::PolicySection::CarryOver,
        _ => pb::PolicySection::Unspecified,
    }) as i32
}

// ----------------------------------------------------------------------------------------------
// Batches and participants

fn opt_date(d: Option<time::Date>) -> Option<tica_proto::google::r#type::Date> {
    d.map(date_to_proto)
}

/// A batch for the API.
pub fn batch_to_proto(
    b: &BatchRecord,
    figures: &service::results_figures::BatchFigures,
) -> Result<pb::Batch> {
    let rules: d::PolicyRules = serde_json::from_str(&b.rules_json).unwrap_or_default();
    let name = format!("batches/{}", b.id);
    Ok(pb::Batch {
        etag: crate::model::etag(&name, b.update_micros),
        name,
        county: format!("jurisdictions/{}", b.county),
        year: b.year,
        display_name: b.display_name.clone(),
        schools: b.schools.iter().map(|s| format!("schools/{s}")).collect(),
        selection_deadline: opt_date(b.selection_deadline),
        submission_deadline: opt_date(b.submission_deadline),
        grading_deadline: opt_date(b.grading_deadline),
        certificate_date: opt_date(b.certificate_date),
        state: batch_state(b.state),
        open_date: opt_date(b.open_date),
        policy_versions: b.policy_versions.clone(),
        effective_rules: (b.state != BatchState::Draft).then(|| policy::rules_to_proto(&rules)),
        participant_count: figures.participants,
        schools_total: figures.schools[0],
        schools_excellent: figures.schools[1],
        schools_passed: figures.schools[2],
        schools_failed: figures.schools[3],
        county_grade: grade(figures.county_grade),
        county_grade_explanation: figures.explanation.clone(),
        last_certified_sequence: b.last_sequence,
        transitions: b
            .transitions
            .iter()
            .map(|t| pb::BatchTransition {
                from_state: batch_state_from_key(&t.from),
                to_state: batch_state_from_key(&t.to),
                actor: Some(actor(&t.actor)),
                time: Some(timestamp(t.micros)),
                reason: t.reason.clone(),
                review_round: t.review_round.clone(),
            })
            .collect(),
        create_time: Some(timestamp(b.create_micros)),
        update_time: Some(timestamp(b.update_micros)),
    })
}

/// A participant for the API; `reference` is the batch's age reference date.
pub fn participant_to_proto(
    p: &ParticipantRecord,
    reference: Option<time::Date>,
) -> pb::Participant {
    let category = tica_domain::TeacherCategory::from_label(&p.category)
        .unwrap_or(tica_domain::TeacherCategory::Ordinary);
    pb::Participant {
        name: service::participants_name(p),
        teacher: format!("teachers/{}", p.teacher_number),
        school: format!("schools/{}", p.school_code),
        state: if p.enrolled {
            pb::ParticipantState::Enrolled
        } else {
            pb::ParticipantState::Withdrawn
        } as i32,
        carried_over_from: p.carried_over_from.clone(),
        category: policy::category_to_proto(category),
        roles: p.roles.iter().copied().map(policy::role_to_proto).collect(),
        age_on_reference_date: reference
            .map(|r| tica_domain::resident_id::completed_years(p.birth_date, r) as i32)
            .unwrap_or(0),
        selected_micro_competencies: p.selection.clone(),
        hours: p
            .hours
            .iter()
            .map(|h| pb::HoursProgress {
                kind: service::hours_kind(&h.kind)
                    .map(policy::hours_kind_to_proto)
                    .unwrap_or(0),
                required_centihours: h.required,
                counted_centihours: h.counted,
            })
            .collect(),
        counted_centihours: p.counted_centihours,
        hours_complete: p.hours_complete,
        submissions_expected: p.submissions_expected as i32,
        submissions_submitted: p.submissions_submitted as i32,
        submissions_graded: p.submissions_graded as i32,
        online_grade: grade(p.online_grade),
        offline_check: (match p.offline_check.as_ref().map(|c| c.outcome.as_str()) {
            Some("pending") => pb::OfflineCheck::Pending,
            Some("passed") => pb::OfflineCheck::Passed,
            Some("failed") => pb::OfflineCheck::Failed,
            _ => pb::OfflineCheck::Unspecified,
        }) as i32,
        grade: grade(p.grade),
        grade_reasons: p.grade_reasons.clone(),
        certified: p.certified,
        withdraw_reason: p.withdraw_reason.clone(),
        create_time: Some(timestamp(p.create_micros)),
        update_time: Some(timestamp(p.update_micros)),
    }
}

/// A participant's selection for the API.
pub fn selection_to_proto(p: &ParticipantRecord, policy_version: &str) -> pb::Selection {
    let verdict = serde_json::from_str::<d::Verdict>(&p.verdict_json).ok();
    pb::Selection {
        name: format!("{}/selection", service::participants_name(p)),
        micro_competencies: p.selection.clone(),
        state: (match p.selection_state {
            SelectionState::Accepted => pb::SelectionState::Accepted,
            SelectionState::Locked => pb::SelectionState::Locked,
            SelectionState::None => pb::SelectionState::Unspecified,
        }) as i32,
        verdict: verdict.map(|v| policy::verdict_to_proto(&v, policy_version)),
        submitted_by: p.selection_info.as_ref().map(|i| actor(&i.actor)),
        update_time: p.selection_info.as_ref().map(|i| timestamp(i.micros)),
    }
}

/// An hours record for the API (never with the ID number).
pub fn hours_record_to_proto(
    r: &HoursRecordRow,
    participant: Option<&ParticipantRecord>,
    counted: &(i64, Option<String>),
) -> pb::HoursRecord {
    let status = match (participant, counted) {
        (None, _) => pb::HoursRecordStatus::Unmatched,
        (Some(_), (c, _)) if *c > 0 => pb::HoursRecordStatus::Counted,
        _ => pb::HoursRecordStatus::NotCounted,
    };
    pb::HoursRecord {
        name: format!("providers/{}/hoursRecords/{}", r.provider_id, r.record_id),
        teacher: format!("teachers/{}", r.teacher_number),
        id_number: String::new(),
        kind: service::hours_kind(&r.kind)
            .map(policy::hours_kind_to_proto)
            .unwrap_or(0),
        course_id: r.course_id.clone(),
        course_title: r.course_title.clone(),
        centihours: r.centihours,
        watched_minutes: r.watched_minutes as i32,
        course_minutes: r.course_minutes as i32,
        complete_time: Some(timestamp(r.complete_micros)),
        revision: r.revision,
        participant: participant
            .map(service::participants_name)
            .unwrap_or_default(),
        status: status as i32,
        status_reason: counted.1.clone().unwrap_or_default(),
        counted_centihours: counted.0,
        create_time: Some(timestamp(r.create_micros)),
        update_time: Some(timestamp(r.update_micros)),
    }
}

/// An evidence file for the API.
pub fn evidence_to_proto(e: &EvidenceRecord) -> pb::Evidence {
    pb::Evidence {
        name: service::evidence_name(e),
        micro_competencies: e.codes.clone(),
        kind: service::evidence_kind(&e.kind)
            .map(policy::evidence_kind_to_proto)
            .unwrap_or(0),
        file_name: e.file_name.clone(),
        content_type: e.content_type.clone(),
        size_bytes: e.size_bytes,
        sha256: e.sha256.clone(),
        duration_seconds: e.duration_seconds as i32,
        description: e.description.clone(),
        uploaded_by: Some(actor(&e.uploaded_by)),
        create_time: Some(timestamp(e.create_micros)),
    }
}

fn grading_to_proto(g: &GradingRecord, batch: &str, teacher: &str) -> pb::Grading {
    pb::Grading {
        grade: policy::grade_to_proto(g.grade),
        rubric_scores: g
            .rubric_scores
            .iter()
            .map(|(id, points)| common::RubricScore {
                criterion_id: id.clone(),
                points: *points as i32,
            })
            .collect(),
        total_points: g.total_points as i32,
        invalid_evidence: g
            .invalid_evidence
            .iter()
            .map(|i| common::InvalidEvidence {
                evidence: format!(
                    "batches/{batch}/participants/{teacher}/evidence/{}",
                    i.evidence
                ),
                reason: invalid_reason_to_proto(&i.reason),
                explanation: i.explanation.clone(),
            })
            .collect(),
        comment: g.comment.clone(),
        assessor: format!("assessors/{}", g.assessor),
        grade_time: Some(timestamp(g.micros)),
    }
}

fn invalid_reason_to_proto(key: &str) -> i32 {
    (match key {
        "teacher_not_shown" => common::InvalidEvidenceReason::TeacherNotShown,
        "not_own_work" => common::InvalidEvidenceReason::NotOwnWork,
        "unreadable" => common::InvalidEvidenceReason::Unreadable,
        "off_topic" => common::InvalidEvidenceReason::OffTopic,
        "other" => common::InvalidEvidenceReason::Other,
        _ => common::InvalidEvidenceReason::Unspecified,
    }) as i32
}

/// An invalid-evidence reason key from proto.
pub fn invalid_reason_from(v: i32) -> Option<&'static str> {
    Some(match common::InvalidEvidenceReason::try_from(v).ok()? {
        common::InvalidEvidenceReason::TeacherNotShown => "teacher_not_shown",
        common::InvalidEvidenceReason::NotOwnWork => "not_own_work",
        common::InvalidEvidenceReason::Unreadable => "unreadable",
        common::InvalidEvidenceReason::OffTopic => "off_topic",
        common::InvalidEvidenceReason::Other => "other",
        common::InvalidEvidenceReason::Unspecified => return None,
    })
}

/// A submission for the API; `blind` leaves the grading out (re-grading reviewers).
pub fn submission_to_proto(
    s: &SubmissionRecord,
    evidence: &[EvidenceRecord],
    blind: bool,
) -> pb::Submission {
    pb::Submission {
        name: service::submission_name(s),
        teacher: format!("teachers/{}", s.teacher_number),
        school: format!("schools/{}", s.school_code),
        micro_competency: s.code.clone(),
        state: submission_state(s.state),
        evidence: evidence
            .iter()
            .filter(|e| e.codes.contains(&s.code))
            .map(service::evidence_name)
            .collect(),
        submit_time: s.submit_micros.map(timestamp),
        grading: if blind {
            None
        } else {
            s.grading
                .as_ref()
                .map(|g| grading_to_proto(g, &s.batch_id, &s.teacher_number))
        },
        grading_history: if blind {
            Vec::new()
        } else {
            s.history
                .iter()
                .map(|g| grading_to_proto(g, &s.batch_id, &s.teacher_number))
                .collect()
        },
        locked: s.state != SubmissionState::Draft,
        return_reason: s.return_reason.clone(),
        carried_over: s.carried_over,
        update_time: Some(timestamp(s.update_micros)),
    }
}

/// A school result for the API.
pub fn school_result_to_proto(
    r: &SchoolResultRecord,
    f: &service::results_figures::SchoolFigures,
) -> pb::SchoolResult {
    pb::SchoolResult {
        name: format!("batches/{}/schoolResults/{}", r.batch_id, r.school_code),
        school: format!("schools/{}", r.school_code),
        state: school_state(r.state),
        participants: f.sums.participants,
        graded: f.sums.graded,
        excellent: f.sums.excellent,
        passed: f.sums.passed - f.sums.excellent,
        failed: f.sums.failed,
        grade: grade(f.grade),
        grade_explanation: f.explanation.clone(),
        excellent_quota_remaining: f.quota_remaining.unwrap_or(-1),
        transitions: r
            .transitions
            .iter()
            .map(|t| pb::SchoolResultTransition {
                from_state: school_state_from_key(&t.from),
                to_state: school_state_from_key(&t.to),
                actor: Some(actor(&t.actor)),
                time: Some(timestamp(t.micros)),
                reason: t.reason.clone(),
                review_round: t.review_round.clone(),
            })
            .collect(),
        update_time: Some(timestamp(r.update_micros)),
    }
}

/// A progress row for the API.
pub fn progress_to_proto(row: &ProgressRow, display_name: String, year: i32) -> pb::ProgressRow {
    let s = &row.sums;
    let p = progress::permille;
    pb::ProgressRow {
        unit: row.unit.clone(),
        display_name,
        level: level(row.level),
        year,
        participants: s.participants,
        selected: s.selected,
        hours_completed: s.hours_completed,
        submitted: s.submitted,
        graded: s.graded,
        passed: s.passed,
        excellent: s.excellent,
        failed: s.failed,
        selected_permille: p(s.selected, s.participants),
        hours_completed_permille: p(s.hours_completed, s.participants),
        submitted_permille: p(s.submitted, s.participants),
        graded_permille: p(s.graded, s.participants),
        pass_permille: p(s.passed, s.graded),
        excellent_permille: p(s.excellent, s.graded),
        submissions_expected: s.submissions_expected,
        submissions_submitted: s.submissions_submitted,
        submissions_graded: s.submissions_graded,
        submissions_passed: s.submissions_passed,
        schools_total: row.schools[0],
        schools_excellent: row.schools[1],
        schools_passed: row.schools[2],
        schools_failed: row.schools[3],
        counties_total: row.counties[0],
        counties_excellent: row.counties[1],
        counties_passed: row.counties[2],
        counties_failed: row.counties[3],
        grade: grade(row.grade),
        compute_time: Some(timestamp(tica_storage::now_micros())),
        micro_competency_pass_permille: p(s.submissions_passed, s.submissions_graded),
        school_result_state: row.school_result_state.map(school_state).unwrap_or(0),
    }
}

/// One micro-competency's figures for the API.
pub fn code_progress_to_proto(
    c: &progress::CodeProgress,
    participants: i64,
) -> pb::MicroCompetencyProgress {
    let m = micro_competency(c.micro_competency);
    let s = &c.sums;
    pb::MicroCompetencyProgress {
        micro_competency: m.name,
        code: m.code,
        display_name: m.display_name,
        dimension: m.dimension,
        environment: m.environment,
        credits: m.credits,
        selected: s.selected,
        submitted: s.submitted,
        graded: s.graded,
        passed: s.passed,
        excellent: s.excellent,
        selected_permille: progress::permille(s.selected, participants),
        pass_permille: progress::permille(s.passed, s.graded),
    }
}

/// The twelve environment × dimension cells for the API, environment first.
pub fn cells_to_proto(f: &progress::MicroCompetencyFigures) -> Vec<pb::EnvironmentDimensionCount> {
    let mut cells = Vec::with_capacity(12);
    for e in Environment::ALL {
        for d in Dimension::ALL {
            let (selected, passed) = f.cell(e, d);
            cells.push(pb::EnvironmentDimensionCount {
                environment: environment(e),
                dimension: dimension(d),
                selected,
                passed,
            });
        }
    }
    cells
}

/// A dimension for the API.
pub fn dimension(d: Dimension) -> i32 {
    (match d {
        Dimension::LearningAnalysis => pb::Dimension::LearningAnalysis,
        Dimension::InstructionalDesign => pb::Dimension::InstructionalDesign,
        Dimension::LearningGuidance => pb::Dimension::LearningGuidance,
        Dimension::AcademicAssessment => pb::Dimension::AcademicAssessment,
    }) as i32
}

/// A principal's appraisal for the API.
pub fn appraisal_to_proto(name: String, a: &Appraisal) -> pb::PrincipalAppraisal {
    pb::PrincipalAppraisal {
        school_result: name,
        principals: a
            .principals
            .iter()
            .map(|n| format!("teachers/{n}"))
            .collect(),
        teachers_graded: a.teachers_graded,
        teachers_passed: a.teachers_passed,
        teacher_pass_permille: progress::permille(a.teachers_passed, a.teachers_graded),
        micro_competencies_graded: a.micro_competencies_graded,
        micro_competencies_passed: a.micro_competencies_passed,
        micro_competency_pass_permille: progress::permille(
            a.micro_competencies_passed,
            a.micro_competencies_graded,
        ),
        teachers_enrolled: a.teachers_enrolled,
        teachers_reached_target: a.teachers_reached_target,
        target_achievement_permille: progress::permille(
            a.teachers_reached_target,
            a.teachers_enrolled,
        ),
        school_grade: grade(a.school_grade),
        r#final: a.is_final,
    }
}

/// A certified-results event for the API.
pub fn certified_to_proto(e: &CertifiedEventRecord) -> Result<pb::CertifiedResult> {
    let p: service::CertifiedPayload = serde_json::from_str(&e.payload_json)
        .map_err(|_| AssessmentError::Internal("stored event does not parse".into()))?;
    Ok(pb::CertifiedResult {
        sequence: e.sequence,
        kind: if e.kind == "withdrawn" {
            pb::CertifiedResultEventKind::Withdrawn
        } else {
            pb::CertifiedResultEventKind::Certified
        } as i32,
        result_key: e.result_key.clone(),
        batch: p.batch,
        year: p.year,
        teacher: p.teacher,
        teacher_display_name: p.teacher_display_name,
        teacher_id_number_masked: p.teacher_id_number_masked,
        school: p.school,
        school_display_name: p.school_display_name,
        county: p.county,
        county_display_name: p.county_display_name,
        certificate_mode: policy::certificate_mode_to_proto(match p.certificate_mode.as_str() {
            "per_micro_competency" => Some(d::CertificateMode::PerMicroCompetency),
            "level" => Some(d::CertificateMode::Level),
            _ => None,
        }),
        micro_competency: p.micro_competency,
        micro_competency_display_name: p.micro_competency_display_name,
        grade: grade(grade_from_key(&p.grade)),
        credits: p.credits,
        counted_centihours: p.counted_centihours,
        issuing_authority: p.issuing_authority,
        issuing_jurisdiction: p.issuing_jurisdiction,
        certificate_title: p.certificate_title,
        policy_versions: p.policy_versions,
        event_time: Some(timestamp(e.event_micros)),
        withdraw_reason: p.withdraw_reason,
        certificate_date: Some(date_to_proto(
            tica_server::proto_time::date_from_iso(&p.certificate_date).unwrap_or_else(|| {
                tica_domain::today_in_china(
                    time::OffsetDateTime::from_unix_timestamp(e.event_micros / 1_000_000)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                )
            }),
        )),
    })
}
