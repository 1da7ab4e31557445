//! Ratios, presets, validation, inheritance and the stored form.

use serde::Deserialize;
use serde::de::value::{Error as ValueError, MapDeserializer, SeqDeserializer};

use super::date;
use crate::division::DivisionCode;
use crate::person::{PersonRole, TeacherCategory};
use crate::policy::{
    CertificateMode, CertificateRule, CodeQuota, EvidenceKind, EvidenceKindLimit,
    EvidenceRequirement, EvidenceRule, GradingRule, HoursKind, HoursRequirement, HoursRule,
    HoursShareRule, PolicyRules, Preset, Ratio, ReferenceDate, Rubric, RubricCriterion,
    SamplingRule, SelectionCase, SelectionCondition, SelectionRequirement, SelectionRule,
    TeacherExcellentRule, ThresholdComparison, UnitGradeRule, preset,
};

use ThresholdComparison::{AtLeast, MoreThan};

#[test]
fn ratios_compare_exactly_by_cross_multiplication() {
    let rows: [(Ratio, u64, u64, ThresholdComparison, bool); 14] = [
        (Ratio::new(30, 100), 30, 100, AtLeast, true),
        (Ratio::new(30, 100), 30, 100, MoreThan, false),
        (Ratio::new(30, 100), 29, 100, AtLeast, false),
        (Ratio::new(2, 3), 30, 45, AtLeast, true),
        (Ratio::new(2, 3), 29, 45, AtLeast, false),
        // 2/3 of 3·10^18 is exactly 2·10^18; one less is below.
        (
            Ratio::new(2, 3),
            2_000_000_000_000_000_000,
            3_000_000_000_000_000_000,
            AtLeast,
            true,
        ),
        (
            Ratio::new(2, 3),
            1_999_999_999_999_999_999,
            3_000_000_000_000_000_000,
            AtLeast,
            false,
        ),
        (
            Ratio::new(2, 3),
            2_000_000_000_000_000_000,
            3_000_000_000_000_000_000,
            MoreThan,
            false,
        ),
        // Near u64::MAX and u32::MAX nothing overflows.
        (
            Ratio::new(u32::MAX, u32::MAX),
            u64::MAX,
            u64::MAX,
            AtLeast,
            true,
        ),
        (
            Ratio::new(u32::MAX - 1, u32::MAX),
            u64::MAX - 1,
            u64::MAX,
            AtLeast,
            true,
        ),
        (
            Ratio::new(u32::MAX - 1, u32::MAX),
            u64::MAX / 2,
            u64::MAX,
            AtLeast,
            false,
        ),
        // A whole of 0 is no share of anything, whatever the part.
        (Ratio::new(0, 1), 0, 0, AtLeast, false),
        (Ratio::new(0, 1), 5, 0, AtLeast, false),
        // A ratio with denominator 0 is invalid and never met.
        (Ratio::new(1, 0), 1, 1, AtLeast, false),
    ];
    for (ratio, part, whole, comparison, expected) in rows {
        assert_eq!(
            ratio.meets(part, whole, comparison),
            expected,
            "{part}/{whole} {comparison:?} {ratio:?}"
        );
    }
    // f64 cannot tell these apart; the cross-multiplication can.
    let whole = 3u64 << 60;
    let part = (2u64 << 60) - 1;
    assert!((part as f64 / whole as f64) >= 2.0 / 3.0);
    assert!(!Ratio::new(2, 3).meets(part, whole, AtLeast));
    assert_eq!(Ratio::new(30, 100).display(), "30%");
    assert_eq!(Ratio::new(1, 2).display(), "50%");
    assert_eq!(Ratio::new(2, 3).display(), "2/3");
    assert_eq!(Ratio::default(), Ratio::new(0, 1));
}

#[test]
fn every_preset_validates_and_sets_every_section() {
    for p in Preset::ALL {
        let rules = preset(p);
        assert_eq!(rules.validate(), Ok(()), "{p:?}");
        assert!(rules.unset_sections().is_empty(), "{p:?}");
        assert!(p.source().starts_with("seeds/"), "{p:?}");
        assert!(
            p.default_jurisdiction().starts_with("jurisdictions/"),
            "{p:?}"
        );
    }
}

#[test]
fn a_county_takes_the_preset_of_its_nearest_ancestor_or_itself() {
    let code = |s: &str| DivisionCode::parse(s).unwrap();
    let table = [
        ("640121", Some(Preset::Ningxia)),
        ("640000", Some(Preset::Ningxia)),
        ("110105", Some(Preset::Beijing)),
        ("341324", Some(Preset::Sixian)),
        ("341321", Some(Preset::Anhui)),
        ("341300", Some(Preset::Anhui)),
        ("340000", Some(Preset::Anhui)),
        ("440305", None),
        ("120101", None),
    ];
    for (county, expected) in table {
        assert_eq!(Preset::for_county(code(county)), expected, "{county}");
    }
}

#[test]
fn the_preset_of_a_county_is_what_its_code_prefix_gave_before() {
    // The rule it replaces: the policy label the assessment service guessed from the code.
    let by_prefix = |code: &str| match &code[..2] {
        "64" => Some(Preset::Ningxia),
        "11" => Some(Preset::Beijing),
        "34" if code == "341324" => Some(Preset::Sixian),
        "34" => Some(Preset::Anhui),
        _ => None,
    };
    for province in 11..=82 {
        for city in 0..=99 {
            for county in [0, 1, 5, 21, 24, 99] {
                let text = format!("{province:02}{city:02}{county:02}");
                assert_eq!(
                    Preset::for_county(DivisionCode::parse(&text).unwrap()),
                    by_prefix(&text),
                    "{text}"
                );
            }
        }
    }
}

#[test]
fn presets_transcribe_their_seeds() {
    // 《宁夏测评实施办法》§八: 等级证书 (合格、优秀) from the region's office.
    let ningxia = preset(Preset::Ningxia);
    let certificate = ningxia.certificate.unwrap();
    assert_eq!(certificate.mode, Some(CertificateMode::Level));
    assert!(
        certificate
            .issuing_authority
            .starts_with("宁夏回族自治区教育厅")
    );
    // 测评实施办法 五(一)3–4: 15 % / 15 %, then 5 % / 5 %, agreement 80 %.
    let sampling = ningxia.sampling.unwrap();
    assert_eq!(sampling.county_review.school_rate, Ratio::new(15, 100));
    assert_eq!(sampling.county_review.teacher_rate, Ratio::new(15, 100));
    assert_eq!(sampling.province_audit.school_rate, Ratio::new(5, 100));
    assert_eq!(sampling.province_audit.teacher_rate, Ratio::new(5, 100));
    assert_eq!(sampling.agreement_threshold, Ratio::new(80, 100));
    assert!(ningxia.selection.unwrap().age_reference_date.is_none());
    // 《泗县实施意见》附件2 §四(三)3: 由县教体局印发…各个微能力的认证证书.
    let sixian = preset(Preset::Sixian).certificate.unwrap();
    assert_eq!(sixian.mode, Some(CertificateMode::PerMicroCompetency));
    assert_eq!(sixian.issuing_authority, "泗县教育体育局");
    assert_eq!(
        preset(Preset::Anhui).certificate.unwrap().mode,
        Some(CertificateMode::PerMicroCompetency)
    );
    // 《北京试点方案》附件1 §六: credits, no certificate.
    let beijing = preset(Preset::Beijing);
    assert_eq!(beijing.certificate.unwrap().mode, None);
    assert!(!beijing.sampling.as_ref().unwrap().county_review.enabled);
    assert!(
        !preset(Preset::Anhui)
            .sampling
            .unwrap()
            .province_audit
            .enabled
    );
    // Beijing's hours add up to 50 (附件1 五(一)) and its videos are at most 45 minutes
    // (附件2 1).
    let hours = beijing.hours.unwrap();
    let sum: i64 = hours
        .requirements
        .iter()
        .map(|r| r.minimum_centihours)
        .sum();
    assert_eq!((sum, hours.total_minimum_centihours), (5000, 5000));
    let video = beijing
        .evidence
        .unwrap()
        .limits
        .into_iter()
        .find(|limit| limit.kind == EvidenceKind::Video)
        .unwrap();
    assert_eq!(video.max_duration_seconds, 2700);
    assert_eq!(video.content_types, vec!["video/mp4".to_string()]);
    // Carry-over everywhere (《宁夏实施方案》§三 第二阶段: 直至测评合格).
    for p in Preset::ALL {
        let carry_over = preset(p).carry_over.unwrap();
        assert!(carry_over.enabled && carry_over.keep_hours && carry_over.keep_passed_submissions);
    }
}

#[test]
fn overlay_replaces_whole_sections_and_inherits_the_rest() {
    let province = preset(Preset::Ningxia);
    // A county that only changes its hours: 40 in total, no per-kind minimums.
    let county = PolicyRules {
        hours: Some(HoursRule {
            total_minimum_centihours: 4000,
            ..HoursRule::default()
        }),
        ..PolicyRules::default()
    };
    let effective = county.overlay(&province);
    let hours = effective.hours.as_ref().unwrap();
    assert_eq!(hours.total_minimum_centihours, 4000);
    // The province's per-kind minimums and share are not merged in: the section is replaced.
    assert!(hours.requirements.is_empty());
    assert!(hours.share_rules.is_empty());
    assert_eq!(effective.selection, province.selection);
    assert_eq!(effective.certificate, province.certificate);
    assert_eq!(effective.carry_over, province.carry_over);

    // Nearest first: school-level nothing, county hours, city certificate, province the rest.
    let city = PolicyRules {
        certificate: Some(CertificateRule {
            mode: Some(CertificateMode::PerMicroCompetency),
            issuing_authority: "某市教育局".to_string(),
            title: "微能力认证证书".to_string(),
            ..CertificateRule::default()
        }),
        hours: Some(HoursRule::default()),
        ..PolicyRules::default()
    };
    let empty = PolicyRules::default();
    let chain = [&empty, &county, &city, &province];
    let effective = PolicyRules::effective(&chain);
    assert_eq!(effective.hours, county.hours);
    assert_eq!(effective.certificate, city.certificate);
    assert_eq!(effective.sampling, province.sampling);
    let sources = PolicyRules::section_sources(&chain);
    assert_eq!(sources[0], ("hours", Some(1)));
    assert_eq!(sources[6], ("certificate", Some(2)));
    assert_eq!(sources[7], ("sampling", Some(3)));
    assert_eq!(PolicyRules::effective(&[]), PolicyRules::default());
    assert_eq!(PolicyRules::default().unset_sections().len(), 9);
}

fn paths(rules: &PolicyRules) -> Vec<String> {
    rules
        .validate()
        .unwrap_err()
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn validation_reports_every_problem_with_its_proto_path() {
    let mut selection = preset(Preset::Ningxia).selection.unwrap();
    selection.age_reference_date = Some(ReferenceDate {
        year: 0,
        month: 2,
        day: 30,
    });
    // cases[2]: min_count negative and a maximum below the minimum.
    selection.cases[2].requirement.min_count = -1;
    selection.cases[2].requirement.max_count = 0;
    selection.cases[3].requirement.max_count = 2;
    selection.cases[3].requirement.min_count = 3;
    selection.cases[4].id = selection.cases[0].id.clone();
    selection.cases[5]
        .requirement
        .allowed_codes
        .push("D1".to_string());
    selection.cases[5]
        .requirement
        .allowed_codes
        .push("A1".to_string());
    selection.cases[6].condition.min_age = Some(60);
    selection.cases[6].condition.max_age = Some(40);
    // An ordinary teacher cannot take 4 from B/C when picking exactly 3.
    selection.cases[9].requirement.quotas[0].min_count = 4;
    let rules = PolicyRules {
        hours: Some(HoursRule {
            total_minimum_centihours: -1,
            requirements: vec![
                HoursRequirement {
                    kind: HoursKind::Practice,
                    minimum_centihours: 100,
                },
                HoursRequirement {
                    kind: HoursKind::Practice,
                    minimum_centihours: -5,
                },
            ],
            share_rules: vec![HoursShareRule {
                kinds: Vec::new(),
                minimum_share: Ratio::new(3, 2),
                source: String::new(),
            }],
            watch_rule: None,
        }),
        selection: Some(selection),
        evidence: Some(EvidenceRule {
            limits: vec![
                EvidenceKindLimit {
                    kind: EvidenceKind::DesignPlan,
                    content_types: vec!["pdf".to_string()],
                    max_bytes: 0,
                    max_duration_seconds: 60,
                },
                EvidenceKindLimit {
                    kind: EvidenceKind::DesignPlan,
                    content_types: Vec::new(),
                    max_bytes: 1,
                    max_duration_seconds: 0,
                },
            ],
            requirements: vec![EvidenceRequirement {
                micro_competencies: vec!["leadership".to_string(), "Q7".to_string()],
                required_kinds: vec![EvidenceKind::Video],
            }],
            max_total_bytes: -1,
        }),
        grading: Some(GradingRule {
            teacher_excellent: TeacherExcellentRule::Share,
            teacher_excellent_share: None,
            rubric: Some(Rubric {
                id: "r".to_string(),
                display_name: "r".to_string(),
                criteria: vec![
                    RubricCriterion {
                        id: "a".to_string(),
                        section: String::new(),
                        display_name: "a".to_string(),
                        max_points: 10,
                    },
                    RubricCriterion {
                        id: "a".to_string(),
                        section: String::new(),
                        display_name: "again".to_string(),
                        max_points: 0,
                    },
                ],
                total_points: 50,
            }),
            grade_from_rubric: true,
            pass_minimum_points: 60,
            excellent_minimum_points: 0,
            excellent_quota: Some(Ratio::new(1, 0)),
            ..GradingRule::default()
        }),
        school_grade: Some(UnitGradeRule {
            enabled: true,
            excellent_share: Ratio::new(0, 100),
            fail_share: Ratio::new(101, 100),
            ..UnitGradeRule::default()
        }),
        county_grade: Some(UnitGradeRule::default()),
        certificate: Some(CertificateRule {
            mode: Some(CertificateMode::Level),
            issuing_jurisdiction: "jurisdictions/64".to_string(),
            ..CertificateRule::default()
        }),
        sampling: Some(SamplingRule {
            agreement_threshold: Ratio::new(80, 0),
            ..preset(Preset::Ningxia).sampling.unwrap()
        }),
        carry_over: None,
    };
    let found = paths(&rules);
    let expected = [
        "rules.hours.total_minimum_centihours",
        "rules.hours.requirements[1].minimum_centihours",
        "rules.hours.requirements[1].kind",
        "rules.hours.share_rules[0].kinds",
        "rules.hours.share_rules[0].minimum_share",
        "rules.selection.age_reference_date",
        "rules.selection.cases[2].requirement.min_count",
        "rules.selection.cases[3].requirement.max_count",
        "rules.selection.cases[4].id",
        "rules.selection.cases[5].requirement.allowed_codes[24]",
        "rules.selection.cases[5].requirement.allowed_codes[25]",
        "rules.selection.cases[6].condition.max_age",
        "rules.selection.cases[9].requirement.quotas[0].min_count",
        "rules.evidence.limits[0].max_bytes",
        "rules.evidence.limits[0].max_duration_seconds",
        "rules.evidence.limits[0].content_types[0]",
        "rules.evidence.limits[1].kind",
        "rules.evidence.requirements[0].micro_competencies[1]",
        "rules.evidence.requirements[0].required_kinds[0]",
        "rules.evidence.max_total_bytes",
        "rules.grading.teacher_excellent_share",
        "rules.grading.rubric.criteria[1].id",
        "rules.grading.rubric.criteria[1].max_points",
        "rules.grading.rubric.total_points",
        "rules.grading.pass_minimum_points",
        "rules.grading.excellent_quota.denominator",
        "rules.school_grade.excellent_share.numerator",
        "rules.school_grade.fail_share",
        "rules.certificate.issuing_authority",
        "rules.certificate.title",
        "rules.certificate.issuing_jurisdiction",
        "rules.sampling.agreement_threshold.denominator",
    ];
    for path in expected {
        assert!(
            found.iter().any(|p| p == path),
            "missing {path} in {found:#?}"
        );
    }
    // Nothing else: every problem above, each once.
    let mut unexpected: Vec<&String> = found
        .iter()
        .filter(|p| !expected.contains(&p.as_str()))
        .collect();
    unexpected.sort();
    assert!(unexpected.is_empty(), "unexpected {unexpected:#?}");
    // The disabled county grade with its 0/1 shares is not checked.
    assert!(!found.iter().any(|p| p.starts_with("rules.county_grade")));
}

#[test]
fn validation_catches_rules_nobody_can_satisfy() {
    let case = |requirement: SelectionRequirement| SelectionCase {
        id: "x".to_string(),
        display_name: "x".to_string(),
        condition: SelectionCondition::default(),
        requirement,
        source: String::new(),
    };
    let rows: [(&str, SelectionRequirement, &str); 4] = [
        (
            "more picks than allowed codes",
            SelectionRequirement {
                min_count: 3,
                allowed_codes: vec!["A1".to_string(), "A2".to_string()],
                ..SelectionRequirement::default()
            },
            "rules.selection.cases[0].requirement.min_count",
        ),
        (
            "40 credits from at most two picks (C6 + C7 = 20)",
            SelectionRequirement {
                min_count: 1,
                max_count: 2,
                min_credits: 40,
                ..SelectionRequirement::default()
            },
            "rules.selection.cases[0].requirement.min_credits",
        ),
        (
            "a quota from codes outside the allowed ones",
            SelectionRequirement {
                min_count: 1,
                allowed_codes: vec!["A1".to_string()],
                quotas: vec![CodeQuota {
                    codes: vec!["B1".to_string()],
                    min_count: 1,
                    max_count: 0,
                }],
                ..SelectionRequirement::default()
            },
            "rules.selection.cases[0].requirement.quotas[0].min_count",
        ),
        (
            "a quota with no codes",
            SelectionRequirement {
                min_count: 1,
                quotas: vec![CodeQuota::default()],
                ..SelectionRequirement::default()
            },
            "rules.selection.cases[0].requirement.quotas[0].codes",
        ),
    ];
    for (name, requirement, path) in rows {
        let rules = PolicyRules {
            selection: Some(SelectionRule {
                cases: vec![case(requirement)],
                ..SelectionRule::default()
            }),
            ..PolicyRules::default()
        };
        assert!(paths(&rules).iter().any(|p| p == path), "{name}");
    }
    // A case after one that matches everyone never applies.
    let rules = PolicyRules {
        selection: Some(SelectionRule {
            cases: vec![
                case(SelectionRequirement::default()),
                SelectionCase {
                    id: "y".to_string(),
                    ..case(SelectionRequirement::default())
                },
            ],
            ..SelectionRule::default()
        }),
        ..PolicyRules::default()
    };
    assert_eq!(paths(&rules), vec!["rules.selection.cases[1]".to_string()]);
    let rules = PolicyRules {
        selection: Some(SelectionRule::default()),
        ..PolicyRules::default()
    };
    assert_eq!(paths(&rules), vec!["rules.selection.cases".to_string()]);
}

#[test]
fn a_reference_date_of_year_0_falls_in_the_batchs_year() {
    let year_end = ReferenceDate {
        year: 0,
        month: 12,
        day: 31,
    };
    assert_eq!(year_end.resolve(date(2021, 3, 1)), Some(date(2021, 12, 31)));
    let leap_day = ReferenceDate {
        year: 0,
        month: 2,
        day: 29,
    };
    assert_eq!(leap_day.resolve(date(2021, 3, 1)), Some(date(2021, 2, 28)));
    assert_eq!(leap_day.resolve(date(2020, 3, 1)), Some(date(2020, 2, 29)));
    let fixed = ReferenceDate {
        year: 2020,
        month: 9,
        day: 1,
    };
    assert_eq!(fixed.resolve(date(2022, 3, 1)), Some(date(2020, 9, 1)));
    let rule = SelectionRule {
        age_reference_date: Some(year_end),
        ..SelectionRule::default()
    };
    assert_eq!(
        rule.reference_date_for(date(2021, 3, 1)),
        date(2021, 12, 31)
    );
    assert_eq!(
        SelectionRule::default().reference_date_for(date(2021, 3, 1)),
        date(2021, 3, 1)
    );
}

#[test]
fn categories_and_roles_are_stored_as_their_keys() {
    let keys = vec!["special_or_regional_backbone", "kindergarten"];
    let categories: Vec<TeacherCategory> =
        crate::policy::keyed::deserialize(SeqDeserializer::<_, ValueError>::new(keys.into_iter()))
            .unwrap();
    assert_eq!(
        categories,
        vec![
            TeacherCategory::SpecialOrRegionalBackbone,
            TeacherCategory::Kindergarten
        ]
    );
    let roles: Vec<PersonRole> = crate::policy::keyed::deserialize(
        SeqDeserializer::<_, ValueError>::new(vec!["teaching_researcher"].into_iter()),
    )
    .unwrap();
    assert_eq!(roles, vec![PersonRole::TeachingResearcher]);
    let error =
        crate::policy::keyed::deserialize::<TeacherCategory, _>(
            SeqDeserializer::<_, ValueError>::new(vec!["特级教师"].into_iter()),
        )
        .unwrap_err();
    assert!(error.to_string().contains("unknown teacher category"));
}

#[test]
fn stored_rules_missing_fields_still_load() {
    // An empty object is a policy with every section unset.
    let empty = MapDeserializer::<_, ValueError>::new(Vec::<(&str, i64)>::new().into_iter());
    assert_eq!(
        PolicyRules::deserialize(empty).unwrap(),
        PolicyRules::default()
    );
    // A requirement stored before `minimum_centihours` existed would load with 0; its kind is
    // required.
    let no_kind =
        MapDeserializer::<_, ValueError>::new(vec![("minimum_centihours", 500i64)].into_iter());
    assert!(HoursRequirement::deserialize(no_kind).is_err());
    let share = MapDeserializer::<_, ValueError>::new(Vec::<(&str, i64)>::new().into_iter());
    assert_eq!(
        HoursShareRule::deserialize(share).unwrap(),
        HoursShareRule::default()
    );
    let grading =
        MapDeserializer::<_, ValueError>::new(vec![("pass_minimum_points", 60i64)].into_iter());
    let grading = GradingRule::deserialize(grading).unwrap();
    assert_eq!(grading.pass_minimum_points, 60);
    assert_eq!(
        grading.teacher_excellent,
        TeacherExcellentRule::AllSubmissions
    );
}

/// Issue 21 asked whether the demo's spot check drawing 107 of 107 schools was right. It is the
/// policy: 《泗县实施意见》附件2 四5 (县局监督): 县局采用专家抽查（或第三方评估）的方式，检查验收
/// 各校校本应用考核结果 — every school's results are checked, by spot-checking its teachers
/// (10 %, at least one: the seed gives no teacher rate, the preset's choice). No province audit.
#[test]
fn sixians_county_checks_every_school_and_a_tenth_of_its_teachers() {
    let sampling = preset(Preset::Sixian).sampling.unwrap();
    let review = sampling.county_review;
    assert!(review.enabled);
    assert_eq!(review.school_rate, Ratio::new(1, 1));
    assert_eq!(review.teacher_rate, Ratio::new(10, 100));
    assert_eq!(review.minimum_per_stratum, 1);
    assert!(!sampling.province_audit.enabled);
}
