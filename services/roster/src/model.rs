//! The roster's records, as its logic sees them (no proto, no SQL types).

use tica_domain::division::DivisionCode;
use tica_domain::names::ApiClientName;
use tica_domain::{
    AssessorLevel, AssessorState, PersonRole, ResidentId, SchoolKind, ScopePath, Stage,
    TeacherCategory, TeamKind, TeamRules,
};
use time::Date;

/// A province, city or county.
#[derive(Clone, Debug, PartialEq)]
pub struct Jurisdiction {
    /// GB/T 2260 code.
    pub code: DivisionCode,
    /// Official name.
    pub display_name: String,
    /// Parent, none for a province.
    pub parent: Option<DivisionCode>,
    /// Materialised path.
    pub path: ScopePath,
    /// Rules set here.
    pub team_rules: TeamRules,
    /// Rules in force here (filled on read).
    pub effective_team_rules: TeamRules,
    /// Created (µs).
    pub create_micros: i64,
    /// Last updated (µs).
    pub update_micros: i64,
}

/// Where a school's ICT plan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IctPlanState {
    /// Nothing submitted.
    None,
    /// Waiting for the county.
    Submitted,
    /// Filed by the county.
    Filed,
    /// Returned for changes.
    Returned,
}

impl IctPlanState {
    /// Storage key.
    pub fn key(self) -> &'static str {
        match self {
            IctPlanState::None => "none",
            IctPlanState::Submitted => "submitted",
            IctPlanState::Filed => "filed",
            IctPlanState::Returned => "returned",
        }
    }

    /// From a storage key.
    pub fn from_key(key: &str) -> IctPlanState {
        match key {
            "submitted" => IctPlanState::Submitted,
            "filed" => IctPlanState::Filed,
            "returned" => IctPlanState::Returned,
            _ => IctPlanState::None,
        }
    }
}

/// A school's ICT development plan.
#[derive(Clone, Debug, PartialEq)]
pub struct IctPlan {
    /// Research theme.
    pub theme: String,
    /// Summary.
    pub summary: String,
    /// Document URL.
    pub document_uri: String,
    /// Review state.
    pub state: IctPlanState,
    /// The county's comment.
    pub review_comment: String,
    /// When reviewed (µs).
    pub review_micros: Option<i64>,
}

impl IctPlan {
    /// No plan.
    pub fn empty() -> IctPlan {
        IctPlan {
            theme: String::new(),
            summary: String::new(),
            document_uri: String::new(),
            state: IctPlanState::None,
            review_comment: String::new(),
            review_micros: None,
        }
    }

    /// Whether the school has written anything.
    pub fn has_content(&self) -> bool {
        !(self.theme.is_empty() && self.summary.is_empty() && self.document_uri.is_empty())
    }
}

/// A school.
#[derive(Clone, Debug, PartialEq)]
pub struct School {
    /// School code.
    pub code: String,
    /// Official name.
    pub display_name: String,
    /// The county (or city) it belongs to.
    pub jurisdiction: DivisionCode,
    /// Materialised path.
    pub path: ScopePath,
    /// Kind.
    pub kind: SchoolKind,
    /// 乡村学校.
    pub rural: bool,
    /// 专任教师数 as reported.
    pub full_time_teacher_count: i64,
    /// ICT plan.
    pub plan: IctPlan,
    /// Teachers on the roster (filled on read).
    pub registered_teacher_count: i64,
    /// Created (µs).
    pub create_micros: i64,
    /// Last updated (µs).
    pub update_micros: i64,
}

/// A past assignment of a teacher.
#[derive(Clone, Debug, PartialEq)]
pub struct PastAssignment {
    /// School code.
    pub school_code: String,
    /// First day.
    pub start: Date,
    /// Last day.
    pub end: Date,
    /// Why it ended.
    pub end_reason: String,
}

/// A person on the roster.
#[derive(Clone, Debug, PartialEq)]
pub struct Teacher {
    /// Teacher number.
    pub number: String,
    /// 姓名 (personal data).
    pub display_name: String,
    /// 身份证号 (personal data; Debug prints it masked).
    pub id_number: ResidentId,
    /// Current school.
    pub school_code: String,
    /// The current school's jurisdiction.
    pub jurisdiction: DivisionCode,
    /// The current school's path.
    pub path: ScopePath,
    /// Stage taught.
    pub stage: Stage,
    /// Subject taught.
    pub subject: String,
    /// Ningxia category.
    pub category: TeacherCategory,
    /// Roles.
    pub roles: Vec<PersonRole>,
    /// First day at the current school.
    pub since: Date,
    /// Earlier schools, oldest first.
    pub history: Vec<PastAssignment>,
    /// Created (µs).
    pub create_micros: i64,
    /// Last updated (µs).
    pub update_micros: i64,
}

/// Who owns a team, or where an assessor is registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A school, by code.
    School(String),
    /// A jurisdiction.
    Jurisdiction(DivisionCode),
}

impl Unit {
    /// Its resource name.
    pub fn resource_name(&self) -> String {
        match self {
            Unit::School(code) => format!("schools/{code}"),
            Unit::Jurisdiction(code) => format!("jurisdictions/{code}"),
        }
    }
}

/// A member's place in a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// The one leader.
    Leader,
    /// Everyone else.
    Member,
}

/// Who a team member is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MemberIdentity {
    /// On the roster.
    Teacher {
        /// Teacher number.
        number: String,
    },
    /// Not on the roster.
    External {
        /// Name (personal data).
        display_name: String,
        /// Employer.
        affiliation: String,
    },
}

/// One team member.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// Who.
    pub identity: MemberIdentity,
    /// Leader or member.
    pub role: MemberRole,
    /// Duty on the team.
    #[serde(default)]
    pub duty: String,
}

/// A team.
#[derive(Clone, Debug, PartialEq)]
pub struct Team {
    /// Team id.
    pub id: String,
    /// Kind.
    pub kind: TeamKind,
    /// Owner.
    pub owner: Unit,
    /// Owner's path.
    pub owner_path: ScopePath,
    /// Name.
    pub display_name: String,
    /// Members.
    pub members: Vec<Member>,
    /// Created (µs).
    pub create_micros: i64,
    /// Last updated (µs).
    pub update_micros: i64,
}

/// An assessor's certification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certification {
    /// Certificate number.
    pub certificate_number: String,
    /// Exam date.
    pub exam_date: Date,
    /// Certifying office.
    pub issued_by: String,
}

/// One reprimand.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reprimand {
    /// When (µs).
    pub micros: i64,
    /// Why.
    pub reason: String,
}

/// An assessor registration.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessor {
    /// Assessor id.
    pub id: String,
    /// The person.
    pub teacher_number: String,
    /// The person's name (personal data; filled on read).
    pub display_name: String,
    /// Level.
    pub level: AssessorLevel,
    /// Registration unit.
    pub registered_at: Unit,
    /// Registration unit's path.
    pub path: ScopePath,
    /// Subjects assessed.
    pub subjects: Vec<String>,
    /// State.
    pub state: AssessorState,
    /// Certification, once certified.
    pub certification: Option<Certification>,
    /// Reprimands.
    pub reprimands: Vec<Reprimand>,
    /// Reason of the last suspension or striking-off.
    pub state_reason: String,
    /// Created (µs).
    pub create_micros: i64,
    /// Last updated (µs).
    pub update_micros: i64,
}

/// The moment a record written now is stamped with: now, but always after `previous` (the
/// stamp it was read with), so that every write moves `update_micros` forward even when two
/// land in the same microsecond or a replica's clock lags. Every etag relies on it.
pub fn next_micros(previous: i64) -> i64 {
    tica_storage::now_micros().max(previous + 1)
}

/// The etag (AIP-154) of the resource `name` as written at `update_micros`: opaque, and new with
/// every write of the record, because every write moves its `update_micros` forward
/// ([`next_micros`]) and commits only over the stamp it read. Weak (`W/"…"`): figures the roster
/// derives from other records (a school's registered teachers, inherited team rules, an
/// assessor's name) do not change it.
pub fn etag(name: &str, update_micros: i64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{name}\n{update_micros}").as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..12]))
}

#[cfg(test)]
mod etag_tests {
    use super::*;

    #[test]
    fn an_etag_is_opaque_quoted_and_changes_with_every_write() {
        let first = etag("schools/3413240001", 1_700_000_000_000_000);
        assert!(first.starts_with("W/\"") && first.ends_with('"'), "{first}");
        assert!(!first.contains("1700000000000000"), "opaque: {first}");
        assert_eq!(first, etag("schools/3413240001", 1_700_000_000_000_000));
        let later = next_micros(1_700_000_000_000_000);
        assert_ne!(first, etag("schools/3413240001", later));
        assert_ne!(first, etag("schools/3413240002", 1_700_000_000_000_000));
        // A stamp from the future (a clock that ran ahead) is still passed.
        let ahead = tica_storage::now_micros() + 60_000_000;
        assert_eq!(next_micros(ahead), ahead + 1);
    }
}

/// A machine client of the client-credentials grant (`apiClients/{id}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiClient {
    /// The `client_id`.
    pub id: String,
    /// Who runs it.
    pub display_name: String,
    /// The jurisdiction its tokens act for.
    pub jurisdiction: DivisionCode,
    /// That jurisdiction's path.
    pub path: ScopePath,
    /// The role its tokens carry: a training provider, or the office of `jurisdiction`.
    pub role: tica_auth::Role,
    /// A training provider's id (the subject of its tokens); empty for offices.
    pub provider_id: String,
    /// Each token's lifetime.
    pub ttl_seconds: u32,
    /// SHA-256 of the secret, lower-case hex.
    pub secret_sha256: String,
    /// Revoked for good.
    pub revoked: bool,
    /// Why it was revoked.
    pub revoke_reason: String,
    /// When it was revoked (µs).
    pub revoke_micros: Option<i64>,
    /// The subject of the token that registered it.
    pub created_by: String,
    /// Created (µs).
    pub create_micros: i64,
    /// Last written (µs).
    pub update_micros: i64,
}

impl ApiClient {
    /// The subject of its tokens: the provider's id, or its own resource name.
    pub fn subject(&self) -> String {
        if self.provider_id.is_empty() {
            ApiClientName::of(&self.id)
        } else {
            self.provider_id.clone()
        }
    }
}
