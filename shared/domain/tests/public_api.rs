//! The crate as other TICA crates use it: the agreed public names, and a few rules that cross
//! modules (an imported roster line, a scope query, a team check).

use time::macros::{date, datetime};

use tica_domain::assessor::{AssessorAction, AssessorLevel, AssessorState, RegistrationUnit};
use tica_domain::division::{DivisionCode, DivisionCodeError, JurisdictionLevel, is_municipality};
use tica_domain::micro_competency::{Dimension, Environment, MICRO_COMPETENCIES, by_code};
use tica_domain::person::{
    PersonRole, Sex, Stage, TeacherCategory, mask_name, parse_roles, validate_teacher_number,
};
use tica_domain::resident_id::{ResidentId, ResidentIdError, check_character, mask_id_number};
use tica_domain::school::{SchoolKind, validate_school_code};
use tica_domain::scope::ScopePath;
use tica_domain::team::{
    SizeRange, TeamKind, TeamMemberFacts, TeamProblem, TeamRules, check_team, effective_team_rules,
    team_size_rule,
};
use tica_domain::time_zone::today_in_china;

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

#[test]
fn a_roster_line_exported_from_excel_is_read_into_domain_values() {
    // One line of a county's teacher table (《安徽团队意见》附件3: "请用excel制表报送").
    let today = today_in_china(datetime!(2024-03-31 17:00:00 UTC));
    assert_eq!(today, date!(2024 - 04 - 01));
    let id = ResidentId::parse(" １１０１０５１９４９１２３１００２ｘ ", today).unwrap();
    assert_eq!(id.sex(), Sex::Female);
    assert_eq!(Sex::from_label("女"), Some(id.sex()));
    assert_eq!(id.age_on(today), 74);
    assert_eq!(
        SchoolKind::from_label("九年一贯制"),
        Some(SchoolKind::NineYear)
    );
    assert_eq!(Stage::from_label("初中"), Some(Stage::JuniorSecondary));
    assert_eq!(
        TeacherCategory::from_label("市级骨干"),
        Some(TeacherCategory::CityCountyBackbone)
    );
    assert_eq!(
        parse_roles("教师、校长"),
        Ok(vec![PersonRole::Teacher, PersonRole::Principal])
    );
    assert_eq!(validate_teacher_number("T-0001"), Ok(()));
    assert_eq!(validate_school_code("3413241234"), Ok(()));
    // What may reach a log line.
    assert_eq!(format!("{id:?}"), "ResidentId(\"1101**********002X\")");
    assert_eq!(mask_name("张三丰"), "张**");
    assert_eq!(mask_id_number(id.as_str()), id.masked());
}

#[test]
fn an_import_error_for_an_id_number_explains_itself_without_the_number() {
    let today = date!(2024 - 04 - 01);
    let error = ResidentId::parse("11010519491231003X", today).unwrap_err();
    assert_eq!(
        error,
        ResidentIdError::BadCheckCharacter {
            expected: '8',
            found: 'X'
        }
    );
    assert!(!error.to_string().contains("11010519491231003X"));
    assert_eq!(check_character(b"11010519491231003"), '8');
}

#[test]
fn a_county_office_sees_its_schools_and_nothing_else() {
    let sixian = ScopePath::for_jurisdiction(code("341324"));
    let school = ScopePath::for_school(code("341324"), "3413241234");
    let neighbour = ScopePath::for_school(code("341302"), "3413021234");
    assert!(sixian.contains(&school));
    assert!(!sixian.contains(&neighbour));
    let (lo, hi) = sixian.range();
    for (path, inside) in [(&school, true), (&neighbour, false), (&sixian, true)] {
        let in_range = lo.as_str() <= path.as_str() && path.as_str() < hi.as_str();
        assert_eq!(in_range, inside, "{path}");
    }
    assert_eq!(ScopePath::parse(school.as_str()), Some(school.clone()));
    assert_eq!(school.jurisdiction_code(), Some(code("341324")));
    assert_eq!(school.school_code(), Some("3413241234"));
    assert_eq!(school.depth(), 4);
}

#[test]
fn jurisdictions_are_checked_before_they_get_an_office() {
    assert!(is_municipality(11));
    assert_eq!(code("110105").expected_parent(), Some(code("110000")));
    assert_eq!(code("110105").level(), JurisdictionLevel::County);
    assert!(matches!(
        code("110100").validate_as_jurisdiction(),
        Err(DivisionCodeError::CityLevelInMunicipality { .. })
    ));
    assert_eq!(
        code("640104").ancestry(),
        vec![code("640000"), code("640100"), code("640104")]
    );
}

#[test]
fn a_ningxia_county_training_team_is_checked_against_inherited_rules() {
    // The region sets nothing of its own; the preset applies (《宁夏实施方案》§二(二)).
    let chain = [TeamRules::default(), TeamRules::default()];
    let rules = effective_team_rules(&chain, code("640000"));
    let county = Some(JurisdictionLevel::County);
    assert_eq!(
        team_size_rule(&rules, TeamKind::Training, county),
        Some(SizeRange { min: 8, max: 10 })
    );
    let members: Vec<TeamMemberFacts> = (0..7)
        .map(|i| TeamMemberFacts {
            key: format!("T{i}"),
            is_leader: i == 0,
            is_external: false,
            is_principal: false,
            inside_owner: true,
        })
        .collect();
    let problems = check_team(TeamKind::Training, county, &rules, &members).unwrap_err();
    assert_eq!(
        problems,
        vec![TeamProblem::WrongSize {
            size: 7,
            rule: SizeRange { min: 8, max: 10 }
        }]
    );
    assert_eq!(problems[0].member_index(), None);
}

#[test]
fn an_assessor_grades_only_once_registered_at_the_right_level() {
    let state = AssessorState::Candidate
        .apply(AssessorAction::Certify)
        .and_then(|s| s.apply(AssessorAction::Register))
        .unwrap();
    assert!(state.may_grade());
    assert!(
        AssessorLevel::County
            .matches_registration(RegistrationUnit::Jurisdiction(JurisdictionLevel::County))
    );
    assert!(!AssessorLevel::County.matches_registration(RegistrationUnit::School));
}

#[test]
fn an_anhui_teacher_reaches_twenty_credits_with_three_blended_micro_competencies() {
    // 《安徽指导意见》§二(四)2: ≥ 20 credits per teacher.
    let chosen = ["B2", "B7", "b9"];
    let credits: u32 = chosen
        .iter()
        .map(|c| u32::from(by_code(c).unwrap().credits))
        .sum();
    assert_eq!(credits, 5 + 7 + 8);
    assert!(credits >= 20);
    assert_eq!(MICRO_COMPETENCIES.len(), 30);
    assert_eq!(
        by_code("B9").unwrap().dimension,
        Dimension::AcademicAssessment
    );
    assert_eq!(by_code("B9").unwrap().environment, Environment::Blended);
}
