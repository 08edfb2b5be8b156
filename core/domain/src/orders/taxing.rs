//! Checkout asks the tax engine about each line: what the line's tax is, who owes it, and
//! what the line adds to the thresholds later sales compare against.

use std::collections::BTreeMap;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use super::{PricedLine, TaxRates};
use crate::catalog::{ProductKind, Seller};
use crate::chart::SellerId;
use crate::error::CommerceError;
use crate::fx::RateBook;
use crate::fx::calendar::Date;
use crate::tax::{
    Area, Customer, Decision, Liable, Platform, PriceBasis, Reason, Sale, Scheme, StateSales,
    TaxData, TaxRate, decide, in_eu, line_tax, threshold_currency,
};

/// How checkout taxes lines.
#[derive(Clone, Debug)]
pub struct TaxSetup {
    /// The engine's data and the marketplace's own settings; `None` taxes from `flat` only.
    pub engine: Option<(TaxData, Platform)>,
    /// Rates the operator sets for destinations the engine has no rules for (or for every
    /// destination when there is no engine): the marketplace collects them, included in
    /// prices.
    pub flat: TaxRates,
}

impl TaxSetup {
    /// Taxes from configured rates only.
    pub fn flat(rates: TaxRates) -> Self {
        Self {
            engine: None,
            flat: rates,
        }
    }
}

/// What earlier sales add to the thresholds, as the store sums them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TaxHistory {
    /// Each seller's cross-border sales to EU consumers, in EUR: last calendar year's or
    /// this year's so far, whichever is higher.
    pub distance_sales: BTreeMap<SellerId, Money>,
    /// The marketplace's sales into each US state: last calendar year's or this year's so
    /// far, whichever is higher.
    pub state_sales: BTreeMap<Area, StateSales>,
    /// Where sellers are established, with the state their registrations name (an Indian
    /// seller's GSTIN); a seller left out is taken as its country.
    pub seller_areas: BTreeMap<SellerId, Area>,
}

/// A line's tax, fixed at checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineTax {
    /// The engine's answer, with the rule that decided.
    pub decision: Decision,
    /// The tax charged, in the presentment currency; part of the line's total.
    pub amount: Money,
    /// What the line counts toward a threshold: EUR toward its seller's EU distance sales,
    /// USD toward the marketplace's sales into a US state; `None` when it counts to none.
    pub threshold: Option<Money>,
}

impl LineTax {
    /// No tax, decided by nothing: a placeholder until the line is taxed.
    pub(super) fn untaxed(place: Area, currency: Currency) -> Self {
        Self {
            decision: Decision::not_covered(place, PriceBasis::Inclusive),
            amount: Money::zero(currency),
            threshold: None,
        }
    }

    /// A rate the operator configured, collected by the marketplace, included in prices.
    pub fn configured(place: Area, rate: TaxRate) -> Decision {
        Decision {
            place,
            liable: Liable::Marketplace,
            scheme: Scheme::Domestic,
            rate,
            rate_source: Some("configured".to_owned()),
            reverse_charge: false,
            reason: Reason::ConfiguredRate,
            unconfirmed: None,
            withholding: None,
            basis: PriceBasis::Inclusive,
        }
    }
}

/// The buyer's side of a checkout, for tax.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaxBuyer {
    /// Where the buyer is, with the state or province where one matters.
    pub area: Area,
    /// Consumer or confirmed business.
    pub customer: Customer,
}

/// Everything taxing a checkout needs besides its lines.
#[derive(Debug)]
pub struct TaxContext<'a> {
    /// The engine and the configured rates.
    pub setup: &'a TaxSetup,
    /// Thresholds so far.
    pub history: &'a TaxHistory,
    /// The buyer.
    pub buyer: &'a TaxBuyer,
    /// Converts amounts into thresholds' currencies.
    pub rates: &'a RateBook,
    /// When the checkout happens: its day is the day of supply.
    pub now: Timestamp,
}

fn convert(amount: Money, to: Currency, context: &TaxContext<'_>) -> Result<Money, CommerceError> {
    if amount.currency() == to {
        return Ok(amount);
    }
    let rate = context.rates.quote(amount.currency(), to, context.now)?;
    Ok(amount
        .convert(rate.mid, to, bazaar_money::Rounding::HalfUp)?
        .value)
}

/// The running totals a checkout adds to as it taxes its lines.
#[derive(Debug, Default)]
struct Running {
    distance_sales: BTreeMap<SellerId, Money>,
    state_sales: BTreeMap<Area, StateSales>,
}

impl Running {
    /// The seller's EU distance sales with `value` added (this sale counts toward the
    /// threshold it is compared with), and remembers nothing yet.
    fn distance_with(
        &self,
        history: &TaxHistory,
        seller: SellerId,
        value: Money,
    ) -> Result<Money, CommerceError> {
        let so_far = self
            .distance_sales
            .get(&seller)
            .or_else(|| history.distance_sales.get(&seller))
            .copied()
            .unwrap_or(Money::zero(Currency::EUR));
        Ok(so_far.checked_add(value)?)
    }

    /// The state's sales with this checkout's order counted as one more transaction and
    /// `value` added; remembered.
    fn add_state_sale(
        &mut self,
        history: &TaxHistory,
        state: Area,
        value: Money,
    ) -> Result<StateSales, CommerceError> {
        let entry = self.state_sales.entry(state).or_insert_with(|| {
            let before = history
                .state_sales
                .get(&state)
                .copied()
                .unwrap_or(StateSales {
                    sales: Money::zero(Currency::USD),
                    transactions: 0,
                });
            StateSales {
                sales: before.sales,
                transactions: before.transactions.saturating_add(1),
            }
        });
        entry.sales = entry.sales.checked_add(value)?;
        Ok(*entry)
    }
}

/// Taxes one seller's lines: decides each, sets its tax, and for prices quoted before tax
/// adds the tax to the line's total.
///
/// An EU seller's cross-border sale to an EU consumer counts toward the threshold at its
/// value net of VAT. Which VAT applies depends on the threshold, so the sale is first
/// decided on the sales before it; if that leaves it at the seller's own VAT, it is decided
/// again with its value net of that VAT added, which moves the sale that crosses the
/// threshold to the destination. The running total keeps each line's value net of the VAT
/// finally charged.
fn tax_order(
    seller: &Seller,
    lines: &mut [PricedLine],
    context: &TaxContext<'_>,
    running: &mut Running,
) -> Result<(), CommerceError> {
    let day = Date::of_instant(context.now).ok_or(CommerceError::Internal)?;
    let seller_area = context
        .history
        .seller_areas
        .get(&seller.id)
        .copied()
        .unwrap_or(Area::country_wide(seller.country));
    let buyer = context.buyer;
    let consignment = match threshold_currency(buyer.area) {
        Some(currency) => {
            let mut value = Money::zero(currency);
            for line in lines.iter().filter(|l| l.kind == ProductKind::Physical) {
                value = value.checked_add(convert(line.total, currency, context)?)?;
            }
            Some(value)
        }
        None => None,
    };
    let counts_eu = in_eu(seller_area)
        && in_eu(buyer.area)
        && seller_area != buyer.area.nation()
        && !buyer.customer.is_business();
    let is_us = buyer.area.country().as_str() == "US";
    for line in lines.iter_mut() {
        let code = line.tax_code;
        let zero = Money::zero(Currency::EUR);
        let (eu_distance_sales, state_sales) = if counts_eu {
            (
                Some(running.distance_with(context.history, seller.id, zero)?),
                None,
            )
        } else if is_us {
            let value = convert(line.total, Currency::USD, context)?;
            (
                None,
                Some(running.add_state_sale(context.history, buyer.area, value)?),
            )
        } else {
            (None, None)
        };
        let mut sale = Sale {
            day,
            code,
            seller: seller_area,
            buyer: buyer.area,
            customer: buyer.customer.clone(),
            ships_from: code.is_goods().then_some(seller_area),
            consignment: if code.is_goods() { consignment } else { None },
            eu_distance_sales,
            state_sales,
            seller_rate: None,
        };
        let mut decision = decide_line(&sale, context.setup)?;
        if counts_eu && decision.reason == Reason::EuBelowThreshold {
            let net = convert(line_tax(&decision, line.total)?.net, Currency::EUR, context)?;
            sale.eu_distance_sales =
                Some(running.distance_with(context.history, seller.id, net)?);
            decision = decide_line(&sale, context.setup)?;
        }
        let tax = line_tax(&decision, line.total)?;
        let threshold = if counts_eu {
            let net = convert(tax.net, Currency::EUR, context)?;
            let total = running.distance_with(context.history, seller.id, net)?;
            running.distance_sales.insert(seller.id, total);
            Some(net)
        } else if is_us {
            Some(convert(tax.net, Currency::USD, context)?)
        } else {
            None
        };
        line.total = tax.total;
        line.tax = LineTax {
            decision,
            amount: tax.tax,
            threshold,
        };
    }
    Ok(())
}

/// The engine's decision, or a configured rate where the engine has no rules (or there is
/// no engine).
fn decide_line(sale: &Sale, setup: &TaxSetup) -> Result<Decision, CommerceError> {
    let configured = setup
        .flat
        .0
        .get(&sale.buyer.country())
        .copied()
        .filter(|rate| rate.get() > 0)
        .map(|rate| LineTax::configured(sale.buyer.nation(), TaxRate::from_basis_points(rate)));
    let Some((data, platform)) = &setup.engine else {
        return Ok(configured
            .unwrap_or_else(|| Decision::not_covered(sale.buyer.nation(), PriceBasis::Inclusive)));
    };
    let decision = decide(sale, platform, data)?;
    Ok(match configured {
        Some(configured) if decision.reason == Reason::DestinationNotCovered => configured,
        _ => decision,
    })
}

/// Taxes every seller's lines of a checkout, in seller order.
pub(super) fn tax_checkout(
    per_seller: &mut BTreeMap<SellerId, Vec<PricedLine>>,
    sellers: &BTreeMap<SellerId, Seller>,
    context: &TaxContext<'_>,
) -> Result<(), CommerceError> {
    let mut running = Running::default();
    for (seller_id, lines) in per_seller.iter_mut() {
        let seller = sellers
            .get(seller_id)
            .ok_or(CommerceError::NotFound("seller"))?;
        tax_order(seller, lines, context, &mut running)?;
    }
    Ok(())
}
