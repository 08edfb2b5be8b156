//! The ledger postings of the commerce flows: capture, refund (full or partial, commission
//! and spread reversed proportionally), chargeback and settlement.
//!
//! Every amount here is derived from what the order stored at checkout (line totals, tax
//! and commission rates, the locked FX quote), and every transfer id is derived from the
//! line, refund or payment it belongs to. Computing a posting twice therefore gives the
//! same transfers with the same ids, and the ledger's idempotency makes a re-submission
//! harmless: that is how a posting interrupted by a crash is completed later.

use bazaar_ledger::{
    AccountId, BATCH_LEGS_MAX, Metadata, NewAccount, RequestKind, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money};
use uuid::Uuid;

mod capture;
mod tax_terms;

pub use capture::*;
pub use tax_terms::*;

use crate::chart::{ChartAccount, Expense, ProviderName};
use crate::error::CommerceError;
use crate::orders::{CART_LINES_MAX, RefundId};
use crate::payments::PaymentId;

/// One transfer of a posting, before it gets its id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Leg {
    /// The leg's name within its posting (`tax`, `fx_in`, `fx_spread`, `fx_rounding`,
    /// `commission`, `seller`, `bank`, `psp_fee`, `captured_unfulfilled`); with the line,
    /// refund or payment it belongs to, it derives the transfer's id.
    pub name: &'static str,
    /// The account debited, in the amount's currency.
    pub debit: ChartAccount,
    /// The account credited, in the amount's currency.
    pub credit: ChartAccount,
    /// What moves; its currency is both accounts' currency. Postings leave out legs that
    /// are not positive.
    pub amount: Money,
}

impl Leg {
    fn accounts(&self) -> [(ChartAccount, Currency); 2] {
        let currency = self.amount.currency();
        [
            (self.debit.clone(), currency),
            (self.credit.clone(), currency),
        ]
    }

    /// The ledger id of the debited account in the leg's currency.
    pub fn debit_id(&self) -> AccountId {
        self.debit.id(self.amount.currency())
    }

    /// The ledger id of the credited account in the leg's currency.
    pub fn credit_id(&self) -> AccountId {
        self.credit.id(self.amount.currency())
    }

    /// The leg as a direct transfer.
    pub fn direct(&self) -> RequestKind {
        RequestKind::Direct {
            debit_account_id: self.debit_id(),
            credit_account_id: self.credit_id(),
            amount: self.amount,
        }
    }
}

/// A set of transfers and the accounts they need.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Posting {
    /// Every (account, currency) the transfers touch, each once; opened in the ledger
    /// before the transfers are submitted.
    pub accounts: Vec<(ChartAccount, Currency)>,
    /// The transfers, in order; submitted as one linked batch, applied all-or-nothing.
    pub requests: Vec<TransferRequest>,
}

impl Posting {
    fn direct(legs: Vec<Leg>, id: impl Fn(&Leg) -> TransferId, metadata: &Metadata) -> Self {
        let mut posting = Self::default();
        for leg in legs {
            posting.add_accounts(&leg);
            posting.requests.push(TransferRequest {
                id: id(&leg),
                kind: leg.direct(),
                metadata: metadata.clone(),
            });
        }
        posting
    }

    /// Appends `request`, which moves money between `leg`'s accounts, and lists those
    /// accounts.
    pub fn add(&mut self, leg: &Leg, request: TransferRequest) {
        self.add_accounts(leg);
        self.requests.push(request);
    }

    fn add_accounts(&mut self, leg: &Leg) {
        for account in leg.accounts() {
            if !self.accounts.contains(&account) {
                self.accounts.push(account);
            }
        }
    }

    /// Appends `other`'s transfers and the accounts it touches that are not listed yet; a
    /// payment's capture is its lines' captures joined this way into one batch.
    pub fn extend(&mut self, other: Self) {
        for account in other.accounts {
            if !self.accounts.contains(&account) {
                self.accounts.push(account);
            }
        }
        self.requests.extend(other.requests);
    }

    /// Refuses a posting with more legs than one linked ledger batch holds
    /// (`posting_too_large`). A posting is never split into several batches: the parts
    /// would not apply all-or-nothing.
    pub fn check_size(&self) -> Result<(), CommerceError> {
        if self.requests.len() > BATCH_LEGS_MAX {
            return Err(CommerceError::PostingTooLarge {
                legs: self.requests.len(),
                max: BATCH_LEGS_MAX,
            });
        }
        Ok(())
    }

    /// The posting as the one linked batch the ledger applies all-or-nothing.
    pub fn into_batch(self) -> Result<Vec<TransferRequest>, CommerceError> {
        self.check_size()?;
        Ok(self.requests)
    }

    /// The account-opening requests for every account the posting touches.
    pub fn new_accounts(&self) -> Result<Vec<NewAccount>, CommerceError> {
        self.accounts
            .iter()
            .map(|(account, currency)| {
                account
                    .new_account(*currency)
                    .map_err(|_| CommerceError::Internal)
            })
            .collect()
    }
}

/// The most legs one order line's capture has: tax, the three FX legs, commission, two
/// withheld-tax legs (India's CGST and SGST halves) and the seller's share.
pub const LINE_LEGS_MAX: usize = 8;

// A whole cart's capture (or its full refund) always fits in one linked batch, so a
// checkout that was accepted can always be posted.
const _: () = assert!(CART_LINES_MAX * LINE_LEGS_MAX <= BATCH_LEGS_MAX);

/// Opens the accounts `posting` touches and applies its transfers as one linked batch. Every
/// transfer id is derived, so submitting the same posting again changes nothing.
pub async fn submit<L: bazaar_ledger::LedgerStore>(
    ledger: &L,
    posting: Posting,
) -> Result<(), CommerceError> {
    use crate::service::ledger_unavailable;
    posting.check_size()?;
    for account in posting.new_accounts()? {
        ledger
            .create_account(account)
            .await
            .map_err(ledger_unavailable)?
            .map_err(|_| CommerceError::Internal)?;
    }
    let batch = posting.into_batch()?;
    ledger
        .submit(batch)
        .await
        .map_err(ledger_unavailable)?
        .map_err(|error| CommerceError::LedgerRejected { code: error.code() })?;
    Ok(())
}

/// The provider paid out a captured payment: the bank receives the gross less the fee, the
/// fee is a cost, and the clearing account is settled.
pub fn settlement_posting(
    payment_id: PaymentId,
    provider: &ProviderName,
    gross: Money,
    fee: Money,
) -> Result<Posting, CommerceError> {
    if !gross.is_positive() || fee.is_negative() || fee.minor() > gross.minor() {
        return Err(CommerceError::InvalidInput(
            "a settlement needs a positive gross and a fee between zero and the gross",
        ));
    }
    let psp = ChartAccount::PspClearing(provider.clone());
    let mut legs = vec![
        Leg {
            name: "bank",
            debit: ChartAccount::Bank,
            credit: psp.clone(),
            amount: gross.checked_sub(fee)?,
        },
        Leg {
            name: "psp_fee",
            debit: ChartAccount::Expense(Expense::PspFees),
            credit: psp,
            amount: fee,
        },
    ];
    legs.retain(|leg| leg.amount.is_positive());
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "settlement".into());
    metadata.insert("payment_id".into(), payment_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &payment_id.as_uuid(),
                format!("settlement:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

/// A payment captured after its checkout was cancelled: the provider owes the platform the
/// amount, and the platform owes it back to the buyer (nothing goes to a seller).
pub fn late_capture_posting(
    payment_id: PaymentId,
    provider: &ProviderName,
    amount: Money,
) -> Result<Posting, CommerceError> {
    if !amount.is_positive() {
        return Err(CommerceError::Internal);
    }
    let legs = vec![Leg {
        name: "captured_unfulfilled",
        debit: ChartAccount::PspClearing(provider.clone()),
        credit: ChartAccount::CapturedUnfulfilled,
        amount,
    }];
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "capture_late".into());
    metadata.insert("payment_id".into(), payment_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &payment_id.as_uuid(),
                format!("capture_late:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

/// A refund (or chargeback) of a late-captured payment: the buyer gets the money back
/// from the captured-but-unfulfilled account.
pub fn late_refund_posting(
    refund_id: RefundId,
    payment_id: PaymentId,
    provider: &ProviderName,
    amount: Money,
    kind: &str,
) -> Result<Posting, CommerceError> {
    if !amount.is_positive() {
        return Err(CommerceError::Internal);
    }
    let legs = vec![Leg {
        name: "captured_unfulfilled",
        debit: ChartAccount::CapturedUnfulfilled,
        credit: ChartAccount::PspClearing(provider.clone()),
        amount,
    }];
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), format!("{kind}_late"));
    metadata.insert("payment_id".into(), payment_id.to_string());
    metadata.insert("refund_id".into(), refund_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &refund_id.as_uuid(),
                format!("refund_late:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

#[cfg(test)]
mod tests;
