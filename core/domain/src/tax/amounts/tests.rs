//! Property tests of the rounding rule: tax is never negative, line taxes add up to the
//! invoice's tax and to its breakdown, and refunds never return more tax than was collected.
#![expect(
    clippy::arithmetic_side_effects,
    reason = "bounded values in test data"
)]

use bazaar_money::{Currency, Money};
use proptest::prelude::*;

use super::*;
use crate::tax::{Area, Decision, Liable, Reason, Scheme, TcsSplit, Withholding};

fn decision(millionths: u32, inclusive: bool, liable: Liable, tcs: Option<u32>) -> Decision {
    Decision {
        place: Area::parse("DE").unwrap(),
        liable,
        scheme: Scheme::Oss,
        rate: TaxRate::from_millionths(millionths).unwrap(),
        rate_source: None,
        reverse_charge: false,
        reason: Reason::EuEService,
        unconfirmed: None,
        withholding: tcs.map(|rate| Withholding {
            rate: TaxRate::from_millionths(rate).unwrap(),
            split: TcsSplit::Integrated,
            seller_state: Area::parse("IN-KA").unwrap(),
            source: "INT".to_owned(),
        }),
        basis: if inclusive {
            PriceBasis::Inclusive
        } else {
            PriceBasis::Exclusive
        },
    }
}

fn liable() -> impl Strategy<Value = Liable> {
    prop_oneof![
        Just(Liable::Seller),
        Just(Liable::Marketplace),
        Just(Liable::Buyer),
        Just(Liable::Nobody),
    ]
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn tax_is_never_negative_and_the_parts_add_up(
        price in 0_i64..10_000_000_000,
        rate in 0_u32..=TaxRate::WHOLE,
        inclusive: bool,
        liable in liable(),
        tcs in proptest::option::of(0_u32..20_000),
    ) {
        let decision = decision(rate, inclusive, liable, tcs);
        let line = line_tax(&decision, eur(price)).unwrap();
        prop_assert!(!line.tax.is_negative() && !line.net.is_negative());
        prop_assert!(!line.withheld.is_negative());
        prop_assert_eq!(line.net.checked_add(line.tax).unwrap(), line.total);
        if inclusive {
            prop_assert_eq!(line.total, eur(price));
        } else {
            prop_assert_eq!(line.net, eur(price));
        }
        if !decision.charges_tax() {
            prop_assert!(line.tax.is_zero());
        }
        prop_assert!(line.withheld.minor() <= line.net.minor());
    }

    #[test]
    fn line_taxes_add_up_to_the_invoice_tax_and_its_breakdown(
        lines in proptest::collection::vec(
            (0_i64..100_000_000, prop::sample::select(vec![0_u32, 55_000, 70_000, 190_000, 200_000, 68_750]), any::<bool>()),
            1..30,
        ),
    ) {
        let decisions: Vec<Decision> = lines
            .iter()
            .map(|(_, rate, inclusive)| decision(*rate, *inclusive, Liable::Seller, None))
            .collect();
        let taxed: Vec<(&Decision, LineTax)> = decisions
            .iter()
            .zip(&lines)
            .map(|(d, (price, _, _))| (d, line_tax(d, eur(*price)).unwrap()))
            .collect();
        let summary = TaxSummary::of(&taxed, Currency::EUR).unwrap();
        let line_sum: i64 = taxed.iter().map(|(_, l)| l.tax.minor()).sum();
        let group_sum: i64 = summary.groups.iter().map(|g| g.tax.minor()).sum();
        prop_assert_eq!(summary.tax.minor(), line_sum);
        prop_assert_eq!(group_sum, line_sum);
        let net_sum: i64 = summary.groups.iter().map(|g| g.net.minor()).sum();
        prop_assert_eq!(summary.net.minor(), net_sum);
    }

    #[test]
    fn refunds_never_return_more_tax_than_was_collected(
        price in 1_i64..100_000_000,
        rate in 0_u32..=300_000,
        inclusive: bool,
        cuts in proptest::collection::vec(1_u32..=100, 1..8),
        complete: bool,
    ) {
        let decision = decision(rate, inclusive, Liable::Marketplace, None);
        let line = line_tax(&decision, eur(price)).unwrap();
        let mut refunded = eur(0);
        let mut returned = eur(0);
        for cut in cuts {
            let left = line.total.minor() - refunded.minor();
            let part = (left * i64::from(cut) / 100).max(1).min(left);
            if part == 0 {
                break;
            }
            let back = refund_tax(&line, refunded, returned, eur(part)).unwrap();
            prop_assert!(!back.is_negative());
            refunded = refunded.checked_add(eur(part)).unwrap();
            returned = returned.checked_add(back).unwrap();
            prop_assert!(returned.minor() <= line.tax.minor());
        }
        if complete && refunded.minor() < line.total.minor() {
            let rest = eur(line.total.minor() - refunded.minor());
            let back = refund_tax(&line, refunded, returned, rest).unwrap();
            returned = returned.checked_add(back).unwrap();
            refunded = line.total;
        }
        if refunded == line.total {
            prop_assert_eq!(returned, line.tax);
        }
        // A refund beyond the line is refused.
        prop_assert!(refund_tax(&line, refunded, returned, eur(line.total.minor() - refunded.minor() + 1)).is_err());
    }
}
