//! The three-way run: the bank's entries against the provider's payouts, the provider's rows
//! against the ledger's transfers on `bank`, and what the bank has left (payouts to sellers,
//! returns) against what the ledger has left.
//!
//! A provider pays the platform one sum per batch, while the ledger books each payment as it
//! settles: the bank's credit matches the batch's payout row (leg one), and the batch's rows
//! match the ledger's transfers one by one (leg two). What remains of the bank and the
//! ledger is matched directly (leg three). What the bank and the provider know and the
//! ledger lacks becomes a posting to book ([`ThreeWay::to_book`]): a provider's fee row, a
//! bank charge, an amount difference. Once booked, the next run finds the posting by its id
//! and counts the item as matched.

use std::collections::{HashMap, HashSet};

use bazaar_money::{Currency, Money};
use sha2::{Digest, Sha256};

use super::{
    DifferenceReason, Match, MatchError, Reconciliation, Record, ReferenceRule, Rule, Strategy,
    difference_transfer_id, reconcile,
};

/// Where a record comes from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RecordSide {
    /// An entry of the bank's statement.
    Bank,
    /// A row of a provider's report (a payout row included).
    Provider,
    /// A transfer on the ledger's `bank` account.
    Ledger,
}

impl RecordSide {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bank => "bank",
            Self::Provider => "provider",
            Self::Ledger => "ledger",
        }
    }

    /// The side stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Bank, Self::Provider, Self::Ledger]
            .into_iter()
            .find(|side| side.as_str() == name)
    }
}

/// The rules of each leg.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ThreeWayRules {
    /// Bank entries (outside) against the provider's payout rows (inside).
    pub bank_to_provider: Vec<Rule>,
    /// Provider rows (outside) against ledger transfers (inside).
    pub provider_to_ledger: Vec<Rule>,
    /// What the bank has left (outside) against what the ledger has left (inside).
    pub bank_to_ledger: Vec<Rule>,
}

fn rule(name: &str, strategy: Strategy, days: i64, reference: ReferenceRule) -> Rule {
    Rule {
        name: name.to_owned(),
        strategy,
        amount_drift_minor: 0,
        date_drift_days: days,
        reference,
    }
}

impl Default for ThreeWayRules {
    /// Exact amounts; a payout credited up to three days after the provider sent it, its
    /// remittance naming the batch; a provider row booked in the ledger up to five days from
    /// the provider's date, by payment id, as one transfer or as several (a refund and its
    /// fee); a payout to a seller on the bank's statement up to three days from the ledger's,
    /// its text naming the payout.
    fn default() -> Self {
        Self {
            bank_to_provider: vec![rule(
                "bank_provider_payout",
                Strategy::OneToOne,
                3,
                ReferenceRule::Contains,
            )],
            provider_to_ledger: vec![
                rule(
                    "provider_row_ledger",
                    Strategy::OneToOne,
                    5,
                    ReferenceRule::Equal,
                ),
                rule(
                    "provider_row_ledger_legs",
                    Strategy::OneToMany,
                    5,
                    ReferenceRule::Equal,
                ),
            ],
            bank_to_ledger: vec![rule(
                "bank_ledger",
                Strategy::OneToOne,
                3,
                ReferenceRule::Contains,
            )],
        }
    }
}

/// What a three-way run reads.
#[derive(Clone, Copy, Debug)]
pub struct ThreeWayInput<'a> {
    /// The bank's booked entries.
    pub bank: &'a [Record],
    /// The ids of bank entries that are the bank's charges (booked to expense when nothing
    /// else matches them).
    pub charges: &'a HashSet<String>,
    /// The provider's payout rows.
    pub payouts: &'a [Record],
    /// The provider's other rows.
    pub rows: &'a [Record],
    /// The ids of provider rows that are fees (booked to expense when nothing else matches
    /// them).
    pub fees: &'a HashSet<String>,
    /// The ledger's transfers on `bank`, reconciliation postings left out.
    pub ledger: &'a [Record],
    /// The ledger's reconciliation postings on `bank`, by transfer id.
    pub booked: &'a [Record],
}

/// A three-way run's result.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ThreeWay {
    /// Every record in one of the four buckets; matches name their rule.
    pub result: Reconciliation,
    /// What to book, with why: provider fee rows, bank charges and amount differences not
    /// booked yet.
    pub to_book: Vec<(Match, DifferenceReason)>,
}

/// The reason a leg's difference is booked for.
fn leg_reason(rule: &str, rules: &ThreeWayRules) -> DifferenceReason {
    if rules.provider_to_ledger.iter().any(|r| r.name == rule) {
        DifferenceReason::ProviderFee
    } else {
        DifferenceReason::BankCharge
    }
}

/// Runs the three legs. The same input always gives the same result.
pub fn three_way(input: ThreeWayInput<'_>, rules: &ThreeWayRules) -> Result<ThreeWay, MatchError> {
    let first = reconcile(input.bank, input.payouts, &rules.bank_to_provider)?;
    let second = reconcile(input.rows, input.ledger, &rules.provider_to_ledger)?;
    let left = |records: &[Record], ids: &[String]| -> Vec<Record> {
        let keep: HashSet<&String> = ids.iter().collect();
        records
            .iter()
            .filter(|r| keep.contains(&r.id))
            .cloned()
            .collect()
    };
    let bank_left = left(input.bank, &first.unmatched_external);
    let ledger_left = left(input.ledger, &second.unmatched_internal);
    let third = reconcile(&bank_left, &ledger_left, &rules.bank_to_ledger)?;

    let mut booked: HashSet<String> = input.booked.iter().map(|r| r.id.clone()).collect();
    let mut out = ThreeWay::default();
    for found in [&first, &second, &third]
        .into_iter()
        .flat_map(|leg| leg.matched.iter())
    {
        out.result.matched.push(found.clone());
    }
    for found in [&first, &second, &third]
        .into_iter()
        .flat_map(|leg| leg.amount_differences.iter())
    {
        let posting = difference_transfer_id(found).to_string();
        if booked.remove(&posting) {
            let mut settled = found.clone();
            settled.internal.push(posting);
            settled.difference = Money::zero(found.difference.currency());
            out.result.matched.push(settled);
        } else {
            out.result.amount_differences.push(found.clone());
            out.to_book
                .push((found.clone(), leg_reason(&found.rule, rules)));
        }
    }
    settle_outside(&mut out, input, &second, &third, &mut booked);
    out.result.unmatched_internal = third.unmatched_internal;
    out.result
        .unmatched_internal
        .extend(first.unmatched_internal);
    // Postings this run did not ask for (booked by hand, or for records now matched
    // otherwise) are the ledger's own: unmatched inside.
    let mut extra: Vec<&Record> = input
        .booked
        .iter()
        .filter(|r| booked.contains(&r.id))
        .collect();
    extra.sort_by(|a, b| (a.day, &a.id).cmp(&(b.day, &b.id)));
    out.result
        .unmatched_internal
        .extend(extra.into_iter().map(|r| r.id.clone()));
    Ok(out)
}

/// Puts what is left outside in its bucket: a bank charge or a provider's fee row is to
/// book, or matched when its posting is in the ledger; anything else is unmatched.
fn settle_outside(
    out: &mut ThreeWay,
    input: ThreeWayInput<'_>,
    second: &Reconciliation,
    third: &Reconciliation,
    booked: &mut HashSet<String>,
) {
    let amounts: HashMap<&String, Money> = input
        .bank
        .iter()
        .chain(input.rows)
        .map(|r| (&r.id, r.amount))
        .collect();
    let outside = third
        .unmatched_external
        .iter()
        .map(|id| {
            (
                id,
                input.charges.contains(id),
                "bank_charge",
                DifferenceReason::BankCharge,
            )
        })
        .chain(second.unmatched_external.iter().map(|id| {
            (
                id,
                input.fees.contains(id),
                "provider_fee",
                DifferenceReason::ProviderFee,
            )
        }));
    for (id, bookable, rule, reason) in outside {
        let Some(amount) = amounts.get(id).copied().filter(|_| bookable) else {
            out.result.unmatched_external.push(id.clone());
            continue;
        };
        let found = Match {
            rule: rule.to_owned(),
            external: vec![id.clone()],
            internal: Vec::new(),
            difference: amount,
        };
        let posting = difference_transfer_id(&found).to_string();
        if booked.remove(&posting) {
            out.result.matched.push(Match {
                internal: vec![posting],
                difference: Money::zero(amount.currency()),
                ..found
            });
        } else {
            out.result.unmatched_external.push(id.clone());
            out.to_book.push((found, reason));
        }
    }
}

/// Which bucket an item is in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bucket {
    /// Matched exactly (or its difference booked).
    Matched,
    /// Matched within a rule's drift, with a difference not booked yet.
    AmountDifference,
    /// Known outside (bank, provider) only.
    UnmatchedExternal,
    /// Known inside (ledger, or a provider payout the bank never credited) only.
    UnmatchedInternal,
}

impl Bucket {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::AmountDifference => "amount_difference",
            Self::UnmatchedExternal => "unmatched_external",
            Self::UnmatchedInternal => "unmatched_internal",
        }
    }

    /// The bucket stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Matched,
            Self::AmountDifference,
            Self::UnmatchedExternal,
            Self::UnmatchedInternal,
        ]
        .into_iter()
        .find(|bucket| bucket.as_str() == name)
    }
}

/// One record of a run, as stored and reported.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RunItem {
    /// Its bucket.
    pub bucket: Bucket,
    /// Where it comes from.
    pub side: RecordSide,
    /// Its id on its side.
    pub id: String,
    /// Its amount, signed: money in positive.
    pub amount: Money,
    /// Its date, as days since 1970-01-01.
    pub day: i64,
    /// Its reference, if any.
    pub reference: Option<String>,
    /// The rule that matched it.
    pub rule: Option<String>,
    /// The match it belongs to, numbered from 1 in the run; `None` when unmatched.
    pub group: Option<u32>,
}

impl ThreeWay {
    /// Leaves out the unmatched records (and what they would book) dated outside the days
    /// `from` to `to`: records of the days around a period are read only as candidates for
    /// its own records, and a run of their own days reports them.
    pub fn keep_period(&mut self, input: ThreeWayInput<'_>, from: i64, to: i64) {
        let days: HashMap<&str, i64> = [
            input.bank,
            input.payouts,
            input.rows,
            input.ledger,
            input.booked,
        ]
        .into_iter()
        .flatten()
        .map(|r| (r.id.as_str(), r.day))
        .collect();
        let inside = |id: &String| {
            days.get(id.as_str())
                .is_none_or(|day| (from..=to).contains(day))
        };
        self.result.unmatched_external.retain(inside);
        self.result.unmatched_internal.retain(inside);
        self.to_book
            .retain(|(found, _)| !found.internal.is_empty() || found.external.iter().all(inside));
    }

    /// Every record of the run as an item, matches first (in order), then unmatched outside,
    /// then unmatched inside. Ids the input does not hold are left out.
    pub fn items(&self, input: ThreeWayInput<'_>) -> Vec<RunItem> {
        let mut known: HashMap<&str, (RecordSide, &Record)> = HashMap::new();
        for (side, records) in [
            (RecordSide::Bank, input.bank),
            (RecordSide::Provider, input.payouts),
            (RecordSide::Provider, input.rows),
            (RecordSide::Ledger, input.ledger),
            (RecordSide::Ledger, input.booked),
        ] {
            for record in records {
                known.insert(record.id.as_str(), (side, record));
            }
        }
        let item = |bucket, id: &String, rule: Option<&String>, group| {
            known.get(id.as_str()).map(|(side, record)| RunItem {
                bucket,
                side: *side,
                id: id.clone(),
                amount: record.amount,
                day: record.day,
                reference: record.reference.clone(),
                rule: rule.cloned(),
                group,
            })
        };
        let mut items = Vec::new();
        let matches = self
            .result
            .matched
            .iter()
            .map(|m| (Bucket::Matched, m))
            .chain(
                self.result
                    .amount_differences
                    .iter()
                    .map(|m| (Bucket::AmountDifference, m)),
            );
        for (number, (bucket, found)) in (1_u32..).zip(matches) {
            for id in found.external.iter().chain(&found.internal) {
                items.extend(item(bucket, id, Some(&found.rule), Some(number)));
            }
        }
        for id in &self.result.unmatched_external {
            items.extend(item(Bucket::UnmatchedExternal, id, None, None));
        }
        for id in &self.result.unmatched_internal {
            items.extend(item(Bucket::UnmatchedInternal, id, None, None));
        }
        items
    }
}

/// The SHA-256 of a run's items in a canonical form: equal results, equal hashes.
pub fn items_sha256(items: &[RunItem]) -> String {
    let mut hasher = Sha256::new();
    for item in items {
        let line = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
            item.bucket.as_str(),
            item.side.as_str(),
            item.id,
            item.amount.minor(),
            item.amount.currency().code(),
            item.day,
            item.reference.as_deref().unwrap_or(""),
            item.rule.as_deref().unwrap_or(""),
            item.group.map_or_else(String::new, |g| g.to_string()),
        );
        hasher.update(line.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// How many items of each bucket, in the order of [`Bucket`].
pub fn bucket_counts(items: &[RunItem]) -> [u64; 4] {
    let mut counts = [0_u64; 4];
    for item in items {
        let slot = match item.bucket {
            Bucket::Matched => counts.get_mut(0),
            Bucket::AmountDifference => counts.get_mut(1),
            Bucket::UnmatchedExternal => counts.get_mut(2),
            Bucket::UnmatchedInternal => counts.get_mut(3),
        };
        if let Some(slot) = slot {
            *slot = slot.saturating_add(1);
        }
    }
    counts
}

/// The currency of a run's items, if they have one.
pub fn items_currency(items: &[RunItem]) -> Option<Currency> {
    items.first().map(|item| item.amount.currency())
}
