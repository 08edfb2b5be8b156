//! Matching: each strategy, the drifts at their boundaries, references, rule order, the four
//! buckets, and that the result depends on the records, not their order.
#![expect(clippy::arithmetic_side_effects, reason = "small values in test data")]

use bazaar_money::{Currency, Money};
use proptest::prelude::{prop_assert_eq, proptest};

use super::*;
use crate::fx::calendar::Date;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn on(day: u32) -> Date {
    Date::new(2026, 11, day).unwrap()
}

fn record(id: &str, minor: i64, day: u32, reference: Option<&str>) -> Record {
    Record::new(id, eur(minor), on(day), reference.map(str::to_owned)).unwrap()
}

fn rule(strategy: Strategy, amount: i64, days: i64, reference: ReferenceRule) -> Rule {
    Rule {
        name: format!("{}-{amount}-{days}", strategy.as_str()),
        strategy,
        amount_drift_minor: amount,
        date_drift_days: days,
        reference,
    }
}

fn exact() -> Rule {
    rule(Strategy::OneToOne, 0, 0, ReferenceRule::Equal)
}

#[test]
fn one_to_one_matches_equal_amounts_dates_and_references() {
    let bank = [
        record("b1", 1_000, 10, Some("PO-1")),
        record("b2", 500, 10, Some("PO-9")),
    ];
    let ledger = [
        record("l1", 1_000, 10, Some("po-1 ")),
        record("l2", 500, 10, Some("PO-2")),
    ];
    let result = reconcile(&bank, &ledger, &[exact()]).unwrap();
    assert_eq!(result.matched.len(), 1);
    assert_eq!(result.matched[0].external, ["b1"]);
    assert_eq!(result.matched[0].internal, ["l1"]);
    assert_eq!(result.unmatched_external, ["b2"]);
    assert_eq!(result.unmatched_internal, ["l2"]);
    assert!(result.amount_differences.is_empty());
}

#[test]
fn date_drift_is_inclusive_at_its_boundary() {
    let rule = rule(Strategy::OneToOne, 0, 1, ReferenceRule::Ignore);
    let inside = reconcile(
        &[record("b", 700, 11, None)],
        &[record("l", 700, 10, None)],
        std::slice::from_ref(&rule),
    )
    .unwrap();
    assert_eq!(inside.matched.len(), 1);
    let outside = reconcile(
        &[record("b", 700, 12, None)],
        &[record("l", 700, 10, None)],
        &[rule],
    )
    .unwrap();
    assert!(outside.matched.is_empty());
    assert_eq!(
        (
            outside.unmatched_external.len(),
            outside.unmatched_internal.len()
        ),
        (1, 1)
    );
}

#[test]
fn amount_drift_is_inclusive_and_reports_the_difference() {
    let rule = rule(Strategy::OneToOne, 12, 0, ReferenceRule::Equal);
    // A Settled row of 5.00 less fees of 0.04 + 0.01 + 0.07 arrives as 4.88.
    let result = reconcile(
        &[record("b", 488, 10, Some("psp1"))],
        &[record("l", 500, 10, Some("psp1"))],
        std::slice::from_ref(&rule),
    )
    .unwrap();
    assert!(result.matched.is_empty());
    assert_eq!(result.amount_differences.len(), 1);
    assert_eq!(result.amount_differences[0].difference, eur(-12));
    let beyond = reconcile(
        &[record("b", 487, 10, Some("psp1"))],
        &[record("l", 500, 10, Some("psp1"))],
        &[rule],
    )
    .unwrap();
    assert!(beyond.amount_differences.is_empty());
    assert_eq!(beyond.unmatched_external, ["b"]);
}

#[test]
fn the_nearest_date_then_amount_then_lowest_id_wins() {
    let rule = rule(Strategy::OneToOne, 5, 3, ReferenceRule::Ignore);
    let ledger = [
        record("far", 1_000, 7, None),
        record("near-off", 1_003, 10, None),
        record("near-exact-b", 1_000, 10, None),
        record("near-exact-a", 1_000, 10, None),
    ];
    let result = reconcile(&[record("b", 1_000, 10, None)], &ledger, &[rule]).unwrap();
    assert_eq!(result.matched[0].internal, ["near-exact-a"]);
}

#[test]
fn rules_run_in_order_so_exact_matches_come_first() {
    let loose = rule(Strategy::OneToOne, 100, 2, ReferenceRule::Ignore);
    let bank = [
        record("b1", 1_000, 10, Some("A")),
        record("b2", 990, 10, Some("B")),
    ];
    let ledger = [
        record("l1", 990, 10, Some("B")),
        record("l2", 1_000, 10, Some("A")),
    ];
    let result = reconcile(&bank, &ledger, &[exact(), loose]).unwrap();
    assert_eq!(result.matched.len(), 2);
    assert!(result.matched.iter().all(|m| m.rule == exact().name));
}

#[test]
fn a_batch_matches_its_parts_one_to_many() {
    let rule = rule(Strategy::OneToMany, 0, 1, ReferenceRule::Equal);
    let bank = [record("batch", 42_956, 10, Some("B-7"))];
    let ledger = [
        record("t1", 32_956, 9, Some("b-7")),
        record("t2", 10_000, 10, Some("B-7")),
        record("t3", 10_000, 10, Some("B-8")),
    ];
    let result = reconcile(&bank, &ledger, &[rule]).unwrap();
    assert_eq!(result.matched.len(), 1);
    assert_eq!(result.matched[0].internal, ["t1", "t2"]);
    assert_eq!(result.unmatched_internal, ["t3"]);
}

#[test]
fn several_provider_rows_match_one_transfer_many_to_one() {
    let rule = rule(Strategy::ManyToOne, 0, 0, ReferenceRule::Equal);
    let rows = [
        record("r1", 300, 10, Some("P")),
        record("r2", 200, 10, Some("P")),
    ];
    let result = reconcile(&rows, &[record("payout", 500, 10, Some("P"))], &[rule]).unwrap();
    assert_eq!(result.matched[0].external, ["r1", "r2"]);
    assert_eq!(result.matched[0].internal, ["payout"]);
    let short = reconcile(
        &rows[..1],
        &[record("payout", 500, 10, Some("P"))],
        &[rule_many()],
    )
    .unwrap();
    assert!(short.matched.is_empty());
}

fn rule_many() -> Rule {
    rule(Strategy::ManyToOne, 0, 0, ReferenceRule::Equal)
}

#[test]
fn a_remittance_text_that_contains_the_reference_matches() {
    let rule = rule(Strategy::OneToOne, 0, 2, ReferenceRule::Contains);
    let bank = [record(
        "b",
        -2_500,
        11,
        Some("SEPA payout BAZAAR 9F2C11 Ada"),
    )];
    let result = reconcile(
        &bank,
        &[record("p", -2_500, 10, Some("Bazaar 9f2c11"))],
        &[rule],
    )
    .unwrap();
    assert_eq!(result.matched.len(), 1);
}

#[test]
fn currencies_never_mix() {
    let usd = Record::new("l", Money::from_minor(1_000, Currency::USD), on(10), None).unwrap();
    let result = reconcile(
        &[record("b", 1_000, 10, None)],
        &[usd],
        &[rule(Strategy::OneToOne, 0, 0, ReferenceRule::Ignore)],
    )
    .unwrap();
    assert!(result.matched.is_empty());
}

#[test]
fn bad_rules_and_duplicate_ids_are_refused() {
    let grouping = rule(Strategy::OneToMany, 0, 0, ReferenceRule::Ignore);
    assert_eq!(
        reconcile(&[], &[], &[grouping]).unwrap_err().code(),
        "grouping_needs_reference"
    );
    let negative = rule(Strategy::OneToOne, -1, 0, ReferenceRule::Ignore);
    assert_eq!(
        reconcile(&[], &[], &[negative]).unwrap_err().code(),
        "negative_drift"
    );
    let twice = [record("x", 1, 10, None), record("x", 2, 11, None)];
    assert_eq!(
        reconcile(&twice, &[], &[exact()]).unwrap_err().code(),
        "duplicate_id"
    );
}

proptest! {
    /// Every record lands in exactly one bucket, and shuffling the inputs changes nothing.
    #[test]
    fn buckets_partition_the_records_whatever_their_order(
        bank in proptest::collection::vec((1_i64..2_000, 1_u32..28, 0_u8..6), 0..40),
        ledger in proptest::collection::vec((1_i64..2_000, 1_u32..28, 0_u8..6), 0..40),
        rotate in 0_usize..40,
    ) {
        let make = |prefix: &str, rows: &[(i64, u32, u8)]| -> Vec<Record> {
            rows.iter().enumerate().map(|(n, (minor, day, reference))| {
                let reference = format!("R{reference}");
                record(&format!("{prefix}{n}"), *minor, *day, Some(reference.as_str()))
            }).collect()
        };
        let bank = make("b", &bank);
        let ledger = make("l", &ledger);
        let rules = [
            exact(),
            rule(Strategy::OneToOne, 50, 1, ReferenceRule::Equal),
            rule(Strategy::OneToMany, 10, 2, ReferenceRule::Equal),
            rule(Strategy::ManyToOne, 10, 2, ReferenceRule::Equal),
        ];
        let result = reconcile(&bank, &ledger, &rules).unwrap();
        let mut seen_external: Vec<String> = result.unmatched_external.clone();
        let mut seen_internal: Vec<String> = result.unmatched_internal.clone();
        for m in result.matched.iter().chain(&result.amount_differences) {
            seen_external.extend(m.external.iter().cloned());
            seen_internal.extend(m.internal.iter().cloned());
            let outside = m.external.iter().map(|id| bank.iter().find(|r| &r.id == id).unwrap().amount.minor()).sum::<i64>();
            let inside = m.internal.iter().map(|id| ledger.iter().find(|r| &r.id == id).unwrap().amount.minor()).sum::<i64>();
            prop_assert_eq!(m.difference.minor(), outside - inside);
        }
        seen_external.sort();
        seen_internal.sort();
        let mut all_external: Vec<String> = bank.iter().map(|r| r.id.clone()).collect();
        let mut all_internal: Vec<String> = ledger.iter().map(|r| r.id.clone()).collect();
        all_external.sort();
        all_internal.sort();
        prop_assert_eq!(seen_external, all_external);
        prop_assert_eq!(seen_internal, all_internal);

        let mut shuffled_bank = bank.clone();
        let mut shuffled_ledger = ledger.clone();
        shuffled_bank.reverse();
        if !shuffled_ledger.is_empty() {
            let by = rotate % shuffled_ledger.len();
            shuffled_ledger.rotate_left(by);
        }
        prop_assert_eq!(reconcile(&shuffled_bank, &shuffled_ledger, &rules).unwrap(), result);
    }
}
