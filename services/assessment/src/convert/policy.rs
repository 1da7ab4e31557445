//! Policy rules, proto ⇄ domain: `tica.assessment.v1.PolicyRules` and its sections (with the
//! shared `tica.common.v1` values and `tica.roster.v1` categories and roles) against
//! [`tica_domain::policy`], plus the selection verdict and the enums the service needs alone.
//!
//! Domain → proto never fails. Proto → domain ([`rules_from_proto`]) converts shapes only and
//! reports every problem it meets as `(field path, message)`, the paths in proto field names
//! (`policy.rules.hours.requirements[1].kind`), the messages in Chinese like those of
//! [`d::PolicyRules::validate`], which checks the content afterwards (codes, counts, shares,
//! dates). How the proto's absences read:
//! - An unset section is `None`: it inherits the parent jurisdiction's section.
//! - An unset message the domain holds by value reads as the proto's default instance: an unset
//!   ratio is 0/0 (which `validate()` refuses wherever the ratio is used), an unset condition
//!   matches everyone, an unset requirement or review stage has every field zero.
//! - UNSPECIFIED is the documented default where the proto names one (ALL_SUBMISSIONS, CEIL,
//!   AT_LEAST, FAIL_WINS, POINT_ESTIMATE), "no certificate" for the certificate mode, and a
//!   problem where a value is required (hours kinds, evidence kinds, categories, roles). A number
//!   no enum value has is always a problem.
//! - Ratio parts must fit the domain's `u32` (0..=4294967295); a reference date's month and day
//!   must fit its `u8` (the calendar is `validate()`'s).

use tica_domain::policy as d;
use tica_domain::{PersonRole, TeacherCategory};
use tica_proto::google::r#type::Date as ProtoDate;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;

// ---------------------------------------------------------------------------------------------
// Enums

/// Domain ⇄ proto for an enum whose UNSPECIFIED has no domain value: `$to` gives the proto
/// number, `$from` gives `None` for UNSPECIFIED and for numbers the proto does not define.
macro_rules! enum_map {
    ($vis:vis $to:ident, $from:ident, $domain:ty, $proto:ty, [$($d:path => $p:path),+ $(,)?]) => {
        #[doc = concat!("`", stringify!($domain), "` → `", stringify!($proto), "` as `i32`.")]
        $vis fn $to(value: $domain) -> i32 {
            match value {
                $($d => $p as i32,)+
            }
        }

        #[doc = concat!("`", stringify!($proto), "` → `", stringify!($domain), "`; `None` for UNSPECIFIED or an unknown number.")]
        $vis fn $from(value: i32) -> Option<$domain> {
            match <$proto>::try_from(value).ok()? {
                $($p => Some($d),)+
                _ => None,
            }
        }
    };
}

enum_map!(pub grade_to_proto, grade_from_proto, d::Grade, common::Grade, [
    d::Grade::Fail => common::Grade::Fail,
    d::Grade::Pass => common::Grade::Pass,
    d::Grade::Excellent => common::Grade::Excellent,
]);

enum_map!(pub hours_kind_to_proto, hours_kind_from_proto, d::HoursKind, pb::HoursKind, [
    d::HoursKind::OnlineStudy => pb::HoursKind::OnlineStudy,
    d::HoursKind::OnlineTest => pb::HoursKind::OnlineTest,
    d::HoursKind::CaseStudy => pb::HoursKind::CaseStudy,
    d::HoursKind::Practice => pb::HoursKind::Practice,
    d::HoursKind::SchoolResearch => pb::HoursKind::SchoolResearch,
    d::HoursKind::SchoolAssessment => pb::HoursKind::SchoolAssessment,
]);

enum_map!(pub evidence_kind_to_proto, evidence_kind_from_proto, d::EvidenceKind, pb::EvidenceKind, [
    d::EvidenceKind::Video => pb::EvidenceKind::Video,
    d::EvidenceKind::DesignPlan => pb::EvidenceKind::DesignPlan,
    d::EvidenceKind::Reflection => pb::EvidenceKind::Reflection,
    d::EvidenceKind::Courseware => pb::EvidenceKind::Courseware,
    d::EvidenceKind::Other => pb::EvidenceKind::Other,
]);

enum_map!(pub preset_to_proto, preset_from_proto, d::Preset, pb::PolicyPreset, [
    d::Preset::Ningxia => pb::PolicyPreset::Ningxia,
    d::Preset::Anhui => pb::PolicyPreset::Anhui,
    d::Preset::Sixian => pb::PolicyPreset::Sixian,
    d::Preset::Beijing => pb::PolicyPreset::Beijing,
]);

enum_map!(pub category_to_proto, category_from_proto, TeacherCategory, roster::TeacherCategory, [
    TeacherCategory::SpecialOrRegionalBackbone => roster::TeacherCategory::SpecialOrRegionalBackbone,
    TeacherCategory::CityCountyBackbone => roster::TeacherCategory::CityCountyBackbone,
    TeacherCategory::Ordinary => roster::TeacherCategory::Ordinary,
    TeacherCategory::Kindergarten => roster::TeacherCategory::Kindergarten,
]);

enum_map!(pub role_to_proto, role_from_proto, PersonRole, roster::PersonRole, [
    PersonRole::Teacher => roster::PersonRole::Teacher,
    PersonRole::Principal => roster::PersonRole::Principal,
    PersonRole::TeachingResearcher => roster::PersonRole::TeachingResearcher,
    PersonRole::AuxiliaryStaff => roster::PersonRole::AuxiliaryStaff,
]);

// The enums whose UNSPECIFIED is a documented default: read through `Problems::defaulted`.

enum_map!(rounding_to_proto, rounding_from_proto, d::RoundingMode, pb::RoundingMode, [
    d::RoundingMode::Floor => pb::RoundingMode::Floor,
    d::RoundingMode::Ceil => pb::RoundingMode::Ceil,
    d::RoundingMode::HalfUp => pb::RoundingMode::HalfUp,
]);

enum_map!(teacher_excellent_to_proto, teacher_excellent_from_proto, d::TeacherExcellentRule, pb::TeacherExcellentRule, [
    d::TeacherExcellentRule::AllSubmissions => pb::TeacherExcellentRule::AllSubmissions,
    d::TeacherExcellentRule::AnySubmission => pb::TeacherExcellentRule::AnySubmission,
    d::TeacherExcellentRule::Share => pb::TeacherExcellentRule::Share,
]);

enum_map!(precedence_to_proto, precedence_from_proto, d::GradePrecedence, pb::GradePrecedence, [
    d::GradePrecedence::FailWins => pb::GradePrecedence::FailWins,
    d::GradePrecedence::ExcellentWins => pb::GradePrecedence::ExcellentWins,
]);

enum_map!(comparison_to_proto, comparison_from_proto, d::ThresholdComparison, common::ThresholdComparison, [
    d::ThresholdComparison::AtLeast => common::ThresholdComparison::AtLeast,
    d::ThresholdComparison::MoreThan => common::ThresholdComparison::MoreThan,
]);

enum_map!(agreement_to_proto, agreement_from_proto, d::AgreementCriterion, common::AgreementCriterion, [
    d::AgreementCriterion::PointEstimate => common::AgreementCriterion::PointEstimate,
    d::AgreementCriterion::WilsonLowerBound => common::AgreementCriterion::WilsonLowerBound,
]);

/// The certificate mode; `None` (no certificate) is CERTIFICATE_MODE_UNSPECIFIED.
pub fn certificate_mode_to_proto(mode: Option<d::CertificateMode>) -> i32 {
    match mode {
        None => pb::CertificateMode::Unspecified as i32,
        Some(d::CertificateMode::PerMicroCompetency) => {
            pb::CertificateMode::PerMicroCompetency as i32
        }
        Some(d::CertificateMode::Level) => pb::CertificateMode::Level as i32,
    }
}

/// `Ok(None)` for UNSPECIFIED (no certificate), `Err(())` for an unknown number.
fn certificate_mode_from_proto(value: i32) -> Result<Option<d::CertificateMode>, ()> {
    match pb::CertificateMode::try_from(value).map_err(|_| ())? {
        pb::CertificateMode::Unspecified => Ok(None),
        pb::CertificateMode::PerMicroCompetency => Ok(Some(d::CertificateMode::PerMicroCompetency)),
        pb::CertificateMode::Level => Ok(Some(d::CertificateMode::Level)),
    }
}

/// The kind of a selection problem (domain → proto only: problems are never read back).
pub fn problem_kind_to_proto(kind: d::ProblemKind) -> i32 {
    use pb::SelectionProblemKind as P;
    let kind = match kind {
        d::ProblemKind::UnknownCode => P::UnknownCode,
        d::ProblemKind::DuplicateCode => P::DuplicateCode,
        d::ProblemKind::TooFew => P::TooFew,
        d::ProblemKind::TooMany => P::TooMany,
        d::ProblemKind::CodeNotAllowed => P::CodeNotAllowed,
        d::ProblemKind::QuotaNotMet => P::QuotaNotMet,
        d::ProblemKind::QuotaExceeded => P::QuotaExceeded,
        d::ProblemKind::CreditsTooLow => P::CreditsTooLow,
        d::ProblemKind::NoMatchingCase => P::NoMatchingCase,
        d::ProblemKind::ProfileIncomplete => P::ProfileIncomplete,
        d::ProblemKind::Locked => P::Locked,
    };
    kind as i32
}

// ---------------------------------------------------------------------------------------------
// Shared values

/// A ratio; always set, both parts as they are.
pub fn ratio_to_proto(r: &d::Ratio) -> common::Ratio {
    common::Ratio {
        numerator: i64::from(r.numerator),
        denominator: i64::from(r.denominator),
    }
}

fn date_to_proto(date: time::Date) -> ProtoDate {
    ProtoDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

fn reference_date_to_proto(date: &d::ReferenceDate) -> ProtoDate {
    ProtoDate {
        year: date.year,
        month: i32::from(date.month),
        day: i32::from(date.day),
    }
}

/// A rubric; `total_points` is output only in the API and always the criteria's sum.
pub fn rubric_to_proto(r: &d::Rubric) -> pb::Rubric {
    pb::Rubric {
        id: r.id.clone(),
        display_name: r.display_name.clone(),
        criteria: r
            .criteria
            .iter()
            .map(|criterion| pb::RubricCriterion {
                id: criterion.id.clone(),
                section: criterion.section.clone(),
                display_name: criterion.display_name.clone(),
                max_points: criterion.max_points,
            })
            .collect(),
        total_points: i32::try_from(r.computed_total_points()).unwrap_or(i32::MAX),
    }
}

/// A verdict of the selection rule, stamped with the policy version that judged
/// (`policies/{code}/versions/{n}`).
pub fn verdict_to_proto(v: &d::Verdict, policy_version: &str) -> pb::SelectionVerdict {
    pb::SelectionVerdict {
        accepted: v.accepted,
        case_id: v.case_id.clone(),
        case_display_name: v.case_display_name.clone(),
        age_reference_date: Some(date_to_proto(v.age_reference_date)),
        age: i32::try_from(v.age).unwrap_or(i32::MAX),
        total_credits: v.total_credits,
        problems: v
            .problems
            .iter()
            .map(|problem| pb::SelectionProblem {
                kind: problem_kind_to_proto(problem.kind),
                codes: problem.codes.clone(),
                message: problem.message.clone(),
            })
            .collect(),
        message: v.message.clone(),
        policy_version: policy_version.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Domain → proto

/// A policy's rules; unset sections stay unset.
pub fn rules_to_proto(rules: &d::PolicyRules) -> pb::PolicyRules {
    pb::PolicyRules {
        hours: rules.hours.as_ref().map(hours_to_proto),
        selection: rules.selection.as_ref().map(selection_to_proto),
        evidence: rules.evidence.as_ref().map(evidence_to_proto),
        grading: rules.grading.as_ref().map(grading_to_proto),
        school_grade: rules.school_grade.as_ref().map(unit_grade_to_proto),
        county_grade: rules.county_grade.as_ref().map(unit_grade_to_proto),
        certificate: rules.certificate.as_ref().map(certificate_to_proto),
        sampling: rules.sampling.as_ref().map(sampling_to_proto),
        carry_over: rules.carry_over.as_ref().map(carry_over_to_proto),
    }
}

fn hours_kinds_to_proto(kinds: &[d::HoursKind]) -> Vec<i32> {
    kinds
        .iter()
        .map(|kind| hours_kind_to_proto(*kind))
        .collect()
}

fn hours_to_proto(rule: &d::HoursRule) -> pb::HoursRule {
    pb::HoursRule {
        total_minimum_centihours: rule.total_minimum_centihours,
        requirements: rule
            .requirements
            .iter()
            .map(|requirement| pb::HoursRequirement {
                kind: hours_kind_to_proto(requirement.kind),
                minimum_centihours: requirement.minimum_centihours,
            })
            .collect(),
        share_rules: rule
            .share_rules
            .iter()
            .map(|share| pb::HoursShareRule {
                kinds: hours_kinds_to_proto(&share.kinds),
                minimum_share: Some(ratio_to_proto(&share.minimum_share)),
                source: share.source.clone(),
            })
            .collect(),
        watch_rule: rule.watch_rule.as_ref().map(|watch| pb::WatchRule {
            kinds: hours_kinds_to_proto(&watch.kinds),
            minimum_watched: Some(ratio_to_proto(&watch.minimum_watched)),
        }),
    }
}

fn selection_to_proto(rule: &d::SelectionRule) -> pb::SelectionRule {
    pb::SelectionRule {
        age_reference_date: rule
            .age_reference_date
            .as_ref()
            .map(reference_date_to_proto),
        cases: rule
            .cases
            .iter()
            .map(|case| pb::SelectionCase {
                id: case.id.clone(),
                display_name: case.display_name.clone(),
                condition: Some(pb::SelectionCondition {
                    min_age: case.condition.min_age,
                    max_age: case.condition.max_age,
                    categories: case
                        .condition
                        .categories
                        .iter()
                        .map(|category| category_to_proto(*category))
                        .collect(),
                    roles: case
                        .condition
                        .roles
                        .iter()
                        .map(|role| role_to_proto(*role))
                        .collect(),
                }),
                requirement: Some(requirement_to_proto(&case.requirement)),
                source: case.source.clone(),
            })
            .collect(),
        principal_leadership_assessment: rule.principal_leadership_assessment,
    }
}

fn requirement_to_proto(requirement: &d::SelectionRequirement) -> pb::SelectionRequirement {
    pb::SelectionRequirement {
        min_count: requirement.min_count,
        max_count: requirement.max_count,
        min_credits: requirement.min_credits,
        allowed_codes: requirement.allowed_codes.clone(),
        quotas: requirement
            .quotas
            .iter()
            .map(|quota| pb::CodeQuota {
                codes: quota.codes.clone(),
                min_count: quota.min_count,
                max_count: quota.max_count,
            })
            .collect(),
    }
}

fn evidence_to_proto(rule: &d::EvidenceRule) -> pb::EvidenceRule {
    pb::EvidenceRule {
        limits: rule
            .limits
            .iter()
            .map(|limit| pb::EvidenceKindLimit {
                kind: evidence_kind_to_proto(limit.kind),
                content_types: limit.content_types.clone(),
                max_bytes: limit.max_bytes,
                max_duration_seconds: limit.max_duration_seconds,
            })
            .collect(),
        requirements: rule
            .requirements
            .iter()
            .map(|requirement| pb::EvidenceRequirement {
                micro_competencies: requirement.micro_competencies.clone(),
                required_kinds: requirement
                    .required_kinds
                    .iter()
                    .map(|kind| evidence_kind_to_proto(*kind))
                    .collect(),
            })
            .collect(),
        max_total_bytes: rule.max_total_bytes,
    }
}

fn grading_to_proto(rule: &d::GradingRule) -> pb::GradingRule {
    pb::GradingRule {
        teacher_excellent: teacher_excellent_to_proto(rule.teacher_excellent),
        teacher_excellent_share: rule.teacher_excellent_share.as_ref().map(ratio_to_proto),
        rubric: rule.rubric.as_ref().map(rubric_to_proto),
        grade_from_rubric: rule.grade_from_rubric,
        pass_minimum_points: rule.pass_minimum_points,
        excellent_minimum_points: rule.excellent_minimum_points,
        excellent_quota: rule.excellent_quota.as_ref().map(ratio_to_proto),
        excellent_quota_rounding: rounding_to_proto(rule.excellent_quota_rounding),
        county_assessors_may_grade: rule.county_assessors_may_grade,
        subject_match_required: rule.subject_match_required,
        auto_submit_school_results: rule.auto_submit_school_results,
        offline_check_required: rule.offline_check_required,
    }
}

fn unit_grade_to_proto(rule: &d::UnitGradeRule) -> pb::UnitGradeRule {
    pb::UnitGradeRule {
        enabled: rule.enabled,
        excellent_share: Some(ratio_to_proto(&rule.excellent_share)),
        excellent_comparison: comparison_to_proto(rule.excellent_comparison),
        fail_share: Some(ratio_to_proto(&rule.fail_share)),
        fail_comparison: comparison_to_proto(rule.fail_comparison),
        precedence: precedence_to_proto(rule.precedence),
        source: rule.source.clone(),
    }
}

fn certificate_to_proto(rule: &d::CertificateRule) -> pb::CertificateRule {
    pb::CertificateRule {
        mode: certificate_mode_to_proto(rule.mode),
        issuing_authority: rule.issuing_authority.clone(),
        issuing_jurisdiction: rule.issuing_jurisdiction.clone(),
        title: rule.title.clone(),
        show_credits: rule.show_credits,
        show_hours: rule.show_hours,
    }
}

fn stage_to_proto(stage: &d::ReviewStageRule) -> pb::ReviewStageRule {
    pb::ReviewStageRule {
        enabled: stage.enabled,
        school_rate: Some(ratio_to_proto(&stage.school_rate)),
        teacher_rate: Some(ratio_to_proto(&stage.teacher_rate)),
        minimum_per_stratum: stage.minimum_per_stratum,
        source: stage.source.clone(),
    }
}

fn sampling_to_proto(rule: &d::SamplingRule) -> pb::SamplingRule {
    pb::SamplingRule {
        county_review: Some(stage_to_proto(&rule.county_review)),
        province_audit: Some(stage_to_proto(&rule.province_audit)),
        offline_check: Some(stage_to_proto(&rule.offline_check)),
        agreement_threshold: Some(ratio_to_proto(&rule.agreement_threshold)),
        agreement_criterion: agreement_to_proto(rule.agreement_criterion),
        agreement_comparison: comparison_to_proto(rule.agreement_comparison),
    }
}

fn carry_over_to_proto(rule: &d::CarryOverRule) -> pb::CarryOverRule {
    pb::CarryOverRule {
        enabled: rule.enabled,
        keep_hours: rule.keep_hours,
        keep_passed_submissions: rule.keep_passed_submissions,
    }
}

// ---------------------------------------------------------------------------------------------
// Proto → domain

/// The problems met so far, as `(field path, message)`.
#[derive(Debug, Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    fn push(&mut self, path: String, message: impl Into<String>) {
        self.0.push((path, message.into()));
    }

    fn unknown(&mut self, path: String, value: i32) {
        self.push(path, format!("未知的枚举值 {value}"));
    }

    /// A ratio held by value; unset reads as the proto's default instance, 0/0.
    fn ratio(&mut self, path: &str, ratio: Option<&common::Ratio>) -> d::Ratio {
        match ratio {
            None => d::Ratio::new(0, 0),
            Some(ratio) => d::Ratio::new(
                self.ratio_part(format!("{path}.numerator"), ratio.numerator),
                self.ratio_part(format!("{path}.denominator"), ratio.denominator),
            ),
        }
    }

    /// An optional ratio; unset is `None`.
    fn optional_ratio(&mut self, path: &str, ratio: Option<&common::Ratio>) -> Option<d::Ratio> {
        ratio.map(|ratio| self.ratio(path, Some(ratio)))
    }

    fn ratio_part(&mut self, path: String, value: i64) -> u32 {
        u32::try_from(value).unwrap_or_else(|_| {
            self.push(path, format!("须在 0 到 {} 之间（实为 {value}）", u32::MAX));
            0
        })
    }

    /// An enum that must be set: UNSPECIFIED (named `unspecified`) and unknown numbers are
    /// problems.
    fn required<T>(
        &mut self,
        path: String,
        value: i32,
        from_proto: fn(i32) -> Option<T>,
        unspecified: &str,
    ) -> Option<T> {
        let converted = from_proto(value);
        if converted.is_none() {
            if value == 0 {
                self.push(path, format!("须设置，不能为 {unspecified}"));
            } else {
                self.unknown(path, value);
            }
        }
        converted
    }

    /// A list of enums that must each be set, entry problems at `path[i]`.
    fn required_list<T>(
        &mut self,
        path: &str,
        values: &[i32],
        from_proto: fn(i32) -> Option<T>,
        unspecified: &str,
    ) -> Vec<T> {
        values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| {
                self.required(format!("{path}[{index}]"), *value, from_proto, unspecified)
            })
            .collect()
    }

    /// An enum whose UNSPECIFIED is the domain's default; unknown numbers are problems.
    fn defaulted<T: Default>(
        &mut self,
        path: String,
        value: i32,
        from_proto: fn(i32) -> Option<T>,
    ) -> T {
        if value == 0 {
            return T::default();
        }
        from_proto(value).unwrap_or_else(|| {
            self.unknown(path, value);
            T::default()
        })
    }
}

/// `prefix.field`, or `field` alone under an empty prefix.
fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// A policy's rules. Every problem comes back at once, as `(field path, message)` with paths
/// rooted at `prefix` (`"policy.rules"` gives `policy.rules.selection.cases[2].condition
/// .categories[0]`). Unset sections are `None`. The content (codes, counts, shares, dates) is
/// left to [`d::PolicyRules::validate`].
pub fn rules_from_proto(
    rules: &pb::PolicyRules,
    prefix: &str,
) -> Result<d::PolicyRules, Vec<(String, String)>> {
    let mut p = Problems::default();
    let converted = d::PolicyRules {
        hours: rules
            .hours
            .as_ref()
            .map(|rule| hours_from_proto(&mut p, &join(prefix, "hours"), rule)),
        selection: rules
            .selection
            .as_ref()
            .map(|rule| selection_from_proto(&mut p, &join(prefix, "selection"), rule)),
        evidence: rules
            .evidence
            .as_ref()
            .map(|rule| evidence_from_proto(&mut p, &join(prefix, "evidence"), rule)),
        grading: rules
            .grading
            .as_ref()
            .map(|rule| grading_from_proto(&mut p, &join(prefix, "grading"), rule)),
        school_grade: rules
            .school_grade
            .as_ref()
            .map(|rule| unit_grade_from_proto(&mut p, &join(prefix, "school_grade"), rule)),
        county_grade: rules
            .county_grade
            .as_ref()
            .map(|rule| unit_grade_from_proto(&mut p, &join(prefix, "county_grade"), rule)),
        certificate: rules
            .certificate
            .as_ref()
            .map(|rule| certificate_from_proto(&mut p, &join(prefix, "certificate"), rule)),
        sampling: rules
            .sampling
            .as_ref()
            .map(|rule| sampling_from_proto(&mut p, &join(prefix, "sampling"), rule)),
        carry_over: rules.carry_over.as_ref().map(|rule| d::CarryOverRule {
            enabled: rule.enabled,
            keep_hours: rule.keep_hours,
            keep_passed_submissions: rule.keep_passed_submissions,
        }),
    };
    if p.0.is_empty() {
        Ok(converted)
    } else {
        Err(p.0)
    }
}

fn hours_from_proto(p: &mut Problems, path: &str, rule: &pb::HoursRule) -> d::HoursRule {
    let unspecified = pb::HoursKind::Unspecified.as_str_name();
    let requirements = rule
        .requirements
        .iter()
        .enumerate()
        .filter_map(|(index, requirement)| {
            let kind = p.required(
                format!("{path}.requirements[{index}].kind"),
                requirement.kind,
                hours_kind_from_proto,
                unspecified,
            )?;
            Some(d::HoursRequirement {
                kind,
                minimum_centihours: requirement.minimum_centihours,
            })
        })
        .collect();
    let share_rules = rule
        .share_rules
        .iter()
        .enumerate()
        .map(|(index, share)| {
            let at = format!("{path}.share_rules[{index}]");
            d::HoursShareRule {
                kinds: p.required_list(
                    &format!("{at}.kinds"),
                    &share.kinds,
                    hours_kind_from_proto,
                    unspecified,
                ),
                minimum_share: p
                    .ratio(&format!("{at}.minimum_share"), share.minimum_share.as_ref()),
                source: share.source.clone(),
            }
        })
        .collect();
    let watch_rule = rule.watch_rule.as_ref().map(|watch| {
        let at = format!("{path}.watch_rule");
        d::WatchRule {
            kinds: p.required_list(
                &format!("{at}.kinds"),
                &watch.kinds,
                hours_kind_from_proto,
                unspecified,
            ),
            minimum_watched: p.ratio(
                &format!("{at}.minimum_watched"),
                watch.minimum_watched.as_ref(),
            ),
        }
    });
    d::HoursRule {
        total_minimum_centihours: rule.total_minimum_centihours,
        requirements,
        share_rules,
        watch_rule,
    }
}

fn reference_date_from_proto(p: &mut Problems, path: &str, date: &ProtoDate) -> d::ReferenceDate {
    let month = u8::try_from(date.month).unwrap_or_else(|_| {
        p.push(
            format!("{path}.month"),
            format!("月份 {} 无效（应为 1–12）", date.month),
        );
        0
    });
    let day = u8::try_from(date.day).unwrap_or_else(|_| {
        p.push(
            format!("{path}.day"),
            format!("日期 {} 无效（应为 1–31）", date.day),
        );
        0
    });
    d::ReferenceDate {
        year: date.year,
        month,
        day,
    }
}

fn selection_from_proto(
    p: &mut Problems,
    path: &str,
    rule: &pb::SelectionRule,
) -> d::SelectionRule {
    let no_condition = pb::SelectionCondition::default();
    let no_requirement = pb::SelectionRequirement::default();
    let age_reference_date = rule
        .age_reference_date
        .as_ref()
        .map(|date| reference_date_from_proto(p, &format!("{path}.age_reference_date"), date));
    let cases = rule
        .cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let at = format!("{path}.cases[{index}]");
            let condition = case.condition.as_ref().unwrap_or(&no_condition);
            let requirement = case.requirement.as_ref().unwrap_or(&no_requirement);
            d::SelectionCase {
                id: case.id.clone(),
                display_name: case.display_name.clone(),
                condition: d::SelectionCondition {
                    min_age: condition.min_age,
                    max_age: condition.max_age,
                    categories: p.required_list(
                        &format!("{at}.condition.categories"),
                        &condition.categories,
                        category_from_proto,
                        roster::TeacherCategory::Unspecified.as_str_name(),
                    ),
                    roles: p.required_list(
                        &format!("{at}.condition.roles"),
                        &condition.roles,
                        role_from_proto,
                        roster::PersonRole::Unspecified.as_str_name(),
                    ),
                },
                requirement: d::SelectionRequirement {
                    min_count: requirement.min_count,
                    max_count: requirement.max_count,
                    min_credits: requirement.min_credits,
                    allowed_codes: requirement.allowed_codes.clone(),
                    quotas: requirement
                        .quotas
                        .iter()
                        .map(|quota| d::CodeQuota {
                            codes: quota.codes.clone(),
                            min_count: quota.min_count,
                            max_count: quota.max_count,
                        })
                        .collect(),
                },
                source: case.source.clone(),
            }
        })
        .collect();
    d::SelectionRule {
        age_reference_date,
        cases,
        principal_leadership_assessment: rule.principal_leadership_assessment,
    }
}

fn evidence_from_proto(p: &mut Problems, path: &str, rule: &pb::EvidenceRule) -> d::EvidenceRule {
    let unspecified = pb::EvidenceKind::Unspecified.as_str_name();
    let limits = rule
        .limits
        .iter()
        .enumerate()
        .filter_map(|(index, limit)| {
            let kind = p.required(
                format!("{path}.limits[{index}].kind"),
                limit.kind,
                evidence_kind_from_proto,
                unspecified,
            )?;
            Some(d::EvidenceKindLimit {
                kind,
                content_types: limit.content_types.clone(),
                max_bytes: limit.max_bytes,
                max_duration_seconds: limit.max_duration_seconds,
            })
        })
        .collect();
    let requirements = rule
        .requirements
        .iter()
        .enumerate()
        .map(|(index, requirement)| d::EvidenceRequirement {
            micro_competencies: requirement.micro_competencies.clone(),
            required_kinds: p.required_list(
                &format!("{path}.requirements[{index}].required_kinds"),
                &requirement.required_kinds,
                evidence_kind_from_proto,
                unspecified,
            ),
        })
        .collect();
    d::EvidenceRule {
        limits,
        requirements,
        max_total_bytes: rule.max_total_bytes,
    }
}

fn rubric_from_proto(rubric: &pb::Rubric) -> d::Rubric {
    d::Rubric {
        id: rubric.id.clone(),
        display_name: rubric.display_name.clone(),
        criteria: rubric
            .criteria
            .iter()
            .map(|criterion| d::RubricCriterion {
                id: criterion.id.clone(),
                section: criterion.section.clone(),
                display_name: criterion.display_name.clone(),
                max_points: criterion.max_points,
            })
            .collect(),
        // Kept as sent: validate() refuses a total that is neither 0 nor the criteria's sum.
        total_points: rubric.total_points,
    }
}

fn grading_from_proto(p: &mut Problems, path: &str, rule: &pb::GradingRule) -> d::GradingRule {
    d::GradingRule {
        teacher_excellent: p.defaulted(
            format!("{path}.teacher_excellent"),
            rule.teacher_excellent,
            teacher_excellent_from_proto,
        ),
        teacher_excellent_share: p.optional_ratio(
            &format!("{path}.teacher_excellent_share"),
            rule.teacher_excellent_share.as_ref(),
        ),
        rubric: rule.rubric.as_ref().map(rubric_from_proto),
        grade_from_rubric: rule.grade_from_rubric,
        pass_minimum_points: rule.pass_minimum_points,
        excellent_minimum_points: rule.excellent_minimum_points,
        excellent_quota: p.optional_ratio(
            &format!("{path}.excellent_quota"),
            rule.excellent_quota.as_ref(),
        ),
        excellent_quota_rounding: p.defaulted(
            format!("{path}.excellent_quota_rounding"),
            rule.excellent_quota_rounding,
            rounding_from_proto,
        ),
        county_assessors_may_grade: rule.county_assessors_may_grade,
        subject_match_required: rule.subject_match_required,
        auto_submit_school_results: rule.auto_submit_school_results,
        offline_check_required: rule.offline_check_required,
    }
}

fn unit_grade_from_proto(
    p: &mut Problems,
    path: &str,
    rule: &pb::UnitGradeRule,
) -> d::UnitGradeRule {
    d::UnitGradeRule {
        enabled: rule.enabled,
        excellent_share: p.ratio(
            &format!("{path}.excellent_share"),
            rule.excellent_share.as_ref(),
        ),
        excellent_comparison: p.defaulted(
            format!("{path}.excellent_comparison"),
            rule.excellent_comparison,
            comparison_from_proto,
        ),
        fail_share: p.ratio(&format!("{path}.fail_share"), rule.fail_share.as_ref()),
        fail_comparison: p.defaulted(
            format!("{path}.fail_comparison"),
            rule.fail_comparison,
            comparison_from_proto,
        ),
        precedence: p.defaulted(
            format!("{path}.precedence"),
            rule.precedence,
            precedence_from_proto,
        ),
        source: rule.source.clone(),
    }
}

fn certificate_from_proto(
    p: &mut Problems,
    path: &str,
    rule: &pb::CertificateRule,
) -> d::CertificateRule {
    let mode = certificate_mode_from_proto(rule.mode).unwrap_or_else(|()| {
        p.unknown(format!("{path}.mode"), rule.mode);
        None
    });
    // Every certificate's QR code carries the issuer; one too long for its budget would park
    // every result of the jurisdiction at issuance (issue 16), so the policy refuses it here.
    let issuer_bytes = tica_credential::qr::gb18030_len(rule.issuing_authority.trim());
    let max = tica_credential::qr::MAX_ISSUER_BYTES;
    if issuer_bytes > max {
        p.push(
            format!("{path}.issuing_authority"),
            format!(
                "发证机构名称过长：{issuer_bytes} 字节（GB 18030），证书二维码最多容纳 {max} 字节，约 {} 个汉字",
                max / 2
            ),
        );
    }
    d::CertificateRule {
        mode,
        issuing_authority: rule.issuing_authority.clone(),
        issuing_jurisdiction: rule.issuing_jurisdiction.clone(),
        title: rule.title.clone(),
        show_credits: rule.show_credits,
        show_hours: rule.show_hours,
    }
}

fn stage_from_proto(
    p: &mut Problems,
    path: &str,
    stage: Option<&pb::ReviewStageRule>,
) -> d::ReviewStageRule {
    let unset = pb::ReviewStageRule::default();
    let stage = stage.unwrap_or(&unset);
    d::ReviewStageRule {
        enabled: stage.enabled,
        school_rate: p.ratio(&format!("{path}.school_rate"), stage.school_rate.as_ref()),
        teacher_rate: p.ratio(&format!("{path}.teacher_rate"), stage.teacher_rate.as_ref()),
        minimum_per_stratum: stage.minimum_per_stratum,
        source: stage.source.clone(),
    }
}

fn sampling_from_proto(p: &mut Problems, path: &str, rule: &pb::SamplingRule) -> d::SamplingRule {
    d::SamplingRule {
        county_review: stage_from_proto(
            p,
            &format!("{path}.county_review"),
            rule.county_review.as_ref(),
        ),
        province_audit: stage_from_proto(
            p,
            &format!("{path}.province_audit"),
            rule.province_audit.as_ref(),
        ),
        offline_check: stage_from_proto(
            p,
            &format!("{path}.offline_check"),
            rule.offline_check.as_ref(),
        ),
        agreement_threshold: p.ratio(
            &format!("{path}.agreement_threshold"),
            rule.agreement_threshold.as_ref(),
        ),
        agreement_criterion: p.defaulted(
            format!("{path}.agreement_criterion"),
            rule.agreement_criterion,
            agreement_from_proto,
        ),
        agreement_comparison: p.defaulted(
            format!("{path}.agreement_comparison"),
            rule.agreement_comparison,
            comparison_from_proto,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(problems: &[(String, String)]) -> Vec<&str> {
        problems.iter().map(|(path, _)| path.as_str()).collect()
    }

    fn ningxia_proto() -> pb::PolicyRules {
        rules_to_proto(&d::preset(d::Preset::Ningxia))
    }

    #[test]
    fn every_preset_comes_back_unchanged_from_the_proto() {
        for preset in d::Preset::ALL {
            let rules = d::preset(preset);
            let back = rules_from_proto(&rules_to_proto(&rules), "rules");
            assert_eq!(back, Ok(rules), "{preset:?}");
        }
    }

    #[test]
    fn an_empty_proto_leaves_every_section_unset_to_inherit() {
        let rules = rules_from_proto(&pb::PolicyRules::default(), "rules").unwrap();
        assert_eq!(rules, d::PolicyRules::default());
        assert_eq!(rules.unset_sections().len(), d::PolicyRules::SECTIONS.len());
    }

    #[test]
    fn an_unspecified_hours_kind_is_reported_at_its_path() {
        let mut proto = ningxia_proto();
        let hours = proto.hours.as_mut().unwrap();
        hours.requirements.push(pb::HoursRequirement {
            kind: pb::HoursKind::Unspecified as i32,
            minimum_centihours: 100,
        });
        let last = hours.requirements.len() - 1;
        let problems = rules_from_proto(&proto, "policy.rules").unwrap_err();
        assert_eq!(
            paths(&problems),
            [format!("policy.rules.hours.requirements[{last}].kind")]
        );
        assert!(problems[0].1.contains("HOURS_KIND_UNSPECIFIED"));
    }

    #[test]
    fn an_unspecified_category_in_a_nested_case_is_reported_at_its_path() {
        let mut proto = ningxia_proto();
        let cases = &mut proto.selection.as_mut().unwrap().cases;
        assert!(cases.len() > 2);
        cases[2].condition.as_mut().unwrap().categories =
            vec![roster::TeacherCategory::Ordinary as i32, 0];
        let problems = rules_from_proto(&proto, "policy.rules").unwrap_err();
        assert_eq!(
            paths(&problems),
            ["policy.rules.selection.cases[2].condition.categories[1]"]
        );
    }

    #[test]
    fn a_ratio_numerator_of_two_to_the_fortieth_is_reported_at_its_path() {
        let mut proto = ningxia_proto();
        proto
            .school_grade
            .as_mut()
            .unwrap()
            .excellent_share
            .as_mut()
            .unwrap()
            .numerator = 1 << 40;
        let problems = rules_from_proto(&proto, "policy.rules").unwrap_err();
        assert_eq!(
            paths(&problems),
            ["policy.rules.school_grade.excellent_share.numerator"]
        );
        assert!(problems[0].1.contains("1099511627776"));
    }

    #[test]
    fn a_negative_denominator_is_reported_at_its_path() {
        let mut proto = ningxia_proto();
        proto.sampling.as_mut().unwrap().agreement_threshold = Some(common::Ratio {
            numerator: 80,
            denominator: -100,
        });
        let problems = rules_from_proto(&proto, "rules").unwrap_err();
        assert_eq!(
            paths(&problems),
            ["rules.sampling.agreement_threshold.denominator"]
        );
    }

    /// Issue 16: the issuer rides in every certificate's QR code, whose budget holds 42 GB 18030
    /// bytes of it (`tica_credential::qr::MAX_ISSUER_BYTES`); Ningxia's own issuer is 41.
    #[test]
    fn an_issuer_too_long_for_the_qr_code_is_refused_at_its_path() {
        let ningxia = ningxia_proto();
        assert_eq!(
            ningxia.certificate.as_ref().unwrap().issuing_authority,
            "宁夏回族自治区教育厅能力提升2.0办公室"
        );
        assert!(rules_from_proto(&ningxia, "rules").is_ok());
        let mut proto = ningxia;
        proto.certificate.as_mut().unwrap().issuing_authority =
            "宁夏回族自治区教育厅中小学教师信息技术应用能力提升工程2.0办公室".into();
        let problems = rules_from_proto(&proto, "rules").unwrap_err();
        assert_eq!(paths(&problems), ["rules.certificate.issuing_authority"]);
        assert!(problems[0].1.contains("42"), "{problems:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut proto = ningxia_proto();
        proto.hours.as_mut().unwrap().requirements[0].kind = 0;
        proto.certificate.as_mut().unwrap().mode = 42;
        proto.grading.as_mut().unwrap().excellent_quota_rounding = 9;
        proto.evidence = Some(pb::EvidenceRule {
            limits: vec![pb::EvidenceKindLimit::default()],
            requirements: vec![pb::EvidenceRequirement {
                micro_competencies: Vec::new(),
                required_kinds: vec![pb::EvidenceKind::Video as i32, 77],
            }],
            max_total_bytes: 0,
        });
        let problems = rules_from_proto(&proto, "").unwrap_err();
        assert_eq!(
            paths(&problems),
            [
                "hours.requirements[0].kind",
                "evidence.limits[0].kind",
                "evidence.requirements[0].required_kinds[1]",
                "grading.excellent_quota_rounding",
                "certificate.mode",
            ]
        );
    }

    #[test]
    fn unspecified_values_with_a_documented_default_read_as_that_default() {
        let proto = pb::PolicyRules {
            grading: Some(pb::GradingRule::default()),
            school_grade: Some(pb::UnitGradeRule::default()),
            certificate: Some(pb::CertificateRule::default()),
            sampling: Some(pb::SamplingRule::default()),
            ..Default::default()
        };
        let rules = rules_from_proto(&proto, "rules").unwrap();
        let grading = rules.grading.unwrap();
        assert_eq!(
            grading.teacher_excellent,
            d::TeacherExcellentRule::AllSubmissions
        );
        assert_eq!(grading.excellent_quota_rounding, d::RoundingMode::Ceil);
        assert_eq!(grading.excellent_quota, None);
        let school = rules.school_grade.unwrap();
        assert_eq!(school.excellent_comparison, d::ThresholdComparison::AtLeast);
        assert_eq!(school.precedence, d::GradePrecedence::FailWins);
        assert_eq!(rules.certificate.unwrap().mode, None);
        let sampling = rules.sampling.unwrap();
        assert_eq!(
            sampling.agreement_criterion,
            d::AgreementCriterion::PointEstimate
        );
        assert!(!sampling.county_review.enabled);
    }

    #[test]
    fn an_unset_required_ratio_reads_as_zero_over_zero_for_validate_to_refuse() {
        let proto = pb::PolicyRules {
            school_grade: Some(pb::UnitGradeRule {
                enabled: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let rules = rules_from_proto(&proto, "rules").unwrap();
        assert_eq!(
            rules.school_grade.as_ref().unwrap().excellent_share,
            d::Ratio::new(0, 0)
        );
        let problems = rules.validate().unwrap_err();
        assert!(paths(&problems).contains(&"rules.school_grade.excellent_share.denominator"));
    }

    #[test]
    fn unknown_micro_competency_codes_are_left_for_validate() {
        let mut proto = ningxia_proto();
        let requirement = proto.selection.as_mut().unwrap().cases[0]
            .requirement
            .as_mut()
            .unwrap();
        requirement.allowed_codes = vec!["Z9".to_owned()];
        let rules = rules_from_proto(&proto, "rules").unwrap();
        assert_eq!(
            rules.selection.unwrap().cases[0].requirement.allowed_codes,
            ["Z9"]
        );
    }

    #[test]
    fn a_reference_date_with_year_zero_survives_the_round_trip() {
        let mut rules = d::preset(d::Preset::Ningxia);
        rules.selection.as_mut().unwrap().age_reference_date = Some(d::ReferenceDate {
            year: 0,
            month: 12,
            day: 31,
        });
        let proto = rules_to_proto(&rules);
        let date = proto
            .selection
            .as_ref()
            .unwrap()
            .age_reference_date
            .unwrap();
        assert_eq!((date.year, date.month, date.day), (0, 12, 31));
        assert_eq!(rules_from_proto(&proto, "rules"), Ok(rules));
    }

    #[test]
    fn a_reference_month_beyond_a_byte_is_reported_at_its_path() {
        let mut proto = ningxia_proto();
        proto.selection.as_mut().unwrap().age_reference_date = Some(ProtoDate {
            year: 0,
            month: 300,
            day: 1,
        });
        let problems = rules_from_proto(&proto, "rules").unwrap_err();
        assert_eq!(
            paths(&problems),
            ["rules.selection.age_reference_date.month"]
        );
    }

    #[test]
    fn every_enum_value_maps_back_to_itself_and_unspecified_to_none() {
        for kind in d::HoursKind::ALL {
            assert_eq!(hours_kind_from_proto(hours_kind_to_proto(kind)), Some(kind));
        }
        for preset in d::Preset::ALL {
            assert_eq!(preset_from_proto(preset_to_proto(preset)), Some(preset));
        }
        for grade in [d::Grade::Fail, d::Grade::Pass, d::Grade::Excellent] {
            assert_eq!(grade_from_proto(grade_to_proto(grade)), Some(grade));
        }
        for category in TeacherCategory::ALL {
            assert_eq!(
                category_from_proto(category_to_proto(category)),
                Some(category)
            );
        }
        for role in PersonRole::ALL {
            assert_eq!(role_from_proto(role_to_proto(role)), Some(role));
        }
        assert_eq!(grade_from_proto(0), None);
        assert_eq!(hours_kind_from_proto(0), None);
        assert_eq!(evidence_kind_from_proto(0), None);
        assert_eq!(evidence_kind_from_proto(99), None);
        assert_eq!(preset_from_proto(0), None);
        assert_eq!(
            certificate_mode_to_proto(None),
            pb::CertificateMode::Unspecified as i32
        );
    }

    #[test]
    fn a_verdict_converts_with_its_problems() {
        let verdict = d::Verdict {
            accepted: false,
            case_id: "ningxia.under50.ordinary".to_owned(),
            case_display_name: "50岁以下其他教师".to_owned(),
            age_reference_date: time::macros::date!(2024 - 12 - 31),
            age: 38,
            total_credits: 15,
            problems: vec![
                d::Problem {
                    kind: d::ProblemKind::DuplicateCode,
                    codes: vec!["A1".to_owned()],
                    message: "A1 重复选择，只计一次".to_owned(),
                },
                d::Problem {
                    kind: d::ProblemKind::QuotaNotMet,
                    codes: vec!["B1".to_owned(), "C1".to_owned()],
                    message: "还需从 B1、C1 中至少选 1 项".to_owned(),
                },
            ],
            message: "宁夏，50岁以下其他教师：需选 3 项微能力".to_owned(),
        };
        let proto = verdict_to_proto(&verdict, "policies/640000/versions/3");
        assert!(!proto.accepted);
        assert_eq!(proto.case_id, verdict.case_id);
        assert_eq!(proto.case_display_name, verdict.case_display_name);
        assert_eq!(
            proto.age_reference_date,
            Some(ProtoDate {
                year: 2024,
                month: 12,
                day: 31
            })
        );
        assert_eq!((proto.age, proto.total_credits), (38, 15));
        assert_eq!(proto.message, verdict.message);
        assert_eq!(proto.policy_version, "policies/640000/versions/3");
        assert_eq!(
            proto.problems,
            [
                pb::SelectionProblem {
                    kind: pb::SelectionProblemKind::DuplicateCode as i32,
                    codes: vec!["A1".to_owned()],
                    message: "A1 重复选择，只计一次".to_owned(),
                },
                pb::SelectionProblem {
                    kind: pb::SelectionProblemKind::QuotaNotMet as i32,
                    codes: vec!["B1".to_owned(), "C1".to_owned()],
                    message: "还需从 B1、C1 中至少选 1 项".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn a_rubric_carries_the_sum_of_its_criteria_as_total_points() {
        let mut rubric = d::beijing_case_rubric();
        rubric.total_points = 0;
        let proto = rubric_to_proto(&rubric);
        assert_eq!(
            i64::from(proto.total_points),
            rubric.computed_total_points()
        );
        assert_eq!(proto.criteria.len(), rubric.criteria.len());
    }
}
