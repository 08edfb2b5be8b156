//! A payout's life: its states, the events that move it, why a payout fails, and what each
//! move asks of the ledger.
//!
//! The money side: opening a payout posts a pending transfer of its amount from the seller's
//! available balance to `payouts_in_transit` ([`LedgerChange::PostPending`]). When the rail
//! confirms it, the pending transfer is posted ([`LedgerChange::PostPaid`]); when it fails or
//! is canceled first, the pending transfer is voided ([`LedgerChange::VoidPending`]) and the
//! money is available again; when a paid payout comes back, the posted transfer is reversed
//! ([`LedgerChange::ReversePaid`]). So a payout that ends failed, canceled or returned leaves
//! nothing moved, and a paid one has moved exactly its amount.

use std::fmt;

use bazaar_ledger::Timestamp;

use super::PayoutError;
use super::rails::Rail;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Why a rail or bank failed or returned a payout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FailureCode {
    /// The account is closed.
    AccountClosed,
    /// The account is frozen.
    AccountFrozen,
    /// The account has restrictions on the payouts it takes.
    BankAccountRestricted,
    /// The account's owner changed.
    BankOwnershipChanged,
    /// The bank could not process the payout; worth another try.
    CouldNotProcess,
    /// The bank refused a debit it was not authorised for.
    DebitNotAuthorized,
    /// The bank declined the payout.
    Declined,
    /// The platform's balance at the rail did not cover the payout; worth another try once
    /// it does.
    InsufficientFunds,
    /// The account number is not valid at the bank.
    InvalidAccountNumber,
    /// The account holder's name does not match the account.
    IncorrectAccountHolderName,
    /// The account holder's address does not match the account.
    IncorrectAccountHolderAddress,
    /// The account holder's tax id does not match the account.
    IncorrectAccountHolderTaxId,
    /// The account cannot receive the payout's currency.
    InvalidCurrency,
    /// No account with these details exists.
    NoAccount,
    /// The card or account type does not take payouts.
    UnsupportedCard,
}

/// What to do after a failure or a return.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FailureAction {
    /// The cause is on the rail's or the platform's side: try again later with the same bank
    /// details.
    Retry,
    /// The bank details are wrong or the account cannot take payouts: mark them errored and
    /// pause the seller's schedule until the seller changes them.
    MarkBankAccountErrored,
}

impl FailureCode {
    /// Every failure code.
    pub const ALL: [Self; 15] = [
        Self::AccountClosed,
        Self::AccountFrozen,
        Self::BankAccountRestricted,
        Self::BankOwnershipChanged,
        Self::CouldNotProcess,
        Self::DebitNotAuthorized,
        Self::Declined,
        Self::InsufficientFunds,
        Self::InvalidAccountNumber,
        Self::IncorrectAccountHolderName,
        Self::IncorrectAccountHolderAddress,
        Self::IncorrectAccountHolderTaxId,
        Self::InvalidCurrency,
        Self::NoAccount,
        Self::UnsupportedCard,
    ];

    /// The stored name, e.g. `account_closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountClosed => "account_closed",
            Self::AccountFrozen => "account_frozen",
            Self::BankAccountRestricted => "bank_account_restricted",
            Self::BankOwnershipChanged => "bank_ownership_changed",
            Self::CouldNotProcess => "could_not_process",
            Self::DebitNotAuthorized => "debit_not_authorized",
            Self::Declined => "declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::InvalidAccountNumber => "invalid_account_number",
            Self::IncorrectAccountHolderName => "incorrect_account_holder_name",
            Self::IncorrectAccountHolderAddress => "incorrect_account_holder_address",
            Self::IncorrectAccountHolderTaxId => "incorrect_account_holder_tax_id",
            Self::InvalidCurrency => "invalid_currency",
            Self::NoAccount => "no_account",
            Self::UnsupportedCard => "unsupported_card",
        }
    }

    /// The code [`as_str`](Self::as_str) names; `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    /// What to do about it: retry for the two causes outside the seller's bank details
    /// (`could_not_process`, `insufficient_funds`); for every other code the details need the
    /// seller's attention.
    pub fn action(self) -> FailureAction {
        match self {
            Self::CouldNotProcess | Self::InsufficientFunds => FailureAction::Retry,
            _ => FailureAction::MarkBankAccountErrored,
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a payout stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PayoutState {
    /// Created, its amount held by a pending ledger transfer; not yet handed to the rail.
    Pending,
    /// Handed to the rail; not yet confirmed.
    InTransit,
    /// The rail confirmed it; may still be returned within the rail's return window.
    Paid {
        /// When it was confirmed; the return window counts from here.
        paid_at: Timestamp,
    },
    /// The rail or the bank refused it before it was paid. Final.
    Failed(FailureCode),
    /// Canceled before it was handed to the rail. Final.
    Canceled,
    /// Paid, then sent back by the recipient's bank. Final.
    Returned(FailureCode),
}

impl PayoutState {
    /// The stored name: `pending`, `in_transit`, `paid`, `failed`, `canceled`, `returned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InTransit => "in_transit",
            Self::Paid { .. } => "paid",
            Self::Failed(_) => "failed",
            Self::Canceled => "canceled",
            Self::Returned(_) => "returned",
        }
    }

    /// Whether no event moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Failed(_) | Self::Canceled | Self::Returned(_))
    }
}

/// What happened to a payout.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PayoutEvent {
    /// It was handed to the rail.
    Submitted,
    /// It was canceled (by the seller or the platform) before being handed to the rail.
    Canceled,
    /// The rail or the bank refused it.
    Failed(FailureCode),
    /// The rail confirmed it arrived.
    Paid,
    /// The recipient's bank sent it back after it was paid.
    Returned(FailureCode),
}

impl PayoutEvent {
    /// Its name, e.g. `submitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Canceled => "canceled",
            Self::Failed(_) => "failed",
            Self::Paid => "paid",
            Self::Returned(_) => "returned",
        }
    }
}

/// What the ledger must do for a move.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LedgerChange {
    /// Post a pending transfer of the amount from the seller's available balance to
    /// `payouts_in_transit`.
    PostPending,
    /// Nothing: the money stays where it is.
    Nothing,
    /// Post (settle) the pending transfer in full.
    PostPaid,
    /// Void the pending transfer: the amount is available to the seller again.
    VoidPending,
    /// Reverse the posted transfer: the amount goes back to the seller's available balance.
    ReversePaid,
}

impl LedgerChange {
    /// The stored name of a change that posts something; `None` for [`Self::Nothing`].
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::PostPending => Some("post_pending"),
            Self::Nothing => None,
            Self::PostPaid => Some("post_paid"),
            Self::VoidPending => Some("void_pending"),
            Self::ReversePaid => Some("reverse_paid"),
        }
    }

    /// The change [`as_str`](Self::as_str) names.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::PostPending,
            Self::PostPaid,
            Self::VoidPending,
            Self::ReversePaid,
        ]
        .into_iter()
        .find(|change| change.as_str() == Some(name))
    }
}

/// A move the rules allow: the state after it, what the ledger must do, and what to do
/// about the bank details when it is a failure or a return.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Change {
    /// The payout's state after the move.
    pub state: PayoutState,
    /// What the ledger must do.
    pub ledger: LedgerChange,
    /// For a failure or a return, what to do next ([`FailureCode::action`]).
    pub follow_up: Option<FailureAction>,
}

/// Opening a payout: it starts [`PayoutState::Pending`] and its amount is held by a pending
/// ledger transfer.
pub fn open() -> Change {
    Change {
        state: PayoutState::Pending,
        ledger: LedgerChange::PostPending,
        follow_up: None,
    }
}

/// The move `event` makes from `state` at `now`, on `rail`. Allowed: pending to in transit or
/// canceled or failed, in transit to paid or failed, and paid to returned while `now` is within
/// the rail's return window after `paid_at`. Anything else is refused with
/// [`PayoutError::TransitionNotAllowed`] (or [`PayoutError::ReturnWindowClosed`]), and the
/// payout stays as it was.
pub fn transition(
    state: PayoutState,
    event: PayoutEvent,
    now: Timestamp,
    rail: Rail,
) -> Result<Change, PayoutError> {
    let change = |state, ledger, follow_up| Change {
        state,
        ledger,
        follow_up,
    };
    match (state, event) {
        (PayoutState::Pending, PayoutEvent::Submitted) => {
            Ok(change(PayoutState::InTransit, LedgerChange::Nothing, None))
        }
        (PayoutState::Pending, PayoutEvent::Canceled) => Ok(change(
            PayoutState::Canceled,
            LedgerChange::VoidPending,
            None,
        )),
        (PayoutState::Pending | PayoutState::InTransit, PayoutEvent::Failed(code)) => Ok(change(
            PayoutState::Failed(code),
            LedgerChange::VoidPending,
            Some(code.action()),
        )),
        (PayoutState::InTransit, PayoutEvent::Paid) => Ok(change(
            PayoutState::Paid { paid_at: now },
            LedgerChange::PostPaid,
            None,
        )),
        (PayoutState::Paid { paid_at }, PayoutEvent::Returned(code)) => {
            let days = rail.spec().return_window_days;
            if within_days(paid_at, now, days)? {
                Ok(change(
                    PayoutState::Returned(code),
                    LedgerChange::ReversePaid,
                    Some(code.action()),
                ))
            } else {
                Err(PayoutError::ReturnWindowClosed { rail, days })
            }
        }
        _ => Err(PayoutError::TransitionNotAllowed {
            from: state.as_str(),
            event: event.as_str(),
        }),
    }
}

/// Whether `now` is at most `days` days after `since` (a `now` before `since`, from a clock
/// behind the one that recorded it, counts as within).
fn within_days(since: Timestamp, now: Timestamp, days: u32) -> Result<bool, PayoutError> {
    let window = i64::from(days)
        .checked_mul(MICROS_PER_DAY)
        .ok_or(PayoutError::DateOutOfRange)?;
    let elapsed = now
        .as_micros()
        .checked_sub(since.as_micros())
        .ok_or(PayoutError::DateOutOfRange)?;
    Ok(elapsed <= window)
}
