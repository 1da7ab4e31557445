//! The calendar date in China.
//!
//! China uses one time zone, UTC+8 (Beijing time), with no daylight saving since 1991. Dates
//! in the rules (birth dates and the age-50 rule, deadlines, the Sixian month-by-month
//! schedule in 《泗县实施意见》附件3) are dates in Beijing time.

use time::{Date, OffsetDateTime, UtcOffset};

/// Beijing time: UTC+8, no daylight saving.
pub const CHINA_OFFSET: UtcOffset = time::macros::offset!(+8);

/// Today's date in China (UTC+8) at the instant `now`.
pub fn today_in_china(now: OffsetDateTime) -> Date {
    now.to_offset(CHINA_OFFSET).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_date_turns_at_sixteen_hundred_utc() {
        assert_eq!(
            today_in_china(datetime!(2024-06-30 15:59:59 UTC)),
            date!(2024 - 06 - 30)
        );
        assert_eq!(
            today_in_china(datetime!(2024-06-30 16:00:00 UTC)),
            date!(2024 - 07 - 01)
        );
    }

    #[test]
    fn the_offset_of_the_input_does_not_matter() {
        assert_eq!(
            today_in_china(datetime!(2024-12-31 20:00:00 -5)),
            date!(2025 - 01 - 01)
        );
        assert_eq!(
            today_in_china(datetime!(2024-01-01 00:30:00 +8)),
            date!(2024 - 01 - 01)
        );
    }

    #[test]
    fn there_is_no_daylight_saving_in_summer() {
        assert_eq!(
            today_in_china(datetime!(2024-07-15 15:59:59 UTC)),
            date!(2024 - 07 - 15)
        );
        assert_eq!(
            today_in_china(datetime!(2024-07-15 16:00:00 UTC)),
            date!(2024 - 07 - 16)
        );
    }
}
