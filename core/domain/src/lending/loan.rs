//! A loan's life: withholding from settled sales, minimum payments every 60 days, arrears and
//! past due, charge-off, early repayment, payoff. Each step returns what moved, for the
//! postings; the loan keeps `paid + remaining == advance + fee` after every step.

use bazaar_money::{Money, MoneyError};

use super::{INTERVAL_DAYS, LoanId, Offer};
use crate::catalog::BasisPoints;
use crate::chart::SellerId;
use crate::fx::calendar::Date;
use crate::postings::prorate;

/// Where a loan stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LoanState {
    /// Repaying, nothing overdue.
    Active,
    /// A minimum was not met at its due date and is still unpaid.
    PastDue {
        /// The due date it was missed on.
        since: Date,
    },
    /// Written off after being past due too long; nothing more is withheld.
    ChargedOff {
        /// The day.
        on: Date,
    },
    /// Advance and fee repaid.
    PaidOff {
        /// The day.
        on: Date,
    },
}

impl LoanState {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PastDue { .. } => "past_due",
            Self::ChargedOff { .. } => "charged_off",
            Self::PaidOff { .. } => "paid_off",
        }
    }
}

/// Why a loan step was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LoanError {
    /// The loan is paid off or charged off.
    #[error("the loan is closed")]
    Closed,
    /// The seller's balance does not cover what is asked.
    #[error("the balance does not cover the repayment")]
    InsufficientBalance,
    /// The interval has not ended yet.
    #[error("no minimum payment is due yet")]
    NotDue,
    /// The loan is not past due long enough to be charged off.
    #[error("the loan is not past due long enough to be charged off")]
    NotChargeable,
    /// An amount in another currency, or one that overflowed.
    #[error("an amount is out of range or in another currency")]
    Amount,
}

impl LoanError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Closed => "loan_closed",
            Self::InsufficientBalance => "insufficient_balance",
            Self::NotDue => "loan_not_due",
            Self::NotChargeable => "loan_not_chargeable",
            Self::Amount => "internal",
        }
    }
}

impl From<MoneyError> for LoanError {
    fn from(_: MoneyError) -> Self {
        Self::Amount
    }
}

/// What one repayment paid, split between the advance and the fee.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Repayment {
    /// Toward the advance (credited to `loans_receivable`).
    pub advance: Money,
    /// Toward the fee (credited to `revenue_loan_fees`).
    pub fee: Money,
}

impl Repayment {
    /// Both parts.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.advance.checked_add(self.fee)
    }
}

/// What a due date did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DueOutcome {
    /// The interval's minimum less what it had paid, at most what remained.
    pub shortfall: Money,
    /// Collected from the seller's balance toward it.
    pub collected: Repayment,
    /// Left unpaid: the loan is past due while any is.
    pub unpaid: Money,
}

/// A loan, from its acceptance on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Loan {
    /// Its id.
    pub id: LoanId,
    /// The borrower.
    pub seller: SellerId,
    /// Paid out on acceptance.
    pub advance: Money,
    /// The flat fee.
    pub fee: Money,
    /// The share withheld from each settled sale.
    pub withhold_rate: BasisPoints,
    /// What each 60-day interval must repay, at least.
    pub minimum: Money,
    /// Repaid toward the advance.
    pub paid_advance: Money,
    /// Repaid toward the fee.
    pub paid_fee: Money,
    /// Where it stands.
    pub state: LoanState,
    /// The first day of the current interval.
    pub interval_start: Date,
    /// Repaid in the current interval.
    pub interval_paid: Money,
    /// Minimums missed and not yet made up.
    pub arrears: Money,
    /// Whether it was ever past due (no refill offer then).
    pub ever_past_due: bool,
    /// What was written off at charge-off (the advance then unpaid).
    pub written_off: Money,
}

impl Loan {
    /// The loan an accepted offer opens, disbursed on `day`.
    pub fn open(id: LoanId, offer: &Offer, day: Date) -> Self {
        let zero = Money::zero(offer.advance.currency());
        Self {
            id,
            seller: offer.seller,
            advance: offer.advance,
            fee: offer.fee,
            withhold_rate: offer.withhold_rate,
            minimum: offer.minimum,
            paid_advance: zero,
            paid_fee: zero,
            state: LoanState::Active,
            interval_start: day,
            interval_paid: zero,
            arrears: zero,
            ever_past_due: false,
            written_off: zero,
        }
    }

    /// Advance plus fee.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.advance.checked_add(self.fee)
    }

    /// Repaid so far.
    pub fn paid(&self) -> Result<Money, MoneyError> {
        self.paid_advance.checked_add(self.paid_fee)
    }

    /// Still owed: advance plus fee less what was repaid (a charged-off loan is still owed;
    /// the ledger wrote its advance off).
    pub fn remaining(&self) -> Result<Money, MoneyError> {
        self.total()?.checked_sub(self.paid()?)
    }

    fn open_for_repayment(&self) -> Result<(), LoanError> {
        match self.state {
            LoanState::Active | LoanState::PastDue { .. } => Ok(()),
            LoanState::ChargedOff { .. } | LoanState::PaidOff { .. } => Err(LoanError::Closed),
        }
    }

    /// Splits `amount` (at most what remains) between advance and fee in proportion to what
    /// remains of each, so the last repayment clears both.
    fn split(&self, amount: Money) -> Result<Repayment, LoanError> {
        let advance_left = self.advance.checked_sub(self.paid_advance)?;
        let fee_left = self.fee.checked_sub(self.paid_fee)?;
        let left = advance_left.checked_add(fee_left)?;
        if amount.minor() > left.minor() || amount.is_negative() {
            return Err(LoanError::Amount);
        }
        let to_fee = if left.is_zero() {
            0
        } else {
            prorate(amount.minor(), fee_left.minor(), left.minor())?.min(fee_left.minor())
        };
        let mut fee = Money::from_minor(to_fee, amount.currency());
        let mut advance = amount.checked_sub(fee)?;
        if advance.minor() > advance_left.minor() {
            advance = advance_left;
            fee = amount.checked_sub(advance)?;
        }
        Ok(Repayment { advance, fee })
    }

    /// Books a repayment: paid totals, arrears made up first (the loan is current again when
    /// they reach zero), the rest toward the interval's minimum, paid off when nothing
    /// remains. Booking two repayments one after the other or their sum at once gives the
    /// same loan.
    fn apply(&mut self, repayment: Repayment, day: Date) -> Result<(), LoanError> {
        let total = repayment.total()?;
        self.paid_advance = self.paid_advance.checked_add(repayment.advance)?;
        self.paid_fee = self.paid_fee.checked_add(repayment.fee)?;
        let made_up = Money::from_minor(total.minor().min(self.arrears.minor()), total.currency());
        self.arrears = self.arrears.checked_sub(made_up)?;
        self.interval_paid = self
            .interval_paid
            .checked_add(total.checked_sub(made_up)?)?;
        if self.remaining()?.is_zero() {
            self.arrears = Money::zero(total.currency());
            self.state = LoanState::PaidOff { on: day };
        } else if self.arrears.is_zero() && matches!(self.state, LoanState::PastDue { .. }) {
            self.state = LoanState::Active;
        }
        Ok(())
    }

    /// The loan as stored, brought up to date with what the ledger shows repaid since it was
    /// stored: `owed` is the balance of its receivable (advance and fee unpaid), `fee_owed`
    /// that of its unearned fee. Repayments the store has not seen are booked as one, which
    /// gives what booking them one by one gives. A closed loan is returned as it is.
    pub fn caught_up(mut self, owed: Money, fee_owed: Money, day: Date) -> Result<Self, LoanError> {
        if self.open_for_repayment().is_err() {
            return Ok(self);
        }
        let paid_fee = self.fee.checked_sub(fee_owed)?;
        let paid = self.total()?.checked_sub(owed)?;
        let repayment = Repayment {
            advance: paid.checked_sub(paid_fee)?.checked_sub(self.paid_advance)?,
            fee: paid_fee.checked_sub(self.paid_fee)?,
        };
        if repayment.advance.is_negative() || repayment.fee.is_negative() {
            // The ledger never un-repays a loan: the store and the ledger disagree.
            return Err(LoanError::Amount);
        }
        if repayment.total()?.is_positive() {
            self.apply(repayment, day)?;
        }
        Ok(self)
    }

    /// Withholds `round_half_up(net x rate)` from a settled sale's `net`, capped at what
    /// remains; nothing from a closed loan.
    pub fn withhold(&mut self, net: Money, day: Date) -> Result<Repayment, LoanError> {
        let zero = Money::zero(self.advance.currency());
        if self.open_for_repayment().is_err() || !net.is_positive() {
            return Ok(Repayment {
                advance: zero,
                fee: zero,
            });
        }
        if net.currency() != self.advance.currency() {
            return Err(LoanError::Amount);
        }
        let wanted = prorate(net.minor(), i64::from(self.withhold_rate.get()), 10_000)?;
        let amount = Money::from_minor(wanted.min(self.remaining()?.minor()), net.currency());
        let repayment = self.split(amount)?;
        self.apply(repayment, day)?;
        Ok(repayment)
    }

    /// The day the current interval's minimum is due.
    pub fn due_on(&self) -> Option<Date> {
        self.interval_start.add_days(INTERVAL_DAYS)
    }

    /// Closes the interval on its due date: the shortfall against the minimum is collected
    /// from the seller's `available` balance as far as it goes; what is left unpaid puts
    /// the loan past due. The next interval starts.
    pub fn close_interval(&mut self, day: Date, available: Money) -> Result<DueOutcome, LoanError> {
        self.open_for_repayment()?;
        let due = self.due_on().ok_or(LoanError::Amount)?;
        if day < due {
            return Err(LoanError::NotDue);
        }
        let short = self
            .minimum
            .minor()
            .saturating_sub(self.interval_paid.minor())
            .max(0)
            .min(self.remaining()?.minor());
        let shortfall = Money::from_minor(short, self.minimum.currency());
        let take = short.min(available.minor().max(0));
        let collected = self.split(Money::from_minor(take, shortfall.currency()))?;
        self.apply(collected, day)?;
        let unpaid = shortfall.checked_sub(collected.total()?)?;
        self.interval_start = due;
        self.interval_paid = Money::zero(shortfall.currency());
        if unpaid.is_positive() {
            self.arrears = self.arrears.checked_add(unpaid)?;
            self.ever_past_due = true;
            if !matches!(self.state, LoanState::PastDue { .. }) {
                self.state = LoanState::PastDue { since: due };
            }
        }
        Ok(DueOutcome {
            shortfall,
            collected,
            unpaid,
        })
    }

    /// Repays everything that remains from the seller's `available` balance, with no penalty.
    pub fn repay_in_full(&mut self, available: Money, day: Date) -> Result<Repayment, LoanError> {
        self.open_for_repayment()?;
        let remaining = self.remaining()?;
        if available.minor() < remaining.minor() {
            return Err(LoanError::InsufficientBalance);
        }
        let repayment = self.split(remaining)?;
        self.apply(repayment, day)?;
        Ok(repayment)
    }

    /// Charges the loan off once it has been past due `after_days` days: the unpaid advance
    /// is written off (returned, for the posting to a loss); withholding stops.
    pub fn charge_off(&mut self, day: Date, after_days: i64) -> Result<Money, LoanError> {
        let LoanState::PastDue { since } = self.state else {
            return Err(LoanError::NotChargeable);
        };
        match since.add_days(after_days) {
            Some(limit) if day >= limit => {}
            _ => return Err(LoanError::NotChargeable),
        }
        let written_off = self.advance.checked_sub(self.paid_advance)?;
        self.written_off = written_off;
        self.state = LoanState::ChargedOff { on: day };
        Ok(written_off)
    }

    /// Whether a new offer may refill this loan: at least 75% repaid, never past due.
    pub fn refill_eligible(&self) -> Result<bool, LoanError> {
        let paid = self.paid()?.minor();
        let three_quarters = prorate(self.total()?.minor(), 3, 4)?;
        Ok(!self.ever_past_due
            && paid >= three_quarters
            && matches!(self.state, LoanState::Active | LoanState::PaidOff { .. }))
    }
}
