//! US states: the state-wide sales tax rate, the economic nexus threshold a marketplace
//! facilitator must reach before it collects, and the day its marketplace facilitator law
//! took effect. Read from `data/us_states.csv`, compiled in. Local rates (county, city,
//! district) are not included.

use bazaar_money::{Currency, Money};

use super::{Area, StateSales, TaxError, TaxRate};
use crate::fx::calendar::Date;

const BUILTIN: &str = include_str!("data/us_states.csv");

/// One state's rules.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateRules {
    /// `US-CA`.
    pub state: Area,
    /// The state-wide rate; zero where the state levies no sales tax.
    pub rate: TaxRate,
    /// Nexus when sales into the state exceed this, in USD.
    pub sales_threshold: Option<Money>,
    /// Nexus when the transactions into the state reach this many.
    pub transactions_threshold: Option<u32>,
    /// Whether both thresholds must be met (New York, Connecticut) rather than either.
    pub both_required: bool,
    /// The day the marketplace facilitator law took effect.
    pub facilitator_from: Option<Date>,
    /// Where the figures come from.
    pub source: String,
}

impl StateRules {
    /// Whether the marketplace facilitator law is in force on `day`.
    pub fn facilitator_in_force(&self, day: Date) -> bool {
        self.facilitator_from
            .and_then(Date::days_since_epoch)
            .zip(day.days_since_epoch())
            .is_some_and(|(from, day)| day >= from)
    }

    /// Whether `sales` give the marketplace economic nexus: sales above the threshold, or at
    /// least the threshold's number of transactions (both, where the state requires both).
    pub fn nexus(&self, sales: &StateSales) -> Result<bool, TaxError> {
        if sales.sales.currency() != Currency::USD {
            return Err(TaxError::ThresholdCurrency {
                what: "the marketplace's sales into the state",
                expected: Currency::USD,
                given: sales.sales.currency(),
            });
        }
        let by_sales = self
            .sales_threshold
            .map(|threshold| sales.sales.minor() > threshold.minor());
        let by_count = self
            .transactions_threshold
            .map(|threshold| sales.transactions >= threshold);
        Ok(match (by_sales, by_count) {
            (Some(a), Some(b)) if self.both_required => a && b,
            (Some(a), Some(b)) => a || b,
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => false,
        })
    }
}

/// Every state and DC.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UsStates {
    states: Vec<StateRules>,
}

fn bad(line: usize, reason: &str) -> TaxError {
    TaxError::RateData {
        line,
        reason: format!("US states: {reason}"),
    }
}

fn optional<T>(
    cell: &str,
    line: usize,
    what: &str,
    read: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, TaxError> {
    if cell.is_empty() {
        return Ok(None);
    }
    read(cell)
        .map(Some)
        .ok_or_else(|| bad(line, &format!("{what} does not read")))
}

fn state_line(line: usize, text: &str) -> Result<StateRules, TaxError> {
    let cells: Vec<&str> = text.split(',').map(str::trim).collect();
    let [state, rate, sales, count, both, from, source] = cells.as_slice() else {
        return Err(bad(line, "expected 7 columns"));
    };
    let state = Area::parse(&format!("US-{state}")).map_err(|_| bad(line, "not a state code"))?;
    let rate = TaxRate::parse_basis_points(rate)
        .ok_or_else(|| bad(line, "the rate is not basis points"))?;
    let sales_threshold = optional(sales, line, "the sales threshold", |cell| {
        let dollars = cell.parse::<i64>().ok()?;
        Some(Money::from_minor(dollars.checked_mul(100)?, Currency::USD))
    })?;
    let transactions_threshold = optional(count, line, "the transactions threshold", |c| {
        c.parse().ok()
    })?;
    let both_required = match *both {
        "yes" => true,
        "no" | "" => false,
        _ => return Err(bad(line, "both_required is yes or no")),
    };
    let facilitator_from = optional(from, line, "facilitator_from", Date::parse_iso)?;
    if source.is_empty() {
        return Err(bad(line, "every state needs its source"));
    }
    if !rate.is_zero() && (sales_threshold.is_none() || facilitator_from.is_none()) {
        return Err(bad(
            line,
            "a state with a sales tax needs its threshold and law",
        ));
    }
    Ok(StateRules {
        state,
        rate,
        sales_threshold,
        transactions_threshold,
        both_required,
        facilitator_from,
        source: (*source).to_owned(),
    })
}

impl UsStates {
    /// The states shipped with Bazaar.
    pub fn builtin() -> Result<Self, TaxError> {
        Self::parse(BUILTIN)
    }

    /// Reads a header line, then one state per line; `#` and blank lines are ignored. Each
    /// state at most once.
    pub fn parse(text: &str) -> Result<Self, TaxError> {
        let mut states: Vec<StateRules> = Vec::new();
        for (line, raw) in super::data_lines(text) {
            let rules = state_line(line, raw)?;
            if states.iter().any(|s| s.state == rules.state) {
                return Err(bad(line, "a state appears twice"));
            }
            states.push(rules);
        }
        Ok(Self { states })
    }

    /// The rules of `state` (`US-CA`); [`TaxError::Missing`] for a code not in the data.
    pub fn state(&self, state: Area) -> Result<&StateRules, TaxError> {
        self.states
            .iter()
            .find(|s| s.state == state)
            .ok_or(TaxError::Missing("a known US state"))
    }

    /// Every state, in the data's order.
    pub fn states(&self) -> &[StateRules] {
        &self.states
    }
}
