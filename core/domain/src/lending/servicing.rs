//! Servicing loans: reading a loan as the ledger has it, withholding from settlements,
//! minimum payments at each due date, charge-off, early repayment.
//!
//! The ledger says how much of a loan is repaid (its receivable and unearned fee); the
//! store keeps the rest of its state (interval, arrears, past due, closed) and is written
//! after the ledger, over the loan as it was read. A step lost between the two is found
//! again on the next look: the stored loan, caught up with the ledger, is the loan.

use bazaar_ledger::{LedgerHistory, LedgerStore, Timestamp};
use bazaar_money::Money;

use super::{
    Lending, LendingError, LendingStore, Loan, LoanError, LoanEvent, LoanId, LoanState, RepaidFrom,
    charge_off_legs, is_open, repayment_legs, unavailable,
};
use crate::chart::{ChartAccount, SellerId};
use crate::events::EventType;
use crate::fx::calendar::Date;
use crate::payouts::{PayoutStoreError, PayoutsError, Withholding};
use crate::postings::Leg;

/// The most due dates one look closes: a loan not looked at for a year catches up in one.
const DUE_DATES_PER_LOOK: usize = 8;

/// What one look at a loan did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Tended {
    /// Due dates closed.
    pub due_dates: u32,
    /// Whether the loan was charged off.
    pub charged_off: bool,
    /// Whether the store was updated.
    pub saved: bool,
}

/// What one servicing run did.
#[derive(Debug, Default)]
pub struct LendingRun {
    /// Loans looked at.
    pub looked: u32,
    /// Due dates closed.
    pub due_dates: u32,
    /// Loans charged off.
    pub charged_off: u32,
    /// Loans whose look failed, with why; looked at again on the next run.
    pub failed: Vec<(LoanId, LendingError)>,
}

/// The events of a repayment of `amount` that left `loan` as it is: the repayment (keyed by
/// what was repaid after it, so each is written once), and the payoff when nothing remains.
pub fn paid_events(loan: &Loan, amount: Money) -> Vec<LoanEvent> {
    let mut events = Vec::new();
    if amount.is_positive() {
        events.push(LoanEvent {
            event_type: EventType::LoanRepayment,
            key: loan
                .paid()
                .map_or_else(|_| String::new(), |paid| paid.minor().to_string()),
            amount: Some(amount),
        });
    }
    if matches!(loan.state, LoanState::PaidOff { .. }) {
        events.push(LoanEvent::once(EventType::LoanPaidOff));
    }
    events
}

fn ledger_failed(error: LendingError) -> PayoutsError {
    match error {
        LendingError::LedgerUnavailable | LendingError::Store(_) => {
            PayoutsError::Store(PayoutStoreError::Unavailable)
        }
        _ => PayoutsError::Store(PayoutStoreError::Internal),
    }
}

impl<S: LendingStore, L: LedgerStore + LedgerHistory> Lending<S, L> {
    /// The balance of `account` from its normal side; zero when it was never opened.
    async fn balance(&self, account: ChartAccount, loan: &Loan) -> Result<Money, LendingError> {
        let currency = loan.advance.currency();
        let balance = self
            .ledger
            .account(account.id(currency))
            .await
            .map_err(unavailable)?
            .map(|(_, balance)| balance.posted_net(account.normal_side()))
            .unwrap_or(0);
        let minor = i64::try_from(balance).map_err(|_| LoanError::Amount)?;
        Ok(Money::from_minor(minor, currency))
    }

    /// The stored `loan` brought up to date with what the ledger shows repaid.
    pub async fn current(&self, loan: Loan, today: Date) -> Result<Loan, LendingError> {
        if !is_open(&loan) {
            return Ok(loan);
        }
        let owed = self
            .balance(ChartAccount::LoansReceivable(loan.id), &loan)
            .await?;
        let fee_owed = self
            .balance(ChartAccount::LoanFeesUnearned(loan.id), &loan)
            .await?;
        Ok(loan.caught_up(owed, fee_owed, today)?)
    }

    /// The seller's open loan in `currency`, as the ledger has it.
    async fn open_loan(
        &self,
        seller: SellerId,
        net: Money,
        day: Date,
    ) -> Result<Option<Loan>, LendingError> {
        for loan in self.store.loans_of(seller).await? {
            if is_open(&loan) && loan.advance.currency() == net.currency() {
                return Ok(Some(self.current(loan, day).await?));
            }
        }
        Ok(None)
    }

    /// The seller's available balance in the loan's currency: what a due date or an early
    /// repayment may take.
    async fn available(&self, loan: &Loan) -> Result<Money, LendingError> {
        let currency = loan.advance.currency();
        let available = self
            .ledger
            .account(ChartAccount::SellerAvailable(loan.seller).id(currency))
            .await
            .map_err(unavailable)?
            .map(|(_, balance)| balance.available_credit())
            .unwrap_or(0);
        let minor = i64::try_from(available.max(0)).map_err(|_| LoanError::Amount)?;
        Ok(Money::from_minor(minor, currency))
    }

    /// Saves `after` over `before` with its events; `false` when another worker moved the
    /// loan first (the next look catches up).
    async fn save(
        &self,
        before: &Loan,
        after: &Loan,
        events: &[LoanEvent],
        now: Timestamp,
    ) -> Result<bool, LendingError> {
        Ok(self.store.save_loan(before, after, events, now).await?)
    }

    /// One look at a loan on `today`: repayments the store has not seen recorded, each
    /// due date reached closed (the shortfall collected from the available balance, the
    /// loan past due for what it could not collect), a loan past due long enough charged
    /// off, a charge-off the ledger has not seen posted. Safe to repeat and to run from
    /// several workers at once.
    pub async fn tend(
        &self,
        stored: Loan,
        today: Date,
        now: Timestamp,
    ) -> Result<Tended, LendingError> {
        let mut tended = Tended::default();
        if let LoanState::ChargedOff { .. } = stored.state {
            self.post_charge_off(&stored).await?;
            return Ok(tended);
        }
        if !is_open(&stored) {
            return Ok(tended);
        }
        let mut loan = self.current(stored, today).await?;
        let mut events = paid_events(&loan, loan.paid()?.checked_sub(stored.paid()?)?);
        for _ in 0..DUE_DATES_PER_LOOK {
            match loan.due_on() {
                Some(due) if due <= today && is_open(&loan) => {}
                _ => break,
            }
            let paid_before = loan.paid()?.minor();
            let was_past_due = matches!(loan.state, LoanState::PastDue { .. });
            let outcome = loan.close_interval(today, self.available(&loan).await?)?;
            let key = format!("due:{}:{paid_before}", loan.interval_start);
            let legs = repayment_legs(&loan, outcome.collected, RepaidFrom::Balance)?;
            self.post(loan.id, &key, &legs).await?;
            events.extend(paid_events(&loan, outcome.collected.total()?));
            if !was_past_due && matches!(loan.state, LoanState::PastDue { .. }) {
                events.push(LoanEvent {
                    key: loan.interval_start.to_string(),
                    amount: Some(outcome.unpaid),
                    ..LoanEvent::once(EventType::LoanPastDue)
                });
            }
            tended.due_dates = tended.due_dates.saturating_add(1);
        }
        if loan
            .charge_off(today, self.policy.charge_off_after_days)
            .is_ok()
        {
            // Saved before it is posted: withholding stops first, and a charge-off saved
            // but not posted is posted on the next look.
            events.push(LoanEvent {
                amount: Some(loan.written_off),
                ..LoanEvent::once(EventType::LoanChargedOff)
            });
            tended.charged_off = true;
        }
        if loan != stored {
            tended.saved = self.save(&stored, &loan, &events, now).await?;
            if tended.saved && tended.charged_off {
                self.post_charge_off(&loan).await?;
            }
        }
        Ok(tended)
    }

    /// Posts a charged-off loan's write-off of what its receivable still holds; nothing when
    /// it is cleared already.
    async fn post_charge_off(&self, loan: &Loan) -> Result<(), LendingError> {
        let owed = self
            .balance(ChartAccount::LoansReceivable(loan.id), loan)
            .await?;
        if !owed.is_positive() {
            return Ok(());
        }
        let fee_owed = self
            .balance(ChartAccount::LoanFeesUnearned(loan.id), loan)
            .await?;
        // The write-off of the receivable as the ledger holds it now.
        let mut cleared = *loan;
        cleared.paid_fee = loan.fee.checked_sub(fee_owed)?;
        cleared.paid_advance = loan
            .total()?
            .checked_sub(owed)?
            .checked_sub(cleared.paid_fee)?;
        let key = format!("charge_off:{}", owed.minor());
        self.post(loan.id, &key, &charge_off_legs(&cleared)?).await
    }

    /// Repays the seller's loan in full from its available balance, with no penalty.
    pub async fn repay(
        &self,
        seller: SellerId,
        id: LoanId,
        today: Date,
        now: Timestamp,
    ) -> Result<Loan, LendingError> {
        let stored = self
            .store
            .loans_of(seller)
            .await?
            .into_iter()
            .find(|loan| loan.id == id)
            .ok_or(LendingError::NotFound)?;
        let before = self.current(stored, today).await?;
        let mut loan = before;
        let paid_before = before.paid()?.minor();
        let repaid = loan.repay_in_full(self.available(&before).await?, today)?;
        let legs = repayment_legs(&before, repaid, RepaidFrom::Balance)?;
        self.post(id, &format!("repay:{paid_before}"), &legs)
            .await?;
        let events = paid_events(&loan, loan.paid()?.checked_sub(stored.paid()?)?);
        self.save(&stored, &loan, &events, now).await?;
        Ok(loan)
    }

    /// Tends every loan on `today`, `batch` a page: the daily servicing run. A loan whose
    /// look failed is reported (for the caller to log) and looked at again on the next run.
    pub async fn run(
        &self,
        batch: u32,
        today: Date,
        now: Timestamp,
    ) -> Result<LendingRun, LendingError> {
        let mut report = LendingRun::default();
        let mut after = None;
        loop {
            let page = self.store.loans(after, batch.max(1)).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            for loan in page {
                report.looked = report.looked.saturating_add(1);
                match self.tend(loan, today, now).await {
                    Ok(tended) => {
                        report.due_dates = report.due_dates.saturating_add(tended.due_dates);
                        report.charged_off = report
                            .charged_off
                            .saturating_add(u32::from(tended.charged_off));
                    }
                    Err(error) => report.failed.push((loan.id, error)),
                }
            }
        }
        Ok(report)
    }
}

impl<S: LendingStore, L: LedgerStore + LedgerHistory> Withholding for Lending<S, L> {
    /// The open loan's share of `net`: `round_half_up(net x rate)`, at most what remains,
    /// its fee part earned in the same batch.
    async fn withhold(
        &self,
        seller: SellerId,
        net: Money,
        day: Date,
    ) -> Result<Vec<Leg>, PayoutsError> {
        let Some(before) = self
            .open_loan(seller, net, day)
            .await
            .map_err(ledger_failed)?
        else {
            return Ok(Vec::new());
        };
        let mut loan = before;
        let repaid = loan
            .withhold(net, day)
            .map_err(|error| ledger_failed(error.into()))?;
        if !repaid.total().is_ok_and(|total| total.is_positive()) {
            return Ok(Vec::new());
        }
        repayment_legs(&before, repaid, RepaidFrom::Settlement)
            .map_err(|error| ledger_failed(error.into()))
    }
}
