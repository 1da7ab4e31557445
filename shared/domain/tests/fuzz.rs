//! Fuzz targets for the domain's parsers of outside text (see `tica-fuzz`): resident ID numbers
//! as typed or exported from Excel, division codes, scope paths (from tokens and page filters),
//! the roles cell and teacher numbers of roster files. Each takes arbitrary text and valid
//! values mutated, and must answer without panicking, and quickly.

use tica_domain::ResidentId;
use tica_domain::division::DivisionCode;
use tica_domain::person::{parse_roles, validate_teacher_number};
use tica_domain::school::validate_school_code;
use tica_domain::scope::ScopePath;
use tica_fuzz::{Fuzz, Rng, show_text};
use time::{Date, Month};

fn today() -> Date {
    Date::from_calendar_date(2026, Month::December, 6).unwrap()
}

fn valid_ids(rng: &mut Rng) -> String {
    let region = *rng.pick(&["341324", "640121", "110105", "469001", "659001"]);
    let day = Date::from_calendar_date(
        1950 + rng.below(70) as i32,
        Month::March,
        1 + rng.below(28) as u8,
    )
    .unwrap();
    ResidentId::generate(region, day, rng.below(1000) as u16)
        .as_str()
        .to_owned()
}

const ID_TOKENS: &[&str] = &[
    "X", "x", "Ｘ", "０", "\u{3000}", "\u{feff}", "\u{200b}", " ", "19000101", "20261231",
    "99991231", "00000000", "0", "\t", "-",
];

#[test]
fn arbitrary_and_mutated_text_never_panics_the_resident_id_parser() {
    let report = Fuzz::new("resident_id", 20_000).run(
        |rng| {
            if rng.one_in(3) {
                rng.arbitrary_text(40)
            } else {
                let valid = valid_ids(rng);
                let other = valid_ids(rng);
                rng.mutate_text(&valid, &[&other], ID_TOKENS)
            }
        },
        |s| show_text(s),
        |text| {
            if let Ok(id) = ResidentId::parse(text, today()) {
                // What parses is usable: every accessor answers.
                let _ = (
                    id.birth_date(),
                    id.sex(),
                    id.region_code(),
                    id.key(),
                    id.masked(),
                );
                let _ = id.age_on(today());
                assert_eq!(ResidentId::parse(id.as_str(), today()).as_ref(), Ok(&id));
            }
        },
    );
    assert!(report.cases > 0);
}

#[test]
fn arbitrary_and_mutated_text_never_panics_the_division_code_scope_and_roster_cell_parsers() {
    const VALID: &[&str] = &[
        "341324",
        "340000",
        "341300",
        "110105",
        "469001",
        "/340000/341300/341324/",
        "/640000/640100/640121/~64012100001/",
        "/",
        "校长,教研员",
        "principal;teaching_researcher",
        "T0000001",
        "34132400001",
    ];
    const TOKENS: &[&str] = &[
        "/", "~", "//", "00", "90", ",", "，", "、", ";", "校长", "\u{3000}",
    ];
    Fuzz::new("division_scope_roles", 20_000).run(
        |rng| {
            if rng.one_in(3) {
                rng.arbitrary_text(48)
            } else {
                let valid = *rng.pick(VALID);
                let other = *rng.pick(VALID);
                rng.mutate_text(valid, &[other], TOKENS)
            }
        },
        |s| show_text(s),
        |text| {
            if let Ok(code) = DivisionCode::parse(text) {
                let _ = (
                    code.level(),
                    code.expected_parent(),
                    code.ancestry(),
                    code.province(),
                );
                let _ = code.validate_as_jurisdiction();
                let scope = ScopePath::for_jurisdiction(code);
                assert_eq!(ScopePath::parse(scope.as_str()).as_ref(), Some(&scope));
            }
            if let Some(scope) = ScopePath::parse(text) {
                let _ = (
                    scope.range(),
                    scope.depth(),
                    scope.jurisdiction_code(),
                    scope.school_code(),
                    scope.parent(),
                );
                assert_eq!(scope.as_str(), text.as_str());
            }
            let _ = parse_roles(text);
            let _ = validate_teacher_number(text);
            let _ = validate_school_code(text);
        },
    );
}
