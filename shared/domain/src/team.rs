//! Team size rules and team roster checks.
//!
//! Two kinds of team:
//! - the school ICT management team (学校信息化管理团队), led by the principal (校长领衔):
//!   3–8 people in Ningxia (《宁夏实施方案》§二(一)), 3–5 in Anhui (《安徽指导意见》§三(一)2;
//!   the same in Sixian, 《泗县实施意见》附件2 §三(一)2);
//! - training / guidance teams (培训团队) of a jurisdiction: in Ningxia region 15–20, city
//!   10–15, county 8–10 (《宁夏实施方案》§二(二)). Anhui lets each level set its own numbers
//!   (《安徽团队意见》§四 2), so it has no preset.
//!
//! Rules are policy data: a jurisdiction may set its own [`TeamRules`], inherited downward;
//! [`effective_team_rules`] resolves the chain.

use std::collections::HashMap;
use std::fmt;

use crate::division::{DivisionCode, JurisdictionLevel};

/// Largest team size a rule may allow.
pub const MAX_TEAM_SIZE: u32 = 200;

/// An inclusive range of team sizes, `1 <= min <= max <= 200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SizeRange {
    /// Smallest allowed size (leader included).
    pub min: u32,
    /// Largest allowed size (leader included).
    pub max: u32,
}

impl SizeRange {
    /// Builds a validated range.
    pub fn new(min: u32, max: u32) -> Result<SizeRange, String> {
        let range = SizeRange { min, max };
        range.validate()?;
        Ok(range)
    }

    /// Checks `1 <= min <= max <= 200`.
    pub fn validate(&self) -> Result<(), String> {
        let SizeRange { min, max } = *self;
        if min < 1 || min > max || max > MAX_TEAM_SIZE {
            return Err(format!(
                "团队人数范围{min}–{max}无效，须满足1 ≤ 下限 ≤ 上限 ≤ {MAX_TEAM_SIZE} \
                 (team size range {min}–{max} is invalid: need 1 <= min <= max <= {MAX_TEAM_SIZE})"
            ));
        }
        Ok(())
    }

    /// Whether a team of `n` people fits the range.
    pub fn contains(&self, n: u32) -> bool {
        self.min <= n && n <= self.max
    }
}

impl fmt::Display for SizeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.min, self.max)
    }
}

/// Team size rules of one jurisdiction; `None` means "not set here" (inherit, or no rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamRules {
    /// Size of a school's ICT management team.
    pub school_ict_management: Option<SizeRange>,
    /// Size of the province-level (region) training team.
    pub province_training: Option<SizeRange>,
    /// Size of a city-level training team.
    pub city_training: Option<SizeRange>,
    /// Size of a county-level training team.
    pub county_training: Option<SizeRange>,
}

impl TeamRules {
    /// The rules the documents give for a province (any code inside it works).
    ///
    /// Ningxia (64): school 3–8, region 15–20, city 10–15, county 8–10
    /// (《宁夏实施方案》§二(一)(二)). Anhui (34): school 3–5 (《安徽指导意见》§三(一)2). Any
    /// other province: nothing set.
    pub fn preset_for_province(province: DivisionCode) -> TeamRules {
        let range = |min, max| Some(SizeRange { min, max });
        match province.province_part() {
            64 => TeamRules {
                school_ict_management: range(3, 8),
                province_training: range(15, 20),
                city_training: range(10, 15),
                county_training: range(8, 10),
            },
            34 => TeamRules {
                school_ict_management: range(3, 5),
                ..TeamRules::default()
            },
            _ => TeamRules::default(),
        }
    }

    /// Field by field: the value set on `self` wins, else `base`'s.
    pub fn overlay(&self, base: &TeamRules) -> TeamRules {
        TeamRules {
            school_ict_management: self.school_ict_management.or(base.school_ict_management),
            province_training: self.province_training.or(base.province_training),
            city_training: self.city_training.or(base.city_training),
            county_training: self.county_training.or(base.county_training),
        }
    }

    /// Checks every range that is set, naming the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("school_ict_management", self.school_ict_management),
            ("province_training", self.province_training),
            ("city_training", self.city_training),
            ("county_training", self.county_training),
        ];
        for (name, range) in fields {
            if let Some(range) = range {
                range.validate().map_err(|e| format!("{name}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Resolves the rules in force for a jurisdiction.
///
/// `chain` runs from the jurisdiction itself up to its province (nearest first); the nearest
/// value set wins, and the province's seed preset ([`TeamRules::preset_for_province`]) comes
/// last.
pub fn effective_team_rules(chain: &[TeamRules], province: DivisionCode) -> TeamRules {
    chain
        .iter()
        .fold(TeamRules::default(), |acc, rules| acc.overlay(rules))
        .overlay(&TeamRules::preset_for_province(province))
}

/// The kind of a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TeamKind {
    /// 学校信息化管理团队, owned by a school and led by its principal.
    SchoolIctManagement,
    /// 培训团队 / 指导团队, owned by a jurisdiction (or a school, without a size rule).
    Training,
}

impl TeamKind {
    /// Both kinds.
    pub const ALL: [TeamKind; 2] = [TeamKind::SchoolIctManagement, TeamKind::Training];

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            TeamKind::SchoolIctManagement => "学校信息化管理团队",
            TeamKind::Training => "培训团队",
        }
    }

    /// The stable snake_case English key.
    pub fn key(self) -> &'static str {
        match self {
            TeamKind::SchoolIctManagement => "school_ict_management",
            TeamKind::Training => "training",
        }
    }
}

/// The size rule for a team of `kind` whose owner is at `owner_level` (`None` = a school).
///
/// A school ICT team owned by a jurisdiction and a training team owned by a school have no
/// size rule (`None`).
pub fn team_size_rule(
    rules: &TeamRules,
    kind: TeamKind,
    owner_level: Option<JurisdictionLevel>,
) -> Option<SizeRange> {
    match (kind, owner_level) {
        (TeamKind::SchoolIctManagement, None) => rules.school_ict_management,
        (TeamKind::SchoolIctManagement, Some(_)) => None,
        (TeamKind::Training, None) => None,
        (TeamKind::Training, Some(JurisdictionLevel::Province)) => rules.province_training,
        (TeamKind::Training, Some(JurisdictionLevel::City)) => rules.city_training,
        (TeamKind::Training, Some(JurisdictionLevel::County)) => rules.county_training,
    }
}

/// What [`check_team`] needs to know about one roster line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TeamMemberFacts {
    /// Identity used for duplicate detection: the teacher number, or `external:<n>`.
    pub key: String,
    /// Whether this member leads the team.
    pub is_leader: bool,
    /// Whether this member is from outside the roster (e.g. a university expert).
    pub is_external: bool,
    /// Whether this member is a principal of the owning school.
    pub is_principal: bool,
    /// Whether this (roster) member belongs to the owning school or jurisdiction's subtree.
    pub inside_owner: bool,
}

/// One thing wrong with a team; each maps to one field violation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TeamProblem {
    /// The number of distinct members is outside the rule.
    #[error("团队人数为{size}，应为{rule}人 (team has {size} members; the rule is {rule})")]
    WrongSize {
        /// Distinct members counted (leader included).
        size: usize,
        /// The rule in force.
        rule: SizeRange,
    },
    /// Nobody is marked as leader.
    #[error("团队没有负责人 (team has no leader)")]
    NoLeader,
    /// A second (third …) leader.
    #[error(
        "第{}名成员也被标为负责人，但团队只能有一名负责人（第{}名） (member {} is marked as leader too; the team has one leader, member {})",
        .member_index + 1, .first_leader_index + 1, .member_index + 1, .first_leader_index + 1
    )]
    ExtraLeader {
        /// 0-based index of the extra leader.
        member_index: usize,
        /// 0-based index of the first leader.
        first_leader_index: usize,
    },
    /// A member without a key.
    #[error(
        "第{}名成员缺少教师编号 (member {} has no teacher number or external key)",
        .member_index + 1, .member_index + 1
    )]
    MissingKey {
        /// 0-based index of the member.
        member_index: usize,
    },
    /// The same person listed twice.
    #[error(
        "第{}名成员与第{}名重复 (member {} repeats member {})",
        .member_index + 1, .first_index + 1, .member_index + 1, .first_index + 1
    )]
    DuplicateMember {
        /// 0-based index of the repeat.
        member_index: usize,
        /// 0-based index of the first occurrence.
        first_index: usize,
    },
    /// An external member in a school ICT management team.
    #[error(
        "第{}名成员是外部人员，学校信息化管理团队只能由本校人员组成 (member {} is external; a school ICT management team is made of the school's own staff)",
        .member_index + 1, .member_index + 1
    )]
    ExternalMemberNotAllowed {
        /// 0-based index of the member.
        member_index: usize,
    },
    /// The leader of a school ICT management team is not a principal of the school.
    #[error(
        "第{}名成员是负责人但不是本校校长；学校信息化管理团队由校长领衔 (member {} leads the team but is not the school's principal; the principal leads the school ICT management team)",
        .member_index + 1, .member_index + 1
    )]
    LeaderNotPrincipal {
        /// 0-based index of the leader.
        member_index: usize,
    },
    /// A roster member from outside the owning school or jurisdiction.
    #[error(
        "第{}名成员不属于本单位 (member {} is not in the owning school or jurisdiction)",
        .member_index + 1, .member_index + 1
    )]
    OutsideOwner {
        /// 0-based index of the member.
        member_index: usize,
    },
    /// A school ICT management team owned by a jurisdiction instead of a school.
    #[error(
        "学校信息化管理团队只能属于学校 (a school ICT management team must belong to a school)"
    )]
    SchoolTeamOwnedByJurisdiction,
}

impl TeamProblem {
    /// The 0-based index of the member concerned, if the problem concerns one member.
    pub fn member_index(&self) -> Option<usize> {
        match self {
            TeamProblem::WrongSize { .. }
            | TeamProblem::NoLeader
            | TeamProblem::SchoolTeamOwnedByJurisdiction => None,
            TeamProblem::ExtraLeader { member_index, .. }
            | TeamProblem::MissingKey { member_index }
            | TeamProblem::DuplicateMember { member_index, .. }
            | TeamProblem::ExternalMemberNotAllowed { member_index }
            | TeamProblem::LeaderNotPrincipal { member_index }
            | TeamProblem::OutsideOwner { member_index } => Some(*member_index),
        }
    }

    /// The human message, in Chinese and English (same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Checks a team roster against the rules; all problems are reported, team-wide ones first.
///
/// Rules: the number of distinct members (leader included) fits [`team_size_rule`] when there
/// is one; exactly one leader; no empty or repeated key (keys compared after trimming); every
/// roster (non-external) member is inside the owner. For a school ICT management team also:
/// it belongs to a school (`owner_level` is `None`), no external members, and the leader is a
/// principal of the school (校长领衔: 《宁夏实施方案》§二(一),
/// 《安徽指导意见》§二(四)1).
pub fn check_team(
    kind: TeamKind,
    owner_level: Option<JurisdictionLevel>,
    rules: &TeamRules,
    members: &[TeamMemberFacts],
) -> Result<(), Vec<TeamProblem>> {
    let mut team_wide = Vec::new();
    let mut per_member = Vec::new();
    let school_team = kind == TeamKind::SchoolIctManagement;

    if school_team && owner_level.is_some() {
        team_wide.push(TeamProblem::SchoolTeamOwnedByJurisdiction);
    }

    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut first_leader: Option<usize> = None;
    for (index, member) in members.iter().enumerate() {
        let key = member.key.trim();
        if key.is_empty() {
            per_member.push(TeamProblem::MissingKey {
                member_index: index,
            });
        } else if let Some(&first_index) = first_seen.get(key) {
            per_member.push(TeamProblem::DuplicateMember {
                member_index: index,
                first_index,
            });
        } else {
            first_seen.insert(key, index);
        }
        if member.is_leader {
            match first_leader {
                None => first_leader = Some(index),
                Some(first_leader_index) => per_member.push(TeamProblem::ExtraLeader {
                    member_index: index,
                    first_leader_index,
                }),
            }
            if school_team && !member.is_principal {
                per_member.push(TeamProblem::LeaderNotPrincipal {
                    member_index: index,
                });
            }
        }
        if member.is_external {
            if school_team {
                per_member.push(TeamProblem::ExternalMemberNotAllowed {
                    member_index: index,
                });
            }
        } else if !member.inside_owner {
            per_member.push(TeamProblem::OutsideOwner {
                member_index: index,
            });
        }
    }

    // Lines without a key are counted as people; repeats are not.
    let size = first_seen.len()
        + per_member
            .iter()
            .filter(|p| matches!(p, TeamProblem::MissingKey { .. }))
            .count();
    if let Some(rule) = team_size_rule(rules, kind, owner_level) {
        let fits = u32::try_from(size).is_ok_and(|n| rule.contains(n));
        if !fits {
            team_wide.push(TeamProblem::WrongSize { size, rule });
        }
    }
    if first_leader.is_none() {
        team_wide.push(TeamProblem::NoLeader);
    }

    team_wide.extend(per_member);
    if team_wide.is_empty() {
        Ok(())
    } else {
        Err(team_wide)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn range(min: u32, max: u32) -> Option<SizeRange> {
        Some(SizeRange { min, max })
    }

    fn member(key: &str) -> TeamMemberFacts {
        TeamMemberFacts {
            key: key.to_owned(),
            is_leader: false,
            is_external: false,
            is_principal: false,
            inside_owner: true,
        }
    }

    fn principal_leader(key: &str) -> TeamMemberFacts {
        TeamMemberFacts {
            is_leader: true,
            is_principal: true,
            ..member(key)
        }
    }

    /// A school team of `n` people: a principal leading, then ordinary members.
    fn school_team(n: usize) -> Vec<TeamMemberFacts> {
        let mut team = vec![principal_leader("T000")];
        team.extend((1..n).map(|i| member(&format!("T{i:03}"))));
        team
    }

    fn ningxia() -> TeamRules {
        TeamRules::preset_for_province(code("640000"))
    }

    #[test]
    fn a_size_range_holds_its_bounds_inclusively() {
        let r = SizeRange::new(3, 8).unwrap();
        assert!(!r.contains(2));
        assert!(r.contains(3));
        assert!(r.contains(8));
        assert!(!r.contains(9));
        assert_eq!(r.to_string(), "3–8");
        assert!(SizeRange::new(5, 5).is_ok());
        assert!(SizeRange::new(1, 200).is_ok());
    }

    #[test]
    fn a_size_range_needs_one_at_least_min_below_max_and_at_most_200() {
        assert!(SizeRange::new(0, 5).is_err());
        assert!(SizeRange::new(6, 5).is_err());
        assert!(SizeRange::new(1, 201).is_err());
        let message = SizeRange::new(9, 3).unwrap_err();
        assert!(message.contains("9–3"), "{message}");
    }

    #[test]
    fn ningxia_presets_follow_its_implementation_plan() {
        // 《宁夏实施方案》§二(一) "3-8 人"; §二(二) "自治区 15—20 人、市
        // 10—15 人、县(区)8—10 人".
        let rules = TeamRules::preset_for_province(code("640104"));
        assert_eq!(rules, ningxia());
        assert_eq!(rules.school_ict_management, range(3, 8));
        assert_eq!(rules.province_training, range(15, 20));
        assert_eq!(rules.city_training, range(10, 15));
        assert_eq!(rules.county_training, range(8, 10));
        assert_eq!(rules.validate(), Ok(()));
    }

    #[test]
    fn anhui_presets_only_the_school_team_of_three_to_five() {
        // 《安徽指导意见》§三(一)2 "3-5人构成的学校信息化管理团队".
        let rules = TeamRules::preset_for_province(code("341324"));
        assert_eq!(
            rules,
            TeamRules {
                school_ict_management: range(3, 5),
                ..TeamRules::default()
            }
        );
    }

    #[test]
    fn other_provinces_have_no_preset() {
        for province in ["110000", "450000", "420000"] {
            assert_eq!(
                TeamRules::preset_for_province(code(province)),
                TeamRules::default()
            );
        }
    }

    #[test]
    fn overlay_keeps_fields_set_on_top_and_fills_the_rest_from_the_base() {
        let top = TeamRules {
            school_ict_management: range(4, 6),
            ..TeamRules::default()
        };
        let merged = top.overlay(&ningxia());
        assert_eq!(merged.school_ict_management, range(4, 6));
        assert_eq!(merged.county_training, range(8, 10));
        assert_eq!(TeamRules::default().overlay(&ningxia()), ningxia());
        assert_eq!(ningxia().overlay(&TeamRules::default()), ningxia());
    }

    #[test]
    fn the_nearest_jurisdiction_wins_and_the_preset_comes_last() {
        let county = TeamRules {
            county_training: range(5, 9),
            ..TeamRules::default()
        };
        let city = TeamRules {
            county_training: range(6, 12),
            school_ict_management: range(3, 6),
            ..TeamRules::default()
        };
        let region = TeamRules {
            school_ict_management: range(3, 7),
            city_training: range(9, 14),
            ..TeamRules::default()
        };
        let effective = effective_team_rules(&[county, city, region], code("640000"));
        assert_eq!(effective.county_training, range(5, 9));
        assert_eq!(effective.school_ict_management, range(3, 6));
        assert_eq!(effective.city_training, range(9, 14));
        assert_eq!(effective.province_training, range(15, 20));
        assert_eq!(
            effective_team_rules(&[], code("340000")).school_ict_management,
            range(3, 5)
        );
        assert_eq!(
            effective_team_rules(&[], code("110000")),
            TeamRules::default()
        );
    }

    #[test]
    fn validate_names_the_bad_field() {
        let rules = TeamRules {
            city_training: Some(SizeRange { min: 0, max: 3 }),
            ..TeamRules::default()
        };
        let message = rules.validate().unwrap_err();
        assert!(message.starts_with("city_training"), "{message}");
    }

    #[test]
    fn the_size_rule_depends_on_the_kind_and_the_owner_level() {
        let rules = ningxia();
        use JurisdictionLevel::*;
        use TeamKind::*;
        assert_eq!(
            team_size_rule(&rules, SchoolIctManagement, None),
            range(3, 8)
        );
        assert_eq!(
            team_size_rule(&rules, SchoolIctManagement, Some(County)),
            None
        );
        assert_eq!(
            team_size_rule(&rules, Training, Some(Province)),
            range(15, 20)
        );
        assert_eq!(team_size_rule(&rules, Training, Some(City)), range(10, 15));
        assert_eq!(team_size_rule(&rules, Training, Some(County)), range(8, 10));
        assert_eq!(team_size_rule(&rules, Training, None), None);
    }

    #[test]
    fn a_school_team_of_three_to_eight_led_by_the_principal_passes_in_ningxia() {
        for n in 3..=8 {
            assert_eq!(
                check_team(
                    TeamKind::SchoolIctManagement,
                    None,
                    &ningxia(),
                    &school_team(n)
                ),
                Ok(()),
                "{n}"
            );
        }
    }

    #[test]
    fn the_size_counts_the_leader_and_is_checked_at_both_ends() {
        for n in [1, 2, 9] {
            let problems = check_team(
                TeamKind::SchoolIctManagement,
                None,
                &ningxia(),
                &school_team(n),
            )
            .unwrap_err();
            assert_eq!(
                problems,
                vec![TeamProblem::WrongSize {
                    size: n,
                    rule: SizeRange { min: 3, max: 8 }
                }]
            );
            assert_eq!(problems[0].member_index(), None);
        }
    }

    #[test]
    fn anhui_refuses_a_six_person_school_team() {
        let anhui = TeamRules::preset_for_province(code("340000"));
        assert!(check_team(TeamKind::SchoolIctManagement, None, &anhui, &school_team(5)).is_ok());
        assert!(check_team(TeamKind::SchoolIctManagement, None, &anhui, &school_team(6)).is_err());
    }

    #[test]
    fn without_a_rule_any_size_with_one_leader_passes() {
        let beijing = TeamRules::preset_for_province(code("110000"));
        assert!(
            check_team(
                TeamKind::SchoolIctManagement,
                None,
                &beijing,
                &school_team(1)
            )
            .is_ok()
        );
        assert!(
            check_team(
                TeamKind::SchoolIctManagement,
                None,
                &beijing,
                &school_team(40)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_team_without_a_leader_is_refused() {
        let team: Vec<_> = (0..3).map(|i| member(&format!("T{i}"))).collect();
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team),
            Err(vec![TeamProblem::NoLeader])
        );
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &[]),
            Err(vec![
                TeamProblem::WrongSize {
                    size: 0,
                    rule: SizeRange { min: 3, max: 8 }
                },
                TeamProblem::NoLeader
            ])
        );
    }

    #[test]
    fn a_second_leader_is_reported_on_its_own_line() {
        let mut team = school_team(4);
        team[2].is_leader = true;
        team[2].is_principal = true;
        let problems =
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team).unwrap_err();
        assert_eq!(
            problems,
            vec![TeamProblem::ExtraLeader {
                member_index: 2,
                first_leader_index: 0
            }]
        );
        assert_eq!(problems[0].member_index(), Some(2));
        assert!(
            problems[0].message().contains("member 3"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_repeated_member_is_reported_and_counted_once() {
        let mut team = school_team(8);
        team.push(member("T003"));
        let problems =
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team).unwrap_err();
        assert_eq!(
            problems,
            vec![TeamProblem::DuplicateMember {
                member_index: 8,
                first_index: 3
            }]
        );
        let mut padded = school_team(3);
        padded.push(member(" T001 "));
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &padded),
            Err(vec![TeamProblem::DuplicateMember {
                member_index: 3,
                first_index: 1
            }])
        );
    }

    #[test]
    fn a_member_without_a_key_is_reported() {
        let mut team = school_team(3);
        team[1].key = "  ".to_owned();
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team),
            Err(vec![TeamProblem::MissingKey { member_index: 1 }])
        );
    }

    #[test]
    fn a_school_team_must_be_led_by_a_principal() {
        // 《宁夏实施方案》§二(一) "由校长领衔".
        let mut team = school_team(4);
        team[0].is_principal = false;
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team),
            Err(vec![TeamProblem::LeaderNotPrincipal { member_index: 0 }])
        );
    }

    #[test]
    fn a_school_team_takes_no_external_members() {
        let mut team = school_team(4);
        team[3] = TeamMemberFacts {
            key: "external:1".to_owned(),
            is_external: true,
            inside_owner: false,
            ..member("")
        };
        assert_eq!(
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team),
            Err(vec![TeamProblem::ExternalMemberNotAllowed {
                member_index: 3
            }])
        );
    }

    #[test]
    fn a_school_team_owned_by_a_jurisdiction_is_refused() {
        assert_eq!(
            check_team(
                TeamKind::SchoolIctManagement,
                Some(JurisdictionLevel::County),
                &ningxia(),
                &school_team(4)
            ),
            Err(vec![TeamProblem::SchoolTeamOwnedByJurisdiction])
        );
    }

    #[test]
    fn roster_members_must_be_inside_the_owner_but_external_experts_need_not() {
        // Training teams draw on university experts (《宁夏实施方案》
        // §二(二) "高校专家"), who are not on any school's roster.
        let mut team: Vec<_> = (0..9).map(|i| member(&format!("T{i}"))).collect();
        team[0].is_leader = true;
        team[4].inside_owner = false;
        team.push(TeamMemberFacts {
            key: "external:1".to_owned(),
            is_external: true,
            inside_owner: false,
            ..member("")
        });
        let problems = check_team(
            TeamKind::Training,
            Some(JurisdictionLevel::County),
            &ningxia(),
            &team,
        )
        .unwrap_err();
        assert_eq!(
            problems,
            vec![TeamProblem::OutsideOwner { member_index: 4 }]
        );
        team[4].inside_owner = true;
        assert!(
            check_team(
                TeamKind::Training,
                Some(JurisdictionLevel::County),
                &ningxia(),
                &team
            )
            .is_ok()
        );
    }

    #[test]
    fn training_team_sizes_follow_the_owner_level() {
        let team = |n: usize| -> Vec<TeamMemberFacts> {
            let mut t: Vec<_> = (0..n).map(|i| member(&format!("T{i}"))).collect();
            t[0].is_leader = true;
            t
        };
        use JurisdictionLevel::*;
        let cases = [(Province, 15, 20), (City, 10, 15), (County, 8, 10)];
        for (level, min, max) in cases {
            let check = |n| check_team(TeamKind::Training, Some(level), &ningxia(), &team(n));
            assert!(check(min as usize).is_ok(), "{level:?}");
            assert!(check(max as usize).is_ok(), "{level:?}");
            assert!(check(min as usize - 1).is_err(), "{level:?}");
            assert!(check(max as usize + 1).is_err(), "{level:?}");
        }
    }

    #[test]
    fn all_problems_are_reported_together_team_wide_first() {
        let mut team = school_team(2);
        team[0].is_principal = false;
        team.push(member("T001"));
        team[1].inside_owner = false;
        let problems =
            check_team(TeamKind::SchoolIctManagement, None, &ningxia(), &team).unwrap_err();
        assert_eq!(
            problems,
            vec![
                TeamProblem::WrongSize {
                    size: 2,
                    rule: SizeRange { min: 3, max: 8 }
                },
                TeamProblem::LeaderNotPrincipal { member_index: 0 },
                TeamProblem::OutsideOwner { member_index: 1 },
                TeamProblem::DuplicateMember {
                    member_index: 2,
                    first_index: 1
                },
            ]
        );
        for problem in &problems {
            let message = problem.message();
            assert!(message.contains(" ("), "{message}");
        }
    }
}
