//! Bazaar's marketplace rules, without I/O. Ports (traits) for what the rules need from the
//! outside world live here too; adapters implement them.
//!
//! - [`chart`]: the chart of accounts every money flow posts to.
//! - [`events`]: the events others hear about, and their ids.
//! - [`fx`]: exchange rates, the rate-source port, conversion with a spread.
//! - [`payments`]: the payment-provider port and payment methods.
//! - [`time`]: the one RFC 3339 form of instants.
//! - [`webhooks`]: webhook signatures, endpoint URL and event-pattern rules, the retry schedule.
#![deny(clippy::float_arithmetic, clippy::float_cmp)]

use std::fmt;

pub mod catalog;
pub mod chart;
pub mod error;
pub mod events;
pub mod fx;
pub mod identity;
pub mod orders;
pub mod payments;
pub mod postings;
pub mod recovery;
pub mod service;
pub mod store;
pub mod time;
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
