//! The tax desk: sellers' registrations, what each `tax_payable` account owes for a return
//! period, and remittance of it from the bank.
//!
//! What a period owes comes from the ledger, so that every refund and chargeback is in it:
//! for one payable, the tax accrued up to the period's end is its balance then plus what was
//! remitted before then; what is due is that less everything remitted for other periods. A
//! refund of a sale from a period already remitted lowers the next period's amount, as a
//! correction on the next return does. Periods are remitted in order, one posting per
//! payable and currency, with an id derived from them, so a retry posts nothing twice.

mod store;

pub use store::*;

use bazaar_ledger::{
    AccountId, LedgerHistory, LedgerStore, Metadata, Timestamp, TransferId, TransferRequest,
    accounts_after,
};
use bazaar_money::{Currency, Money, MoneyError};
use uuid::Uuid;

use crate::chart::{ChartAccount, Jurisdiction, SellerId};
use crate::postings::{Leg, Posting, payable_scheme};
use crate::tax::{Area, PeriodError, RegistrationError, ReturnPeriod, Scheme, TaxRegistration};

/// Accounts read per page when looking for a scheme's payables.
const ACCOUNTS_PAGE: u32 = 500;

/// The chart code of `tax_payable` accounts (see [`ChartAccount::code`]).
const TAX_PAYABLE_CODE: &str = "tax_payable";

/// The namespace of remittance transfer ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x2c9e_41d7_58a3_4f60_b1e2_7d05_93c4_a8f1);

/// Why a tax desk call was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TaxDeskError {
    /// The registration's area or number is wrong.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// The period is wrong for the scheme.
    #[error(transparent)]
    Period(#[from] PeriodError),
    /// The period has not ended: nothing can be remitted for it yet.
    #[error("the period {0} has not ended")]
    NotEnded(String),
    /// A later period of the payable was remitted already.
    #[error("{jurisdiction} was remitted for {latest}, after {asked}")]
    OutOfOrder {
        /// The payable.
        jurisdiction: String,
        /// The latest period remitted.
        latest: String,
        /// The period asked for.
        asked: String,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] TaxStoreError),
    /// The ledger could not be reached; the call may be retried.
    #[error("the ledger is unavailable")]
    LedgerUnavailable,
    /// The ledger refused the posting, with its code.
    #[error("the ledger refused the posting: {0}")]
    LedgerRejected(&'static str),
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl TaxDeskError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registration(error) => error.code(),
            Self::Period(error) => error.code(),
            Self::NotEnded(_) => "period_not_ended",
            Self::OutOfOrder { .. } => "period_out_of_order",
            Self::Store(error) => error.code(),
            Self::LedgerUnavailable => "unavailable",
            Self::LedgerRejected(_) | Self::Money(_) => "internal",
        }
    }
}

/// One `tax_payable` account in a return period.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payable {
    /// The account's owner (`IT-OSS`, `US-CA-MPF`, `IN-TCS-IGST`).
    pub jurisdiction: Jurisdiction,
    /// Its currency.
    pub currency: Currency,
    /// Tax accrued during the period, refunds and reversals deducted.
    pub accrued: Money,
    /// What the period's remittance pays (or paid): accrued up to its end, less what was
    /// remitted for earlier periods.
    pub due: Money,
    /// The remittance, once posted.
    pub remitted: Option<Remittance>,
    /// A later period already remitted, if any: this one can no longer be.
    pub later: Option<String>,
}

/// Payables as CSV: `jurisdiction,currency,accrued,due,remitted_at_micros`, amounts in
/// major units; for India's TCS these are the GSTR-8 figures per IGST, CGST and state SGST.
pub fn payables_csv(payables: &[Payable]) -> String {
    let mut text = String::from("jurisdiction,currency,accrued,due,remitted_at_micros\n");
    for p in payables {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            p.jurisdiction.as_str(),
            p.currency.code(),
            p.accrued.amount_string(),
            p.due.amount_string(),
            p.remitted
                .as_ref()
                .map(|r| r.posted_at.as_micros().to_string())
                .unwrap_or_default(),
        ));
    }
    text
}

/// The tax desk service.
#[derive(Debug)]
pub struct TaxDesk<S, L> {
    store: S,
    ledger: L,
}

fn unavailable<E>(_: E) -> TaxDeskError {
    TaxDeskError::LedgerUnavailable
}

/// The id of a payable's remittance for a period.
pub fn remittance_transfer_id(
    jurisdiction: &Jurisdiction,
    currency: Currency,
    period: ReturnPeriod,
) -> TransferId {
    let name = format!(
        "tax_remittance:{}:{}:{period}",
        jurisdiction.as_str(),
        currency.code()
    );
    TransferId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

impl<S: TaxStore, L: LedgerStore + LedgerHistory> TaxDesk<S, L> {
    /// The desk over `store`, posting to `ledger`.
    pub fn new(store: S, ledger: L) -> Self {
        Self { store, ledger }
    }

    /// Checks and stores a seller's registration in `area`, replacing an earlier number
    /// there; returns it as stored (an Indian GSTIN's area carries its state).
    pub async fn register(
        &self,
        seller: SellerId,
        area: &str,
        number: &str,
        now: Timestamp,
    ) -> Result<TaxRegistration, TaxDeskError> {
        let registration = TaxRegistration::parse(area, number)?;
        self.store
            .put_registration(seller, &registration, now)
            .await?;
        Ok(registration)
    }

    /// Removes the seller's registration in `area`; whether there was one.
    pub async fn unregister(&self, seller: SellerId, area: &str) -> Result<bool, TaxDeskError> {
        let area = Area::parse(area).map_err(|_| RegistrationError::Area)?;
        Ok(self.store.remove_registration(seller, area).await?)
    }

    /// The seller's registrations.
    pub async fn registrations(
        &self,
        seller: SellerId,
    ) -> Result<Vec<TaxRegistration>, TaxDeskError> {
        Ok(self.store.registrations(seller).await?)
    }

    /// The `tax_payable` accounts whose tax `scheme`'s return declares.
    async fn scheme_accounts(
        &self,
        scheme: Scheme,
    ) -> Result<Vec<(Jurisdiction, Currency, AccountId)>, TaxDeskError> {
        let mut found = Vec::new();
        let mut after: Option<AccountId> = None;
        while let Some((last, accounts)) = accounts_after(&self.ledger, after, ACCOUNTS_PAGE)
            .await
            .map_err(unavailable)?
        {
            after = Some(last);
            for (account, _) in accounts {
                let owner = account.owner.as_str();
                if account.code.as_str() != TAX_PAYABLE_CODE || payable_scheme(owner) != scheme {
                    continue;
                }
                let jurisdiction =
                    Jurisdiction::new(owner).map_err(|_| TaxDeskError::LedgerRejected("chart"))?;
                found.push((jurisdiction, account.currency, account.id));
            }
        }
        Ok(found)
    }

    /// What the account had accrued by `at` (exclusive): its balance then, plus what was
    /// remitted before then.
    async fn accrued_by(
        &self,
        account: AccountId,
        currency: Currency,
        at: Timestamp,
        remittances: &[Remittance],
    ) -> Result<Money, TaxDeskError> {
        let last = Timestamp::from_micros(at.as_micros().saturating_sub(1));
        let balance = self
            .ledger
            .balance_at(account, last)
            .await
            .map_err(unavailable)?;
        let held = match balance {
            Some(balance) => balance
                .credits_posted
                .checked_sub(balance.debits_posted)
                .ok_or(MoneyError::Overflow)?,
            None => 0,
        };
        let mut accrued = Money::from_minor(held, currency);
        for remittance in remittances.iter().filter(|r| r.posted_at <= last) {
            accrued = accrued.checked_add(remittance.amount)?;
        }
        Ok(accrued)
    }

    /// Each payable of `scheme` in `period`: what accrued in it and what its remittance pays.
    pub async fn payables(
        &self,
        scheme: Scheme,
        period: ReturnPeriod,
    ) -> Result<Vec<Payable>, TaxDeskError> {
        let (from, to) = bounds(period)?;
        let mut out = Vec::new();
        for (jurisdiction, currency, account) in self.scheme_accounts(scheme).await? {
            let remittances = self.store.remittances(&jurisdiction, currency).await?;
            let before = self
                .accrued_by(account, currency, from, &remittances)
                .await?;
            let by_end = self.accrued_by(account, currency, to, &remittances).await?;
            let label = period.to_string();
            let this = remittances.iter().find(|r| r.period == label).cloned();
            let mut earlier = Money::zero(currency);
            for remittance in remittances.iter().filter(|r| r.period != label) {
                earlier = earlier.checked_add(remittance.amount)?;
            }
            let due = match &this {
                Some(remittance) => remittance.amount,
                None => by_end.checked_sub(earlier)?,
            };
            let later = remittances
                .iter()
                .find(|r| ReturnPeriod::parse(&r.period).is_ok_and(|p| p.start() > period.start()))
                .map(|r| r.period.clone());
            out.push(Payable {
                jurisdiction,
                currency,
                accrued: by_end.checked_sub(before)?,
                due,
                remitted: this,
                later,
            });
        }
        out.sort_by(|a, b| {
            (a.jurisdiction.as_str(), a.currency.code())
                .cmp(&(b.jurisdiction.as_str(), b.currency.code()))
        });
        Ok(out)
    }

    /// Remits every payable of `scheme` for `period`, which must have ended: posts each
    /// one's due amount from `tax_payable` to `bank` and records it. A payable remitted for
    /// this period already is left as it is; one remitted for a later period is refused.
    pub async fn remit(
        &self,
        scheme: Scheme,
        period: ReturnPeriod,
        now: Timestamp,
    ) -> Result<Vec<Payable>, TaxDeskError> {
        let (_, to) = bounds(period)?;
        if now < to {
            return Err(TaxDeskError::NotEnded(period.to_string()));
        }
        let label = period.to_string();
        let payables = self.payables(scheme, period).await?;
        if let Some(payable) = payables.iter().find(|p| p.later.is_some()) {
            return Err(TaxDeskError::OutOfOrder {
                jurisdiction: payable.jurisdiction.as_str().to_owned(),
                latest: payable.later.clone().unwrap_or_default(),
                asked: label,
            });
        }
        let mut out = Vec::with_capacity(payables.len());
        for mut payable in payables {
            if payable.remitted.is_none() && !payable.due.is_zero() {
                let posted_at = self.post(&payable, period).await?;
                let remittance = Remittance {
                    jurisdiction: payable.jurisdiction.clone(),
                    period: label.clone(),
                    amount: payable.due,
                    posted_at,
                };
                self.store.record_remittance(&remittance).await?;
                payable.remitted = Some(remittance);
            }
            out.push(payable);
        }
        Ok(out)
    }

    /// Posts a payable's due amount between `tax_payable` and `bank`; returns the ledger's
    /// timestamp of the posting (the original one on a retry).
    async fn post(
        &self,
        payable: &Payable,
        period: ReturnPeriod,
    ) -> Result<Timestamp, TaxDeskError> {
        let payable_account = ChartAccount::TaxPayable(payable.jurisdiction.clone());
        let (debit, credit, amount) = if payable.due.is_negative() {
            (
                ChartAccount::Bank,
                payable_account,
                payable.due.checked_neg()?,
            )
        } else {
            (payable_account, ChartAccount::Bank, payable.due)
        };
        let leg = Leg {
            name: "tax_remittance",
            debit,
            credit,
            amount,
        };
        let id = remittance_transfer_id(&payable.jurisdiction, payable.currency, period);
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), "tax_remittance".into());
        metadata.insert("jurisdiction".into(), payable.jurisdiction.as_str().into());
        metadata.insert("period".into(), period.to_string());
        let mut posting = Posting::default();
        posting.add(
            &leg,
            TransferRequest {
                id,
                kind: leg.direct(),
                metadata,
            },
        );
        crate::postings::submit(&self.ledger, posting)
            .await
            .map_err(|error| match error {
                crate::error::CommerceError::LedgerRejected { code } => {
                    TaxDeskError::LedgerRejected(code)
                }
                _ => TaxDeskError::LedgerUnavailable,
            })?;
        let transfer = self
            .ledger
            .transfer(id)
            .await
            .map_err(unavailable)?
            .ok_or(TaxDeskError::LedgerRejected("transfer_missing"))?;
        Ok(transfer.timestamp)
    }
}

fn bounds(period: ReturnPeriod) -> Result<(Timestamp, Timestamp), TaxDeskError> {
    match (period.from(), period.to()) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(TaxDeskError::Period(PeriodError::Format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remittance_ids_name_the_payable_currency_and_period_and_the_chart_code_holds() {
        let it = Jurisdiction::new("IT-OSS").unwrap();
        let q1 = ReturnPeriod::parse("2026-Q1").unwrap();
        let q2 = ReturnPeriod::parse("2026-Q2").unwrap();
        let id = remittance_transfer_id(&it, Currency::EUR, q1);
        assert_eq!(id, remittance_transfer_id(&it, Currency::EUR, q1));
        assert_ne!(id, remittance_transfer_id(&it, Currency::EUR, q2));
        assert_ne!(id, remittance_transfer_id(&it, Currency::USD, q1));
        assert_eq!(ChartAccount::TaxPayable(it).code(), TAX_PAYABLE_CODE);
    }
}
