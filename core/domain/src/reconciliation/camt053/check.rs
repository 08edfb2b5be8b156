//! The checks of whole statements: a statement adds up, and the pages of one fit together
//! and join.

use std::collections::BTreeSet;

use bazaar_money::{Money, MoneyError};

use super::read::malformed;
use super::{BalanceType, BankStatement, CamtError, EntryStatus, StatementBalance, fragment};

impl BankStatement {
    fn first(&self, kind: &BalanceType) -> Option<usize> {
        self.balances
            .iter()
            .position(|balance| balance.kind == *kind)
    }

    fn opening_index(&self) -> Option<usize> {
        self.first(&BalanceType::OpeningBooked)
            .or_else(|| self.first(&BalanceType::PreviouslyClosedBooked))
            .or_else(|| {
                self.page
                    .filter(|page| *page > 1)
                    .and_then(|_| self.first(&BalanceType::InterimBooked))
            })
    }

    fn closing_index(&self) -> Option<usize> {
        self.first(&BalanceType::ClosingBooked).or_else(|| {
            let opening = self.opening_index();
            self.balances
                .iter()
                .enumerate()
                .rev()
                .find(|(index, balance)| {
                    balance.kind == BalanceType::InterimBooked && Some(*index) != opening
                })
                .map(|(index, _)| index)
                .filter(|_| self.last_page == Some(false))
        })
    }

    /// The booked balance the statement starts from: `OPBD`, else `PRCD`; on a page after
    /// the first, else its first `ITBD`.
    pub fn opening_balance(&self) -> Option<&StatementBalance> {
        self.opening_index()
            .and_then(|index| self.balances.get(index))
    }

    /// The booked balance the statement ends with: `CLBD`; on a page before the last, else
    /// its last `ITBD` (other than the one it opens with).
    pub fn closing_balance(&self) -> Option<&StatementBalance> {
        self.closing_index()
            .and_then(|index| self.balances.get(index))
    }

    /// The sum of the booked entries (credits less debits); pending and information entries
    /// do not count.
    pub fn booked_total(&self) -> Result<Money, MoneyError> {
        self.entries
            .iter()
            .filter(|entry| entry.status == EntryStatus::Booked)
            .try_fold(Money::zero(self.currency), |sum, entry| {
                sum.checked_add(entry.amount)
            })
    }
}

/// A money fault while checking a whole statement: a currency mismatch as such, any other
/// as an invalid amount.
fn statement_money_error(statement: &str, reason: MoneyError) -> CamtError {
    match reason {
        MoneyError::CurrencyMismatch { left, right } => CamtError::CurrencyMismatch {
            statement: statement.to_owned(),
            expected: left,
            found: right,
        },
        reason => CamtError::AmountInvalid {
            statement: statement.to_owned(),
            reason,
        },
    }
}

/// The opening balance plus the booked entries must be the closing balance.
pub(super) fn check_balances(statement: &BankStatement) -> Result<(), CamtError> {
    let shown = fragment(&statement.id, 35);
    let missing = |balance| CamtError::MissingBalance {
        statement: shown.clone(),
        balance,
    };
    let opening = statement
        .opening_balance()
        .ok_or_else(|| missing("opening"))?;
    let closing = statement
        .closing_balance()
        .ok_or_else(|| missing("closing"))?;
    let found = statement
        .booked_total()
        .and_then(|total| opening.amount.checked_add(total))
        .map_err(|reason| statement_money_error(&shown, reason))?;
    if found.currency() != closing.amount.currency() {
        return Err(statement_money_error(
            &shown,
            MoneyError::CurrencyMismatch {
                left: found.currency(),
                right: closing.amount.currency(),
            },
        ));
    }
    if found != closing.amount {
        return Err(CamtError::DoesNotBalance {
            statement: shown,
            expected: closing.amount,
            found,
        });
    }
    Ok(())
}

/// Pages 1 to N, each once, the last saying so and no other.
fn check_numbers(pages: &[BankStatement], shown: &str) -> Result<(), CamtError> {
    let mut seen = BTreeSet::new();
    for page in pages {
        let number = page.page.unwrap_or(0);
        if !seen.insert(number) {
            return Err(CamtError::PageDuplicate {
                statement: shown.to_owned(),
                page: number,
            });
        }
    }
    if let Some(missing) = (1_u32..)
        .zip(&seen)
        .find_map(|(expected, number)| (expected != *number).then_some(expected))
    {
        return Err(CamtError::PagesIncomplete {
            statement: shown.to_owned(),
            missing,
        });
    }
    let highest = seen.last().copied().unwrap_or(0);
    let last_pages: Vec<u32> = pages
        .iter()
        .filter(|page| page.last_page == Some(true))
        .filter_map(|page| page.page)
        .collect();
    match last_pages.as_slice() {
        [] => Err(CamtError::PagesIncomplete {
            statement: shown.to_owned(),
            missing: highest.saturating_add(1),
        }),
        [last] if *last == highest => Ok(()),
        _ => Err(CamtError::PagesInconsistent {
            statement: shown.to_owned(),
            reason: "a page other than the highest says it is the last",
        }),
    }
}

/// Pages in page order: numbered well, in one currency, each adding up, and each opening
/// where the one before closes.
fn check_pages(pages: &[BankStatement], shown: &str) -> Result<(), CamtError> {
    check_numbers(pages, shown)?;
    let mut previous: Option<&BankStatement> = None;
    for page in pages {
        if let Some(before) = previous
            && before.currency != page.currency
        {
            return Err(CamtError::CurrencyMismatch {
                statement: shown.to_owned(),
                expected: before.currency,
                found: page.currency,
            });
        }
        check_balances(page)?;
        if let Some(before) = previous {
            let closed = before.closing_balance().map(|balance| balance.amount);
            let opened = page.opening_balance().map(|balance| balance.amount);
            if closed != opened {
                return Err(CamtError::PagesInconsistent {
                    statement: shown.to_owned(),
                    reason: "a page does not open at the balance the page before closes at",
                });
            }
        }
        previous = Some(page);
    }
    Ok(())
}

/// Joins one statement's pages (see [`super::join_pages`]), or checks and passes through a
/// statement that is not paginated or has one page.
pub(super) fn join_group(mut group: Vec<BankStatement>) -> Result<BankStatement, CamtError> {
    group.sort_by_key(|page| page.page);
    let shown = group
        .first()
        .map(|first| fragment(&first.id, 35))
        .unwrap_or_default();
    let unpaginated = group.first().is_some_and(|first| first.page.is_none());
    if unpaginated {
        for statement in &group {
            check_balances(statement)?;
        }
    } else {
        check_pages(&group, &shown)?;
    }
    let mut pages = group.into_iter();
    let mut joined = pages
        .next()
        .ok_or_else(|| malformed("a statement without pages"))?;
    if unpaginated || joined.last_page == Some(true) {
        return Ok(joined);
    }
    joined.balances.retain(|balance| balance.kind.is_opening());
    let mut closing = Vec::new();
    for page in pages {
        joined.entries.extend(page.entries);
        closing = page.balances;
    }
    joined.balances.extend(
        closing
            .into_iter()
            .filter(|balance| !balance.kind.is_opening() && !balance.kind.is_interim()),
    );
    joined.page = None;
    joined.last_page = None;
    check_balances(&joined)?;
    Ok(joined)
}
