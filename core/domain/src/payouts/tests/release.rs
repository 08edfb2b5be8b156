//! Fund release, the rolling reserve and instant-payout terms.

use bazaar_money::{Currency, Money};
use proptest::prelude::*;

use super::*;
use crate::catalog::BasisPoints;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn policy(reserve: Option<(u16, u32)>) -> ReleasePolicy {
    ReleasePolicy {
        reserve: reserve.map(|(bps, hold_days)| RollingReserve {
            share: BasisPoints::new(bps).unwrap(),
            hold_days,
        }),
        ..ReleasePolicy::default_for(country("DE")).unwrap()
    }
}

#[test]
fn an_established_seller_waits_the_country_delay_in_business_days() {
    // Friday 2026-05-01 is Labour Day in Germany: Thursday 30 April + 3 business days skips
    // it and the weekend.
    let release = release_of(
        eur(10_000),
        date("2026-04-30"),
        date("2025-01-01"),
        &calendar("DE"),
        &policy(None),
    )
    .unwrap();
    assert_eq!(release.on, date("2026-05-06"));
    assert_eq!(release.available, eur(10_000));
    assert_eq!(release.held, None);
}

#[test]
fn a_new_seller_waits_longer_for_the_first_thirty_days() {
    let first = date("2026-06-01");
    let new = release_of(
        eur(500),
        date("2026-06-15"),
        first,
        &calendar("DE"),
        &policy(None),
    );
    assert_eq!(new.unwrap().on, date("2026-06-24"));
    // From day 30 on, the ordinary delay.
    let later = release_of(
        eur(500),
        date("2026-07-01"),
        first,
        &calendar("DE"),
        &policy(None),
    );
    assert_eq!(later.unwrap().on, date("2026-07-06"));
}

#[test]
fn a_rolling_reserve_holds_its_share_rounded_down_for_its_days() {
    let release = release_of(
        eur(1_999),
        date("2026-09-01"),
        date("2025-01-01"),
        &calendar("DE"),
        &policy(Some((1_000, 90))),
    )
    .unwrap();
    // 10% of 19.99 is 1.999: 1.99 is held, 18.00 is available.
    let held = release.held.unwrap();
    assert_eq!(held.amount, eur(199));
    assert_eq!(release.available, eur(1_800));
    assert_eq!(held.until, date("2026-12-03"));
}

#[test]
fn policies_out_of_bounds_are_refused() {
    let mut bad = policy(None);
    bad.delay_days = RELEASE_DELAY_MAX + 1;
    assert_eq!(
        bad.checked(),
        Err(PayoutError::DelayTooLong(RELEASE_DELAY_MAX + 1))
    );
    let bad = policy(Some((1_000, RESERVE_HOLD_MAX + 1)));
    assert_eq!(bad.checked().unwrap_err().code(), "invalid_reserve");
    assert!(policy(Some((10_000, RESERVE_HOLD_MAX))).checked().is_ok());
    assert!(ReleasePolicy::default_for(country("ZZ")).is_err());
}

#[test]
fn instant_fees_round_half_up_and_are_at_least_one_minor_unit() {
    let terms = InstantTerms::for_country(country("DE")).unwrap();
    assert_eq!(terms.fee_on(eur(10_050)).unwrap(), eur(101)); // 100.50 → 1.005 → 1.01
    assert_eq!(terms.fee_on(eur(10_049)).unwrap(), eur(100));
    assert_eq!(terms.fee_on(eur(30)).unwrap(), eur(1));
    assert_eq!(
        terms.fee_on(eur(0)).unwrap_err().code(),
        "amount_not_positive"
    );
    let us = InstantTerms::for_country(country("US")).unwrap();
    let usd = |minor| Money::from_minor(minor, Currency::USD);
    assert_eq!(us.fee_on(usd(100_000)).unwrap(), usd(1_500));
    assert!(InstantTerms::for_country(country("JP")).is_none());
}

#[test]
fn the_daily_instant_limit_counts_what_was_taken_today() {
    let terms = InstantTerms::for_country(country("DE")).unwrap();
    assert!(terms.check_limit(eur(400_000), eur(600_000)).is_ok());
    let refused = terms.check_limit(eur(400_001), eur(600_000)).unwrap_err();
    assert_eq!(refused.code(), "instant_limit_reached");
}

proptest! {
    #[test]
    #[expect(clippy::arithmetic_side_effects, reason = "amounts below a billion")]
    fn a_release_always_adds_up_to_the_share(
        minor in 0_i64..1_000_000_000,
        bps in 0_u16..=10_000,
        hold in 0_u32..=RESERVE_HOLD_MAX,
        day in 0_i64..600,
    ) {
        let captured = date("2026-01-05").add_days(day).unwrap();
        let release = release_of(
            eur(minor),
            captured,
            date("2025-06-01"),
            &calendar("FR"),
            &policy(Some((bps, hold))),
        ).unwrap();
        let held = release.held.map_or(0, |h| h.amount.minor());
        prop_assert_eq!(release.available.minor() + held, minor);
        prop_assert!(held >= 0 && release.available.minor() >= 0);
        prop_assert!(release.on > captured);
        prop_assert!(calendar("FR").is_business_day(release.on).unwrap());
    }
}

proptest! {
    /// The running release: a capture date is released by `today` exactly when its own
    /// release date and every earlier date's have come, so the released prefix only grows,
    /// and an established seller's dates match `release_of`.
    #[test]
    fn released_through_is_the_prefix_whose_release_dates_have_come(
        first_offset in 0_i64..200,
        today_offset in 0_i64..300,
        floor in 0_u32..6,
    ) {
        let calendar = calendar("DE");
        let policy = policy(None);
        let first = date("2026-01-05").add_days(first_offset).unwrap();
        let today = first.add_days(today_offset).unwrap();
        let through = released_through(today, first, &calendar, &policy, floor).unwrap();
        let release_on = |captured: Date| {
            let new_until = first.add_days(30).unwrap();
            let delay = if captured < new_until { 7 } else { 3 };
            calendar.add_business_days(captured, delay.max(floor)).unwrap()
        };
        // Brute force: the largest date whose release, and every earlier one's, has come.
        let mut expected = None;
        let mut latest_release = None;
        let mut day = first;
        while day <= today {
            let on = release_on(day);
            let envelope = latest_release.map_or(on, |latest: Date| latest.max(on));
            latest_release = Some(envelope);
            if envelope <= today {
                expected = Some(day);
            }
            day = day.add_days(1).unwrap();
        }
        prop_assert_eq!(through, expected);
        let tomorrow = today.add_days(1).unwrap();
        let next = released_through(tomorrow, first, &calendar, &policy, floor).unwrap();
        prop_assert!(next >= through);
    }
}
