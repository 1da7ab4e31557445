//! The assessment service's records, as its logic sees them. Rules are kept as the domain's
//! `PolicyRules`, serialised to JSON in storage.

use serde::{Deserialize, Serialize};
use tica_domain::division::DivisionCode;
use tica_domain::{PersonRole, ScopePath};
pub use tica_storage::audit::Actor;
use time::Date;

/// Implements `key()`/`from_key()` for a storage enum.
macro_rules! keyed {
    ($name:ident { $($variant:ident => $key:literal),+ $(,)? }) => {
        impl $name {
            /// Storage key.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key,)+ }
            }
            /// From a storage key.
            pub fn from_key(key: &str) -> Option<$name> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

/// Where a county's batch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Being prepared.
    Draft,
    /// Teachers select, train, submit; schools grade.
    Open,
    /// Every school passed county review.
    ReadyForAudit,
    /// The province (with its cities) is auditing.
    InProvinceAudit,
    /// The audit sent the county's results back.
    ReturnedToCounty,
    /// Results certified: certificates may be issued.
    Certified,
}
keyed!(BatchState { Draft => "draft", Open => "open", ReadyForAudit => "ready_for_audit", InProvinceAudit => "in_province_audit", ReturnedToCounty => "returned_to_county", Certified => "certified" });

/// Where a school's results stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchoolResultState {
    /// Grading.
    Open,
    /// Locked, with the county.
    InCountyReview,
    /// Passed county review.
    CountyApproved,
    /// Sent back for re-grading; unlocked.
    Returned,
    /// Certified with the batch.
    Certified,
}
keyed!(SchoolResultState { Open => "open", InCountyReview => "in_county_review", CountyApproved => "county_approved", Returned => "returned", Certified => "certified" });

impl SchoolResultState {
    /// Whether grading may change.
    pub fn unlocked(self) -> bool {
        matches!(self, SchoolResultState::Open | SchoolResultState::Returned)
    }
}

/// A submission's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionState {
    /// Being prepared by the teacher.
    Draft,
    /// Handed in; evidence frozen.
    Submitted,
    /// Graded.
    Graded,
}
keyed!(SubmissionState { Draft => "draft", Submitted => "submitted", Graded => "graded" });

/// A grade (the domain's).
pub use tica_domain::policy::Grade as GradeKey;

/// A grade from its storage key.
pub fn grade_from_key(key: &str) -> Option<GradeKey> {
    match key {
        "fail" => Some(GradeKey::Fail),
        "pass" => Some(GradeKey::Pass),
        "excellent" => Some(GradeKey::Excellent),
        _ => None,
    }
}

/// A state change, with who, when and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
    /// Who.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// The sampling round that decided, if any.
    #[serde(default)]
    pub review_round: String,
}

/// A policy attached to a jurisdiction.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRecord {
    /// Jurisdiction.
    pub jurisdiction: DivisionCode,
    /// Its path.
    pub path: ScopePath,
    /// Name.
    pub display_name: String,
    /// Preset key it started from, or empty.
    pub preset: String,
    /// The sections set at this level (JSON of `PolicyRules`).
    pub rules_json: String,
    /// Current version.
    pub version: i64,
    /// Created (µs).
    pub create_micros: i64,
    /// Updated (µs); the optimistic-concurrency guard.
    pub update_micros: i64,
    /// `update_micros` as loaded; `None` for a new record.
    pub loaded: Option<i64>,
}

/// One immutable version of a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyVersionRecord {
    /// Jurisdiction.
    pub jurisdiction: DivisionCode,
    /// Version.
    pub version: i64,
    /// Rules as of this version (JSON).
    pub rules_json: String,
    /// Why.
    pub change_note: String,
    /// Who.
    pub author: Actor,
    /// When (µs).
    pub create_micros: i64,
}

/// A county's cohort for a year.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRecord {
    /// `{county}-{year}`.
    pub id: String,
    /// County.
    pub county: DivisionCode,
    /// County path.
    pub path: ScopePath,
    /// Year.
    pub year: i32,
    /// Name.
    pub display_name: String,
    /// School codes (empty before opening: all of the county's).
    pub schools: Vec<String>,
    /// Deadlines.
    pub selection_deadline: Option<Date>,
    /// Deadlines.
    pub submission_deadline: Option<Date>,
    /// Deadlines.
    pub grading_deadline: Option<Date>,
    /// State.
    pub state: BatchState,
    /// When it opened.
    pub open_date: Option<Date>,
    /// Pinned policy versions, nearest first.
    pub policy_versions: Vec<String>,
    /// Pinned effective rules (JSON of `PolicyRules`).
    pub rules_json: String,
    /// Last certified-results sequence.
    pub last_sequence: i64,
    /// The date its certificates print; `None`: the day it is certified.
    pub certificate_date: Option<Date>,
    /// History.
    pub transitions: Vec<Transition>,
    /// Created (µs).
    pub create_micros: i64,
    /// Updated (µs).
    pub update_micros: i64,
    /// As loaded.
    pub loaded: Option<i64>,
}

/// A teacher's submitted selection verdict and who made it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelectionInfo {
    /// Who submitted.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
}

/// Counted hours of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursLine {
    /// Kind key.
    pub kind: String,
    /// Required, centihours.
    pub required: i64,
    /// Counted, centihours.
    pub counted: i64,
}

/// An offline check (classroom visit) of a participant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfflineCheckRecord {
    /// "pending" (drawn, not visited), "passed" or "failed".
    pub outcome: String,
    /// Why / notes.
    #[serde(default)]
    pub notes: String,
    /// The round that drew it.
    #[serde(default)]
    pub review_round: String,
    /// Who recorded it.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
}

/// Where a participant's selection of micro-competencies stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelectionState {
    /// Nothing selected yet.
    #[default]
    None,
    /// Accepted against the pinned policy; the teacher may still change it.
    Accepted,
    /// Locked: no more changes.
    Locked,
}

impl SelectionState {
    /// The stored key: "", "accepted" or "locked".
    pub fn key(self) -> &'static str {
        match self {
            SelectionState::None => "",
            SelectionState::Accepted => "accepted",
            SelectionState::Locked => "locked",
        }
    }

    /// The state a stored key names.
    pub fn from_key(key: &str) -> Option<SelectionState> {
        [
            SelectionState::None,
            SelectionState::Accepted,
            SelectionState::Locked,
        ]
        .into_iter()
        .find(|state| state.key() == key)
    }

    /// Whether a selection was made (accepted or locked).
    pub fn is_made(self) -> bool {
        self != SelectionState::None
    }
}

/// A teacher enrolled in a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticipantRecord {
    /// Batch.
    pub batch_id: String,
    /// Teacher number.
    pub teacher_number: String,
    /// School at enrolment.
    pub school_code: String,
    /// School path.
    pub path: ScopePath,
    /// Enrolled (true) or withdrawn.
    pub enrolled: bool,
    /// Earlier batch carried from.
    pub carried_over_from: String,
    /// Category key.
    pub category: String,
    /// Roles, as the roster had them at enrolment.
    pub roles: Vec<PersonRole>,
    /// Subject.
    pub subject: String,
    /// Birth date.
    pub birth_date: Date,
    /// Selected codes.
    pub selection: Vec<String>,
    /// Where the selection stands.
    pub selection_state: SelectionState,
    /// The verdict that accepted it (JSON).
    pub verdict_json: String,
    /// Who selected.
    pub selection_info: Option<SelectionInfo>,
    /// Counted hours per kind.
    pub hours: Vec<HoursLine>,
    /// Counted hours in all.
    pub counted_centihours: i64,
    /// Hours rule met.
    pub hours_complete: bool,
    /// Submissions expected.
    pub submissions_expected: i64,
    /// Submissions handed in (submitted or graded).
    pub submissions_submitted: i64,
    /// Submissions graded.
    pub submissions_graded: i64,
    /// Submissions graded pass or excellent.
    pub submissions_passed: i64,
    /// Grade from hours and submissions, once everything is graded.
    pub online_grade: Option<GradeKey>,
    /// Offline check.
    pub offline_check: Option<OfflineCheckRecord>,
    /// Final grade.
    pub grade: Option<GradeKey>,
    /// Why.
    pub grade_reasons: Vec<String>,
    /// Certified.
    pub certified: bool,
    /// Why withdrawn.
    pub withdraw_reason: String,
    /// Created (µs).
    pub create_micros: i64,
    /// Updated (µs).
    pub update_micros: i64,
    /// As loaded.
    pub loaded: Option<i64>,
}

/// One provider's hours record.
#[derive(Clone, Debug, PartialEq)]
pub struct HoursRecordRow {
    /// Provider.
    pub provider_id: String,
    /// Record.
    pub record_id: String,
    /// Teacher.
    pub teacher_number: String,
    /// The teacher's school path when pushed.
    pub path: ScopePath,
    /// Kind key.
    pub kind: String,
    /// Course.
    pub course_id: String,
    /// Course title.
    pub course_title: String,
    /// Hours, centihours.
    pub centihours: i64,
    /// Minutes watched.
    pub watched_minutes: i64,
    /// Course length.
    pub course_minutes: i64,
    /// Completed (µs): the provider's `complete_time`, or when the push without one was stored.
    pub complete_micros: i64,
    /// Whether `complete_micros` is the service's stamp (the push carried no `complete_time`):
    /// not the provider's content, so a retry without one compares equal to it.
    pub complete_time_stamped: bool,
    /// Provider's revision.
    pub revision: i64,
    /// Created (µs).
    pub create_micros: i64,
    /// Updated (µs).
    pub update_micros: i64,
    /// As loaded.
    pub loaded: Option<i64>,
}

/// An evidence file.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceRecord {
    /// Id.
    pub id: String,
    /// Batch.
    pub batch_id: String,
    /// Teacher.
    pub teacher_number: String,
    /// School path.
    pub path: ScopePath,
    /// Codes it supports.
    pub codes: Vec<String>,
    /// Kind key.
    pub kind: String,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Size.
    pub size_bytes: i64,
    /// SHA-256 hex.
    pub sha256: String,
    /// Declared duration (video).
    pub duration_seconds: i64,
    /// Description.
    pub description: String,
    /// Uploader.
    pub uploaded_by: Actor,
    /// Object-store key.
    pub object_key: String,
    /// Created (µs).
    pub create_micros: i64,
}

/// An evidence file a grader marked invalid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvalidEvidenceRecord {
    /// Evidence id.
    pub evidence: String,
    /// Reason key.
    pub reason: String,
    /// Explanation.
    #[serde(default)]
    pub explanation: String,
}

/// One grading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradingRecord {
    /// Grade.
    pub grade: GradeKey,
    /// Rubric scores.
    #[serde(default)]
    pub rubric_scores: Vec<(String, u32)>,
    /// Rubric total.
    #[serde(default)]
    pub total_points: u32,
    /// Evidence marked invalid.
    #[serde(default)]
    pub invalid_evidence: Vec<InvalidEvidenceRecord>,
    /// Comment.
    #[serde(default)]
    pub comment: String,
    /// Assessor id.
    pub assessor: String,
    /// When (µs).
    pub micros: i64,
}

/// A participant's work for one selected code.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmissionRecord {
    /// Batch.
    pub batch_id: String,
    /// Teacher.
    pub teacher_number: String,
    /// Code, or `leadership`.
    pub code: String,
    /// School.
    pub school_code: String,
    /// School path.
    pub path: ScopePath,
    /// State.
    pub state: SubmissionState,
    /// Submitted (µs).
    pub submit_micros: Option<i64>,
    /// Current grading.
    pub grading: Option<GradingRecord>,
    /// Earlier gradings.
    pub history: Vec<GradingRecord>,
    /// Why it was handed back.
    pub return_reason: String,
    /// Passed in an earlier batch.
    pub carried_over: bool,
    /// Updated (µs).
    pub update_micros: i64,
    /// As loaded.
    pub loaded: Option<i64>,
}

/// A school's results in a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct SchoolResultRecord {
    /// Batch.
    pub batch_id: String,
    /// School.
    pub school_code: String,
    /// Its path.
    pub path: ScopePath,
    /// State.
    pub state: SchoolResultState,
    /// History.
    pub transitions: Vec<Transition>,
    /// Updated (µs).
    pub update_micros: i64,
    /// As loaded.
    pub loaded: Option<i64>,
}

/// One event of the certified-results feed.
#[derive(Clone, Debug, PartialEq)]
pub struct CertifiedEventRecord {
    /// Batch.
    pub batch_id: String,
    /// Gap-free sequence within the batch.
    pub sequence: i64,
    /// "certified" or "withdrawn".
    pub kind: String,
    /// `{batch}/{teacher}/{code|level}`.
    pub result_key: String,
    /// Everything the certificate needs (JSON of the proto fields).
    pub payload_json: String,
    /// When (µs).
    pub event_micros: i64,
}

/// Microseconds now, strictly after `previous` (so an update always changes the guard).
pub fn next_micros(previous: i64) -> i64 {
    tica_storage::now_micros().max(previous + 1)
}

/// The etag (AIP-154) of the resource `name` as written at `update_micros`: opaque, and new with
/// every write of the record, because every write moves its `update_micros` forward
/// ([`next_micros`]) and commits only over the stamp it read. Weak (`W/"…"`): figures derived
/// from other records (a batch's counts and grades) do not change it.
pub fn etag(name: &str, update_micros: i64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{name}\n{update_micros}").as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..12]))
}

#[cfg(test)]
mod selection_state_tests {
    use super::SelectionState;

    #[test]
    fn every_selection_state_reads_back_from_its_stored_key() {
        for state in [
            SelectionState::None,
            SelectionState::Accepted,
            SelectionState::Locked,
        ] {
            assert_eq!(SelectionState::from_key(state.key()), Some(state));
        }
        assert!(!SelectionState::None.is_made());
        assert!(SelectionState::Locked.is_made());
    }

    #[test]
    fn a_stored_key_no_state_has_is_refused_rather_than_read_as_none() {
        assert_eq!(SelectionState::from_key("Accepted"), None);
        assert_eq!(SelectionState::from_key("withdrawn"), None);
    }
}
