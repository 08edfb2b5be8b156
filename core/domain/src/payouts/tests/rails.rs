//! Payout rails: their data, what they pay to, amount limits and expected arrival.

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use super::*;

/// The instant of `text` (`YYYY-MM-DD`) at `hour`:`minute` UTC.
#[expect(clippy::arithmetic_side_effects, reason = "small test instants")]
fn utc(text: &str, hour: i64, minute: i64) -> Timestamp {
    let days = date(text).days_since_epoch().unwrap();
    let minutes = days * 1_440 + hour * 60 + minute;
    Timestamp::from_micros(minutes * 60_000_000)
}

fn iban(text: &str) -> BankDetails {
    BankDetails::Iban {
        iban: text.to_owned(),
    }
}

fn us_account() -> BankDetails {
    BankDetails::UsAccount {
        routing_number: "021000021".to_owned(),
        account_number: "000123456789".to_owned(),
    }
}

#[test]
fn every_rail_is_described_consistently() {
    assert_eq!(Rail::ALL.len(), 12);
    for rail in Rail::ALL {
        let spec = rail.spec();
        assert_eq!(Rail::parse(rail.as_str()), Some(rail));
        assert!(!spec.accepts.is_empty(), "{rail}");
        assert!(!spec.countries.is_empty(), "{rail}");
        assert!(
            0 < spec.min_minor && spec.min_minor <= spec.max_minor,
            "{rail}"
        );
        assert!(spec.cutoff_minute < 1_440, "{rail}");
        assert!(spec.return_window_days > 0, "{rail}");
        assert_eq!(
            spec.instant,
            matches!(spec.settlement, Settlement::Minutes(_)),
            "{rail}"
        );
        if spec.countries.len() == 1 {
            let code = spec.countries.first().unwrap();
            assert!(
                BusinessCalendar::for_country(country(code)).is_ok(),
                "{rail}"
            );
        }
    }
    let currencies: Vec<&str> = Rail::ALL.iter().map(|r| r.spec().currency.code()).collect();
    assert_eq!(
        currencies,
        [
            "EUR", "EUR", "GBP", "USD", "USD", "BRL", "INR", "INR", "JPY", "MXN", "KWD", "BHD"
        ]
    );
    assert_eq!(Rail::parse("swift"), None);
}

#[test]
fn rails_pay_only_to_their_kinds_and_countries() {
    let de = iban("DE89370400440532013000");
    let gb = iban("GB29NWBK60161331926819");
    let kw = iban("KW81CBKU0000000000001234560101");
    let bh = iban("BH67BMAG00001299123456");
    let pix = BankDetails::Pix {
        key: PixKey::Cpf("52998224725".to_owned()),
    };
    assert!(Rail::SepaCredit.accepts(&de));
    assert!(Rail::SepaInstant.accepts(&gb));
    assert!(!Rail::SepaCredit.accepts(&kw));
    assert!(Rail::KwLocal.accepts(&kw));
    assert!(!Rail::KwLocal.accepts(&bh));
    assert!(Rail::BhLocal.accepts(&bh));
    assert!(!Rail::BhLocal.accepts(&de));
    assert!(Rail::Ach.accepts(&us_account()));
    assert!(Rail::Rtp.accepts(&us_account()));
    assert!(!Rail::Ach.accepts(&de));
    assert!(Rail::Pix.accepts(&pix));
    assert!(!Rail::Spei.accepts(&pix));
    assert!(!Rail::FasterPayments.accepts(&gb));
    let upi = BankDetails::Upi {
        vpa: "asha@ybl".to_owned(),
    };
    assert!(Rail::Upi.accepts(&upi));
    assert!(!Rail::Imps.accepts(&upi));

    assert_eq!(Rail::SepaCredit.check_details(&de), Ok(()));
    assert_eq!(
        Rail::SepaCredit
            .check_details(&iban("DE89370400440532013001"))
            .unwrap_err()
            .code(),
        "iban_invalid_checksum"
    );
    assert_eq!(
        Rail::SepaCredit.check_details(&kw),
        Err(PayoutError::DetailsNotAccepted {
            rail: Rail::SepaCredit,
            kind: BankDetailsKind::Iban
        })
    );
}

#[test]
fn amounts_are_checked_against_the_rail() {
    let eur = |minor| Money::from_minor(minor, Currency::EUR);
    assert_eq!(Rail::SepaInstant.check_amount(eur(10_000_000)), Ok(()));
    assert_eq!(
        Rail::SepaInstant.check_amount(eur(10_000_001)),
        Err(PayoutError::AmountAboveMaximum {
            rail: Rail::SepaInstant,
            maximum: eur(10_000_000)
        })
    );
    assert_eq!(Rail::SepaCredit.check_amount(eur(10_000_001)), Ok(()));
    assert_eq!(
        Rail::SepaCredit.check_amount(eur(0)),
        Err(PayoutError::AmountNotPositive)
    );
    assert_eq!(
        Rail::SepaCredit.check_amount(eur(-100)),
        Err(PayoutError::AmountNotPositive)
    );
    assert_eq!(
        Rail::SepaCredit
            .check_amount(Money::from_minor(100, Currency::USD))
            .unwrap_err()
            .code(),
        "currency_mismatch"
    );
    let inr = |minor| Money::from_minor(minor, Currency::INR);
    assert_eq!(
        Rail::Imps.check_amount(inr(50)).unwrap_err().code(),
        "amount_below_minimum"
    );
    assert_eq!(Rail::Upi.check_amount(inr(10_000_000)), Ok(()));
    assert_eq!(
        Rail::Upi.check_amount(inr(10_000_001)).unwrap_err().code(),
        "amount_above_maximum"
    );
    // Three decimals: 100,000.000 KWD is the cap.
    let kwd = |minor| Money::from_minor(minor, Currency::KWD);
    assert_eq!(Rail::KwLocal.check_amount(kwd(100_000_000)), Ok(()));
    assert!(Rail::KwLocal.check_amount(kwd(100_000_001)).is_err());
    // No decimals: 99,999,999 JPY.
    let jpy = |minor| Money::from_minor(minor, Currency::JPY);
    assert_eq!(Rail::Zengin.check_amount(jpy(99_999_999)), Ok(()));
    assert!(Rail::Zengin.check_amount(jpy(100_000_000)).is_err());
}

#[test]
fn batch_rails_settle_on_business_days_after_the_cutoff() {
    let on = |text: &str| Ok(Arrival::On(date(text)));
    let cases = [
        // SEPA, Germany: 14:00 CET cut-off (13:00 UTC), next business day.
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-03-10", 10, 0),
            "2026-03-11",
        ),
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-03-10", 12, 59),
            "2026-03-11",
        ),
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-03-10", 13, 0),
            "2026-03-12",
        ),
        // In summer time the cut-off is 12:00 UTC: 11:59 UTC is processed before Easter,
        // 12:00 UTC after it.
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-04-02", 11, 59),
            "2026-04-07",
        ),
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-04-02", 12, 0),
            "2026-04-08",
        ),
        (
            Rail::SepaCredit,
            "DE",
            utc("2026-12-24", 9, 0),
            "2026-12-29",
        ),
        // France keeps 24 December and Good Friday open; TARGET closes Good Friday.
        (
            Rail::SepaCredit,
            "FR",
            utc("2026-12-24", 9, 0),
            "2026-12-28",
        ),
        (
            Rail::SepaCredit,
            "FR",
            utc("2026-04-02", 9, 0),
            "2026-04-07",
        ),
        // A Saturday submission is processed on Monday.
        (
            Rail::SepaCredit,
            "NL",
            utc("2026-03-14", 9, 0),
            "2026-03-17",
        ),
        // ACH: 16:00 Eastern (21:00 UTC in winter, 20:00 UTC in summer), around
        // Thanksgiving 2026 and in July.
        (Rail::Ach, "US", utc("2026-07-08", 19, 59), "2026-07-09"),
        (Rail::Ach, "US", utc("2026-07-08", 20, 0), "2026-07-10"),
        (Rail::Ach, "US", utc("2026-11-25", 20, 0), "2026-11-27"),
        (Rail::Ach, "US", utc("2026-11-25", 21, 30), "2026-11-30"),
        // Zengin: 15:00 JST (06:00 UTC), same day; 23:30 UTC is already the next day in Tokyo.
        (Rail::Zengin, "JP", utc("2026-03-19", 5, 0), "2026-03-19"),
        (Rail::Zengin, "JP", utc("2026-03-19", 6, 0), "2026-03-23"),
        (Rail::Zengin, "JP", utc("2026-03-19", 23, 30), "2026-03-23"),
        // Kuwait: 12:00 local (09:00 UTC), Friday-Saturday weekend, Eid al-Fitr.
        (Rail::KwLocal, "KW", utc("2026-03-19", 8, 0), "2026-03-23"),
        (Rail::KwLocal, "KW", utc("2026-03-15", 8, 0), "2026-03-16"),
        (Rail::BhLocal, "BH", utc("2026-03-19", 8, 0), "2026-03-25"),
    ];
    for (rail, code, at, expected) in cases {
        assert_eq!(
            rail.expected_arrival(at, &calendar(code)),
            on(expected),
            "{rail} {code} {at:?}"
        );
    }
}

#[test]
fn instant_rails_settle_in_minutes_any_day() {
    let christmas = utc("2026-12-25", 23, 59);
    let later = |minutes: i64| {
        Ok(Arrival::At(Timestamp::from_micros(
            christmas
                .as_micros()
                .checked_add(minutes.checked_mul(60_000_000).unwrap())
                .unwrap(),
        )))
    };
    assert_eq!(
        Rail::SepaInstant.expected_arrival(christmas, &calendar("DE")),
        later(1)
    );
    assert_eq!(
        Rail::FasterPayments.expected_arrival(christmas, &calendar("GB")),
        later(120)
    );
    for (rail, code) in [
        (Rail::Rtp, "US"),
        (Rail::Pix, "BR"),
        (Rail::Upi, "IN"),
        (Rail::Imps, "IN"),
        (Rail::Spei, "MX"),
    ] {
        assert_eq!(
            rail.expected_arrival(christmas, &calendar(code)),
            later(1),
            "{rail}"
        );
    }
}

#[test]
fn a_rail_needs_a_calendar_of_a_country_it_reaches() {
    assert_eq!(
        Rail::Ach.expected_arrival(utc("2026-03-10", 10, 0), &calendar("DE")),
        Err(PayoutError::CountryNotServed {
            rail: Rail::Ach,
            country: country("DE")
        })
    );
    assert_eq!(
        Rail::SepaCredit
            .expected_arrival(utc("2028-12-29", 15, 0), &calendar("DE"))
            .unwrap_err()
            .code(),
        "calendar_year_not_covered"
    );
}
