//! Judging a set of micro-competency picks against a [`SelectionRule`] (CheckSelection,
//! SubmitSelection): the verdict names the case that applied, lists every problem and says in
//! one Chinese sentence what to change.

use serde::{Deserialize, Serialize};

use crate::micro_competency::{self, MicroCompetency};
use crate::person::{PersonRole, TeacherCategory};
use crate::resident_id::completed_years;

use super::codes::{canonical_code, compact_codes, compact_codes_joined};
use super::rules::{CodeQuota, SelectionCase, SelectionRequirement, SelectionRule};

/// What the selection rule needs to know about a participant (from the roster at enrolment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Date of birth (from the resident ID number).
    pub birth_date: time::Date,
    /// The Ningxia category (《宁夏测评实施办法》§三(一)2); other presets ignore it.
    pub category: TeacherCategory,
    /// Roles beside teaching (principal, teaching researcher, auxiliary staff).
    pub roles: Vec<PersonRole>,
}

/// What is wrong with a set of picks (SelectionProblemKind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A code is not one of the 30.
    UnknownCode,
    /// A code appears twice.
    DuplicateCode,
    /// Fewer picks than the case's minimum.
    TooFew,
    /// More picks than the case's maximum.
    TooMany,
    /// A pick outside the case's allowed codes.
    CodeNotAllowed,
    /// Too few picks from a quota's codes.
    QuotaNotMet,
    /// Too many picks from a quota's codes.
    QuotaExceeded,
    /// The credits add up to less than the minimum.
    CreditsTooLow,
    /// No case of the rule applies to this participant.
    NoMatchingCase,
    /// The roster lacks what the rule needs (birth date, category). Never produced by
    /// [`evaluate_selection`], whose [`Profile`] is complete by construction; the service uses
    /// it when the roster has no birth date or category.
    ProfileIncomplete,
    /// The selection is locked, or removes a code whose submission is graded. Never produced by
    /// [`evaluate_selection`]; the service decides it from the selection's state.
    Locked,
}

/// One problem with a set of picks (SelectionProblem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Machine-readable.
    pub kind: ProblemKind,
    /// The codes at fault (the disallowed picks, the quota's codes, the unknown codes as
    /// written, …), canonical spelling where known; may be empty.
    pub codes: Vec<String>,
    /// What to change, for a person, e.g. "还需从 B1–B10、C1–C7 中至少选 1 项".
    pub message: String,
}

/// The policy's answer to a set of picks (SelectionVerdict, without the policy version that
/// the service adds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The set is acceptable.
    pub accepted: bool,
    /// The id of the selection case that applied, e.g. "ningxia.under50.ordinary"; empty when
    /// none did.
    pub case_id: String,
    /// Its display name; empty when no case applied.
    pub case_display_name: String,
    /// The day the age was taken on.
    pub age_reference_date: time::Date,
    /// The age on that day, in completed years (周岁; 0 if born after it).
    pub age: u32,
    /// The credits of the distinct known picks added up (《安徽指导意见》
    /// §四(一)).
    pub total_credits: i32,
    /// Every problem; empty when accepted.
    pub problems: Vec<Problem>,
    /// One sentence a person can act on, e.g. "宁夏，50岁以下其他教师：需选 3 项微能力，其中至少
    /// 1 项来自 B1–B10 或 C1–C7；已选 A1、A3、A5".
    pub message: String,
}

/// Judges `codes` (as the teacher typed them: trimmed, case-insensitive) for `profile` under
/// `rule`.
///
/// - The age is in completed years on `reference_date` (a birthday counts from the day itself;
///   29 February birthdays count from 1 March in common years), the same computation as
///   [`crate::ResidentId::age_on`]. The caller resolves the date with
///   [`SelectionRule::reference_date_for`].
/// - The first case whose condition matches applies; none matching gives
///   [`ProblemKind::NoMatchingCase`].
/// - Unknown and repeated codes are reported; counts, quotas and credits are taken over the
///   distinct known picks.
/// - `policy_label` starts the message ("宁夏"); empty leaves it out.
pub fn evaluate_selection(
    rule: &SelectionRule,
    profile: &Profile,
    reference_date: time::Date,
    codes: &[String],
    policy_label: &str,
) -> Verdict {
    let age = completed_years(profile.birth_date, reference_date);

    let mut picks: Vec<&'static MicroCompetency> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut duplicates: Vec<String> = Vec::new();
    let mut as_written: Vec<String> = Vec::new();
    for code in codes {
        let code = code.trim();
        match micro_competency::by_code(code) {
            None => {
                as_written.push(code.to_string());
                if !unknown.iter().any(|seen| seen == code) {
                    unknown.push(code.to_string());
                }
            }
            Some(mc) => {
                as_written.push(mc.code.to_string());
                if picks.iter().any(|pick| pick.code == mc.code) {
                    if !duplicates.iter().any(|seen| seen == mc.code) {
                        duplicates.push(mc.code.to_string());
                    }
                } else {
                    picks.push(mc);
                }
            }
        }
    }
    let total_credits: i32 = picks.iter().map(|mc| i32::from(mc.credits)).sum();

    let mut problems = Vec::new();
    if !unknown.is_empty() {
        problems.push(Problem {
            kind: ProblemKind::UnknownCode,
            message: format!(
                "{} 不是微能力编号（应为 A1–A13、B1–B10、C1–C7）",
                unknown.join("、")
            ),
            codes: unknown.clone(),
        });
    }
    if !duplicates.is_empty() {
        problems.push(Problem {
            kind: ProblemKind::DuplicateCode,
            message: format!("{} 重复选择，只计一次", duplicates.join("、")),
            codes: duplicates.clone(),
        });
    }

    let case = rule.cases.iter().find(|case| {
        case.condition
            .matches(age, profile.category, &profile.roles)
    });

    let head = |display: &str| -> String {
        match (policy_label.is_empty(), display.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("{display}："),
            (false, true) => format!("{policy_label}："),
            (false, false) => format!("{policy_label}，{display}："),
        }
    };

    let Some(case) = case else {
        let mut who = format!("{age}岁，{}", profile.category.label_zh());
        for role in &profile.roles {
            if *role != PersonRole::Teacher {
                who.push('，');
                who.push_str(role.label_zh());
            }
        }
        problems.push(Problem {
            kind: ProblemKind::NoMatchingCase,
            codes: Vec::new(),
            message: format!("没有适用于该教师（{who}）的选择规则"),
        });
        return Verdict {
            accepted: false,
            case_id: String::new(),
            case_display_name: String::new(),
            age_reference_date: reference_date,
            age,
            total_credits,
            problems,
            message: format!(
                "{}没有适用于该教师（{who}）的微能力选择规则，请核对出生日期、教师类别和身份",
                head("")
            ),
        };
    };

    check_requirement(&case.requirement, &picks, total_credits, &mut problems);
    let accepted = problems.is_empty();

    let mut notes = Vec::new();
    if case.requirement.min_credits > 0 {
        notes.push(format!("合计 {total_credits} 学分"));
    }
    if !duplicates.is_empty() {
        notes.push(format!("{} 重复", duplicates.join("、")));
    }
    if !unknown.is_empty() {
        notes.push(format!("{} 不是微能力编号", unknown.join("、")));
    }
    let chosen = if as_written.is_empty() {
        "尚未选择".to_string()
    } else if notes.is_empty() {
        format!("已选 {}", as_written.join("、"))
    } else {
        format!("已选 {}（{}）", as_written.join("、"), notes.join("；"))
    };
    let message = if accepted {
        format!("{}{chosen}，符合要求", head(&case.display_name))
    } else {
        format!(
            "{}{}；{chosen}",
            head(&case.display_name),
            requirement_summary(&case.requirement)
        )
    };

    Verdict {
        accepted,
        case_id: case.id.clone(),
        case_display_name: case.display_name.clone(),
        age_reference_date: reference_date,
        age,
        total_credits,
        problems,
        message,
    }
}

/// The case a profile falls under, with the age it was judged at; `None` when no case applies.
pub fn matching_case<'a>(
    rule: &'a SelectionRule,
    profile: &Profile,
    reference_date: time::Date,
) -> Option<&'a SelectionCase> {
    let age = completed_years(profile.birth_date, reference_date);
    rule.cases.iter().find(|case| {
        case.condition
            .matches(age, profile.category, &profile.roles)
    })
}

/// Draws picks that meet `requirement`, as a teacher might choose them (the demo's teachers).
///
/// `below(n)` is a random number in `0..n`; `weight(code)` how popular a code is (a weight of 0
/// counts as 1). Codes are drawn one at a time without repeats, each with a chance
/// proportional to its weight among the codes still open, in [`MICRO_COMPETENCIES`] order:
///
/// 1. how many: `min_count`, or, when the requirement allows a range, `min_count +
///    below(max_count − min_count + 1)`;
/// 2. each quota's minimum from the quota's allowed codes;
/// 3. the rest from the allowed codes (any of the 30 when the list is empty), leaving out the
///    codes of a quota at its maximum;
/// 4. while the credits fall short of `min_credits`, one more (never beyond `max_count`).
///
/// The result is in [`MICRO_COMPETENCIES`] order. Numbers are consumed in exactly this order,
/// so one seed gives one draw. Every case of the four presets gets draws [`evaluate_selection`]
/// accepts (the policy tests try 200 seeds each).
///
/// [`MICRO_COMPETENCIES`]: crate::micro_competency::MICRO_COMPETENCIES
pub fn draw_picks(
    requirement: &SelectionRequirement,
    mut below: impl FnMut(u64) -> u64,
    weight: impl Fn(&str) -> u64,
) -> Vec<&'static str> {
    fn has(list: &[&'static str], code: &str) -> bool {
        list.contains(&code)
    }
    let listed = canonical_list(&requirement.allowed_codes);
    let allowed: Vec<&'static str> = micro_competency::MICRO_COMPETENCIES
        .iter()
        .map(|mc| mc.code)
        .filter(|code| listed.is_empty() || has(&listed, code))
        .collect();
    let quotas: Vec<(Vec<&'static str>, usize, usize)> = requirement
        .quotas
        .iter()
        .map(|q| {
            (
                canonical_list(&q.codes),
                count_of(q.min_count),
                count_of(q.max_count),
            )
        })
        .collect();
    let in_quota = |picks: &[&'static str], codes: &[&'static str]| {
        picks.iter().filter(|code| has(codes, code)).count()
    };
    let min = count_of(requirement.min_count);
    let max = count_of(requirement.max_count);
    let wanted = if max > min {
        let span = (max - min + 1) as u64;
        min + usize::try_from(below(span) % span).unwrap_or(0)
    } else {
        min
    };

    // One code of the allowed ones not yet picked for which `open` holds, by weight.
    let mut draw = |picks: &mut Vec<&'static str>, open: &dyn Fn(&[&'static str], &str) -> bool| {
        let taken = picks.as_slice();
        let pool: Vec<&'static str> = allowed
            .iter()
            .copied()
            .filter(|code| !has(taken, code) && open(taken, code))
            .collect();
        let weight_of = |code: &str| weight(code).max(1);
        let total: u64 = pool.iter().map(|code| weight_of(code)).sum();
        if total == 0 {
            return false;
        }
        let mut roll = below(total) % total;
        for code in pool {
            let w = weight_of(code);
            if roll < w {
                picks.push(code);
                return true;
            }
            roll -= w;
        }
        false
    };
    let mut picks: Vec<&'static str> = Vec::new();
    for (codes, quota_min, _) in &quotas {
        while in_quota(&picks, codes) < *quota_min {
            if !draw(&mut picks, &|_: &[&'static str], code: &str| {
                has(codes, code)
            }) {
                break;
            }
        }
    }
    // Not a code of a quota already at its maximum.
    let open = |picks: &[&'static str], code: &str| {
        quotas.iter().all(|(codes, _, quota_max)| {
            *quota_max == 0 || !has(codes, code) || in_quota(picks, codes) < *quota_max
        })
    };
    while picks.len() < wanted {
        if !draw(&mut picks, &open) {
            break;
        }
    }
    let credits = |picks: &[&'static str]| -> i32 {
        picks
            .iter()
            .filter_map(|code| micro_competency::by_code(code))
            .map(|mc| i32::from(mc.credits))
            .sum()
    };
    while credits(&picks) < requirement.min_credits && (max == 0 || picks.len() < max) {
        if !draw(&mut picks, &open) {
            break;
        }
    }
    picks.sort_by_key(|code| {
        micro_competency::MICRO_COMPETENCIES
            .iter()
            .position(|mc| mc.code == *code)
    });
    picks
}

/// A count of the rule (`i32`, 0 or more) as a length; a negative one counts as 0.
fn count_of(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The canonical codes of a rule's list, unknown ones dropped (validation reports them).
fn canonical_list(codes: &[String]) -> Vec<&'static str> {
    let mut list: Vec<&'static str> = Vec::new();
    for code in codes.iter().filter_map(|code| canonical_code(code)) {
        if !list.contains(&code) {
            list.push(code);
        }
    }
    list
}

fn check_requirement(
    requirement: &SelectionRequirement,
    picks: &[&'static MicroCompetency],
    total_credits: i32,
    problems: &mut Vec<Problem>,
) {
    let count = i64::try_from(picks.len()).unwrap_or(i64::MAX);
    let min = i64::from(requirement.min_count);
    let max = i64::from(requirement.max_count);
    if count < min {
        problems.push(Problem {
            kind: ProblemKind::TooFew,
            codes: Vec::new(),
            message: format!(
                "还需再选 {} 项（至少 {min} 项，已选 {count} 项）",
                min - count
            ),
        });
    }
    if max > 0 && count > max {
        problems.push(Problem {
            kind: ProblemKind::TooMany,
            codes: picks.iter().map(|mc| mc.code.to_string()).collect(),
            message: format!(
                "最多可选 {max} 项，已选 {count} 项，请去掉 {} 项",
                count - max
            ),
        });
    }
    if !requirement.allowed_codes.is_empty() {
        let allowed = canonical_list(&requirement.allowed_codes);
        let outside: Vec<String> = picks
            .iter()
            .filter(|mc| !allowed.contains(&mc.code))
            .map(|mc| mc.code.to_string())
            .collect();
        if !outside.is_empty() {
            problems.push(Problem {
                kind: ProblemKind::CodeNotAllowed,
                message: format!(
                    "{} 不在可选范围 {} 内，请改选范围内的微能力",
                    outside.join("、"),
                    compact_codes_joined(&allowed, "、")
                ),
                codes: outside,
            });
        }
    }
    for quota in &requirement.quotas {
        check_quota(quota, picks, problems);
    }
    if requirement.min_credits > 0 && total_credits < requirement.min_credits {
        problems.push(Problem {
            kind: ProblemKind::CreditsTooLow,
            codes: Vec::new(),
            message: format!(
                "学分合计 {total_credits}，还差 {} 学分（至少 {} 学分）",
                requirement.min_credits - total_credits,
                requirement.min_credits
            ),
        });
    }
}

fn check_quota(quota: &CodeQuota, picks: &[&'static MicroCompetency], problems: &mut Vec<Problem>) {
    let codes = canonical_list(&quota.codes);
    let ranges = compact_codes_joined(&codes, "、");
    let got = i64::try_from(picks.iter().filter(|mc| codes.contains(&mc.code)).count())
        .unwrap_or(i64::MAX);
    let min = i64::from(quota.min_count);
    let max = i64::from(quota.max_count);
    let quota_codes: Vec<String> = codes.iter().map(|code| code.to_string()).collect();
    if got < min {
        let mut message = format!("还需从 {ranges} 中至少选 {} 项", min - got);
        if got > 0 {
            message.push_str(&format!("（共需 {min} 项，已有 {got} 项）"));
        }
        problems.push(Problem {
            kind: ProblemKind::QuotaNotMet,
            codes: quota_codes.clone(),
            message,
        });
    }
    if max > 0 && got > max {
        problems.push(Problem {
            kind: ProblemKind::QuotaExceeded,
            codes: quota_codes,
            message: format!("来自 {ranges} 的微能力最多 {max} 项，已选 {got} 项"),
        });
    }
}

/// What a requirement asks, as the middle of a verdict sentence, e.g. "需选 3 项微能力，其中至少
/// 1 项来自 B1–B10 或 C1–C7" or "需至少选 1 项微能力，学分合计不少于 20".
pub fn requirement_summary(requirement: &SelectionRequirement) -> String {
    let min = requirement.min_count.max(0);
    let max = requirement.max_count.max(0);
    let from = if requirement.allowed_codes.is_empty() {
        String::new()
    } else {
        format!(
            "从 {} 中",
            compact_codes_joined(&canonical_list(&requirement.allowed_codes), "、")
        )
    };
    let mut text = match (min, max) {
        (0, 0) => format!("可{from}任选微能力"),
        (min, 0) => format!("需{from}至少选 {min} 项微能力"),
        (0, max) => format!("需{from}至多选 {max} 项微能力"),
        (min, max) if min == max => format!("需{from}选 {min} 项微能力"),
        (min, max) => format!("需{from}选 {min}–{max} 项微能力"),
    };
    for quota in &requirement.quotas {
        let ranges = compact_codes(&canonical_list(&quota.codes)).join(" 或 ");
        let (qmin, qmax) = (quota.min_count.max(0), quota.max_count.max(0));
        let part = match (qmin, qmax) {
            (0, 0) => continue,
            (qmin, 0) => format!("，其中至少 {qmin} 项来自 {ranges}"),
            (0, qmax) => format!("，其中来自 {ranges} 的至多 {qmax} 项"),
            (qmin, qmax) if qmin == qmax => format!("，其中恰好 {qmin} 项来自 {ranges}"),
            (qmin, qmax) => format!("，其中 {qmin}–{qmax} 项来自 {ranges}"),
        };
        text.push_str(&part);
    }
    if requirement.min_credits > 0 {
        text.push_str(&format!("，学分合计不少于 {}", requirement.min_credits));
    }
    text
}
