//! Card expiry in UTC calendar days (the domain's [`Date`]); notification times are written
//! and read with the domain's one RFC 3339 form ([`bazaar_domain::time::Rfc3339`]).

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::time::MICROS_PER_DAY;
use bazaar_ledger::Timestamp;

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
    use bazaar_domain::time::Rfc3339;

    fn parse(text: &str) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(text)
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
