use std::fmt;
use std::str::FromStr;

use tica_domain::division::JurisdictionLevel;

/// What a caller is, as named in its token's `role` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A teacher acting for themself; the token's subject is their teacher number.
    Teacher,
    /// A school's administrator (the school's ICT management team); acts for one school.
    SchoolAdmin,
    /// An assessor; acts for the school or jurisdiction they are registered at.
    Assessor,
    /// A county/district project office (工程办) or education bureau.
    CountyOffice,
    /// A city project office.
    CityOffice,
    /// A province-level project office.
    ProvinceOffice,
    /// A training provider's backend; the token's subject is its provider id. It pushes and
    /// reads its own hours records (and resolves the teachers it pushes for), nothing else.
    ///
    /// The TICA services have no role of their own: a service calling a peer forwards its
    /// caller's token, so it can never do more than the person or machine it acts for.
    TrainingProvider,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Teacher,
        Role::SchoolAdmin,
        Role::Assessor,
        Role::CountyOffice,
        Role::CityOffice,
        Role::ProvinceOffice,
        Role::TrainingProvider,
    ];

    /// The roles of people.
    pub const PEOPLE: [Role; 6] = [
        Role::Teacher,
        Role::SchoolAdmin,
        Role::Assessor,
        Role::CountyOffice,
        Role::CityOffice,
        Role::ProvinceOffice,
    ];

    /// The roles of machines.
    pub const MACHINES: [Role; 1] = [Role::TrainingProvider];

    /// The offices, which administer a jurisdiction.
    pub const OFFICES: [Role; 3] = [Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];

    /// The claim value, e.g. `county_office`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::SchoolAdmin => "school_admin",
            Role::Assessor => "assessor",
            Role::CountyOffice => "county_office",
            Role::CityOffice => "city_office",
            Role::ProvinceOffice => "province_office",
            Role::TrainingProvider => "training_provider",
        }
    }

    /// Whether this role is a machine's (it never acts for a school).
    pub fn is_machine(self) -> bool {
        Role::MACHINES.contains(&self)
    }

    /// Whether this role is an education office.
    pub fn is_office(self) -> bool {
        Role::OFFICES.contains(&self)
    }

    /// The jurisdiction level an office role must act for; `None` for other roles.
    pub fn office_level(self) -> Option<JurisdictionLevel> {
        match self {
            Role::CountyOffice => Some(JurisdictionLevel::County),
            Role::CityOffice => Some(JurisdictionLevel::City),
            Role::ProvinceOffice => Some(JurisdictionLevel::Province),
            _ => None,
        }
    }

    /// Whether tokens of this role must name a school.
    pub fn requires_school(self) -> bool {
        matches!(self, Role::Teacher | Role::SchoolAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalised = s.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == normalised)
            .ok_or_else(|| {
                let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role {s:?}; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_claim_values() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!("County-Office".parse::<Role>().unwrap(), Role::CountyOffice);
        assert!("superuser".parse::<Role>().is_err());
        assert!(
            "service".parse::<Role>().is_err(),
            "the catch-all machine role is gone"
        );
        assert_eq!(
            "training-provider".parse::<Role>().unwrap(),
            Role::TrainingProvider
        );
    }
}
