//! Teacher, school and county grades, the excellent quota and rubric grading.

use crate::policy::{
    Grade, GradePrecedence, GradingRule, Preset, Ratio, RoundingMode, TeacherExcellentRule,
    ThresholdComparison, UnitGradeRule, beijing_case_rubric, excellent_quota, grade_from_rubric,
    preset, score_rubric, teacher_grade, unit_grade,
};

use Grade::{Excellent, Fail, Pass};

fn school_rule() -> UnitGradeRule {
    preset(Preset::Ningxia).school_grade.unwrap()
}

fn county_rule() -> UnitGradeRule {
    preset(Preset::Ningxia).county_grade.unwrap()
}

#[test]
fn ningxia_school_grades_at_their_boundaries() {
    // 《宁夏测评实施办法》§六(二): 学校优秀教师占 30%的…优秀；学校不合格的
    // 教师占 2%的…不合格；其余为合格. Read as AT_LEAST, fail wins when both hold.
    let rule = school_rule();
    let rows = [
        (
            "100 teachers, 30 excellent: exactly 30 % is excellent",
            100,
            30,
            0,
            Some(Excellent),
        ),
        (
            "100 teachers, 29 excellent: below 30 % is a pass",
            100,
            29,
            0,
            Some(Pass),
        ),
        (
            "100 teachers, 2 failed: exactly 2 % fails",
            100,
            0,
            2,
            Some(Fail),
        ),
        (
            "100 teachers, 1 failed: below 2 % is a pass",
            100,
            0,
            1,
            Some(Pass),
        ),
        (
            "100 teachers, 30 excellent and 2 failed: fail wins",
            100,
            30,
            2,
            Some(Fail),
        ),
        (
            "100 teachers, 30 excellent and 1 failed: excellent",
            100,
            30,
            1,
            Some(Excellent),
        ),
        ("50 teachers, 1 failed: 2 % fails", 50, 0, 1, Some(Fail)),
        (
            "51 teachers, 1 failed: below 2 % passes",
            51,
            0,
            1,
            Some(Pass),
        ),
        (
            "10 teachers, 3 excellent: excellent",
            10,
            3,
            0,
            Some(Excellent),
        ),
        ("1 teacher who failed: fail", 1, 0, 1, Some(Fail)),
        ("no members: no grade", 0, 0, 0, None),
    ];
    for (name, members, excellent, failed, grade) in rows {
        assert_eq!(
            unit_grade(&rule, members, excellent, failed),
            grade,
            "{name}"
        );
    }
}

#[test]
fn ningxia_county_grades_at_their_boundaries() {
    // 《宁夏测评实施办法》§六(三): 优秀学校占 10%的…优秀；不合格学校占 2%的…
    // 不合格.
    let rule = county_rule();
    let rows = [
        (
            "10 schools, 1 excellent: exactly 10 % is excellent",
            10,
            1,
            0,
            Some(Excellent),
        ),
        (
            "11 schools, 1 excellent: below 10 % is a pass",
            11,
            1,
            0,
            Some(Pass),
        ),
        (
            "100 schools, 10 excellent and 2 failed: fail wins",
            100,
            10,
            2,
            Some(Fail),
        ),
        (
            "100 schools, 9 excellent and 1 failed: a pass",
            100,
            9,
            1,
            Some(Pass),
        ),
        ("50 schools, 1 failed: 2 % fails", 50, 5, 1, Some(Fail)),
        ("51 schools, 1 failed: below 2 %", 51, 0, 1, Some(Pass)),
        ("no schools: no grade", 0, 0, 0, None),
    ];
    for (name, members, excellent, failed, grade) in rows {
        assert_eq!(
            unit_grade(&rule, members, excellent, failed),
            grade,
            "{name}"
        );
    }
}

#[test]
fn unit_grades_follow_the_comparison_and_precedence_parameters() {
    let more_than = UnitGradeRule {
        excellent_comparison: ThresholdComparison::MoreThan,
        fail_comparison: ThresholdComparison::MoreThan,
        ..school_rule()
    };
    assert_eq!(unit_grade(&more_than, 100, 30, 0), Some(Pass));
    assert_eq!(unit_grade(&more_than, 100, 31, 0), Some(Excellent));
    assert_eq!(unit_grade(&more_than, 100, 0, 2), Some(Pass));
    assert_eq!(unit_grade(&more_than, 100, 0, 3), Some(Fail));
    let excellent_wins = UnitGradeRule {
        precedence: GradePrecedence::ExcellentWins,
        ..school_rule()
    };
    assert_eq!(unit_grade(&excellent_wins, 100, 30, 2), Some(Excellent));
    // Anhui, Sixian and Beijing grade no units.
    for p in [Preset::Anhui, Preset::Sixian, Preset::Beijing] {
        let rules = preset(p);
        assert_eq!(unit_grade(&rules.school_grade.unwrap(), 100, 100, 0), None);
        assert_eq!(unit_grade(&rules.county_grade.unwrap(), 100, 0, 100), None);
    }
}

#[test]
fn a_teacher_fails_on_hours_or_any_failed_submission() {
    // 《宁夏测评实施办法》§六(一): 研修学习任务和应用成果佐证中有任何一项不合格
    // 的，则最终测评结果为不合格; §五(三): 线上与线下测评都合格的，综合认定为合格.
    let all = GradingRule::default();
    let any = GradingRule {
        teacher_excellent: TeacherExcellentRule::AnySubmission,
        ..GradingRule::default()
    };
    let half = GradingRule {
        teacher_excellent: TeacherExcellentRule::Share,
        teacher_excellent_share: Some(Ratio::new(1, 2)),
        ..GradingRule::default()
    };
    let share_unset = GradingRule {
        teacher_excellent: TeacherExcellentRule::Share,
        ..GradingRule::default()
    };
    /// Name, rule, hours passed, submission grades, extra fail, expected grade.
    type Row<'a> = (&'a str, &'a GradingRule, bool, &'a [Grade], bool, Grade);
    let rows: [Row; 12] = [
        (
            "hours not complete",
            &all,
            false,
            &[Excellent, Excellent],
            false,
            Fail,
        ),
        (
            "one failed submission",
            &all,
            true,
            &[Excellent, Fail, Excellent],
            false,
            Fail,
        ),
        (
            "a failed offline check",
            &all,
            true,
            &[Excellent],
            true,
            Fail,
        ),
        (
            "all excellent under ALL",
            &all,
            true,
            &[Excellent, Excellent],
            false,
            Excellent,
        ),
        (
            "one pass under ALL",
            &all,
            true,
            &[Excellent, Pass],
            false,
            Pass,
        ),
        (
            "one excellent under ANY",
            &any,
            true,
            &[Pass, Excellent],
            false,
            Excellent,
        ),
        (
            "none excellent under ANY",
            &any,
            true,
            &[Pass, Pass],
            false,
            Pass,
        ),
        (
            "a failure beats ANY",
            &any,
            true,
            &[Excellent, Fail],
            false,
            Fail,
        ),
        (
            "half excellent under SHARE 1/2",
            &half,
            true,
            &[Excellent, Pass],
            false,
            Excellent,
        ),
        (
            "a third excellent under SHARE 1/2",
            &half,
            true,
            &[Excellent, Pass, Pass],
            false,
            Pass,
        ),
        (
            "SHARE without a share",
            &share_unset,
            true,
            &[Excellent],
            false,
            Pass,
        ),
        ("no submissions at all", &all, true, &[], false, Pass),
    ];
    for (name, rule, hours, submissions, extra_fail, grade) in rows {
        assert_eq!(
            teacher_grade(rule, hours, submissions, extra_fail),
            grade,
            "{name}"
        );
    }
}

#[test]
fn beijing_may_recommend_three_percent_rounded_up() {
    // 《北京试点方案》附件3 §三(五): 按照参训教师总人数的3%推荐优秀案例.
    let rule = preset(Preset::Beijing).grading.unwrap();
    let rows = [
        (0, 0),
        (1, 1),
        (33, 1),
        (34, 2),
        (66, 2),
        (67, 3),
        (100, 3),
        (101, 4),
    ];
    for (participants, quota) in rows {
        assert_eq!(
            excellent_quota(&rule, participants),
            Some(quota),
            "{participants}"
        );
    }
    let floor = GradingRule {
        excellent_quota_rounding: RoundingMode::Floor,
        ..rule.clone()
    };
    assert_eq!(excellent_quota(&floor, 33), Some(0));
    assert_eq!(excellent_quota(&floor, 34), Some(1));
    let half_up = GradingRule {
        excellent_quota_rounding: RoundingMode::HalfUp,
        ..rule
    };
    assert_eq!(excellent_quota(&half_up, 49), Some(1));
    assert_eq!(excellent_quota(&half_up, 50), Some(2));
    // The other presets set no quota.
    for p in [Preset::Ningxia, Preset::Anhui, Preset::Sixian] {
        assert_eq!(excellent_quota(&preset(p).grading.unwrap(), 100), None);
    }
}

#[test]
fn beijings_rubric_has_100_points_in_four_sections() {
    // 《北京试点方案》附件2 表3: 应用方案 30 (10 + 10 + 10), 应用实施 25
    // (5 + 10 + 10), 应用反思 15, 应用效果 30 (10 + 10 + 10).
    let rubric = beijing_case_rubric();
    assert_eq!(rubric.total_points, 100);
    assert_eq!(rubric.criteria.len(), 10);
    let section = |name: &str| -> Vec<i32> {
        rubric
            .criteria
            .iter()
            .filter(|c| c.section == name)
            .map(|c| c.max_points)
            .collect()
    };
    assert_eq!(section("应用方案"), vec![10, 10, 10]);
    assert_eq!(section("应用实施"), vec![5, 10, 10]);
    assert_eq!(section("应用反思"), vec![15]);
    assert_eq!(section("应用效果"), vec![10, 10, 10]);
    assert_eq!(
        preset(Preset::Beijing).grading.unwrap().rubric,
        Some(rubric)
    );
}

fn full_marks() -> Vec<(String, u32)> {
    beijing_case_rubric()
        .criteria
        .iter()
        .map(|c| (c.id.clone(), u32::try_from(c.max_points).unwrap()))
        .collect()
}

#[test]
fn rubric_scores_are_checked_and_graded_when_the_policy_says_so() {
    let beijing = preset(Preset::Beijing).grading.unwrap();
    // Beijing does not grade from the rubric: scores are checked, no grade follows.
    assert_eq!(grade_from_rubric(&beijing, &full_marks()), Ok(None));
    assert_eq!(grade_from_rubric(&beijing, &[]), Ok(None));
    assert!(grade_from_rubric(&beijing, &[("plan.nothing".to_string(), 1)]).is_err());
    assert_eq!(score_rubric(&beijing_case_rubric(), &full_marks()), Ok(100));

    let graded = GradingRule {
        grade_from_rubric: true,
        pass_minimum_points: 60,
        excellent_minimum_points: 90,
        ..beijing.clone()
    };
    let with_total = |total_off: u32| -> Vec<(String, u32)> {
        let mut scores = full_marks();
        // Take points off the 15-point reflection criterion.
        let reflection = scores
            .iter_mut()
            .find(|(id, _)| id == "reflection")
            .unwrap();
        reflection.1 -= total_off;
        scores
    };
    assert_eq!(
        grade_from_rubric(&graded, &with_total(0)),
        Ok(Some(Excellent))
    );
    assert_eq!(
        grade_from_rubric(&graded, &with_total(10)),
        Ok(Some(Excellent))
    );
    assert_eq!(grade_from_rubric(&graded, &with_total(11)), Ok(Some(Pass)));
    let mut low = with_total(15);
    for (id, points) in low.iter_mut() {
        if id.starts_with("effect.") {
            *points = 0;
        }
    }
    // 100 - 15 - 30 = 55 < 60.
    assert_eq!(grade_from_rubric(&graded, &low), Ok(Some(Fail)));
    let no_excellent = GradingRule {
        excellent_minimum_points: 0,
        ..graded.clone()
    };
    assert_eq!(
        grade_from_rubric(&no_excellent, &with_total(0)),
        Ok(Some(Pass))
    );

    let mut too_many = full_marks();
    too_many[0].1 = 11;
    let error = grade_from_rubric(&graded, &too_many).unwrap_err();
    assert!(
        error.contains("plan.background") && error.contains("满分 10"),
        "{error}"
    );
    let mut repeated = full_marks();
    repeated.push(("reflection".to_string(), 1));
    assert!(
        grade_from_rubric(&graded, &repeated)
            .unwrap_err()
            .contains("重复")
    );
    let missing: Vec<(String, u32)> = full_marks().into_iter().skip(1).collect();
    assert_eq!(
        grade_from_rubric(&graded, &missing),
        Err("评分项未打分：plan.background".to_string())
    );
    let mut unknown = full_marks();
    unknown.push(("style".to_string(), 1));
    assert!(
        grade_from_rubric(&graded, &unknown)
            .unwrap_err()
            .contains("style")
    );
    let no_rubric = GradingRule {
        rubric: None,
        ..graded
    };
    assert!(grade_from_rubric(&no_rubric, &full_marks()).is_err());
}
