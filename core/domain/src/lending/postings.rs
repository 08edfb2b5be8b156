//! What each step of a loan posts to the ledger:
//!
//! Each loan has its own receivable (`loans_receivable`, owned by the loan) and unearned fee
//! (`loan_fees_unearned`):
//!
//! | step | transfers |
//! |---|---|
//! | disbursed | `loans_receivable` → `seller_available` (the advance, paid out from there); `loans_receivable` → `loan_fees_unearned` (the fee) |
//! | withheld at settlement | `seller_pending` → `loans_receivable` (the repayment); `loan_fees_unearned` → `revenue_loan_fees` (its fee part) |
//! | collected at a due date, or repaid early | `seller_available` → `loans_receivable`; the fee part as above |
//! | charged off | `expense_loan_losses` → `loans_receivable` (the advance unpaid); `loan_fees_unearned` → `loans_receivable` (the fee unpaid) |
//!
//! The receivable's balance is what the seller still owes, advance and fee, and the unearned
//! fee's is the fee still owed: the ledger alone says how much of a loan is repaid, and its
//! balance rules refuse a repayment beyond what is owed. Transfer ids derive from the loan,
//! the step's key and the leg, so posting a step twice is a no-op.

use bazaar_ledger::{Metadata, TransferId, TransferRequest};
use bazaar_money::MoneyError;
use uuid::Uuid;

use super::{Loan, LoanId, Repayment};
use crate::chart::{ChartAccount, Expense, Revenue};
use crate::postings::{Leg, Posting};

/// Where a repayment comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RepaidFrom {
    /// Withheld from a sale's proceeds as they settle (the seller's pending balance).
    Settlement,
    /// Debited from the seller's available balance (a minimum's shortfall, early repayment).
    Balance,
}

fn request(loan: LoanId, key: &str, leg: &Leg) -> TransferRequest {
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "loan".into());
    metadata.insert("loan".into(), loan.to_string());
    metadata.insert("step".into(), key.to_owned());
    TransferRequest {
        id: TransferId::from_uuid(Uuid::new_v5(
            &loan.as_uuid(),
            format!("loan:{key}:{}", leg.name).as_bytes(),
        )),
        kind: leg.direct(),
        metadata,
    }
}

/// A posting of `legs` (zero legs left out) under `key`, unique within the loan.
pub fn loan_posting(loan: LoanId, key: &str, legs: &[Leg]) -> Posting {
    let mut posting = Posting::default();
    for leg in legs.iter().filter(|l| l.amount.is_positive()) {
        posting.add(leg, request(loan, key, leg));
    }
    posting
}

/// The advance made available to the seller, and the fee owed beside it, both on the loan's
/// receivable.
pub fn disbursement_legs(loan: &Loan) -> Vec<Leg> {
    let receivable = ChartAccount::LoansReceivable(loan.id);
    vec![
        Leg {
            name: "advance",
            debit: receivable.clone(),
            credit: ChartAccount::SellerAvailable(loan.seller),
            amount: loan.advance,
        },
        Leg {
            name: "fee",
            debit: receivable,
            credit: ChartAccount::LoanFeesUnearned(loan.id),
            amount: loan.fee,
        },
    ]
}

/// A repayment: its whole amount off the receivable, its fee part earned.
pub fn repayment_legs(
    loan: &Loan,
    repayment: Repayment,
    from: RepaidFrom,
) -> Result<Vec<Leg>, MoneyError> {
    let source = match from {
        RepaidFrom::Settlement => ChartAccount::SellerPending(loan.seller),
        RepaidFrom::Balance => ChartAccount::SellerAvailable(loan.seller),
    };
    Ok(vec![
        Leg {
            name: "repay",
            debit: source,
            credit: ChartAccount::LoansReceivable(loan.id),
            amount: repayment.total()?,
        },
        Leg {
            name: "earn_fee",
            debit: ChartAccount::LoanFeesUnearned(loan.id),
            credit: ChartAccount::Revenue(Revenue::LoanFees),
            amount: repayment.fee,
        },
    ])
}

/// A charged-off loan's receivable cleared: the unpaid advance to the loss, the unpaid fee
/// (never earned) back out of the unearned fee.
pub fn charge_off_legs(loan: &Loan) -> Result<Vec<Leg>, MoneyError> {
    let receivable = ChartAccount::LoansReceivable(loan.id);
    Ok(vec![
        Leg {
            name: "charge_off",
            debit: ChartAccount::Expense(Expense::LoanLosses),
            credit: receivable.clone(),
            amount: loan.advance.checked_sub(loan.paid_advance)?,
        },
        Leg {
            name: "fee_off",
            debit: ChartAccount::LoanFeesUnearned(loan.id),
            credit: receivable,
            amount: loan.fee.checked_sub(loan.paid_fee)?,
        },
    ])
}
