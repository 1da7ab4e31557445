//! The four built-in policies (PolicyPreset), transcribed from the seeds with every value cited.
//!
//! Documents (docs/policies.md): Ningxia (宁夏) 《宁夏实施方案》 and 《宁夏测评实施办法》; Anhui
//! (安徽) 《安徽指导意见》; Beijing (北京) 《北京实施方案》 and 《北京试点方案》 with its own 附件1
//! 全员培训实施方案, 附件2 案例报送要求, 附件3 校本应用考核指南; Sixian (泗县) 《泗县实施意见》 and
//! its 附件2 整校推进实施方案. The `source` a value records names the document's text file (the
//! constants below).
//!
//! Where a seed leaves a value open, the value here is a documented choice that an office can
//! override through the API; each such place says "choice".

use crate::division::DivisionCode;
use crate::names::JurisdictionName;
use crate::person::{PersonRole, TeacherCategory};

use super::codes::code_range;
use super::rules::{
    AgreementCriterion, CarryOverRule, CertificateMode, CertificateRule, CodeQuota, EvidenceKind,
    EvidenceKindLimit, EvidenceRequirement, EvidenceRule, GradePrecedence, GradingRule, HoursKind,
    HoursRequirement, HoursRule, PolicyRules, Preset, Ratio, ReviewStageRule, RoundingMode, Rubric,
    RubricCriterion, SamplingRule, SelectionCase, SelectionCondition, SelectionRequirement,
    SelectionRule, TeacherExcellentRule, ThresholdComparison, UnitGradeRule, WatchRule,
};

const NINGXIA: &str = "seeds/001_a7fb3e33a85a8b41.txt";
const ANHUI: &str = "seeds/002_956918a84436fd87.txt";
const BEIJING: &str = "seeds/003_4887f3e64cb91c63.txt";
const SIXIAN: &str = "seeds/004_0cbffe1373acaefb.txt";

/// One 学时 in centihours.
const HOUR: i64 = 100;
/// One MiB in bytes.
const MIB: i64 = 1024 * 1024;

impl Preset {
    /// Every preset, in the proto's order.
    pub const ALL: [Preset; 4] = [
        Preset::Ningxia,
        Preset::Anhui,
        Preset::Sixian,
        Preset::Beijing,
    ];

    /// The short label that starts verdict messages: 宁夏 / 安徽 / 泗县 / 北京.
    pub fn label_zh(self) -> &'static str {
        match self {
            Preset::Ningxia => "宁夏",
            Preset::Anhui => "安徽",
            Preset::Sixian => "泗县",
            Preset::Beijing => "北京",
        }
    }

    /// PolicyPresetInfo.display_name, e.g. "宁夏回族自治区 (2020)".
    pub fn display_name(self) -> &'static str {
        match self {
            Preset::Ningxia => "宁夏回族自治区 (2020)",
            Preset::Anhui => "安徽省",
            Preset::Sixian => "安徽省宿州市泗县 (2022)",
            Preset::Beijing => "北京市",
        }
    }

    /// PolicyPresetInfo.default_jurisdiction: `jurisdictions/640000`, `340000`, `341324`
    /// (泗县), `110000`.
    pub fn default_jurisdiction(self) -> &'static str {
        match self {
            Preset::Ningxia => "jurisdictions/640000",
            Preset::Anhui => "jurisdictions/340000",
            Preset::Sixian => "jurisdictions/341324",
            Preset::Beijing => "jurisdictions/110000",
        }
    }

    /// The preset whose default jurisdiction is `county` or its nearest ancestor (泗县 341324 →
    /// Sixian before Anhui); `None` outside the four (e.g. Shenzhen 440305).
    pub fn for_county(county: DivisionCode) -> Option<Preset> {
        county.ancestry().into_iter().rev().find_map(|code| {
            Preset::ALL.into_iter().find(|preset| {
                JurisdictionName::id_of(preset.default_jurisdiction())
                    .is_some_and(|own| own == code.as_str())
            })
        })
    }

    /// PolicyPresetInfo.source: the text file of the documents it transcribes (docs/policies.md).
    pub fn source(self) -> &'static str {
        match self {
            Preset::Ningxia => NINGXIA,
            Preset::Anhui => ANHUI,
            Preset::Sixian => SIXIAN,
            Preset::Beijing => BEIJING,
        }
    }

    /// The stable snake_case key: `ningxia` / `anhui` / `sixian` / `beijing`.
    pub fn key(self) -> &'static str {
        match self {
            Preset::Ningxia => "ningxia",
            Preset::Anhui => "anhui",
            Preset::Sixian => "sixian",
            Preset::Beijing => "beijing",
        }
    }
}

/// The rules of a preset, every section set (see the module documentation for the seeds).
pub fn preset(p: Preset) -> PolicyRules {
    match p {
        Preset::Ningxia => ningxia(),
        Preset::Anhui => anhui_like(AnhuiVariant::Province),
        Preset::Sixian => anhui_like(AnhuiVariant::Sixian),
        Preset::Beijing => beijing(),
    }
}

fn cite(seed: &str, section: &str) -> String {
    format!("{seed} {section}")
}

fn requirement(kind: HoursKind, hours: i64) -> HoursRequirement {
    HoursRequirement {
        kind,
        minimum_centihours: hours * HOUR,
    }
}

/// B1–B10 and C1–C7, the blended and smart environments, one by one.
fn blended_and_smart() -> Vec<String> {
    let mut codes = code_range('B', 1, 10);
    codes.extend(code_range('C', 1, 7));
    codes
}

/// Evidence limits shared by the presets (choice: the seeds set no sizes). Video: MP4 up to
/// 500 MiB. Documents (design plans, reflections, other): PDF, DOCX, PPTX, XLSX, PNG, JPEG up
/// to 20 MiB. Courseware (slides, micro-lessons — B2 微课程设计与制作 is a video — rubrics, data
/// reports): the document types plus MP4, up to 500 MiB. `max_video_seconds` 0 means none.
fn evidence_limits(max_video_seconds: i32) -> Vec<EvidenceKindLimit> {
    let documents = || -> Vec<String> {
        [
            "application/pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "image/png",
            "image/jpeg",
        ]
        .map(String::from)
        .to_vec()
    };
    let document = |kind| EvidenceKindLimit {
        kind,
        content_types: documents(),
        max_bytes: 20 * MIB,
        max_duration_seconds: 0,
    };
    let mut courseware_types = documents();
    courseware_types.push("video/mp4".to_string());
    vec![
        EvidenceKindLimit {
            kind: EvidenceKind::Video,
            content_types: vec!["video/mp4".to_string()],
            max_bytes: 500 * MIB,
            max_duration_seconds: max_video_seconds,
        },
        document(EvidenceKind::DesignPlan),
        document(EvidenceKind::Reflection),
        EvidenceKindLimit {
            kind: EvidenceKind::Courseware,
            content_types: courseware_types,
            max_bytes: 500 * MIB,
            max_duration_seconds: 0,
        },
        document(EvidenceKind::Other),
    ]
}

/// Carry-over as every preset has it: enabled, hours and passed micro-competencies kept.
/// Ningxia states it (第一批测评不合格的教师继续参加 2021 年项目，直至测评合格, 《宁夏实施方案》§三
/// 第二阶段; 兜底测评, 第三阶段); keeping hours and passed submissions, and enabling it for the
/// other presets, is a choice (their seeds are silent).
fn carry_over() -> CarryOverRule {
    CarryOverRule {
        enabled: true,
        keep_hours: true,
        keep_passed_submissions: true,
    }
}

fn disabled_stage() -> ReviewStageRule {
    ReviewStageRule {
        enabled: false,
        school_rate: Ratio::default(),
        teacher_rate: Ratio::default(),
        minimum_per_stratum: 1,
        source: String::new(),
    }
}

fn disabled_unit_grade() -> UnitGradeRule {
    UnitGradeRule {
        enabled: false,
        ..UnitGradeRule::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Ningxia

/// The selection requirement of Ningxia's first category (三(一)2(1)): 3 from A1, A8–A13,
/// B1–B10, C1–C7.
fn ningxia_special_requirement() -> SelectionRequirement {
    let mut allowed = vec!["A1".to_string()];
    allowed.extend(code_range('A', 8, 13));
    allowed.extend(blended_and_smart());
    SelectionRequirement {
        min_count: 3,
        max_count: 3,
        min_credits: 0,
        allowed_codes: allowed,
        quotas: Vec::new(),
    }
}

/// Three picks with at least `k` from B1–B10 and C1–C7 (三(一)2(2)(3)); `k` 0: three, any.
fn ningxia_three_with(k: i32) -> SelectionRequirement {
    SelectionRequirement {
        min_count: 3,
        max_count: 3,
        min_credits: 0,
        allowed_codes: Vec::new(),
        quotas: if k > 0 {
            vec![CodeQuota {
                codes: blended_and_smart(),
                min_count: k,
                max_count: 0,
            }]
        } else {
            Vec::new()
        },
    }
}

/// Ningxia's selection rule (《宁夏测评实施办法》§三), cases in this order:
///
/// 1. Principals (校（园）长) of any age, by category: "校长信息化教学指导力测评。按照上述（一）中的
///    50 岁以下教师测评标准执行" (三(二)2) — a principal aged 50 or over still follows the under-50
///    rule of their category, so these cases come before the age cases. The leadership
///    assessment (三(二)1) is the rule's `principal_leadership_assessment` flag. A principal who
///    is also a teaching researcher follows their category (a condition cannot require two
///    roles at once).
/// 2. 50 岁以上 (三(一)1): 1–2 any. "以上" read as including 50 (min_age 50), as the proto does.
/// 3. 50 岁以下 (三(一)2), max_age 49: special-grade / 塞上名师 / regional backbone (2(1)) and,
///    as a separate case because conditions AND their fields, teaching researchers under 50
///    (三(一)3): exactly 3 from A1, A8–A13, B1–B10, C1–C7; city/county backbone (2(2)): exactly
///    3 with at least 2 from B1–B10 ∪ C1–C7 ("其中 2 个微能力来自 B1-B10、C1-C7 中", read as "at
///    least 2": a third B/C pick is not worse); kindergarten (2(4)): exactly 3, any; everyone
///    else — ordinary teachers, auxiliary staff, administrators in title evaluation (2(3),
///    三(一)3) — exactly 3 with at least 1 from B1–B10 ∪ C1–C7.
///
/// The age reference date is unset (the batch's open date): the seed fixes none.
fn ningxia_selection() -> SelectionRule {
    let source = |section: &str| cite(NINGXIA, &format!("测评实施办法 {section}"));
    let principal = |id: &str,
                     display: &str,
                     category: Option<TeacherCategory>,
                     requirement: SelectionRequirement,
                     section: &str| SelectionCase {
        id: format!("ningxia.principal.{id}"),
        display_name: display.to_string(),
        condition: SelectionCondition {
            min_age: None,
            max_age: None,
            categories: category.into_iter().collect(),
            roles: vec![PersonRole::Principal],
        },
        requirement,
        source: source(&format!("三(二)2 → {section}")),
    };
    let under50 = |id: &str,
                   display: &str,
                   categories: Vec<TeacherCategory>,
                   roles: Vec<PersonRole>,
                   requirement: SelectionRequirement,
                   section: &str| SelectionCase {
        id: format!("ningxia.under50.{id}"),
        display_name: display.to_string(),
        condition: SelectionCondition {
            min_age: None,
            max_age: Some(49),
            categories,
            roles,
        },
        requirement,
        source: source(section),
    };
    SelectionRule {
        age_reference_date: None,
        cases: vec![
            principal(
                "special",
                "校（园）长（按50岁以下特级教师、塞上名师和自治区级骨干教师标准）",
                Some(TeacherCategory::SpecialOrRegionalBackbone),
                ningxia_special_requirement(),
                "三(一)2(1)",
            ),
            principal(
                "backbone",
                "校（园）长（按50岁以下市（县、区）级名师骨干教师标准）",
                Some(TeacherCategory::CityCountyBackbone),
                ningxia_three_with(2),
                "三(一)2(2)",
            ),
            principal(
                "kindergarten",
                "园长（按50岁以下幼儿园教师标准）",
                Some(TeacherCategory::Kindergarten),
                ningxia_three_with(0),
                "三(一)2(4)",
            ),
            principal(
                "other",
                "校（园）长（按50岁以下其他教师标准）",
                None,
                ningxia_three_with(1),
                "三(一)2(3)",
            ),
            SelectionCase {
                id: "ningxia.over50".to_string(),
                display_name: "50岁以上教师".to_string(),
                condition: SelectionCondition {
                    min_age: Some(50),
                    ..SelectionCondition::default()
                },
                requirement: SelectionRequirement {
                    min_count: 1,
                    max_count: 2,
                    ..SelectionRequirement::default()
                },
                source: source("三(一)1"),
            },
            under50(
                "special",
                "50岁以下特级教师、塞上名师和自治区级骨干教师",
                vec![TeacherCategory::SpecialOrRegionalBackbone],
                Vec::new(),
                ningxia_special_requirement(),
                "三(一)2(1)",
            ),
            under50(
                "researcher",
                "50岁以下教研员（按特级教师、自治区级骨干教师标准）",
                Vec::new(),
                vec![PersonRole::TeachingResearcher],
                ningxia_special_requirement(),
                "三(一)3",
            ),
            under50(
                "backbone",
                "50岁以下市（县、区）级名师骨干教师",
                vec![TeacherCategory::CityCountyBackbone],
                Vec::new(),
                ningxia_three_with(2),
                "三(一)2(2)",
            ),
            under50(
                "kindergarten",
                "50岁以下幼儿园教师",
                vec![TeacherCategory::Kindergarten],
                Vec::new(),
                ningxia_three_with(0),
                "三(一)2(4)",
            ),
            under50(
                "ordinary",
                "50岁以下其他教师",
                Vec::new(),
                Vec::new(),
                ningxia_three_with(1),
                "三(一)2(3)、三(一)3",
            ),
        ],
        // 校长信息化领导力测评 (测评实施办法 三(二)1).
        principal_leadership_assessment: true,
    }
}

fn ningxia() -> PolicyRules {
    let section = |s: &str| cite(NINGXIA, s);
    PolicyRules {
        hours: Some(HoursRule {
            // 每名教师完成至少 50 学时 (实施方案 二(三); 测评实施办法 四 "教师需要完成 50 学时").
            total_minimum_centihours: 50 * HOUR,
            requirements: vec![
                // 线上研修 25 学时 (实施方案 二(三); 测评实施办法 四1).
                requirement(HoursKind::OnlineStudy, 25),
                // 线下实践应用 25 学时 (实施方案 二(三); 测评实施办法 四2).
                requirement(HoursKind::Practice, 25),
            ],
            // 实践应用学时不少于 50% (实施方案 一, the national rule) describes the training's
            // design: the 25-hour practice minimum already meets it at the required 50 hours. As a
            // share of *counted* hours it would fail a teacher who studied 26 hours online and
            // practised 25, so it is not a share rule here (offices may add one).
            share_rules: Vec::new(),
            watch_rule: None,
        }),
        selection: Some(ningxia_selection()),
        evidence: Some(EvidenceRule {
            // Sizes are a choice; the 提交指南 of the 测评规范 (测评实施办法 四2) decides the
            // content per micro-competency and is not in the seed, so no kind is required here.
            limits: evidence_limits(0),
            requirements: Vec::new(),
            max_total_bytes: 2048 * MIB,
        }),
        grading: Some(GradingRule {
            // Choice: 合格和优秀等级按照《测评规范》中的考核标准进行认定 (测评实施办法 六(一)) leaves
            // the teacher's excellent open; excellent only if every submission is (the proto's
            // default, and the strict reading).
            teacher_excellent: TeacherExcellentRule::AllSubmissions,
            teacher_excellent_share: None,
            rubric: None,
            grade_from_rubric: false,
            pass_minimum_points: 0,
            excellent_minimum_points: 0,
            excellent_quota: None,
            excellent_quota_rounding: RoundingMode::Ceil,
            // 学校测评 by the school's assessors (测评实施办法 五(一)2).
            county_assessors_may_grade: false,
            // 以学科为单位，组织测评人员…评价 (测评实施办法 五(一)2).
            subject_match_required: true,
            // 评价完成后，系统自动进入县（区）复核状态 (测评实施办法 五(一)2).
            auto_submit_school_results: true,
            // 线上与线下测评都合格的，综合认定为合格 (测评实施办法 五(三)).
            offline_check_required: true,
        }),
        // 学校优秀教师占 30%的…优秀；学校不合格的教师占 2%的…不合格；其余为合格 (测评实施办法
        // 六(二)). Decision: "占 30%" is read as "at least 30 %" (AT_LEAST), and when a school
        // meets both thresholds the fail wins (FAIL_WINS: a school where 2 % of teachers fail is
        // not excellent). With 2/100 AT_LEAST, one failure fails a school of up to 50.
        school_grade: Some(UnitGradeRule {
            enabled: true,
            excellent_share: Ratio::new(30, 100),
            excellent_comparison: ThresholdComparison::AtLeast,
            fail_share: Ratio::new(2, 100),
            fail_comparison: ThresholdComparison::AtLeast,
            precedence: GradePrecedence::FailWins,
            source: section("测评实施办法 六(二)"),
        }),
        // 优秀学校占 10%的…优秀；不合格学校占 2%的…不合格 (测评实施办法 六(三)); same reading:
        // AT_LEAST, FAIL_WINS.
        county_grade: Some(UnitGradeRule {
            enabled: true,
            excellent_share: Ratio::new(10, 100),
            excellent_comparison: ThresholdComparison::AtLeast,
            fail_share: Ratio::new(2, 100),
            fail_comparison: ThresholdComparison::AtLeast,
            precedence: GradePrecedence::FailWins,
            source: section("测评实施办法 六(三)"),
        }),
        certificate: Some(CertificateRule {
            // 由自治区项目办公室颁发信息技术应用能力等级证书…（等级证书包括："合格、优秀"两个等级）
            // (测评实施办法 八). The office is named in 七(一) as "自治区教育厅能力提升 2.0 办公室"
            // (证书定样、结果认证); printed as written there, with the region's full name.
            mode: Some(CertificateMode::Level),
            issuing_authority: "宁夏回族自治区教育厅能力提升2.0办公室".to_string(),
            issuing_jurisdiction: "jurisdictions/640000".to_string(),
            title: "信息技术应用能力等级证书".to_string(),
            show_credits: false,
            // The certificate is the basis of continuing-education registration (八 证书应用).
            show_hours: true,
        }),
        sampling: Some(SamplingRule {
            // 随机抽取一定比例（不低于 15%）的学校和教师 (测评实施办法 五(一)3).
            county_review: ReviewStageRule {
                enabled: true,
                school_rate: Ratio::new(15, 100),
                teacher_rate: Ratio::new(15, 100),
                minimum_per_stratum: 1,
                source: section("测评实施办法 五(一)3"),
            },
            // 按照每县学校数的 5%、每校不低于 5% 的教师比例随机抽取 (测评实施办法 五(一)4).
            province_audit: ReviewStageRule {
                enabled: true,
                school_rate: Ratio::new(5, 100),
                teacher_rate: Ratio::new(5, 100),
                minimum_per_stratum: 1,
                source: section("测评实施办法 五(一)4"),
            },
            // 随机抽取一定比例的学校和教师，开展推门听课 (测评实施办法 五(二)): the seed gives no
            // rate; choice: 5 % and 5 %, like the audit.
            offline_check: ReviewStageRule {
                enabled: true,
                school_rate: Ratio::new(5, 100),
                teacher_rate: Ratio::new(5, 100),
                minimum_per_stratum: 1,
                source: section("测评实施办法 五(二)（比例由工程办设定）"),
            },
            // 一致率达到 80%以上 (测评实施办法 五(一)3、4), read as ≥ 80 % of the point estimate.
            agreement_threshold: Ratio::new(80, 100),
            agreement_criterion: AgreementCriterion::PointEstimate,
            agreement_comparison: ThresholdComparison::AtLeast,
        }),
        carry_over: Some(carry_over()),
    }
}

// ---------------------------------------------------------------------------------------------
// Anhui and Sixian

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnhuiVariant {
    Province,
    Sixian,
}

/// Anhui (《安徽指导意见》) and Sixian (《泗县实施意见》, which repeats Anhui's rules in its 附件2).
fn anhui_like(variant: AnhuiVariant) -> PolicyRules {
    let (seed, label) = match variant {
        AnhuiVariant::Province => (ANHUI, "anhui"),
        AnhuiVariant::Sixian => (SIXIAN, "sixian"),
    };
    let section = |s: &str| cite(seed, s);
    // Where each value comes from, in that seed.
    let (_share_src, credits_src, check_src) = match variant {
        AnhuiVariant::Province => (
            "附件1 三(二)2",
            "附件1 二(四)2、二(五)2、四(一)",
            "附件1 四(二)5",
        ),
        AnhuiVariant::Sixian => (
            "附件2 三(二)2(4)",
            "一、附件2 二(二)2、四(一)",
            "附件2 四(二)5、附件3 十一月",
        ),
    };
    PolicyRules {
        hours: Some(HoursRule {
            // Anhui: 30学时网络研修、30学时实践应用 (附件1 二(五)2); Sixian: 不少于 60 学时的信息
            // 技术应用能力培训（其中网络研修与实践应用各 30 学时） (一; 附件2 二(三)2).
            total_minimum_centihours: 60 * HOUR,
            requirements: vec![
                requirement(HoursKind::OnlineStudy, 30),
                requirement(HoursKind::Practice, 30),
            ],
            // 保证50%实践应用学时确有实效 (Anhui 附件1 三(二)2; Sixian 附件2 三(二)2(4)): the 30-hour
            // practice minimum meets it at the required 60 hours; not a share of counted hours
            // (see the Ningxia preset for why).
            share_rules: Vec::new(),
            watch_rule: None,
        }),
        // 每位教师所选微能力，合计不少于20学分: one case for everyone, any codes, at least one pick.
        selection: Some(SelectionRule {
            age_reference_date: None,
            cases: vec![SelectionCase {
                id: format!("{label}.all"),
                display_name: "全体教师".to_string(),
                condition: SelectionCondition::default(),
                requirement: SelectionRequirement {
                    min_count: 1,
                    max_count: 0,
                    min_credits: 20,
                    allowed_codes: Vec::new(),
                    quotas: Vec::new(),
                },
                source: section(credits_src),
            }],
            principal_leadership_assessment: false,
        }),
        // 向学校提交能体现不同微能力的教育教学成果 (四(一)); the kinds are not specified, so
        // none is required; sizes are a choice.
        evidence: Some(EvidenceRule {
            limits: evidence_limits(0),
            requirements: Vec::new(),
            max_total_bytes: 2048 * MIB,
        }),
        grading: Some(GradingRule {
            // Choice: the seed grades per micro-competency (one certificate each) and says
            // nothing of an overall excellent; the proto's default, every submission excellent.
            teacher_excellent: TeacherExcellentRule::AllSubmissions,
            teacher_excellent_share: None,
            rubric: None,
            grade_from_rubric: false,
            pass_minimum_points: 0,
            excellent_minimum_points: 0,
            excellent_quota: None,
            excellent_quota_rounding: RoundingMode::Ceil,
            // 学校管理团队组建校内外结合的评审组（或委托县级培训团队） (Anhui 附件1 四(二)4;
            // Sixian 附件2 四(二)4).
            county_assessors_may_grade: true,
            subject_match_required: false,
            auto_submit_school_results: false,
            offline_check_required: false,
        }),
        // No school or county grades in these seeds.
        school_grade: Some(disabled_unit_grade()),
        county_grade: Some(disabled_unit_grade()),
        certificate: Some(match variant {
            // 由县级教育行政部门印发教师所选各个微能力的认证证书 (附件1 四(三)3): each county
            // issues; the issuer text is a placeholder the county's own policy overrides.
            AnhuiVariant::Province => CertificateRule {
                mode: Some(CertificateMode::PerMicroCompetency),
                issuing_authority: "县级教育行政部门".to_string(),
                issuing_jurisdiction: String::new(),
                title: "信息技术应用能力提升工程2.0 微能力认证证书".to_string(),
                show_credits: true,
                show_hours: true,
            },
            // 由县教体局印发教师所选各个微能力的认证证书 (附件2 四(三)3); the bureau signs as
            // 泗县教育体育局 (the seed's letterhead).
            AnhuiVariant::Sixian => CertificateRule {
                mode: Some(CertificateMode::PerMicroCompetency),
                issuing_authority: "泗县教育体育局".to_string(),
                issuing_jurisdiction: "jurisdictions/341324".to_string(),
                title: "信息技术应用能力提升工程2.0 微能力认证证书".to_string(),
                show_credits: true,
                show_hours: true,
            },
        }),
        sampling: Some(SamplingRule {
            // 县区采用专家抽查（或第三方评估）的方式，检查验收各校校本应用考核结果: every school's
            // results are checked and accepted (schools 1/1) by spot-checking its teachers.
            // Choice: 10 % of each school's teachers, at least 1; the seed gives no rate.
            county_review: ReviewStageRule {
                enabled: true,
                school_rate: Ratio::new(1, 1),
                teacher_rate: Ratio::new(10, 100),
                minimum_per_stratum: 1,
                source: section(check_src),
            },
            // 省市检查验收 has no draw rates in the seed: no province audit; the county certifies
            // (验收) itself.
            province_audit: disabled_stage(),
            offline_check: disabled_stage(),
            // Choice: Ningxia's 80 % (the seed sets no threshold), AT_LEAST, point estimate.
            agreement_threshold: Ratio::new(80, 100),
            agreement_criterion: AgreementCriterion::PointEstimate,
            agreement_comparison: ThresholdComparison::AtLeast,
        }),
        carry_over: Some(carry_over()),
    }
}

// ---------------------------------------------------------------------------------------------
// Beijing

/// Beijing's case rubric, 案例评价标准, 100 points (《北京试点方案》附件2 表3), criteria
/// as printed.
pub fn beijing_case_rubric() -> Rubric {
    let criterion = |id: &str, section: &str, display: &str, max_points| RubricCriterion {
        id: id.to_string(),
        section: section.to_string(),
        display_name: display.to_string(),
        max_points,
    };
    let criteria = vec![
        // 应用方案（30分）
        criterion(
            "plan.background",
            "应用方案",
            "应用背景分析从实际教育教学问题出发，教育教学环境及学习者特征分析准确。",
            10,
        ),
        criterion(
            "plan.goals",
            "应用方案",
            "应用目标制定符合课程标准，体现以学生发展为中心，可操作、可检测。",
            10,
        ),
        criterion(
            "plan.schedule",
            "应用方案",
            "应用计划结构严谨，活动设计恰当，技术应用要体现出优势，可行性强。",
            10,
        ),
        // 应用实施（25分）
        criterion(
            "implementation.prior_experience",
            "应用实施",
            "教育教学中重视学生已有的经验，符合幼儿和中小学生的认知特点和规律",
            5,
        ),
        criterion(
            "implementation.student_centred",
            "应用实施",
            "在教育教学中突出学生的主体地位，体现新媒体环境下教与学方式的转变",
            10,
        ),
        criterion(
            "implementation.strategies",
            "应用实施",
            "能够采取多种策略组织教育教学，各教育教学环节合理、自然、流畅",
            10,
        ),
        // 应用反思（15分）
        criterion(
            "reflection",
            "应用反思",
            "教育教学应用反思具有针对性，对技术应用成效分析明确；问题挖掘准确，改进设想具体、有针对性。",
            15,
        ),
        // 应用效果（30分）
        criterion(
            "effect.goal_attainment",
            "应用效果",
            "技术应用能明确关联教育教学目标，有效促进教育教学目标的达成。",
            10,
        ),
        criterion(
            "effect.innovation",
            "应用效果",
            "具有价值的教学实践创新行为，体现出信息技术在教与学过程中的独特优势",
            10,
        ),
        criterion(
            "effect.impact",
            "应用效果",
            "信息化运用实际教育教学效果明显，具有示范和推广意义",
            10,
        ),
    ];
    let mut rubric = Rubric {
        id: "beijing-case-100".to_string(),
        display_name: "案例评价标准".to_string(),
        criteria,
        total_points: 0,
    };
    rubric.total_points = i32::try_from(rubric.computed_total_points()).unwrap_or(i32::MAX);
    rubric
}

fn beijing() -> PolicyRules {
    let section = |s: &str| cite(BEIJING, s);
    PolicyRules {
        // 培训共计50学时，其中线上学习25学时，校本研修与校本应用考核25学时 (培训试点工作方案 附件1
        // 五(一)): 专题课程 20 = 网络学习 15 + 测试 5; 应用案例 5; 校本研修 20; 校本应用考核 5.
        // 以上四方面同时合格综合评定为合格 (五(二)): each kind has its own minimum. The seed sets
        // no practice share, so none is set.
        hours: Some(HoursRule {
            total_minimum_centihours: 50 * HOUR,
            requirements: vec![
                requirement(HoursKind::OnlineStudy, 15),
                requirement(HoursKind::OnlineTest, 5),
                requirement(HoursKind::CaseStudy, 5),
                requirement(HoursKind::SchoolResearch, 20),
                requirement(HoursKind::SchoolAssessment, 5),
            ],
            share_rules: Vec::new(),
            // 每门课程学习时长不低于总时长的2/3 / 每个案例学习时长不低于总时长的2/3 (五(二)1–2).
            watch_rule: Some(WatchRule {
                kinds: vec![HoursKind::OnlineStudy, HoursKind::CaseStudy],
                minimum_watched: Ratio::new(2, 3),
            }),
        }),
        // 形成一份信息技术教育教学应用设计方案（至少涵盖2个微能力点） (培训试点工作方案 附件3
        // 三(三)(四)).
        selection: Some(SelectionRule {
            age_reference_date: None,
            cases: vec![SelectionCase {
                id: "beijing.all".to_string(),
                display_name: "全体教师".to_string(),
                condition: SelectionCondition::default(),
                requirement: SelectionRequirement {
                    min_count: 2,
                    max_count: 0,
                    min_credits: 0,
                    allowed_codes: Vec::new(),
                    quotas: Vec::new(),
                },
                source: section("培训试点工作方案 附件3 三(三)(四)"),
            }],
            principal_leadership_assessment: false,
        }),
        evidence: Some(EvidenceRule {
            // 视频…使用mp4格式，时间总计不超过45分钟 (培训试点工作方案 附件2 1): 2700 s per file
            // (the proto limits a file, not the total).
            limits: evidence_limits(45 * 60),
            // Every teacher hands in the design plan (校本研修, 附件1 五(二)3) and the reflection
            // (校本应用考核, 五(二)4); the video is asked of recommended cases (附件2), so it is
            // accepted but not required.
            requirements: vec![EvidenceRequirement {
                micro_competencies: Vec::new(),
                required_kinds: vec![EvidenceKind::DesignPlan, EvidenceKind::Reflection],
            }],
            max_total_bytes: 2048 * MIB,
        }),
        grading: Some(GradingRule {
            // A Beijing teacher's work is one case (one plan covering ≥ 2 micro-competencies);
            // recommended as an excellent case, it makes the teacher excellent: ANY_SUBMISSION.
            teacher_excellent: TeacherExcellentRule::AnySubmission,
            teacher_excellent_share: None,
            // 案例评价标准 (附件2 表3). It scores the cases schools recommend; passing is the
            // school's offline assessment (附件1 五(二)3–4), so the grade does not follow from the
            // rubric and no score makes a case excellent by itself.
            rubric: Some(beijing_case_rubric()),
            grade_from_rubric: false,
            pass_minimum_points: 0,
            excellent_minimum_points: 0,
            // 按照参训教师总人数的3%推荐优秀案例 (附件3 三(五); 工作方案 二(四)). Decision: CEIL,
            // so every school with participants may recommend at least one (1–33 → 1, 34–66 → 2);
            // FLOOR would bar every school under 34 teachers.
            excellent_quota: Some(Ratio::new(3, 100)),
            excellent_quota_rounding: RoundingMode::Ceil,
            county_assessors_may_grade: false,
            subject_match_required: false,
            auto_submit_school_results: false,
            offline_check_required: false,
        }),
        // Beijing grades no schools or districts.
        school_grade: Some(disabled_unit_grade()),
        county_grade: Some(disabled_unit_grade()),
        // No certificate: 所获得的学分记入"十四五"教师继续教育学分 (附件1 六).
        certificate: Some(CertificateRule {
            mode: None,
            issuing_authority: String::new(),
            issuing_jurisdiction: String::new(),
            title: String::new(),
            show_credits: false,
            show_hours: false,
        }),
        // 区级…进行过程性抽测、督导 (培训试点工作方案 三(四)) without rates: no sampling.
        sampling: Some(SamplingRule {
            county_review: disabled_stage(),
            province_audit: disabled_stage(),
            offline_check: disabled_stage(),
            agreement_threshold: Ratio::new(80, 100),
            agreement_criterion: AgreementCriterion::PointEstimate,
            agreement_comparison: ThresholdComparison::AtLeast,
        }),
        carry_over: Some(carry_over()),
    }
}
