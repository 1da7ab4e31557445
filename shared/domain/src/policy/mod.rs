//! Assessment policies as data (each jurisdiction writes its own, docs/policies.md: they are
//! data, not code paths; issue 3 "Policies are data").
//!
//! A policy belongs to a jurisdiction and is inherited downward section by section; the four
//! real ones ship as presets. Everything here is pure: no I/O, no async, no logging.
//!
//! | module | what it holds |
//! |---|---|
//! | [`rules`] | [`PolicyRules`] and its sections, mirroring `tica.assessment.v1` field for field; [`Ratio`]; [`Grade`]; inheritance ([`PolicyRules::overlay`], [`PolicyRules::effective`]) and [`PolicyRules::validate`] |
//! | [`presets`] | [`preset`]: Ningxia, Anhui, Sixian, Beijing, every value cited from its document (docs/policies.md) |
//! | [`selection`] | [`evaluate_selection`]: a teacher's picks against the selection rule, with one actionable Chinese sentence; [`draw_picks`]: picks a requirement accepts, drawn by weight |
//! | [`hours`] | [`evaluate_hours`]: the watch rule, totals, per-kind minimums, shares |
//! | [`grades`] | [`teacher_grade`], [`unit_grade`] (schools, counties), [`excellent_quota`], [`grade_from_rubric`] |
//! | [`codes`] | [`compact_codes`]: `A1、A8–A13、B1–B10` for people |
//!
//! Decisions the seeds leave open are documented where they are taken: the unit-grade
//! thresholds read "占30%" as "at least" and let FAIL win when both thresholds hold
//! ([`presets`], Ningxia); Beijing's 3 % excellent quota rounds up; a `whole` of 0 meets no
//! ratio ([`Ratio::meets`]).

pub mod codes;
pub mod grades;
pub mod hours;
mod keyed;
pub mod presets;
pub mod rules;
pub mod selection;
mod validate;

#[cfg(test)]
mod tests;

pub use codes::{canonical_code, code_range, compact_codes, compact_codes_joined};
pub use grades::{excellent_quota, grade_from_rubric, score_rubric, teacher_grade, unit_grade};
pub use hours::{
    EntryCount, HoursEntry, HoursOutcome, count_entry, evaluate_hours, format_centihours,
};
pub use presets::{beijing_case_rubric, preset};
pub use rules::{
    AgreementCriterion, CarryOverRule, CertificateMode, CertificateRule, CodeQuota, EvidenceKind,
    EvidenceKindLimit, EvidenceRequirement, EvidenceRule, Grade, GradePrecedence, GradingRule,
    HoursKind, HoursRequirement, HoursRule, HoursShareRule, PolicyRules, Preset, Ratio,
    ReferenceDate, ReviewStageRule, RoundingMode, Rubric, RubricCriterion, SamplingRule,
    SelectionCase, SelectionCondition, SelectionRequirement, SelectionRule, TeacherExcellentRule,
    ThresholdComparison, UnitGradeRule, WatchRule,
};
pub use selection::{
    Problem, ProblemKind, Profile, Verdict, draw_picks, evaluate_selection, matching_case,
    requirement_summary,
};
pub use validate::LEADERSHIP_SUBMISSION_ID;
