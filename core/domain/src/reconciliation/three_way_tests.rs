//! The three-way run: a batch credited by the bank against the provider's payout, its rows
//! against the ledger, a payout to a seller against the ledger; a fee row and a bank charge
//! to book, then matched once booked; the same inputs in any order give the same result.

use std::collections::HashSet;

use bazaar_money::{Currency, Money};

use super::*;
use crate::fx::calendar::Date;

fn record(id: &str, minor: i64, day: u32, reference: Option<&str>) -> Record {
    Record::new(
        id,
        Money::from_minor(minor, Currency::EUR),
        Date::new(2026, 11, day).unwrap(),
        reference.map(str::to_owned),
    )
    .unwrap()
}

struct World {
    bank: Vec<Record>,
    charges: HashSet<String>,
    payouts: Vec<Record>,
    rows: Vec<Record>,
    fees: HashSet<String>,
    ledger: Vec<Record>,
    booked: Vec<Record>,
}

impl World {
    fn new() -> Self {
        let payment_a = "6f1b0c1e-0000-4000-8000-00000000000a";
        let payment_b = "6f1b0c1e-0000-4000-8000-00000000000b";
        let payout = "9a0d5a7e-0000-4000-8000-000000000001";
        Self {
            bank: vec![
                record(
                    "bank-1",
                    42_836,
                    12,
                    Some("sandbox payout batch 7 sandbox-batch-7"),
                ),
                record("bank-2", -5_000, 13, Some(&format!("{payout} payout"))),
                record("bank-3", -35, 13, Some("bank charge")),
            ],
            charges: HashSet::from(["bank-3".to_owned()]),
            payouts: vec![record("row-payout", 42_836, 11, Some("sandbox-batch-7"))],
            rows: vec![
                record("row-a", 32_956, 10, Some(payment_a)),
                record("row-b", 10_000, 10, Some(payment_b)),
                record("row-fee", -120, 10, None),
            ],
            fees: HashSet::from(["row-fee".to_owned()]),
            ledger: vec![
                record("ledger-a", 32_956, 11, Some(payment_a)),
                record("ledger-b", 10_000, 11, Some(payment_b)),
                record("ledger-payout", -5_000, 12, Some(payout)),
            ],
            booked: Vec::new(),
        }
    }

    fn input(&self) -> ThreeWayInput<'_> {
        ThreeWayInput {
            bank: &self.bank,
            charges: &self.charges,
            payouts: &self.payouts,
            rows: &self.rows,
            fees: &self.fees,
            ledger: &self.ledger,
            booked: &self.booked,
        }
    }
}

#[test]
fn every_leg_matches_and_what_the_ledger_lacks_is_to_book() {
    let world = World::new();
    let run = three_way(world.input(), &ThreeWayRules::default()).unwrap();
    let rules: Vec<&str> = run.result.matched.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "bank_provider_payout",
            "provider_row_ledger",
            "provider_row_ledger",
            "bank_ledger"
        ]
    );
    assert_eq!(run.result.unmatched_external, ["bank-3", "row-fee"]);
    assert!(run.result.unmatched_internal.is_empty());
    let to_book: Vec<(&str, i64, DifferenceReason)> = run
        .to_book
        .iter()
        .map(|(m, reason)| (m.external[0].as_str(), m.difference.minor(), *reason))
        .collect();
    assert_eq!(
        to_book,
        [
            ("bank-3", -35, DifferenceReason::BankCharge),
            ("row-fee", -120, DifferenceReason::ProviderFee),
        ]
    );
    let counts = bucket_counts(&run.items(world.input()));
    assert_eq!(counts, [8, 0, 2, 0]);
}

#[test]
fn once_booked_the_postings_match_and_nothing_is_left() {
    let mut world = World::new();
    let first = three_way(world.input(), &ThreeWayRules::default()).unwrap();
    for (found, _) in &first.to_book {
        let id = difference_transfer_id(found).to_string();
        world
            .booked
            .push(record(&id, found.difference.minor(), 14, None));
    }
    let second = three_way(world.input(), &ThreeWayRules::default()).unwrap();
    assert!(second.to_book.is_empty());
    assert!(second.result.unmatched_external.is_empty());
    assert!(second.result.unmatched_internal.is_empty());
    assert_eq!(bucket_counts(&second.items(world.input())), [12, 0, 0, 0]);
}

#[test]
fn a_batch_the_bank_never_credited_and_a_posting_nobody_asked_for_stay_inside() {
    let mut world = World::new();
    world.bank.remove(0);
    world.booked.push(record("stray", -1, 12, None));
    let run = three_way(world.input(), &ThreeWayRules::default()).unwrap();
    assert_eq!(run.result.unmatched_internal, ["row-payout", "stray"]);
}

#[test]
fn a_difference_within_drift_is_booked_then_matched() {
    let mut world = World::new();
    world.bank[0] = record("bank-1", 42_816, 12, Some("sandbox-batch-7"));
    let mut rules = ThreeWayRules::default();
    rules.bank_to_provider[0].amount_drift_minor = 50;
    let first = three_way(world.input(), &rules).unwrap();
    assert_eq!(first.result.amount_differences.len(), 1);
    let (found, reason) = first
        .to_book
        .iter()
        .find(|(m, _)| m.rule == "bank_provider_payout")
        .unwrap();
    assert_eq!(
        (found.difference.minor(), *reason),
        (-20, DifferenceReason::BankCharge)
    );
    world.booked.push(record(
        &difference_transfer_id(found).to_string(),
        -20,
        13,
        None,
    ));
    let second = three_way(world.input(), &rules).unwrap();
    assert!(second.result.amount_differences.is_empty());
    let settled = second
        .result
        .matched
        .iter()
        .find(|m| m.rule == "bank_provider_payout")
        .unwrap();
    assert_eq!(settled.internal.len(), 2);
}

#[test]
fn the_same_inputs_in_any_order_give_the_same_items() {
    let world = World::new();
    let mut reversed = World::new();
    reversed.bank.reverse();
    reversed.rows.reverse();
    reversed.ledger.reverse();
    let hash = |w: &World| {
        let run = three_way(w.input(), &ThreeWayRules::default()).unwrap();
        items_sha256(&run.items(w.input()))
    };
    assert_eq!(hash(&world), hash(&reversed));
    let mut changed = World::new();
    changed.ledger[0].amount = Money::from_minor(32_955, Currency::EUR);
    assert_ne!(hash(&world), hash(&changed));
}

#[test]
fn records_outside_the_period_are_candidates_only() {
    let mut world = World::new();
    // A payout paid on the 2nd: its bank entry belongs to another day's statement.
    world
        .ledger
        .push(record("ledger-early", -700, 2, Some("early")));
    world.rows.push(record("row-late", -90, 20, None));
    world.fees.insert("row-late".to_owned());
    let mut run = three_way(world.input(), &ThreeWayRules::default()).unwrap();
    assert!(
        run.result
            .unmatched_internal
            .contains(&"ledger-early".to_owned())
    );
    let from = Date::new(2026, 11, 10).unwrap().days_since_epoch().unwrap();
    let to = Date::new(2026, 11, 13).unwrap().days_since_epoch().unwrap();
    run.keep_period(world.input(), from, to);
    assert!(run.result.unmatched_internal.is_empty());
    assert_eq!(run.result.unmatched_external, ["bank-3", "row-fee"]);
    assert_eq!(run.to_book.len(), 2);
}
