//! Serde adapters that store [`TeacherCategory`] and [`PersonRole`] lists as their stable
//! `key()` strings (`"city_county_backbone"`, `"teaching_researcher"`), so that the person
//! module's public API needs no serde derives.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use crate::person::{PersonRole, TeacherCategory};

/// An enum stored by its stable key.
pub(crate) trait Keyed: Copy + 'static {
    /// Every value.
    fn all() -> &'static [Self];
    /// The stable key.
    fn key(self) -> &'static str;
    /// What the value is, for error messages.
    const WHAT: &'static str;
}

impl Keyed for TeacherCategory {
    fn all() -> &'static [Self] {
        &TeacherCategory::ALL
    }
    fn key(self) -> &'static str {
        TeacherCategory::key(self)
    }
    const WHAT: &'static str = "teacher category";
}

impl Keyed for PersonRole {
    fn all() -> &'static [Self] {
        &PersonRole::ALL
    }
    fn key(self) -> &'static str {
        PersonRole::key(self)
    }
    const WHAT: &'static str = "person role";
}

/// Finds the value whose key is exactly `key`.
pub(crate) fn from_key<T: Keyed>(key: &str) -> Option<T> {
    T::all().iter().copied().find(|value| value.key() == key)
}

/// Serialises a list as its keys.
pub(crate) fn serialize<T: Keyed, S: Serializer>(
    values: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|value| value.key()))
}

/// Deserialises a list of keys; an unknown key is an error naming it.
pub(crate) fn deserialize<'de, T: Keyed, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    let keys = Vec::<String>::deserialize(deserializer)?;
    keys.iter()
        .map(|key| {
            from_key::<T>(key)
                .ok_or_else(|| D::Error::custom(format!("unknown {} `{key}`", T::WHAT)))
        })
        .collect()
}
