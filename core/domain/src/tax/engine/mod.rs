//! The rules: [`decide`] routes a line by its destination to the rules of that place.
//!
//! - `eu.rs`: the EU member states (place of supply, the EUR 10,000 threshold, OSS, IOSS,
//!   deemed suppliers, reverse charge, live events).
//! - `world.rs`: the United Kingdom, the United States, Canada, Australia, Japan and India.
//!
//! Every rule returns a [`Rule`]; [`finish`] looks up its rate and builds the [`Decision`],
//! so that a rule names what it decides and nothing else.

mod eu;
mod world;

use bazaar_money::{Currency, Money};

use super::{
    Area, Customer, Decision, Liable, Platform, PriceBasis, RateKind, RateTable, Reason, Sale,
    Scheme, TaxCode, TaxError, TaxRate, UsStates,
};

/// The EU member states, by the ISO codes Bazaar uses (`GR` for Greece).
pub const EU_MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Whether `area` lies in the EU VAT area.
pub fn in_eu(area: Area) -> bool {
    EU_MEMBER_STATES.contains(&area.country().as_str())
}

/// The data the rules read: rates, and US states' rates and thresholds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaxData {
    /// Value-added, consumption and GST/HST rates, and India's TCS.
    pub rates: RateTable,
    /// US states.
    pub us: UsStates,
}

impl TaxData {
    /// The data shipped with Bazaar.
    pub fn builtin() -> Result<Self, TaxError> {
        Ok(Self {
            rates: RateTable::builtin()?,
            us: UsStates::builtin()?,
        })
    }
}

/// The currency a destination's consignment threshold is in: EUR into the EU, GBP into the
/// UK, AUD into Australia, USD for US nexus; `None` where no threshold applies.
pub fn threshold_currency(destination: Area) -> Option<Currency> {
    match destination.country().as_str() {
        "GB" => Some(Currency::GBP),
        "AU" => Some(Currency::AUD),
        "US" => Some(Currency::USD),
        _ if in_eu(destination) => Some(Currency::EUR),
        _ => None,
    }
}

/// Where the rate of a rule comes from.
#[derive(Clone, Debug)]
enum RateFrom {
    /// Nothing is charged.
    Nothing,
    /// The rate table, for this area and the line's tax code.
    Table(Area),
    /// A rate read elsewhere (a US state), with its source.
    Given(TaxRate, String),
}

/// What a rule decides, before its rate is looked up.
#[derive(Clone, Debug)]
struct Rule {
    place: Area,
    liable: Liable,
    scheme: Scheme,
    reason: Reason,
    rate: RateFrom,
    reverse_charge: bool,
}

impl Rule {
    /// Tax charged at the place's rate.
    fn charged(place: Area, liable: Liable, scheme: Scheme, reason: Reason) -> Self {
        Self {
            place,
            liable,
            scheme,
            reason,
            rate: RateFrom::Table(place),
            reverse_charge: false,
        }
    }

    /// The customer accounts for the tax: nothing charged.
    fn reverse_charge(place: Area, reason: Reason) -> Self {
        Self {
            place,
            liable: Liable::Buyer,
            scheme: Scheme::ReverseCharge,
            reason,
            rate: RateFrom::Nothing,
            reverse_charge: true,
        }
    }

    /// Tax is due at import from the importer: nothing charged at sale.
    fn import(place: Area, reason: Reason) -> Self {
        Self {
            place,
            liable: Liable::Buyer,
            scheme: Scheme::Import,
            reason,
            rate: RateFrom::Nothing,
            reverse_charge: false,
        }
    }

    /// Nothing collected, under `scheme` (not collected, or out of scope).
    fn nothing(place: Area, scheme: Scheme, reason: Reason) -> Self {
        Self {
            place,
            liable: Liable::Nobody,
            scheme,
            reason,
            rate: RateFrom::Nothing,
            reverse_charge: false,
        }
    }
}

/// Decides the tax of one line. An error means the line cannot be taxed from what is known
/// (a missing fact, a day without a rate): the sale is refused, never taxed at zero.
pub fn decide(sale: &Sale, platform: &Platform, data: &TaxData) -> Result<Decision, TaxError> {
    let rule = match sale.buyer.country().as_str() {
        "GB" => world::united_kingdom(sale)?,
        "US" => world::united_states(sale, data)?,
        "CA" => world::canada(sale)?,
        "AU" => world::australia(sale)?,
        "JP" => world::japan(sale, platform)?,
        "IN" => return world::india(sale, data),
        _ if in_eu(sale.buyer) => eu::decide(sale)?,
        _ => Rule::nothing(
            sale.buyer.nation(),
            Scheme::OutOfScope,
            Reason::DestinationNotCovered,
        ),
    };
    finish(sale, data, rule)
}

/// The rate kind a line's tax code takes.
pub(super) fn kind_of(code: TaxCode) -> RateKind {
    match code {
        TaxCode::Books => RateKind::Books,
        TaxCode::Food => RateKind::Food,
        TaxCode::GeneralGoods | TaxCode::EService | TaxCode::LiveEvent => RateKind::Standard,
    }
}

/// How prices are quoted where the buyer is.
fn basis(buyer: Area) -> PriceBasis {
    match buyer.country().as_str() {
        "US" | "CA" => PriceBasis::Exclusive,
        _ => PriceBasis::Inclusive,
    }
}

fn finish(sale: &Sale, data: &TaxData, rule: Rule) -> Result<Decision, TaxError> {
    let (rate, rate_source) = match rule.rate {
        RateFrom::Nothing => (TaxRate::ZERO, None),
        RateFrom::Given(rate, source) => (rate, Some(source)),
        RateFrom::Table(area) => {
            // Canada's GST/HST applies to every tax code alike.
            let kind = if area.country().as_str() == "CA" {
                RateKind::Standard
            } else {
                kind_of(sale.code)
            };
            let period = data.rates.rate(area, kind, sale.day)?;
            (
                TaxRate::from_basis_points(period.rate),
                Some(period.source.clone()),
            )
        }
    };
    let charged = !rate.is_zero();
    let unconfirmed = match &sale.customer {
        Customer::Unconfirmed { why, .. } if charged => Some(*why),
        _ => None,
    };
    Ok(Decision {
        place: rule.place,
        liable: rule.liable,
        scheme: rule.scheme,
        rate,
        rate_source,
        reverse_charge: rule.reverse_charge,
        reason: rule.reason,
        unconfirmed,
        withholding: None,
        basis: basis(sale.buyer),
    })
}

/// Checks that a threshold amount is in the threshold's currency.
fn in_currency(what: &'static str, amount: Money, expected: Currency) -> Result<Money, TaxError> {
    if amount.currency() == expected {
        Ok(amount)
    } else {
        Err(TaxError::ThresholdCurrency {
            what,
            expected,
            given: amount.currency(),
        })
    }
}

/// The consignment's value, required for goods crossing a border.
fn consignment(sale: &Sale, expected: Currency) -> Result<Money, TaxError> {
    let value = sale
        .consignment
        .ok_or(TaxError::Missing("the consignment's value"))?;
    in_currency("the consignment's value", value, expected)
}

/// Where goods are when sold; services have no such place.
fn ships_from(sale: &Sale) -> Result<Area, TaxError> {
    sale.ships_from
        .ok_or(TaxError::Missing("where the goods ship from"))
}

#[cfg(test)]
mod tests;
