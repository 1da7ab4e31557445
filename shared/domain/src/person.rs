//! Teacher attributes: stage taught, Ningxia category, roles, sex, teacher number, name masking,
//! the key a teacher's certificates are searched by.
//!
//! Every teacher belongs to one school; the rules use the stage taught (学段), the category
//! (Ningxia, 《宁夏测评实施办法》§三(一)2) and the roles beside teaching (principal, teaching
//! researcher, auxiliary staff; §三(一)3, §三(二)).

use crate::code_charset::validate_code;
use crate::labels::match_label;

/// The stage taught (学段).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// 学前 (幼儿园).
    Preschool,
    /// 小学.
    Primary,
    /// 初中.
    JuniorSecondary,
    /// 高中.
    SeniorSecondary,
    /// 中职 (中等职业学校).
    SecondaryVocational,
}

impl Stage {
    /// Every stage, youngest pupils first.
    pub const ALL: [Stage; 5] = [
        Stage::Preschool,
        Stage::Primary,
        Stage::JuniorSecondary,
        Stage::SeniorSecondary,
        Stage::SecondaryVocational,
    ];

    /// The Chinese label: 学前 / 小学 / 初中 / 高中 / 中职.
    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::Preschool => "学前",
            Stage::Primary => "小学",
            Stage::JuniorSecondary => "初中",
            Stage::SeniorSecondary => "高中",
            Stage::SecondaryVocational => "中职",
        }
    }

    /// The stable snake_case English key, e.g. `junior_secondary`.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Preschool => "preschool",
            Stage::Primary => "primary",
            Stage::JuniorSecondary => "junior_secondary",
            Stage::SeniorSecondary => "senior_secondary",
            Stage::SecondaryVocational => "secondary_vocational",
        }
    }

    /// Other accepted spellings.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Stage::Preschool => &["幼儿园", "学前教育", "学前阶段", "幼儿"],
            Stage::Primary => &["小学阶段"],
            Stage::JuniorSecondary => &["初级中学", "初中阶段"],
            Stage::SeniorSecondary => &["高级中学", "普通高中", "高中阶段"],
            Stage::SecondaryVocational => {
                &["中等职业学校", "中等职业教育", "职业高中", "职高", "中专"]
            }
        }
    }

    /// Parses the label, a common alias (幼儿园, 初级中学, 职高 …) or the key; trimmed.
    pub fn from_label(label: &str) -> Option<Stage> {
        match_label(
            &Stage::ALL,
            label,
            Stage::label_zh,
            Stage::key,
            Stage::aliases,
        )
    }
}

/// Ningxia's teacher categories for the under-50 selection rules.
///
/// 《宁夏测评实施办法》§三(一)2 (1)–(4); a teaching researcher under 50
/// is assessed like the first category (§三(一)3), which is a role, not a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TeacherCategory {
    /// 特级教师、塞上名师和自治区级骨干教师 (三(一)2(1)).
    SpecialOrRegionalBackbone,
    /// 市（县、区）级名师骨干教师 (三(一)2(2)).
    CityCountyBackbone,
    /// 其余教师, ordinary teachers (三(一)2(3)).
    Ordinary,
    /// 幼儿园教师 (三(一)2(4)).
    Kindergarten,
}

impl TeacherCategory {
    /// Every category, in the order of the seed.
    pub const ALL: [TeacherCategory; 4] = [
        TeacherCategory::SpecialOrRegionalBackbone,
        TeacherCategory::CityCountyBackbone,
        TeacherCategory::Ordinary,
        TeacherCategory::Kindergarten,
    ];

    /// The Chinese label, e.g. 市县级名师骨干.
    pub fn label_zh(self) -> &'static str {
        match self {
            TeacherCategory::SpecialOrRegionalBackbone => "特级教师/塞上名师/自治区级骨干教师",
            TeacherCategory::CityCountyBackbone => "市县级名师骨干",
            TeacherCategory::Ordinary => "普通教师",
            TeacherCategory::Kindergarten => "幼儿园教师",
        }
    }

    /// The stable snake_case English key, e.g. `city_county_backbone`.
    pub fn key(self) -> &'static str {
        match self {
            TeacherCategory::SpecialOrRegionalBackbone => "special_or_regional_backbone",
            TeacherCategory::CityCountyBackbone => "city_county_backbone",
            TeacherCategory::Ordinary => "ordinary",
            TeacherCategory::Kindergarten => "kindergarten",
        }
    }

    /// Other accepted spellings, from the seed's wording and common usage.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            TeacherCategory::SpecialOrRegionalBackbone => &[
                "特级教师、塞上名师和自治区级骨干教师",
                "特级教师、塞上名师、自治区级骨干教师",
                "特级教师",
                "特级",
                "塞上名师",
                "名师",
                "自治区级骨干教师",
                "自治区级骨干",
                "自治区骨干",
                "省级骨干",
                "省级骨干教师",
                "省级教学名师",
            ],
            TeacherCategory::CityCountyBackbone => &[
                "市（县、区）级名师骨干教师",
                "市(县、区)级名师骨干教师",
                "市县级名师骨干教师",
                "市县级骨干",
                "市县级骨干教师",
                "市级骨干",
                "市级骨干教师",
                "县级骨干",
                "县级骨干教师",
                "区级骨干",
                "县区级骨干",
                "市级名师",
                "县级名师",
                "骨干教师",
            ],
            TeacherCategory::Ordinary => &["其他教师", "其余教师", "一般教师", "普通"],
            TeacherCategory::Kindergarten => &["幼儿教师", "幼师"],
        }
    }

    /// Parses the label, an alias (省级骨干, 骨干教师, 其他教师 …) or the key; trimmed.
    pub fn from_label(label: &str) -> Option<TeacherCategory> {
        match_label(
            &TeacherCategory::ALL,
            label,
            TeacherCategory::label_zh,
            TeacherCategory::key,
            TeacherCategory::aliases,
        )
    }
}

/// A person's roles in a school; a person may hold several.
///
/// Roles beside teaching are principal (first responsible person, 《安徽指导意见》§二(四)1),
/// teaching researcher and auxiliary staff; 《宁夏测评实施办法》§三(一)3 assesses auxiliary
/// staff like teachers and §三(二) assesses principals (校（园）长).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonRole {
    /// 教师.
    Teacher,
    /// 校长 (园长 in a kindergarten).
    Principal,
    /// 教研员.
    TeachingResearcher,
    /// 教辅人员.
    AuxiliaryStaff,
}

impl PersonRole {
    /// Every role, in the stable order used by [`parse_roles`].
    pub const ALL: [PersonRole; 4] = [
        PersonRole::Teacher,
        PersonRole::Principal,
        PersonRole::TeachingResearcher,
        PersonRole::AuxiliaryStaff,
    ];

    /// The Chinese label: 教师 / 校长 / 教研员 / 教辅人员.
    pub fn label_zh(self) -> &'static str {
        match self {
            PersonRole::Teacher => "教师",
            PersonRole::Principal => "校长",
            PersonRole::TeachingResearcher => "教研员",
            PersonRole::AuxiliaryStaff => "教辅人员",
        }
    }

    /// The stable snake_case English key, e.g. `teaching_researcher`.
    pub fn key(self) -> &'static str {
        match self {
            PersonRole::Teacher => "teacher",
            PersonRole::Principal => "principal",
            PersonRole::TeachingResearcher => "teaching_researcher",
            PersonRole::AuxiliaryStaff => "auxiliary_staff",
        }
    }

    /// Other accepted spellings.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            PersonRole::Teacher => &["专任教师", "任课教师"],
            PersonRole::Principal => &["园长", "校园长", "校（园）长", "校(园)长"],
            PersonRole::TeachingResearcher => &["教研人员"],
            PersonRole::AuxiliaryStaff => &["教辅", "教辅人"],
        }
    }

    /// Parses the label, an alias (园长, 教辅 …) or the key; trimmed, key case-insensitive.
    pub fn from_label(label: &str) -> Option<PersonRole> {
        match_label(
            &PersonRole::ALL,
            label,
            PersonRole::label_zh,
            PersonRole::key,
            PersonRole::aliases,
        )
    }
}

/// Characters that separate roles in one spreadsheet cell.
const ROLE_SEPARATORS: [char; 6] = [';', ',', '、', '；', '，', '|'];

/// Parses a cell such as `教师;校长` or `teacher,principal` into roles.
///
/// Separators: `;` `,` `、` `；` `，` `|`. The result is deduplicated and in [`PersonRole::ALL`]
/// order; an empty cell (or one with separators only) means `[Teacher]`. An unknown part is
/// an error naming it.
pub fn parse_roles(cell: &str) -> Result<Vec<PersonRole>, String> {
    let mut found = [false; PersonRole::ALL.len()];
    for part in cell.split(ROLE_SEPARATORS.as_slice()) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let role = PersonRole::from_label(part).ok_or_else(|| {
            format!(
                "无法识别的身份“{part}”，可选：教师、校长、教研员、教辅人员 \
                 (unknown role '{part}'; expected teacher, principal, teaching_researcher \
                 or auxiliary_staff)"
            )
        })?;
        let index = PersonRole::ALL
            .iter()
            .position(|r| *r == role)
            .expect("every role is in ALL");
        found[index] = true;
    }
    let roles: Vec<PersonRole> = PersonRole::ALL
        .into_iter()
        .zip(found)
        .filter_map(|(role, present)| present.then_some(role))
        .collect();
    if roles.is_empty() {
        Ok(vec![PersonRole::Teacher])
    } else {
        Ok(roles)
    }
}

/// Sex, as recorded on the resident ID (its 17th digit) or in the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    /// 男.
    Male,
    /// 女.
    Female,
}

impl Sex {
    /// Both values.
    pub const ALL: [Sex; 2] = [Sex::Male, Sex::Female];

    /// The Chinese label: 男 / 女.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }

    /// The stable English key: `male` / `female`.
    pub fn key(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// Other accepted spellings.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Sex::Male => &["男性", "m"],
            Sex::Female => &["女性", "f"],
        }
    }

    /// Parses 男/女, 男性/女性, `male`/`female`, `M`/`F`; trimmed, case-insensitive.
    pub fn from_label(label: &str) -> Option<Sex> {
        match_label(&Sex::ALL, label, Sex::label_zh, Sex::key, Sex::aliases)
    }
}

/// Checks a teacher number: 1–32 characters of `[0-9A-Za-z-]`, not starting with `-`.
pub fn validate_teacher_number(number: &str) -> Result<(), String> {
    validate_code(number, "教师编号", "teacher number")
}

/// Masks a name for display and logs: first character kept, each other one becomes `*`.
///
/// "张三丰" → "张**", "李四" → "李*", a single character → "*", "" → "". Surrounding
/// whitespace is trimmed first.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            if rest == 0 {
                "*".to_owned()
            } else {
                let mut masked = String::from(first);
                masked.extend(std::iter::repeat_n('*', rest));
                masked
            }
        }
    }
}

/// The key a teacher's certificates are searched by (the certificate service's public search):
/// the lower-case hex SHA-256 of `secret ‖ 0x1F ‖ name ‖ 0x1F ‖ ID number`, the name with all
/// its whitespace dropped (as the search compares names: "欧阳 娜娜" and "欧阳娜娜" are one
/// name), the full ID number trimmed and upper-cased (a final `x` is the check digit `X`,
/// GB 11643-1999). The ID number itself is never stored.
pub fn search_key(secret: &[u8], name: &str, id_number: &str) -> String {
    use sha2::{Digest, Sha256};
    let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    let mut h = Sha256::new();
    h.update(secret);
    h.update([0x1f]);
    h.update(name.as_bytes());
    h.update([0x1f]);
    h.update(id_number.trim().to_uppercase().as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_round_trips_through_label_and_key() {
        for stage in Stage::ALL {
            assert_eq!(Stage::from_label(stage.label_zh()), Some(stage));
            assert_eq!(Stage::from_label(stage.key()), Some(stage));
        }
        assert_eq!(Stage::from_label("幼儿园"), Some(Stage::Preschool));
        assert_eq!(
            Stage::from_label(" 职业高中 "),
            Some(Stage::SecondaryVocational)
        );
        assert_eq!(
            Stage::from_label("SENIOR_SECONDARY"),
            Some(Stage::SeniorSecondary)
        );
        assert_eq!(Stage::from_label("大学"), None);
        assert_eq!(Stage::from_label(""), None);
    }

    #[test]
    fn every_category_round_trips_through_label_and_key() {
        for category in TeacherCategory::ALL {
            assert_eq!(
                TeacherCategory::from_label(category.label_zh()),
                Some(category)
            );
            assert_eq!(TeacherCategory::from_label(category.key()), Some(category));
        }
    }

    #[test]
    fn the_ningxia_category_wordings_and_their_short_forms_are_understood() {
        // 《宁夏测评实施办法》§三(一)2 (1)–(4) and §三(一)3.
        use TeacherCategory::*;
        let cases = [
            ("特级教师", SpecialOrRegionalBackbone),
            ("塞上名师", SpecialOrRegionalBackbone),
            ("自治区级骨干教师", SpecialOrRegionalBackbone),
            ("省级骨干", SpecialOrRegionalBackbone),
            ("特级", SpecialOrRegionalBackbone),
            ("名师", SpecialOrRegionalBackbone),
            ("省级教学名师", SpecialOrRegionalBackbone),
            ("市县级名师骨干", CityCountyBackbone),
            ("市（县、区）级名师骨干教师", CityCountyBackbone),
            ("市级骨干", CityCountyBackbone),
            ("县级骨干", CityCountyBackbone),
            ("骨干教师", CityCountyBackbone),
            ("普通教师", Ordinary),
            ("其他教师", Ordinary),
            ("一般教师", Ordinary),
            ("其余教师", Ordinary),
            ("幼儿园教师", Kindergarten),
        ];
        for (label, category) in cases {
            assert_eq!(
                TeacherCategory::from_label(label),
                Some(category),
                "{label}"
            );
        }
        assert_eq!(TeacherCategory::from_label("校长"), None);
    }

    #[test]
    fn every_role_round_trips_and_kindergarten_heads_are_principals() {
        for role in PersonRole::ALL {
            assert_eq!(PersonRole::from_label(role.label_zh()), Some(role));
            assert_eq!(PersonRole::from_label(role.key()), Some(role));
        }
        assert_eq!(PersonRole::from_label("园长"), Some(PersonRole::Principal));
        assert_eq!(
            PersonRole::from_label("Teaching Researcher"),
            Some(PersonRole::TeachingResearcher)
        );
    }

    #[test]
    fn a_role_cell_is_split_on_every_separator_deduplicated_and_ordered() {
        assert_eq!(
            parse_roles("教师;校长"),
            Ok(vec![PersonRole::Teacher, PersonRole::Principal])
        );
        assert_eq!(
            parse_roles("principal,teacher"),
            Ok(vec![PersonRole::Teacher, PersonRole::Principal])
        );
        assert_eq!(
            parse_roles("教辅人员、教研员；园长，教师|教师"),
            Ok(PersonRole::ALL.to_vec())
        );
        assert_eq!(
            parse_roles(" 校长 ; 校长 "),
            Ok(vec![PersonRole::Principal])
        );
    }

    #[test]
    fn an_empty_role_cell_means_teacher() {
        assert_eq!(parse_roles(""), Ok(vec![PersonRole::Teacher]));
        assert_eq!(parse_roles("  "), Ok(vec![PersonRole::Teacher]));
        assert_eq!(parse_roles(" ; ，"), Ok(vec![PersonRole::Teacher]));
    }

    #[test]
    fn an_unknown_role_is_refused_by_name() {
        let message = parse_roles("教师;司机").unwrap_err();
        assert!(message.contains("司机"), "{message}");
        assert!(message.contains("unknown role"), "{message}");
    }

    #[test]
    fn sex_is_read_from_chinese_english_and_single_letters() {
        assert_eq!(Sex::from_label("男"), Some(Sex::Male));
        assert_eq!(Sex::from_label("女性"), Some(Sex::Female));
        assert_eq!(Sex::from_label("Female"), Some(Sex::Female));
        assert_eq!(Sex::from_label("M"), Some(Sex::Male));
        assert_eq!(Sex::from_label("x"), None);
        for sex in Sex::ALL {
            assert_eq!(Sex::from_label(sex.label_zh()), Some(sex));
            assert_eq!(Sex::from_label(sex.key()), Some(sex));
        }
    }

    #[test]
    fn teacher_numbers_follow_the_school_code_charset() {
        assert_eq!(validate_teacher_number("T-2024-0001"), Ok(()));
        assert!(validate_teacher_number("-1").is_err());
        assert!(validate_teacher_number("").is_err());
        let message = validate_teacher_number("T 1").unwrap_err();
        assert!(message.contains("教师编号"), "{message}");
    }

    #[test]
    fn a_name_keeps_its_first_character_and_stars_the_rest() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name(" 欧阳娜娜 "), "欧***");
        assert_eq!(mask_name("阿依古丽·买买提"), "阿*******");
    }

    #[test]
    fn the_search_key_is_pinned_to_a_test_vector() {
        // printf 'test\x1f王芳\x1f11010519491231002X' | sha256sum
        assert_eq!(
            search_key(b"test", "王芳", "11010519491231002X"),
            "c68c4fd1063363e960850a4cbfb00be66b2f028d75916cc4fe7e44468301e8ba"
        );
    }

    #[test]
    fn the_search_key_drops_the_names_whitespace_and_upper_cases_the_id_number() {
        let key = search_key(b"test", "王芳", "11010519491231002X");
        assert_eq!(search_key(b"test", " 王芳\t", " 11010519491231002x "), key);
        // The public search drops a name's inner whitespace too: a roster name "王 芳" is
        // found by whoever types "王芳" or "王 芳" (it never was before).
        assert_eq!(search_key(b"test", "王 芳", "11010519491231002X"), key);
        assert_eq!(
            search_key(b"test", "王\u{3000}芳", "11010519491231002X"),
            key
        );
        assert_ne!(search_key(b"other", "王芳", "11010519491231002X"), key);
        assert_ne!(search_key(b"test", "王芳", "110105194912310011"), key);
    }
}
