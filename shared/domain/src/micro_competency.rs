//! The 30 micro-competencies (微能力) of the national assessment standard.
//!
//! Three environments × four dimensions, codes A1–A13, B1–B10, C1–C7. The table, names and
//! credits (学分) are those of 《安徽指导意见》§四(一) 考核内容, repeated word for word in
//! 《泗县实施意见》附件2 §四(一). Credits are Anhui's; other provinces use the same codes without
//! credits (《宁夏测评实施办法》§三 names them by code alone).

use crate::labels::match_label;

/// One of the four dimensions (维度) of teaching with ICT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// 学情分析.
    LearningAnalysis,
    /// 教学设计.
    InstructionalDesign,
    /// 学法指导.
    LearningGuidance,
    /// 学业评价.
    AcademicAssessment,
}

impl Dimension {
    /// Every dimension, in the order of the standard.
    pub const ALL: [Dimension; 4] = [
        Dimension::LearningAnalysis,
        Dimension::InstructionalDesign,
        Dimension::LearningGuidance,
        Dimension::AcademicAssessment,
    ];

    /// The Chinese label: 学情分析 / 教学设计 / 学法指导 / 学业评价.
    pub fn label_zh(self) -> &'static str {
        match self {
            Dimension::LearningAnalysis => "学情分析",
            Dimension::InstructionalDesign => "教学设计",
            Dimension::LearningGuidance => "学法指导",
            Dimension::AcademicAssessment => "学业评价",
        }
    }

    /// The stable snake_case English key, e.g. `learning_analysis`.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::LearningAnalysis => "learning_analysis",
            Dimension::InstructionalDesign => "instructional_design",
            Dimension::LearningGuidance => "learning_guidance",
            Dimension::AcademicAssessment => "academic_assessment",
        }
    }

    /// Parses the Chinese label or the key; trimmed, key case-insensitive.
    pub fn from_label(label: &str) -> Option<Dimension> {
        match_label(
            &Dimension::ALL,
            label,
            Dimension::label_zh,
            Dimension::key,
            |_| &[],
        )
    }
}

/// One of the three teaching environments (教学环境).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Environment {
    /// 多媒体教学环境 (codes A…).
    Multimedia,
    /// 混合学习环境 (codes B…).
    Blended,
    /// 智慧学习环境 (codes C…).
    Smart,
}

impl Environment {
    /// Every environment, A, B, C.
    pub const ALL: [Environment; 3] = [
        Environment::Multimedia,
        Environment::Blended,
        Environment::Smart,
    ];

    /// The Chinese label: 多媒体教学环境 / 混合学习环境 / 智慧学习环境.
    pub fn label_zh(self) -> &'static str {
        match self {
            Environment::Multimedia => "多媒体教学环境",
            Environment::Blended => "混合学习环境",
            Environment::Smart => "智慧学习环境",
        }
    }

    /// The stable English key: `multimedia` / `blended` / `smart`.
    pub fn key(self) -> &'static str {
        match self {
            Environment::Multimedia => "multimedia",
            Environment::Blended => "blended",
            Environment::Smart => "smart",
        }
    }

    /// The letter its codes start with: `A`, `B` or `C`.
    pub fn code_letter(self) -> char {
        match self {
            Environment::Multimedia => 'A',
            Environment::Blended => 'B',
            Environment::Smart => 'C',
        }
    }

    /// Parses the Chinese label, the short form (多媒体, 混合, 智慧) or the key.
    pub fn from_label(label: &str) -> Option<Environment> {
        match_label(
            &Environment::ALL,
            label,
            Environment::label_zh,
            Environment::key,
            |environment| match environment {
                Environment::Multimedia => &["多媒体", "多媒体环境"],
                Environment::Blended => &["混合", "混合环境"],
                Environment::Smart => &["智慧", "智慧环境"],
            },
        )
    }
}

/// One micro-competency (微能力) with its Anhui credit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MicroCompetency {
    /// Code, e.g. `A1`, `B10`, `C7`.
    pub code: &'static str,
    /// Chinese name, e.g. 技术支持的学情分析.
    pub name_zh: &'static str,
    /// Dimension (维度).
    pub dimension: Dimension,
    /// Environment (所属环境).
    pub environment: Environment,
    /// Credits (学分) per 《安徽指导意见》§四(一).
    pub credits: u8,
}

/// Builds one table row.
const fn mc(
    code: &'static str,
    name_zh: &'static str,
    dimension: Dimension,
    environment: Environment,
    credits: u8,
) -> MicroCompetency {
    MicroCompetency {
        code,
        name_zh,
        dimension,
        environment,
        credits,
    }
}

use Dimension::{AcademicAssessment, InstructionalDesign, LearningAnalysis, LearningGuidance};
use Environment::{Blended, Multimedia, Smart};

/// The 30 micro-competencies in code order A1..A13, B1..B10, C1..C7.
pub static MICRO_COMPETENCIES: [MicroCompetency; 30] = [
    mc("A1", "技术支持的学情分析", LearningAnalysis, Multimedia, 4),
    mc(
        "A2",
        "数字教育资源获取与评价",
        InstructionalDesign,
        Multimedia,
        4,
    ),
    mc(
        "A3",
        "演示文稿设计与制作",
        InstructionalDesign,
        Multimedia,
        4,
    ),
    mc("A4", "数字教育资源管理", InstructionalDesign, Multimedia, 4),
    mc("A5", "技术支持的课堂导入", LearningGuidance, Multimedia, 5),
    mc("A6", "技术支持的课堂讲授", LearningGuidance, Multimedia, 5),
    mc("A7", "技术支持的总结提升", LearningGuidance, Multimedia, 5),
    mc("A8", "技术支持的方法指导", LearningGuidance, Multimedia, 5),
    mc("A9", "学生信息道德培养", LearningGuidance, Multimedia, 6),
    mc(
        "A10",
        "学生信息安全意识培养",
        LearningGuidance,
        Multimedia,
        6,
    ),
    mc(
        "A11",
        "评价量规设计与应用",
        AcademicAssessment,
        Multimedia,
        7,
    ),
    mc(
        "A12",
        "评价数据的伴随性采集",
        AcademicAssessment,
        Multimedia,
        7,
    ),
    mc(
        "A13",
        "数据可视化呈现与解读",
        AcademicAssessment,
        Multimedia,
        7,
    ),
    mc("B1", "技术支持的测验与练习", LearningAnalysis, Blended, 5),
    mc("B2", "微课程设计与制作", InstructionalDesign, Blended, 5),
    mc("B3", "探究型学习活动设计", InstructionalDesign, Blended, 5),
    mc(
        "B4",
        "技术支持的发现与解决问题",
        LearningGuidance,
        Blended,
        6,
    ),
    mc("B5", "学习小组组织与管理", LearningGuidance, Blended, 6),
    mc("B6", "技术支持的展示交流", LearningGuidance, Blended, 6),
    mc("B7", "家校交流与合作", LearningGuidance, Blended, 7),
    mc("B8", "公平管理技术资源", LearningGuidance, Blended, 7),
    mc("B9", "自评与互评活动的组织", AcademicAssessment, Blended, 8),
    mc("B10", "档案袋评价", AcademicAssessment, Blended, 8),
    mc("C1", "跨学科学习活动设计", InstructionalDesign, Smart, 8),
    mc("C2", "创造真实学习情境", InstructionalDesign, Smart, 8),
    mc("C3", "创新解决问题的方法", LearningGuidance, Smart, 8),
    mc("C4", "支持学生创造性学习与表达", LearningGuidance, Smart, 9),
    mc("C5", "基于数据的个别化指导", LearningGuidance, Smart, 9),
    mc("C6", "应用数据分析模型", AcademicAssessment, Smart, 10),
    mc("C7", "创建数据分析微模型", AcademicAssessment, Smart, 10),
];

/// Finds a micro-competency by code; trimmed and case-insensitive (`a1`, ` B10 `).
pub fn by_code(code: &str) -> Option<&'static MicroCompetency> {
    let code = code.trim();
    MICRO_COMPETENCIES
        .iter()
        .find(|mc| mc.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn there_are_thirty_micro_competencies_thirteen_ten_and_seven_per_environment() {
        assert_eq!(MICRO_COMPETENCIES.len(), 30);
        let count = |environment| {
            MICRO_COMPETENCIES
                .iter()
                .filter(|mc| mc.environment == environment)
                .count()
        };
        assert_eq!(count(Multimedia), 13);
        assert_eq!(count(Blended), 10);
        assert_eq!(count(Smart), 7);
    }

    #[test]
    fn codes_run_in_order_and_match_their_environment_letter() {
        let mut expected = Vec::new();
        for (environment, n) in [(Multimedia, 13), (Blended, 10), (Smart, 7)] {
            for i in 1..=n {
                expected.push(format!("{}{i}", environment.code_letter()));
            }
        }
        let codes: Vec<String> = MICRO_COMPETENCIES
            .iter()
            .map(|mc| mc.code.to_owned())
            .collect();
        assert_eq!(codes, expected);
        for mc in &MICRO_COMPETENCIES {
            assert!(
                mc.code.starts_with(mc.environment.code_letter()),
                "{}",
                mc.code
            );
        }
    }

    #[test]
    fn the_credits_add_up_to_the_table_total() {
        // 《安徽指导意见》§四(一), credits column:
        // A: 4×4 + 5×4 + 6×2 + 7×3 = 69; B: 5×3 + 6×3 + 7×2 + 8×2 = 63; C: 8×3 + 9×2 + 10×2 = 62.
        let total = |environment: Option<Environment>| -> u32 {
            MICRO_COMPETENCIES
                .iter()
                .filter(|mc| environment.is_none_or(|e| mc.environment == e))
                .map(|mc| u32::from(mc.credits))
                .sum()
        };
        assert_eq!(total(Some(Multimedia)), 69);
        assert_eq!(total(Some(Blended)), 63);
        assert_eq!(total(Some(Smart)), 62);
        assert_eq!(total(None), 194);
    }

    #[test]
    fn the_end_points_of_the_table_carry_their_credits() {
        assert_eq!(by_code("A1").unwrap().credits, 4);
        assert_eq!(by_code("A1").unwrap().name_zh, "技术支持的学情分析");
        assert_eq!(by_code("C7").unwrap().credits, 10);
        assert_eq!(by_code("C7").unwrap().name_zh, "创建数据分析微模型");
        assert_eq!(by_code("B10").unwrap().dimension, AcademicAssessment);
    }

    #[test]
    fn credits_never_decrease_within_an_environment() {
        for pair in MICRO_COMPETENCIES.windows(2) {
            if pair[0].environment == pair[1].environment {
                assert!(pair[0].credits <= pair[1].credits, "{}", pair[1].code);
            }
        }
    }

    #[test]
    fn the_dimension_column_matches_the_seed() {
        let of = |dimension| -> Vec<&str> {
            MICRO_COMPETENCIES
                .iter()
                .filter(|mc| mc.dimension == dimension)
                .map(|mc| mc.code)
                .collect()
        };
        assert_eq!(of(LearningAnalysis), ["A1", "B1"]);
        assert_eq!(
            of(InstructionalDesign),
            ["A2", "A3", "A4", "B2", "B3", "C1", "C2"]
        );
        assert_eq!(
            of(LearningGuidance),
            [
                "A5", "A6", "A7", "A8", "A9", "A10", "B4", "B5", "B6", "B7", "B8", "C3", "C4", "C5"
            ]
        );
        assert_eq!(
            of(AcademicAssessment),
            ["A11", "A12", "A13", "B9", "B10", "C6", "C7"]
        );
    }

    #[test]
    fn lookup_by_code_is_trimmed_and_case_insensitive() {
        assert_eq!(by_code(" a10 ").unwrap().code, "A10");
        assert_eq!(by_code("b1").unwrap().code, "B1");
        for bad in ["", "A0", "A14", "B11", "C8", "D1", "A01", "A 1"] {
            assert!(by_code(bad).is_none(), "{bad:?}");
        }
        for mc in &MICRO_COMPETENCIES {
            assert_eq!(by_code(mc.code), Some(mc));
        }
    }

    #[test]
    fn names_are_unique() {
        let names: HashSet<_> = MICRO_COMPETENCIES.iter().map(|mc| mc.name_zh).collect();
        assert_eq!(names.len(), 30);
    }

    #[test]
    fn dimensions_and_environments_round_trip_through_labels_and_keys() {
        for d in Dimension::ALL {
            assert_eq!(Dimension::from_label(d.label_zh()), Some(d));
            assert_eq!(Dimension::from_label(d.key()), Some(d));
        }
        for e in Environment::ALL {
            assert_eq!(Environment::from_label(e.label_zh()), Some(e));
            assert_eq!(Environment::from_label(e.key()), Some(e));
        }
        assert_eq!(Environment::from_label("智慧"), Some(Smart));
        assert_eq!(Dimension::from_label("分析"), None);
    }
}
