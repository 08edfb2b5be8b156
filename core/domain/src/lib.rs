//! Bazaar's marketplace rules, without I/O. Ports (traits) for what the rules need from the
//! outside world live here too; adapters implement them.
//!
//! One folder (or file) per bounded context, each with its model, its rules (pure functions
//! that decide and return a change named for its intent), its ports (traits whose docs say
//! what an implementation MUST do) and its service:
//!
//! - [`catalog`]: sellers, buyers, products and SKUs.
//! - [`orders`]: checkout and orders: carts, prices, order and payment states.
//! - [`payments`]: the payment-provider port, payment methods, and the payment state machine
//!   ([`payments::payment_change`]).
//! - [`fx`]: exchange rates, the rate-source port, conversion with a spread, the TARGET
//!   calendar.
//! - [`identity`]: users, sign-up and sessions ([`identity::Identity`]).
//! - [`events`] and [`webhooks`]: the events others hear about, the outbox and bus ports, and
//!   webhook endpoints and deliveries ([`webhooks::Webhooks`]).
//! - [`payouts`]: business-day calendars per country, payout schedules, bank details, payout
//!   rails and the payout state machine ([`payouts::transition`]); rules only so far.
//! - [`lending`]: offers from settled sales, loans repaid by withholding with minimum
//!   payments, arrears and charge-off, and their postings; rules only so far.
//! - [`tax`]: the tax engine (place of supply, liable party, scheme, rate, the rule that
//!   decided), rates as dated data, VAT numbers, registrations, returns; pure.
//! - [`tax_desk`]: sellers' tax registrations and the remittance of what each `tax_payable`
//!   account owes per return period ([`tax_desk::TaxDesk`]).
//!
//! Shared by the commerce contexts (catalog, orders, payments), which commit together:
//! [`chart`] (the chart of accounts every money flow posts to), [`postings`] (the postings of
//! each flow), [`store`] (the `CommerceStore` port), [`recovery`] (retry schedules) and
//! [`service`] (the `Marketplace` service). [`time`] holds the one RFC 3339 form of instants.
#![deny(clippy::float_arithmetic, clippy::float_cmp)]
#![warn(missing_docs)]

use std::fmt;

pub mod audit;
pub mod catalog;
pub mod chart;
pub mod error;
pub mod events;
pub mod fx;
pub mod identity;
pub mod lending;
pub mod orders;
pub mod payments;
pub mod payouts;
pub mod postings;
pub mod reconciliation;
pub mod recovery;
pub mod service;
pub mod store;
pub mod tax;
pub mod tax_desk;
pub mod time;
pub mod vault;
pub mod webhooks;

/// An ISO 3166-1 alpha-2 country code, e.g. `BR`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Two upper-case ASCII letters.
    pub fn new(code: &str) -> Result<Self, chart::InvalidName> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([a, b])),
            _ => Err(chart::InvalidName),
        }
    }

    /// The two letters, e.g. `BR`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}
