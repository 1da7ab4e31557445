//! Storage keys of the domain's hours and evidence kinds (the strings the tables and the audit
//! trail hold).

use tica_domain::policy::{EvidenceKind, HoursKind};

/// Storage key of an hours kind.
pub(crate) fn hours_kind_key(kind: HoursKind) -> &'static str {
    match kind {
        HoursKind::OnlineStudy => "online_study",
        HoursKind::OnlineTest => "online_test",
        HoursKind::CaseStudy => "case_study",
        HoursKind::Practice => "practice",
        HoursKind::SchoolResearch => "school_research",
        HoursKind::SchoolAssessment => "school_assessment",
    }
}

/// An hours kind from its storage key.
pub(crate) fn hours_kind_from_key(key: &str) -> Option<HoursKind> {
    HoursKind::ALL
        .into_iter()
        .find(|k| hours_kind_key(*k) == key)
}

/// Storage key of an evidence kind.
pub(crate) fn evidence_kind_key(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Video => "video",
        EvidenceKind::DesignPlan => "design_plan",
        EvidenceKind::Reflection => "reflection",
        EvidenceKind::Courseware => "courseware",
        EvidenceKind::Other => "other",
    }
}

/// An evidence kind from its storage key.
pub(crate) fn evidence_kind_from_key(key: &str) -> Option<EvidenceKind> {
    [
        EvidenceKind::Video,
        EvidenceKind::DesignPlan,
        EvidenceKind::Reflection,
        EvidenceKind::Courseware,
        EvidenceKind::Other,
    ]
    .into_iter()
    .find(|k| evidence_kind_key(*k) == key)
}
