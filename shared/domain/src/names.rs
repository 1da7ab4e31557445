//! Resource names, `{collection}/{id}`: the form every TICA API names a thing by (AIP-122).
//!
//! One type per top-level collection, so that each collection's spelling lives here once and a
//! school code cannot stand where a teacher number is expected. A name is parsed strictly: the
//! right collection, then a non-empty id free of `/`. Nested names (`batches/{id}/participants/
//! {number}`) are read by the service that owns them; their first segment is one of these.
//!
//! The gRPC edge turns a failed parse into INVALID_ARGUMENT on the field
//! (`tica_server::names`); code reading another service's answer treats it as a corrupt answer.

use std::fmt;

use crate::division::DivisionCode;

/// The id in `name` if `name` is `{collection}/{id}` with a non-empty id free of `/`.
pub fn id_in<'a>(name: &'a str, collection: &str) -> Option<&'a str> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

macro_rules! collection {
    ($(#[$doc:meta])* $ty:ident => $collection:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(String);

        impl $ty {
            /// The collection's segment.
            pub const COLLECTION: &'static str = $collection;

            /// The name of the member `id`.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// `name` if it names a member of this collection.
            pub fn parse(name: &str) -> Option<Self> {
                Self::id_of(name).map(Self::new)
            }

            /// The member's id in `name`, if it names one (no allocation).
            pub fn id_of(name: &str) -> Option<&str> {
                id_in(name, $collection)
            }

            /// The full name of the member `id`.
            pub fn of(id: &str) -> String {
                format!(concat!($collection, "/{}"), id)
            }

            /// The member's id.
            pub fn id(&self) -> &str {
                &self.0
            }

            /// The member's id, owned.
            pub fn into_id(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($collection, "/{}"), self.0)
            }
        }
    };
}

collection!(
    /// `jurisdictions/{division code}`.
    JurisdictionName => "jurisdictions"
);
collection!(
    /// `schools/{school code}`.
    SchoolName => "schools"
);
collection!(
    /// `teachers/{teacher number}`.
    TeacherName => "teachers"
);
collection!(
    /// `assessors/{assessor id}`.
    AssessorName => "assessors"
);
collection!(
    /// `teams/{team id}`.
    TeamName => "teams"
);
collection!(
    /// `batches/{county}-{year}`.
    BatchName => "batches"
);
collection!(
    /// `policies/{division code}`.
    PolicyName => "policies"
);
collection!(
    /// `reviewRounds/{round id}`.
    ReviewRoundName => "reviewRounds"
);
collection!(
    /// `certificates/{certificate id}`.
    CertificateName => "certificates"
);
collection!(
    /// `apiClients/{client id}`: a machine an office registered (its OAuth `client_id`).
    ApiClientName => "apiClients"
);

impl JurisdictionName {
    /// The division code `name` names, if it is `jurisdictions/{valid GB/T 2260 code}`.
    pub fn code_of(name: &str) -> Option<DivisionCode> {
        Self::id_of(name).and_then(|code| DivisionCode::parse(code).ok())
    }

    /// The name of `code`.
    pub fn of_code(code: DivisionCode) -> String {
        Self::of(code.as_str())
    }
}

/// A unit results are kept for and a registration is made at: a school or a jurisdiction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitName<'a> {
    /// `schools/{code}`.
    School(&'a str),
    /// `jurisdictions/{code}`.
    Jurisdiction(&'a str),
}

impl<'a> UnitName<'a> {
    /// `schools/{code}` or `jurisdictions/{code}`; `None` for anything else.
    pub fn parse(name: &'a str) -> Option<UnitName<'a>> {
        SchoolName::id_of(name)
            .map(UnitName::School)
            .or_else(|| JurisdictionName::id_of(name).map(UnitName::Jurisdiction))
    }

    /// The school code or division code.
    pub fn id(&self) -> &'a str {
        match self {
            UnitName::School(id) | UnitName::Jurisdiction(id) => id,
        }
    }
}

impl fmt::Display for UnitName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitName::School(code) => write!(f, "schools/{code}"),
            UnitName::Jurisdiction(code) => write!(f, "jurisdictions/{code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_yields_its_id_only_in_its_own_collection() {
        assert_eq!(SchoolName::id_of("schools/3413240001"), Some("3413240001"));
        assert_eq!(SchoolName::id_of("teachers/3413240001"), None);
        assert_eq!(SchoolName::id_of("schools/"), None);
        assert_eq!(SchoolName::id_of("schools/a/b"), None);
        assert_eq!(SchoolName::id_of("schoolsX/1"), None);
        assert_eq!(SchoolName::id_of("3413240001"), None);
    }

    #[test]
    fn a_name_prints_as_it_parses() {
        let name = TeacherName::parse("teachers/T0001").unwrap();
        assert_eq!(name.id(), "T0001");
        assert_eq!(name.to_string(), "teachers/T0001");
        assert_eq!(TeacherName::of("T0001"), "teachers/T0001");
        assert_eq!(ReviewRoundName::of("r1"), "reviewRounds/r1");
    }

    #[test]
    fn a_jurisdiction_name_carries_a_valid_division_code_or_none() {
        assert_eq!(
            JurisdictionName::code_of("jurisdictions/341324").map(|c| c.as_str().to_owned()),
            Some("341324".to_owned())
        );
        assert_eq!(JurisdictionName::code_of("jurisdictions/34132"), None);
        assert_eq!(JurisdictionName::code_of("schools/341324"), None);
    }

    #[test]
    fn a_unit_is_a_school_or_a_jurisdiction_and_nothing_else() {
        assert_eq!(UnitName::parse("schools/1"), Some(UnitName::School("1")));
        assert_eq!(
            UnitName::parse("jurisdictions/341324"),
            Some(UnitName::Jurisdiction("341324"))
        );
        assert_eq!(UnitName::parse("teams/1"), None);
        assert_eq!(UnitName::parse(""), None);
        assert_eq!(
            UnitName::parse("jurisdictions/341324").unwrap().to_string(),
            "jurisdictions/341324"
        );
    }
}
