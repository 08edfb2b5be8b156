//! What each step of a loan posts to the ledger:
//!
//! | step | transfers |
//! |---|---|
//! | disbursed | `loans_receivable` → `seller_available` (the advance, paid out from there) |
//! | withheld at settlement | `seller_pending` → `loans_receivable` (advance part) and → `revenue_loan_fees` (fee part) |
//! | collected at a due date, or repaid early | `seller_available` → the same two |
//! | charged off | `expense_loan_losses` → `loans_receivable` (the advance unpaid) |
//!
//! `loans_receivable` therefore holds the advance not yet repaid; the fee is revenue as it is
//! collected. Transfer ids derive from the loan, the step's key and the leg, so posting a
//! step twice is a no-op.

use bazaar_ledger::{Metadata, TransferId, TransferRequest};
use bazaar_money::Money;
use uuid::Uuid;

use super::{LoanId, Repayment};
use crate::chart::{ChartAccount, Expense, Revenue, SellerId};
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

/// The advance, made available to the seller.
pub fn disbursement_legs(seller: SellerId, advance: Money) -> Vec<Leg> {
    vec![Leg {
        name: "advance",
        debit: ChartAccount::LoansReceivable,
        credit: ChartAccount::SellerAvailable(seller),
        amount: advance,
    }]
}

/// A repayment's two legs.
pub fn repayment_legs(seller: SellerId, repayment: Repayment, from: RepaidFrom) -> Vec<Leg> {
    let source = match from {
        RepaidFrom::Settlement => ChartAccount::SellerPending(seller),
        RepaidFrom::Balance => ChartAccount::SellerAvailable(seller),
    };
    vec![
        Leg {
            name: "repay_advance",
            debit: source.clone(),
            credit: ChartAccount::LoansReceivable,
            amount: repayment.advance,
        },
        Leg {
            name: "repay_fee",
            debit: source,
            credit: ChartAccount::Revenue(Revenue::LoanFees),
            amount: repayment.fee,
        },
    ]
}

/// The unpaid advance written off.
pub fn charge_off_legs(written_off: Money) -> Vec<Leg> {
    vec![Leg {
        name: "charge_off",
        debit: ChartAccount::Expense(Expense::LoanLosses),
        credit: ChartAccount::LoansReceivable,
        amount: written_off,
    }]
}
