//! Exchange-rate sources for Bazaar's [`RateBook`](bazaar_domain::fx::RateBook): the
//! European Central Bank's euro foreign exchange reference rates, and a configured rate table
//! for the currencies the ECB does not publish (KWD, BHD, ...). Both implement the
//! [`FxRateSource`](bazaar_domain::fx::FxRateSource) port.
//!
//! - [`parse_daily`] and [`parse_history`] read the ECB's XML documents
//!   (`eurofxref-daily.xml`, `eurofxref-hist-90d.xml`); [`EcbSource`] fetches the daily one
//!   through a [`DocumentLoader`] (a file, or an HTTP client the application supplies; this
//!   crate does no network I/O).
//! - [`ConfiguredRates`] reads a rate table from configuration text.
//!
//! # When the ECB's rates take effect
//!
//! The ECB publishes the reference rates of a working day at around 16:00 Central European
//! Time. A set read from the ECB takes effect at exactly 16:00 in Frankfurt on the
//! document's date, converted to UTC:
//!
//! - 15:00 UTC in winter (CET, UTC+1);
//! - 14:00 UTC in summer (CEST, UTC+2), which runs from the last Sunday of March to the last
//!   Sunday of October (the EU rule since 1996; the clocks change at 01:00 UTC, so both
//!   Sundays already have the new offset at 16:00).
//!
//! The rates of 18 July 2022 therefore take effect at 2022-07-18 14:00 UTC, which is
//! `Timestamp::from_micros(1_658_152_800_000_000)`. The date arithmetic (Howard Hinnant's
//! `days_from_civil`) and the TARGET calendar live in the domain's
//! [`fx::calendar`](bazaar_domain::fx::calendar), where the rule that decides when rates are
//! stale uses them too.
//!
//! # What is refused
//!
//! Every document is checked before any rate is used; a fault is
//! [`FxError::InvalidData`](bazaar_domain::fx::FxError::InvalidData) and error messages quote
//! at most a short, sanitised fragment of the input. Refused: documents over
//! [`MAX_DOCUMENT_BYTES`] (1 MiB), malformed or truncated XML, a root other than one
//! `gesmes:Envelope`, rates outside a dated `Cube`, a missing or impossible date, a date
//! twice, a currency twice in one day, a rate for EUR itself, a rate that is not a plain
//! positive decimal (`abc`, `-1`, `0`, `1e3`), a day without usable rates. A well-formed
//! three-letter code that [`Currency`](bazaar_money::Currency) does not accept (a code ISO
//! 4217 adds after our currency list was built, or one without a minor unit such as XDR) is
//! skipped, so that one new currency does not stop every conversion; a malformed code is
//! refused. A source that cannot be reached is
//! [`FxError::Unavailable`](bazaar_domain::fx::FxError::Unavailable).
//!
//! # The configured table
//!
//! ```text
//! # Rates per US dollar.
//! base=USD
//! KWD 0.3075
//! BHD 0.376
//! ```
//!
//! A `base=CODE` line, then one `CODE RATE` line per currency (units of the currency per one
//! unit of the base); `#` comments and blank lines are ignored. See [`ConfiguredRates::parse`]
//! for what is refused; unlike the ECB's codes, an unknown code in a table is refused as a
//! typo. A [`RateBook`](bazaar_domain::fx::RateBook) built from the ECB set and such a table
//! prices KWD through USD: EUR→KWD is the ECB's EUR→USD times the table's USD→KWD.
//!
//! # Test data
//!
//! `tests/data/eurofxref-daily-2022-07-18.xml` is the ECB's daily file for Monday
//! 18 July 2022, in the published layout and with that day's published rates (31 currencies,
//! USD 1.0131, JPY 140.16, GBP 0.84708, BRL 5.4505). The rates are the ECB's euro foreign
//! exchange reference rates
//! (<https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html>)
//! for that date, taken from the copy of `eurofxref-daily.xml` committed in the public
//! repository `KorazX/Currency-Calculator` and checked figure by figure against the
//! independent copy in `KarynaAliushkevich14/CurrencyCalculator`. The history test also uses
//! three published rates of 8 August 2022 (USD 1.0199, JPY 137.62, GBP 0.84165), from the
//! daily file committed in the public repository `Norsien/currencycalculator`.

mod ecb;
mod field;
mod table;

pub use ecb::{
    DocumentLoader, ECB_SOURCE_NAME, EcbSource, MAX_DOCUMENT_BYTES, parse_daily, parse_history,
};
pub use table::{ConfiguredRates, MAX_SOURCE_NAME_CHARS, MAX_TABLE_BYTES};
