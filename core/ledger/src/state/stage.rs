//! A batch staged against the state: each request checked and its effects gathered, so
//! that the batch commits whole or not at all.

use super::*;

/// Changes made by a batch that is still being evaluated.
#[derive(Default)]
pub(super) struct Staged {
    pub(super) balances: HashMap<AccountId, Balance>,
    pub(super) pending: HashMap<TransferId, PendingState>,
    pub(super) reversed: HashMap<TransferId, i64>,
    pub(super) transfers: Vec<Transfer>,
    /// The balances of each transfer's accounts right after it, by index.
    pub(super) after: Vec<(Balance, Balance)>,
    pub(super) transfer_index: HashMap<TransferId, usize>,
    pub(super) expirations: Vec<Expiration>,
}

/// A batch in evaluation: reads see the state as changed by the legs before.
pub(super) struct Stage<'a> {
    pub(super) state: &'a LedgerState,
    pub(super) timestamp: Timestamp,
    pub(super) staged: Staged,
}

pub(super) enum Phase {
    Pending,
    Posted,
}

impl<'a> Stage<'a> {
    pub(super) fn new(state: &'a LedgerState, timestamp: Timestamp) -> Self {
        Self {
            state,
            timestamp,
            staged: Staged::default(),
        }
    }

    pub(super) fn finish(self) -> Staged {
        self.staged
    }

    pub(super) fn account(&self, id: AccountId) -> Option<&'a Account> {
        self.state.accounts.get(&id).map(|entry| &entry.account)
    }

    pub(super) fn balance(&self, id: AccountId) -> Balance {
        self.staged
            .balances
            .get(&id)
            .copied()
            .or_else(|| self.state.accounts.get(&id).map(|entry| entry.balance))
            .unwrap_or_default()
    }

    pub(super) fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        match self.staged.transfer_index.get(&id) {
            Some(&index) => self.staged.transfers.get(index),
            None => self.state.transfers.get(&id),
        }
    }

    pub(super) fn pending_state(&self, id: TransferId) -> Option<PendingState> {
        self.staged
            .pending
            .get(&id)
            .copied()
            .or_else(|| self.state.pending.get(&id).copied())
    }

    pub(super) fn reversed_total(&self, id: TransferId) -> i64 {
        self.staged
            .reversed
            .get(&id)
            .copied()
            .unwrap_or_else(|| self.state.reversed_total(id))
    }

    pub(super) fn record(&mut self, transfer: Transfer) {
        let index = self.staged.transfers.len();
        let after = (
            self.balance(transfer.debit_account_id),
            self.balance(transfer.credit_account_id),
        );
        self.staged.transfer_index.insert(transfer.id, index);
        self.staged.transfers.push(transfer);
        self.staged.after.push(after);
    }

    /// Releases an open reservation whose timeout has passed.
    pub(super) fn expire(&mut self, id: TransferId) -> Result<(), TransferError> {
        self.release(id, PendingState::Expired { at: self.timestamp })?;
        let pending = self
            .transfer(id)
            .ok_or(TransferError::PendingTransferNotFound)?;
        let (debit_account_id, credit_account_id) =
            (pending.debit_account_id, pending.credit_account_id);
        let amount = pending.amount.minor();
        let expiration = Expiration {
            pending_id: id,
            debit_account_id,
            credit_account_id,
            amount,
            debit_after: self.balance(debit_account_id),
            credit_after: self.balance(credit_account_id),
        };
        self.staged.expirations.push(expiration);
        Ok(())
    }

    pub(super) fn apply(&mut self, request: &TransferRequest) -> Result<(), TransferError> {
        if !metadata_is_valid(&request.metadata) {
            return Err(TransferError::MetadataInvalid);
        }
        let id = request.id;
        let timestamp = self.timestamp;
        let transfer = |kind, debit_account_id, credit_account_id, amount| Transfer {
            id,
            kind,
            debit_account_id,
            credit_account_id,
            amount,
            timestamp,
            metadata: request.metadata.clone(),
        };
        match request.kind {
            RequestKind::Direct {
                debit_account_id,
                credit_account_id,
                amount,
            } => {
                self.move_funds(debit_account_id, credit_account_id, amount, Phase::Posted)?;
                self.record(transfer(
                    TransferKind::Direct,
                    debit_account_id,
                    credit_account_id,
                    amount,
                ));
            }
            RequestKind::Pending {
                debit_account_id,
                credit_account_id,
                amount,
                timeout_secs,
            } => {
                if timeout_secs == 0 {
                    return Err(TransferError::TimeoutMustBePositive);
                }
                if timeout_secs > PENDING_TIMEOUT_SECS_MAX {
                    return Err(TransferError::TimeoutExceedsMaximum);
                }
                self.move_funds(debit_account_id, credit_account_id, amount, Phase::Pending)?;
                self.record(transfer(
                    TransferKind::Pending { timeout_secs },
                    debit_account_id,
                    credit_account_id,
                    amount,
                ));
                self.staged.pending.insert(id, PendingState::Open);
            }
            RequestKind::PostPending { pending_id, amount } => {
                let pending = self.postable(pending_id, amount)?;
                let (debit, credit) = (pending.debit_account_id, pending.credit_account_id);
                self.settle(&pending, amount.minor())?;
                self.staged.pending.insert(
                    pending_id,
                    PendingState::Posted {
                        by: id,
                        amount: amount.minor(),
                    },
                );
                self.record(transfer(
                    TransferKind::PostPending { pending_id },
                    debit,
                    credit,
                    amount,
                ));
            }
            RequestKind::VoidPending { pending_id } => {
                let pending = self.open_pending(pending_id)?;
                self.release(pending_id, PendingState::Voided { by: id })?;
                self.record(transfer(
                    TransferKind::VoidPending { pending_id },
                    pending.debit_account_id,
                    pending.credit_account_id,
                    pending.amount,
                ));
            }
            RequestKind::Reverse {
                original_id,
                amount,
            } => {
                let (original, reversed) = self.reversible(original_id, amount)?;
                // The reversal moves money back: the original's credit account pays.
                let (debit, credit) = (original.credit_account_id, original.debit_account_id);
                self.move_funds(debit, credit, amount, Phase::Posted)?;
                let total = reversed.saturating_add(amount.minor());
                self.staged.reversed.insert(original_id, total);
                self.record(transfer(
                    TransferKind::Reversal { original_id },
                    debit,
                    credit,
                    amount,
                ));
            }
        }
        Ok(())
    }

    /// The open pending transfer `amount` may post: positive, in its currency, at most its
    /// amount.
    pub(super) fn postable(
        &self,
        pending_id: TransferId,
        amount: Money,
    ) -> Result<Transfer, TransferError> {
        if !amount.is_positive() {
            return Err(TransferError::AmountMustBePositive);
        }
        let pending = self.open_pending(pending_id)?;
        if amount.currency() != pending.amount.currency() {
            return Err(TransferError::ReferencedTransferCurrencyMismatch);
        }
        if amount.minor() > pending.amount.minor() {
            return Err(TransferError::ExceedsPendingTransferAmount);
        }
        Ok(pending)
    }

    /// The posted transfer `amount` may reverse, with what was reversed of it before:
    /// positive, in its currency, at most what remains of its posted amount.
    pub(super) fn reversible(
        &self,
        original_id: TransferId,
        amount: Money,
    ) -> Result<(Transfer, i64), TransferError> {
        if !amount.is_positive() {
            return Err(TransferError::AmountMustBePositive);
        }
        let original = self
            .transfer(original_id)
            .cloned()
            .ok_or(TransferError::OriginalTransferNotFound)?;
        if original.posted_amount() == 0 {
            return Err(TransferError::OriginalTransferNotReversible);
        }
        if amount.currency() != original.amount.currency() {
            return Err(TransferError::ReferencedTransferCurrencyMismatch);
        }
        let reversed = self.reversed_total(original_id);
        let remaining = original.posted_amount().saturating_sub(reversed);
        if amount.minor() > remaining {
            return Err(TransferError::ExceedsReversibleAmount);
        }
        Ok((original, reversed))
    }

    /// Adds `amount` to the debit and credit account, as a reservation or posted.
    pub(super) fn move_funds(
        &mut self,
        debit_id: AccountId,
        credit_id: AccountId,
        amount: Money,
        phase: Phase,
    ) -> Result<(), TransferError> {
        if !amount.is_positive() {
            return Err(TransferError::AmountMustBePositive);
        }
        if debit_id == credit_id {
            return Err(TransferError::AccountsMustBeDifferent);
        }
        let debit_account = self
            .account(debit_id)
            .ok_or(TransferError::DebitAccountNotFound)?;
        let credit_account = self
            .account(credit_id)
            .ok_or(TransferError::CreditAccountNotFound)?;
        if debit_account.currency != amount.currency() {
            return Err(TransferError::DebitAccountCurrencyMismatch);
        }
        if credit_account.currency != amount.currency() {
            return Err(TransferError::CreditAccountCurrencyMismatch);
        }
        let minor = amount.minor();
        let mut debit = self.balance(debit_id);
        let mut credit = self.balance(credit_id);
        match phase {
            Phase::Pending => {
                debit.debits_pending = add(
                    debit.debits_pending,
                    minor,
                    TransferError::OverflowsDebitsPending,
                )?;
                credit.credits_pending = add(
                    credit.credits_pending,
                    minor,
                    TransferError::OverflowsCreditsPending,
                )?;
            }
            Phase::Posted => {
                debit.debits_posted = add(
                    debit.debits_posted,
                    minor,
                    TransferError::OverflowsDebitsPosted,
                )?;
                credit.credits_posted = add(
                    credit.credits_posted,
                    minor,
                    TransferError::OverflowsCreditsPosted,
                )?;
            }
        }
        self.stage_balances(debit_account, debit, credit_account, credit)
    }

    /// Checks both accounts' constraints and stages their new balances.
    pub(super) fn stage_balances(
        &mut self,
        debit_account: &Account,
        debit: Balance,
        credit_account: &Account,
        credit: Balance,
    ) -> Result<(), TransferError> {
        if !debit_account.allows(&debit) {
            return Err(TransferError::ExceedsCredits);
        }
        if !credit_account.allows(&credit) {
            return Err(TransferError::ExceedsDebits);
        }
        self.staged.balances.insert(debit_account.id, debit);
        self.staged.balances.insert(credit_account.id, credit);
        Ok(())
    }

    /// The pending transfer `id`, if it can still be posted or voided now.
    pub(super) fn open_pending(&self, id: TransferId) -> Result<Transfer, TransferError> {
        let pending = self
            .transfer(id)
            .ok_or(TransferError::PendingTransferNotFound)?;
        let expires_at = pending
            .expires_at()
            .ok_or(TransferError::PendingTransferNotPending)?;
        match self.pending_state(id) {
            Some(PendingState::Open) if expires_at <= self.timestamp => {
                Err(TransferError::PendingTransferExpired)
            }
            Some(PendingState::Open) => Ok(pending.clone()),
            Some(PendingState::Posted { .. }) => Err(TransferError::PendingTransferAlreadyPosted),
            Some(PendingState::Voided { .. }) => Err(TransferError::PendingTransferAlreadyVoided),
            Some(PendingState::Expired { .. }) => Err(TransferError::PendingTransferExpired),
            // A pending transfer without a state cannot be resolved safely.
            None => Err(TransferError::PendingTransferNotPending),
        }
    }

    /// Moves an open reservation into posted balances: `posted` of it, releasing the rest.
    pub(super) fn settle(&mut self, pending: &Transfer, posted: i64) -> Result<(), TransferError> {
        let (debit_account, credit_account) = self.accounts_of(pending)?;
        let reserved = pending.amount.minor();
        let mut debit = self.balance(pending.debit_account_id);
        let mut credit = self.balance(pending.credit_account_id);
        debit.debits_pending = sub(
            debit.debits_pending,
            reserved,
            TransferError::OverflowsDebitsPending,
        )?;
        debit.debits_posted = add(
            debit.debits_posted,
            posted,
            TransferError::OverflowsDebitsPosted,
        )?;
        credit.credits_pending = sub(
            credit.credits_pending,
            reserved,
            TransferError::OverflowsCreditsPending,
        )?;
        credit.credits_posted = add(
            credit.credits_posted,
            posted,
            TransferError::OverflowsCreditsPosted,
        )?;
        self.stage_balances(debit_account, debit, credit_account, credit)
    }

    /// Releases an open reservation entirely and gives the pending transfer its final state.
    pub(super) fn release(
        &mut self,
        id: TransferId,
        state: PendingState,
    ) -> Result<(), TransferError> {
        let pending = self
            .transfer(id)
            .cloned()
            .ok_or(TransferError::PendingTransferNotFound)?;
        let (debit_account, credit_account) = self.accounts_of(&pending)?;
        let reserved = pending.amount.minor();
        let mut debit = self.balance(pending.debit_account_id);
        let mut credit = self.balance(pending.credit_account_id);
        debit.debits_pending = sub(
            debit.debits_pending,
            reserved,
            TransferError::OverflowsDebitsPending,
        )?;
        credit.credits_pending = sub(
            credit.credits_pending,
            reserved,
            TransferError::OverflowsCreditsPending,
        )?;
        self.stage_balances(debit_account, debit, credit_account, credit)?;
        self.staged.pending.insert(id, state);
        Ok(())
    }

    pub(super) fn accounts_of(
        &self,
        transfer: &Transfer,
    ) -> Result<(&'a Account, &'a Account), TransferError> {
        let debit = self
            .account(transfer.debit_account_id)
            .ok_or(TransferError::DebitAccountNotFound)?;
        let credit = self
            .account(transfer.credit_account_id)
            .ok_or(TransferError::CreditAccountNotFound)?;
        Ok((debit, credit))
    }
}

pub(super) fn add(sum: i64, amount: i64, overflow: TransferError) -> Result<i64, TransferError> {
    sum.checked_add(amount).ok_or(overflow)
}

/// Takes a reservation back out of a pending sum. A sum can never hold less than an open
/// reservation it contains; if it somehow does, the operation is refused rather than
/// letting the sum go negative.
pub(super) fn sub(sum: i64, amount: i64, error: TransferError) -> Result<i64, TransferError> {
    match sum.checked_sub(amount) {
        Some(rest) if rest >= 0 => Ok(rest),
        _ => Err(error),
    }
}
