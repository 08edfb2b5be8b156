//! The payout rails: the payment systems a payout travels on, each described as data (its
//! currency, the bank details it takes, its cut-off, how long it takes to settle, its
//! amount limits and how long a paid payout may still come back).
//!
//! The amount limits, cut-offs and return windows are the platform's settings for each rail,
//! chosen inside the scheme's own limits; the comments on [`Rail::spec`] say which scheme
//! rule each one follows.
//!
//! # Time zones
//!
//! A cut-off is a minute of the day in the rail's home [`Zone`], read on the local clock with
//! summer time: the ACH cut-off of 16:00 Eastern is 21:00 UTC in winter and 20:00 UTC in
//! summer.

use std::fmt;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use super::PayoutError;
use super::bank::{BankDetails, BankDetailsKind};
use super::calendar::BusinessCalendar;
use super::zone::{SummerTime, Zone};
use crate::fx::calendar::Date;

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// The countries whose IBANs the SEPA schemes reach: the EU, the EEA, Switzerland, the United
/// Kingdom, Monaco, San Marino, Vatican City and Andorra.
pub const SEPA_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "CH", "GB",
    "MC", "SM", "VA", "AD",
];

/// A payment system payouts are sent on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Rail {
    /// SEPA Credit Transfer (EUR).
    SepaCredit,
    /// SEPA Instant Credit Transfer (EUR).
    SepaInstant,
    /// The UK's Faster Payments (GBP).
    FasterPayments,
    /// ACH credits in the US (USD).
    Ach,
    /// The Clearing House's RTP network in the US (USD).
    Rtp,
    /// Brazil's Pix (BRL).
    Pix,
    /// India's IMPS, to an IFSC and account number (INR).
    Imps,
    /// India's UPI, to a virtual payment address (INR).
    Upi,
    /// Japan's Zengin system (JPY).
    Zengin,
    /// Mexico's SPEI (MXN).
    Spei,
    /// Kuwaiti domestic transfers to a KW IBAN (KWD).
    KwLocal,
    /// Bahraini domestic transfers to a BH IBAN (BHD).
    BhLocal,
}

/// How long a rail takes from submission to the money being in the recipient's account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Settlement {
    /// This many minutes after submission, at any hour of any day.
    Minutes(u32),
    /// This many business days after the day the payout is processed (the submission day
    /// when it is a business day before the cut-off, else the next business day); 0 is
    /// the same day.
    BusinessDays(u32),
}

/// A rail's settings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RailSpec {
    /// The only currency it carries.
    pub currency: Currency,
    /// The kinds of bank details it pays to.
    pub accepts: &'static [BankDetailsKind],
    /// The countries it reaches: their calendars apply, and an IBAN must be from one of them.
    pub countries: &'static [&'static str],
    /// Whether it settles in seconds at any hour (then `cutoff_minute` does not apply).
    pub instant: bool,
    /// The minute of the local day (0 to 1439) from which a submission counts for the next
    /// business day.
    pub cutoff_minute: u32,
    /// The time zone the cut-off is read in.
    pub zone: Zone,
    /// How long it takes to settle.
    pub settlement: Settlement,
    /// Whether it settles only on TARGET days as well as the country's business days.
    pub target_days: bool,
    /// The smallest amount, in minor units.
    pub min_minor: i64,
    /// The largest amount, in minor units.
    pub max_minor: i64,
    /// How many days after a payout is paid a return of it is still accepted.
    pub return_window_days: u32,
}

/// When a payout is expected to arrive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arrival {
    /// At this instant (instant rails).
    At(Timestamp),
    /// During this business day, in the rail's country (rails that settle in batches).
    On(Date),
}

const IBAN: &[BankDetailsKind] = &[BankDetailsKind::Iban];

impl Rail {
    /// Every rail.
    pub const ALL: [Self; 12] = [
        Self::SepaCredit,
        Self::SepaInstant,
        Self::FasterPayments,
        Self::Ach,
        Self::Rtp,
        Self::Pix,
        Self::Imps,
        Self::Upi,
        Self::Zengin,
        Self::Spei,
        Self::KwLocal,
        Self::BhLocal,
    ];

    /// The stored name, e.g. `sepa_credit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SepaCredit => "sepa_credit",
            Self::SepaInstant => "sepa_instant",
            Self::FasterPayments => "faster_payments",
            Self::Ach => "ach",
            Self::Rtp => "rtp",
            Self::Pix => "pix",
            Self::Imps => "imps",
            Self::Upi => "upi",
            Self::Zengin => "zengin",
            Self::Spei => "spei",
            Self::KwLocal => "kw_local",
            Self::BhLocal => "bh_local",
        }
    }

    /// The rail [`as_str`](Self::as_str) names; `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rail| rail.as_str() == name)
    }

    /// The rail's settings.
    ///
    /// - SEPA Credit Transfer: the rulebook's amount ceiling (999,999,999.99 EUR) and its
    ///   next-business-day execution; settles on TARGET days only.
    /// - SEPA Instant: ten seconds in the scheme; capped at 100,000 EUR by the platform.
    /// - Faster Payments: the scheme's 1,000,000 GBP limit; the scheme allows up to two hours.
    /// - ACH: the NACHA amount field's ceiling (99,999,999.99 USD); next-day settlement.
    /// - RTP: the network's 10,000,000 USD limit.
    /// - Pix, SPEI, KW and BH: no scheme ceiling fits every bank; platform caps.
    /// - IMPS: 500,000 INR per transfer; UPI: 100,000 INR per transfer (NPCI's limits).
    /// - Zengin: below 100,000,000 JPY; transfers from that amount up settle one by one in
    ///   BOJ-NET, which the platform does not use.
    pub fn spec(self) -> RailSpec {
        match self {
            Self::SepaCredit => RailSpec {
                accepts: IBAN,
                countries: SEPA_COUNTRIES,
                target_days: true,
                return_window_days: 14,
                ..batch(Currency::EUR, 14 * 60, CET, 1, 99_999_999_999)
            },
            Self::SepaInstant => RailSpec {
                accepts: IBAN,
                countries: SEPA_COUNTRIES,
                return_window_days: 14,
                ..instant(Currency::EUR, 1, 10_000_000)
            },
            Self::FasterPayments => RailSpec {
                accepts: &[BankDetailsKind::UkAccount],
                countries: &["GB"],
                settlement: Settlement::Minutes(120),
                return_window_days: 30,
                ..instant(Currency::GBP, 1, 100_000_000)
            },
            Self::Ach => RailSpec {
                accepts: &[BankDetailsKind::UsAccount],
                countries: &["US"],
                return_window_days: 60,
                ..batch(Currency::USD, 16 * 60, US_EASTERN, 1, 9_999_999_999)
            },
            Self::Rtp => RailSpec {
                accepts: &[BankDetailsKind::UsAccount],
                countries: &["US"],
                ..instant(Currency::USD, 1, 1_000_000_000)
            },
            Self::Pix => RailSpec {
                accepts: &[BankDetailsKind::PixKey],
                countries: &["BR"],
                return_window_days: 90,
                ..instant(Currency::BRL, 1, 100_000_000)
            },
            Self::Imps => RailSpec {
                accepts: &[BankDetailsKind::IndianAccount],
                countries: &["IN"],
                ..instant(Currency::INR, 100, 50_000_000)
            },
            Self::Upi => RailSpec {
                accepts: &[BankDetailsKind::UpiVpa],
                countries: &["IN"],
                ..instant(Currency::INR, 100, 10_000_000)
            },
            Self::Zengin => RailSpec {
                accepts: &[BankDetailsKind::Zengin],
                countries: &["JP"],
                settlement: Settlement::BusinessDays(0),
                ..batch(Currency::JPY, 15 * 60, Zone::fixed(540), 1, 99_999_999)
            },
            Self::Spei => RailSpec {
                accepts: &[BankDetailsKind::Clabe],
                countries: &["MX"],
                ..instant(Currency::MXN, 1, 1_000_000_000)
            },
            Self::KwLocal => RailSpec {
                accepts: IBAN,
                countries: &["KW"],
                ..batch(Currency::KWD, 12 * 60, Zone::fixed(180), 1, 100_000_000)
            },
            Self::BhLocal => RailSpec {
                accepts: IBAN,
                countries: &["BH"],
                ..batch(Currency::BHD, 12 * 60, Zone::fixed(180), 1, 100_000_000)
            },
        }
    }

    /// Whether the rail pays to `details`: a kind it takes and, for an IBAN, a country it
    /// reaches. The details' own checks are [`BankDetails::validate`]'s.
    pub fn accepts(self, details: &BankDetails) -> bool {
        let spec = self.spec();
        if !spec.accepts.contains(&details.kind()) {
            return false;
        }
        match details.iban_country() {
            Some(country) => spec.countries.contains(&country.as_str()),
            None => true,
        }
    }

    /// Validates `details` and checks that the rail pays to them.
    pub fn check_details(self, details: &BankDetails) -> Result<(), PayoutError> {
        details.validate()?;
        if self.accepts(details) {
            Ok(())
        } else {
            Err(PayoutError::DetailsNotAccepted {
                rail: self,
                kind: details.kind(),
            })
        }
    }

    /// The instant rail that pays an account held for this rail: itself when it is instant,
    /// SEPA Instant for a SEPA account, RTP for an ACH account; `None` when no instant rail
    /// reaches such an account.
    pub fn instant_counterpart(self) -> Option<Self> {
        match self {
            Self::SepaCredit => Some(Self::SepaInstant),
            Self::Ach => Some(Self::Rtp),
            rail if rail.spec().instant => Some(rail),
            _ => None,
        }
    }

    /// Checks an amount against the rail: its currency, more than zero, and within its
    /// limits.
    pub fn check_amount(self, amount: Money) -> Result<(), PayoutError> {
        let spec = self.spec();
        if amount.currency() != spec.currency {
            return Err(PayoutError::CurrencyMismatch {
                expected: spec.currency,
                found: amount.currency(),
            });
        }
        if !amount.is_positive() {
            return Err(PayoutError::AmountNotPositive);
        }
        if amount.minor() < spec.min_minor {
            return Err(PayoutError::AmountBelowMinimum {
                rail: self,
                minimum: Money::from_minor(spec.min_minor, spec.currency),
            });
        }
        if amount.minor() > spec.max_minor {
            return Err(PayoutError::AmountAboveMaximum {
                rail: self,
                maximum: Money::from_minor(spec.max_minor, spec.currency),
            });
        }
        Ok(())
    }

    /// When a payout submitted at `submitted_at` (UTC) is expected to arrive. An instant rail
    /// settles its minutes later, at any hour. Any other rail processes it on the local
    /// submission day when that is a business day and the submission is before the cut-off,
    /// else on the next business day, and settles its business days after that; a SEPA credit
    /// transfer counts only days that are TARGET days too. `calendar` must be the calendar of
    /// a country the rail reaches.
    pub fn expected_arrival(
        self,
        submitted_at: Timestamp,
        calendar: &BusinessCalendar,
    ) -> Result<Arrival, PayoutError> {
        let spec = self.spec();
        if !spec.countries.contains(&calendar.country().as_str()) {
            return Err(PayoutError::CountryNotServed {
                rail: self,
                country: calendar.country(),
            });
        }
        let business_days = match spec.settlement {
            Settlement::Minutes(minutes) => {
                let micros = i64::from(minutes)
                    .checked_mul(MICROS_PER_MINUTE)
                    .and_then(|micros| submitted_at.as_micros().checked_add(micros))
                    .ok_or(PayoutError::DateOutOfRange)?;
                return Ok(Arrival::At(Timestamp::from_micros(micros)));
            }
            Settlement::BusinessDays(days) => days,
        };
        let calendar = if spec.target_days {
            calendar.with_target()
        } else {
            *calendar
        };
        let (local_date, minute) = spec.zone.local(submitted_at)?;
        let before_cutoff = minute < i64::from(spec.cutoff_minute);
        let processed_on = if before_cutoff && calendar.is_business_day(local_date)? {
            local_date
        } else {
            let next_day = local_date.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
            calendar.next_business_day_on_or_after(next_day)?
        };
        Ok(Arrival::On(
            calendar.add_business_days(processed_on, business_days)?,
        ))
    }
}

impl fmt::Display for Rail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Central European Time, with the EU's summer time.
const CET: Zone = Zone::new(60, Some(SummerTime::Eu));
/// US Eastern Time, with the US summer time.
const US_EASTERN: Zone = Zone::new(-300, Some(SummerTime::Us));

/// The settings of an instant rail, before its own details are filled in.
const fn instant(currency: Currency, min_minor: i64, max_minor: i64) -> RailSpec {
    RailSpec {
        currency,
        accepts: &[],
        countries: &[],
        instant: true,
        cutoff_minute: 0,
        zone: Zone::UTC,
        settlement: Settlement::Minutes(1),
        target_days: false,
        min_minor,
        max_minor,
        return_window_days: 30,
    }
}

/// The settings of a rail that settles on business days, before its own details are filled
/// in; it settles the business day after it processes a payout.
const fn batch(
    currency: Currency,
    cutoff_minute: u32,
    zone: Zone,
    min_minor: i64,
    max_minor: i64,
) -> RailSpec {
    RailSpec {
        currency,
        accepts: &[],
        countries: &[],
        instant: false,
        cutoff_minute,
        zone,
        settlement: Settlement::BusinessDays(1),
        target_days: false,
        min_minor,
        max_minor,
        return_window_days: 30,
    }
}
