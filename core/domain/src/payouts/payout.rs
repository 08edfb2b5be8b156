//! Payouts as the store keeps them, and each seller's payout settings.

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use uuid::Uuid;

use super::{
    BankAccountId, LedgerChange, PayoutId, PayoutMoney, PayoutSchedule, PayoutState, Rail,
    RollingReserve,
};
use crate::Country;
use crate::chart::SellerId;
use crate::fx::calendar::Date;

/// How fast a payout travels, and what it may take.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PayoutKind {
    /// On the rail's normal schedule, from the available balance, free.
    Standard,
    /// Within minutes on an instant rail, from the instant-available balance, for a fee.
    Instant,
}

impl PayoutKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Instant => "instant",
        }
    }

    /// The kind [`as_str`](Self::as_str) names.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Standard, Self::Instant]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl PayoutId {
    /// The scheduled payout of a seller's `currency` balance on the seller's local `date`:
    /// every worker running the payout run derives the same id, so a seller is paid once.
    pub fn scheduled(seller: SellerId, currency: Currency, date: Date) -> Self {
        Self::from_uuid(Uuid::new_v5(
            &seller.as_uuid(),
            format!("payout:scheduled:{}:{date}", currency.code()).as_bytes(),
        ))
    }

    /// The payout a seller asks for under an idempotency key: a retry names the same one.
    pub fn for_key(seller: SellerId, key: &str) -> Self {
        Self::from_uuid(Uuid::new_v5(
            &seller.as_uuid(),
            format!("payout:requested:{key}").as_bytes(),
        ))
    }
}

/// A payout as the store keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payout {
    /// Its id; the rail's idempotency key too.
    pub id: PayoutId,
    /// Whose balance pays it.
    pub seller: SellerId,
    /// Standard or instant.
    pub kind: PayoutKind,
    /// What reaches the bank account, in its currency.
    pub amount: Money,
    /// An instant payout's fee, taken from the balance beside the amount.
    pub fee: Option<Money>,
    /// Where it goes.
    pub bank_account: BankAccountId,
    /// The rail that carries it.
    pub rail: Rail,
    /// Where it stands.
    pub state: PayoutState,
    /// The ledger change its last move asked for and that is not posted yet; no move is
    /// made while one is outstanding.
    pub ledger_due: Option<LedgerChange>,
    /// Why it was canceled, when the platform canceled it (`insufficient_balance`).
    pub canceled_reason: Option<String>,
    /// The rail's reference, once the rail accepted it.
    pub rail_reference: Option<String>,
    /// When the rail expects it to arrive, once accepted.
    pub expected_at: Option<Timestamp>,
    /// The seller's local date of the scheduled run that made it; `None` when the seller
    /// asked for it.
    pub scheduled_for: Option<Date>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Payout {
    /// The payout as the ledger needs it.
    pub fn money(&self) -> PayoutMoney {
        PayoutMoney {
            id: self.id,
            seller: self.seller,
            amount: self.amount,
            fee: self.fee,
        }
    }

    /// The currency it is paid in.
    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }
}

/// A payout to create.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewPayout {
    /// Its id: [`PayoutId::scheduled`] or [`PayoutId::for_key`].
    pub id: PayoutId,
    /// Whose balance pays it.
    pub seller: SellerId,
    /// Standard or instant.
    pub kind: PayoutKind,
    /// What reaches the bank account.
    pub amount: Money,
    /// An instant payout's fee.
    pub fee: Option<Money>,
    /// Where it goes: a verified account of the seller in the amount's currency.
    pub bank_account: BankAccountId,
    /// The account's rail.
    pub rail: Rail,
    /// The run's local date, for a scheduled payout.
    pub scheduled_for: Option<Date>,
    /// For an instant payout, the seller's daily limit, which the store checks atomically
    /// with the insert.
    pub instant_limit: Option<InstantLimit>,
}

/// An instant payout's daily limit as the store enforces it: the instant payouts of the
/// seller in the currency created within the seller's local day (not failed or canceled),
/// this one included, may not exceed `limit`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InstantLimit {
    /// The most per local day.
    pub limit: Money,
    /// The local day's first instant.
    pub from: Timestamp,
    /// The next local day's first instant.
    pub to: Timestamp,
}

/// A seller's share of a card payment the provider has settled: what instant payouts may
/// take. Recorded once per payment and seller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SettledCardFunds {
    /// The settled payment.
    pub payment: crate::payments::PaymentId,
    /// The seller.
    pub seller: SellerId,
    /// The seller's share, in its settlement currency.
    pub amount: Money,
}

/// A seller's payout settings for one currency. A seller without stored settings has the
/// defaults ([`PayoutSettings::default_for`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayoutSettings {
    /// The seller.
    pub seller: SellerId,
    /// When and how much is paid out.
    pub schedule: PayoutSchedule,
    /// Set when a payout failed for a reason in the bank details; cleared when the seller
    /// verifies an account in the currency.
    pub paused: bool,
    /// The seller's rolling reserve, if the platform set one.
    pub reserve: Option<RollingReserve>,
    /// The seller's local date of its first capture in the currency, once known.
    pub first_capture_on: Option<Date>,
}

impl PayoutSettings {
    /// A seller's settings before it chose any: daily payouts of everything available, no
    /// delay beyond the release, no minimum, no reserve.
    pub fn default_for(seller: SellerId, currency: Currency) -> Self {
        Self {
            seller,
            schedule: PayoutSchedule::daily(currency),
            paused: false,
            reserve: None,
            first_capture_on: None,
        }
    }
}

/// A seller as the release and payout runs see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayoutSeller {
    /// The seller.
    pub id: SellerId,
    /// Its country: the calendar, the clock, the release delay.
    pub country: Country,
    /// The currency its earnings are kept in.
    pub currency: Currency,
    /// Its stored settings in that currency, or the defaults.
    pub settings: PayoutSettings,
}
