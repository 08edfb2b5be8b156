//! Reports for finance: the trial balance per currency at a point in time, seller
//! liabilities against the cash held at providers and banks, the FX position, and the items
//! a run left unmatched with their age; each also as CSV (RFC 4180, decimal amounts with a
//! currency column).

use std::collections::BTreeMap;

use bazaar_ledger::{Account, AccountId, Balance, LedgerHistory, LedgerStore, Timestamp};
use bazaar_money::{Currency, Money, MoneyError};

use super::{
    Bucket, ReconciliationError, ReconciliationStore, ReconciliationStoreError, Reconciliations,
    RunItem, RunSummary,
};
use crate::fx::calendar::Date;
use crate::payments::settlement_report::quote;

/// Accounts read per page for a trial balance.
const ACCOUNTS_PAGE: u32 = 1_000;

/// The most accounts a trial balance reads.
pub const TRIAL_ACCOUNTS_MAX: usize = 5_000_000;

/// One line of a trial balance: every account of one chart code in one currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrialLine {
    /// The chart code, e.g. `seller_available`.
    pub code: String,
    /// How many accounts it sums.
    pub accounts: u64,
    /// The sum of the debit balances (accounts whose posted debits exceed their credits).
    pub debit: Money,
    /// The sum of the credit balances.
    pub credit: Money,
}

/// The trial balance of one currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TrialBalance {
    /// The currency.
    pub currency: Currency,
    /// One line per chart code, in code order.
    pub lines: Vec<TrialLine>,
    /// The sum of the debit column.
    pub debit: Money,
    /// The sum of the credit column.
    pub credit: Money,
}

impl TrialBalance {
    /// Whether the columns agree, as double entry requires.
    pub fn balanced(&self) -> bool {
        self.debit == self.credit
    }

    /// The net (debit less credit) of the line with `code`; zero when there is none.
    pub fn net(&self, code: &str) -> Result<Money, MoneyError> {
        self.lines
            .iter()
            .filter(|line| line.code == code)
            .try_fold(Money::zero(self.currency), |sum, line| {
                sum.checked_add(line.debit)?.checked_sub(line.credit)
            })
    }
}

/// The trial balances of `accounts` (each with its posted balance), one per currency in code
/// order. Pending amounts are left out: they are reservations, not postings.
pub fn trial_balances(accounts: &[(Account, Balance)]) -> Result<Vec<TrialBalance>, MoneyError> {
    let mut lines: BTreeMap<(&str, &str), TrialLine> = BTreeMap::new();
    let mut currencies: BTreeMap<&str, Currency> = BTreeMap::new();
    for (account, balance) in accounts {
        let currency = account.currency;
        currencies.insert(currency.code(), currency);
        let line = lines
            .entry((currency.code(), account.code.as_str()))
            .or_insert_with(|| TrialLine {
                code: account.code.as_str().to_owned(),
                accounts: 0,
                debit: Money::zero(currency),
                credit: Money::zero(currency),
            });
        line.accounts = line.accounts.saturating_add(1);
        let net = balance
            .debits_posted
            .checked_sub(balance.credits_posted)
            .ok_or(MoneyError::OutOfRange)?;
        if net >= 0 {
            line.debit = line.debit.checked_add(Money::from_minor(net, currency))?;
        } else {
            let credit = net.checked_neg().ok_or(MoneyError::OutOfRange)?;
            line.credit = line
                .credit
                .checked_add(Money::from_minor(credit, currency))?;
        }
    }
    let mut out = Vec::with_capacity(currencies.len());
    for (code, currency) in currencies {
        let mut trial = TrialBalance {
            currency,
            lines: Vec::new(),
            debit: Money::zero(currency),
            credit: Money::zero(currency),
        };
        for ((_, _), line) in lines
            .range((code, "")..)
            .take_while(|((c, _), _)| *c == code)
        {
            trial.debit = trial.debit.checked_add(line.debit)?;
            trial.credit = trial.credit.checked_add(line.credit)?;
            trial.lines.push(line.clone());
        }
        out.push(trial);
    }
    Ok(out)
}

/// The chart codes of what the platform owes sellers (and buyers, for captures it must
/// return).
pub const LIABILITY_CODES: [&str; 5] = [
    "seller_pending",
    "seller_available",
    "seller_reserve",
    "payouts_in_transit",
    "captured_unfulfilled",
];

/// The chart codes of cash: at the banks and owed by providers.
pub const CASH_CODES: [&str; 2] = ["bank", "psp_clearing"];

/// One currency's position: cash against what is owed to sellers, and the FX position.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Position {
    /// The currency.
    pub currency: Currency,
    /// At the platform's banks.
    pub bank: Money,
    /// Owed to the platform by payment providers.
    pub providers: Money,
    /// Owed to sellers (pending, available, reserved, in transit) and to buyers.
    pub liabilities: Money,
    /// Cash less liabilities: what the platform holds beyond what it owes.
    pub coverage: Money,
    /// The FX position: positive when conversions left the platform holding more of the
    /// currency.
    pub fx_position: Money,
}

/// The position of each currency of `trials`.
pub fn positions(trials: &[TrialBalance]) -> Result<Vec<Position>, MoneyError> {
    trials
        .iter()
        .map(|trial| {
            let bank = trial.net("bank")?;
            let providers = trial.net("psp_clearing")?;
            let liabilities = LIABILITY_CODES
                .iter()
                .try_fold(Money::zero(trial.currency), |sum, code| {
                    sum.checked_sub(trial.net(code)?)
                })?;
            Ok(Position {
                currency: trial.currency,
                bank,
                providers,
                liabilities,
                coverage: bank.checked_add(providers)?.checked_sub(liabilities)?,
                fx_position: trial.net("fx_position")?,
            })
        })
        .collect()
}

/// An item a run left open, with its age.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgedItem {
    /// The item.
    pub item: RunItem,
    /// Whole days from its date to the report's day.
    pub age_days: i64,
}

/// The age groups unmatched items are counted in: up to 2 days, 3 to 7, 8 to 30, over 30.
pub const AGE_GROUPS: [(&str, i64, i64); 4] = [
    ("0-2 days", 0, 2),
    ("3-7 days", 3, 7),
    ("8-30 days", 8, 30),
    ("over 30 days", 31, i64::MAX),
];

/// The items of `items` not matched (unmatched on either side, or with a difference not
/// booked), oldest first, each with its age on `today`.
pub fn aged_items(items: &[RunItem], today: Date) -> Vec<AgedItem> {
    let today = today.days_since_epoch().unwrap_or(0);
    let mut aged: Vec<AgedItem> = items
        .iter()
        .filter(|item| item.bucket != Bucket::Matched)
        .map(|item| AgedItem {
            item: item.clone(),
            age_days: today.saturating_sub(item.day).max(0),
        })
        .collect();
    aged.sort_by(|a, b| (b.age_days, &a.item.id).cmp(&(a.age_days, &b.item.id)));
    aged
}

/// How many of `aged` fall in each of [`AGE_GROUPS`].
pub fn age_counts(aged: &[AgedItem]) -> [u64; 4] {
    let mut counts = [0_u64; 4];
    for item in aged {
        for ((_, low, high), count) in AGE_GROUPS.iter().zip(counts.iter_mut()) {
            if (*low..=*high).contains(&item.age_days) {
                *count = count.saturating_add(1);
            }
        }
    }
    counts
}

fn csv_line(out: &mut String, cells: &[&str]) {
    let quoted: Vec<String> = cells.iter().map(|cell| quote(cell)).collect();
    out.push_str(&quoted.join(","));
    out.push_str("\r\n");
}

/// The trial balances as CSV: `currency,account,accounts,debit,credit`, a total line per
/// currency.
pub fn trial_balance_csv(trials: &[TrialBalance]) -> String {
    let mut out = String::new();
    csv_line(
        &mut out,
        &["currency", "account", "accounts", "debit", "credit"],
    );
    for trial in trials {
        let code = trial.currency.code();
        for line in &trial.lines {
            let accounts = line.accounts.to_string();
            csv_line(
                &mut out,
                &[
                    code,
                    &line.code,
                    &accounts,
                    &line.debit.amount_string(),
                    &line.credit.amount_string(),
                ],
            );
        }
        csv_line(
            &mut out,
            &[
                code,
                "total",
                "",
                &trial.debit.amount_string(),
                &trial.credit.amount_string(),
            ],
        );
    }
    out
}

/// The positions as CSV: `currency,bank,providers,liabilities,coverage,fx_position`.
pub fn positions_csv(positions: &[Position]) -> String {
    let mut out = String::new();
    csv_line(
        &mut out,
        &[
            "currency",
            "bank",
            "providers",
            "liabilities",
            "coverage",
            "fx_position",
        ],
    );
    for p in positions {
        csv_line(
            &mut out,
            &[
                p.currency.code(),
                &p.bank.amount_string(),
                &p.providers.amount_string(),
                &p.liabilities.amount_string(),
                &p.coverage.amount_string(),
                &p.fx_position.amount_string(),
            ],
        );
    }
    out
}

/// A run's open items as CSV:
/// `bucket,side,id,currency,amount,date,age_days,reference`.
pub fn aged_items_csv(aged: &[AgedItem]) -> String {
    let mut out = String::new();
    csv_line(
        &mut out,
        &[
            "bucket",
            "side",
            "id",
            "currency",
            "amount",
            "date",
            "age_days",
            "reference",
        ],
    );
    for entry in aged {
        let item = &entry.item;
        let date = Date::from_days_since_epoch(item.day)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let age = entry.age_days.to_string();
        csv_line(
            &mut out,
            &[
                item.bucket.as_str(),
                item.side.as_str(),
                &item.id,
                item.amount.currency().code(),
                &item.amount.amount_string(),
                &date,
                &age,
                item.reference.as_deref().unwrap_or(""),
            ],
        );
    }
    out
}

/// What finance sees at a glance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FinanceOverview {
    /// The trial balances, per currency.
    pub trials: Vec<TrialBalance>,
    /// The positions, per currency.
    pub positions: Vec<Position>,
    /// The latest stored runs, newest first.
    pub runs: Vec<RunSummary>,
}

impl<S: ReconciliationStore, L: LedgerStore + LedgerHistory> Reconciliations<S, L> {
    /// Every account with its posted balance at `at` (now, when `None`); accounts opened
    /// after `at` are left out.
    pub async fn balances_at(
        &self,
        at: Option<Timestamp>,
    ) -> Result<Vec<(Account, Balance)>, ReconciliationError> {
        let unavailable = |_| ReconciliationError::Store(ReconciliationStoreError::Unavailable);
        let mut out = Vec::new();
        let mut after: Option<AccountId> = None;
        while let Some((last, accounts)) =
            bazaar_ledger::accounts_after(&self.ledger, after, ACCOUNTS_PAGE)
                .await
                .map_err(unavailable)?
        {
            after = Some(last);
            for (account, balance) in accounts {
                let balance = match at {
                    None => Some(balance),
                    Some(at) => self
                        .ledger
                        .balance_at(account.id, at)
                        .await
                        .map_err(unavailable)?,
                };
                if let Some(balance) = balance {
                    out.push((account, balance));
                }
            }
            if out.len() > TRIAL_ACCOUNTS_MAX {
                return Err(ReconciliationError::TooManyRecords);
            }
        }
        Ok(out)
    }

    /// The trial balance per currency at `at` (now, when `None`).
    pub async fn trial_balance(
        &self,
        at: Option<Timestamp>,
    ) -> Result<Vec<TrialBalance>, ReconciliationError> {
        let accounts = self.balances_at(at).await?;
        trial_balances(&accounts).map_err(|e| ReconciliationError::Match(e.into()))
    }

    /// The trial balances, positions and latest runs at `at` (now, when `None`).
    pub async fn overview(
        &self,
        at: Option<Timestamp>,
        runs: u32,
    ) -> Result<FinanceOverview, ReconciliationError> {
        let trials = self.trial_balance(at).await?;
        let positions = positions(&trials).map_err(|e| ReconciliationError::Match(e.into()))?;
        Ok(FinanceOverview {
            trials,
            positions,
            runs: self.runs(runs).await?,
        })
    }

    /// The items the stored run left open, oldest first, aged on `today`.
    pub async fn open_items(
        &self,
        run: super::RunId,
        today: Date,
    ) -> Result<Vec<AgedItem>, ReconciliationError> {
        let items = self.run_items(run, None).await?;
        Ok(aged_items(&items, today))
    }
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::{AccountCode, BalanceConstraint, Owner, Side};

    use super::*;
    use crate::reconciliation::RecordSide;

    fn account(code: &str, currency: Currency, n: u128) -> Account {
        Account {
            id: AccountId::from_u128(n),
            currency,
            code: AccountCode::new(code).unwrap(),
            owner: Owner::new("").unwrap(),
            normal_side: Side::Debit,
            constraint: BalanceConstraint::Unconstrained,
            created_at: Timestamp::from_micros(0),
        }
    }

    fn posted(debits: i64, credits: i64) -> Balance {
        Balance {
            debits_posted: debits,
            credits_posted: credits,
            ..Balance::default()
        }
    }

    #[test]
    fn a_trial_balance_sums_codes_per_currency_and_balances() {
        let accounts = vec![
            (account("bank", Currency::EUR, 1), posted(10_000, 2_500)),
            (
                account("seller_available", Currency::EUR, 2),
                posted(500, 4_000),
            ),
            (
                account("seller_available", Currency::EUR, 3),
                posted(0, 3_000),
            ),
            (
                account("psp_clearing", Currency::EUR, 4),
                posted(3_000, 3_000),
            ),
            (
                account("seller_pending", Currency::EUR, 5),
                posted(2_000, 2_000),
            ),
            (
                account("expense_psp_fees", Currency::EUR, 6),
                posted(500, 0),
            ),
            (
                account("revenue_commission", Currency::EUR, 9),
                posted(0, 1_500),
            ),
            (account("bank", Currency::JPY, 7), posted(900, 0)),
            (account("fx_position", Currency::JPY, 8), posted(0, 900)),
        ];
        let trials = trial_balances(&accounts).unwrap();
        let codes: Vec<&str> = trials.iter().map(|t| t.currency.code()).collect();
        assert_eq!(codes, ["EUR", "JPY"]);
        let eur = &trials[0];
        assert!(eur.balanced());
        assert_eq!(eur.debit.minor(), 8_000);
        let available = eur
            .lines
            .iter()
            .find(|l| l.code == "seller_available")
            .unwrap();
        assert_eq!((available.accounts, available.credit.minor()), (2, 6_500));
        assert_eq!(eur.net("seller_available").unwrap().minor(), -6_500);

        let positions = positions(&trials).unwrap();
        assert_eq!(positions[0].bank.minor(), 7_500);
        assert_eq!(positions[0].liabilities.minor(), 6_500);
        assert_eq!(positions[0].coverage.minor(), 1_000);
        assert_eq!(positions[1].fx_position.minor(), -900);

        let csv = trial_balance_csv(&trials);
        assert!(csv.starts_with("currency,account,accounts,debit,credit\r\n"));
        assert!(csv.contains("EUR,seller_available,2,0.00,65.00\r\n"));
        assert!(csv.contains("EUR,total,,80.00,80.00\r\n"));
        assert!(csv.contains("JPY,bank,1,900,0\r\n"));
    }

    #[test]
    fn open_items_are_aged_oldest_first_and_counted_by_age() {
        let today = Date::new(2026, 12, 1).unwrap();
        let day = |d: u32| Date::new(2026, 11, d).unwrap().days_since_epoch().unwrap();
        let item = |id: &str, bucket, d| RunItem {
            bucket,
            side: RecordSide::Bank,
            id: id.to_owned(),
            amount: Money::from_minor(-35, Currency::EUR),
            day: day(d),
            reference: Some("fee, \"november\"".to_owned()),
            rule: None,
            group: None,
        };
        let items = [
            item("a", Bucket::Matched, 1),
            item("b", Bucket::UnmatchedExternal, 30),
            item("c", Bucket::UnmatchedInternal, 1),
            item("d", Bucket::AmountDifference, 25),
        ];
        let aged = aged_items(&items, today);
        let order: Vec<(&str, i64)> = aged
            .iter()
            .map(|a| (a.item.id.as_str(), a.age_days))
            .collect();
        assert_eq!(order, [("c", 30), ("d", 6), ("b", 1)]);
        assert_eq!(age_counts(&aged), [1, 1, 1, 0]);
        let csv = aged_items_csv(&aged);
        assert!(csv.contains(
            "unmatched_internal,bank,c,EUR,-0.35,2026-11-01,30,\"fee, \"\"november\"\"\"\r\n"
        ));
    }
}
