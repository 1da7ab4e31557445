//! Row types and their conversions to records.

use sqlx::FromRow;
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_server::proto_time::date_from_iso;

use crate::error::{AssessmentError, Result};
use crate::model::*;

pub(crate) fn corrupt(what: &str, value: &str) -> AssessmentError {
    AssessmentError::Internal(format!("stored {what} {value:?} is not valid"))
}

fn path(value: &str) -> Result<ScopePath> {
    ScopePath::parse(value).ok_or_else(|| corrupt("path", value))
}

fn code(value: &str) -> Result<DivisionCode> {
    DivisionCode::parse(value).map_err(|_| corrupt("division code", value))
}

fn date(value: &str) -> Result<time::Date> {
    date_from_iso(value).ok_or_else(|| corrupt("date", value))
}

fn opt_date(value: Option<String>) -> Result<Option<time::Date>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| date(&v))
        .transpose()
}

fn json<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> Result<T> {
    serde_json::from_str(value).map_err(|_| corrupt(what, value))
}

fn grade(value: &str) -> Result<Option<GradeKey>> {
    if value.is_empty() {
        Ok(None)
    } else {
        grade_from_key(value)
            .map(Some)
            .ok_or_else(|| corrupt("grade", value))
    }
}

pub(crate) const POLICY_COLUMNS: &str = "jurisdiction_code, path, display_name, preset, rules_json, version, create_micros, update_micros";

#[derive(FromRow)]
pub(crate) struct PolicyRow {
    jurisdiction_code: String,
    path: String,
    display_name: String,
    preset: String,
    rules_json: String,
    version: i64,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<PolicyRow> for PolicyRecord {
    type Error = AssessmentError;
    fn try_from(r: PolicyRow) -> Result<PolicyRecord> {
        Ok(PolicyRecord {
            jurisdiction: code(&r.jurisdiction_code)?,
            path: path(&r.path)?,
            display_name: r.display_name,
            preset: r.preset,
            rules_json: r.rules_json,
            version: r.version,
            create_micros: r.create_micros,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

pub(crate) const VERSION_COLUMNS: &str =
    "jurisdiction_code, version, rules_json, change_note, author_json, create_micros";

#[derive(FromRow)]
pub(crate) struct VersionRow {
    jurisdiction_code: String,
    version: i64,
    rules_json: String,
    change_note: String,
    author_json: String,
    create_micros: i64,
}

impl TryFrom<VersionRow> for PolicyVersionRecord {
    type Error = AssessmentError;
    fn try_from(r: VersionRow) -> Result<PolicyVersionRecord> {
        Ok(PolicyVersionRecord {
            jurisdiction: code(&r.jurisdiction_code)?,
            version: r.version,
            rules_json: r.rules_json,
            change_note: r.change_note,
            author: json("author", &r.author_json)?,
            create_micros: r.create_micros,
        })
    }
}

pub(crate) const BATCH_COLUMNS: &str = "id, county_code, path, year, display_name, schools_json, selection_deadline, \
    submission_deadline, grading_deadline, state, open_date, policy_versions_json, rules_json, last_sequence, \
    certificate_date, transitions_json, create_micros, update_micros";

#[derive(FromRow)]
pub(crate) struct BatchRow {
    id: String,
    county_code: String,
    path: String,
    year: i64,
    display_name: String,
    schools_json: String,
    selection_deadline: Option<String>,
    submission_deadline: Option<String>,
    grading_deadline: Option<String>,
    state: String,
    open_date: Option<String>,
    policy_versions_json: String,
    rules_json: String,
    last_sequence: i64,
    certificate_date: Option<String>,
    transitions_json: String,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<BatchRow> for BatchRecord {
    type Error = AssessmentError;
    fn try_from(r: BatchRow) -> Result<BatchRecord> {
        Ok(BatchRecord {
            county: code(&r.county_code)?,
            path: path(&r.path)?,
            year: r.year as i32,
            schools: json("schools", &r.schools_json)?,
            selection_deadline: opt_date(r.selection_deadline)?,
            submission_deadline: opt_date(r.submission_deadline)?,
            grading_deadline: opt_date(r.grading_deadline)?,
            state: BatchState::from_key(&r.state)
                .ok_or_else(|| corrupt("batch state", &r.state))?,
            open_date: opt_date(r.open_date)?,
            certificate_date: opt_date(r.certificate_date)?,
            policy_versions: json("policy versions", &r.policy_versions_json)?,
            transitions: json("transitions", &r.transitions_json)?,
            id: r.id,
            display_name: r.display_name,
            rules_json: r.rules_json,
            last_sequence: r.last_sequence,
            create_micros: r.create_micros,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

pub(crate) const PARTICIPANT_COLUMNS: &str = "batch_id, teacher_number, school_code, path, state, carried_over_from, \
    category, roles, subject, birth_date, selection_json, selection_state, verdict_json, selection_actor_json, \
    selection_micros, hours_json, counted_centihours, hours_complete, submissions_expected, submissions_submitted, \
    submissions_graded, submissions_passed, online_grade, offline_check_json, grade, grade_reasons_json, certified, \
    withdraw_reason, create_micros, update_micros";

#[derive(FromRow)]
pub(crate) struct ParticipantRow {
    batch_id: String,
    teacher_number: String,
    school_code: String,
    path: String,
    state: String,
    carried_over_from: String,
    category: String,
    roles: String,
    subject: String,
    birth_date: String,
    selection_json: String,
    selection_state: String,
    verdict_json: String,
    selection_actor_json: String,
    selection_micros: Option<i64>,
    hours_json: String,
    counted_centihours: i64,
    hours_complete: bool,
    submissions_expected: i64,
    submissions_submitted: i64,
    submissions_graded: i64,
    submissions_passed: i64,
    online_grade: String,
    offline_check_json: String,
    grade: String,
    grade_reasons_json: String,
    certified: bool,
    withdraw_reason: String,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<ParticipantRow> for ParticipantRecord {
    type Error = AssessmentError;
    fn try_from(r: ParticipantRow) -> Result<ParticipantRecord> {
        let selection_info = if r.selection_actor_json.is_empty() {
            None
        } else {
            Some(SelectionInfo {
                actor: json("actor", &r.selection_actor_json)?,
                micros: r.selection_micros.unwrap_or_default(),
            })
        };
        Ok(ParticipantRecord {
            path: path(&r.path)?,
            enrolled: r.state == "enrolled",
            birth_date: date(&r.birth_date)?,
            selection: json("selection", &r.selection_json)?,
            hours: json("hours", &r.hours_json)?,
            online_grade: grade(&r.online_grade)?,
            offline_check: if r.offline_check_json.is_empty() {
                None
            } else {
                Some(json("offline check", &r.offline_check_json)?)
            },
            grade: grade(&r.grade)?,
            grade_reasons: json("grade reasons", &r.grade_reasons_json)?,
            selection_info,
            batch_id: r.batch_id,
            teacher_number: r.teacher_number,
            school_code: r.school_code,
            carried_over_from: r.carried_over_from,
            category: r.category,
            roles: r
                .roles
                .split(',')
                .filter_map(tica_domain::PersonRole::from_label)
                .collect(),
            subject: r.subject,
            selection_state: SelectionState::from_key(&r.selection_state)
                .ok_or_else(|| corrupt("selection state", &r.selection_state))?,
            verdict_json: r.verdict_json,
            counted_centihours: r.counted_centihours,
            hours_complete: r.hours_complete,
            submissions_expected: r.submissions_expected,
            submissions_submitted: r.submissions_submitted,
            submissions_graded: r.submissions_graded,
            submissions_passed: r.submissions_passed,
            certified: r.certified,
            withdraw_reason: r.withdraw_reason,
            create_micros: r.create_micros,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

pub(crate) const HOURS_COLUMNS: &str = "provider_id, record_id, teacher_number, path, kind, course_id, course_title, \
    centihours, watched_minutes, course_minutes, complete_micros, revision, create_micros, update_micros, \
    complete_time_stamped";

#[derive(FromRow)]
pub(crate) struct HoursRow {
    provider_id: String,
    record_id: String,
    teacher_number: String,
    path: String,
    kind: String,
    course_id: String,
    course_title: String,
    centihours: i64,
    watched_minutes: i64,
    course_minutes: i64,
    complete_micros: i64,
    revision: i64,
    create_micros: i64,
    update_micros: i64,
    complete_time_stamped: bool,
}

impl TryFrom<HoursRow> for HoursRecordRow {
    type Error = AssessmentError;
    fn try_from(r: HoursRow) -> Result<HoursRecordRow> {
        Ok(HoursRecordRow {
            path: path(&r.path)?,
            provider_id: r.provider_id,
            record_id: r.record_id,
            teacher_number: r.teacher_number,
            kind: r.kind,
            course_id: r.course_id,
            course_title: r.course_title,
            centihours: r.centihours,
            watched_minutes: r.watched_minutes,
            course_minutes: r.course_minutes,
            complete_micros: r.complete_micros,
            complete_time_stamped: r.complete_time_stamped,
            revision: r.revision,
            create_micros: r.create_micros,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

pub(crate) const EVIDENCE_COLUMNS: &str = "id, batch_id, teacher_number, path, codes_json, kind, file_name, content_type, \
    size_bytes, sha256, duration_seconds, description, uploaded_by_json, object_key, create_micros";

#[derive(FromRow)]
pub(crate) struct EvidenceRow {
    id: String,
    batch_id: String,
    teacher_number: String,
    path: String,
    codes_json: String,
    kind: String,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    sha256: String,
    duration_seconds: i64,
    description: String,
    uploaded_by_json: String,
    object_key: String,
    create_micros: i64,
}

impl TryFrom<EvidenceRow> for EvidenceRecord {
    type Error = AssessmentError;
    fn try_from(r: EvidenceRow) -> Result<EvidenceRecord> {
        Ok(EvidenceRecord {
            path: path(&r.path)?,
            codes: json("codes", &r.codes_json)?,
            uploaded_by: json("uploader", &r.uploaded_by_json)?,
            id: r.id,
            batch_id: r.batch_id,
            teacher_number: r.teacher_number,
            kind: r.kind,
            file_name: r.file_name,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            duration_seconds: r.duration_seconds,
            description: r.description,
            object_key: r.object_key,
            create_micros: r.create_micros,
        })
    }
}

pub(crate) const SUBMISSION_COLUMNS: &str = "batch_id, teacher_number, code, school_code, path, state, submit_micros, \
    grading_json, history_json, return_reason, carried_over, update_micros";

#[derive(FromRow)]
pub(crate) struct SubmissionRow {
    batch_id: String,
    teacher_number: String,
    code: String,
    school_code: String,
    path: String,
    state: String,
    submit_micros: Option<i64>,
    grading_json: String,
    history_json: String,
    return_reason: String,
    carried_over: bool,
    update_micros: i64,
}

impl TryFrom<SubmissionRow> for SubmissionRecord {
    type Error = AssessmentError;
    fn try_from(r: SubmissionRow) -> Result<SubmissionRecord> {
        Ok(SubmissionRecord {
            path: path(&r.path)?,
            state: SubmissionState::from_key(&r.state)
                .ok_or_else(|| corrupt("submission state", &r.state))?,
            grading: if r.grading_json.is_empty() {
                None
            } else {
                Some(json("grading", &r.grading_json)?)
            },
            history: json("grading history", &r.history_json)?,
            batch_id: r.batch_id,
            teacher_number: r.teacher_number,
            code: r.code,
            school_code: r.school_code,
            submit_micros: r.submit_micros,
            return_reason: r.return_reason,
            carried_over: r.carried_over,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

pub(crate) const SCHOOL_RESULT_COLUMNS: &str =
    "batch_id, school_code, path, state, transitions_json, update_micros";

#[derive(FromRow)]
pub(crate) struct SchoolResultRow {
    batch_id: String,
    school_code: String,
    path: String,
    state: String,
    transitions_json: String,
    update_micros: i64,
}

impl TryFrom<SchoolResultRow> for SchoolResultRecord {
    type Error = AssessmentError;
    fn try_from(r: SchoolResultRow) -> Result<SchoolResultRecord> {
        Ok(SchoolResultRecord {
            path: path(&r.path)?,
            state: SchoolResultState::from_key(&r.state)
                .ok_or_else(|| corrupt("school result state", &r.state))?,
            transitions: json("transitions", &r.transitions_json)?,
            batch_id: r.batch_id,
            school_code: r.school_code,
            update_micros: r.update_micros,
            loaded: Some(r.update_micros),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    pub batch_id: String,
    pub sequence: i64,
    pub kind: String,
    pub result_key: String,
    pub payload_json: String,
    pub event_micros: i64,
}

impl From<EventRow> for CertifiedEventRecord {
    fn from(r: EventRow) -> CertifiedEventRecord {
        CertifiedEventRecord {
            batch_id: r.batch_id,
            sequence: r.sequence,
            kind: r.kind,
            result_key: r.result_key,
            payload_json: r.payload_json,
            event_micros: r.event_micros,
        }
    }
}

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialise")
}

pub(crate) fn opt_date_text(d: Option<time::Date>) -> Option<String> {
    d.map(tica_server::proto_time::date_to_iso)
}
