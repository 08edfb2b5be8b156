//! Capture and refund legs, batch limits and settlement postings.
use super::*;
use crate::catalog::BasisPoints;
use crate::chart::{Jurisdiction, SellerId};
use crate::fx::{FxRate, Spread};
use crate::orders::{FxQuote, LineId, OrderId};
use crate::tax::{Area, TaxRate, TcsSplit};
use bazaar_ledger::Timestamp;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

fn line(total: i64, tax: u16, commission: u16, quote: Option<FxQuote>) -> LineCapture {
    line_with(
        total,
        tax,
        commission,
        quote,
        TaxCollector::Marketplace,
        None,
    )
}

fn line_with(
    total: i64,
    tax: u16,
    commission: u16,
    quote: Option<FxQuote>,
    collector: TaxCollector,
    withheld: Option<(u32, TcsSplit)>,
) -> LineCapture {
    let settlement_currency = quote.as_ref().map_or(Currency::BRL, |q| q.rate.to);
    let mut terms = LineTaxTerms::included(
        Money::from_minor(total, Currency::BRL),
        BasisPoints::new(tax).unwrap(),
        Jurisdiction::new("BR").unwrap(),
    )
    .unwrap();
    terms.collector = collector;
    terms.withheld = withheld.map(|(rate, split)| Withheld {
        rate: TaxRate::from_millionths(rate).unwrap(),
        split,
        seller_state: Area::parse("IN-KA").unwrap(),
    });
    LineCapture {
        payment_id: PaymentId::from_uuid(Uuid::from_u128(1)),
        provider: ProviderName::new("sandbox").unwrap(),
        order_id: OrderId::from_uuid(Uuid::from_u128(2)),
        seller_id: SellerId::from_uuid(Uuid::from_u128(3)),
        line_id: LineId::from_uuid(Uuid::from_u128(4)),
        total: Money::from_minor(total, Currency::BRL),
        tax: terms,
        commission: BasisPoints::new(commission).unwrap(),
        settlement_currency,
        quote,
    }
}

fn brl_eur(spread: &str) -> Option<FxQuote> {
    Some(FxQuote {
        rate: FxRate {
            from: Currency::BRL,
            to: Currency::EUR,
            mid: Decimal::from_str("0.1670509505").unwrap(),
            source: "ecb".into(),
            effective_at: Timestamp::from_micros(0),
        },
        spread: Spread::new(Decimal::from_str(spread).unwrap()).unwrap(),
    })
}

#[test]
fn a_same_currency_capture_follows_the_chart() {
    // 119.00 incl. 19% tax, 10% commission: tax 19.00, commission 10.00, seller 90.00.
    let legs = line(11_900, 1_900, 1_000, None).capture_legs().unwrap();
    let amounts: Vec<(&str, i64)> = legs.iter().map(|l| (l.name, l.amount.minor())).collect();
    assert_eq!(
        amounts,
        vec![("tax", 1_900), ("commission", 1_000), ("seller", 9_000)]
    );
}

#[test]
fn a_cross_currency_capture_balances_each_currency_through_fx_positions() {
    let line = line(10_000, 0, 1_000, brl_eur("0.02"));
    let b = line.breakdown().unwrap();
    let c = b.conversion.clone().unwrap();
    assert_eq!(c.mid_value.minor(), 1_671);
    assert_eq!(b.gross.minor(), 1_637);
    assert_eq!(b.commission.minor(), 164);
    assert_eq!(b.seller.minor(), 1_473);
    let legs = line.capture_legs().unwrap();
    // Net flow per (account, currency) sums to zero in each currency.
    for currency in [Currency::BRL, Currency::EUR] {
        let debits: i64 = legs
            .iter()
            .filter(|l| l.amount.currency() == currency)
            .map(|l| l.amount.minor())
            .sum();
        let fx_out: i64 = legs
            .iter()
            .filter(|l| l.amount.currency() == currency && l.debit == ChartAccount::FxPosition)
            .map(|l| l.amount.minor())
            .sum::<i64>()
            - legs
                .iter()
                .filter(|l| l.amount.currency() == currency && l.credit == ChartAccount::FxPosition)
                .map(|l| l.amount.minor())
                .sum::<i64>();
        if currency == Currency::EUR {
            assert_eq!(
                fx_out,
                c.mid_value.minor(),
                "EUR position is short the mid value"
            );
        } else {
            assert_eq!(fx_out, -10_000, "BRL position is long what the buyer paid");
        }
        assert!(debits > 0);
    }
}

proptest! {
    #[test]
    #[expect(
        clippy::arithmetic_side_effects,
        clippy::as_conversions,
        reason = "sums of test amounts far below the i64 range"
    )]
    fn refunds_in_any_steps_reverse_exactly_and_never_too_much(
        total in 1_i64..5_000_000,
        tax in 0_u16..3_000,
        commission in 0_u16..5_000,
        fx in any::<bool>(),
        cuts in proptest::collection::vec(0_u32..=1_000, 1..6),
        seller_collects in any::<bool>(),
        withheld in proptest::option::of((0_u32..=20_000, any::<bool>())),
    ) {
        let quote = if fx { brl_eur("0.025") } else { None };
        let collector = if seller_collects { TaxCollector::Seller } else { TaxCollector::Marketplace };
        let withheld = withheld.map(|(rate, integrated)| {
            (rate, if integrated { TcsSplit::Integrated } else { TcsSplit::CentralAndState })
        });
        let line = line_with(total, tax, commission, quote, collector, withheld);
        let legs = line.capture_legs().unwrap();
        prop_assert!(legs.len() <= LINE_LEGS_MAX);
        // Tax the marketplace collects goes to tax_payable and nowhere near the seller; the
        // seller's own tax travels with its share; withheld tax leaves the seller's share.
        let b = line.breakdown().unwrap();
        let to_payable = |currency: Currency| -> i64 {
            legs.iter()
                .filter(|l| l.amount.currency() == currency && matches!(l.credit, ChartAccount::TaxPayable(_)))
                .map(|l| l.amount.minor())
                .sum()
        };
        let withheld_sum: i64 = b.withheld.iter().map(|(_, _, m)| m.minor()).sum();
        prop_assert_eq!(to_payable(Currency::BRL), b.collected.minor() + if fx { 0 } else { withheld_sum });
        if fx {
            prop_assert_eq!(to_payable(Currency::EUR), withheld_sum);
        }
        prop_assert_eq!(b.seller.minor(), b.gross.minor() - b.commission.minor() - withheld_sum);
        if seller_collects {
            prop_assert!(b.collected.is_zero());
        } else {
            prop_assert!(b.seller_tax.is_zero());
            prop_assert_eq!(b.collected, b.tax);
        }
        prop_assert!(!b.seller.is_negative());
        let mut points: Vec<i64> = cuts
            .iter()
            .map(|c| prorate(total, i64::from(*c), 1_000).unwrap())
            .collect();
        points.push(total);
        points.sort_unstable();
        let mut reversed: std::collections::BTreeMap<&str, i64> = Default::default();
        let mut before = 0;
        for after in points {
            let posting = line
                .refund_requests(RefundId::from_uuid(Uuid::from_u128(after as u128)), before, after, "refund")
                .unwrap();
            let mut psp = 0;
            for request in &posting.requests {
                let RequestKind::Reverse { original_id, amount } = &request.kind else {
                    panic!("refunds are reversals");
                };
                let leg = legs.iter().find(|l| line.capture_leg_id(l.name) == *original_id).unwrap();
                prop_assert!(amount.is_positive());
                *reversed.entry(leg.name).or_default() += amount.minor();
                prop_assert!(reversed[leg.name] <= leg.amount.minor());
                if matches!(leg.debit, ChartAccount::PspClearing(_)) {
                    psp += amount.minor();
                }
            }
            prop_assert_eq!(psp, after - before, "the buyer gets exactly the refund back");
            before = after;
        }
        for leg in &legs {
            prop_assert_eq!(reversed.get(leg.name).copied().unwrap_or(0), leg.amount.minor());
        }
    }
}

#[test]
fn a_posting_is_one_batch_or_refused_whole() {
    let capture = line(10_000, 1_900, 1_000, brl_eur("0.02"))
        .capture_requests()
        .unwrap();
    let mut posting = Posting::default();
    while posting.requests.len() < BATCH_LEGS_MAX {
        posting.requests.push(capture.requests[0].clone());
    }
    assert_eq!(posting.clone().into_batch().unwrap().len(), BATCH_LEGS_MAX);
    posting.requests.push(capture.requests[0].clone());
    let error = posting.into_batch().unwrap_err();
    assert_eq!(error.code(), "posting_too_large");
    assert!(matches!(
        error,
        CommerceError::PostingTooLarge {
            legs: 257,
            max: 256
        }
    ));
}

#[test]
fn settlement_moves_clearing_to_bank_and_fees() {
    let posting = settlement_posting(
        PaymentId::from_uuid(Uuid::from_u128(9)),
        &ProviderName::new("sandbox").unwrap(),
        Money::from_minor(11_900, Currency::EUR),
        Money::from_minor(50, Currency::EUR),
    )
    .unwrap();
    assert_eq!(posting.requests.len(), 2);
    assert!(
        settlement_posting(
            PaymentId::from_uuid(Uuid::from_u128(9)),
            &ProviderName::new("sandbox").unwrap(),
            Money::from_minor(10, Currency::EUR),
            Money::from_minor(50, Currency::EUR),
        )
        .is_err()
    );
}
