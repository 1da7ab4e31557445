//! Training hours of the presets at their boundaries.

use crate::policy::{
    HoursEntry, HoursKind, HoursRule, HoursShareRule, Preset, Ratio, count_entry, evaluate_hours,
    format_centihours, preset,
};

use HoursKind::{CaseStudy, OnlineStudy, OnlineTest, Practice, SchoolAssessment, SchoolResearch};

fn rule(p: Preset) -> HoursRule {
    preset(p).hours.expect("every preset sets hours")
}

fn plain(kind: HoursKind, centihours: i64) -> HoursEntry {
    HoursEntry {
        kind,
        centihours,
        watched_minutes: None,
        course_minutes: None,
    }
}

fn watched(kind: HoursKind, centihours: i64, watched: u32, course: u32) -> HoursEntry {
    HoursEntry {
        kind,
        centihours,
        watched_minutes: Some(watched),
        course_minutes: Some(course),
    }
}

/// A Beijing teacher who did everything (《北京试点方案》附件1
/// §五(一)): courses 15 (two courses, 10 + 5), tests 5, cases 5, school research 20, school
/// assessment 5; the first course is watched exactly 2/3 (30 of 45 minutes).
fn beijing_complete(first_course_watched: u32) -> Vec<HoursEntry> {
    vec![
        watched(OnlineStudy, 1000, first_course_watched, 45),
        watched(OnlineStudy, 500, 60, 60),
        plain(OnlineTest, 500),
        watched(CaseStudy, 500, 20, 30),
        plain(SchoolResearch, 2000),
        plain(SchoolAssessment, 500),
    ]
}

#[test]
fn beijing_counts_a_course_watched_exactly_two_thirds_and_not_one_minute_less() {
    // 附件1 五(二)1: 要求每门课程学习时长不低于总时长的2/3.
    let rule = rule(Preset::Beijing);
    let outcome = evaluate_hours(&rule, &beijing_complete(30));
    assert!(outcome.passed, "{:?}", outcome.problems);
    assert_eq!(outcome.counted_total, 5000);
    assert_eq!(outcome.counted_by_kind[&OnlineStudy], 1500);
    assert_eq!(outcome.entries[0].counted_centihours, 1000);
    assert_eq!(outcome.entries[0].reason, None);

    let outcome = evaluate_hours(&rule, &beijing_complete(29));
    assert!(!outcome.passed);
    assert_eq!(outcome.entries[0].counted_centihours, 0);
    assert_eq!(
        outcome.entries[0].reason.as_deref(),
        Some("观看 29/45 分钟，低于 2/3")
    );
    assert_eq!(outcome.counted_by_kind[&OnlineStudy], 500);
    assert_eq!(outcome.counted_total, 4000);
    assert_eq!(outcome.problems, vec!["总学时 40/50", "线上研修学时 5/15"]);
}

#[test]
fn beijing_cases_need_two_thirds_too_but_tests_and_school_hours_do_not() {
    // 附件1 五(二)2: 每个案例学习时长不低于总时长的2/3; the rule covers ONLINE_STUDY and
    // CASE_STUDY only.
    let rule = rule(Preset::Beijing);
    let rows = [
        (watched(CaseStudy, 500, 20, 30), 500),
        (watched(CaseStudy, 500, 19, 30), 0),
        (plain(CaseStudy, 500), 0),
        (watched(CaseStudy, 500, 0, 0), 0),
        (watched(OnlineTest, 500, 0, 45), 500),
        (plain(SchoolResearch, 2000), 2000),
        (plain(OnlineStudy, -100), 0),
    ];
    for (entry, counted) in rows {
        assert_eq!(
            count_entry(&rule, &entry).counted_centihours,
            counted,
            "{entry:?}"
        );
    }
    assert!(
        count_entry(&rule, &plain(CaseStudy, 500))
            .reason
            .unwrap()
            .contains("缺少观看时长")
    );
}

#[test]
fn ningxia_needs_25_online_and_25_practice_hours() {
    // 《宁夏实施方案》§二(三) and 《宁夏测评实施办法》§四: 线上研修 25 学时，线下实践应用
    // 25 学时.
    let rule = rule(Preset::Ningxia);
    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2500), plain(Practice, 2500)]);
    assert!(outcome.passed, "{:?}", outcome.problems);

    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2499), plain(Practice, 2500)]);
    assert!(!outcome.passed);
    assert_eq!(outcome.counted_total, 4999);
    assert_eq!(
        outcome.problems,
        vec!["总学时 49.99/50", "线上研修学时 24.99/25"]
    );

    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2500), plain(Practice, 2499)]);
    assert!(!outcome.passed);
    assert!(
        outcome
            .problems
            .contains(&"实践应用学时 24.99/25".to_string())
    );
    assert_eq!(outcome.problems.len(), 2, "{:?}", outcome.problems);

    let outcome = evaluate_hours(&rule, &[]);
    assert_eq!(outcome.counted_by_kind[&OnlineStudy], 0);
    assert_eq!(outcome.counted_by_kind[&Practice], 0);
    assert!(!outcome.passed);
}

#[test]
fn extra_online_hours_never_fail_a_teacher_who_met_both_minimums() {
    // 《宁夏实施方案》§一 (实践应用学时不少于 50%) is met by the 25-hour
    // practice minimum; the preset does not read it as a share of counted hours.
    let rule = rule(Preset::Ningxia);
    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2600), plain(Practice, 2500)]);
    assert!(outcome.passed, "{:?}", outcome.problems);
}

#[test]
fn a_share_rule_an_office_adds_is_read_against_the_counted_total() {
    let mut rule = rule(Preset::Ningxia);
    rule.share_rules.push(HoursShareRule {
        kinds: vec![Practice],
        minimum_share: Ratio::new(50, 100),
        source: "office".into(),
    });
    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2600), plain(Practice, 2500)]);
    assert!(!outcome.passed);
    assert_eq!(
        outcome.problems,
        vec!["实践应用学时 25 占总学时 51 的比例低于 50%"]
    );
    let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 2600), plain(Practice, 2600)]);
    assert!(outcome.passed);
}

#[test]
fn anhui_and_sixian_need_30_and_30_hours() {
    // 《安徽指导意见》§二(五)2 "30学时网络研修、30学时实践应用";
    // 《泗县实施意见》§一 "不少于 60 学时…网络研修与实践应用各 30 学时".
    for p in [Preset::Anhui, Preset::Sixian] {
        let rule = rule(p);
        assert_eq!(rule.total_minimum_centihours, 6000);
        let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 3000), plain(Practice, 3000)]);
        assert!(outcome.passed, "{p:?}");
        let outcome = evaluate_hours(&rule, &[plain(OnlineStudy, 3000), plain(Practice, 2999)]);
        assert!(!outcome.passed, "{p:?}");
        assert!(
            outcome
                .problems
                .contains(&"实践应用学时 29.99/30".to_string())
        );
    }
}

#[test]
fn a_share_rule_with_several_kinds_counts_them_together() {
    let rule = HoursRule {
        total_minimum_centihours: 0,
        requirements: Vec::new(),
        share_rules: vec![HoursShareRule {
            kinds: vec![SchoolResearch, SchoolAssessment, SchoolResearch],
            minimum_share: Ratio::new(1, 2),
            source: String::new(),
        }],
        watch_rule: None,
    };
    let half = [
        plain(OnlineStudy, 2500),
        plain(SchoolResearch, 2000),
        plain(SchoolAssessment, 500),
    ];
    assert!(evaluate_hours(&rule, &half).passed);
    let less = [
        plain(OnlineStudy, 2501),
        plain(SchoolResearch, 2000),
        plain(SchoolAssessment, 500),
    ];
    assert!(!evaluate_hours(&rule, &less).passed);
    // Nothing counted: no share of nothing is met.
    assert!(!evaluate_hours(&rule, &[]).passed);
}

#[test]
fn centihours_are_printed_without_useless_zeros() {
    let rows = [
        (2500, "25"),
        (2499, "24.99"),
        (1650, "16.5"),
        (5, "0.05"),
        (0, "0"),
        (-150, "-1.5"),
    ];
    for (centihours, text) in rows {
        assert_eq!(format_centihours(centihours), text);
    }
}
