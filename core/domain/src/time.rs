//! Instants as text: the one RFC 3339 form Bazaar writes and reads everywhere (the API, the
//! events, provider notifications), `YYYY-MM-DDThh:mm:ss.ffffffZ`, UTC with microseconds.
//!
//! Day counts use the proleptic Gregorian calendar of [`Date`]. Every operation is
//! checked; the years are bounded (0000 to 9999), so none of the checks fails in practice.

use bazaar_ledger::Timestamp;

use crate::fx::calendar::Date;

const MICROS_PER_SECOND: i64 = 1_000_000;
/// Microseconds in a UTC day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;
/// 0000-01-01T00:00:00.000000Z, the earliest instant written.
const EARLIEST_MICROS: i64 = -62_167_219_200_000_000;
/// 9999-12-31T23:59:59.999999Z, the latest instant written.
const LATEST_MICROS: i64 = 253_402_300_799_999_999;
/// `YYYY-MM-DDThh:mm:ss.ffffffZ`
const FORMATTED_LEN: usize = 27;

/// RFC 3339 text for an instant.
pub trait Rfc3339: Sized {
    /// `YYYY-MM-DDThh:mm:ss.ffffffZ`; instants outside the years 0000 to 9999 are written as
    /// the nearest one inside.
    fn to_rfc3339(self) -> String;
    /// Reads what [`Rfc3339::to_rfc3339`] writes, and nothing else: exactly
    /// `YYYY-MM-DDThh:mm:ss.ffffffZ` with a real calendar date.
    fn parse_rfc3339(text: &str) -> Option<Self>;
}

impl Rfc3339 for Timestamp {
    fn to_rfc3339(self) -> String {
        format(self)
    }

    fn parse_rfc3339(text: &str) -> Option<Self> {
        parse(text)
    }
}

/// `timestamp` as `YYYY-MM-DDThh:mm:ss.ffffffZ` (UTC, microseconds).
///
/// Instants outside the years 0000 to 9999 are written as the nearest one inside.
fn format(timestamp: Timestamp) -> String {
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
fn parse(text: &str) -> Option<Timestamp> {
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
}
