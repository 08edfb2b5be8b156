//! The invariants the simulator checks after every step, and the from-scratch replay the
//! history check compares against.

use super::*;

impl Simulator {
    /// Invariants 1 and 2.
    pub(super) fn check_global(&self) -> Result<(), Violation> {
        let mut sums: BTreeMap<Currency, [i128; 4]> = BTreeMap::new();
        for entry in self.ledger.state().accounts() {
            let balance = entry.balance;
            let parts = [
                balance.debits_pending,
                balance.debits_posted,
                balance.credits_pending,
                balance.credits_posted,
            ];
            if parts.iter().any(|part| *part < 0) {
                return Err(self.violation(format!("negative sum in {balance:?}")));
            }
            if !entry.account.allows(&balance) {
                return Err(self.violation(format!(
                    "account {} breaks {:?} with {balance:?}",
                    entry.account.id, entry.account.constraint
                )));
            }
            let sum = sums.entry(entry.account.currency).or_insert([0; 4]);
            for (total, part) in sum.iter_mut().zip(parts) {
                *total = total.saturating_add(i128::from(part));
            }
        }
        for (
            currency,
            [
                debits_pending,
                debits_posted,
                credits_pending,
                credits_posted,
            ],
        ) in sums
        {
            if debits_posted != credits_posted || debits_pending != credits_pending {
                return Err(self.violation(format!(
                    "{currency} does not balance: posted {debits_posted}/{credits_posted}, \
                     pending {debits_pending}/{credits_pending}"
                )));
            }
        }
        Ok(())
    }

    /// Invariant 6.
    pub(super) fn check_immutable(&self) -> Result<(), Violation> {
        for (id, created) in &self.created {
            if self.ledger.transfer(*id) != Some(created) {
                return Err(self.violation(format!("transfer {id} changed after it was stored")));
            }
        }
        Ok(())
    }

    /// Invariant 7: replays the journal from scratch and compares the balance of every
    /// account after each point in time with `balance_at`.
    pub(super) fn check_history(&self) -> Result<(), Violation> {
        let accounts: Vec<_> = self
            .ledger
            .state()
            .accounts()
            .map(|entry| (entry.account.id, entry.account.created_at))
            .collect();
        let mut folded: HashMap<AccountId, Balance> = HashMap::new();
        let mut pendings: HashMap<TransferId, &Transfer> = HashMap::new();
        let journal = self.ledger.journal();
        let compare_at = |at: Timestamp, folded: &HashMap<AccountId, Balance>| {
            for (id, created_at) in &accounts {
                let expected =
                    (*created_at <= at).then(|| folded.get(id).copied().unwrap_or_default());
                let actual = self.ledger.balance_at(*id, at);
                if actual != expected {
                    return Err(self.violation(format!(
                        "balance of {id} at {at}: history says {actual:?}, the journal {expected:?}"
                    )));
                }
            }
            Ok(())
        };
        compare_at(Timestamp::MIN, &folded)?;
        let mut previous: Option<Timestamp> = None;
        for entry in journal {
            let at = match entry {
                JournalEntry::Transfer(transfer) => transfer.timestamp,
                JournalEntry::Expired { at, .. } => *at,
            };
            if let Some(previous) = previous {
                if at < previous {
                    return Err(self.violation("journal goes back in time".to_owned()));
                }
                if at > previous {
                    compare_at(previous, &folded)?;
                }
            }
            previous = Some(at);
            fold(entry, &mut folded, &mut pendings).map_err(|what| self.violation(what))?;
        }
        if let Some(last) = previous {
            compare_at(last, &folded)?;
        }
        compare_at(Timestamp::MAX, &folded)
    }

    /// Invariant 8.
    pub(super) fn check_reservations_ended(&self) -> Result<(), Violation> {
        let state = self.ledger.state();
        for (id, pending_state) in state.pending_states() {
            let reserved = state.transfer(id).map(|t| t.amount.minor()).unwrap_or(0);
            match pending_state {
                PendingState::Open => {
                    return Err(self.violation(format!("{id} still open after every timeout")));
                }
                PendingState::Posted { amount, .. } if amount > reserved || amount <= 0 => {
                    return Err(self.violation(format!("{id} posted {amount} of {reserved}")));
                }
                _ => {}
            }
        }
        for entry in state.accounts() {
            if entry.balance.debits_pending != 0 || entry.balance.credits_pending != 0 {
                return Err(self.violation(format!(
                    "{} still holds reservations: {:?}",
                    entry.account.id, entry.balance
                )));
            }
        }
        Ok(())
    }
}

/// Applies one journal entry to balances computed from scratch.
fn fold<'j>(
    entry: &'j JournalEntry,
    balances: &mut HashMap<AccountId, Balance>,
    pendings: &mut HashMap<TransferId, &'j Transfer>,
) -> Result<(), String> {
    let change = |balances: &mut HashMap<AccountId, Balance>,
                  id: AccountId,
                  apply: &dyn Fn(&mut Balance) -> Option<()>| {
        apply(balances.entry(id).or_default()).ok_or_else(|| format!("fold overflowed on {id}"))
    };
    let reserved_by = |pendings: &HashMap<TransferId, &Transfer>, id: TransferId| {
        pendings
            .get(&id)
            .map(|pending| pending.amount.minor())
            .ok_or_else(|| format!("journal resolves unknown pending transfer {id}"))
    };
    match entry {
        JournalEntry::Transfer(transfer) => {
            let amount = transfer.amount.minor();
            let (debit, credit) = (transfer.debit_account_id, transfer.credit_account_id);
            match transfer.kind {
                TransferKind::Direct | TransferKind::Reversal { .. } => {
                    change(balances, debit, &|b| {
                        b.debits_posted = b.debits_posted.checked_add(amount)?;
                        Some(())
                    })?;
                    change(balances, credit, &|b| {
                        b.credits_posted = b.credits_posted.checked_add(amount)?;
                        Some(())
                    })?;
                }
                TransferKind::Pending { .. } => {
                    pendings.insert(transfer.id, transfer);
                    change(balances, debit, &|b| {
                        b.debits_pending = b.debits_pending.checked_add(amount)?;
                        Some(())
                    })?;
                    change(balances, credit, &|b| {
                        b.credits_pending = b.credits_pending.checked_add(amount)?;
                        Some(())
                    })?;
                }
                TransferKind::PostPending { pending_id } => {
                    let reserved = reserved_by(pendings, pending_id)?;
                    change(balances, debit, &|b| {
                        b.debits_pending = b.debits_pending.checked_sub(reserved)?;
                        b.debits_posted = b.debits_posted.checked_add(amount)?;
                        Some(())
                    })?;
                    change(balances, credit, &|b| {
                        b.credits_pending = b.credits_pending.checked_sub(reserved)?;
                        b.credits_posted = b.credits_posted.checked_add(amount)?;
                        Some(())
                    })?;
                }
                TransferKind::VoidPending { pending_id } => {
                    let reserved = reserved_by(pendings, pending_id)?;
                    if reserved != amount {
                        return Err(format!(
                            "void of {pending_id} released {amount} of {reserved}"
                        ));
                    }
                    release(balances, pendings, pending_id)?;
                }
            }
        }
        JournalEntry::Expired { pending_id, .. } => release(balances, pendings, *pending_id)?,
    }
    Ok(())
}

fn release(
    balances: &mut HashMap<AccountId, Balance>,
    pendings: &HashMap<TransferId, &Transfer>,
    pending_id: TransferId,
) -> Result<(), String> {
    let pending = pendings
        .get(&pending_id)
        .ok_or_else(|| format!("journal releases unknown pending transfer {pending_id}"))?;
    let amount = pending.amount.minor();
    let debit = balances.entry(pending.debit_account_id).or_default();
    debit.debits_pending = debit
        .debits_pending
        .checked_sub(amount)
        .ok_or("fold underflowed")?;
    let credit = balances.entry(pending.credit_account_id).or_default();
    credit.credits_pending = credit
        .credits_pending
        .checked_sub(amount)
        .ok_or("fold underflowed")?;
    Ok(())
}
