//! Random operation sequences against the reference ledger, with the ledger's invariants
//! checked after every step. Property tests generate the [`Op`]s with proptest; fuzz targets
//! build them from raw bytes.
//!
//! Invariants checked:
//! 1. for every currency, posted debits equal posted credits and pending debits equal pending
//!    credits, summed over all accounts;
//! 2. no account ever breaks its balance constraint, counting pending amounts, and no sum is
//!    ever negative;
//! 3. a rejected request leaves every balance, transfer and pending state exactly as it was;
//! 4. replaying an earlier request returns the original result and changes nothing;
//! 5. reusing an id with other content returns the matching `ExistsWith...` code or
//!    `IdAlreadyFailed`, and changes nothing;
//! 6. transfers never change once stored;
//! 7. the balance of every account at every point in time equals the fold of the journal up to
//!    that point;
//! 8. once every timeout has passed and expiry has run, no reservation is left: every pending
//!    transfer ended posted (for at most its amount), voided or expired.

use std::collections::{BTreeMap, HashMap};

use bazaar_money::{Currency, Money};

use crate::{
    AccountCode, AccountError, AccountId, Balance, BalanceConstraint, BatchError, JournalEntry,
    Metadata, NewAccount, Owner, PendingState, Receipt, ReferenceLedger, RequestKind, Side,
    Timestamp, Transfer, TransferError, TransferId, TransferKind, TransferRequest,
};

mod checks;

/// Accounts live in this many slots; an op names a slot, open or not.
pub const ACCOUNT_SLOTS: u8 = 8;
const SLOTS: usize = 8;
/// The most legs a generated batch has.
pub const LEGS_MAX: usize = 6;
const CURRENCIES: [Currency; 3] = [Currency::EUR, Currency::JPY, Currency::KWD];

/// The currency the account in `slot` is opened in, unless an op asks for another:
/// slots 0 to 3 hold EUR, 4 and 5 JPY, 6 and 7 KWD.
pub fn slot_currency(slot: u8) -> Currency {
    match slot % ACCOUNT_SLOTS {
        0..=3 => Currency::EUR,
        4 | 5 => Currency::JPY,
        _ => Currency::KWD,
    }
}
/// 2023-11-14T22:13:20Z: where simulated time starts.
const START: Timestamp = Timestamp::from_micros(1_700_000_000_000_000);
/// Longer than any timeout an op can ask for.
const SETTLE_SECS: u32 = 100_000;

/// One step of a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// Opens the account in `slot` (again, if it is open: idempotent or refused), in the
    /// slot's currency unless `currency` is 240 or more.
    OpenAccount {
        /// The slot, modulo [`ACCOUNT_SLOTS`].
        slot: u8,
        /// Below 240, the slot's currency ([`slot_currency`]); otherwise EUR, JPY or KWD by
        /// the value modulo 3, which may differ from the slot's.
        currency: u8,
        /// Modulo 3: unconstrained, debits must not exceed credits, or credits must not
        /// exceed debits. The second opens a credit-normal account, the others debit-normal
        /// ones.
        constraint: u8,
        /// The constraint's overdraft in minor units (unused when unconstrained); the ledger
        /// refuses a negative one.
        overdraft: i16,
    },
    /// Submits a linked batch of up to [`LEGS_MAX`] legs.
    Submit(Vec<Leg>),
    /// Submits an earlier batch again, unchanged.
    Retry {
        /// The earlier submission, by index modulo their number; nothing happens before the
        /// first.
        submission: u16,
    },
    /// Reuses the id of one leg of an earlier batch with other content.
    RetryAltered {
        /// The earlier submission, by index modulo their number. Nothing happens if it is
        /// itself altered, or if the ledger has neither applied nor remembered the chosen
        /// leg's id.
        submission: u16,
        /// The leg whose id is reused, modulo the batch's length.
        leg: u8,
        /// Modulo 3: 1 changes the amount by one minor unit, 2 changes the kind, 0 (and 1
        /// for a void) adds a metadata entry.
        alteration: u8,
    },
    /// Moves the clock forward.
    Advance {
        /// Seconds to move the clock forward.
        secs: u16,
    },
    /// Releases expired reservations.
    ExpireDue,
}

/// One leg of a generated batch. Slots and targets are taken modulo what exists.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Leg {
    /// Moves `amount` between the accounts in two slots at once.
    Direct {
        /// The debit account's slot, modulo [`ACCOUNT_SLOTS`]; it need not be open.
        debit: u8,
        /// The credit account's slot, modulo [`ACCOUNT_SLOTS`]; it may be the debit slot.
        credit: u8,
        /// Minor units, used as they are: zero and negative amounts happen.
        amount: i64,
        /// Below 224, the debit slot's currency (EUR if it is not open); otherwise EUR, JPY
        /// or KWD by the value modulo 3.
        currency: u8,
        /// 0 to 99: no metadata; 255: a key the ledger refuses; otherwise an `order` entry.
        meta: u8,
    },
    /// Reserves `amount` between the accounts in two slots.
    Pending {
        /// The debit account's slot, modulo [`ACCOUNT_SLOTS`]; it need not be open.
        debit: u8,
        /// The credit account's slot, modulo [`ACCOUNT_SLOTS`]; it may be the debit slot.
        credit: u8,
        /// Minor units, used as they are: zero and negative amounts happen.
        amount: i64,
        /// Below 224, the debit slot's currency (EUR if it is not open); otherwise EUR, JPY
        /// or KWD by the value modulo 3.
        currency: u8,
        /// The reservation's timeout; 0 happens and is refused.
        timeout_secs: u16,
        /// 0 to 99: no metadata; 255: a key the ledger refuses; otherwise an `order` entry.
        meta: u8,
    },
    /// Posts `share`/200 of a pending transfer's amount (so 0 and more than all happen).
    Post {
        /// Picks the pending transfer: modulo 16, 14 takes an earlier leg of this batch and
        /// 15 any id ever submitted; other values take an applied pending transfer. An
        /// unknown id when there is nothing to pick.
        pending: u8,
        /// The part to post, in 200ths of the pending transfer's amount, rounded towards
        /// zero.
        share: u8,
        /// 0 to 99: no metadata; 255: a key the ledger refuses; otherwise an `order` entry.
        meta: u8,
    },
    /// Voids a pending transfer.
    Void {
        /// Picks the pending transfer, as for [`Leg::Post`].
        pending: u8,
        /// 0 to 99: no metadata; 255: a key the ledger refuses; otherwise an `order` entry.
        meta: u8,
    },
    /// Reverses `share`/200 of an earlier transfer's amount.
    Reverse {
        /// Picks the transfer to reverse, as `pending` does for [`Leg::Post`] but among all
        /// applied transfers.
        transfer: u8,
        /// The part to reverse, in 200ths of the transfer's amount, rounded towards zero.
        share: u8,
        /// 0 to 99: no metadata; 255: a key the ledger refuses; otherwise an `order` entry.
        meta: u8,
    },
}

/// A broken invariant, with the step where it broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The op during which it broke, counting from 1; the final checks report the last op's
    /// number (0 if there was none).
    pub step: usize,
    /// What broke, in words.
    pub what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}: {}", self.step, self.what)
    }
}

/// What a simulation did, to show that the generated operations reach the interesting cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// How often each result occurred: `ok`, `account_ok`, `expired`, or an error code.
    pub results: BTreeMap<&'static str, u64>,
}

impl Stats {
    fn count(&mut self, what: &'static str) {
        let entry = self.results.entry(what).or_insert(0);
        *entry = entry.saturating_add(1);
    }

    /// Adds the counts of `other`, e.g. another run's, to these.
    pub fn merge(&mut self, other: &Stats) {
        for (what, count) in &other.results {
            let entry = self.results.entry(what).or_insert(0);
            *entry = entry.saturating_add(*count);
        }
    }
}

#[derive(Clone, Debug)]
struct Submission {
    batch: Vec<TransferRequest>,
    result: Result<Vec<Receipt>, BatchError>,
    /// Made by `RetryAltered`: its requests reuse ids of other content.
    altered: bool,
}

/// Everything a rejected request must leave untouched.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    balances: Vec<(AccountId, Balance)>,
    pending: Vec<(TransferId, PendingState)>,
    transfers: usize,
}

/// Drives a [`ReferenceLedger`] through [`Op`]s and checks its invariants.
#[derive(Debug)]
pub struct Simulator {
    ledger: ReferenceLedger,
    now: Timestamp,
    next_id: u128,
    slots: [Option<Currency>; SLOTS],
    submissions: Vec<Submission>,
    /// Every transfer id ever submitted, applied or not.
    submitted: Vec<TransferId>,
    /// Ids of pending transfers that were applied.
    created_pendings: Vec<TransferId>,
    /// Ids of all transfers that were applied, in order.
    created_ids: Vec<TransferId>,
    created: HashMap<TransferId, Transfer>,
    stats: Stats,
    step: usize,
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `ops` from an empty ledger and checks every invariant, including the final ones.
pub fn run(ops: &[Op]) -> Result<Stats, Violation> {
    let mut simulator = Simulator::new();
    for op in ops {
        simulator.step(op)?;
    }
    simulator.finish()
}

fn slot_id(slot: u8) -> AccountId {
    AccountId::from_u128(0xacc0_0000_u128.saturating_add(u128::from(slot % ACCOUNT_SLOTS)))
}

fn metadata(meta: u8) -> Metadata {
    let mut metadata = Metadata::new();
    match meta {
        0..=99 => {}
        // A key the ledger refuses.
        255 => {
            metadata.insert("Not A Key".to_owned(), String::new());
        }
        _ => {
            metadata.insert("order".to_owned(), meta.to_string());
        }
    }
    metadata
}

/// The element at `index` modulo the list's length; `None` for an empty list.
fn nth<T: Clone>(list: &[T], index: usize) -> Option<T> {
    list.get(index.checked_rem(list.len())?).cloned()
}

/// `share`/200 of `amount`, rounded down.
fn share_of(amount: i64, share: u8) -> i64 {
    let part = i128::from(amount)
        .saturating_mul(i128::from(share))
        .checked_div(200)
        .unwrap_or(0);
    i64::try_from(part).unwrap_or(i64::MAX)
}

impl Simulator {
    /// A simulator with an empty ledger, no account open and the clock at
    /// 2023-11-14T22:13:20Z.
    pub fn new() -> Self {
        Self {
            ledger: ReferenceLedger::new(),
            now: START,
            next_id: 1,
            slots: [None; SLOTS],
            submissions: Vec::new(),
            submitted: Vec::new(),
            created_pendings: Vec::new(),
            created_ids: Vec::new(),
            created: HashMap::new(),
            stats: Stats::default(),
            step: 0,
        }
    }

    /// The reference ledger being driven.
    pub fn ledger(&self) -> &ReferenceLedger {
        &self.ledger
    }

    fn violation(&self, what: String) -> Violation {
        Violation {
            step: self.step,
            what,
        }
    }

    fn fresh_id(&mut self) -> TransferId {
        let id = TransferId::from_u128(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    fn snapshot(&self) -> Snapshot {
        let state = self.ledger.state();
        let mut balances: Vec<_> = state
            .accounts()
            .map(|entry| (entry.account.id, entry.balance))
            .collect();
        balances.sort_by_key(|(id, _)| *id);
        let mut pending: Vec<_> = state.pending_states().collect();
        pending.sort_by_key(|(id, _)| *id);
        Snapshot {
            balances,
            pending,
            transfers: state.transfer_count(),
        }
    }

    /// Applies one op and checks the invariants that must hold after it.
    pub fn step(&mut self, op: &Op) -> Result<(), Violation> {
        self.step = self.step.saturating_add(1);
        let before = self.snapshot();
        match op {
            Op::OpenAccount {
                slot,
                currency,
                constraint,
                overdraft,
            } => self.open_account(*slot, *currency, *constraint, *overdraft, &before)?,
            Op::Submit(legs) => {
                let batch = self.build_batch(legs);
                self.submit(batch, &before)?;
            }
            Op::Retry { submission } => self.retry(*submission, &before)?,
            Op::RetryAltered {
                submission,
                leg,
                alteration,
            } => self.retry_altered(*submission, *leg, *alteration, &before)?,
            Op::Advance { secs } => {
                self.now = self.now.saturating_add_secs(u32::from(*secs));
            }
            Op::ExpireDue => self.expire_due()?,
        }
        self.check_global()
    }

    /// Checks what must hold at the end: immutability, history, and that every
    /// reservation ends.
    pub fn finish(mut self) -> Result<Stats, Violation> {
        self.check_immutable()?;
        self.check_history()?;
        self.now = self.now.saturating_add_secs(SETTLE_SECS);
        self.expire_due()?;
        self.check_global()?;
        self.check_history()?;
        self.check_reservations_ended()?;
        Ok(self.stats)
    }

    fn open_account(
        &mut self,
        slot: u8,
        currency: u8,
        constraint: u8,
        overdraft: i16,
        before: &Snapshot,
    ) -> Result<(), Violation> {
        let currency = if currency < 240 {
            slot_currency(slot)
        } else {
            nth(&CURRENCIES, currency.into()).unwrap_or(Currency::EUR)
        };
        let overdraft = i64::from(overdraft);
        let constraint = match constraint % 3 {
            0 => BalanceConstraint::Unconstrained,
            1 => BalanceConstraint::DebitsMustNotExceedCredits { overdraft },
            _ => BalanceConstraint::CreditsMustNotExceedDebits { overdraft },
        };
        let code = AccountCode::new("sim").map_err(|e| self.violation(e.to_string()))?;
        let new = NewAccount {
            id: slot_id(slot),
            currency,
            code,
            owner: Owner::platform(),
            normal_side: if constraint_is_debit_side(constraint) {
                Side::Credit
            } else {
                Side::Debit
            },
            constraint,
        };
        let existed = self
            .ledger
            .account(new.id)
            .map(|entry| entry.account.clone());
        let result = self.ledger.create_account(new.clone(), self.now);
        self.stats.count(match result {
            Ok(_) => "account_ok",
            Err(error) => error.code(),
        });
        match (result, existed) {
            (Ok(account), Some(existing)) if account != existing => Err(self.violation(format!(
                "reopening returned {account:?}, not the original {existing:?}"
            ))),
            (Ok(account), _) => {
                if let Some(slot) = self.slots.get_mut(usize::from(slot % ACCOUNT_SLOTS)) {
                    *slot = Some(account.currency);
                }
                Ok(())
            }
            (Err(error), existed) => {
                let expected_reason = match (&existed, error) {
                    (_, AccountError::OverdraftMustNotBeNegative) => overdraft < 0,
                    (Some(existing), _) => existing.check_same(&new) == Err(error),
                    (None, _) => false,
                };
                if !expected_reason {
                    return Err(self.violation(format!("account refused with {error:?}")));
                }
                self.unchanged(before, "refused account")
            }
        }
    }

    fn leg_currency(&self, debit: u8, currency: u8) -> Currency {
        // Most legs use the debit account's currency; some pick one at random and may
        // mismatch.
        if currency < 224 {
            self.slots
                .get(usize::from(debit % ACCOUNT_SLOTS))
                .copied()
                .flatten()
                .unwrap_or(Currency::EUR)
        } else {
            nth(&CURRENCIES, currency.into()).unwrap_or(Currency::EUR)
        }
    }

    /// A transfer id to post, void or reverse: usually an applied one made for that purpose,
    /// sometimes one from earlier in the same batch or any id ever submitted, and an unknown
    /// id when there is nothing to pick.
    fn pick(&mut self, pendings: bool, index: u8, batch: &[TransferRequest]) -> TransferId {
        let picked = match index % 16 {
            14 => nth(batch, index.into()).map(|request| request.id),
            15 => nth(&self.submitted, index.into()),
            _ if pendings => nth(&self.created_pendings, index.into()),
            _ => nth(&self.created_ids, index.into()),
        };
        picked.unwrap_or_else(|| self.fresh_id())
    }

    fn amount_of(&self, id: TransferId) -> Money {
        self.request_of(id)
            .and_then(|request| match request.kind {
                RequestKind::Direct { amount, .. }
                | RequestKind::Pending { amount, .. }
                | RequestKind::PostPending { amount, .. }
                | RequestKind::Reverse { amount, .. } => Some(amount),
                RequestKind::VoidPending { .. } => None,
            })
            .unwrap_or(Money::from_minor(100, Currency::EUR))
    }

    fn request_of(&self, id: TransferId) -> Option<&TransferRequest> {
        self.submissions
            .iter()
            .rev()
            .filter(|submission| !submission.altered)
            .flat_map(|submission| submission.batch.iter())
            .find(|request| request.id == id)
    }

    fn build_batch(&mut self, legs: &[Leg]) -> Vec<TransferRequest> {
        let mut batch = Vec::with_capacity(legs.len().min(LEGS_MAX));
        for leg in legs.iter().take(LEGS_MAX) {
            let id = self.fresh_id();
            let (kind, meta) = match *leg {
                Leg::Direct {
                    debit,
                    credit,
                    amount,
                    currency,
                    meta,
                } => (
                    RequestKind::Direct {
                        debit_account_id: slot_id(debit),
                        credit_account_id: slot_id(credit),
                        amount: Money::from_minor(amount, self.leg_currency(debit, currency)),
                    },
                    meta,
                ),
                Leg::Pending {
                    debit,
                    credit,
                    amount,
                    currency,
                    timeout_secs,
                    meta,
                } => (
                    RequestKind::Pending {
                        debit_account_id: slot_id(debit),
                        credit_account_id: slot_id(credit),
                        amount: Money::from_minor(amount, self.leg_currency(debit, currency)),
                        timeout_secs: u32::from(timeout_secs),
                    },
                    meta,
                ),
                Leg::Post {
                    pending,
                    share,
                    meta,
                } => {
                    let pending_id = self.pick(true, pending, &batch);
                    let reserved = self.amount_of(pending_id);
                    let amount =
                        Money::from_minor(share_of(reserved.minor(), share), reserved.currency());
                    (RequestKind::PostPending { pending_id, amount }, meta)
                }
                Leg::Void { pending, meta } => {
                    let pending_id = self.pick(true, pending, &batch);
                    (RequestKind::VoidPending { pending_id }, meta)
                }
                Leg::Reverse {
                    transfer,
                    share,
                    meta,
                } => {
                    let original_id = self.pick(false, transfer, &batch);
                    let moved = self.amount_of(original_id);
                    let amount =
                        Money::from_minor(share_of(moved.minor(), share), moved.currency());
                    (
                        RequestKind::Reverse {
                            original_id,
                            amount,
                        },
                        meta,
                    )
                }
            };
            self.submitted.push(id);
            batch.push(TransferRequest {
                id,
                kind,
                metadata: metadata(meta),
            });
        }
        batch
    }

    fn submit(&mut self, batch: Vec<TransferRequest>, before: &Snapshot) -> Result<(), Violation> {
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.ledger.submit(&batch, self.now);
        match &result {
            Ok(receipts) => {
                self.stats.count("ok");
                if receipts.len() != batch.len() {
                    return Err(self.violation("one receipt per leg expected".to_owned()));
                }
                for receipt in receipts {
                    let stored = self.ledger.transfer(receipt.id).cloned().ok_or_else(|| {
                        self.violation(format!("accepted transfer {} not stored", receipt.id))
                    })?;
                    if stored.timestamp != receipt.timestamp {
                        return Err(self.violation("receipt and transfer disagree".to_owned()));
                    }
                    if stored.expires_at().is_some() {
                        self.created_pendings.push(receipt.id);
                    }
                    self.created_ids.push(receipt.id);
                    self.created.insert(receipt.id, stored);
                }
            }
            Err(error) => {
                self.stats.count(error.code());
                self.unchanged(before, "rejected batch")?;
            }
        }
        self.submissions.push(Submission {
            batch,
            result,
            altered: false,
        });
        Ok(())
    }

    fn retry(&mut self, submission: u16, before: &Snapshot) -> Result<(), Violation> {
        let Some(original) = self.pick_submission(submission).cloned() else {
            return Ok(());
        };
        let replayed = self.ledger.submit(&original.batch, self.now);
        self.stats.count("replayed");
        if replayed != original.result {
            return Err(self.violation(format!(
                "replay returned {replayed:?}, the original returned {:?}",
                original.result
            )));
        }
        self.unchanged(before, "replay")
    }

    fn pick_submission(&self, submission: u16) -> Option<&Submission> {
        let index = usize::from(submission).checked_rem(self.submissions.len())?;
        self.submissions.get(index)
    }

    fn retry_altered(
        &mut self,
        submission: u16,
        leg: u8,
        alteration: u8,
        before: &Snapshot,
    ) -> Result<(), Violation> {
        let Some(original) = self.pick_submission(submission).filter(|s| !s.altered) else {
            return Ok(());
        };
        let Some(request) = nth(&original.batch, leg.into()) else {
            return Ok(());
        };
        let state = self.ledger.state();
        // Only ids the ledger has decided on have an outcome to defend.
        let exists = state.transfer(request.id).is_some();
        if !exists && state.failure(request.id).is_none() {
            return Ok(());
        }
        let (altered, expected_if_exists) = alter(request, alteration);
        let expected = if exists {
            expected_if_exists
        } else {
            TransferError::IdAlreadyFailed
        };
        let batch = vec![altered];
        let result = self.ledger.submit(&batch, self.now);
        let id = batch.first().map(|request| request.id);
        let wanted = Err(BatchError::Rejected {
            index: 0,
            id: id.unwrap_or(TransferId::from_u128(0)),
            error: expected,
        });
        if result != wanted {
            return Err(self.violation(format!(
                "reusing an id with other content returned {result:?}, expected {wanted:?}"
            )));
        }
        self.stats.count(expected.code());
        self.unchanged(before, "reused id")?;
        self.submissions.push(Submission {
            batch,
            result,
            altered: true,
        });
        Ok(())
    }

    fn expire_due(&mut self) -> Result<(), Violation> {
        let before = self.snapshot();
        let expired = self.ledger.expire_due(self.now);
        for id in &expired {
            self.stats.count("expired");
            match self.ledger.pending_state(*id) {
                Some(PendingState::Expired { .. }) => {}
                other => {
                    return Err(self.violation(format!("{id} reported expired but is {other:?}")));
                }
            }
        }
        if expired.is_empty() {
            self.unchanged(&before, "expiry with nothing due")?;
        }
        Ok(())
    }

    fn unchanged(&self, before: &Snapshot, what: &str) -> Result<(), Violation> {
        if self.snapshot() == *before {
            Ok(())
        } else {
            Err(self.violation(format!("{what} changed the ledger")))
        }
    }
}

fn constraint_is_debit_side(constraint: BalanceConstraint) -> bool {
    matches!(
        constraint,
        BalanceConstraint::DebitsMustNotExceedCredits { .. }
    )
}

/// Changes one thing in a request, and says which `ExistsWith...` code that must earn when
/// the id belongs to a stored transfer.
fn alter(mut request: TransferRequest, alteration: u8) -> (TransferRequest, TransferError) {
    let bump = |amount: Money| {
        let minor = amount.minor();
        let other = if minor == i64::MAX {
            minor.saturating_sub(1)
        } else {
            minor.saturating_add(1)
        };
        Money::from_minor(other, amount.currency())
    };
    match (alteration % 3, &mut request.kind) {
        (
            1,
            RequestKind::Direct { amount, .. }
            | RequestKind::Pending { amount, .. }
            | RequestKind::PostPending { amount, .. }
            | RequestKind::Reverse { amount, .. },
        ) => {
            *amount = bump(*amount);
            (request, TransferError::ExistsWithDifferentAmount)
        }
        (
            2,
            RequestKind::Direct {
                debit_account_id,
                credit_account_id,
                amount,
            },
        ) => {
            request.kind = RequestKind::Pending {
                debit_account_id: *debit_account_id,
                credit_account_id: *credit_account_id,
                amount: *amount,
                timeout_secs: 60,
            };
            (request, TransferError::ExistsWithDifferentKind)
        }
        (2, _) => {
            request.kind = RequestKind::Direct {
                debit_account_id: slot_id(0),
                credit_account_id: slot_id(1),
                amount: Money::from_minor(1, Currency::EUR),
            };
            (request, TransferError::ExistsWithDifferentKind)
        }
        _ => {
            request
                .metadata
                .insert("altered".to_owned(), "yes".to_owned());
            (request, TransferError::ExistsWithDifferentMetadata)
        }
    }
}
