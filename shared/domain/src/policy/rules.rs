//! The policy's rules as Rust data, field for field the messages of
//! `proto/tica/assessment/v1/assessment.proto` (PolicyRules and its sections) and the shared
//! values of `proto/tica/common/v1/common.proto` (Ratio, Grade, ThresholdComparison,
//! AgreementCriterion).
//!
//! Conventions:
//! - Field names are the proto's; proto enums become Rust enums without their `…_UNSPECIFIED`
//!   variant. Where UNSPECIFIED means something (no certificate, not graded, unset section) the
//!   field is an `Option`; where the proto documents UNSPECIFIED as a default (CEIL, AT_LEAST,
//!   FAIL_WINS, ALL_SUBMISSIONS, POINT_ESTIMATE) the Rust enum's [`Default`] is that value.
//! - Counts keep the proto's signed integer types so that a negative value sent over the API can
//!   be reported by [`PolicyRules::validate`] instead of being rejected by a conversion.
//! - Training hours are centihours (1 学时 = 100), as in the proto.
//! - Teacher categories and roles are the domain's [`TeacherCategory`] and [`PersonRole`],
//!   stored in JSON as their `key()` strings.
//! - Stored JSON stays readable after fields are added: every field that may be absent carries
//!   `#[serde(default)]`. Enum values are stored in snake_case (`"online_study"`).

use serde::{Deserialize, Serialize};

use crate::person::{PersonRole, TeacherCategory};

/// An exact non-negative fraction such as 30/100 or 2/3 (tica.common.v1.Ratio).
///
/// Never compared in floating point: [`Ratio::meets`] cross-multiplies in 128-bit integers.
/// The proto's fields are `int64`; shares and thresholds never need more than `u32`, and a
/// negative value cannot be represented here (the API layer refuses it on conversion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ratio {
    /// The numerator, at least 0.
    pub numerator: u32,
    /// The denominator; a valid ratio has at least 1.
    pub denominator: u32,
}

impl Default for Ratio {
    /// 0/1: a valid zero, so that an absent ratio in stored JSON never divides by zero.
    fn default() -> Self {
        Ratio {
            numerator: 0,
            denominator: 1,
        }
    }
}

impl Ratio {
    /// Builds `numerator/denominator` (not checked; see [`Ratio::is_valid_share`]).
    pub const fn new(numerator: u32, denominator: u32) -> Ratio {
        Ratio {
            numerator,
            denominator,
        }
    }

    /// Whether `part / whole` compares to this ratio as `comparison` asks:
    /// AT_LEAST is `part/whole >= n/d`, MORE_THAN is `part/whole > n/d`, computed exactly as
    /// `part × d` against `n × whole` in 128-bit integers.
    ///
    /// A `whole` of 0 is never a share of anything: the answer is `false` whatever `part` is
    /// (so a unit with no members is neither excellent nor failed, and an empty sample never
    /// reaches an agreement threshold). A ratio with denominator 0 is invalid and is never met.
    pub fn meets(&self, part: u64, whole: u64, comparison: ThresholdComparison) -> bool {
        if whole == 0 || self.denominator == 0 {
            return false;
        }
        let left = u128::from(part) * u128::from(self.denominator);
        let right = u128::from(self.numerator) * u128::from(whole);
        match comparison {
            ThresholdComparison::AtLeast => left >= right,
            ThresholdComparison::MoreThan => left > right,
        }
    }

    /// Whether this is a valid share: denominator at least 1 and value at most 1.
    pub fn is_valid_share(&self) -> bool {
        self.denominator > 0 && self.numerator <= self.denominator
    }

    /// For people: `30%` when the denominator divides 100 evenly, else `2/3`.
    pub fn display(&self) -> String {
        if self.denominator > 0 && 100 % self.denominator == 0 {
            format!(
                "{}%",
                u64::from(self.numerator) * u64::from(100 / self.denominator)
            )
        } else {
            format!("{}/{}", self.numerator, self.denominator)
        }
    }
}

/// How a measured share is compared with a threshold (tica.common.v1.ThresholdComparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdComparison {
    /// share >= threshold ("占30%" read as "at least 30 %"; "一致率达到80%以上" as ">= 80 %").
    /// The proto's default.
    #[default]
    AtLeast,
    /// share > threshold.
    MoreThan,
}

/// Which figure of a review's agreement is held against the threshold
/// (tica.common.v1.AgreementCriterion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementCriterion {
    /// The percent agreement, agreements / n (the seeds' reading: 一致率达到80%以上). The
    /// proto's default.
    #[default]
    PointEstimate,
    /// The lower end of its Wilson score interval at 95 %.
    WilsonLowerBound,
}

/// A grade of a submission, a teacher, a school or a county (tica.common.v1.Grade without
/// UNSPECIFIED: "not graded yet" is `Option::None`).
///
/// 《宁夏测评实施办法》§六: 不合格 / 合格 / 优秀. Ordered
/// `Fail < Pass < Excellent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 不合格. Never certified.
    Fail,
    /// 合格.
    Pass,
    /// 优秀.
    Excellent,
}

impl Grade {
    /// The Chinese label: 不合格 / 合格 / 优秀.
    pub fn label_zh(self) -> &'static str {
        match self {
            Grade::Fail => "不合格",
            Grade::Pass => "合格",
            Grade::Excellent => "优秀",
        }
    }

    /// The stable key: `fail` / `pass` / `excellent`.
    pub fn key(self) -> &'static str {
        match self {
            Grade::Fail => "fail",
            Grade::Pass => "pass",
            Grade::Excellent => "excellent",
        }
    }
}

/// How a fractional count is rounded to a whole number (RoundingMode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Down.
    Floor,
    /// Up. The proto's default.
    #[default]
    Ceil,
    /// To nearest, halves up.
    HalfUp,
}

impl RoundingMode {
    /// `numerator / denominator` rounded this way; `None` when `denominator` is 0.
    pub fn divide(self, numerator: u128, denominator: u128) -> Option<u128> {
        if denominator == 0 {
            return None;
        }
        let quotient = numerator / denominator;
        let remainder = numerator % denominator;
        Some(match self {
            RoundingMode::Floor => quotient,
            RoundingMode::Ceil => quotient + u128::from(remainder > 0),
            RoundingMode::HalfUp => quotient + u128::from(remainder * 2 >= denominator),
        })
    }
}

/// A built-in policy, shipped with the service and loaded at start-up (PolicyPreset without
/// UNSPECIFIED: "no preset" is `Option::None`). The rules are [`crate::policy::preset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// 宁夏 (《宁夏实施方案》, 《宁夏测评实施办法》): 25 + 25 hours, selection by category and age,
    /// school → county → region review with sampling, level certificate.
    Ningxia,
    /// 安徽 (《安徽指导意见》): 30 + 30 hours, ≥ 20 credits, county spot-check,
    /// one certificate per passed micro-competency from the county.
    Anhui,
    /// 泗县 (《泗县实施意见》): Anhui's rules with ≥ 60 hours (30 + 30) and the
    /// county education and sports bureau as issuer.
    Sixian,
    /// 北京 (《北京试点方案》): 50 hours by kind, each course ≥ 2/3 watched,
    /// ≥ 2 micro-competencies, 100-point case rubric, top 3 % excellent.
    Beijing,
}

// ---------------------------------------------------------------------------------------------
// Hours

/// The kind of a training hour (学时) (HoursKind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursKind {
    /// 线上研修 / 网络研修 / 专题课程 study (Beijing: 15 of its 20 course hours).
    OnlineStudy,
    /// Online tests on the courses studied (Beijing: 5 学时).
    OnlineTest,
    /// Study of application cases (应用案例, Beijing: 5 学时).
    CaseStudy,
    /// 线下实践应用 (Ningxia 25, Anhui/Sixian 30).
    Practice,
    /// 校本研修 (Beijing: 20 学时, the design plan).
    SchoolResearch,
    /// 校本应用考核 (Beijing: 5 学时, the practice display and reflection).
    SchoolAssessment,
}

impl HoursKind {
    /// Every kind, in the proto's order.
    pub const ALL: [HoursKind; 6] = [
        HoursKind::OnlineStudy,
        HoursKind::OnlineTest,
        HoursKind::CaseStudy,
        HoursKind::Practice,
        HoursKind::SchoolResearch,
        HoursKind::SchoolAssessment,
    ];

    /// The Chinese label, e.g. 实践应用.
    pub fn label_zh(self) -> &'static str {
        match self {
            HoursKind::OnlineStudy => "线上研修",
            HoursKind::OnlineTest => "在线测试",
            HoursKind::CaseStudy => "应用案例学习",
            HoursKind::Practice => "实践应用",
            HoursKind::SchoolResearch => "校本研修",
            HoursKind::SchoolAssessment => "校本应用考核",
        }
    }
}

/// A minimum number of hours of one kind (HoursRequirement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursRequirement {
    /// Required.
    pub kind: HoursKind,
    /// At least this many, in centihours.
    #[serde(default)]
    pub minimum_centihours: i64,
}

/// A minimum share of the total hours that must be of some kinds (实践应用学时不少于50%)
/// (HoursShareRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HoursShareRule {
    /// The kinds that count towards the share. At least one.
    pub kinds: Vec<HoursKind>,
    /// Their counted hours divided by the counted total must be at least this, e.g. 50/100.
    pub minimum_share: Ratio,
    /// Where the rule comes from: the document's text file and section, e.g.
    /// "seeds/001_a7fb3e33a85a8b41.txt 实施方案 一" (《宁夏实施方案》§一; docs/policies.md names
    /// the files).
    pub source: String,
}

/// A minimum watched fraction for an online course or case to count at all (WatchRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchRule {
    /// The kinds it applies to (Beijing: ONLINE_STUDY and CASE_STUDY).
    pub kinds: Vec<HoursKind>,
    /// watched_minutes / course_minutes must be at least this (Beijing 2/3). A record below it
    /// counts 0 hours.
    pub minimum_watched: Ratio,
}

/// The training hours a teacher must complete (HoursRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HoursRule {
    /// At least this many counted hours in total, in centihours (Ningxia 5000, Sixian 6000).
    pub total_minimum_centihours: i64,
    /// Minimums per kind, e.g. Ningxia ONLINE_STUDY 2500 and PRACTICE 2500.
    pub requirements: Vec<HoursRequirement>,
    /// Minimum shares, e.g. the national "practice >= 50 %".
    pub share_rules: Vec<HoursShareRule>,
    /// The watched-fraction rule; `None` when there is none.
    pub watch_rule: Option<WatchRule>,
}

// ---------------------------------------------------------------------------------------------
// Selection

/// A calendar date as google.type.Date carries it, for the selection rule's reference date.
///
/// `year` 0 means "that month and day in the batch's year" (e.g. 0-12-31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReferenceDate {
    /// 1..=9999, or 0 for "the batch's year".
    pub year: i32,
    /// 1..=12.
    pub month: u8,
    /// 1..=31, valid for the month (29 February only with year 0 or a leap year).
    pub day: u8,
}

impl ReferenceDate {
    /// The date this stands for in a batch opened on `batch_open_date`; `None` when it is not
    /// a calendar date. With year 0, 29 February falls on 28 February in a common year.
    pub fn resolve(&self, batch_open_date: time::Date) -> Option<time::Date> {
        let month = time::Month::try_from(self.month).ok()?;
        if self.year == 0 {
            let year = batch_open_date.year();
            let day = self.day.min(month.length(year));
            if self.day > month.length(2000) {
                return None;
            }
            time::Date::from_calendar_date(year, month, day).ok()
        } else {
            time::Date::from_calendar_date(self.year, month, self.day).ok()
        }
    }
}

/// When a selection case applies to a participant (SelectionCondition). Every set field must
/// hold; within a list any entry may match. An empty condition matches everyone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionCondition {
    /// At least this age, inclusive, in completed years on the rule's reference date (50 for
    /// "50岁以上").
    pub min_age: Option<i32>,
    /// At most this age, inclusive (49 for "50岁以下").
    pub max_age: Option<i32>,
    /// The teacher's category is one of these (stored as keys, e.g. `"ordinary"`).
    #[serde(with = "super::keyed")]
    pub categories: Vec<TeacherCategory>,
    /// The teacher has one of these roles (stored as keys, e.g. `"teaching_researcher"`).
    #[serde(with = "super::keyed")]
    pub roles: Vec<PersonRole>,
}

impl SelectionCondition {
    /// Whether a person of `age` (completed years), `category` and `roles` matches.
    pub fn matches(&self, age: u32, category: TeacherCategory, roles: &[PersonRole]) -> bool {
        let age = i64::from(age);
        self.min_age.is_none_or(|min| age >= i64::from(min))
            && self.max_age.is_none_or(|max| age <= i64::from(max))
            && (self.categories.is_empty() || self.categories.contains(&category))
            && (self.roles.is_empty() || self.roles.iter().any(|role| roles.contains(role)))
    }
}

/// At least `min_count` (and at most `max_count`) of the picks must come from `codes`
/// (CodeQuota).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeQuota {
    /// The codes, e.g. B1..B10 and C1..C7 listed one by one.
    pub codes: Vec<String>,
    /// At least this many picks from `codes`.
    pub min_count: i32,
    /// At most this many picks from `codes`; 0 means no maximum.
    pub max_count: i32,
}

/// What a set of picks must satisfy (SelectionRequirement).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionRequirement {
    /// At least this many micro-competencies, inclusive.
    pub min_count: i32,
    /// At most this many, inclusive; 0 means no maximum.
    pub max_count: i32,
    /// The picks' credits must add up to at least this (Anhui 20); 0 means no credit rule.
    pub min_credits: i32,
    /// Every pick must be one of these codes; empty means any of the 30.
    pub allowed_codes: Vec<String>,
    /// "k of these codes" quotas, all of which must hold.
    pub quotas: Vec<CodeQuota>,
}

/// One case of a selection rule: who it applies to and what they must pick (SelectionCase).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionCase {
    /// A short stable id used in verdicts, e.g. "ningxia.under50.ordinary".
    pub id: String,
    /// For people, e.g. "50岁以下其他教师".
    pub display_name: String,
    /// Who it applies to.
    pub condition: SelectionCondition,
    /// What they must pick.
    pub requirement: SelectionRequirement,
    /// Where it comes from: the document's text file and section, e.g.
    /// "seeds/001_a7fb3e33a85a8b41.txt 测评实施办法 三(一)2(3)" (《宁夏测评实施办法》§三(一)2(3)).
    pub source: String,
}

/// Which micro-competencies a teacher must pick (SelectionRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionRule {
    /// The day ages are taken on; `None` means the batch's open date.
    pub age_reference_date: Option<ReferenceDate>,
    /// Tried in order; the first whose condition matches applies. A participant matching none
    /// is refused with [`crate::policy::ProblemKind::NoMatchingCase`].
    pub cases: Vec<SelectionCase>,
    /// Principals also undergo the leadership assessment (校长信息化领导力测评) as an extra
    /// submission with id `leadership`.
    pub principal_leadership_assessment: bool,
}

impl SelectionRule {
    /// The day ages are taken on for a batch opened on `batch_open_date`: the rule's reference
    /// date resolved in that batch's year, or the open date itself when the rule sets none (or
    /// sets one that is not a calendar date, which [`PolicyRules::validate`] refuses).
    pub fn reference_date_for(&self, batch_open_date: time::Date) -> time::Date {
        self.age_reference_date
            .and_then(|date| date.resolve(batch_open_date))
            .unwrap_or(batch_open_date)
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence

/// The kind of an evidence file (EvidenceKind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A lesson recording or practice presentation (Beijing: MP4, ≤ 45 minutes in total).
    Video,
    /// 信息技术教育教学应用设计方案 (Beijing 附件2 表1) or a micro-competency's design.
    DesignPlan,
    /// 应用反思 (Beijing 附件2 表2).
    Reflection,
    /// The artefact made: slides, micro-lesson, rubric, data report.
    Courseware,
    /// Anything else the submission guide asks for.
    Other,
}

/// Upload limits for one kind of evidence (EvidenceKindLimit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceKindLimit {
    /// Required.
    pub kind: EvidenceKind,
    /// Accepted MIME types, e.g. "video/mp4"; empty means any the service can store.
    #[serde(default)]
    pub content_types: Vec<String>,
    /// At most this many bytes per file.
    #[serde(default)]
    pub max_bytes: i64,
    /// Video only: at most this many seconds per file as declared (Beijing 2700); 0 means no
    /// limit.
    #[serde(default)]
    pub max_duration_seconds: i32,
}

/// The evidence kinds a submission must carry before it can be submitted
/// (EvidenceRequirement).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceRequirement {
    /// The micro-competencies it applies to (or `leadership`); empty means every one and the
    /// leadership submission.
    pub micro_competencies: Vec<String>,
    /// Each of these kinds must be attached at least once.
    pub required_kinds: Vec<EvidenceKind>,
}

/// What evidence looks like (EvidenceRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceRule {
    /// Limits per kind; a kind not listed cannot be uploaded.
    pub limits: Vec<EvidenceKindLimit>,
    /// Required kinds.
    pub requirements: Vec<EvidenceRequirement>,
    /// At most this many bytes over all of a participant's evidence in a batch; 0 means no
    /// limit.
    pub max_total_bytes: i64,
}

// ---------------------------------------------------------------------------------------------
// Grading

/// How a teacher's overall excellent grade follows from their submissions' grades
/// (TeacherExcellentRule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeacherExcellentRule {
    /// Excellent when every submission is excellent. The proto's default.
    #[default]
    AllSubmissions,
    /// Excellent when any submission is excellent.
    AnySubmission,
    /// Excellent when the share of excellent submissions reaches `teacher_excellent_share`.
    Share,
}

/// One criterion of a rubric (RubricCriterion).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RubricCriterion {
    /// Stable id, e.g. "plan.background".
    pub id: String,
    /// The section it belongs to, e.g. "应用方案".
    pub section: String,
    /// The criterion as printed, e.g. "应用背景分析从实际教育教学问题出发…".
    pub display_name: String,
    /// Points available, e.g. 10.
    pub max_points: i32,
}

/// A scoring rubric (Rubric); Beijing's 100-point case rubric ships in the Beijing preset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Rubric {
    /// Stable id, e.g. "beijing-case-100".
    pub id: String,
    /// e.g. "案例评价标准".
    pub display_name: String,
    /// In printed order.
    pub criteria: Vec<RubricCriterion>,
    /// Output only in the API: the sum of the criteria's max_points. 0 (not filled) or that
    /// sum; [`Rubric::computed_total_points`] computes it.
    pub total_points: i32,
}

impl Rubric {
    /// The sum of the criteria's `max_points` (negative values count 0).
    pub fn computed_total_points(&self) -> i64 {
        self.criteria
            .iter()
            .map(|criterion| i64::from(criterion.max_points.max(0)))
            .sum()
    }
}

/// How submissions and teachers are graded (GradingRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GradingRule {
    /// How a teacher's excellent grade follows from their submissions'. A teacher fails if their
    /// hours or any submission fail (《宁夏测评实施办法》§六(一)).
    pub teacher_excellent: TeacherExcellentRule,
    /// For [`TeacherExcellentRule::Share`].
    pub teacher_excellent_share: Option<Ratio>,
    /// An optional rubric; when set, graders may (or, with grade_from_rubric, must) score it.
    pub rubric: Option<Rubric>,
    /// The grade follows from the rubric total: FAIL below pass_minimum_points, EXCELLENT at or
    /// above excellent_minimum_points, PASS between.
    pub grade_from_rubric: bool,
    /// Inclusive minimum total for PASS.
    pub pass_minimum_points: i32,
    /// Inclusive minimum total for EXCELLENT; 0 means no score makes a submission excellent by
    /// itself.
    pub excellent_minimum_points: i32,
    /// At most this share of a school's participants may be graded excellent (Beijing 3/100);
    /// `None` means no quota.
    pub excellent_quota: Option<Ratio>,
    /// How the quota's count is rounded; with CEIL a school with 1–33 participants may have 1.
    pub excellent_quota_rounding: RoundingMode,
    /// County-level assessors of the county may grade for a school (或委托县级培训团队,
    /// 《安徽指导意见》§四(二)4).
    pub county_assessors_may_grade: bool,
    /// An assessor may grade only teachers of a subject listed on their registration
    /// (以学科为单位).
    pub subject_match_required: bool,
    /// A school's results go to county review as soon as its last submission is graded.
    pub auto_submit_school_results: bool,
    /// The final recognition also needs a passed offline check for participants drawn for one
    /// (线上与线下测评都合格的，综合认定为合格, 《宁夏测评实施办法》§五(三)).
    pub offline_check_required: bool,
}

/// Which grade wins when a unit meets both the excellent and the fail threshold
/// (GradePrecedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradePrecedence {
    /// Fail wins (the presets' choice: a unit with too many failures is not excellent). The
    /// proto's default.
    #[default]
    FailWins,
    /// Excellent wins.
    ExcellentWins,
}

/// How a school (from its participants' grades) or a county (from its schools' grades) is
/// graded (UnitGradeRule; 《宁夏测评实施办法》§六(二)(三)).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UnitGradeRule {
    /// Units are graded at all; false leaves the grade unspecified (Anhui, Beijing).
    pub enabled: bool,
    /// Share of excellent members for EXCELLENT: schools 30/100, counties 10/100.
    pub excellent_share: Ratio,
    /// Presets: AT_LEAST ("占30%" read as "at least 30 %").
    pub excellent_comparison: ThresholdComparison,
    /// Share of failed members for FAIL: 2/100 for both.
    pub fail_share: Ratio,
    /// Presets: AT_LEAST.
    pub fail_comparison: ThresholdComparison,
    /// Presets: FAIL_WINS.
    pub precedence: GradePrecedence,
    /// Where it comes from.
    pub source: String,
}

// ---------------------------------------------------------------------------------------------
// Certificates, sampling, carry-over

/// What a jurisdiction issues (CertificateMode without UNSPECIFIED: "no certificate" is
/// `Option::None` in [`CertificateRule::mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateMode {
    /// One certificate per passed micro-competency (Anhui, Sixian: 印发教师所选各个微能力的认证证书).
    PerMicroCompetency,
    /// One level certificate per teacher, 合格 or 优秀 (Ningxia 八).
    Level,
}

/// The certificate a jurisdiction issues (CertificateRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificateRule {
    /// `None`: no certificate (Beijing).
    pub mode: Option<CertificateMode>,
    /// The issuer as printed, e.g. "泗县教育体育局".
    pub issuing_authority: String,
    /// `jurisdictions/{code}` of the issuer; empty when the preset cannot know it (Anhui: each
    /// county issues its own).
    pub issuing_jurisdiction: String,
    /// The title, e.g. "信息技术应用能力提升工程2.0 微能力认证证书".
    pub title: String,
    /// Print the micro-competency's credits.
    pub show_credits: bool,
    /// Print the teacher's counted training hours.
    pub show_hours: bool,
}

/// The draw rates of one review stage: schools first, then teachers inside each drawn school
/// (ReviewStageRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReviewStageRule {
    /// The stage takes place.
    pub enabled: bool,
    /// Share of each county's schools drawn: ceil(rate × N), at least `minimum_per_stratum`
    /// (the sampling service applies the formula).
    pub school_rate: Ratio,
    /// Share of each drawn school's teachers drawn, same formula.
    pub teacher_rate: Ratio,
    /// At least this many per stratum (1), never more than the stratum holds.
    pub minimum_per_stratum: i32,
    /// Where it comes from.
    pub source: String,
}

/// The review chain's rates and thresholds, used by the sampling service (SamplingRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingRule {
    /// County review of schools.
    pub county_review: ReviewStageRule,
    /// Province/city audit of counties.
    pub province_audit: ReviewStageRule,
    /// Offline checks (推门听课).
    pub offline_check: ReviewStageRule,
    /// Agreement needed for a unit to pass, e.g. 80/100.
    pub agreement_threshold: Ratio,
    /// Presets: POINT_ESTIMATE.
    pub agreement_criterion: AgreementCriterion,
    /// Presets: AT_LEAST.
    pub agreement_comparison: ThresholdComparison,
}

/// What happens to a teacher who did not pass (CarryOverRule).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CarryOverRule {
    /// Teachers who did not pass may be carried into the next batch.
    pub enabled: bool,
    /// Hours counted in the earlier batch count again.
    pub keep_hours: bool,
    /// Micro-competencies passed earlier stay passed (and are not certified twice).
    pub keep_passed_submissions: bool,
}

// ---------------------------------------------------------------------------------------------
// The whole

/// A policy's rules, by section (PolicyRules). In a policy an unset section (`None`) inherits
/// the parent jurisdiction's section as a whole; a set section replaces it as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyRules {
    /// Training hours.
    pub hours: Option<HoursRule>,
    /// Micro-competency selection.
    pub selection: Option<SelectionRule>,
    /// Evidence kinds and limits.
    pub evidence: Option<EvidenceRule>,
    /// Submission and teacher grading.
    pub grading: Option<GradingRule>,
    /// School grades.
    pub school_grade: Option<UnitGradeRule>,
    /// County grades.
    pub county_grade: Option<UnitGradeRule>,
    /// Certificates.
    pub certificate: Option<CertificateRule>,
    /// Review sampling and agreement.
    pub sampling: Option<SamplingRule>,
    /// Carry-over of teachers who did not pass.
    pub carry_over: Option<CarryOverRule>,
}

impl PolicyRules {
    /// The section names in the proto's order (`hours`, `selection`, … `carry_over`).
    pub const SECTIONS: [&'static str; 9] = [
        "hours",
        "selection",
        "evidence",
        "grading",
        "school_grade",
        "county_grade",
        "certificate",
        "sampling",
        "carry_over",
    ];

    /// Per-section inheritance: each section set on `self` replaces the parent's section as a
    /// whole; each section unset on `self` is taken from `parent` (set or not). Sections are
    /// never merged field by field.
    pub fn overlay(&self, parent: &PolicyRules) -> PolicyRules {
        fn pick<T: Clone>(own: &Option<T>, parent: &Option<T>) -> Option<T> {
            own.as_ref().or(parent.as_ref()).cloned()
        }
        PolicyRules {
            hours: pick(&self.hours, &parent.hours),
            selection: pick(&self.selection, &parent.selection),
            evidence: pick(&self.evidence, &parent.evidence),
            grading: pick(&self.grading, &parent.grading),
            school_grade: pick(&self.school_grade, &parent.school_grade),
            county_grade: pick(&self.county_grade, &parent.county_grade),
            certificate: pick(&self.certificate, &parent.certificate),
            sampling: pick(&self.sampling, &parent.sampling),
            carry_over: pick(&self.carry_over, &parent.carry_over),
        }
    }

    /// The rules in force at the first jurisdiction of `chain`, which runs nearest first (the
    /// jurisdiction's own policy, then its parent's, … up to the province's): each section comes
    /// from the nearest policy that sets it. An empty chain gives all sections unset.
    pub fn effective(chain: &[&PolicyRules]) -> PolicyRules {
        chain
            .iter()
            .fold(PolicyRules::default(), |acc, rules| acc.overlay(rules))
    }

    /// Index into [`PolicyRules::SECTIONS`] of the nearest policy of `chain` (nearest first)
    /// that sets each section, `None` where no policy does; for EffectivePolicy's `sources`.
    pub fn section_sources(chain: &[&PolicyRules]) -> [(&'static str, Option<usize>); 9] {
        let set = |rules: &PolicyRules| -> [bool; 9] {
            [
                rules.hours.is_some(),
                rules.selection.is_some(),
                rules.evidence.is_some(),
                rules.grading.is_some(),
                rules.school_grade.is_some(),
                rules.county_grade.is_some(),
                rules.certificate.is_some(),
                rules.sampling.is_some(),
                rules.carry_over.is_some(),
            ]
        };
        let flags: Vec<[bool; 9]> = chain.iter().map(|rules| set(rules)).collect();
        std::array::from_fn(|section| {
            (
                PolicyRules::SECTIONS[section],
                flags.iter().position(|set| set[section]),
            )
        })
    }

    /// The names of the sections left unset (see [`PolicyRules::SECTIONS`]).
    pub fn unset_sections(&self) -> Vec<&'static str> {
        let chain = [self];
        PolicyRules::section_sources(&chain)
            .into_iter()
            .filter(|(_, source)| source.is_none())
            .map(|(name, _)| name)
            .collect()
    }
}
