//! What each step of a payout's life posts to the ledger, per [`LedgerChange`].
//!
//! | step | transfers |
//! |---|---|
//! | opened | a pending transfer `seller_available` → `payouts_in_transit`; for an instant payout, its fee `seller_available` → `revenue_instant_payout_fees` |
//! | paid | the pending transfer posted; `payouts_in_transit` → `bank` (the money leaves the platform's account) |
//! | failed or canceled | the pending transfer voided; an instant payout's fee reversed |
//! | returned | both paid transfers reversed: the amount is available to the seller again |
//!
//! A failed or canceled payout therefore leaves the seller's available balance exactly as it
//! was before the payout. A returned instant payout keeps its fee: the transfer was made.
//! Transfer ids derive from the payout id and the step, so posting a step twice is a no-op.

use bazaar_ledger::{RequestKind, TransferId, TransferRequest};
use bazaar_money::Money;
use uuid::Uuid;

use super::{LedgerChange, PayoutError, PayoutId};
use crate::chart::{ChartAccount, Revenue, SellerId};
use crate::postings::{Leg, Posting};

/// How long a payout's pending transfer holds the amount before the ledger releases it: 90
/// days, far beyond any rail's settlement, so a payout in transit is never released by time.
pub const PAYOUT_HOLD_SECS: u32 = 90 * 24 * 3600;

/// Every step a payout's transfers are named by, in the order they can happen.
pub const PAYOUT_STEPS: [&str; 8] = [
    "pending",
    "fee",
    "post",
    "bank",
    "void",
    "fee_back",
    "bank_back",
    "post_back",
];

/// A payout as the ledger needs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PayoutMoney {
    /// The payout.
    pub id: PayoutId,
    /// Whose available balance pays it.
    pub seller: SellerId,
    /// What reaches the seller's bank.
    pub amount: Money,
    /// An instant payout's fee, taken from the available balance beside the amount.
    pub fee: Option<Money>,
}

impl PayoutMoney {
    /// The id of this payout's transfer for `step`.
    pub fn transfer_id(&self, step: &str) -> TransferId {
        TransferId::from_uuid(Uuid::new_v5(
            &self.id.as_uuid(),
            format!("payout:{step}").as_bytes(),
        ))
    }

    /// The transfers `change` asks for; `None` for [`LedgerChange::Nothing`].
    pub fn posting(&self, change: LedgerChange) -> Result<Option<Posting>, PayoutError> {
        if !self.amount.is_positive() || self.fee.is_some_and(|fee| !fee.is_positive()) {
            return Err(PayoutError::AmountNotPositive);
        }
        let currency = self.amount.currency();
        let available = ChartAccount::SellerAvailable(self.seller);
        let fees = ChartAccount::Revenue(Revenue::InstantPayoutFees);
        let mut posting = Posting::default();
        match change {
            LedgerChange::Nothing => return Ok(None),
            LedgerChange::PostPending => {
                posting.add(
                    &Leg {
                        name: "pending",
                        debit: available.clone(),
                        credit: ChartAccount::PayoutsInTransit,
                        amount: self.amount,
                    },
                    self.request(
                        "pending",
                        RequestKind::Pending {
                            debit_account_id: available.id(currency),
                            credit_account_id: ChartAccount::PayoutsInTransit.id(currency),
                            amount: self.amount,
                            timeout_secs: PAYOUT_HOLD_SECS,
                        },
                    ),
                );
                if let Some(fee) = self.fee {
                    let leg = Leg {
                        name: "fee",
                        debit: available,
                        credit: fees,
                        amount: fee,
                    };
                    posting.add(&leg, self.request("fee", leg.direct()));
                }
            }
            LedgerChange::PostPaid => {
                posting.requests.push(self.request(
                    "post",
                    RequestKind::PostPending {
                        pending_id: self.transfer_id("pending"),
                        amount: self.amount,
                    },
                ));
                let leg = Leg {
                    name: "bank",
                    debit: ChartAccount::PayoutsInTransit,
                    credit: ChartAccount::Bank,
                    amount: self.amount,
                };
                posting.add(&leg, self.request("bank", leg.direct()));
            }
            LedgerChange::VoidPending => {
                posting.requests.push(self.request(
                    "void",
                    RequestKind::VoidPending {
                        pending_id: self.transfer_id("pending"),
                    },
                ));
                if let Some(fee) = self.fee {
                    posting.requests.push(self.reversal("fee_back", "fee", fee));
                }
            }
            LedgerChange::ReversePaid => {
                posting
                    .requests
                    .push(self.reversal("bank_back", "bank", self.amount));
                posting
                    .requests
                    .push(self.reversal("post_back", "post", self.amount));
            }
        }
        Ok(Some(posting))
    }

    fn request(&self, step: &str, kind: RequestKind) -> TransferRequest {
        let mut metadata = bazaar_ledger::Metadata::new();
        metadata.insert("kind".into(), format!("payout_{step}"));
        metadata.insert("payout_id".into(), self.id.to_string());
        TransferRequest {
            id: self.transfer_id(step),
            kind,
            metadata,
        }
    }

    fn reversal(&self, step: &str, original: &str, amount: Money) -> TransferRequest {
        self.request(
            step,
            RequestKind::Reverse {
                original_id: self.transfer_id(original),
                amount,
            },
        )
    }
}
