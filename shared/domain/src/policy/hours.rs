//! Counting a participant's training hours (学时) against an [`HoursRule`]: the watch rule per
//! record, then the total, the minimum per kind and the minimum shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rules::{HoursKind, HoursRule, ThresholdComparison};

/// One hours record as the rule sees it (from HoursRecord).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursEntry {
    /// The kind of hours.
    pub kind: HoursKind,
    /// The 学时 the provider awards if completed, in centihours (2500 = 25 学时). A negative
    /// value counts 0.
    pub centihours: i64,
    /// Minutes watched (courses and cases), if reported.
    pub watched_minutes: Option<u32>,
    /// The course's length in minutes, if reported.
    pub course_minutes: Option<u32>,
}

/// What one record counts and, when less than awarded, why (HoursRecord.counted_centihours and
/// status_reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryCount {
    /// Counted centihours: the awarded ones, or 0.
    pub counted_centihours: i64,
    /// Why it counts 0, e.g. "观看 29/45 分钟，低于 2/3"; `None` when it counts in full.
    pub reason: Option<String>,
}

/// A participant's hours against the rule (Participant.hours, counted_centihours,
/// hours_complete, grade_reasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursOutcome {
    /// Counted centihours per kind: every kind with a record or a requirement (0 if none).
    pub counted_by_kind: BTreeMap<HoursKind, i64>,
    /// Counted centihours in total.
    pub counted_total: i64,
    /// The total, every kind's minimum and every share are met.
    pub passed: bool,
    /// One line per unmet requirement, e.g. "实践应用学时 24.99/25"; empty when passed.
    pub problems: Vec<String>,
    /// What each entry counts, in the order given.
    pub entries: Vec<EntryCount>,
}

/// Centihours for people: 2500 → "25", 2499 → "24.99", 1650 → "16.5".
pub fn format_centihours(centihours: i64) -> String {
    let sign = if centihours < 0 { "-" } else { "" };
    let value = centihours.unsigned_abs();
    let (whole, fraction) = (value / 100, value % 100);
    match fraction {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// What one record counts under `rule`.
///
/// A kind under the watch rule counts in full only when `watched_minutes / course_minutes`
/// reaches the rule's minimum (AT_LEAST: Beijing "每门课程学习时长不低于总时长的2/3",
/// 《北京试点方案》附件1 §五(二)1–2, so exactly 2/3 counts);
/// below it, or when either figure is missing or the course length is 0, it counts 0 (the
/// proto makes course_minutes required for such kinds). Other kinds count what was awarded.
pub fn count_entry(rule: &HoursRule, entry: &HoursEntry) -> EntryCount {
    let awarded = entry.centihours.max(0);
    if let Some(watch) = &rule.watch_rule
        && watch.kinds.contains(&entry.kind)
    {
        let threshold = watch.minimum_watched.display();
        let reason = match (entry.watched_minutes, entry.course_minutes) {
            (Some(watched), Some(course)) if course > 0 => {
                if watch.minimum_watched.meets(
                    u64::from(watched),
                    u64::from(course),
                    ThresholdComparison::AtLeast,
                ) {
                    None
                } else {
                    Some(format!("观看 {watched}/{course} 分钟，低于 {threshold}"))
                }
            }
            _ => Some(format!(
                "缺少观看时长或课程总时长，无法确认观看不低于 {threshold}，不计学时"
            )),
        };
        if let Some(reason) = reason {
            return EntryCount {
                counted_centihours: 0,
                reason: Some(reason),
            };
        }
    }
    EntryCount {
        counted_centihours: awarded,
        reason: None,
    }
}

/// Counts `entries` under `rule` and checks the total, each per-kind minimum and each share.
///
/// A share rule compares the counted hours of its kinds with the counted total (AT_LEAST); with
/// nothing counted the share is not met (see [`super::Ratio::meets`]). Note what this means for
/// the seeds' "实践应用学时不少于50%": a teacher whose counted online hours exceed their
/// practice hours misses the share even when every minimum is met — the documents' wording, read
/// literally (the providers certify exactly the online hours required, 《宁夏测评实施办法》
/// §四 1).
pub fn evaluate_hours(rule: &HoursRule, entries: &[HoursEntry]) -> HoursOutcome {
    let mut counted_by_kind: BTreeMap<HoursKind, i64> = BTreeMap::new();
    for requirement in &rule.requirements {
        counted_by_kind.entry(requirement.kind).or_insert(0);
    }
    let mut counts = Vec::with_capacity(entries.len());
    let mut counted_total: i64 = 0;
    for entry in entries {
        let count = count_entry(rule, entry);
        let slot = counted_by_kind.entry(entry.kind).or_insert(0);
        *slot = slot.saturating_add(count.counted_centihours);
        counted_total = counted_total.saturating_add(count.counted_centihours);
        counts.push(count);
    }

    let mut problems = Vec::new();
    if counted_total < rule.total_minimum_centihours {
        problems.push(format!(
            "总学时 {}/{}",
            format_centihours(counted_total),
            format_centihours(rule.total_minimum_centihours)
        ));
    }
    for requirement in &rule.requirements {
        let counted = counted_by_kind.get(&requirement.kind).copied().unwrap_or(0);
        if counted < requirement.minimum_centihours {
            problems.push(format!(
                "{}学时 {}/{}",
                requirement.kind.label_zh(),
                format_centihours(counted),
                format_centihours(requirement.minimum_centihours)
            ));
        }
    }
    for share in &rule.share_rules {
        let mut kinds = share.kinds.clone();
        kinds.sort_unstable();
        kinds.dedup();
        let part: i64 = kinds
            .iter()
            .map(|kind| counted_by_kind.get(kind).copied().unwrap_or(0))
            .sum();
        let met = share.minimum_share.meets(
            u64::try_from(part).unwrap_or(0),
            u64::try_from(counted_total).unwrap_or(0),
            ThresholdComparison::AtLeast,
        );
        if !met {
            let names: Vec<&str> = kinds.iter().map(|kind| kind.label_zh()).collect();
            problems.push(format!(
                "{}学时 {} 占总学时 {} 的比例低于 {}",
                names.join("、"),
                format_centihours(part),
                format_centihours(counted_total),
                share.minimum_share.display()
            ));
        }
    }

    HoursOutcome {
        counted_by_kind,
        counted_total,
        passed: problems.is_empty(),
        problems,
        entries: counts,
    }
}
