//! Proto ⇄ domain. With `grpc.rs`, the only module that touches generated types.

use prost_types::FieldMask;
use tica_domain::division::{DivisionCode, JurisdictionLevel};
use tica_domain::names::ApiClientName;
use tica_domain::{
    AssessorLevel, AssessorState, PersonRole, SchoolKind, Sex, SizeRange, Stage, TeacherCategory,
    TeamKind, TeamRules,
};
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_server::proto_time::{date_from_proto, date_to_proto, timestamp};

use crate::error::{Problems, Result, RosterError};
use crate::files::{self, Reason};
use crate::model::{self, IctPlanState, Member, MemberIdentity, MemberRole, Unit};
use crate::service::{ImportOptions, NewAssessor, NewJurisdiction, NewSchool, NewTeacher, NewTeam};
use crate::service::{JurisdictionUpdate, SchoolUpdate, TeacherUpdate, TeamUpdate};

// ----------------------------------------------------------------------------------------------
// Names

/// `{collection}/{id}` → id, or a violation on `field`.
pub fn id_of<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            RosterError::invalid(
                field,
                format!("expected `{collection}/{{id}}`, got {name:?}"),
            )
        })
}

/// `jurisdictions/{code}` → code.
pub fn jurisdiction_code(field: &str, name: &str) -> Result<DivisionCode> {
    let code = id_of(field, name, "jurisdictions")?;
    DivisionCode::parse(code).map_err(|e| RosterError::invalid(field, e.to_string()))
}

/// An optional `jurisdictions/{code}`.
pub fn optional_jurisdiction(field: &str, name: &str) -> Result<Option<DivisionCode>> {
    if name.is_empty() {
        Ok(None)
    } else {
        jurisdiction_code(field, name).map(Some)
    }
}

/// `schools/{code}` or `jurisdictions/{code}`.
pub fn unit(field: &str, name: &str) -> Result<Unit> {
    if name.starts_with("schools/") {
        Ok(Unit::School(id_of(field, name, "schools")?.to_owned()))
    } else if name.starts_with("jurisdictions/") {
        Ok(Unit::Jurisdiction(jurisdiction_code(field, name)?))
    } else {
        Err(RosterError::invalid(
            field,
            format!("expected `schools/{{code}}` or `jurisdictions/{{code}}`, got {name:?}"),
        ))
    }
}

/// An optional unit.
pub fn optional_unit(field: &str, name: &str) -> Result<Option<Unit>> {
    if name.is_empty() {
        Ok(None)
    } else {
        unit(field, name).map(Some)
    }
}

// ----------------------------------------------------------------------------------------------
// Enums

macro_rules! enum_map {
    ($to_proto:ident, $from_proto:ident, $domain:ty, $proto:ty, $what:literal, [$($d:path => $p:path),+ $(,)?]) => {
        /// Domain → proto.
        pub fn $to_proto(value: $domain) -> i32 {
            match value { $($d => $p as i32,)+ }
        }
        /// Proto → domain; `None` for UNSPECIFIED or unknown values.
        pub fn $from_proto(value: i32) -> Option<$domain> {
            match <$proto>::try_from(value).ok()? {
                $($p => Some($d),)+
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
    };
}

enum_map!(school_kind_to_proto, school_kind_from_proto, SchoolKind, pb::SchoolKind, "kind", [
    SchoolKind::Kindergarten => pb::SchoolKind::Kindergarten,
    SchoolKind::Primary => pb::SchoolKind::Primary,
    SchoolKind::JuniorSecondary => pb::SchoolKind::JuniorSecondary,
    SchoolKind::SeniorSecondary => pb::SchoolKind::SeniorSecondary,
    SchoolKind::NineYear => pb::SchoolKind::NineYear,
    SchoolKind::TwelveYear => pb::SchoolKind::TwelveYear,
    SchoolKind::CompleteSecondary => pb::SchoolKind::CompleteSecondary,
    SchoolKind::SchoolGroup => pb::SchoolKind::SchoolGroup,
    SchoolKind::SchoolDistrict => pb::SchoolKind::SchoolDistrict,
    SchoolKind::SecondaryVocational => pb::SchoolKind::SecondaryVocational,
    SchoolKind::TeacherDevelopmentCentre => pb::SchoolKind::TeacherDevelopmentCentre,
]);

enum_map!(stage_to_proto, stage_from_proto, Stage, pb::Stage, "stage", [
    Stage::Preschool => pb::Stage::Preschool,
    Stage::Primary => pb::Stage::Primary,
    Stage::JuniorSecondary => pb::Stage::JuniorSecondary,
    Stage::SeniorSecondary => pb::Stage::SeniorSecondary,
    Stage::SecondaryVocational => pb::Stage::SecondaryVocational,
]);

enum_map!(category_to_proto, category_from_proto, TeacherCategory, pb::TeacherCategory, "category", [
    TeacherCategory::SpecialOrRegionalBackbone => pb::TeacherCategory::SpecialOrRegionalBackbone,
    TeacherCategory::CityCountyBackbone => pb::TeacherCategory::CityCountyBackbone,
    TeacherCategory::Ordinary => pb::TeacherCategory::Ordinary,
    TeacherCategory::Kindergarten => pb::TeacherCategory::Kindergarten,
]);

enum_map!(role_to_proto, role_from_proto, PersonRole, pb::PersonRole, "role", [
    PersonRole::Teacher => pb::PersonRole::Teacher,
    PersonRole::Principal => pb::PersonRole::Principal,
    PersonRole::TeachingResearcher => pb::PersonRole::TeachingResearcher,
    PersonRole::AuxiliaryStaff => pb::PersonRole::AuxiliaryStaff,
]);

enum_map!(sex_to_proto, sex_from_proto, Sex, pb::Sex, "sex", [
    Sex::Male => pb::Sex::Male,
    Sex::Female => pb::Sex::Female,
]);

enum_map!(level_to_proto, level_from_proto, JurisdictionLevel, pb::JurisdictionLevel, "level", [
    JurisdictionLevel::Province => pb::JurisdictionLevel::Province,
    JurisdictionLevel::City => pb::JurisdictionLevel::City,
    JurisdictionLevel::County => pb::JurisdictionLevel::County,
]);

enum_map!(team_kind_to_proto, team_kind_from_proto, TeamKind, pb::TeamKind, "kind", [
    TeamKind::SchoolIctManagement => pb::TeamKind::SchoolIctManagement,
    TeamKind::Training => pb::TeamKind::Training,
]);

enum_map!(assessor_level_to_proto, assessor_level_from_proto, AssessorLevel, pb::AssessorLevel, "level", [
    AssessorLevel::School => pb::AssessorLevel::School,
    AssessorLevel::County => pb::AssessorLevel::County,
    AssessorLevel::City => pb::AssessorLevel::City,
    AssessorLevel::Province => pb::AssessorLevel::Province,
]);

enum_map!(assessor_state_to_proto, assessor_state_from_proto, AssessorState, pb::AssessorState, "state", [
    AssessorState::Candidate => pb::AssessorState::Candidate,
    AssessorState::Certified => pb::AssessorState::Certified,
    AssessorState::Registered => pb::AssessorState::Registered,
    AssessorState::Suspended => pb::AssessorState::Suspended,
    AssessorState::StruckOff => pb::AssessorState::StruckOff,
]);

fn plan_state_to_proto(state: IctPlanState) -> i32 {
    match state {
        IctPlanState::None => pb::IctPlanState::Unspecified as i32,
        IctPlanState::Submitted => pb::IctPlanState::Submitted as i32,
        IctPlanState::Filed => pb::IctPlanState::Filed as i32,
        IctPlanState::Returned => pb::IctPlanState::Returned as i32,
    }
}

/// An optional enum filter: 0 means "any"; other unknown values are refused.
pub fn filter<T>(field: &str, value: i32, from_proto: fn(i32) -> Option<T>) -> Result<Option<T>> {
    if value == 0 {
        return Ok(None);
    }
    from_proto(value)
        .map(Some)
        .ok_or_else(|| RosterError::invalid(field, format!("unknown value {value}")))
}

// ----------------------------------------------------------------------------------------------
// Field masks

/// The paths of an update mask, checked against `allowed`; `*` selects them all.
pub fn mask_paths(mask: Option<&FieldMask>, allowed: &[&'static str]) -> Result<Vec<&'static str>> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(RosterError::invalid(
            "update_mask",
            format!(
                "required: name the fields to change (one or more of {})",
                allowed.join(", ")
            ),
        ));
    }
    if paths.iter().any(|p| p == "*") {
        return Ok(allowed.to_vec());
    }
    let mut problems = Problems::new();
    let mut selected = Vec::new();
    for path in paths {
        match allowed.iter().find(|a| **a == path.as_str()) {
            Some(a) => selected.push(*a),
            None => problems.add(
                "update_mask",
                format!(
                    "{path:?} cannot be updated; updatable: {}",
                    allowed.join(", ")
                ),
            ),
        }
    }
    problems.finish()?;
    Ok(selected)
}

// ----------------------------------------------------------------------------------------------
// Jurisdictions

fn range_to_proto(range: Option<SizeRange>) -> Option<pb::TeamSizeRange> {
    range.map(|r| pb::TeamSizeRange {
        min: r.min as i32,
        max: r.max as i32,
    })
}

fn range_from_proto(
    problems: &mut Problems,
    field: &str,
    range: Option<&pb::TeamSizeRange>,
) -> Option<SizeRange> {
    let range = range?;
    if range.min < 0 || range.max < 0 {
        problems.add(field, "sizes are positive");
        return None;
    }
    problems.check(field, SizeRange::new(range.min as u32, range.max as u32))
}

fn rules_to_proto(rules: &TeamRules) -> pb::TeamRules {
    pb::TeamRules {
        school_ict_management: range_to_proto(rules.school_ict_management),
        province_training: range_to_proto(rules.province_training),
        city_training: range_to_proto(rules.city_training),
        county_training: range_to_proto(rules.county_training),
    }
}

fn rules_from_proto(
    problems: &mut Problems,
    prefix: &str,
    rules: Option<&pb::TeamRules>,
) -> TeamRules {
    let Some(rules) = rules else {
        return TeamRules::default();
    };
    TeamRules {
        school_ict_management: range_from_proto(
            problems,
            &format!("{prefix}.school_ict_management"),
            rules.school_ict_management.as_ref(),
        ),
        province_training: range_from_proto(
            problems,
            &format!("{prefix}.province_training"),
            rules.province_training.as_ref(),
        ),
        city_training: range_from_proto(
            problems,
            &format!("{prefix}.city_training"),
            rules.city_training.as_ref(),
        ),
        county_training: range_from_proto(
            problems,
            &format!("{prefix}.county_training"),
            rules.county_training.as_ref(),
        ),
    }
}

/// The etag an update request's resource carries (AIP-154): `None` when empty, for an
/// unconditional update.
pub fn etag_sent(etag: &str) -> Option<String> {
    (!etag.is_empty()).then(|| etag.to_owned())
}

/// A jurisdiction as the API shows it.
pub fn jurisdiction_to_proto(j: &model::Jurisdiction) -> pb::Jurisdiction {
    let name = format!("jurisdictions/{}", j.code);
    pb::Jurisdiction {
        etag: model::etag(&name, j.update_micros),
        name,
        display_name: j.display_name.clone(),
        level: level_to_proto(j.code.level()),
        parent: j
            .parent
            .map(|p| format!("jurisdictions/{p}"))
            .unwrap_or_default(),
        team_rules: Some(rules_to_proto(&j.team_rules)),
        effective_team_rules: Some(rules_to_proto(&j.effective_team_rules)),
        create_time: Some(timestamp(j.create_micros)),
        update_time: Some(timestamp(j.update_micros)),
    }
}

/// CreateJurisdiction's input.
pub fn new_jurisdiction(request: pb::CreateJurisdictionRequest) -> Result<NewJurisdiction> {
    let j = request
        .jurisdiction
        .ok_or_else(|| RosterError::invalid("jurisdiction", "required"))?;
    let mut problems = Problems::new();
    let code = problems.check(
        "jurisdiction.name",
        jurisdiction_code("jurisdiction.name", &j.name).map_err(violation_text),
    );
    let parent = problems.check(
        "jurisdiction.parent",
        optional_jurisdiction("jurisdiction.parent", &j.parent).map_err(violation_text),
    );
    let team_rules = rules_from_proto(
        &mut problems,
        "jurisdiction.team_rules",
        j.team_rules.as_ref(),
    );
    problems.finish()?;
    Ok(NewJurisdiction {
        code: code.expect("checked"),
        display_name: j.display_name,
        parent: parent.expect("checked"),
        team_rules,
    })
}

/// UpdateJurisdiction's input.
pub fn jurisdiction_update(
    request: pb::UpdateJurisdictionRequest,
) -> Result<(DivisionCode, JurisdictionUpdate)> {
    use crate::service::RuleField;
    let fields = || RuleField::ALL;
    let j = request
        .jurisdiction
        .ok_or_else(|| RosterError::invalid("jurisdiction", "required"))?;
    let code = jurisdiction_code("jurisdiction.name", &j.name)?;
    let mut allowed = vec!["display_name", "team_rules"];
    allowed.extend(fields().iter().map(|f| f.path()));
    let paths = mask_paths(request.update_mask.as_ref(), &allowed)?;
    let mut problems = Problems::new();
    let rules = rules_from_proto(
        &mut problems,
        "jurisdiction.team_rules",
        j.team_rules.as_ref(),
    );
    problems.finish()?;
    let mut update = JurisdictionUpdate {
        etag: etag_sent(&j.etag),
        ..Default::default()
    };
    for path in paths {
        match path {
            "display_name" => update.display_name = Some(j.display_name.clone()),
            "team_rules" => {
                for field in fields() {
                    update.rules.push((field, field_value(&rules, field)));
                }
            }
            other => {
                let field = fields()
                    .into_iter()
                    .find(|f| f.path() == other)
                    .expect("allowed path");
                update.rules.push((field, field_value(&rules, field)));
            }
        }
    }
    Ok((code, update))
}

fn field_value(rules: &TeamRules, field: crate::service::RuleField) -> Option<SizeRange> {
    use crate::service::RuleField;
    match field {
        RuleField::SchoolIctManagement => rules.school_ict_management,
        RuleField::ProvinceTraining => rules.province_training,
        RuleField::CityTraining => rules.city_training,
        RuleField::CountyTraining => rules.county_training,
    }
}

/// Extracts the message of a single-field violation, to re-file it under another field.
fn violation_text(error: RosterError) -> String {
    match error {
        RosterError::Invalid(mut v) if v.len() == 1 => v.remove(0).1,
        other => other.to_string(),
    }
}

// ----------------------------------------------------------------------------------------------
// Schools

/// A school as the API shows it.
pub fn school_to_proto(s: &model::School) -> pb::School {
    let name = format!("schools/{}", s.code);
    pb::School {
        etag: model::etag(&name, s.update_micros),
        name,
        display_name: s.display_name.clone(),
        jurisdiction: format!("jurisdictions/{}", s.jurisdiction),
        kind: school_kind_to_proto(s.kind),
        rural: s.rural,
        full_time_teacher_count: s.full_time_teacher_count as i32,
        ict_plan: Some(pb::IctPlan {
            research_theme: s.plan.theme.clone(),
            summary: s.plan.summary.clone(),
            document_uri: s.plan.document_uri.clone(),
            state: plan_state_to_proto(s.plan.state),
            review_comment: s.plan.review_comment.clone(),
            review_time: s.plan.review_micros.map(timestamp),
        }),
        registered_teacher_count: s.registered_teacher_count as i32,
        create_time: Some(timestamp(s.create_micros)),
        update_time: Some(timestamp(s.update_micros)),
    }
}

/// CreateSchool's input.
pub fn new_school(request: pb::CreateSchoolRequest) -> Result<NewSchool> {
    let s = request
        .school
        .ok_or_else(|| RosterError::invalid("school", "required"))?;
    let mut problems = Problems::new();
    let code = problems.check(
        "school.name",
        id_of("school.name", &s.name, "schools")
            .map(str::to_owned)
            .map_err(violation_text),
    );
    let jurisdiction = problems.check(
        "school.jurisdiction",
        jurisdiction_code("school.jurisdiction", &s.jurisdiction).map_err(violation_text),
    );
    let kind = school_kind_from_proto(s.kind);
    if kind.is_none() {
        problems.add("school.kind", "required");
    }
    if s.full_time_teacher_count < 0 {
        problems.add("school.full_time_teacher_count", "must not be negative");
    }
    problems.finish()?;
    let plan = s.ict_plan.unwrap_or_default();
    Ok(NewSchool {
        code: code.expect("checked"),
        display_name: s.display_name,
        jurisdiction: jurisdiction.expect("checked"),
        kind: kind.expect("checked"),
        rural: s.rural,
        full_time_teacher_count: i64::from(s.full_time_teacher_count),
        plan: (plan.research_theme, plan.summary, plan.document_uri),
    })
}

/// UpdateSchool's input.
pub fn school_update(request: pb::UpdateSchoolRequest) -> Result<(String, SchoolUpdate)> {
    let s = request
        .school
        .ok_or_else(|| RosterError::invalid("school", "required"))?;
    let code = id_of("school.name", &s.name, "schools")?.to_owned();
    let paths = mask_paths(
        request.update_mask.as_ref(),
        &[
            "display_name",
            "kind",
            "rural",
            "full_time_teacher_count",
            "ict_plan",
            "ict_plan.research_theme",
            "ict_plan.summary",
            "ict_plan.document_uri",
        ],
    )?;
    let plan = s.ict_plan.clone().unwrap_or_default();
    let mut update = SchoolUpdate {
        etag: etag_sent(&s.etag),
        ..Default::default()
    };
    for path in paths {
        match path {
            "display_name" => update.display_name = Some(s.display_name.clone()),
            "kind" => {
                update.kind = Some(
                    school_kind_from_proto(s.kind)
                        .ok_or_else(|| RosterError::invalid("school.kind", "required"))?,
                )
            }
            "rural" => update.rural = Some(s.rural),
            "full_time_teacher_count" => {
                update.full_time_teacher_count = Some(i64::from(s.full_time_teacher_count))
            }
            "ict_plan" => {
                update.plan_theme = Some(plan.research_theme.clone());
                update.plan_summary = Some(plan.summary.clone());
                update.plan_document_uri = Some(plan.document_uri.clone());
            }
            "ict_plan.research_theme" => update.plan_theme = Some(plan.research_theme.clone()),
            "ict_plan.summary" => update.plan_summary = Some(plan.summary.clone()),
            "ict_plan.document_uri" => update.plan_document_uri = Some(plan.document_uri.clone()),
            _ => unreachable!("mask_paths only returns allowed paths"),
        }
    }
    Ok((code, update))
}

// ----------------------------------------------------------------------------------------------
// Teachers

/// Who a teacher is, with the full ID number (ListTeacherIdentities only).
pub fn teacher_identity_to_proto(t: &model::Teacher) -> pb::TeacherIdentity {
    pb::TeacherIdentity {
        teacher: format!("teachers/{}", t.number),
        display_name: t.display_name.clone(),
        id_number: t.id_number.as_str().to_owned(),
    }
}

/// A teacher as the API shows it: the ID number masked.
pub fn teacher_to_proto(t: &model::Teacher) -> pb::Teacher {
    let mut assignments: Vec<pb::Assignment> = t
        .history
        .iter()
        .map(|a| pb::Assignment {
            school: format!("schools/{}", a.school_code),
            start_date: Some(date_to_proto(a.start)),
            end_date: Some(date_to_proto(a.end)),
            end_reason: a.end_reason.clone(),
        })
        .collect();
    assignments.push(pb::Assignment {
        school: format!("schools/{}", t.school_code),
        start_date: Some(date_to_proto(t.since)),
        end_date: None,
        end_reason: String::new(),
    });
    let name = format!("teachers/{}", t.number);
    pb::Teacher {
        etag: model::etag(&name, t.update_micros),
        name,
        display_name: t.display_name.clone(),
        id_number: t.id_number.masked(),
        birth_date: Some(date_to_proto(t.id_number.birth_date())),
        sex: sex_to_proto(t.id_number.sex()),
        school: format!("schools/{}", t.school_code),
        stage: stage_to_proto(t.stage),
        subject: t.subject.clone(),
        category: category_to_proto(t.category),
        roles: t.roles.iter().map(|r| role_to_proto(*r)).collect(),
        assignments,
        jurisdiction: format!("jurisdictions/{}", t.jurisdiction),
        create_time: Some(timestamp(t.create_micros)),
        update_time: Some(timestamp(t.update_micros)),
    }
}

fn roles_from_proto(problems: &mut Problems, field: &str, roles: &[i32]) -> Vec<PersonRole> {
    roles
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let role = role_from_proto(*r);
            if role.is_none() {
                problems.add(format!("{field}[{i}]"), format!("unknown role {r}"));
            }
            role
        })
        .collect()
}

/// CreateTeacher's input.
pub fn new_teacher(request: pb::CreateTeacherRequest) -> Result<NewTeacher> {
    let t = request
        .teacher
        .ok_or_else(|| RosterError::invalid("teacher", "required"))?;
    let mut problems = Problems::new();
    let school = if t.school.is_empty() {
        String::new()
    } else {
        problems
            .check(
                "teacher.school",
                id_of("teacher.school", &t.school, "schools")
                    .map(str::to_owned)
                    .map_err(violation_text),
            )
            .unwrap_or_default()
    };
    let birth_date = t
        .birth_date
        .as_ref()
        .and_then(|d| problems.check("teacher.birth_date", date_from_proto(d)));
    let roles = roles_from_proto(&mut problems, "teacher.roles", &t.roles);
    problems.finish()?;
    Ok(NewTeacher {
        number: Some(request.teacher_id).filter(|n| !n.is_empty()),
        display_name: t.display_name,
        id_number: t.id_number,
        birth_date,
        school_code: school,
        stage: stage_from_proto(t.stage),
        subject: t.subject,
        category: category_from_proto(t.category),
        roles,
    })
}

/// UpdateTeacher's input.
pub fn teacher_update(request: pb::UpdateTeacherRequest) -> Result<(String, TeacherUpdate)> {
    let t = request
        .teacher
        .ok_or_else(|| RosterError::invalid("teacher", "required"))?;
    let number = id_of("teacher.name", &t.name, "teachers")?.to_owned();
    let paths = mask_paths(
        request.update_mask.as_ref(),
        &[
            "display_name",
            "id_number",
            "stage",
            "subject",
            "category",
            "roles",
        ],
    )?;
    let mut problems = Problems::new();
    let mut update = TeacherUpdate {
        etag: etag_sent(&t.etag),
        ..Default::default()
    };
    for path in paths {
        match path {
            "display_name" => update.display_name = Some(t.display_name.clone()),
            "id_number" => update.id_number = Some(t.id_number.clone()),
            "stage" => match stage_from_proto(t.stage) {
                Some(s) => update.stage = Some(s),
                None => problems.add("teacher.stage", "required"),
            },
            "subject" => update.subject = Some(t.subject.clone()),
            "category" => match category_from_proto(t.category) {
                Some(c) => update.category = Some(c),
                None => problems.add("teacher.category", "required"),
            },
            "roles" => {
                update.roles = Some(roles_from_proto(&mut problems, "teacher.roles", &t.roles))
            }
            _ => unreachable!("mask_paths only returns allowed paths"),
        }
    }
    problems.finish()?;
    Ok((number, update))
}

// ----------------------------------------------------------------------------------------------
// Teams

/// A team as the API shows it.
pub fn team_to_proto(t: &model::Team) -> pb::Team {
    let name = format!("teams/{}", t.id);
    pb::Team {
        etag: model::etag(&name, t.update_micros),
        name,
        kind: team_kind_to_proto(t.kind),
        owner: t.owner.resource_name(),
        display_name: t.display_name.clone(),
        members: t
            .members
            .iter()
            .map(|m| pb::TeamMember {
                member: Some(match &m.identity {
                    MemberIdentity::Teacher { number } => {
                        pb::team_member::Member::Teacher(format!("teachers/{number}"))
                    }
                    MemberIdentity::External {
                        display_name,
                        affiliation,
                    } => pb::team_member::Member::External(pb::ExternalMember {
                        display_name: display_name.clone(),
                        affiliation: affiliation.clone(),
                    }),
                }),
                role: match m.role {
                    MemberRole::Leader => pb::TeamMemberRole::Leader as i32,
                    MemberRole::Member => pb::TeamMemberRole::Member as i32,
                },
                duty: m.duty.clone(),
            })
            .collect(),
        create_time: Some(timestamp(t.create_micros)),
        update_time: Some(timestamp(t.update_micros)),
    }
}

fn members_from_proto(problems: &mut Problems, members: &[pb::TeamMember]) -> Vec<Member> {
    let mut out = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let role = match pb::TeamMemberRole::try_from(m.role) {
            Ok(pb::TeamMemberRole::Leader) => MemberRole::Leader,
            Ok(pb::TeamMemberRole::Member) => MemberRole::Member,
            _ => {
                problems.add(format!("team.members[{i}].role"), "LEADER or MEMBER");
                continue;
            }
        };
        let identity = match &m.member {
            Some(pb::team_member::Member::Teacher(name)) => {
                match id_of(&format!("team.members[{i}].teacher"), name, "teachers") {
                    Ok(number) => MemberIdentity::Teacher {
                        number: number.to_owned(),
                    },
                    Err(e) => {
                        problems.add(format!("team.members[{i}].teacher"), violation_text(e));
                        continue;
                    }
                }
            }
            Some(pb::team_member::Member::External(e)) => MemberIdentity::External {
                display_name: e.display_name.trim().to_owned(),
                affiliation: e.affiliation.trim().to_owned(),
            },
            None => {
                problems.add(format!("team.members[{i}]"), "set `teacher` or `external`");
                continue;
            }
        };
        out.push(Member {
            identity,
            role,
            duty: m.duty.trim().to_owned(),
        });
    }
    out
}

/// CreateTeam's input.
pub fn new_team(request: pb::CreateTeamRequest) -> Result<NewTeam> {
    let t = request
        .team
        .ok_or_else(|| RosterError::invalid("team", "required"))?;
    let mut problems = Problems::new();
    let kind = team_kind_from_proto(t.kind);
    if kind.is_none() {
        problems.add("team.kind", "required");
    }
    let owner = problems.check(
        "team.owner",
        unit("team.owner", &t.owner).map_err(violation_text),
    );
    let members = members_from_proto(&mut problems, &t.members);
    problems.finish()?;
    Ok(NewTeam {
        kind: kind.expect("checked"),
        owner: owner.expect("checked"),
        display_name: t.display_name,
        members,
    })
}

/// UpdateTeam's input.
pub fn team_update(request: pb::UpdateTeamRequest) -> Result<(String, TeamUpdate)> {
    let t = request
        .team
        .ok_or_else(|| RosterError::invalid("team", "required"))?;
    let id = id_of("team.name", &t.name, "teams")?.to_owned();
    let paths = mask_paths(request.update_mask.as_ref(), &["display_name", "members"])?;
    let mut problems = Problems::new();
    let mut update = TeamUpdate {
        etag: etag_sent(&t.etag),
        ..Default::default()
    };
    for path in paths {
        match path {
            "display_name" => update.display_name = Some(t.display_name.clone()),
            "members" => update.members = Some(members_from_proto(&mut problems, &t.members)),
            _ => unreachable!("mask_paths only returns allowed paths"),
        }
    }
    problems.finish()?;
    Ok((id, update))
}

// ----------------------------------------------------------------------------------------------
// Assessors

/// An assessor as the API shows it.
pub fn assessor_to_proto(a: &model::Assessor) -> pb::Assessor {
    let name = format!("assessors/{}", a.id);
    pb::Assessor {
        etag: model::etag(&name, a.update_micros),
        name,
        teacher: format!("teachers/{}", a.teacher_number),
        display_name: a.display_name.clone(),
        level: assessor_level_to_proto(a.level),
        registered_at: a.registered_at.resource_name(),
        subjects: a.subjects.clone(),
        state: assessor_state_to_proto(a.state),
        certification: a.certification.as_ref().map(|c| pb::AssessorCertification {
            certificate_number: c.certificate_number.clone(),
            exam_date: Some(date_to_proto(c.exam_date)),
            issued_by: c.issued_by.clone(),
        }),
        reprimands: a
            .reprimands
            .iter()
            .map(|r| pb::Reprimand {
                create_time: Some(timestamp(r.micros)),
                reason: r.reason.clone(),
            })
            .collect(),
        state_reason: a.state_reason.clone(),
        create_time: Some(timestamp(a.create_micros)),
        update_time: Some(timestamp(a.update_micros)),
    }
}

/// CreateAssessor's input.
pub fn new_assessor(request: pb::CreateAssessorRequest) -> Result<NewAssessor> {
    let a = request
        .assessor
        .ok_or_else(|| RosterError::invalid("assessor", "required"))?;
    let mut problems = Problems::new();
    let teacher = problems.check(
        "assessor.teacher",
        id_of("assessor.teacher", &a.teacher, "teachers")
            .map(str::to_owned)
            .map_err(violation_text),
    );
    let level = assessor_level_from_proto(a.level);
    if level.is_none() {
        problems.add("assessor.level", "required");
    }
    let registered_at = problems.check(
        "assessor.registered_at",
        unit("assessor.registered_at", &a.registered_at).map_err(violation_text),
    );
    problems.finish()?;
    Ok(NewAssessor {
        teacher_number: teacher.expect("checked"),
        level: level.expect("checked"),
        registered_at: registered_at.expect("checked"),
        subjects: a.subjects,
    })
}

/// CertifyAssessor's certification.
pub fn certification(c: Option<pb::AssessorCertification>) -> Result<model::Certification> {
    let c = c.ok_or_else(|| RosterError::invalid("certification", "required"))?;
    let exam_date = match &c.exam_date {
        Some(d) => {
            date_from_proto(d).map_err(|e| RosterError::invalid("certification.exam_date", e))?
        }
        None => return Err(RosterError::invalid("certification.exam_date", "required")),
    };
    Ok(model::Certification {
        certificate_number: c.certificate_number.trim().to_owned(),
        exam_date,
        issued_by: c.issued_by.trim().to_owned(),
    })
}

// ----------------------------------------------------------------------------------------------
// Audit, imports

/// Import options from the stream's first message.
pub fn import_options(options: common::ImportOptions) -> Result<ImportOptions> {
    let format = match common::FileFormat::try_from(options.format) {
        Ok(common::FileFormat::Unspecified) => None,
        Ok(common::FileFormat::Csv) => Some(files::Format::Csv),
        Ok(common::FileFormat::Xlsx) => Some(files::Format::Xlsx),
        Err(_) => return Err(RosterError::invalid("options.format", "unknown format")),
    };
    let encoding = match common::TextEncoding::try_from(options.encoding) {
        Ok(common::TextEncoding::Unspecified | common::TextEncoding::Utf8) => files::Encoding::Utf8,
        Ok(common::TextEncoding::Gb18030) => files::Encoding::Gb18030,
        Err(_) => return Err(RosterError::invalid("options.encoding", "unknown encoding")),
    };
    let all_or_nothing = match common::ImportMode::try_from(options.mode) {
        Ok(common::ImportMode::Unspecified | common::ImportMode::AllOrNothing) => true,
        Ok(common::ImportMode::ValidRows) => false,
        Err(_) => return Err(RosterError::invalid("options.mode", "unknown mode")),
    };
    let update_existing = match common::ExistingRecords::try_from(options.existing) {
        Ok(common::ExistingRecords::Unspecified | common::ExistingRecords::Reject) => false,
        Ok(common::ExistingRecords::Update) => true,
        Err(_) => return Err(RosterError::invalid("options.existing", "unknown value")),
    };
    if options.file_name.chars().count() > 255 {
        return Err(RosterError::invalid(
            "options.file_name",
            "at most 255 characters",
        ));
    }
    Ok(ImportOptions {
        format,
        encoding,
        all_or_nothing,
        update_existing,
        validate_only: options.validate_only,
        file_name: options.file_name,
    })
}

/// A refused row as the API shows it.
pub fn row_error_to_proto(e: &files::RowError) -> common::RowError {
    let reason = match e.reason {
        Reason::MissingField => common::RowErrorReason::MissingField,
        Reason::InvalidValue => common::RowErrorReason::InvalidValue,
        Reason::BadIdCheckDigit => common::RowErrorReason::BadIdCheckDigit,
        Reason::BadIdBirthDate => common::RowErrorReason::BadIdBirthDate,
        Reason::UnknownSchool => common::RowErrorReason::UnknownSchool,
        Reason::UnknownJurisdiction => common::RowErrorReason::UnknownJurisdiction,
        Reason::DuplicateInFile => common::RowErrorReason::DuplicateInFile,
        Reason::AlreadyExists => common::RowErrorReason::AlreadyExists,
        Reason::BadEncoding => common::RowErrorReason::BadEncoding,
        Reason::MalformedRow => common::RowErrorReason::MalformedRow,
        Reason::OutOfScope => common::RowErrorReason::OutOfScope,
        Reason::Inconsistent => common::RowErrorReason::Inconsistent,
        Reason::MoreErrors => common::RowErrorReason::MoreErrors,
    };
    common::RowError {
        line: e.line,
        column: e.column.clone(),
        reason: reason as i32,
        message: e.message.clone(),
    }
}

// ----------------------------------------------------------------------------------------------
// API clients

/// An API client as the API shows it: never its secret (CreateApiClient adds it to its answer).
pub fn api_client_to_proto(c: &model::ApiClient) -> pb::ApiClient {
    pb::ApiClient {
        name: ApiClientName::of(&c.id),
        client_id: c.id.clone(),
        display_name: c.display_name.clone(),
        jurisdiction: format!("jurisdictions/{}", c.jurisdiction),
        role: c.role.as_str().to_owned(),
        provider_id: c.provider_id.clone(),
        token_ttl_seconds: i32::try_from(c.ttl_seconds).unwrap_or(i32::MAX),
        state: if c.revoked {
            pb::ApiClientState::Revoked
        } else {
            pb::ApiClientState::Active
        } as i32,
        client_secret: String::new(),
        created_by: c.created_by.clone(),
        create_time: Some(timestamp(c.create_micros)),
        revoke_time: c.revoke_micros.map(timestamp),
        revoke_reason: c.revoke_reason.clone(),
    }
}

/// CreateApiClient's input.
pub fn new_api_client(request: pb::CreateApiClientRequest) -> Result<crate::service::NewApiClient> {
    let c = request
        .api_client
        .ok_or_else(|| RosterError::invalid("api_client", "required"))?;
    let mut problems = Problems::new();
    let jurisdiction = problems.check(
        "api_client.jurisdiction",
        jurisdiction_code("api_client.jurisdiction", &c.jurisdiction).map_err(violation_text),
    );
    let role = match c.role.parse::<tica_auth::Role>() {
        Ok(role) => Some(role),
        Err(why) => {
            problems.add("api_client.role", why);
            None
        }
    };
    let ttl_seconds = match u32::try_from(c.token_ttl_seconds) {
        Ok(ttl) => ttl,
        Err(_) => {
            problems.add("api_client.token_ttl_seconds", "must not be negative");
            0
        }
    };
    problems.finish()?;
    Ok(crate::service::NewApiClient {
        display_name: c.display_name,
        jurisdiction: jurisdiction.expect("checked"),
        role: role.expect("checked"),
        provider_id: c.provider_id.trim().to_owned(),
        ttl_seconds,
    })
}

/// ListApiClients' state filter: `Some(true)` for revoked ones.
pub fn api_client_revoked_filter(state: i32) -> Result<Option<bool>> {
    filter("state", state, |s| {
        match pb::ApiClientState::try_from(s).ok()? {
            pb::ApiClientState::Unspecified => None,
            pb::ApiClientState::Active => Some(false),
            pb::ApiClientState::Revoked => Some(true),
        }
    })
}
