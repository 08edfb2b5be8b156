//! When a seller's captured funds become available, what a rolling reserve holds back, and
//! what an instant payout costs.
//!
//! A capture credits the seller's `seller_pending` account. After the release delay (business
//! days in the seller's country, longer while the seller is new) the seller's share moves to
//! `seller_available`, less the rolling reserve, which moves to `seller_reserve` and follows
//! to `seller_available` when its hold ends. The amounts are split here; the ledger moves
//! them.

use bazaar_money::{Money, Rounding};
use rust_decimal::Decimal;

use super::{BusinessCalendar, PayoutError};
use crate::Country;
use crate::catalog::BasisPoints;
use crate::fx::calendar::Date;

/// The longest release delay a policy may set, in business days.
pub const RELEASE_DELAY_MAX: u32 = 30;
/// The longest a rolling reserve may be held, in calendar days.
pub const RESERVE_HOLD_MAX: u32 = 180;

/// A percentage of each release held back for a while: the platform's cover for refunds and
/// chargebacks that arrive after the seller was paid.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RollingReserve {
    /// The share of each release held, in basis points (at most 10,000).
    pub share: BasisPoints,
    /// How long each held part stays in `seller_reserve`, in calendar days.
    pub hold_days: u32,
}

/// How a seller's funds are released.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReleasePolicy {
    /// Business days from capture to availability.
    pub delay_days: u32,
    /// The delay instead, while the seller is new.
    pub new_seller_delay_days: u32,
    /// How long a seller counts as new: calendar days from their first capture.
    pub new_seller_for_days: u32,
    /// The rolling reserve, if the seller has one.
    pub reserve: Option<RollingReserve>,
}

impl ReleasePolicy {
    /// The platform's default for sellers in `country`: a few business days (two where
    /// card funds settle fastest), seven for a seller's first thirty days, no reserve.
    pub fn default_for(country: Country) -> Result<Self, PayoutError> {
        let delay_days = match country.as_str() {
            "US" | "BR" => 2,
            "GB" | "DE" | "FR" | "NL" | "MX" | "IN" => 3,
            "JP" => 4,
            "KW" | "BH" => 5,
            _ => return Err(PayoutError::CountryNotCovered(country)),
        };
        Ok(Self {
            delay_days,
            new_seller_delay_days: 7,
            new_seller_for_days: 30,
            reserve: None,
        })
    }

    /// The policy if every bound holds: delays at most [`RELEASE_DELAY_MAX`], a reserve's
    /// hold at most [`RESERVE_HOLD_MAX`], a reserve share of at most 100%.
    pub fn checked(self) -> Result<Self, PayoutError> {
        for delay in [self.delay_days, self.new_seller_delay_days] {
            if delay > RELEASE_DELAY_MAX {
                return Err(PayoutError::DelayTooLong(delay));
            }
        }
        if let Some(reserve) = self.reserve
            && (reserve.share.get() > 10_000 || reserve.hold_days > RESERVE_HOLD_MAX)
        {
            return Err(PayoutError::InvalidReserve);
        }
        Ok(self)
    }
}

/// The part of a release held in the rolling reserve.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Held {
    /// The amount held.
    pub amount: Money,
    /// The local date it moves on to `seller_available`.
    pub until: Date,
}

/// What one capture's seller share becomes, and when.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Release {
    /// The seller's local date the funds leave `seller_pending`.
    pub on: Date,
    /// What moves to `seller_available` then.
    pub available: Money,
    /// What moves to `seller_reserve` then, if a reserve applies and holds anything.
    pub held: Option<Held>,
}

/// The release of `share` (a capture's seller share) captured on the seller's local date
/// `captured_on`, for a seller whose first capture was on `first_capture_on`. The reserve is
/// rounded down to the minor unit, so the seller gets any fraction; `available` plus `held`
/// is always exactly `share`.
pub fn release_of(
    share: Money,
    captured_on: Date,
    first_capture_on: Date,
    calendar: &BusinessCalendar,
    policy: &ReleasePolicy,
) -> Result<Release, PayoutError> {
    if share.is_negative() {
        return Err(PayoutError::AmountNotPositive);
    }
    let new_until = first_capture_on
        .add_days(i64::from(policy.new_seller_for_days))
        .ok_or(PayoutError::DateOutOfRange)?;
    let delay = if captured_on < new_until {
        policy.new_seller_delay_days
    } else {
        policy.delay_days
    };
    let on = calendar.add_business_days(captured_on, delay)?;
    let Some(reserve) = policy.reserve else {
        return Ok(Release {
            on,
            available: share,
            held: None,
        });
    };
    let held = share_of(share, reserve.share, Rounding::Down)?;
    let held = if held.is_positive() {
        Some(Held {
            amount: held,
            until: on
                .add_days(i64::from(reserve.hold_days))
                .ok_or(PayoutError::DateOutOfRange)?,
        })
    } else {
        None
    };
    Ok(Release {
        on,
        available: share.checked_sub(held.map_or(Money::zero(share.currency()), |h| h.amount))?,
        held,
    })
}

/// How far back [`released_through`] looks for a capture date: the longest delay in
/// business days ([`RELEASE_DELAY_MAX`], 30) three times over, for weekends and holidays.
const RELEASE_SEARCH_DAYS: i64 = 90;

/// The last of the seller's local capture dates whose funds are released by `today`, or
/// `None` when none is yet.
///
/// Funds are released in capture order: a date's funds go once its own delay has passed
/// (business days after the capture date: `policy.new_seller_delay_days` while the seller is
/// new, `policy.delay_days` after; never fewer than `delay_floor`, the seller's own
/// schedule delay) and once every earlier date's have gone. So the first captures after a
/// seller stops being new wait for the last new-seller captures, and the amount released by
/// a date is a running total that only grows.
pub fn released_through(
    today: Date,
    first_capture_on: Date,
    calendar: &BusinessCalendar,
    policy: &ReleasePolicy,
    delay_floor: u32,
) -> Result<Option<Date>, PayoutError> {
    let new_until = first_capture_on
        .add_days(i64::from(policy.new_seller_for_days))
        .ok_or(PayoutError::DateOutOfRange)?;
    let release_on = |captured: Date| {
        let delay = if captured < new_until {
            policy.new_seller_delay_days
        } else {
            policy.delay_days
        };
        calendar.add_business_days(captured, delay.max(delay_floor))
    };
    let last_new = new_until.add_days(-1).ok_or(PayoutError::DateOutOfRange)?;
    let last_new_release = release_on(last_new)?;
    for back in 0..=RELEASE_SEARCH_DAYS {
        let captured = today
            .add_days(back.wrapping_neg())
            .ok_or(PayoutError::DateOutOfRange)?;
        if captured < first_capture_on {
            return Ok(None);
        }
        let mut on = release_on(captured)?;
        if captured > last_new && last_new_release > on {
            on = last_new_release;
        }
        if on <= today {
            return Ok(Some(captured));
        }
    }
    Ok(None)
}

/// `amount` times `bps` / 10,000, rounded to the minor unit by `rounding`.
pub fn share_of(amount: Money, bps: BasisPoints, rounding: Rounding) -> Result<Money, PayoutError> {
    let factor = Decimal::new(i64::from(bps.get()), 4);
    Ok(amount.mul_decimal(factor, rounding)?.value)
}

/// What instant payouts cost and how much a seller may take instantly each local day.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InstantTerms {
    /// The fee, in basis points of the payout, rounded half up to the minor unit and never
    /// below one minor unit.
    pub fee: BasisPoints,
    /// The most a seller may pay out instantly per local day, in minor units of the
    /// payout's currency.
    pub daily_limit_minor: i64,
}

impl InstantTerms {
    /// The platform's terms in `country`: 1% (1.5% in the United States, where the card
    /// networks' push-to-card costs more), and a daily limit of about 10,000 US dollars in
    /// the local currency. `None` where no instant rail reaches.
    pub fn for_country(country: Country) -> Option<Self> {
        let (fee, daily_limit_minor) = match country.as_str() {
            "US" => (150, 1_000_000),
            "DE" | "FR" | "NL" => (100, 1_000_000),
            "GB" => (100, 800_000),
            "BR" => (100, 5_000_000),
            "IN" => (100, 80_000_000),
            _ => return None,
        };
        Some(Self {
            fee: BasisPoints::new(fee).ok()?,
            daily_limit_minor,
        })
    }

    /// The fee on an instant payout of `amount`.
    pub fn fee_on(&self, amount: Money) -> Result<Money, PayoutError> {
        if !amount.is_positive() {
            return Err(PayoutError::AmountNotPositive);
        }
        let fee = share_of(amount, self.fee, Rounding::HalfUp)?;
        Ok(if fee.is_positive() || self.fee.get() == 0 {
            fee
        } else {
            Money::from_minor(1, amount.currency())
        })
    }

    /// Whether an instant payout of `amount` fits beside `taken_today` (instant payouts
    /// already made this local day, in the same currency).
    pub fn check_limit(&self, amount: Money, taken_today: Money) -> Result<(), PayoutError> {
        let after = taken_today.checked_add(amount)?;
        if after.minor() > self.daily_limit_minor {
            return Err(PayoutError::InstantLimitReached {
                limit: Money::from_minor(self.daily_limit_minor, amount.currency()),
                taken: taken_today,
            });
        }
        Ok(())
    }
}
