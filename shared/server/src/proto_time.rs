//! Time between storage (microseconds since the Unix epoch), `time` and proto types.

use tica_proto::google::r#type::Date as ProtoDate;

/// A stored instant as a proto timestamp.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// A date as `google.type.Date`.
pub fn date_to_proto(date: time::Date) -> ProtoDate {
    ProtoDate {
        year: date.year(),
        month: u8::from(date.month()) as i32,
        day: date.day() as i32,
    }
}

/// A full `google.type.Date` as a date; partial dates (zero month or day) are refused.
pub fn date_from_proto(date: &ProtoDate) -> Result<time::Date, String> {
    let month = u8::try_from(date.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| format!("month {} is not 1-12", date.month))?;
    let day = u8::try_from(date.day).map_err(|_| format!("day {} is out of range", date.day))?;
    time::Date::from_calendar_date(date.year, month, day).map_err(|_| {
        format!(
            "{:04}-{:02}-{:02} is not a calendar date",
            date.year, date.month, date.day
        )
    })
}

/// A stored date: ISO 8601 `YYYY-MM-DD` text.
pub fn date_to_iso(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Parses stored `YYYY-MM-DD` text.
pub fn date_from_iso(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn instants_before_the_epoch_keep_positive_nanos() {
        let ts = timestamp(-1);
        assert_eq!((ts.seconds, ts.nanos), (-1, 999_999_000));
    }

    #[test]
    fn dates_round_trip_through_proto_and_text() {
        let d = date!(1976 - 02 - 29);
        assert_eq!(date_from_proto(&date_to_proto(d)).unwrap(), d);
        assert_eq!(date_from_iso(&date_to_iso(d)), Some(d));
        assert!(
            date_from_proto(&ProtoDate {
                year: 2023,
                month: 2,
                day: 29
            })
            .is_err()
        );
        assert!(
            date_from_proto(&ProtoDate {
                year: 2023,
                month: 0,
                day: 0
            })
            .is_err()
        );
    }
}
