//! UTC calendar arithmetic: the ISO 8601 `eventDate` of notifications and card expiry.
//!
//! Day counts use the proleptic Gregorian calendar of the domain's
//! [`Date`](bazaar_domain::fx::calendar::Date). Every operation is checked; the inputs are
//! bounded (years 0 to 9999), so none of the checks fails in practice.

use bazaar_domain::fx::calendar::Date;
use bazaar_ledger::Timestamp;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// 0000-01-01T00:00:00.000000Z, the earliest instant [`format`] writes.
const EARLIEST_MICROS: i64 = -62_167_219_200_000_000;
/// 9999-12-31T23:59:59.999999Z, the latest instant [`format`] writes.
const LATEST_MICROS: i64 = 253_402_300_799_999_999;
/// `YYYY-MM-DDThh:mm:ss.ffffffZ`
const FORMATTED_LEN: usize = 27;

/// `timestamp` as `YYYY-MM-DDThh:mm:ss.ffffffZ` (UTC, microseconds).
///
/// Instants outside the years 0000 to 9999 are written as the nearest one inside.
pub(crate) fn format(timestamp: Timestamp) -> String {
    let micros = timestamp.as_micros().clamp(EARLIEST_MICROS, LATEST_MICROS);
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let seconds = of_day.div_euclid(MICROS_PER_SECOND);
    let fraction = of_day.rem_euclid(MICROS_PER_SECOND);
    let hour = seconds.div_euclid(3_600);
    let minute = seconds.rem_euclid(3_600).div_euclid(60);
    let second = seconds.rem_euclid(60);
    // Within the clamped range the conversion cannot fail; the epoch is a harmless stand-in.
    let date = Date::from_days_since_epoch(days)
        .map_or_else(|| "1970-01-01".to_owned(), |date| date.to_string());
    format!("{date}T{hour:02}:{minute:02}:{second:02}.{fraction:06}Z")
}

/// Reads what [`format`] writes, and nothing else: exactly `YYYY-MM-DDThh:mm:ss.ffffffZ`
/// with a real calendar date.
pub(crate) fn parse(text: &str) -> Option<Timestamp> {
    if text.len() != FORMATTED_LEN {
        return None;
    }
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if !separators
        .iter()
        .all(|(at, byte)| text.as_bytes().get(*at) == Some(byte))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let year = number(0, 4)?;
    let month = number(5, 7)?;
    let day = number(8, 10)?;
    let hour = number(11, 13)?;
    let minute = number(14, 16)?;
    let second = number(17, 19)?;
    let fraction = number(20, 26)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // A day that does not exist (2024-02-30) is refused.
    let days = Date::new(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)?
        .days_since_epoch()?;
    let seconds_of_day = hour
        .checked_mul(3_600)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    let micros = days
        .checked_mul(MICROS_PER_DAY)?
        .checked_add(seconds_of_day.checked_mul(MICROS_PER_SECOND)?)?
        .checked_add(fraction)?;
    Some(Timestamp::from_micros(micros))
}

/// Whether a card that expires at the end of `month`/`year` has expired at `now`.
///
/// A card is valid through the last day of its expiry month (UTC). `month` must be 1 to 12.
pub(crate) fn card_expired(month: u8, year: u16, now: Timestamp) -> bool {
    let (next_year, next_month) = if month >= 12 {
        (i64::from(year).saturating_add(1), 1)
    } else {
        (i64::from(year), u32::from(month).saturating_add(1))
    };
    Date::new(next_year, next_month, 1)
        .and_then(Date::days_since_epoch)
        .and_then(|days| days.checked_mul(MICROS_PER_DAY))
        .is_none_or(|end| now.as_micros() >= end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            format(Timestamp::from_micros(0)),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2024-02-29T12:34:56.789012Z
        assert_eq!(
            format(Timestamp::from_micros(1_709_210_096_789_012)),
            "2024-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            format(Timestamp::from_micros(-1)),
            "1969-12-31T23:59:59.999999Z"
        );
        assert_eq!(format(Timestamp::MAX), "9999-12-31T23:59:59.999999Z");
        assert_eq!(format(Timestamp::MIN), "0000-01-01T00:00:00.000000Z");
    }

    #[test]
    fn parse_reads_back_what_format_writes() {
        let samples = [
            0,
            -1,
            1_709_210_096_789_012,
            951_782_400_000_000, // 2000-02-29
            4_107_542_400_000_000,
            EARLIEST_MICROS,
            LATEST_MICROS,
        ];
        for micros in samples {
            let timestamp = Timestamp::from_micros(micros);
            assert_eq!(parse(&format(timestamp)), Some(timestamp), "{micros}");
        }
        // Every day for a few years, across leap years and centuries.
        let mut micros: i64 = 788_918_400_000_000; // 1995-01-01
        for _ in 0..4_400 {
            let timestamp = Timestamp::from_micros(micros);
            assert_eq!(parse(&format(timestamp)), Some(timestamp));
            micros = micros
                .saturating_add(MICROS_PER_DAY)
                .saturating_add(1_234_567);
        }
    }

    #[test]
    fn parse_refuses_anything_else() {
        for text in [
            "",
            "2024-02-30T00:00:00.000000Z",
            "2023-02-29T00:00:00.000000Z",
            "2024-13-01T00:00:00.000000Z",
            "2024-00-01T00:00:00.000000Z",
            "2024-01-01T24:00:00.000000Z",
            "2024-01-01T00:60:00.000000Z",
            "2024-01-01T00:00:60.000000Z",
            "2024-01-01T00:00:00.000000+",
            "2024-01-01 00:00:00.000000Z",
            "2024-01-01T00:00:00Z",
            "+024-01-01T00:00:00.000000Z",
            "2024-01-01T00:00:00.00000aZ",
            "2024-01-01T00:00:00.0000000Z",
            "2024-01-01T00:00:00.000000z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn cards_expire_after_their_month() {
        let march_2030 = parse("2030-03-15T10:00:00.000000Z").unwrap();
        assert!(!card_expired(3, 2030, march_2030));
        assert!(!card_expired(12, 2030, march_2030));
        assert!(card_expired(2, 2030, march_2030));
        assert!(card_expired(12, 2029, march_2030));
        let last_instant = parse("2030-03-31T23:59:59.999999Z").unwrap();
        assert!(!card_expired(3, 2030, last_instant));
        assert!(card_expired(3, 2030, last_instant.next()));
        assert!(!card_expired(1, 2031, last_instant));
    }
}
