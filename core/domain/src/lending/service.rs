//! The lending service: offers from the ledger's record of a seller's sales, acceptance and
//! disbursement, the seller's loans, and finance's portfolio.

use std::collections::BTreeMap;

use bazaar_ledger::{LedgerHistory, LedgerStore, Timestamp, walk_history};
use bazaar_money::{Currency, Money, MoneyError};
use uuid::Uuid;

use super::{
    Ineligible, LendingStore, LendingStoreError, Loan, LoanError, LoanEvent, LoanId, LoanState,
    OfferId, Policy, RepaidFrom, StoredOffer, disbursement_legs, loan_posting, offer, paid_events,
    repayment_legs, sales_from_history,
};
use crate::chart::{ChartAccount, SellerId};
use crate::error::CommerceError;
use crate::events::EventType;
use crate::fx::calendar::Date;
use crate::postings::Leg;

/// The most history entries read to compute an offer.
const HISTORY_MAX: usize = 200_000;

/// Loans read per page for the portfolio.
const PORTFOLIO_PAGE: u32 = 500;

/// The namespace of offer ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x5b0c_8e21_4d7f_4a93_a6e4_19c2_d7f3_0b58);

/// Why a lending call was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LendingError {
    /// The seller's sales earn no offer.
    #[error(transparent)]
    Ineligible(#[from] Ineligible),
    /// A loan step was refused.
    #[error(transparent)]
    Loan(#[from] LoanError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] LendingStoreError),
    /// No such offer for this seller.
    #[error("offer not found")]
    NotFound,
    /// The offer's last day has passed.
    #[error("the offer expired on {0}")]
    Expired(String),
    /// The seller has a loan still being repaid.
    #[error("a loan is still being repaid")]
    LoanOpen,
    /// The ledger could not be reached; the call may be retried.
    #[error("the ledger is unavailable")]
    LedgerUnavailable,
    /// The ledger refused the posting.
    #[error("the ledger refused the posting: {0}")]
    LedgerRejected(&'static str),
}

impl LendingError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ineligible(error) => error.code(),
            Self::Loan(error) => error.code(),
            Self::Store(error) => error.code(),
            Self::NotFound => "not_found",
            Self::Expired(_) => "offer_expired",
            Self::LoanOpen => "loan_open",
            Self::LedgerUnavailable => "unavailable",
            Self::LedgerRejected(_) => "internal",
        }
    }
}

impl From<MoneyError> for LendingError {
    fn from(_: MoneyError) -> Self {
        Self::Loan(LoanError::Amount)
    }
}

/// The id of the offer a seller's sales earn in `currency` on `day`: asking again the same
/// day names the same offer.
pub fn offer_id(seller: SellerId, currency: Currency, day: Date) -> OfferId {
    let name = format!("offer:{seller}:{}:{day}", currency.code());
    OfferId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

/// The id of the loan an offer opens.
pub fn loan_id(offer: OfferId) -> LoanId {
    LoanId::from_uuid(Uuid::new_v5(&offer.as_uuid(), b"loan"))
}

/// One currency of the portfolio.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PortfolioLine {
    /// The currency.
    pub currency: Currency,
    /// Loans not closed.
    pub open_loans: u64,
    /// Still owed on loans not closed (advance and fee).
    pub outstanding: Money,
    /// Of it, on loans with nothing overdue.
    pub current: Money,
    /// On loans past due 1 to 30 days, 31 to 60, and 61 or more.
    pub past_due: [Money; 3],
    /// Advances written off.
    pub charged_off: Money,
    /// Fees collected.
    pub fee_income: Money,
}

/// Lending: offers, acceptance, loans and the portfolio.
#[derive(Debug)]
pub struct Lending<S, L> {
    pub(super) store: S,
    pub(super) ledger: L,
    pub(super) policy: Policy,
}

pub(super) fn unavailable<E>(_: E) -> LendingError {
    LendingError::LedgerUnavailable
}

pub(super) fn is_open(loan: &Loan) -> bool {
    matches!(loan.state, LoanState::Active | LoanState::PastDue { .. })
}

impl<S: LendingStore, L: LedgerStore + LedgerHistory> Lending<S, L> {
    /// The service over `store`, posting to `ledger`, offering by `policy`.
    pub fn new(store: S, ledger: L, policy: Policy) -> Self {
        Self {
            store,
            ledger,
            policy,
        }
    }

    /// The offer the seller's settled sales in `currency` earn on `today` (the same one all
    /// day), stored; refused while a loan is open that may not be refilled.
    pub async fn offer(
        &self,
        seller: SellerId,
        currency: Currency,
        today: Date,
        now: Timestamp,
    ) -> Result<StoredOffer, LendingError> {
        for loan in self.store.loans_of(seller).await? {
            if is_open(&loan) && !self.current(loan, today).await?.refill_eligible()? {
                return Err(LendingError::LoanOpen);
            }
        }
        // An offer made today stands all day: the ledger is read once.
        let id = offer_id(seller, currency, today);
        if let Some(stored) = self.store.offer(seller, id).await? {
            return Ok(stored);
        }
        let account = ChartAccount::SellerPending(seller).id(currency);
        let since = today.add_days(-366).ok_or(LoanError::Amount)?;
        let entries = walk_history(&self.ledger, account, None, HISTORY_MAX, |entry| {
            Date::of_instant(entry.transfer.timestamp).is_some_and(|day| day < since)
        })
        .await
        .map_err(unavailable)?;
        let sales = sales_from_history(account, currency, &entries)?;
        let terms = offer(seller, currency, &sales, today, &self.policy)?;
        let offered = LoanEvent::once(EventType::LoanOffered);
        Ok(self.store.save_offer(id, &terms, &[offered], now).await?)
    }

    /// Accepts the seller's offer: the advance is posted to the seller's available balance
    /// (paid out from there) and the loan opened. A refill (an offer made while a loan
    /// three-quarters repaid and never late is open) repays that loan out of the new advance
    /// in the same batch. Accepting it again returns the same loan; an expired offer, or one
    /// made while a loan that may not be refilled is open, is refused.
    pub async fn accept(
        &self,
        seller: SellerId,
        id: OfferId,
        today: Date,
        now: Timestamp,
    ) -> Result<Loan, LendingError> {
        let stored = self
            .store
            .offer(seller, id)
            .await?
            .ok_or(LendingError::NotFound)?;
        let loan = Loan::open(loan_id(id), &stored.offer, today);
        let loans = self.store.loans_of(seller).await?;
        if let Some(existing) = loans.iter().find(|l| l.id == loan.id) {
            return Ok(*existing);
        }
        if today > stored.offer.expires_on {
            return Err(LendingError::Expired(stored.offer.expires_on.to_string()));
        }
        let mut legs = disbursement_legs(&loan);
        let mut refilled = None;
        for open in loans.iter().filter(|l| is_open(l)) {
            let before = self.current(*open, today).await?;
            if !before.refill_eligible()? || refilled.is_some() {
                return Err(LendingError::LoanOpen);
            }
            let mut after = before;
            let repaid = after.repay_in_full(stored.offer.advance, today)?;
            legs.extend(
                repayment_legs(&before, repaid, RepaidFrom::Balance)?
                    .into_iter()
                    .map(|leg| Leg {
                        name: if leg.name == "repay" {
                            "refill_repay"
                        } else {
                            "refill_earn_fee"
                        },
                        ..leg
                    }),
            );
            refilled = Some((before, after, repaid));
        }
        self.post(loan.id, "disbursed", &legs).await?;
        if let Some((before, after, repaid)) = refilled {
            // The ledger holds the repayment; a lost save is caught up by the next look.
            let events = paid_events(&after, repaid.total()?);
            self.store.save_loan(&before, &after, &events, now).await?;
        }
        let events = [
            LoanEvent::once(EventType::LoanAccepted),
            LoanEvent {
                amount: Some(loan.advance),
                ..LoanEvent::once(EventType::LoanDisbursed)
            },
        ];
        Ok(self.store.open_loan(id, &loan, &events, now).await?)
    }

    /// Posts `legs` as the loan's step `key`.
    pub(super) async fn post(
        &self,
        loan: LoanId,
        key: &str,
        legs: &[Leg],
    ) -> Result<(), LendingError> {
        if !legs.iter().any(|leg| leg.amount.is_positive()) {
            return Ok(());
        }
        crate::postings::submit(&self.ledger, loan_posting(loan, key, legs))
            .await
            .map_err(|error| match error {
                CommerceError::LedgerRejected { code } => LendingError::LedgerRejected(code),
                _ => LendingError::LedgerUnavailable,
            })
    }

    /// The seller's loans, newest first, each brought up to date with the ledger.
    pub async fn loans(&self, seller: SellerId, today: Date) -> Result<Vec<Loan>, LendingError> {
        let mut loans = Vec::new();
        for loan in self.store.loans_of(seller).await? {
            loans.push(self.current(loan, today).await?);
        }
        Ok(loans)
    }

    /// The portfolio per currency on `today`.
    pub async fn portfolio(&self, today: Date) -> Result<Vec<PortfolioLine>, LendingError> {
        let mut lines: BTreeMap<Currency, PortfolioLine> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self.store.loans(after, PORTFOLIO_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            for loan in page {
                let loan = self.current(loan, today).await?;
                add_to_portfolio(&mut lines, &loan, today)?;
            }
        }
        Ok(lines.into_values().collect())
    }
}

/// Adds one loan to its currency's line.
fn add_to_portfolio(
    lines: &mut BTreeMap<Currency, PortfolioLine>,
    loan: &Loan,
    today: Date,
) -> Result<(), LendingError> {
    let currency = loan.advance.currency();
    let zero = Money::zero(currency);
    let line = lines.entry(currency).or_insert(PortfolioLine {
        currency,
        open_loans: 0,
        outstanding: zero,
        current: zero,
        past_due: [zero; 3],
        charged_off: zero,
        fee_income: zero,
    });
    line.fee_income = line.fee_income.checked_add(loan.paid_fee)?;
    line.charged_off = line.charged_off.checked_add(loan.written_off)?;
    let remaining = loan.remaining()?;
    match loan.state {
        LoanState::Active => {
            line.current = line.current.checked_add(remaining)?;
        }
        LoanState::PastDue { since } => {
            let days = today
                .days_since_epoch()
                .zip(since.days_since_epoch())
                .and_then(|(a, b)| a.checked_sub(b))
                .unwrap_or(0);
            let bucket = match days {
                ..=30 => 0,
                31..=60 => 1,
                _ => 2,
            };
            if let Some(slot) = line.past_due.get_mut(bucket) {
                *slot = slot.checked_add(remaining)?;
            }
        }
        LoanState::ChargedOff { .. } | LoanState::PaidOff { .. } => return Ok(()),
    }
    line.open_loans = line.open_loans.saturating_add(1);
    line.outstanding = line.outstanding.checked_add(remaining)?;
    Ok(())
}
