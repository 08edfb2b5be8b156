//! The payouts service: what the API and the workers call.

use bazaar_ledger::Timestamp;

use super::{
    BankAccount, BankAccountId, BankDetails, HOLDER_NAME_MAX, NewBankAccount, NoWithholding,
    PayoutError, PayoutRails, PayoutStore, PayoutStoreError, Rail, RailError, Verification,
};
use crate::chart::SellerId;

/// Why a payouts call was refused: the input broke a rule, the store refused, or the rail
/// did not answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PayoutsError {
    /// The input broke a payout rule.
    #[error(transparent)]
    Invalid(#[from] PayoutError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] PayoutStoreError),
    /// The rail did not answer or refused the request.
    #[error(transparent)]
    Rail(#[from] RailError),
    /// The ledger refused a posting, with its code.
    #[error("the ledger refused the posting: {0}")]
    LedgerRejected(&'static str),
}

impl PayoutsError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(error) => error.code(),
            Self::Store(error) => error.code(),
            Self::Rail(RailError::Unavailable) => "unavailable",
            Self::Rail(RailError::NotConfigured) => "payouts_not_configured",
            Self::Rail(RailError::Rejected(_)) | Self::LedgerRejected(_) => "internal",
        }
    }
}

/// A bank account as a seller asks to add it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AddBankAccount {
    /// Drawn by the caller; a retry sends the same one.
    pub id: BankAccountId,
    /// The seller adding it.
    pub seller: SellerId,
    /// The rail to pay it by; its currency is the account's.
    pub rail: Rail,
    /// The details as entered.
    pub details: BankDetails,
    /// The account holder's name as entered.
    pub holder_name: String,
}

/// Payouts: sellers' bank accounts, schedules, fund releases and payouts.
///
/// `W` takes what a seller owes (a loan's repayment) out of each release, in the release's
/// own batch; by default nothing is withheld.
#[derive(Debug)]
pub struct Payouts<S, R, L, W = NoWithholding> {
    pub(super) store: S,
    pub(super) rails: R,
    pub(super) ledger: L,
    pub(super) withholding: W,
}

impl<S, R, L> Payouts<S, R, L> {
    /// The service over `store`, paying out through `rails`, posting to `ledger`.
    pub fn new(store: S, rails: R, ledger: L) -> Self {
        Self {
            store,
            rails,
            ledger,
            withholding: NoWithholding,
        }
    }
}

impl<S, R, L, W> Payouts<S, R, L, W> {
    /// The same service, withholding what `withholding` asks from each release.
    pub fn withholding<V>(self, withholding: V) -> Payouts<S, R, L, V> {
        Payouts {
            store: self.store,
            rails: self.rails,
            ledger: self.ledger,
            withholding,
        }
    }

    /// The rails it pays through.
    pub fn rails(&self) -> &R {
        &self.rails
    }
}

impl<S: PayoutStore, R: PayoutRails, L: Send + Sync, W> Payouts<S, R, L, W> {
    /// Checks the details against the rail, sends the two micro-deposits, and adds the
    /// account unverified. A retry with the same id answers the account as first added.
    pub async fn add_bank_account(
        &self,
        request: AddBankAccount,
        now: Timestamp,
    ) -> Result<BankAccount, PayoutsError> {
        let holder_name = request.holder_name.trim().to_owned();
        if holder_name.is_empty() || holder_name.chars().count() > HOLDER_NAME_MAX {
            return Err(PayoutError::InvalidHolderName.into());
        }
        request.rail.check_details(&request.details)?;
        let deposits = self
            .rails
            .micro_deposits(request.rail, request.details.clone(), now)
            .await?;
        Ok(self
            .store
            .add_bank_account(
                NewBankAccount {
                    id: request.id,
                    seller: request.seller,
                    rail: request.rail,
                    details: request.details,
                    holder_name,
                    deposits,
                },
                now,
            )
            .await?)
    }

    /// A seller's bank accounts, masked.
    pub async fn bank_accounts(&self, seller: SellerId) -> Result<Vec<BankAccount>, PayoutsError> {
        Ok(self.store.bank_accounts(seller).await?)
    }

    /// The seller's answer to an account's micro-deposits, in minor units of its currency.
    pub async fn verify_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
        given: [i64; 2],
        now: Timestamp,
    ) -> Result<Verification, PayoutsError> {
        Ok(self
            .store
            .verify_bank_account(seller, account, given, now)
            .await?)
    }

    /// The seller's payout settings in `currency`.
    pub async fn settings(
        &self,
        seller: SellerId,
        currency: bazaar_money::Currency,
    ) -> Result<super::PayoutSettings, PayoutsError> {
        Ok(self.store.settings(seller, currency).await?)
    }

    /// Sets the seller's payout schedule in the schedule's currency.
    pub async fn set_schedule(
        &self,
        seller: SellerId,
        schedule: super::PayoutSchedule,
        now: Timestamp,
    ) -> Result<super::PayoutSettings, PayoutsError> {
        Ok(self.store.set_schedule(seller, schedule, now).await?)
    }

    /// Sets or removes the seller's rolling reserve in `currency` (a platform decision).
    pub async fn set_reserve(
        &self,
        seller: SellerId,
        currency: bazaar_money::Currency,
        reserve: Option<super::RollingReserve>,
        now: Timestamp,
    ) -> Result<super::PayoutSettings, PayoutsError> {
        if let Some(reserve) = reserve
            && (reserve.share.get() > 10_000 || reserve.hold_days > super::RESERVE_HOLD_MAX)
        {
            return Err(PayoutError::InvalidReserve.into());
        }
        Ok(self
            .store
            .set_reserve(seller, currency, reserve, now)
            .await?)
    }

    /// One of the seller's payouts.
    pub async fn payout(
        &self,
        seller: SellerId,
        id: super::PayoutId,
    ) -> Result<Option<super::Payout>, PayoutsError> {
        Ok(self.store.payout(Some(seller), id).await?)
    }

    /// A page of the seller's payouts, newest first.
    pub async fn payouts(
        &self,
        seller: SellerId,
        after: Option<crate::store::PageCursor>,
        limit: u32,
    ) -> Result<crate::store::Page<super::Payout>, PayoutsError> {
        Ok(self.store.payouts(seller, after, limit).await?)
    }

    /// Removes a seller's bank account.
    pub async fn remove_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> Result<(), PayoutsError> {
        Ok(self.store.remove_bank_account(seller, account).await?)
    }
}
