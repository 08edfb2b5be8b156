//! Property tests: random operation sequences against the reference ledger, with every
//! invariant of `bazaar_ledger::sim` checked after every step and at the end.

use bazaar_ledger::sim::{self, ACCOUNT_SLOTS, Leg, Op, Stats};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// The suite runs at least this many sequences; `PROPTEST_CASES` may ask for more.
const CASES_MIN: u32 = 5_000;
/// Every sequence has at least this many random operations, after the accounts it opens.
const OPS_MIN: usize = 50;
const OPS_MAX: usize = 120;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .map_or(CASES_MIN, |cases: u32| cases.max(CASES_MIN))
}

fn slot() -> impl Strategy<Value = u8> {
    0..ACCOUNT_SLOTS
}

/// A debit and a credit slot, usually of the same currency.
fn accounts() -> impl Strategy<Value = (u8, u8)> {
    let same_currency = (slot(), slot()).prop_map(|(debit, credit)| {
        let group: Vec<u8> = (0..ACCOUNT_SLOTS)
            .filter(|s| *s != debit && sim::slot_currency(*s) == sim::slot_currency(debit))
            .collect();
        let credit = usize::from(credit)
            .checked_rem(group.len())
            .and_then(|index| group.get(index).copied())
            .unwrap_or(credit);
        (debit, credit)
    });
    prop_oneof![15 => same_currency, 1 => (slot(), slot())]
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        40 => 1_i64..=1_000,
        1 => Just(0_i64),
        1 => -1_000_i64..0,
        // Large enough that a few of them overflow an account's sums.
        3 => (i64::MAX / 2)..=i64::MAX,
    ]
}

fn currency() -> impl Strategy<Value = u8> {
    prop_oneof![15 => 0_u8..224, 1 => 224_u8..=255]
}

fn meta() -> impl Strategy<Value = u8> {
    prop_oneof![40 => 0_u8..100, 15 => 100_u8..255, 1 => Just(255_u8)]
}

fn share() -> impl Strategy<Value = u8> {
    prop_oneof![6 => Just(200_u8), 3 => 1_u8..200, 1 => Just(0_u8), 1 => 201_u8..=255]
}

fn timeout() -> impl Strategy<Value = u16> {
    prop_oneof![20 => 1_u16..600, 1 => Just(0_u16)]
}

fn leg() -> impl Strategy<Value = Leg> {
    prop_oneof![
        4 => (accounts(), amount(), currency(), meta()).prop_map(
            |((debit, credit), amount, currency, meta)| Leg::Direct { debit, credit, amount, currency, meta }
        ),
        3 => (accounts(), amount(), currency(), timeout(), meta()).prop_map(
            |((debit, credit), amount, currency, timeout_secs, meta)| Leg::Pending {
                debit, credit, amount, currency, timeout_secs, meta
            }
        ),
        3 => (any::<u8>(), share(), meta()).prop_map(|(pending, share, meta)| Leg::Post { pending, share, meta }),
        2 => (any::<u8>(), meta()).prop_map(|(pending, meta)| Leg::Void { pending, meta }),
        2 => (any::<u8>(), share(), meta()).prop_map(|(transfer, share, meta)| Leg::Reverse { transfer, share, meta }),
    ]
}

fn overdraft() -> impl Strategy<Value = i16> {
    prop_oneof![10 => Just(0_i16), 5 => 0_i16..500, 1 => -5_i16..0]
}

/// Half the accounts unconstrained, the rest split between the two constraints.
fn constraint() -> impl Strategy<Value = u8> {
    prop_oneof![2 => Just(0_u8), 1 => Just(1_u8), 1 => Just(2_u8)]
}

fn open_account() -> impl Strategy<Value = Op> {
    (slot(), any::<u8>(), constraint(), overdraft()).prop_map(
        |(slot, currency, constraint, overdraft)| Op::OpenAccount {
            slot,
            currency,
            constraint,
            overdraft,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => open_account(),
        10 => prop::collection::vec(leg(), 1..=1).prop_map(Op::Submit),
        4 => prop::collection::vec(leg(), 2..=sim::LEGS_MAX).prop_map(Op::Submit),
        3 => any::<u16>().prop_map(|submission| Op::Retry { submission }),
        2 => (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(submission, leg, alteration)| {
            Op::RetryAltered { submission, leg, alteration }
        }),
        2 => (0_u16..300).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::ExpireDue),
    ]
}

/// Opens most slots, in their own currency, with random constraints.
fn open_most_slots() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec((prop::bool::weighted(0.9), constraint(), overdraft()), 8).prop_map(
        |slots| {
            (0..ACCOUNT_SLOTS)
                .zip(slots)
                .filter(|(_, (open, _, _))| *open)
                .map(|(slot, (_, constraint, overdraft))| Op::OpenAccount {
                    slot,
                    currency: 0,
                    constraint,
                    overdraft,
                })
                .collect()
        },
    )
}

/// A sequence: most accounts first, so that money can move, then random operations.
fn sequence() -> impl Strategy<Value = Vec<Op>> {
    (
        open_most_slots(),
        prop::collection::vec(op(), OPS_MIN..=OPS_MAX),
    )
        .prop_map(|(mut ops, rest)| {
            ops.extend(rest);
            ops
        })
}

#[test]
fn random_sequences_keep_every_invariant() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&sequence(), |ops| {
        prop_assert!(ops.len() >= OPS_MIN);
        sim::run(&ops).map_err(|violation| TestCaseError::fail(violation.to_string()))?;
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
}

/// Shows that the generator reaches the cases the invariants are about: without this, a
/// generator that only produced rejected requests would pass every property vacuously.
#[test]
fn generated_sequences_reach_every_interesting_outcome() {
    let mut runner = TestRunner::deterministic();
    let mut stats = Stats::default();
    for _ in 0..400 {
        let ops = sequence()
            .new_tree(&mut runner)
            .expect("generate a sequence")
            .current();
        stats.merge(&sim::run(&ops).expect("invariants hold"));
    }
    let expected = [
        "ok",
        "account_ok",
        "replayed",
        "expired",
        "exceeds_credits",
        "exceeds_debits",
        "amount_must_be_positive",
        "accounts_must_be_different",
        "debit_account_not_found",
        "credit_account_not_found",
        "debit_account_currency_mismatch",
        "credit_account_currency_mismatch",
        "metadata_invalid",
        "timeout_must_be_positive",
        "pending_transfer_not_found",
        "pending_transfer_not_pending",
        "pending_transfer_already_posted",
        "pending_transfer_already_voided",
        "pending_transfer_expired",
        "exceeds_pending_transfer_amount",
        "original_transfer_not_reversible",
        "exceeds_reversible_amount",
        "id_already_failed",
        "exists_with_different_amount",
        "exists_with_different_kind",
        "exists_with_different_metadata",
        "overdraft_must_not_be_negative",
        "exists_with_different_constraint",
    ];
    assert!(
        stats
            .results
            .keys()
            .any(|code| code.starts_with("overflows_")),
        "no overflow reached: {:?}",
        stats.results
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|code| !stats.results.contains_key(*code))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nseen: {:?}",
        stats.results
    );
    // Most single transfers between open accounts succeed: the sequences move real money.
    let ok = stats.results.get("ok").copied().unwrap_or(0);
    assert!(ok > 3_000, "only {ok} batches applied: {:?}", stats.results);
}
