//! Table-driven tests of the policy engine, each citing the seed it checks.

mod grades;
mod hours;
mod rules;
mod selection;

use time::{Date, Month};

/// A calendar date; panics on an invalid one (tests only).
fn date(year: i32, month: u8, day: u8) -> Date {
    Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap()
}

/// Codes as a teacher types them, separated by spaces.
fn picks(codes: &str) -> Vec<String> {
    codes.split_whitespace().map(String::from).collect()
}
