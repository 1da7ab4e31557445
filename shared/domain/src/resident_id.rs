//! GB 11643-1999 citizen identification numbers (公民身份号码, 身份证号).
//!
//! Layout of the 18 characters: 6-digit region code (GB/T 2260 address code where the
//! number was first issued), 8-digit birth date `YYYYMMDD`, 3-digit sequence (its last digit
//! is odd for men, even for women) and one check character computed with ISO 7064 MOD 11-2.
//!
//! The rules use the number: it carries the date of birth behind Ningxia's age-50 rule
//! (《宁夏测评实施办法》§三(一)1–2).
//!
//! The number is personal data: [`ResidentId`]'s `Debug` prints only the masked form, no
//! `Display` exists, and no error message ever contains the number.

use std::fmt;

use time::{Date, Month};

use crate::person::Sex;

/// ISO 7064 MOD 11-2 weights of the first 17 digits (GB 11643-1999 §7.2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for each remainder 0..=10 of the weighted sum modulo 11.
const CHECK_CHARACTERS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Invisible characters spreadsheets and CSV files leave around cells: BOM, zero-width space.
const INVISIBLE: [char; 2] = ['\u{feff}', '\u{200b}'];

/// Earliest birth date accepted: nobody born before 1900 is a serving teacher.
const EARLIEST_BIRTH_DATE: Date = time::macros::date!(1900 - 01 - 01);

/// A valid 18-character resident ID number, check character in upper case.
///
/// `Debug` shows only the masked form (e.g. `ResidentId("1101**********002X")`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

/// Why a string is not a valid resident ID number; messages never contain the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ResidentIdError {
    /// Nothing but whitespace was given.
    #[error("身份证号为空 (resident ID number is empty)")]
    Empty,
    /// Not 18 characters after trimming; 15 means a first-generation number.
    #[error("{}", wrong_length_message(*.found))]
    WrongLength {
        /// Number of characters found (after trimming and normalisation).
        found: usize,
    },
    /// A character that is not a digit (or `X` in the last place); 1-based position.
    #[error(
        "身份证号第{position}位字符无效：前17位须为数字，第18位须为数字或X (character {position} is not allowed: the first 17 must be digits, the 18th a digit or X)"
    )]
    InvalidCharacter {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The 6-digit region (address) code starts with 0, which no GB/T 2260 code does.
    #[error("身份证号前6位地址码无效，不能以0开头 (the 6-digit region code must not start with 0)")]
    BadRegionCode,
    /// The birth date is not a real calendar date, or is before 1900-01-01.
    #[error(
        "身份证号中的出生日期无效或早于1900年1月1日 (the birth date is not a real date or is before 1900-01-01)"
    )]
    BadBirthDate,
    /// The birth date is after today.
    #[error("身份证号中的出生日期晚于今天 (the birth date is in the future)")]
    BirthDateInFuture,
    /// The 18th character does not match the ISO 7064 MOD 11-2 check character.
    #[error(
        "身份证号校验位错误：应为{expected}，实为{found} (wrong check character: expected {expected}, got {found})"
    )]
    BadCheckCharacter {
        /// The check character the first 17 digits call for.
        expected: char,
        /// The check character given.
        found: char,
    },
}

/// The `WrongLength` message, with the first-generation hint when 15 characters were given.
fn wrong_length_message(found: usize) -> String {
    if found == 15 {
        "身份证号应为18位，实为15位：这是第一代15位身份证号，须先升级为18位 \
         (must be 18 characters, got 15: this is a first-generation 15-digit number, \
         which must be converted to 18 digits)"
            .to_owned()
    } else {
        format!("身份证号应为18位，实为{found}位 (must be 18 characters, got {found})")
    }
}

impl ResidentId {
    /// Parses and validates a resident ID number as typed or exported from Excel.
    ///
    /// Trims surrounding whitespace (including the full-width space U+3000), byte-order marks
    /// and zero-width spaces, turns full-width
    /// digits `０`–`９` and `Ｘ`/`ｘ`/`x` into ASCII, then checks in this order: length 18,
    /// characters, region code not starting with 0, birth date real and within
    /// 1900-01-01..=`today`, check character.
    pub fn parse(input: &str, today: Date) -> Result<ResidentId, ResidentIdError> {
        let normalised: String = input
            .trim_matches(|c: char| c.is_whitespace() || INVISIBLE.contains(&c))
            .chars()
            .map(normalise_char)
            .collect();
        let found = normalised.chars().count();
        if found == 0 {
            return Err(ResidentIdError::Empty);
        }
        if found != 18 {
            return Err(ResidentIdError::WrongLength { found });
        }
        for (index, c) in normalised.chars().enumerate() {
            let fine = c.is_ascii_digit() || (index == 17 && c == 'X');
            if !fine {
                return Err(ResidentIdError::InvalidCharacter {
                    position: index + 1,
                });
            }
        }
        // Now every character is ASCII, so byte indices equal character indices.
        let bytes = normalised.as_bytes();
        if bytes[0] == b'0' {
            return Err(ResidentIdError::BadRegionCode);
        }
        let birth = birth_date_of(&bytes[6..14]).ok_or(ResidentIdError::BadBirthDate)?;
        if birth < EARLIEST_BIRTH_DATE {
            return Err(ResidentIdError::BadBirthDate);
        }
        if birth > today {
            return Err(ResidentIdError::BirthDateInFuture);
        }
        let first17: &[u8; 17] = bytes[..17].try_into().expect("18 ASCII characters");
        let expected = check_character(first17);
        let found = char::from(bytes[17]);
        if expected != found {
            return Err(ResidentIdError::BadCheckCharacter { expected, found });
        }
        Ok(ResidentId(normalised))
    }

    /// Builds a valid number from its parts, computing the check character (test data, demos).
    ///
    /// The sequence's last digit decides the sex (odd = male). No `today` check is made.
    ///
    /// # Panics
    ///
    /// If `region_code` is not 6 ASCII digits or starts with `0`, if the birth year is outside
    /// 1900..=9999, or if `sequence` > 999.
    pub fn generate(region_code: &str, birth_date: Date, sequence: u16) -> ResidentId {
        assert!(
            region_code.len() == 6
                && region_code.bytes().all(|b| b.is_ascii_digit())
                && !region_code.starts_with('0'),
            "region code must be 6 ASCII digits not starting with 0"
        );
        assert!(
            (1900..=9999).contains(&birth_date.year()),
            "birth year must be within 1900..=9999"
        );
        assert!(sequence <= 999, "sequence must be within 0..=999");
        let first17 = format!(
            "{region_code}{:04}{:02}{:02}{sequence:03}",
            birth_date.year(),
            u8::from(birth_date.month()),
            birth_date.day()
        );
        let digits: &[u8; 17] = first17.as_bytes().try_into().expect("17 ASCII digits");
        let check = check_character(digits);
        ResidentId(format!("{first17}{check}"))
    }

    /// The full 18-character number, for storage only (never for logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The date of birth in characters 7–14.
    pub fn birth_date(&self) -> Date {
        birth_date_of(&self.0.as_bytes()[6..14]).expect("validated at construction")
    }

    /// The sex: the 17th digit is odd for men, even for women.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The 6-digit region (address) code where the number was issued.
    ///
    /// It need not be a current GB/T 2260 code: codes are retired but ID numbers are not.
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    /// A compact key for equality and ordering: the first 17 digits as a number. The check
    /// character follows from them, so two valid numbers are equal exactly when their keys are.
    pub fn key(&self) -> u64 {
        self.0.as_bytes()[..17]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
    }

    /// The masked form: first 4 characters, 10 `*`, last 4 (e.g. `6401**********123X`).
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }

    /// Age in completed years (周岁) on `date`; 0 if `date` is before the birth date.
    ///
    /// A birthday counts from the day itself; someone born on 29 February gets one year
    /// older on 1 March in common years.
    pub fn age_on(&self, date: Date) -> u32 {
        completed_years(self.birth_date(), date)
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.masked()).finish()
    }
}

/// Age in completed years between `birth` and `date`; 0 if `date` is before `birth`.
pub fn completed_years(birth: Date, date: Date) -> u32 {
    if date < birth {
        return 0;
    }
    let mut years = date.year() - birth.year();
    if (u8::from(date.month()), date.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// Maps full-width digits and every form of the letter x to their canonical ASCII form.
fn normalise_char(c: char) -> char {
    match c {
        '０'..='９' => char::from(b'0' + (u32::from(c) - u32::from('０')) as u8),
        'x' | 'Ｘ' | 'ｘ' => 'X',
        other => other,
    }
}

/// Reads `YYYYMMDD` (8 ASCII digits) as a calendar date, if it is one.
fn birth_date_of(digits: &[u8]) -> Option<Date> {
    let number = |range: std::ops::Range<usize>| -> u32 {
        digits[range]
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let year = i32::try_from(number(0..4)).ok()?;
    let month = Month::try_from(u8::try_from(number(4..6)).ok()?).ok()?;
    let day = u8::try_from(number(6..8)).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// The ISO 7064 MOD 11-2 check character for the first 17 characters of a number.
///
/// `first17` holds ASCII digits `b'0'..=b'9'` (e.g. `id.as_bytes()[..17]`).
///
/// # Panics
///
/// If a byte is not an ASCII digit.
pub fn check_character(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| {
            assert!(b.is_ascii_digit(), "check_character takes ASCII digits");
            u32::from(b - b'0') * w
        })
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// Masks any string meant as an ID number (valid or not) for display and logs.
///
/// After trimming: with 12 or more characters keeps the first 4 and last 4 and replaces the
/// rest with `*` one for one; shorter strings become all `*` of the same character count.
pub fn mask_id_number(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    let n = chars.len();
    if n >= 12 {
        let mut out: String = chars[..4].iter().collect();
        out.extend(std::iter::repeat_n('*', n - 8));
        out.extend(&chars[n - 4..]);
        out
    } else {
        "*".repeat(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2024 - 06 - 01);
    /// The sample number printed in GB 11643-1999 itself.
    const STANDARD_SAMPLE: &str = "11010519491231002X";

    fn parse(input: &str) -> Result<ResidentId, ResidentIdError> {
        ResidentId::parse(input, TODAY)
    }

    #[test]
    fn the_sample_number_of_the_standard_is_valid_and_decoded() {
        let id = parse(STANDARD_SAMPLE).unwrap();
        assert_eq!(id.as_str(), STANDARD_SAMPLE);
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.masked(), "1101**********002X");
    }

    #[test]
    fn a_number_born_in_1880_is_refused_as_a_bad_birth_date_although_its_check_digit_is_right() {
        let input = "440524188001010014";
        assert_eq!(
            check_character(input.as_bytes()[..17].try_into().unwrap()),
            '4'
        );
        assert_eq!(parse(input), Err(ResidentIdError::BadBirthDate));
    }

    #[test]
    fn a_wrong_check_character_is_refused_with_the_expected_one() {
        // Sequence 002 → 003: the check character becomes 8, not X.
        assert_eq!(
            parse("11010519491231003X"),
            Err(ResidentIdError::BadCheckCharacter {
                expected: '8',
                found: 'X'
            })
        );
        assert!(parse("110105194912310038").is_ok());
    }

    #[test]
    fn changing_any_single_digit_of_a_valid_number_is_caught() {
        let valid = ResidentId::generate("341324", date!(1985 - 06 - 15), 123);
        for position in 0..17 {
            for digit in b'0'..=b'9' {
                let mut bytes = valid.as_str().as_bytes().to_vec();
                if bytes[position] == digit {
                    continue;
                }
                bytes[position] = digit;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(parse(&changed).is_err(), "{position} {digit}");
            }
        }
    }

    #[test]
    fn a_fifteen_digit_number_is_refused_with_the_first_generation_message() {
        let error = parse("110105491231002").unwrap_err();
        assert_eq!(error, ResidentIdError::WrongLength { found: 15 });
        let message = error.to_string();
        assert!(message.contains("第一代"), "{message}");
        assert!(message.contains("first-generation"), "{message}");
        assert!(message.contains("18"), "{message}");
    }

    #[test]
    fn other_lengths_are_refused_with_the_plain_length_message() {
        let error = parse("1101051949123100").unwrap_err();
        assert_eq!(error, ResidentIdError::WrongLength { found: 16 });
        assert_eq!(
            error.to_string(),
            "身份证号应为18位，实为16位 (must be 18 characters, got 16)"
        );
        assert_eq!(
            parse("11010519491231002X1"),
            Err(ResidentIdError::WrongLength { found: 19 })
        );
    }

    #[test]
    fn empty_and_blank_input_is_refused_as_empty() {
        assert_eq!(parse(""), Err(ResidentIdError::Empty));
        assert_eq!(parse(" \t\u{3000} "), Err(ResidentIdError::Empty));
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_and_lowercase_x_is_normalised() {
        let id = parse(" \u{3000}11010519491231002x\t\n").unwrap();
        assert_eq!(id.as_str(), STANDARD_SAMPLE);
        let from_csv = parse("\u{feff}11010519491231002X\u{200b}").unwrap();
        assert_eq!(from_csv.as_str(), STANDARD_SAMPLE);
    }

    #[test]
    fn full_width_digits_and_x_from_excel_are_normalised() {
        let full_width = "１１０１０５１９４９１２３１００２Ｘ";
        assert_eq!(parse(full_width).unwrap().as_str(), STANDARD_SAMPLE);
        let mixed = "110105１９４９1231002ｘ";
        assert_eq!(parse(mixed).unwrap().as_str(), STANDARD_SAMPLE);
    }

    #[test]
    fn a_non_digit_is_reported_at_its_one_based_position() {
        assert_eq!(
            parse("1101051949123100XX"),
            Err(ResidentIdError::InvalidCharacter { position: 17 })
        );
        assert_eq!(
            parse("A1010519491231002X"),
            Err(ResidentIdError::InvalidCharacter { position: 1 })
        );
        assert_eq!(
            parse("11010519491231002Y"),
            Err(ResidentIdError::InvalidCharacter { position: 18 })
        );
        assert_eq!(
            parse("110105 9491231002X"),
            Err(ResidentIdError::InvalidCharacter { position: 7 })
        );
    }

    #[test]
    fn a_region_code_starting_with_zero_is_refused() {
        let mut number = String::from("01010519491231002");
        let check = check_character(number.as_bytes().try_into().unwrap());
        number.push(check);
        assert_eq!(parse(&number), Err(ResidentIdError::BadRegionCode));
    }

    #[test]
    fn impossible_calendar_dates_are_refused() {
        for birth in ["19490230", "19491301", "19490001", "19490100", "19000229"] {
            let mut number = format!("110105{birth}002");
            let check = check_character(number.as_bytes().try_into().unwrap());
            number.push(check);
            assert_eq!(
                parse(&number),
                Err(ResidentIdError::BadBirthDate),
                "{birth}"
            );
        }
    }

    #[test]
    fn a_leap_day_in_a_leap_year_is_accepted() {
        let id = ResidentId::generate("640104", date!(2000 - 02 - 29), 1);
        assert_eq!(
            parse(id.as_str()).unwrap().birth_date(),
            date!(2000 - 02 - 29)
        );
    }

    #[test]
    fn the_first_day_of_1900_is_accepted_and_the_day_before_refused() {
        let first = ResidentId::generate("110105", date!(1900 - 01 - 01), 11);
        assert!(parse(first.as_str()).is_ok());
        let mut number = String::from("11010518991231011");
        let check = check_character(number.as_bytes().try_into().unwrap());
        number.push(check);
        assert_eq!(parse(&number), Err(ResidentIdError::BadBirthDate));
    }

    #[test]
    fn a_birth_date_after_today_is_refused_but_today_itself_is_accepted() {
        let born_today = ResidentId::generate("110105", TODAY, 1);
        assert!(parse(born_today.as_str()).is_ok());
        let tomorrow = ResidentId::generate("110105", date!(2024 - 06 - 02), 1);
        assert_eq!(
            parse(tomorrow.as_str()),
            Err(ResidentIdError::BirthDateInFuture)
        );
    }

    #[test]
    fn debug_shows_only_the_masked_number() {
        let id = parse(STANDARD_SAMPLE).unwrap();
        let debug = format!("{id:?}");
        assert_eq!(debug, "ResidentId(\"1101**********002X\")");
        assert!(!debug.contains("19491231"));
        assert!(!debug.contains("0519"));
        let pretty = format!("{id:#?}");
        assert!(!pretty.contains("19491231"));
    }

    #[test]
    fn no_error_message_contains_the_number() {
        let inputs = [
            "11010519491231003X",
            "440524188001010014",
            "110105491231002",
            "1101051949123100XX",
            "11010599991231002X",
            "01010519491231002X",
        ];
        for input in inputs {
            let message = parse(input).unwrap_err().to_string();
            assert!(!message.contains(input), "{message}");
            assert!(!message.contains(&input[6..14]), "{message}");
        }
    }

    #[test]
    fn every_error_message_has_chinese_and_english() {
        let errors = [
            ResidentIdError::Empty,
            ResidentIdError::WrongLength { found: 15 },
            ResidentIdError::WrongLength { found: 17 },
            ResidentIdError::InvalidCharacter { position: 3 },
            ResidentIdError::BadRegionCode,
            ResidentIdError::BadBirthDate,
            ResidentIdError::BirthDateInFuture,
            ResidentIdError::BadCheckCharacter {
                expected: 'X',
                found: '1',
            },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.contains("身份证号"), "{message}");
            assert!(message.contains(" ("), "{message}");
            assert!(message.ends_with(')'), "{message}");
        }
    }

    #[test]
    fn the_17th_digit_decides_the_sex() {
        for sequence in 0..=999u16 {
            let id = ResidentId::generate("640104", date!(1990 - 01 - 01), sequence);
            let expected = if sequence % 2 == 1 {
                Sex::Male
            } else {
                Sex::Female
            };
            assert_eq!(id.sex(), expected);
        }
    }

    #[test]
    fn generated_numbers_parse_back_with_the_same_parts() {
        let regions = ["110105", "341324", "640104", "429004", "820000"];
        let mut birth = date!(1900 - 01 - 01);
        let mut sequence = 0u16;
        while birth <= TODAY {
            for region in regions {
                let id = ResidentId::generate(region, birth, sequence);
                let parsed = parse(id.as_str()).unwrap();
                assert_eq!(parsed, id);
                assert_eq!(parsed.birth_date(), birth);
                assert_eq!(parsed.region_code(), region);
                sequence = (sequence + 37) % 1000;
            }
            birth = birth.saturating_add(time::Duration::days(97));
        }
    }

    #[test]
    #[should_panic(expected = "region code")]
    fn generate_panics_on_a_bad_region_code() {
        let _ = ResidentId::generate("012345", date!(1990 - 01 - 01), 1);
    }

    #[test]
    #[should_panic(expected = "sequence")]
    fn generate_panics_on_a_sequence_over_999() {
        let _ = ResidentId::generate("110105", date!(1990 - 01 - 01), 1000);
    }

    #[test]
    fn the_check_character_follows_iso_7064_mod_11_2() {
        assert_eq!(check_character(b"11010519491231002"), 'X');
        assert_eq!(check_character(b"44052418800101001"), '4');
        assert_eq!(check_character(b"34132419850615123"), 'X');
        assert_eq!(check_character(b"11010519491231012"), '6');
        // Sum 0 → remainder 0 → '1'.
        assert_eq!(check_character(b"00000000000000000"), '1');
    }

    #[test]
    fn age_counts_completed_years_from_the_birthday_itself() {
        let id = ResidentId::generate("640104", date!(1974 - 06 - 15), 1);
        assert_eq!(id.age_on(date!(2024 - 06 - 14)), 49);
        assert_eq!(id.age_on(date!(2024 - 06 - 15)), 50);
        assert_eq!(id.age_on(date!(2024 - 12 - 31)), 50);
        assert_eq!(id.age_on(date!(1974 - 06 - 15)), 0);
        assert_eq!(id.age_on(date!(1970 - 01 - 01)), 0);
    }

    #[test]
    fn a_leap_day_birthday_counts_from_the_first_of_march_in_common_years() {
        let id = ResidentId::generate("640104", date!(1976 - 02 - 29), 1);
        assert_eq!(id.age_on(date!(2026 - 02 - 28)), 49);
        assert_eq!(id.age_on(date!(2026 - 03 - 01)), 50);
        assert_eq!(id.age_on(date!(2024 - 02 - 29)), 48);
    }

    #[test]
    fn masking_keeps_four_and_four_of_long_strings_and_hides_short_ones_entirely() {
        assert_eq!(mask_id_number(STANDARD_SAMPLE), "1101**********002X");
        assert_eq!(mask_id_number("110105491231002"), "1101*******1002");
        assert_eq!(mask_id_number("123456789012"), "1234****9012");
        assert_eq!(mask_id_number("12345678901"), "***********");
        assert_eq!(
            mask_id_number("１２３４５６７８９０１２３"),
            "１２３４*****０１２３"
        );
        assert_eq!(mask_id_number("  "), "");
        assert_eq!(mask_id_number("abc"), "***");
    }

    #[test]
    fn the_compact_key_is_the_first_seventeen_digits() {
        let id = ResidentId::parse("11010519491231002X", date!(2026 - 01 - 01)).unwrap();
        assert_eq!(id.key(), 11010519491231002);
        let other = ResidentId::generate("110105", date!(1949 - 12 - 31), 3);
        assert_ne!(id.key(), other.key());
    }
}
