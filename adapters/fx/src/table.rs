//! A rate table kept in configuration, for currencies the ECB does not publish.
//!
//! ```text
//! # Rates per US dollar, reviewed by treasury.
//! base=USD
//! KWD 0.3075
//! BHD 0.376   # trailing comments are fine
//! ```
//!
//! One `base=CODE` line comes before any rate; then one `CODE RATE` line per currency, the
//! two fields separated by spaces or tabs. `#` starts a comment that runs to the end of the
//! line; blank lines are ignored.

use std::collections::BTreeMap;
use std::future::{Future, ready};

use bazaar_domain::fx::{FxError, FxRateSource, RateSet};
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use rust_decimal::Decimal;

use crate::field::{Code, currency_code, fragment, invalid, positive_rate};

/// The largest table read: 64 KiB, over twenty times what a table of every ISO 4217
/// currency needs.
pub const MAX_TABLE_BYTES: usize = 64 * 1024;

/// The longest source name: it is stored with every conversion that uses the table.
pub const MAX_SOURCE_NAME_CHARS: usize = 32;

/// A validated rate table, served as an [`FxRateSource`] that always returns the same set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfiguredRates {
    set: RateSet,
}

impl ConfiguredRates {
    /// Reads a table in the format of the [crate documentation](crate#the-configured-table).
    ///
    /// `source_name` (1 to [`MAX_SOURCE_NAME_CHARS`] of ASCII letters, digits, `-`, `_`, `.`)
    /// names the table in every conversion that uses it; `effective_at` is when the table's
    /// rates took effect (for example when treasury approved them), which is what
    /// [`RateSet::effective_at`] must be, not the time the file was read.
    ///
    /// Unlike the ECB document, a table is written by the operator, so a code ISO 4217 does
    /// not know is a typo and refused, not skipped. Also refused: a missing or repeated
    /// `base` line, a rate before the `base` line, a rate for the base itself, the same
    /// currency twice, a rate that is not a positive decimal, and a table with no rates.
    pub fn parse(source_name: &str, text: &str, effective_at: Timestamp) -> Result<Self, FxError> {
        check_source_name(source_name)?;
        if text.len() > MAX_TABLE_BYTES {
            return Err(invalid(
                source_name,
                format!("table is larger than the {MAX_TABLE_BYTES} bytes allowed"),
            ));
        }
        let mut table = Table::default();
        for (index, line) in text.lines().enumerate() {
            let number = index.saturating_add(1);
            table
                .line(line)
                .map_err(|reason| invalid(source_name, format!("line {number}: {reason}")))?;
        }
        let Some(base) = table.base else {
            return Err(invalid(source_name, "the table has no base=CODE line"));
        };
        if table.rates.is_empty() {
            return Err(invalid(source_name, "the table has no rates"));
        }
        Ok(Self {
            set: RateSet {
                source: source_name.to_owned(),
                base,
                effective_at,
                rates: table.rates,
            },
        })
    }

    /// The table's rates.
    pub fn rate_set(&self) -> &RateSet {
        &self.set
    }

    /// The table's rates, for a [`RateBook`](bazaar_domain::fx::RateBook).
    pub fn into_rate_set(self) -> RateSet {
        self.set
    }
}

impl FxRateSource for ConfiguredRates {
    fn fetch(&self) -> impl Future<Output = Result<RateSet, FxError>> + Send {
        ready(Ok(self.set.clone()))
    }
}

/// The table as read so far.
#[derive(Default)]
struct Table {
    base: Option<Currency>,
    rates: BTreeMap<Currency, Decimal>,
}

impl Table {
    /// Reads one line; the error is the reason, without the line number.
    fn line(&mut self, line: &str) -> Result<(), String> {
        let content = line
            .split_once('#')
            .map_or(line, |(before, _)| before)
            .trim();
        if content.is_empty() {
            return Ok(());
        }
        if let Some((key, value)) = content.split_once('=') {
            return self.base_line(key.trim(), value.trim());
        }
        let mut fields = content.split_ascii_whitespace();
        match (fields.next(), fields.next(), fields.next()) {
            (Some(code), Some(rate), None) => self.rate_line(code, rate),
            _ => Err(format!(
                "expected base=CODE or CODE RATE, found {}",
                fragment(content)
            )),
        }
    }

    fn base_line(&mut self, key: &str, value: &str) -> Result<(), String> {
        if key != "base" {
            return Err(format!("unknown setting {}", fragment(key)));
        }
        if self.base.is_some() {
            return Err("base is set twice".to_owned());
        }
        // Rates cannot come before the base, so none can be for the base yet.
        self.base = Some(usable(value)?);
        Ok(())
    }

    fn rate_line(&mut self, code: &str, rate: &str) -> Result<(), String> {
        let Some(base) = self.base else {
            return Err("a rate comes before the base=CODE line".to_owned());
        };
        let currency = usable(code)?;
        let rate = positive_rate(rate).map_err(|error| format!("{currency}: {error}"))?;
        if currency == base {
            return Err(format!("{currency} is the base and cannot have a rate"));
        }
        if self.rates.insert(currency, rate).is_some() {
            return Err(format!("{currency} appears twice"));
        }
        Ok(())
    }
}

/// A code that names a currency Bazaar can hold.
fn usable(code: &str) -> Result<Currency, String> {
    match currency_code(code) {
        Ok(Code::Usable(currency)) => Ok(currency),
        Ok(Code::Unusable) => Err(format!(
            "{} is not an ISO 4217 currency with a minor unit",
            fragment(code)
        )),
        Err(error) => Err(error.to_string()),
    }
}

fn check_source_name(source_name: &str) -> Result<(), FxError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let fits = (1..=MAX_SOURCE_NAME_CHARS).contains(&source_name.len());
    if fits && source_name.chars().all(allowed) {
        return Ok(());
    }
    Err(invalid(
        &fragment(source_name),
        "a source name is 1 to 32 ASCII letters, digits, '-', '_' or '.'",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = Timestamp::from_micros(1_658_152_800_000_000);

    fn reason(result: Result<ConfiguredRates, FxError>) -> String {
        match result {
            Err(FxError::InvalidData { reason, .. }) => reason,
            other => panic!("expected InvalidData, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_table_with_comments_and_blank_lines() {
        let text = "# Rates per US dollar.\n\n  base = USD  \nKWD 0.3075\n\tBHD\t0.376 # note\n";
        let table = ConfiguredRates::parse("treasury", text, AT).unwrap();
        let set = table.rate_set();
        assert_eq!(set.source, "treasury");
        assert_eq!(set.base, Currency::USD);
        assert_eq!(set.effective_at, AT);
        assert_eq!(set.rates.len(), 2);
        assert_eq!(set.rates.get(&Currency::KWD), Some(&Decimal::new(3_075, 4)));
        assert_eq!(set.rates.get(&Currency::BHD), Some(&Decimal::new(376, 3)));
    }

    #[test]
    fn refuses_what_is_not_a_valid_table() {
        let cases = [
            (
                "KWD 0.3075\nbase=USD",
                "line 1: a rate comes before the base",
            ),
            ("base=USD\nbase=EUR\nKWD 1", "line 2: base is set twice"),
            ("# nothing", "no base=CODE line"),
            ("base=USD", "no rates"),
            (
                "base=USD\nKWD abc",
                "line 2: KWD: rate \"abc\" is not a decimal number",
            ),
            ("base=USD\nKWD -1", "not positive"),
            ("base=USD\nKWD 0", "not positive"),
            (
                "base=USD\nKWD 0.3075\nKWD 0.3075",
                "line 3: KWD appears twice",
            ),
            ("base=USD\nUSD 1", "the base"),
            ("base=USD\nKWF 0.3", "not an ISO 4217 currency"),
            ("base=USD\nXAU 0.0005", "not an ISO 4217 currency"),
            ("base=usd\nKWD 0.3", "three upper-case letters"),
            ("base=USD\nKWD 0.3 extra", "expected base=CODE or CODE RATE"),
            ("base=USD\nKWD", "expected base=CODE or CODE RATE"),
            ("quote=USD", "unknown setting"),
        ];
        for (text, expected) in cases {
            let message = reason(ConfiguredRates::parse("treasury", text, AT));
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn refuses_bad_source_names_and_huge_tables() {
        for name in ["", "has space", "a+b", &"x".repeat(33)] {
            assert!(matches!(
                ConfiguredRates::parse(name, "base=USD\nKWD 0.3075", AT),
                Err(FxError::InvalidData { .. })
            ));
        }
        let huge = format!("base=USD\nKWD 0.3075\n{}", "#".repeat(MAX_TABLE_BYTES));
        assert!(reason(ConfiguredRates::parse("treasury", &huge, AT)).contains("allowed"));
    }

    #[test]
    fn errors_quote_little_of_the_input() {
        let text = format!("base=USD\nKWD {}", "9x".repeat(1_000));
        let message = reason(ConfiguredRates::parse("treasury", &text, AT));
        assert!(message.len() < 80, "{message}");
    }

    #[tokio::test]
    async fn fetch_returns_the_table() {
        let table = ConfiguredRates::parse("treasury", "base=USD\nKWD 0.3075", AT).unwrap();
        assert_eq!(table.fetch().await, Ok(table.rate_set().clone()));
    }
}
