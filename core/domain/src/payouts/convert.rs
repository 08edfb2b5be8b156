//! Converting part of a seller's available balance into another currency at a quote, by the
//! seller's explicit choice, so that it can be paid out to a bank account in that currency.

use bazaar_ledger::{LedgerStore, Metadata, TransferId, TransferRequest};
use uuid::Uuid;

use super::{PayoutError, PayoutRails, PayoutStore, Payouts, PayoutsError, Withholding};
use crate::chart::{ChartAccount, Revenue, SellerId};
use crate::error::CommerceError;
use crate::fx::Conversion;
use crate::orders::validate_idempotency_key;
use crate::postings::{Leg, Posting, submit};

/// A seller's request to convert part of its available balance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConvertBalance {
    /// The seller.
    pub seller: SellerId,
    /// The quote: `conversion.source` leaves the seller's available balance in its currency,
    /// `conversion.client_value` arrives in the target currency, the spread is the
    /// platform's and the rounding residue goes to the rounding account.
    pub conversion: Conversion,
    /// 1 to 128 printable ASCII characters; the same key converts once.
    pub idempotency_key: String,
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore, W: Withholding> Payouts<S, R, L, W> {
    /// Converts at the quote, as one linked ledger batch: the seller's available balance in
    /// the source currency goes to the FX position, and from the FX position in the target
    /// currency the client value goes to the seller's available balance, the spread to
    /// `revenue_fx_spread` and the residue of the roundings to `rounding`. More than the
    /// payable balance is refused; the same key converts once (another quote under it is
    /// `idempotency_key_reused`).
    pub async fn convert_balance(&self, request: ConvertBalance) -> Result<(), PayoutsError> {
        validate_idempotency_key(&request.idempotency_key)
            .map_err(|_| PayoutError::InvalidIdempotencyKey)?;
        let conversion = &request.conversion;
        let source = conversion.source;
        if !source.is_positive() || source.currency() == conversion.client_value.currency() {
            return Err(PayoutError::AmountNotPositive.into());
        }
        let payable = self.payable(request.seller, source.currency()).await?;
        let step = format!("convert:{}", request.idempotency_key);
        let exists = self
            .ledger
            .transfer(leg_id(request.seller, &step, "out"))
            .await
            .map_err(|_| PayoutsError::Store(super::PayoutStoreError::Unavailable))?
            .is_some();
        if !exists && source.minor() > payable.minor() {
            return Err(PayoutError::InsufficientBalance { payable }.into());
        }
        let seller = ChartAccount::SellerAvailable(request.seller);
        let residue = conversion.residue;
        let mut legs = vec![
            Leg {
                name: "out",
                debit: seller.clone(),
                credit: ChartAccount::FxPosition,
                amount: source,
            },
            Leg {
                name: "in",
                debit: ChartAccount::FxPosition,
                credit: seller,
                amount: conversion.client_value,
            },
            Leg {
                name: "spread",
                debit: ChartAccount::FxPosition,
                credit: ChartAccount::Revenue(Revenue::FxSpread),
                amount: conversion.spread_value,
            },
        ];
        if residue.is_negative() {
            legs.push(Leg {
                name: "rounding",
                debit: ChartAccount::Rounding,
                credit: ChartAccount::FxPosition,
                amount: residue.checked_neg().map_err(PayoutError::from)?,
            });
        } else {
            legs.push(Leg {
                name: "rounding",
                debit: ChartAccount::FxPosition,
                credit: ChartAccount::Rounding,
                amount: residue,
            });
        }
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), "balance_conversion".into());
        metadata.insert("seller_id".into(), request.seller.to_string());
        metadata.insert("fx_rate".into(), conversion.rate.mid.to_string());
        metadata.insert(
            "fx_pair".into(),
            format!(
                "{}/{}",
                conversion.rate.from.code(),
                conversion.rate.to.code()
            ),
        );
        metadata.insert("fx_source".into(), conversion.rate.source.clone());
        let mut posting = Posting::default();
        for leg in legs.iter().filter(|leg| leg.amount.is_positive()) {
            posting.add(
                leg,
                TransferRequest {
                    id: leg_id(request.seller, &step, leg.name),
                    kind: leg.direct(),
                    metadata: metadata.clone(),
                },
            );
        }
        match submit(&self.ledger, posting).await {
            Ok(()) => Ok(()),
            Err(CommerceError::LedgerRejected { code }) if code.starts_with("exists_with") => {
                Err(super::PayoutStoreError::IdReused.into())
            }
            Err(CommerceError::LedgerRejected { code })
                if code == bazaar_ledger::TransferError::ExceedsCredits.code() =>
            {
                Err(PayoutError::InsufficientBalance { payable }.into())
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore, W: Withholding> Payouts<S, R, L, W> {
    /// The currencies among `candidates` in which the seller has an available-balance
    /// account (opened by a capture in it or by a conversion into it).
    pub async fn balance_currencies(
        &self,
        seller: SellerId,
        candidates: Vec<bazaar_money::Currency>,
    ) -> Result<Vec<bazaar_money::Currency>, PayoutsError> {
        let ids = candidates
            .iter()
            .map(|currency| ChartAccount::SellerAvailable(seller).id(*currency))
            .collect();
        let found = self
            .ledger
            .accounts(ids)
            .await
            .map_err(|_| PayoutsError::Store(super::PayoutStoreError::Unavailable))?;
        Ok(candidates
            .into_iter()
            .filter(|currency| {
                let id = ChartAccount::SellerAvailable(seller).id(*currency);
                found.iter().any(|(account, _)| account.id == id)
            })
            .collect())
    }
}

fn leg_id(seller: SellerId, step: &str, leg: &str) -> TransferId {
    TransferId::from_uuid(Uuid::new_v5(
        &seller.as_uuid(),
        format!("{step}:{leg}").as_bytes(),
    ))
}
