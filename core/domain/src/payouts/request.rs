//! Payouts a seller asks for: standard, from the payable balance, or instant, from the
//! settled card funds, on an instant rail, for a fee, within a daily limit.

use bazaar_ledger::{LedgerStore, Timestamp};
use bazaar_money::Money;

use super::{
    BankAccountId, InstantLimit, InstantTerms, NewPayout, Payout, PayoutError, PayoutId,
    PayoutKind, PayoutRails, PayoutStore, PayoutStoreError, Payouts, PayoutsError,
    SettledCardFunds, Withholding, Zone,
};
use crate::Country;
use crate::chart::SellerId;
use crate::orders::validate_idempotency_key;

/// A payout a seller asks for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreatePayout {
    /// The seller asking.
    pub seller: SellerId,
    /// The seller's country: its clock and its instant terms.
    pub country: Country,
    /// What should reach the bank account; its currency picks the balance.
    pub amount: Money,
    /// The account to pay; `None` for the seller's oldest verified account in the currency.
    pub bank_account: Option<BankAccountId>,
    /// Instant: within minutes on the account's instant rail, for a fee.
    pub instant: bool,
    /// 1 to 128 printable ASCII characters; a retry with the same key answers the same
    /// payout.
    pub idempotency_key: String,
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore, W: Withholding> Payouts<S, R, L, W> {
    /// A payout the seller asks for. A retry with the same key answers the payout as it
    /// stands; the same key with another amount or account is refused.
    ///
    /// A standard payout may take the payable balance. An instant one goes on the instant
    /// rail that reaches the account (`instant_unavailable` when none does, or when the
    /// seller's country has no instant terms); the amount and its fee must fit in the
    /// instant-available balance (settled card funds) and the payable balance, and the
    /// amount within the seller's daily limit, counted over the seller's local day.
    pub async fn create_payout(
        &self,
        request: CreatePayout,
        now: Timestamp,
    ) -> Result<Payout, PayoutsError> {
        validate_idempotency_key(&request.idempotency_key)
            .map_err(|_| PayoutError::InvalidIdempotencyKey)?;
        let currency = request.amount.currency();
        let id = PayoutId::for_key(request.seller, &request.idempotency_key);
        if let Some(payout) = self.store.payout(Some(request.seller), id).await? {
            let same = payout.amount == request.amount
                && (payout.kind == PayoutKind::Instant) == request.instant
                && request
                    .bank_account
                    .is_none_or(|account| account == payout.bank_account);
            return if same {
                Ok(payout)
            } else {
                Err(PayoutStoreError::IdReused.into())
            };
        }
        let account = match request.bank_account {
            Some(wanted) => self
                .store
                .bank_accounts(request.seller)
                .await?
                .into_iter()
                .find(|account| account.id == wanted)
                .ok_or(PayoutStoreError::NotFound("bank account"))?,
            None => self
                .store
                .payable_account(request.seller, currency)
                .await?
                .ok_or(PayoutStoreError::AccountNotPayable)?,
        };
        let payable = self.payable(request.seller, currency).await?;
        let (kind, rail, fee, instant_limit) = if request.instant {
            let rail = account
                .rail
                .instant_counterpart()
                .ok_or(PayoutError::InstantUnavailable)?;
            let terms = InstantTerms::for_country(request.country)
                .ok_or(PayoutError::InstantUnavailable)?;
            let fee = terms.fee_on(request.amount)?;
            let eligible = self
                .store
                .instant_eligible(request.seller, currency)
                .await?;
            let cost = request.amount.checked_add(fee).map_err(PayoutError::from)?;
            if cost.minor() > eligible.minor().min(payable.minor()) {
                return Err(PayoutError::InsufficientInstantBalance {
                    instant_available: Money::from_minor(
                        eligible.minor().min(payable.minor()).max(0),
                        currency,
                    ),
                }
                .into());
            }
            let (from, to) = Zone::of_country(request.country)?.day_of(now)?;
            let taken = self
                .store
                .instant_taken(request.seller, currency, from, to)
                .await?;
            terms.check_limit(request.amount, taken)?;
            let limit = InstantLimit {
                limit: Money::from_minor(terms.daily_limit_minor, currency),
                from,
                to,
            };
            (PayoutKind::Instant, rail, Some(fee), Some(limit))
        } else {
            if request.amount.minor() > payable.minor() {
                return Err(PayoutError::InsufficientBalance { payable }.into());
            }
            (PayoutKind::Standard, account.rail, None, None)
        };
        rail.check_amount(request.amount)?;
        let payout = self
            .store
            .insert_payout(
                NewPayout {
                    id,
                    seller: request.seller,
                    kind,
                    amount: request.amount,
                    fee,
                    bank_account: account.id,
                    rail,
                    scheduled_for: None,
                    instant_limit,
                },
                now,
            )
            .await?;
        self.drive(payout, now).await
    }

    /// Records sellers' shares of card payments the provider settled: what instant payouts
    /// may take. Recording the same payment's share again counts nothing twice.
    pub async fn record_settled_card_funds(
        &self,
        funds: Vec<SettledCardFunds>,
        now: Timestamp,
    ) -> Result<(), PayoutsError> {
        if funds.is_empty() {
            return Ok(());
        }
        Ok(self.store.record_settled_card_funds(funds, now).await?)
    }
}
