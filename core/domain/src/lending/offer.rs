//! Offers: what a seller may borrow, computed from its settled sales alone, so the same
//! history on the same day always gives the same offer.
//!
//! - Eligible: selling for at least [`Policy::history_days_min`] days, at least
//!   [`Policy::volume_min`] sold in the trailing 365 days, refunds at most
//!   [`Policy::refund_rate_max_bps`] of sales and disputes at most
//!   [`Policy::dispute_rate_max_bps`] of the orders.
//! - Advance: [`Policy::advance_share_bps`] of the trailing 365 days' sales, at most
//!   [`Policy::advance_max`], rounded down to whole units of the currency.
//! - Fee: one flat fee by risk tier (refunds and disputes), 10% to 13% of the advance
//!   (Shopify Capital's factor rates run about 1.10 to 1.13).
//! - Withhold rate: what repays advance and fee in about nine months at the trailing pace,
//!   rounded up to a basis point, between 5% and 20%.
//! - Minimum: a sixth of advance plus fee every 60 days (repaid in at most 18 months).
//! - Expiry: [`OFFER_DAYS`] days after the offer.

use bazaar_money::{Currency, Money, MoneyError};

use crate::catalog::BasisPoints;
use crate::chart::SellerId;
use crate::fx::calendar::Date;
use crate::postings::prorate;

/// How long an offer can be accepted.
pub const OFFER_DAYS: i64 = 30;

/// How long each minimum-payment interval lasts.
pub const INTERVAL_DAYS: i64 = 60;

/// One settled sale, as lending sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SettledSale {
    /// The day it settled.
    pub day: Date,
    /// What the seller earned from it, in its settlement currency.
    pub net: Money,
    /// What of it was refunded since.
    pub refunded: Money,
    /// Whether the buyer disputed it.
    pub disputed: bool,
}

/// The rules offers follow; [`Policy::default`] is Bazaar's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Policy {
    /// Days since the first settled sale.
    pub history_days_min: i64,
    /// Sales in the trailing 365 days, in minor units of the seller's currency.
    pub volume_min: i64,
    /// The largest share of sales refunded.
    pub refund_rate_max_bps: i64,
    /// The largest share of orders disputed.
    pub dispute_rate_max_bps: i64,
    /// The advance's share of the trailing 365 days' sales.
    pub advance_share_bps: i64,
    /// The largest advance, in minor units.
    pub advance_max: i64,
    /// Days a loan may stay past due before it is charged off.
    pub charge_off_after_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            history_days_min: 180,
            volume_min: 1_000_000,
            refund_rate_max_bps: 1_000,
            dispute_rate_max_bps: 100,
            advance_share_bps: 1_500,
            advance_max: 25_000_000,
            charge_off_after_days: 90,
        }
    }
}

/// Why a seller gets no offer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Ineligible {
    /// Not selling long enough.
    #[error("at least {0} days of sales are needed")]
    TooNew(i64),
    /// Too little sold in the last year.
    #[error("too little was sold in the last 365 days")]
    TooLittleVolume,
    /// Too much refunded.
    #[error("too many sales were refunded")]
    TooManyRefunds,
    /// Too many disputes.
    #[error("too many sales were disputed")]
    TooManyDisputes,
    /// Sales in more than one currency, or another than the one asked.
    #[error("sales are in another currency")]
    Currency,
    /// An amount overflowed.
    #[error("an amount is out of range")]
    Overflow,
}

impl Ineligible {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooNew(_) => "loan_history_too_short",
            Self::TooLittleVolume => "loan_volume_too_low",
            Self::TooManyRefunds => "loan_refund_rate_too_high",
            Self::TooManyDisputes => "loan_dispute_rate_too_high",
            Self::Currency => "loan_currency_mismatch",
            Self::Overflow => "internal",
        }
    }
}

impl From<MoneyError> for Ineligible {
    fn from(_: MoneyError) -> Self {
        Self::Overflow
    }
}

/// The risk tier, from refunds and disputes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Tier {
    /// Refunds under 2%, no dispute: a 10% fee.
    A,
    /// Refunds under 5%, disputes under 0.5%: 12%.
    B,
    /// The rest of the eligible: 13%.
    C,
}

impl Tier {
    /// The fee's share of the advance.
    pub fn fee_bps(self) -> i64 {
        match self {
            Self::A => 1_000,
            Self::B => 1_200,
            Self::C => 1_300,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
            Self::C => "c",
        }
    }
}

/// What the seller may accept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Offer {
    /// Who.
    pub seller: SellerId,
    /// Paid out to the seller on acceptance.
    pub advance: Money,
    /// The one flat fee, repaid with the advance.
    pub fee: Money,
    /// The share of each settled sale withheld until advance and fee are repaid.
    pub withhold_rate: BasisPoints,
    /// What must be repaid in each 60-day interval, at least.
    pub minimum: Money,
    /// The tier that set the fee.
    pub tier: Tier,
    /// The day it was made.
    pub offered_on: Date,
    /// The last day it can be accepted.
    pub expires_on: Date,
}

impl Offer {
    /// Advance plus fee: what the seller repays in all.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.advance.checked_add(self.fee)
    }
}

fn bps_of(part: i64, whole: i64) -> Result<i64, Ineligible> {
    if whole == 0 {
        return Ok(0);
    }
    Ok(prorate(part, 10_000, whole)?)
}

/// The offer `history` earns on `today` in `currency`, or why there is none.
pub fn offer(
    seller: SellerId,
    currency: Currency,
    history: &[SettledSale],
    today: Date,
    policy: &Policy,
) -> Result<Offer, Ineligible> {
    if history.iter().any(|s| s.net.currency() != currency) {
        return Err(Ineligible::Currency);
    }
    let first = history.iter().map(|s| s.day).min();
    let days = |from: Date| -> Option<i64> {
        today
            .days_since_epoch()?
            .checked_sub(from.days_since_epoch()?)
    };
    match first.and_then(days) {
        Some(age) if age >= policy.history_days_min => {}
        _ => return Err(Ineligible::TooNew(policy.history_days_min)),
    }
    let recent: Vec<&SettledSale> = history
        .iter()
        .filter(|s| days(s.day).is_some_and(|d| (0..365).contains(&d)))
        .collect();
    let (mut volume, mut refunded, mut disputes) = (0_i64, 0_i64, 0_i64);
    for sale in &recent {
        volume = volume
            .checked_add(sale.net.minor())
            .ok_or(Ineligible::Overflow)?;
        refunded = refunded
            .checked_add(sale.refunded.minor())
            .ok_or(Ineligible::Overflow)?;
        disputes = disputes
            .checked_add(i64::from(sale.disputed))
            .ok_or(Ineligible::Overflow)?;
    }
    if volume < policy.volume_min {
        return Err(Ineligible::TooLittleVolume);
    }
    let orders = i64::try_from(recent.len()).map_err(|_| Ineligible::Overflow)?;
    let refund_bps = bps_of(refunded, volume)?;
    let dispute_bps = bps_of(disputes, orders)?;
    if refund_bps > policy.refund_rate_max_bps {
        return Err(Ineligible::TooManyRefunds);
    }
    if dispute_bps > policy.dispute_rate_max_bps {
        return Err(Ineligible::TooManyDisputes);
    }
    let tier = match (refund_bps, dispute_bps) {
        (r, 0) if r < 200 => Tier::A,
        (r, d) if r < 500 && d < 50 => Tier::B,
        _ => Tier::C,
    };
    let unit = 10_i64
        .checked_pow(currency.exponent())
        .ok_or(Ineligible::Overflow)?;
    let share = prorate(volume, policy.advance_share_bps, 10_000)?.min(policy.advance_max);
    let advance = share
        .checked_div(unit)
        .and_then(|whole| whole.checked_mul(unit))
        .ok_or(Ineligible::Overflow)?;
    if advance <= 0 {
        return Err(Ineligible::TooLittleVolume);
    }
    let fee = prorate(advance, tier.fee_bps(), 10_000)?;
    let total = advance.checked_add(fee).ok_or(Ineligible::Overflow)?;
    // Nine months of sales at the trailing year's pace repay the total.
    let nine_months = prorate(volume, 270, 365)?.max(1);
    let rate = ceil_div(
        total.checked_mul(10_000).ok_or(Ineligible::Overflow)?,
        nine_months,
    )?
    .clamp(500, 2_000);
    let withhold_rate = u16::try_from(rate)
        .ok()
        .and_then(|r| BasisPoints::new(r).ok())
        .ok_or(Ineligible::Overflow)?;
    Ok(Offer {
        seller,
        advance: Money::from_minor(advance, currency),
        fee: Money::from_minor(fee, currency),
        withhold_rate,
        minimum: Money::from_minor(ceil_div(total, 6)?, currency),
        tier,
        offered_on: today,
        expires_on: today.add_days(OFFER_DAYS).ok_or(Ineligible::Overflow)?,
    })
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> Result<i64, Ineligible> {
    let quotient = a.checked_div(b).ok_or(Ineligible::Overflow)?;
    let rest = a.checked_rem(b).ok_or(Ineligible::Overflow)?;
    Ok(if rest > 0 {
        quotient.checked_add(1).ok_or(Ineligible::Overflow)?
    } else {
        quotient
    })
}
