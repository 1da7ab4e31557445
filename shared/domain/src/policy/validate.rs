//! [`PolicyRules::validate`]: every problem of a policy, each with the proto field path it
//! concerns (`rules.selection.cases[2].requirement.min_count`), so that the API can answer one
//! field violation per problem (tica.common.v1 conventions: INVALID_ARGUMENT with BadRequest).

use std::collections::{BTreeSet, HashMap};

use crate::micro_competency::{self, MICRO_COMPETENCIES};
use crate::names::JurisdictionName;

use super::rules::{
    CertificateRule, EvidenceRule, GradingRule, HoursRule, PolicyRules, Ratio, ReviewStageRule,
    Rubric, SamplingRule, SelectionRequirement, SelectionRule, TeacherExcellentRule, UnitGradeRule,
};

/// The submission id of the principal's leadership assessment (SelectionRule).
pub const LEADERSHIP_SUBMISSION_ID: &str = "leadership";

/// The problems found so far.
#[derive(Debug, Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push((path.into(), message.into()));
    }

    /// Checks a ratio used as a share: denominator ≥ 1, value ≤ 1, and (unless `zero_ok`)
    /// value > 0.
    fn share(&mut self, path: &str, ratio: &Ratio, zero_ok: bool) {
        if ratio.denominator == 0 {
            self.push(format!("{path}.denominator"), "分母须大于 0");
            return;
        }
        if ratio.numerator > ratio.denominator {
            self.push(
                path,
                format!(
                    "比例 {}/{} 大于 1，比例须在 0 到 1 之间",
                    ratio.numerator, ratio.denominator
                ),
            );
        }
        if !zero_ok && ratio.numerator == 0 {
            self.push(format!("{path}.numerator"), "比例须大于 0");
        }
    }

    fn non_negative(&mut self, path: &str, value: i64) {
        if value < 0 {
            self.push(path, format!("不能为负数（实为 {value}）"));
        }
    }

    /// Checks a list of micro-competency codes: each known, none repeated. Returns the
    /// canonical codes of the known ones, deduplicated.
    fn codes(&mut self, path: &str, codes: &[String]) -> BTreeSet<&'static str> {
        let mut seen = BTreeSet::new();
        for (index, code) in codes.iter().enumerate() {
            match micro_competency::by_code(code) {
                None => self.push(
                    format!("{path}[{index}]"),
                    format!("未知的微能力编号“{code}”（应为 A1–A13、B1–B10、C1–C7）"),
                ),
                Some(mc) => {
                    if !seen.insert(mc.code) {
                        self.push(format!("{path}[{index}]"), format!("{} 重复出现", mc.code));
                    }
                }
            }
        }
        seen
    }
}

impl PolicyRules {
    /// Checks every set section and reports every problem as `(field path, message)`.
    ///
    /// Paths use the proto's field names under `rules.`, e.g.
    /// `rules.selection.cases[2].requirement.min_count`; messages are Chinese, for the office
    /// that wrote the policy. What is checked: counts and amounts are non-negative; minimums do
    /// not exceed maximums; ratios have a denominator ≥ 1 and, where they are shares, a value in
    /// [0, 1] (in (0, 1] for the unit grade shares and enabled sampling rates); micro-competency
    /// codes exist and are not repeated; selection cases have unique ids, can be satisfied
    /// (quotas, allowed codes, credits) and are reachable; evidence kinds are unique and every
    /// required kind can be uploaded; rubric criterion ids are unique, points positive, totals
    /// consistent; a certificate has an issuer and a title; jurisdictions are
    /// `jurisdictions/{6-digit code}`. Unset sections are not checked (they inherit).
    pub fn validate(&self) -> Result<(), Vec<(String, String)>> {
        let mut problems = Problems::default();
        if let Some(hours) = &self.hours {
            validate_hours(&mut problems, "rules.hours", hours);
        }
        if let Some(selection) = &self.selection {
            validate_selection(&mut problems, "rules.selection", selection);
        }
        if let Some(evidence) = &self.evidence {
            validate_evidence(&mut problems, "rules.evidence", evidence);
        }
        if let Some(grading) = &self.grading {
            validate_grading(&mut problems, "rules.grading", grading);
        }
        if let Some(rule) = &self.school_grade {
            validate_unit_grade(&mut problems, "rules.school_grade", rule);
        }
        if let Some(rule) = &self.county_grade {
            validate_unit_grade(&mut problems, "rules.county_grade", rule);
        }
        if let Some(certificate) = &self.certificate {
            validate_certificate(&mut problems, "rules.certificate", certificate);
        }
        if let Some(sampling) = &self.sampling {
            validate_sampling(&mut problems, "rules.sampling", sampling);
        }
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(problems.0)
        }
    }
}

fn validate_hours(p: &mut Problems, path: &str, rule: &HoursRule) {
    p.non_negative(
        &format!("{path}.total_minimum_centihours"),
        rule.total_minimum_centihours,
    );
    let mut kinds = HashMap::new();
    for (index, requirement) in rule.requirements.iter().enumerate() {
        let at = format!("{path}.requirements[{index}]");
        p.non_negative(
            &format!("{at}.minimum_centihours"),
            requirement.minimum_centihours,
        );
        if let Some(first) = kinds.insert(requirement.kind, index) {
            p.push(
                format!("{at}.kind"),
                format!(
                    "{}学时的要求与 requirements[{first}] 重复",
                    requirement.kind.label_zh()
                ),
            );
        }
    }
    for (index, share) in rule.share_rules.iter().enumerate() {
        let at = format!("{path}.share_rules[{index}]");
        if share.kinds.is_empty() {
            p.push(format!("{at}.kinds"), "至少需要一种学时类型");
        }
        p.share(&format!("{at}.minimum_share"), &share.minimum_share, true);
    }
    if let Some(watch) = &rule.watch_rule {
        let at = format!("{path}.watch_rule");
        if watch.kinds.is_empty() {
            p.push(format!("{at}.kinds"), "至少需要一种学时类型");
        }
        p.share(
            &format!("{at}.minimum_watched"),
            &watch.minimum_watched,
            true,
        );
    }
}

fn validate_selection(p: &mut Problems, path: &str, rule: &SelectionRule) {
    if let Some(date) = rule.age_reference_date {
        let at = format!("{path}.age_reference_date");
        if !(0..=9999).contains(&date.year) {
            p.push(format!("{at}.year"), "年份须为 0（批次所在年）或 1–9999");
        } else {
            // Year 0 is checked in a leap year, so that 0-02-29 is accepted.
            let probe = if date.year == 0 { 2000 } else { date.year };
            let valid = time::Month::try_from(date.month)
                .ok()
                .and_then(|month| time::Date::from_calendar_date(probe, month, date.day).ok())
                .is_some();
            if !valid {
                p.push(
                    at,
                    format!(
                        "{}-{:02}-{:02} 不是有效日期",
                        date.year, date.month, date.day
                    ),
                );
            }
        }
    }
    if rule.cases.is_empty() {
        p.push(format!("{path}.cases"), "至少需要一个选择情形");
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut catch_all: Option<usize> = None;
    for (index, case) in rule.cases.iter().enumerate() {
        let at = format!("{path}.cases[{index}]");
        if case.id.trim().is_empty() {
            p.push(format!("{at}.id"), "不能为空");
        } else if let Some(first) = ids.insert(case.id.as_str(), index) {
            p.push(
                format!("{at}.id"),
                format!("“{}”与 cases[{first}] 的 id 重复", case.id),
            );
        }
        if case.display_name.trim().is_empty() {
            p.push(format!("{at}.display_name"), "不能为空");
        }
        if let Some(first) = catch_all {
            p.push(
                at.clone(),
                format!("cases[{first}] 适用于所有人，此情形永远不会生效"),
            );
        }
        let condition = &case.condition;
        if let Some(min) = condition.min_age {
            p.non_negative(&format!("{at}.condition.min_age"), i64::from(min));
        }
        if let Some(max) = condition.max_age {
            p.non_negative(&format!("{at}.condition.max_age"), i64::from(max));
        }
        if let (Some(min), Some(max)) = (condition.min_age, condition.max_age)
            && min > max
        {
            p.push(
                format!("{at}.condition.max_age"),
                format!("最大年龄 {max} 小于最小年龄 {min}"),
            );
        }
        if condition.min_age.is_none()
            && condition.max_age.is_none()
            && condition.categories.is_empty()
            && condition.roles.is_empty()
            && catch_all.is_none()
        {
            catch_all = Some(index);
        }
        validate_requirement(p, &format!("{at}.requirement"), &case.requirement);
    }
}

fn validate_requirement(p: &mut Problems, path: &str, requirement: &SelectionRequirement) {
    let min_count = requirement.min_count;
    let max_count = requirement.max_count;
    p.non_negative(&format!("{path}.min_count"), i64::from(min_count));
    p.non_negative(&format!("{path}.max_count"), i64::from(max_count));
    p.non_negative(
        &format!("{path}.min_credits"),
        i64::from(requirement.min_credits),
    );
    if max_count > 0 && max_count < min_count {
        p.push(
            format!("{path}.max_count"),
            format!("最多 {max_count} 项小于最少 {min_count} 项"),
        );
    }
    let allowed = p.codes(&format!("{path}.allowed_codes"), &requirement.allowed_codes);
    let pool: BTreeSet<&'static str> = if requirement.allowed_codes.is_empty() {
        MICRO_COMPETENCIES.iter().map(|mc| mc.code).collect()
    } else {
        allowed
    };
    if usize::try_from(min_count).is_ok_and(|min| min > pool.len()) {
        p.push(
            format!("{path}.min_count"),
            format!("须选 {min_count} 项，但可选的微能力只有 {} 项", pool.len()),
        );
    }
    for (index, quota) in requirement.quotas.iter().enumerate() {
        let at = format!("{path}.quotas[{index}]");
        if quota.codes.is_empty() {
            p.push(format!("{at}.codes"), "至少需要一个微能力编号");
        }
        let codes = p.codes(&format!("{at}.codes"), &quota.codes);
        p.non_negative(&format!("{at}.min_count"), i64::from(quota.min_count));
        p.non_negative(&format!("{at}.max_count"), i64::from(quota.max_count));
        if quota.max_count > 0 && quota.max_count < quota.min_count {
            p.push(
                format!("{at}.max_count"),
                format!("最多 {} 项小于最少 {} 项", quota.max_count, quota.min_count),
            );
        }
        let reachable = codes.intersection(&pool).count();
        if usize::try_from(quota.min_count).is_ok_and(|min| min > reachable) {
            p.push(
                format!("{at}.min_count"),
                format!(
                    "须从这些编号中选 {} 项，但其中可选的只有 {reachable} 项",
                    quota.min_count
                ),
            );
        }
        if max_count > 0 && quota.min_count > max_count {
            p.push(
                format!("{at}.min_count"),
                format!(
                    "须从这些编号中选 {} 项，超过了最多可选的 {max_count} 项",
                    quota.min_count
                ),
            );
        }
    }
    if requirement.min_credits > 0 {
        let mut credits: Vec<i64> = pool
            .iter()
            .filter_map(|code| micro_competency::by_code(code))
            .map(|mc| i64::from(mc.credits))
            .collect();
        credits.sort_unstable_by(|a, b| b.cmp(a));
        let most: i64 = match usize::try_from(max_count) {
            Ok(max) if max > 0 => credits.iter().take(max).sum(),
            _ => credits.iter().sum(),
        };
        if most < i64::from(requirement.min_credits) {
            p.push(
                format!("{path}.min_credits"),
                format!(
                    "须达到 {} 学分，但可选的微能力最多只能凑到 {most} 学分",
                    requirement.min_credits
                ),
            );
        }
    }
}

fn validate_evidence(p: &mut Problems, path: &str, rule: &EvidenceRule) {
    let mut kinds = HashMap::new();
    for (index, limit) in rule.limits.iter().enumerate() {
        let at = format!("{path}.limits[{index}]");
        if let Some(first) = kinds.insert(limit.kind, index) {
            p.push(
                format!("{at}.kind"),
                format!("与 limits[{first}] 的证据类型重复"),
            );
        }
        if limit.max_bytes <= 0 {
            p.push(format!("{at}.max_bytes"), "须大于 0");
        }
        p.non_negative(
            &format!("{at}.max_duration_seconds"),
            i64::from(limit.max_duration_seconds),
        );
        if limit.max_duration_seconds > 0 && limit.kind != super::rules::EvidenceKind::Video {
            p.push(format!("{at}.max_duration_seconds"), "时长限制只适用于视频");
        }
        for (type_index, content_type) in limit.content_types.iter().enumerate() {
            let valid = content_type
                .split_once('/')
                .is_some_and(|(top, sub)| !top.trim().is_empty() && !sub.trim().is_empty());
            if !valid {
                p.push(
                    format!("{at}.content_types[{type_index}]"),
                    format!("“{content_type}”不是 MIME 类型（例如 video/mp4）"),
                );
            }
        }
    }
    for (index, requirement) in rule.requirements.iter().enumerate() {
        let at = format!("{path}.requirements[{index}]");
        let mut seen = BTreeSet::new();
        for (code_index, code) in requirement.micro_competencies.iter().enumerate() {
            let canonical = if code == LEADERSHIP_SUBMISSION_ID {
                Some(LEADERSHIP_SUBMISSION_ID)
            } else {
                micro_competency::by_code(code).map(|mc| mc.code)
            };
            match canonical {
                None => p.push(
                    format!("{at}.micro_competencies[{code_index}]"),
                    format!("未知的微能力编号“{code}”"),
                ),
                Some(canonical) => {
                    if !seen.insert(canonical) {
                        p.push(
                            format!("{at}.micro_competencies[{code_index}]"),
                            format!("{canonical} 重复出现"),
                        );
                    }
                }
            }
        }
        if requirement.required_kinds.is_empty() {
            p.push(format!("{at}.required_kinds"), "至少需要一种证据类型");
        }
        for (kind_index, kind) in requirement.required_kinds.iter().enumerate() {
            if !kinds.contains_key(kind) {
                p.push(
                    format!("{at}.required_kinds[{kind_index}]"),
                    "该证据类型没有上传限制（limits），因此无法上传",
                );
            }
        }
    }
    p.non_negative(&format!("{path}.max_total_bytes"), rule.max_total_bytes);
}

fn validate_rubric(p: &mut Problems, path: &str, rubric: &Rubric) {
    if rubric.id.trim().is_empty() {
        p.push(format!("{path}.id"), "不能为空");
    }
    if rubric.criteria.is_empty() {
        p.push(format!("{path}.criteria"), "至少需要一条评分标准");
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (index, criterion) in rubric.criteria.iter().enumerate() {
        let at = format!("{path}.criteria[{index}]");
        if criterion.id.trim().is_empty() {
            p.push(format!("{at}.id"), "不能为空");
        } else if let Some(first) = ids.insert(criterion.id.as_str(), index) {
            p.push(
                format!("{at}.id"),
                format!("“{}”与 criteria[{first}] 的 id 重复", criterion.id),
            );
        }
        if criterion.display_name.trim().is_empty() {
            p.push(format!("{at}.display_name"), "不能为空");
        }
        if criterion.max_points <= 0 {
            p.push(format!("{at}.max_points"), "须大于 0");
        }
    }
    let total = rubric.computed_total_points();
    if rubric.total_points != 0 && i64::from(rubric.total_points) != total {
        p.push(
            format!("{path}.total_points"),
            format!("总分 {} 与各项满分之和 {total} 不符", rubric.total_points),
        );
    }
}

fn validate_grading(p: &mut Problems, path: &str, rule: &GradingRule) {
    match (&rule.teacher_excellent, &rule.teacher_excellent_share) {
        (TeacherExcellentRule::Share, None) => p.push(
            format!("{path}.teacher_excellent_share"),
            "按比例认定教师优秀时须设置该比例",
        ),
        (_, Some(share)) => p.share(&format!("{path}.teacher_excellent_share"), share, false),
        _ => {}
    }
    if let Some(rubric) = &rule.rubric {
        validate_rubric(p, &format!("{path}.rubric"), rubric);
    } else if rule.grade_from_rubric {
        p.push(format!("{path}.rubric"), "按量规总分定等级时须设置量规");
    }
    p.non_negative(
        &format!("{path}.pass_minimum_points"),
        i64::from(rule.pass_minimum_points),
    );
    p.non_negative(
        &format!("{path}.excellent_minimum_points"),
        i64::from(rule.excellent_minimum_points),
    );
    if let Some(rubric) = &rule.rubric {
        let total = rubric.computed_total_points();
        if i64::from(rule.pass_minimum_points) > total {
            p.push(
                format!("{path}.pass_minimum_points"),
                format!("合格分 {} 超过总分 {total}", rule.pass_minimum_points),
            );
        }
        if i64::from(rule.excellent_minimum_points) > total {
            p.push(
                format!("{path}.excellent_minimum_points"),
                format!("优秀分 {} 超过总分 {total}", rule.excellent_minimum_points),
            );
        }
    }
    if rule.excellent_minimum_points > 0 && rule.excellent_minimum_points < rule.pass_minimum_points
    {
        p.push(
            format!("{path}.excellent_minimum_points"),
            format!(
                "优秀分 {} 低于合格分 {}",
                rule.excellent_minimum_points, rule.pass_minimum_points
            ),
        );
    }
    if let Some(quota) = &rule.excellent_quota {
        p.share(&format!("{path}.excellent_quota"), quota, true);
    }
}

fn validate_unit_grade(p: &mut Problems, path: &str, rule: &UnitGradeRule) {
    if !rule.enabled {
        return;
    }
    p.share(
        &format!("{path}.excellent_share"),
        &rule.excellent_share,
        false,
    );
    p.share(&format!("{path}.fail_share"), &rule.fail_share, false);
}

fn validate_certificate(p: &mut Problems, path: &str, rule: &CertificateRule) {
    if rule.mode.is_some() {
        if rule.issuing_authority.trim().is_empty() {
            p.push(
                format!("{path}.issuing_authority"),
                "颁发证书时须写明发证机构",
            );
        }
        if rule.title.trim().is_empty() {
            p.push(format!("{path}.title"), "颁发证书时须写明证书名称");
        }
    }
    if !rule.issuing_jurisdiction.is_empty() {
        let valid = JurisdictionName::code_of(&rule.issuing_jurisdiction).is_some();
        if !valid {
            p.push(
                format!("{path}.issuing_jurisdiction"),
                format!(
                    "“{}”不是 jurisdictions/{{6 位行政区划代码}}",
                    rule.issuing_jurisdiction
                ),
            );
        }
    }
}

fn validate_stage(p: &mut Problems, path: &str, stage: &ReviewStageRule) {
    if !stage.enabled {
        return;
    }
    p.share(&format!("{path}.school_rate"), &stage.school_rate, false);
    p.share(&format!("{path}.teacher_rate"), &stage.teacher_rate, false);
    p.non_negative(
        &format!("{path}.minimum_per_stratum"),
        i64::from(stage.minimum_per_stratum),
    );
}

fn validate_sampling(p: &mut Problems, path: &str, rule: &SamplingRule) {
    validate_stage(p, &format!("{path}.county_review"), &rule.county_review);
    validate_stage(p, &format!("{path}.province_audit"), &rule.province_audit);
    validate_stage(p, &format!("{path}.offline_check"), &rule.offline_check);
    p.share(
        &format!("{path}.agreement_threshold"),
        &rule.agreement_threshold,
        false,
    );
}
