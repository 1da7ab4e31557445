//! Selection rules of the four presets at their boundaries (issue 3 "Done when": age 49 vs 50
//! on the reference date, 19 vs 20 credits, 2 vs 3 picks, the B/C quotas, kindergarten).

use super::{date, picks};
use crate::person::{PersonRole, TeacherCategory};
use crate::policy::{
    Preset, ProblemKind, Profile, SelectionCase, SelectionCondition, SelectionRequirement,
    SelectionRule, Verdict, compact_codes, compact_codes_joined, draw_picks, evaluate_selection,
    matching_case, preset,
};

use PersonRole::{AuxiliaryStaff, Principal, Teacher, TeachingResearcher};
use ProblemKind::{
    CodeNotAllowed, CreditsTooLow, DuplicateCode, NoMatchingCase, QuotaNotMet, TooFew, TooMany,
    UnknownCode,
};
use TeacherCategory::{CityCountyBackbone, Kindergarten, Ordinary, SpecialOrRegionalBackbone};

/// The batch's open date all rows are judged on (the Ningxia preset sets no reference date, so
/// ages are taken on the open date).
fn reference() -> time::Date {
    date(2021, 9, 1)
}

/// Born the day after the reference date, 50 years earlier: 49 on the reference date.
fn turns_50_tomorrow() -> time::Date {
    date(1971, 9, 2)
}

/// Born on the reference date 50 years earlier: 50 that very day.
fn turns_50_today() -> time::Date {
    date(1971, 9, 1)
}

/// 50 since yesterday.
fn turned_50_yesterday() -> time::Date {
    date(1971, 8, 31)
}

/// Clearly under 50.
fn young() -> time::Date {
    date(1990, 3, 15)
}

/// Clearly over 50.
fn senior() -> time::Date {
    date(1966, 5, 20)
}

fn judge(
    p: Preset,
    birth_date: time::Date,
    category: TeacherCategory,
    roles: &[PersonRole],
    codes: &str,
) -> Verdict {
    let rules = preset(p);
    let rule = rules
        .selection
        .as_ref()
        .expect("every preset sets selection");
    let profile = Profile {
        birth_date,
        category,
        roles: roles.to_vec(),
    };
    let reference_date = rule.reference_date_for(reference());
    evaluate_selection(rule, &profile, reference_date, &picks(codes), p.label_zh())
}

struct Row {
    name: &'static str,
    preset: Preset,
    birth: time::Date,
    category: TeacherCategory,
    roles: &'static [PersonRole],
    picks: &'static str,
    case_id: &'static str,
    problems: &'static [ProblemKind],
}

fn run(rows: &[Row]) {
    for row in rows {
        let verdict = judge(row.preset, row.birth, row.category, row.roles, row.picks);
        let kinds: Vec<ProblemKind> = verdict.problems.iter().map(|p| p.kind).collect();
        assert_eq!(verdict.case_id, row.case_id, "{}: case", row.name);
        assert_eq!(
            kinds, row.problems,
            "{}: problems ({})",
            row.name, verdict.message
        );
        assert_eq!(
            verdict.accepted,
            row.problems.is_empty(),
            "{}: accepted",
            row.name
        );
        assert!(!verdict.message.is_empty(), "{}: message", row.name);
    }
}

#[test]
fn ningxia_age_50_is_taken_in_completed_years_on_the_reference_date() {
    // 《宁夏测评实施办法》§三(一)1 "50 岁以上…自主选择 1-2 个" and §三(一)2
    // "50 岁以下…四个类别"; 以上 includes 50 (min_age 50), 以下 means 49 and under (max_age 49).
    run(&[
        Row {
            name: "the day before the 50th birthday two picks are too few",
            preset: Preset::Ningxia,
            birth: turns_50_tomorrow(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 B1",
            case_id: "ningxia.under50.ordinary",
            problems: &[TooFew],
        },
        Row {
            name: "the day before the 50th birthday three picks with one B pass",
            preset: Preset::Ningxia,
            birth: turns_50_tomorrow(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A2 B1",
            case_id: "ningxia.under50.ordinary",
            problems: &[],
        },
        Row {
            name: "on the 50th birthday two free picks pass",
            preset: Preset::Ningxia,
            birth: turns_50_today(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A2",
            case_id: "ningxia.over50",
            problems: &[],
        },
        Row {
            name: "on the 50th birthday three picks are too many",
            preset: Preset::Ningxia,
            birth: turns_50_today(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A2 B1",
            case_id: "ningxia.over50",
            problems: &[TooMany],
        },
        Row {
            name: "the day after the 50th birthday one pick passes",
            preset: Preset::Ningxia,
            birth: turned_50_yesterday(),
            category: SpecialOrRegionalBackbone,
            roles: &[Teacher],
            picks: "A2",
            case_id: "ningxia.over50",
            problems: &[],
        },
        Row {
            name: "over 50 with no pick is too few",
            preset: Preset::Ningxia,
            birth: senior(),
            category: Kindergarten,
            roles: &[Teacher],
            picks: "",
            case_id: "ningxia.over50",
            problems: &[TooFew],
        },
    ]);
}

#[test]
fn ningxia_under_50_categories_and_their_quotas() {
    // 《宁夏测评实施办法》§三(一)2(1)–(4) and §三(一)3.
    run(&[
        Row {
            // 三(一)2(3): 其中至少 1 个微能力来自 B1-B10、C1-C7.
            name: "an ordinary teacher with no B or C pick misses the quota",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A3 A5",
            case_id: "ningxia.under50.ordinary",
            problems: &[QuotaNotMet],
        },
        Row {
            name: "an ordinary teacher with one B pick passes",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A3 B5",
            case_id: "ningxia.under50.ordinary",
            problems: &[],
        },
        Row {
            name: "an ordinary teacher with two picks is short of three",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 C7",
            case_id: "ningxia.under50.ordinary",
            problems: &[TooFew],
        },
        Row {
            name: "an ordinary teacher with four picks has one too many",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A2 B1 C1",
            case_id: "ningxia.under50.ordinary",
            problems: &[TooMany],
        },
        Row {
            // 三(一)3: 教辅人员…测评标准与教师相同.
            name: "auxiliary staff under 50 follow the ordinary teachers' rule",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[AuxiliaryStaff],
            picks: "A1 A3 A5",
            case_id: "ningxia.under50.ordinary",
            problems: &[QuotaNotMet],
        },
        Row {
            // 三(一)2(2): 其中 2 个微能力来自 B1-B10、C1-C7 (read as at least 2).
            name: "a city or county backbone teacher with one B or C pick misses the quota",
            preset: Preset::Ningxia,
            birth: young(),
            category: CityCountyBackbone,
            roles: &[Teacher],
            picks: "A1 A2 B1",
            case_id: "ningxia.under50.backbone",
            problems: &[QuotaNotMet],
        },
        Row {
            name: "a city or county backbone teacher with two B or C picks passes",
            preset: Preset::Ningxia,
            birth: young(),
            category: CityCountyBackbone,
            roles: &[Teacher],
            picks: "A1 B1 C1",
            case_id: "ningxia.under50.backbone",
            problems: &[],
        },
        Row {
            name: "a city or county backbone teacher with three B or C picks passes",
            preset: Preset::Ningxia,
            birth: young(),
            category: CityCountyBackbone,
            roles: &[Teacher],
            picks: "B2 B9 C4",
            case_id: "ningxia.under50.backbone",
            problems: &[],
        },
        Row {
            // 三(一)2(1): 从 A1、A8-A13、B1-B10、C1-C7 中选择 3 个.
            name: "a special-grade teacher may not pick A2",
            preset: Preset::Ningxia,
            birth: young(),
            category: SpecialOrRegionalBackbone,
            roles: &[Teacher],
            picks: "A2 B1 C1",
            case_id: "ningxia.under50.special",
            problems: &[CodeNotAllowed],
        },
        Row {
            name: "a special-grade teacher may pick A1, A8 and C7",
            preset: Preset::Ningxia,
            birth: young(),
            category: SpecialOrRegionalBackbone,
            roles: &[Teacher],
            picks: "A1 A8 C7",
            case_id: "ningxia.under50.special",
            problems: &[],
        },
        Row {
            name: "a special-grade teacher with A7 and only two picks gets both problems",
            preset: Preset::Ningxia,
            birth: young(),
            category: SpecialOrRegionalBackbone,
            roles: &[Teacher],
            picks: "A7 A13",
            case_id: "ningxia.under50.special",
            problems: &[TooFew, CodeNotAllowed],
        },
        Row {
            // 三(一)3: 年龄在 50 岁以下的教研员测评标准与特级教师、自治区骨干、省级教学名师相同.
            name: "a teaching researcher under 50 follows the special-grade rule",
            preset: Preset::Ningxia,
            birth: turns_50_tomorrow(),
            category: Ordinary,
            roles: &[TeachingResearcher],
            picks: "A2 B1 C1",
            case_id: "ningxia.under50.researcher",
            problems: &[CodeNotAllowed],
        },
        Row {
            name: "a teaching researcher under 50 with allowed codes passes",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher, TeachingResearcher],
            picks: "A1 B1 C1",
            case_id: "ningxia.under50.researcher",
            problems: &[],
        },
        Row {
            name: "a teaching researcher aged 50 picks one or two freely",
            preset: Preset::Ningxia,
            birth: turns_50_today(),
            category: Ordinary,
            roles: &[TeachingResearcher],
            picks: "A2",
            case_id: "ningxia.over50",
            problems: &[],
        },
        Row {
            // 三(一)2(4): 幼儿园教师…自主选择 3 个微能力点.
            name: "a kindergarten teacher may pick three A codes",
            preset: Preset::Ningxia,
            birth: young(),
            category: Kindergarten,
            roles: &[Teacher],
            picks: "A2 A3 A4",
            case_id: "ningxia.under50.kindergarten",
            problems: &[],
        },
        Row {
            name: "a kindergarten teacher with two picks is short of three",
            preset: Preset::Ningxia,
            birth: young(),
            category: Kindergarten,
            roles: &[Teacher],
            picks: "A2 A3",
            case_id: "ningxia.under50.kindergarten",
            problems: &[TooFew],
        },
    ]);
}

#[test]
fn ningxia_principals_follow_the_under_50_rule_at_any_age() {
    // 《宁夏测评实施办法》§三(二)2: 校长信息化教学指导力测评。按照上述（一）中
    // 的 50 岁以下教师测评标准执行.
    run(&[
        Row {
            name: "a principal over 50 still needs three picks with a B or C",
            preset: Preset::Ningxia,
            birth: senior(),
            category: Ordinary,
            roles: &[Teacher, Principal],
            picks: "A1 A2",
            case_id: "ningxia.principal.other",
            problems: &[TooFew, QuotaNotMet],
        },
        Row {
            name: "a special-grade principal over 50 may not pick A2",
            preset: Preset::Ningxia,
            birth: senior(),
            category: SpecialOrRegionalBackbone,
            roles: &[Principal],
            picks: "A2 B1 C1",
            case_id: "ningxia.principal.special",
            problems: &[CodeNotAllowed],
        },
        Row {
            name: "a kindergarten head picks three freely",
            preset: Preset::Ningxia,
            birth: young(),
            category: Kindergarten,
            roles: &[Principal],
            picks: "A1 A2 A3",
            case_id: "ningxia.principal.kindergarten",
            problems: &[],
        },
        Row {
            name: "a backbone principal needs two B or C picks",
            preset: Preset::Ningxia,
            birth: young(),
            category: CityCountyBackbone,
            roles: &[Principal],
            picks: "A1 A2 C1",
            case_id: "ningxia.principal.backbone",
            problems: &[QuotaNotMet],
        },
    ]);
    let rules = preset(Preset::Ningxia);
    // 三(二)1: 校长信息化领导力测评.
    assert!(rules.selection.unwrap().principal_leadership_assessment);
}

#[test]
fn anhui_and_sixian_need_20_credits() {
    // 《安徽指导意见》§二(四)2 and §四(一) "合计不少于20学分"; 《泗县实施意见》§一 and 附件2
    // §二(二)2. Credits from the table in 《安徽指导意见》§四(一): A1–A4 4, A5–A8 5, B7 7, B9 8.
    for p in [Preset::Anhui, Preset::Sixian] {
        let id: &'static str = if p == Preset::Anhui {
            "anhui.all"
        } else {
            "sixian.all"
        };
        run(&[
            Row {
                name: "A1+A2+A3+B7 = 19 credits is one short",
                preset: p,
                birth: young(),
                category: Ordinary,
                roles: &[Teacher],
                picks: "A1 A2 A3 B7",
                case_id: id,
                problems: &[CreditsTooLow],
            },
            Row {
                name: "A1+A2+A3+B9 = 20 credits passes",
                preset: p,
                birth: young(),
                category: Ordinary,
                roles: &[Teacher],
                picks: "A1 A2 A3 B9",
                case_id: id,
                problems: &[],
            },
            Row {
                name: "A1+A2+A3+A4 = 16 credits is short",
                preset: p,
                birth: senior(),
                category: Kindergarten,
                roles: &[Teacher],
                picks: "A1 A2 A3 A4",
                case_id: id,
                problems: &[CreditsTooLow],
            },
            Row {
                name: "A1+A2+A3+A4+A5 = 21 credits passes",
                preset: p,
                birth: senior(),
                category: Kindergarten,
                roles: &[Teacher],
                picks: "A1 A2 A3 A4 A5",
                case_id: id,
                problems: &[],
            },
            Row {
                name: "C6+C7 = 20 credits in two picks passes",
                preset: p,
                birth: young(),
                category: Ordinary,
                roles: &[Principal],
                picks: "C6 C7",
                case_id: id,
                problems: &[],
            },
            Row {
                name: "nothing picked is too few and too few credits",
                preset: p,
                birth: young(),
                category: Ordinary,
                roles: &[Teacher],
                picks: "",
                case_id: id,
                problems: &[TooFew, CreditsTooLow],
            },
        ]);
        let verdict = judge(p, young(), Ordinary, &[Teacher], "A1 A2 A3 B7");
        assert_eq!(verdict.total_credits, 19);
        let verdict = judge(p, young(), Ordinary, &[Teacher], "A1 A2 A3 B9");
        assert_eq!(verdict.total_credits, 20);
    }
}

#[test]
fn beijing_needs_at_least_two_micro_competencies() {
    // 《北京试点方案》附件3 §三(三)(四): 至少涵盖2个微能力点.
    run(&[
        Row {
            name: "one micro-competency is too few",
            preset: Preset::Beijing,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1",
            case_id: "beijing.all",
            problems: &[TooFew],
        },
        Row {
            name: "two micro-competencies pass",
            preset: Preset::Beijing,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 B2",
            case_id: "beijing.all",
            problems: &[],
        },
        Row {
            name: "five micro-competencies pass, there is no maximum",
            preset: Preset::Beijing,
            birth: senior(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A2 B2 C1 C7",
            case_id: "beijing.all",
            problems: &[],
        },
    ]);
}

#[test]
fn unknown_and_repeated_codes_are_reported_and_counted_once() {
    run(&[
        Row {
            name: "an unknown code is reported and does not count",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 B1 X9",
            case_id: "ningxia.under50.ordinary",
            problems: &[UnknownCode, TooFew],
        },
        Row {
            name: "A14 is not a micro-competency",
            preset: Preset::Beijing,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 A14",
            case_id: "beijing.all",
            problems: &[UnknownCode, TooFew],
        },
        Row {
            name: "a repeated code is reported and counts once",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "A1 B1 b1",
            case_id: "ningxia.under50.ordinary",
            problems: &[DuplicateCode, TooFew],
        },
        Row {
            name: "codes are matched case-insensitively",
            preset: Preset::Ningxia,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "a1 a2 c3",
            case_id: "ningxia.under50.ordinary",
            problems: &[],
        },
        Row {
            name: "a repeated code does not add its credits twice",
            preset: Preset::Anhui,
            birth: young(),
            category: Ordinary,
            roles: &[Teacher],
            picks: "C7 C7 A1",
            case_id: "anhui.all",
            problems: &[DuplicateCode, CreditsTooLow],
        },
    ]);
    let verdict = judge(
        Preset::Ningxia,
        young(),
        Ordinary,
        &[Teacher],
        "A1 B1 X9 A1",
    );
    let unknown = &verdict.problems[0];
    assert_eq!(unknown.codes, vec!["X9".to_string()]);
    let duplicate = &verdict.problems[1];
    assert_eq!(duplicate.kind, DuplicateCode);
    assert_eq!(duplicate.codes, vec!["A1".to_string()]);
    assert_eq!(
        verdict.message,
        "宁夏，50岁以下其他教师：需选 3 项微能力，其中至少 1 项来自 B1–B10 或 C1–C7；\
         已选 A1、B1、X9、A1（A1 重复；X9 不是微能力编号）"
    );
}

#[test]
fn the_message_for_the_issues_example_names_the_rule_and_the_picks() {
    // Issue 3 "Selections": "Ningxia, category ordinary teacher under 50: needs 3
    // micro-competencies with at least 1 from B1–B10 or C1–C7; got A1, A3, A5"; the proto's
    // SelectionVerdict.message example is the Chinese sentence below.
    let verdict = judge(Preset::Ningxia, young(), Ordinary, &[Teacher], "A1 A3 A5");
    assert!(!verdict.accepted);
    assert!(verdict.message.contains("需选 3 项"), "{}", verdict.message);
    assert!(verdict.message.contains("B1–B10"), "{}", verdict.message);
    assert!(
        verdict.message.contains("已选 A1、A3、A5"),
        "{}",
        verdict.message
    );
    assert_eq!(
        verdict.message,
        "宁夏，50岁以下其他教师：需选 3 项微能力，其中至少 1 项来自 B1–B10 或 C1–C7；已选 A1、A3、A5"
    );
    assert_eq!(verdict.case_display_name, "50岁以下其他教师");
    assert_eq!(verdict.problems.len(), 1);
    assert_eq!(
        verdict.problems[0].message,
        "还需从 B1–B10、C1–C7 中至少选 1 项"
    );
    assert_eq!(verdict.problems[0].codes.len(), 17);
}

#[test]
fn messages_say_what_to_change_for_every_kind_of_rule() {
    let cases = [
        (
            judge(
                Preset::Ningxia,
                young(),
                SpecialOrRegionalBackbone,
                &[Teacher],
                "A2 B1 C1",
            ),
            "宁夏，50岁以下特级教师、塞上名师和自治区级骨干教师：需从 A1、A8–A13、B1–B10、C1–C7 中选 3 \
             项微能力；已选 A2、B1、C1",
            vec!["A2 不在可选范围 A1、A8–A13、B1–B10、C1–C7 内，请改选范围内的微能力"],
        ),
        (
            judge(
                Preset::Ningxia,
                young(),
                CityCountyBackbone,
                &[Teacher],
                "A1 A2 B1",
            ),
            "宁夏，50岁以下市（县、区）级名师骨干教师：需选 3 项微能力，其中至少 2 项来自 B1–B10 或 C1–C7；\
             已选 A1、A2、B1",
            vec!["还需从 B1–B10、C1–C7 中至少选 1 项（共需 2 项，已有 1 项）"],
        ),
        (
            judge(Preset::Ningxia, senior(), Ordinary, &[Teacher], "A1 A2 B1"),
            "宁夏，50岁以上教师：需选 1–2 项微能力；已选 A1、A2、B1",
            vec!["最多可选 2 项，已选 3 项，请去掉 1 项"],
        ),
        (
            judge(Preset::Anhui, young(), Ordinary, &[Teacher], "A1 A2 A3 B7"),
            "安徽，全体教师：需至少选 1 项微能力，学分合计不少于 20；已选 A1、A2、A3、B7（合计 19 学分）",
            vec!["学分合计 19，还差 1 学分（至少 20 学分）"],
        ),
        (
            judge(Preset::Beijing, young(), Ordinary, &[Teacher], "A1"),
            "北京，全体教师：需至少选 2 项微能力；已选 A1",
            vec!["还需再选 1 项（至少 2 项，已选 1 项）"],
        ),
        (
            judge(Preset::Beijing, young(), Ordinary, &[Teacher], ""),
            "北京，全体教师：需至少选 2 项微能力；尚未选择",
            vec!["还需再选 2 项（至少 2 项，已选 0 项）"],
        ),
        (
            judge(Preset::Sixian, young(), Ordinary, &[Teacher], "A1 A2 A3 B9"),
            "泗县，全体教师：已选 A1、A2、A3、B9（合计 20 学分），符合要求",
            vec![],
        ),
        (
            judge(Preset::Ningxia, young(), Ordinary, &[Teacher], "A1 A3 B5"),
            "宁夏，50岁以下其他教师：已选 A1、A3、B5，符合要求",
            vec![],
        ),
    ];
    for (verdict, message, problems) in cases {
        assert_eq!(verdict.message, message);
        let got: Vec<&str> = verdict
            .problems
            .iter()
            .map(|p| p.message.as_str())
            .collect();
        assert_eq!(got, problems, "{message}");
    }
}

#[test]
fn a_participant_no_case_fits_is_refused_with_a_reason() {
    let rule = SelectionRule {
        age_reference_date: None,
        cases: vec![SelectionCase {
            id: "young.only".to_string(),
            display_name: "50岁以下教师".to_string(),
            condition: SelectionCondition {
                max_age: Some(49),
                ..SelectionCondition::default()
            },
            requirement: SelectionRequirement {
                min_count: 1,
                ..SelectionRequirement::default()
            },
            source: String::new(),
        }],
        principal_leadership_assessment: false,
    };
    let profile = Profile {
        birth_date: senior(),
        category: Ordinary,
        roles: vec![Teacher, Principal],
    };
    let verdict = evaluate_selection(&rule, &profile, reference(), &picks("A1"), "测试");
    assert!(!verdict.accepted);
    assert_eq!(verdict.case_id, "");
    assert_eq!(verdict.age, 55);
    assert_eq!(verdict.problems.len(), 1);
    assert_eq!(verdict.problems[0].kind, NoMatchingCase);
    assert_eq!(
        verdict.message,
        "测试：没有适用于该教师（55岁，普通教师，校长）的微能力选择规则，请核对出生日期、教师类别和身份"
    );
    assert!(matching_case(&rule, &profile, reference()).is_none());
    let unlabelled = evaluate_selection(&rule, &profile, reference(), &picks("A1"), "");
    assert!(
        unlabelled.message.starts_with("没有适用于该教师"),
        "{}",
        unlabelled.message
    );
}

#[test]
fn the_verdict_carries_the_age_credits_and_reference_date() {
    let verdict = judge(
        Preset::Ningxia,
        turns_50_tomorrow(),
        Ordinary,
        &[Teacher],
        "C6 C7 A1",
    );
    assert_eq!(verdict.age, 49);
    assert_eq!(verdict.age_reference_date, reference());
    assert_eq!(verdict.total_credits, 24);
    // A birthday on 29 February counts from 1 March in a common year (resident_id::age_on).
    let rule = preset(Preset::Ningxia).selection.unwrap();
    let leap = Profile {
        birth_date: date(1972, 2, 29),
        category: Ordinary,
        roles: vec![Teacher],
    };
    let on_28 = evaluate_selection(&rule, &leap, date(2022, 2, 28), &picks("A1"), "宁夏");
    let on_1 = evaluate_selection(&rule, &leap, date(2022, 3, 1), &picks("A1"), "宁夏");
    assert_eq!(
        (on_28.age, on_28.case_id.as_str()),
        (49, "ningxia.under50.ordinary")
    );
    assert_eq!((on_1.age, on_1.case_id.as_str()), (50, "ningxia.over50"));
}

#[test]
fn code_lists_are_printed_as_compact_ranges() {
    let rows: [(&[&str], &str); 7] = [
        (
            &["A1", "A8", "A9", "A10", "A11", "A12", "A13"],
            "A1、A8–A13",
        ),
        (&["C7", "C1", "C2", "C3", "C4", "C5", "C6"], "C1–C7"),
        (&["B2", "A1", "B1", "B3", "C1", "C2"], "A1、B1–B3、C1、C2"),
        // A13 and B1 are neighbours in the table but not in one environment.
        (&["A12", "A13", "B1"], "A12、A13、B1"),
        (&["a1", " A1 ", "Z9"], "A1、Z9"),
        (&[], ""),
        (
            &["B10", "B9", "B8", "B7", "B6", "B5", "B4", "B3", "B2", "B1"],
            "B1–B10",
        ),
    ];
    for (codes, expected) in rows {
        assert_eq!(compact_codes_joined(codes, "、"), expected, "{codes:?}");
    }
    assert_eq!(
        compact_codes(&crate::policy::code_range('A', 1, 13)),
        vec!["A1–A13".to_string()]
    );
}

/// A draw's random numbers below `n`, from the SplitMix64 the demo's roster also draws with.
fn below(rng: &mut tica_fuzz::Rng, n: u64) -> u64 {
    rng.next_u64() % n.max(1)
}

/// A popularity that favours the A-codes, the ones a quota on B and C must push back against.
fn popularity(code: &str) -> u64 {
    match code {
        "A3" | "A5" | "A6" => 12,
        "A1" | "A9" | "B2" | "B6" => 8,
        "C1" | "A2" | "A7" | "B1" => 5,
        _ => 2,
    }
}

#[test]
fn every_draw_is_accepted_for_every_case_of_every_preset_over_200_seeds() {
    // Each case judged alone: the rule's first matching case is not what is checked here.
    for p in [
        Preset::Ningxia,
        Preset::Beijing,
        Preset::Anhui,
        Preset::Sixian,
    ] {
        let rule = preset(p).selection.expect("every preset sets selection");
        for case in &rule.cases {
            let alone = SelectionRule {
                cases: vec![SelectionCase {
                    condition: SelectionCondition::default(),
                    ..case.clone()
                }],
                ..rule.clone()
            };
            let profile = Profile {
                birth_date: young(),
                category: Ordinary,
                roles: vec![Teacher],
            };
            for seed in 0..200 {
                let mut rng = tica_fuzz::Rng::new(seed);
                let drawn = draw_picks(&case.requirement, |n| below(&mut rng, n), popularity);
                let codes: Vec<String> = drawn.iter().map(|c| c.to_string()).collect();
                let verdict = evaluate_selection(&alone, &profile, reference(), &codes, "");
                assert!(
                    verdict.accepted,
                    "{} seed {seed}: {drawn:?} {}",
                    case.id, verdict.message
                );
                assert_eq!(verdict.case_id, case.id);
            }
        }
    }
}

#[test]
fn a_draw_takes_its_count_first_when_the_case_allows_a_range() {
    // Ningxia 50 岁以上 (《宁夏测评实施办法》§三(一)1): 1–2, any.
    let rule = preset(Preset::Ningxia).selection.unwrap();
    let over50 = rule
        .cases
        .iter()
        .find(|c| c.id == "ningxia.over50")
        .unwrap();
    let mut asked = Vec::new();
    let mut answers = [1, 29, 0].into_iter();
    let drawn = draw_picks(
        &over50.requirement,
        |n| {
            asked.push(n);
            answers.next().unwrap()
        },
        |_| 1,
    );
    // 1 + 1 = two codes: the last of the 30, then the first of the 29 left.
    assert_eq!(asked, [2, 30, 29]);
    assert_eq!(drawn, ["A1", "C7"]);
}

#[test]
fn a_draw_meets_each_quotas_minimum_first_then_fills_from_the_allowed_codes_in_table_order() {
    // Ningxia 50岁以下市（县、区）级名师骨干教师 (测评实施办法 三(一)2(2)): 3, at least 2 from B, C.
    let rule = preset(Preset::Ningxia).selection.unwrap();
    let backbone = rule
        .cases
        .iter()
        .find(|c| c.id == "ningxia.under50.backbone")
        .unwrap();
    let mut asked = Vec::new();
    let drawn = draw_picks(
        &backbone.requirement,
        |n| {
            asked.push(n);
            0
        },
        |_| 1,
    );
    // B1 and B2 from the 17 blended and smart codes, then A1 from the 28 left.
    assert_eq!(asked, [17, 16, 28]);
    assert_eq!(drawn, ["A1", "B1", "B2"]);
}

#[test]
fn a_draw_keeps_going_until_the_credits_are_met() {
    // 每位教师所选微能力，合计不少于20学分 (《安徽指导意见》§四(一)).
    let rule = preset(Preset::Anhui).selection.unwrap();
    let mut rng = tica_fuzz::Rng::new(7);
    let drawn = draw_picks(&rule.cases[0].requirement, |n| below(&mut rng, n), |_| 1);
    let credits: Vec<u32> = drawn
        .iter()
        .map(|c| u32::from(crate::micro_competency::by_code(c).unwrap().credits))
        .collect();
    let total: u32 = credits.iter().sum();
    assert!(total >= 20, "{drawn:?}");
    // It stops at the first code that reaches 20: without the largest, the total falls short.
    assert!(total - credits.iter().max().unwrap() < 20, "{drawn:?}");
}
