//! Matching records from outside (bank entries, provider rows) against records inside (ledger
//! transfers, payouts) by rules.
//!
//! A [`Rule`] has criteria (the same currency always; amounts within a drift; dates within a
//! number of days; references equal, or one containing the other, or not compared) and a
//! [`Strategy`]: one record to one, one outside to many inside (a bank batch that pays
//! several transfers), or many outside to one inside. Rules are tried in order; a record is
//! matched at most once. The result puts every record in one of four buckets: matched,
//! matched with an amount difference, unmatched outside, unmatched inside. The same inputs
//! always give the same result: records are taken in order of date, then id, and ties between
//! candidates go to the nearest date, then the nearest amount, then the lowest id.
//!
//! Nothing here writes anything; a dry run is simply a run whose result is not stored.

use std::collections::{BTreeMap, HashMap};

use bazaar_money::{Currency, Money, MoneyError};

use crate::fx::calendar::Date;

/// The most records a grouping strategy puts in one match.
pub const GROUP_MAX: usize = 1_000;

/// A record to match: a bank entry, a provider row, a ledger transfer, a payout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    /// Its id where it comes from; unique on its side.
    pub id: String,
    /// Signed: money in is positive on both sides.
    pub amount: Money,
    /// Its date, as days since 1970-01-01.
    pub day: i64,
    /// What ties it to the other side (an end-to-end id, a payout's statement reference, a
    /// PSP reference), if it has one.
    pub reference: Option<String>,
}

impl Record {
    /// A record dated `date`.
    pub fn new(
        id: impl Into<String>,
        amount: Money,
        date: Date,
        reference: Option<String>,
    ) -> Result<Self, MatchError> {
        Ok(Self {
            id: id.into(),
            amount,
            day: date.days_since_epoch().ok_or(MatchError::DateOutOfRange)?,
            reference,
        })
    }
}

/// How references are compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReferenceRule {
    /// Not compared.
    Ignore,
    /// Equal, ignoring case and surrounding spaces; records without one never match.
    Equal,
    /// The outside reference contains the inside one (bank remittance text that carries a
    /// payout's reference), ignoring case.
    Contains,
}

/// How many records on each side one match takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// One outside record, one inside.
    OneToOne,
    /// One outside record, several inside records whose sum it is.
    OneToMany,
    /// Several outside records whose sum is one inside record.
    ManyToOne,
}

impl Strategy {
    /// Its name, e.g. `one_to_many`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneToOne => "one_to_one",
            Self::OneToMany => "one_to_many",
            Self::ManyToOne => "many_to_one",
        }
    }
}

/// A matching rule.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rule {
    /// Its name, reported with each match it made.
    pub name: String,
    /// How many records a match takes on each side.
    pub strategy: Strategy,
    /// The largest difference between the two sides' amounts, in minor units (0: exact).
    pub amount_drift_minor: i64,
    /// The largest difference between dates, in days (inclusive).
    pub date_drift_days: i64,
    /// How references are compared.
    pub reference: ReferenceRule,
}

/// Why matching could not run.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MatchError {
    /// A grouping strategy needs references to group by.
    #[error("rule {0}: one_to_many and many_to_one group by reference; set a reference rule")]
    GroupingNeedsReference(String),
    /// A negative drift.
    #[error("rule {0}: drifts cannot be negative")]
    NegativeDrift(String),
    /// Two records with one id on the same side.
    #[error("the id {0} appears twice on one side")]
    DuplicateId(String),
    /// A date outside the calendar's range.
    #[error("a date is out of range")]
    DateOutOfRange,
    /// Money arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl MatchError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::GroupingNeedsReference(_) => "grouping_needs_reference",
            Self::NegativeDrift(_) => "negative_drift",
            Self::DuplicateId(_) => "duplicate_id",
            Self::DateOutOfRange => "date_out_of_range",
            Self::Money(inner) => inner.code(),
        }
    }
}

/// One match: the records on each side, the rule that made it and what the sides differ by.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Match {
    /// The rule's name.
    pub rule: String,
    /// The outside records' ids.
    pub external: Vec<String>,
    /// The inside records' ids.
    pub internal: Vec<String>,
    /// Outside total less inside total; zero for an exact match.
    pub difference: Money,
}

/// Every record in one bucket.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Reconciliation {
    /// Matches whose sides are equal.
    pub matched: Vec<Match>,
    /// Matches within a rule's drift whose sides differ.
    pub amount_differences: Vec<Match>,
    /// Outside records no rule matched, in order of date, then id.
    pub unmatched_external: Vec<String>,
    /// Inside records no rule matched, in order of date, then id.
    pub unmatched_internal: Vec<String>,
}

impl Reconciliation {
    /// How many outside records were matched, with or without a difference.
    pub fn external_matched(&self) -> usize {
        self.matched
            .iter()
            .chain(&self.amount_differences)
            .map(|m| m.external.len())
            .sum()
    }
}

fn normalized(reference: Option<&String>) -> Option<String> {
    reference
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
}

/// One side, sorted by (day, id), with what has been matched.
struct Side<'a> {
    records: Vec<&'a Record>,
    references: Vec<Option<String>>,
    taken: Vec<bool>,
}

impl<'a> Side<'a> {
    fn new(records: &'a [Record]) -> Result<Self, MatchError> {
        let mut sorted: Vec<&Record> = records.iter().collect();
        sorted.sort_by(|a, b| (a.day, &a.id).cmp(&(b.day, &b.id)));
        let mut ids: Vec<&String> = sorted.iter().map(|r| &r.id).collect();
        ids.sort();
        if let Some(pair) = ids.windows(2).find(|pair| pair.first() == pair.get(1)) {
            let id = pair.first().map_or_else(String::new, |id| (*id).clone());
            return Err(MatchError::DuplicateId(id));
        }
        let references = sorted
            .iter()
            .map(|r| normalized(r.reference.as_ref()))
            .collect();
        let taken = vec![false; sorted.len()];
        Ok(Self {
            records: sorted,
            references,
            taken,
        })
    }

    fn open(&self, index: usize) -> bool {
        self.taken.get(index).is_some_and(|taken| !taken)
    }

    fn take(&mut self, index: usize) {
        if let Some(taken) = self.taken.get_mut(index) {
            *taken = true;
        }
    }

    fn record(&self, index: usize) -> Option<&'a Record> {
        self.records.get(index).copied()
    }

    fn unmatched(&self) -> Vec<String> {
        self.records
            .iter()
            .zip(&self.taken)
            .filter(|(_, taken)| !**taken)
            .map(|(record, _)| record.id.clone())
            .collect()
    }
}

/// Candidates on one side found by reference, or by currency and amount.
enum Index {
    ByReference(HashMap<String, Vec<usize>>),
    ByAmount(HashMap<Currency, BTreeMap<i64, Vec<usize>>>),
}

impl Index {
    fn of(side: &Side<'_>, rule: &Rule) -> Self {
        match rule.reference {
            ReferenceRule::Equal => {
                let mut map: HashMap<String, Vec<usize>> = HashMap::new();
                for (index, reference) in side.references.iter().enumerate() {
                    if let Some(reference) = reference {
                        map.entry(reference.clone()).or_default().push(index);
                    }
                }
                Self::ByReference(map)
            }
            ReferenceRule::Ignore | ReferenceRule::Contains => {
                let mut map: HashMap<Currency, BTreeMap<i64, Vec<usize>>> = HashMap::new();
                for (index, record) in side.records.iter().enumerate() {
                    map.entry(record.amount.currency())
                        .or_default()
                        .entry(record.amount.minor())
                        .or_default()
                        .push(index);
                }
                Self::ByAmount(map)
            }
        }
    }

    /// Indexes that may match `record` (by reference or within the drift of its amount).
    fn candidates(&self, record: &Record, reference: Option<&String>, drift: i64) -> Vec<usize> {
        match self {
            Self::ByReference(map) => reference
                .and_then(|r| map.get(r))
                .cloned()
                .unwrap_or_default(),
            Self::ByAmount(map) => {
                let minor = record.amount.minor();
                let low = minor.saturating_sub(drift);
                let high = minor.saturating_add(drift);
                map.get(&record.amount.currency())
                    .map(|amounts| {
                        amounts
                            .range(low..=high)
                            .flat_map(|(_, v)| v.iter().copied())
                            .collect()
                    })
                    .unwrap_or_default()
            }
        }
    }
}

fn references_agree(
    rule: ReferenceRule,
    outside: Option<&String>,
    inside: Option<&String>,
) -> bool {
    match rule {
        ReferenceRule::Ignore => true,
        ReferenceRule::Equal => outside.is_some() && outside == inside,
        ReferenceRule::Contains => match (outside, inside) {
            (Some(outside), Some(inside)) => outside.contains(inside.as_str()),
            _ => false,
        },
    }
}

/// Runs `rules` in order over `external` and `internal`.
pub fn reconcile(
    external: &[Record],
    internal: &[Record],
    rules: &[Rule],
) -> Result<Reconciliation, MatchError> {
    for rule in rules {
        if rule.amount_drift_minor < 0 || rule.date_drift_days < 0 {
            return Err(MatchError::NegativeDrift(rule.name.clone()));
        }
        if rule.strategy != Strategy::OneToOne && rule.reference == ReferenceRule::Ignore {
            return Err(MatchError::GroupingNeedsReference(rule.name.clone()));
        }
    }
    let mut outside = Side::new(external)?;
    let mut inside = Side::new(internal)?;
    let mut result = Reconciliation::default();
    for rule in rules {
        let found = match rule.strategy {
            Strategy::OneToOne => one_to_one(&mut outside, &mut inside, rule)?,
            Strategy::OneToMany => one_to_many(&mut outside, &mut inside, rule, false)?,
            Strategy::ManyToOne => one_to_many(&mut inside, &mut outside, rule, true)?,
        };
        for found in found {
            if found.difference.is_zero() {
                result.matched.push(found);
            } else {
                result.amount_differences.push(found);
            }
        }
    }
    result.unmatched_external = outside.unmatched();
    result.unmatched_internal = inside.unmatched();
    Ok(result)
}

fn one_to_one(
    outside: &mut Side<'_>,
    inside: &mut Side<'_>,
    rule: &Rule,
) -> Result<Vec<Match>, MatchError> {
    let index = Index::of(inside, rule);
    let mut found = Vec::new();
    for o in 0..outside.records.len() {
        let Some(record) = outside.record(o).filter(|_| outside.open(o)) else {
            continue;
        };
        let reference = outside.references.get(o).and_then(Option::as_ref);
        let mut best: Option<(i64, i64, usize)> = None;
        for i in index.candidates(record, reference, rule.amount_drift_minor) {
            let Some(candidate) = inside.record(i).filter(|_| inside.open(i)) else {
                continue;
            };
            if candidate.amount.currency() != record.amount.currency()
                || !references_agree(
                    rule.reference,
                    reference,
                    inside.references.get(i).and_then(Option::as_ref),
                )
            {
                continue;
            }
            let days = record.day.abs_diff(candidate.day);
            let cents = record.amount.minor().abs_diff(candidate.amount.minor());
            let (Ok(days), Ok(cents)) = (i64::try_from(days), i64::try_from(cents)) else {
                continue;
            };
            if days > rule.date_drift_days || cents > rule.amount_drift_minor {
                continue;
            }
            let key = (days, cents, i);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        if let Some((_, _, i)) = best
            && let Some(candidate) = inside.record(i)
        {
            inside.take(i);
            outside.take(o);
            found.push(Match {
                rule: rule.name.clone(),
                external: vec![record.id.clone()],
                internal: vec![candidate.id.clone()],
                difference: record.amount.checked_sub(candidate.amount)?,
            });
        }
    }
    Ok(found)
}

/// One record of `single` against the open records of `many` that share its reference (or
/// that it contains) within the date drift, when their sum is within the amount drift.
/// `flipped` reports the sides the other way round (many outside to one inside).
fn one_to_many(
    single: &mut Side<'_>,
    many: &mut Side<'_>,
    rule: &Rule,
    flipped: bool,
) -> Result<Vec<Match>, MatchError> {
    let index = Index::of(many, rule);
    let mut found = Vec::new();
    for s in 0..single.records.len() {
        let Some(record) = single.record(s).filter(|_| single.open(s)) else {
            continue;
        };
        let reference = single.references.get(s).and_then(Option::as_ref);
        let candidates: Vec<usize> = match &index {
            Index::ByReference(_) => index.candidates(record, reference, 0),
            // Contains: every open record of the currency is a candidate.
            Index::ByAmount(map) => map
                .get(&record.amount.currency())
                .map(|amounts| amounts.values().flatten().copied().collect())
                .unwrap_or_default(),
        };
        let mut group: Vec<usize> = candidates
            .into_iter()
            .filter(|i| many.open(*i))
            .filter(|i| {
                many.record(*i).is_some_and(|c| {
                    c.amount.currency() == record.amount.currency()
                        && record.day.abs_diff(c.day) <= rule.date_drift_days.unsigned_abs()
                })
            })
            .filter(|i| {
                let theirs = many.references.get(*i).and_then(Option::as_ref);
                let (outside, inside) = if flipped {
                    (theirs, reference)
                } else {
                    (reference, theirs)
                };
                references_agree(rule.reference, outside, inside)
            })
            .collect();
        group.sort_unstable();
        if group.len() < 2 || group.len() > GROUP_MAX {
            continue;
        }
        let mut total = Money::zero(record.amount.currency());
        for i in &group {
            if let Some(c) = many.record(*i) {
                total = total.checked_add(c.amount)?;
            }
        }
        let drift = record.amount.minor().abs_diff(total.minor());
        if i64::try_from(drift).map_or(true, |d| d > rule.amount_drift_minor) {
            continue;
        }
        single.take(s);
        let ids: Vec<String> = group
            .iter()
            .filter_map(|i| many.record(*i).map(|c| c.id.clone()))
            .collect();
        for i in group {
            many.take(i);
        }
        let (external, internal, difference) = if flipped {
            (
                ids,
                vec![record.id.clone()],
                total.checked_sub(record.amount)?,
            )
        } else {
            (
                vec![record.id.clone()],
                ids,
                record.amount.checked_sub(total)?,
            )
        };
        found.push(Match {
            rule: rule.name.clone(),
            external,
            internal,
            difference,
        });
    }
    Ok(found)
}
