//! Assessors (测评员): their level, their state and the actions that change it.
//!
//! 《宁夏测评实施办法》§七(二): assessors come from the region, city and
//! county expert teams plus strong teachers and researchers; they must pass training and an
//! exam (考核合格 → 测评员证书), then be registered on the platform (完成登记注册后方可开展相关工作);
//! an assessor who works badly is reprimanded (批评教育), if need be replaced (调换), or struck
//! off (取消其测评员资格). "Replaced" is modelled as [`AssessorAction::Suspend`]: the assessor
//! stops grading and may be registered again later.

use std::fmt;

use crate::division::JurisdictionLevel;

/// The level at which an assessor is registered and grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssessorLevel {
    /// 校级测评员: school assessment (测评实施办法 五(一)2).
    School,
    /// 县级测评员: county review (五(一)3).
    County,
    /// 市级测评员: city audit (五(一)4).
    City,
    /// 自治区级 / 省级测评员: region audit (五(一)4).
    Province,
}

impl AssessorLevel {
    /// All levels, bottom up.
    pub const ALL: [AssessorLevel; 4] = [
        AssessorLevel::School,
        AssessorLevel::County,
        AssessorLevel::City,
        AssessorLevel::Province,
    ];

    /// The Chinese label: 校级 / 县级 / 市级 / 省级.
    pub fn label_zh(self) -> &'static str {
        match self {
            AssessorLevel::School => "校级",
            AssessorLevel::County => "县级",
            AssessorLevel::City => "市级",
            AssessorLevel::Province => "省级",
        }
    }

    /// The stable English key: `school` / `county` / `city` / `province`.
    pub fn key(self) -> &'static str {
        match self {
            AssessorLevel::School => "school",
            AssessorLevel::County => "county",
            AssessorLevel::City => "city",
            AssessorLevel::Province => "province",
        }
    }

    /// The unit an assessor of this level must be registered at.
    pub fn registration_unit(self) -> RegistrationUnit {
        match self {
            AssessorLevel::School => RegistrationUnit::School,
            AssessorLevel::County => RegistrationUnit::Jurisdiction(JurisdictionLevel::County),
            AssessorLevel::City => RegistrationUnit::Jurisdiction(JurisdictionLevel::City),
            AssessorLevel::Province => RegistrationUnit::Jurisdiction(JurisdictionLevel::Province),
        }
    }

    /// Whether an assessor of this level may be registered at `registered_at`.
    ///
    /// Exact match only: School ↔ a school, County ↔ a county, City ↔ a city, Province ↔ a
    /// province. A district directly under a municipality is county level, so its assessors are
    /// county assessors; the municipality's are province level (there is no city level there).
    pub fn matches_registration(self, registered_at: RegistrationUnit) -> bool {
        self.registration_unit() == registered_at
    }
}

/// Where an assessor is registered: a school or a jurisdiction of some level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationUnit {
    /// A school.
    School,
    /// A jurisdiction (province, city or county).
    Jurisdiction(JurisdictionLevel),
}

/// An assessor's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssessorState {
    /// Proposed, not yet through training and exam.
    Candidate,
    /// Passed training and exam, holds the certificate (测评员证书), not yet registered.
    Certified,
    /// Registered on the platform: may grade.
    Registered,
    /// Taken off grading (调换), may be registered again.
    Suspended,
    /// Struck off (取消资格): final.
    StruckOff,
}

/// What can happen to an assessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssessorAction {
    /// Passed training and exam: Candidate → Certified.
    Certify,
    /// Registered on the platform: Certified or Suspended → Registered.
    Register,
    /// Reprimanded (批评教育): recorded, state unchanged.
    Reprimand,
    /// Replaced (调换): Registered → Suspended.
    Suspend,
    /// Struck off (取消资格): any state but StruckOff → StruckOff.
    StrikeOff,
}

impl AssessorAction {
    /// Every action.
    pub const ALL: [AssessorAction; 5] = [
        AssessorAction::Certify,
        AssessorAction::Register,
        AssessorAction::Reprimand,
        AssessorAction::Suspend,
        AssessorAction::StrikeOff,
    ];

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            AssessorAction::Certify => "认定",
            AssessorAction::Register => "注册",
            AssessorAction::Reprimand => "批评教育",
            AssessorAction::Suspend => "调换",
            AssessorAction::StrikeOff => "取消资格",
        }
    }

    /// The stable snake_case English key.
    pub fn key(self) -> &'static str {
        match self {
            AssessorAction::Certify => "certify",
            AssessorAction::Register => "register",
            AssessorAction::Reprimand => "reprimand",
            AssessorAction::Suspend => "suspend",
            AssessorAction::StrikeOff => "strike_off",
        }
    }
}

impl AssessorState {
    /// Every state.
    pub const ALL: [AssessorState; 5] = [
        AssessorState::Candidate,
        AssessorState::Certified,
        AssessorState::Registered,
        AssessorState::Suspended,
        AssessorState::StruckOff,
    ];

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            AssessorState::Candidate => "候选",
            AssessorState::Certified => "已获证书",
            AssessorState::Registered => "已注册",
            AssessorState::Suspended => "已调换",
            AssessorState::StruckOff => "已取消资格",
        }
    }

    /// The stable snake_case English key.
    pub fn key(self) -> &'static str {
        match self {
            AssessorState::Candidate => "candidate",
            AssessorState::Certified => "certified",
            AssessorState::Registered => "registered",
            AssessorState::Suspended => "suspended",
            AssessorState::StruckOff => "struck_off",
        }
    }

    /// The state after `action`, if allowed here.
    fn next(self, action: AssessorAction) -> Option<AssessorState> {
        use AssessorAction as A;
        use AssessorState as S;
        match (self, action) {
            (S::StruckOff, _) => None,
            (state, A::Reprimand) => Some(state),
            (_, A::StrikeOff) => Some(S::StruckOff),
            (S::Candidate, A::Certify) => Some(S::Certified),
            (S::Certified | S::Suspended, A::Register) => Some(S::Registered),
            (S::Registered, A::Suspend) => Some(S::Suspended),
            _ => None,
        }
    }

    /// The actions allowed in this state, in [`AssessorAction::ALL`] order.
    pub fn allowed_actions(self) -> Vec<AssessorAction> {
        AssessorAction::ALL
            .into_iter()
            .filter(|action| self.next(*action).is_some())
            .collect()
    }

    /// Applies `action`; the error names the current state and the allowed actions.
    pub fn apply(self, action: AssessorAction) -> Result<AssessorState, String> {
        self.next(action).ok_or_else(|| {
            let allowed = self.allowed_actions();
            let zh = if allowed.is_empty() {
                "无".to_owned()
            } else {
                allowed
                    .iter()
                    .map(|a| a.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")
            };
            let en = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed
                    .iter()
                    .map(|a| a.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "测评员当前状态为“{}”，不能执行“{}”；允许的操作：{zh} \
                 (assessor is {}; cannot {}; allowed actions: {en})",
                self.label_zh(),
                action.label_zh(),
                self.key(),
                action.key(),
            )
        })
    }

    /// Whether an assessor in this state may grade: only when registered.
    pub fn may_grade(self) -> bool {
        self == AssessorState::Registered
    }
}

impl fmt::Display for AssessorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssessorAction as A;
    use AssessorState as S;

    #[test]
    fn the_normal_path_is_certify_then_register() {
        // 测评实施办法 七(二): 考核合格 → 证书 → 平台登记注册后方可开展相关工作.
        let certified = S::Candidate.apply(A::Certify).unwrap();
        assert_eq!(certified, S::Certified);
        assert!(!certified.may_grade());
        let registered = certified.apply(A::Register).unwrap();
        assert_eq!(registered, S::Registered);
        assert!(registered.may_grade());
    }

    #[test]
    fn a_suspended_assessor_can_be_registered_again() {
        let suspended = S::Registered.apply(A::Suspend).unwrap();
        assert_eq!(suspended, S::Suspended);
        assert!(!suspended.may_grade());
        assert_eq!(suspended.apply(A::Register), Ok(S::Registered));
    }

    #[test]
    fn anyone_but_a_struck_off_assessor_can_be_struck_off() {
        for state in [S::Candidate, S::Certified, S::Registered, S::Suspended] {
            assert_eq!(state.apply(A::StrikeOff), Ok(S::StruckOff), "{state}");
        }
        assert!(S::StruckOff.apply(A::StrikeOff).is_err());
    }

    #[test]
    fn a_reprimand_leaves_the_state_unchanged() {
        for state in [S::Candidate, S::Certified, S::Registered, S::Suspended] {
            assert_eq!(state.apply(A::Reprimand), Ok(state), "{state}");
        }
        assert!(S::StruckOff.apply(A::Reprimand).is_err());
    }

    #[test]
    fn struck_off_is_final() {
        for action in AssessorAction::ALL {
            assert!(S::StruckOff.apply(action).is_err(), "{action:?}");
        }
        assert!(S::StruckOff.allowed_actions().is_empty());
    }

    #[test]
    fn the_full_transition_table_is_as_documented() {
        let allowed = |state: S| state.allowed_actions();
        assert_eq!(
            allowed(S::Candidate),
            vec![A::Certify, A::Reprimand, A::StrikeOff]
        );
        assert_eq!(
            allowed(S::Certified),
            vec![A::Register, A::Reprimand, A::StrikeOff]
        );
        assert_eq!(
            allowed(S::Registered),
            vec![A::Reprimand, A::Suspend, A::StrikeOff]
        );
        assert_eq!(
            allowed(S::Suspended),
            vec![A::Register, A::Reprimand, A::StrikeOff]
        );
        for state in AssessorState::ALL {
            for action in AssessorAction::ALL {
                assert_eq!(
                    state.apply(action).is_ok(),
                    allowed(state).contains(&action),
                    "{state} {action:?}"
                );
            }
        }
    }

    #[test]
    fn only_a_registered_assessor_may_grade() {
        let grading: Vec<_> = AssessorState::ALL
            .into_iter()
            .filter(|s| s.may_grade())
            .collect();
        assert_eq!(grading, vec![S::Registered]);
    }

    #[test]
    fn a_refusal_names_the_state_and_the_allowed_actions() {
        let message = S::Candidate.apply(A::Register).unwrap_err();
        assert!(message.contains("candidate"), "{message}");
        assert!(message.contains("候选"), "{message}");
        assert!(
            message.contains("certify, reprimand, strike_off"),
            "{message}"
        );
        let message = S::StruckOff.apply(A::Register).unwrap_err();
        assert!(message.contains("none"), "{message}");
    }

    #[test]
    fn the_registration_level_must_match_exactly() {
        use JurisdictionLevel::*;
        use RegistrationUnit::*;
        let units = [
            School,
            Jurisdiction(County),
            Jurisdiction(City),
            Jurisdiction(Province),
        ];
        for (i, level) in AssessorLevel::ALL.into_iter().enumerate() {
            for (j, unit) in units.into_iter().enumerate() {
                assert_eq!(
                    level.matches_registration(unit),
                    i == j,
                    "{level:?} {unit:?}"
                );
            }
        }
    }

    #[test]
    fn labels_and_keys_are_distinct() {
        let keys: std::collections::HashSet<_> =
            AssessorState::ALL.iter().map(|s| s.key()).collect();
        assert_eq!(keys.len(), 5);
        let labels: std::collections::HashSet<_> =
            AssessorAction::ALL.iter().map(|a| a.label_zh()).collect();
        assert_eq!(labels.len(), 5);
        let levels: std::collections::HashSet<_> = AssessorLevel::ALL
            .iter()
            .map(|l| (l.key(), l.label_zh()))
            .collect();
        assert_eq!(levels.len(), 4);
    }
}
