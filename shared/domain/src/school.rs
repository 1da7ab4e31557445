//! School codes and school kinds.
//!
//! The kinds: 幼儿园 / 小学 / 初级中学 / 高级中学 / 九年一贯制 / 十二年一贯制 / 完全中学 / 集团校 /
//! 学区 (《北京试点方案》附件4) and 中等职业学校 (《宁夏测评实施办法》§三(一)). Teacher development centres
//! (教师发展中心, 教研室, 进修学校) are added: they employ teaching researchers (教研员), whom the
//! Ningxia rules assess like teachers (《宁夏测评实施办法》§三(一)3), and
//! the Anhui rules build the county team on them (《安徽指导意见》§二(三)1
//! "依托本县教师发展机构").

use crate::code_charset::validate_code;
use crate::labels::match_label;

/// Checks a school code: 1–32 characters of `[0-9A-Za-z-]`, not starting with `-`.
///
/// The MOE school identification code (学校标识码) is 10 digits, but provinces use other codes
/// for kindergartens and centres, so the general form is accepted.
pub fn validate_school_code(code: &str) -> Result<(), String> {
    validate_code(code, "学校代码", "school code")
}

/// The kind of a school or teaching unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchoolKind {
    /// 幼儿园.
    Kindergarten,
    /// 小学.
    Primary,
    /// 初级中学 (初中).
    JuniorSecondary,
    /// 高级中学 (高中).
    SeniorSecondary,
    /// 九年一贯制学校 (primary + junior secondary).
    NineYear,
    /// 十二年一贯制学校 (primary to senior secondary).
    TwelveYear,
    /// 完全中学 (junior + senior secondary).
    CompleteSecondary,
    /// 集团校 (a school group).
    SchoolGroup,
    /// 学区 (a school district).
    SchoolDistrict,
    /// 中等职业学校 (中职).
    SecondaryVocational,
    /// 教师发展中心 (also 教研室, 教师进修学校).
    TeacherDevelopmentCentre,
}

impl SchoolKind {
    /// Every kind, in declaration order.
    pub const ALL: [SchoolKind; 11] = [
        SchoolKind::Kindergarten,
        SchoolKind::Primary,
        SchoolKind::JuniorSecondary,
        SchoolKind::SeniorSecondary,
        SchoolKind::NineYear,
        SchoolKind::TwelveYear,
        SchoolKind::CompleteSecondary,
        SchoolKind::SchoolGroup,
        SchoolKind::SchoolDistrict,
        SchoolKind::SecondaryVocational,
        SchoolKind::TeacherDevelopmentCentre,
    ];

    /// The Chinese label, e.g. 九年一贯制学校.
    pub fn label_zh(self) -> &'static str {
        match self {
            SchoolKind::Kindergarten => "幼儿园",
            SchoolKind::Primary => "小学",
            SchoolKind::JuniorSecondary => "初级中学",
            SchoolKind::SeniorSecondary => "高级中学",
            SchoolKind::NineYear => "九年一贯制学校",
            SchoolKind::TwelveYear => "十二年一贯制学校",
            SchoolKind::CompleteSecondary => "完全中学",
            SchoolKind::SchoolGroup => "集团校",
            SchoolKind::SchoolDistrict => "学区",
            SchoolKind::SecondaryVocational => "中等职业学校",
            SchoolKind::TeacherDevelopmentCentre => "教师发展中心",
        }
    }

    /// The stable snake_case English key, e.g. `junior_secondary`.
    pub fn key(self) -> &'static str {
        match self {
            SchoolKind::Kindergarten => "kindergarten",
            SchoolKind::Primary => "primary",
            SchoolKind::JuniorSecondary => "junior_secondary",
            SchoolKind::SeniorSecondary => "senior_secondary",
            SchoolKind::NineYear => "nine_year",
            SchoolKind::TwelveYear => "twelve_year",
            SchoolKind::CompleteSecondary => "complete_secondary",
            SchoolKind::SchoolGroup => "school_group",
            SchoolKind::SchoolDistrict => "school_district",
            SchoolKind::SecondaryVocational => "secondary_vocational",
            SchoolKind::TeacherDevelopmentCentre => "teacher_development_centre",
        }
    }

    /// Other spellings accepted by [`SchoolKind::from_label`] besides the label and the key.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            SchoolKind::Kindergarten => &["幼儿园（所）", "幼儿班"],
            SchoolKind::Primary => &["小学校", "完全小学", "完小"],
            SchoolKind::JuniorSecondary => &["初中", "初级中学校"],
            SchoolKind::SeniorSecondary => &["高中", "普通高中", "高级中学校"],
            SchoolKind::NineYear => &["九年一贯制", "九年制学校"],
            SchoolKind::TwelveYear => &["十二年一贯制", "十二年制学校"],
            SchoolKind::CompleteSecondary => &["完中"],
            SchoolKind::SchoolGroup => &["教育集团", "集团学校"],
            SchoolKind::SchoolDistrict => &[],
            SchoolKind::SecondaryVocational => &[
                "中职",
                "中职学校",
                "职业高中",
                "职高",
                "中专",
                "中等专业学校",
                "技工学校",
            ],
            SchoolKind::TeacherDevelopmentCentre => &[
                "教研室",
                "进修学校",
                "教师进修学校",
                "教师发展机构",
                "教师培训中心",
            ],
        }
    }

    /// Parses the Chinese label, a common short form (初中, 中职, 教研室 …) or the English key.
    ///
    /// Trimmed; the key is case-insensitive and accepts `-` or a space for `_`.
    pub fn from_label(label: &str) -> Option<SchoolKind> {
        match_label(
            &SchoolKind::ALL,
            label,
            SchoolKind::label_zh,
            SchoolKind::key,
            SchoolKind::aliases,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_moe_ten_digit_code_and_provincial_codes_are_accepted() {
        assert_eq!(validate_school_code("3413241234"), Ok(()));
        assert_eq!(validate_school_code("YC-KG-001"), Ok(()));
        assert_eq!(validate_school_code("x"), Ok(()));
    }

    #[test]
    fn codes_with_other_characters_or_a_leading_hyphen_are_refused() {
        assert!(validate_school_code("").is_err());
        assert!(validate_school_code("-3413").is_err());
        assert!(validate_school_code("3413 241").is_err());
        assert!(validate_school_code("泗县一中").is_err());
        assert!(validate_school_code(&"1".repeat(33)).is_err());
        let message = validate_school_code("34/13").unwrap_err();
        assert!(message.contains("学校代码") && message.contains("school code"));
    }

    #[test]
    fn every_kind_round_trips_through_its_label_and_its_key() {
        for kind in SchoolKind::ALL {
            assert_eq!(SchoolKind::from_label(kind.label_zh()), Some(kind));
            assert_eq!(SchoolKind::from_label(kind.key()), Some(kind));
            assert_eq!(
                SchoolKind::from_label(&kind.key().to_uppercase()),
                Some(kind)
            );
        }
    }

    #[test]
    fn labels_keys_and_aliases_are_all_distinct() {
        let mut seen = HashSet::new();
        for kind in SchoolKind::ALL {
            for spelling in [kind.label_zh(), kind.key()]
                .into_iter()
                .chain(kind.aliases().iter().copied())
            {
                let owner = SchoolKind::from_label(spelling);
                assert_eq!(owner, Some(kind), "{spelling}");
                assert!(seen.insert(spelling), "{spelling} is listed twice");
            }
        }
        assert_eq!(SchoolKind::ALL.len(), 11);
    }

    #[test]
    fn short_forms_used_in_spreadsheets_are_understood() {
        let cases = [
            ("初中", SchoolKind::JuniorSecondary),
            ("高中", SchoolKind::SeniorSecondary),
            ("九年一贯制", SchoolKind::NineYear),
            ("十二年一贯制", SchoolKind::TwelveYear),
            ("中职", SchoolKind::SecondaryVocational),
            ("职业高中", SchoolKind::SecondaryVocational),
            ("教研室", SchoolKind::TeacherDevelopmentCentre),
            ("教师发展中心", SchoolKind::TeacherDevelopmentCentre),
            ("进修学校", SchoolKind::TeacherDevelopmentCentre),
            (" 完全中学\u{3000}", SchoolKind::CompleteSecondary),
            ("Junior-Secondary", SchoolKind::JuniorSecondary),
            ("nine year", SchoolKind::NineYear),
        ];
        for (label, kind) in cases {
            assert_eq!(SchoolKind::from_label(label), Some(kind), "{label}");
        }
    }

    #[test]
    fn unknown_labels_give_none() {
        for label in ["", "中学", "大学", "school", "primary school"] {
            assert_eq!(SchoolKind::from_label(label), None, "{label}");
        }
    }
}
