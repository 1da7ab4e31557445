//! Resource names: `{collection}/{id}`.

use tica_domain::names::{UnitName, id_in};
use tonic::Status;

use crate::errors::invalid;

/// The id in `name` if it is `{collection}/{id}` with a non-empty id free of `/` (the rule of
/// `tica_domain::names`); otherwise an INVALID_ARGUMENT on `field` that shows the expected form.
#[allow(clippy::result_large_err)]
pub fn parse<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, Status> {
    id_in(name, collection).ok_or_else(|| {
        invalid(
            field,
            format!("expected `{collection}/{{id}}`, got {name:?}"),
        )
    })
}

/// A parent that may name a school or a jurisdiction.
pub type Parent<'a> = UnitName<'a>;

/// Parses `schools/{code}` or `jurisdictions/{code}`; `None` for an empty string.
#[allow(clippy::result_large_err)]
pub fn parse_parent<'a>(field: &str, name: &'a str) -> Result<Option<Parent<'a>>, Status> {
    if name.is_empty() {
        return Ok(None);
    }
    if name.starts_with("schools/") {
        return parse(field, name, "schools").map(|id| Some(Parent::School(id)));
    }
    if name.starts_with("jurisdictions/") {
        return parse(field, name, "jurisdictions").map(|id| Some(Parent::Jurisdiction(id)));
    }
    Err(invalid(
        field,
        format!("expected `schools/{{code}}` or `jurisdictions/{{code}}`, got {name:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_yields_its_id_only_in_the_right_collection() {
        assert_eq!(
            parse("name", "schools/3413240001", "schools").unwrap(),
            "3413240001"
        );
        assert!(parse("name", "teachers/3413240001", "schools").is_err());
        assert!(parse("name", "schools/", "schools").is_err());
        assert!(parse("name", "schools/a/b", "schools").is_err());
    }

    #[test]
    fn a_parent_is_a_school_or_a_jurisdiction() {
        assert_eq!(
            parse_parent("parent", "schools/1").unwrap(),
            Some(Parent::School("1"))
        );
        assert_eq!(
            parse_parent("parent", "jurisdictions/341324").unwrap(),
            Some(Parent::Jurisdiction("341324"))
        );
        assert_eq!(parse_parent("parent", "").unwrap(), None);
        assert!(parse_parent("parent", "teams/1").is_err());
    }
}
