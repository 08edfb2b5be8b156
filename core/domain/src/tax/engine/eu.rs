//! The EU member states as destination (Directive 2006/112/EC as in force since the
//! e-commerce package of 1 July 2021).

use bazaar_money::{Currency, Money};

use super::{Rule, consignment, in_currency, in_eu, ships_from};
use crate::fx::calendar::Date;
use crate::tax::{Liable, Reason, Sale, Scheme, TaxCode, TaxError};

/// The EU-wide threshold for cross-border sales to consumers: EUR 10,000 a year. At or below
/// it, an EU seller established in one member state charges its own VAT.
const DISTANCE_SALES_THRESHOLD: Money = Money::from_minor(1_000_000, Currency::EUR);

/// The largest consignment the Import One-Stop Shop covers: EUR 150.
const IOSS_CONSIGNMENT_MAX: Money = Money::from_minor(15_000, Currency::EUR);

/// From this day an event attended virtually by a consumer is taxed where the attendee is.
fn virtual_events_at_destination(day: Date) -> bool {
    Date::new(2025, 1, 1)
        .and_then(Date::days_since_epoch)
        .zip(day.days_since_epoch())
        .is_some_and(|(change, day)| day >= change)
}

/// Whether an EU seller's sales to consumers in other member states exceed the threshold.
fn above_threshold(sale: &Sale) -> Result<bool, TaxError> {
    let sales = sale.eu_distance_sales.ok_or(TaxError::Missing(
        "the seller's EU cross-border sales to consumers",
    ))?;
    let sales = in_currency("the seller's EU cross-border sales", sales, Currency::EUR)?;
    Ok(sales.minor() > DISTANCE_SALES_THRESHOLD.minor())
}

pub(super) fn decide(sale: &Sale) -> Result<Rule, TaxError> {
    if sale.code.is_goods() {
        goods(sale)
    } else {
        services(sale)
    }
}

fn goods(sale: &Sale) -> Result<Rule, TaxError> {
    let destination = sale.buyer.nation();
    let origin = ships_from(sale)?.nation();
    if !in_eu(origin) {
        return imported_goods(sale);
    }
    let cross_border = origin != destination;
    if sale.customer.is_business() {
        return Ok(if cross_border {
            Rule::reverse_charge(destination, Reason::EuIntraCommunitySupply)
        } else {
            Rule::charged(
                destination,
                Liable::Seller,
                Scheme::Domestic,
                Reason::EuDomestic,
            )
        });
    }
    if !in_eu(sale.seller) {
        let scheme = if cross_border {
            Scheme::Oss
        } else {
            Scheme::Domestic
        };
        return Ok(Rule::charged(
            destination,
            Liable::Marketplace,
            scheme,
            Reason::EuDeemedSupplierGoods,
        ));
    }
    if !cross_border {
        return Ok(Rule::charged(
            destination,
            Liable::Seller,
            Scheme::Domestic,
            Reason::EuDomestic,
        ));
    }
    // The threshold only serves a seller dispatching from its own member state.
    if origin == sale.seller.nation() && !above_threshold(sale)? {
        return Ok(Rule::charged(
            origin,
            Liable::Seller,
            Scheme::Domestic,
            Reason::EuBelowThreshold,
        ));
    }
    Ok(Rule::charged(
        destination,
        Liable::Seller,
        Scheme::Oss,
        Reason::EuDistanceSale,
    ))
}

fn imported_goods(sale: &Sale) -> Result<Rule, TaxError> {
    let destination = sale.buyer.nation();
    if sale.customer.is_business() {
        return Ok(Rule::import(destination, Reason::EuImport));
    }
    let value = consignment(sale, Currency::EUR)?;
    Ok(if value.minor() <= IOSS_CONSIGNMENT_MAX.minor() {
        Rule::charged(
            destination,
            Liable::Marketplace,
            Scheme::Ioss,
            Reason::EuIossDeemedSupplier,
        )
    } else {
        Rule::import(destination, Reason::EuImport)
    })
}

fn services(sale: &Sale) -> Result<Rule, TaxError> {
    let destination = sale.buyer.nation();
    let seller = sale.seller.nation();
    let domestic = seller == destination;
    if sale.customer.is_business() {
        return Ok(if domestic {
            Rule::charged(
                destination,
                Liable::Seller,
                Scheme::Domestic,
                Reason::EuDomestic,
            )
        } else {
            Rule::reverse_charge(destination, Reason::EuReverseChargeService)
        });
    }
    if sale.code == TaxCode::LiveEvent {
        return live_event(sale);
    }
    if !in_eu(seller) {
        return Ok(Rule::charged(
            destination,
            Liable::Marketplace,
            Scheme::Oss,
            Reason::EuDeemedSupplierEService,
        ));
    }
    if domestic {
        return Ok(Rule::charged(
            destination,
            Liable::Seller,
            Scheme::Domestic,
            Reason::EuDomestic,
        ));
    }
    Ok(if above_threshold(sale)? {
        Rule::charged(destination, Liable::Seller, Scheme::Oss, Reason::EuEService)
    } else {
        Rule::charged(
            seller,
            Liable::Seller,
            Scheme::Domestic,
            Reason::EuBelowThreshold,
        )
    })
}

/// A live-streamed event for a consumer: where the attendee is from 2025, where it is held
/// (taken to be where the seller is established) before.
fn live_event(sale: &Sale) -> Result<Rule, TaxError> {
    let destination = sale.buyer.nation();
    let seller = sale.seller.nation();
    if seller == destination {
        return Ok(Rule::charged(
            destination,
            Liable::Seller,
            Scheme::Domestic,
            Reason::EuDomestic,
        ));
    }
    if !virtual_events_at_destination(sale.day) {
        return Ok(if in_eu(seller) {
            Rule::charged(
                seller,
                Liable::Seller,
                Scheme::Domestic,
                Reason::EuLiveEventHeld,
            )
        } else {
            Rule::nothing(seller, Scheme::OutOfScope, Reason::LiveEventHeldAbroad)
        });
    }
    let reason = if in_eu(seller) {
        Reason::EuLiveEventAttendee
    } else {
        Reason::EuLiveEventNonEuSeller
    };
    Ok(Rule::charged(
        destination,
        Liable::Seller,
        Scheme::Oss,
        reason,
    ))
}
