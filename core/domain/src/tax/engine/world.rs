//! Destinations outside the EU: the United Kingdom, the United States, Canada, Australia,
//! Japan and India.

use bazaar_money::{Currency, Money};

use super::{RateFrom, Rule, TaxData, basis, consignment, kind_of, ships_from};
use crate::fx::calendar::Date;
use crate::tax::{
    Decision, Liable, Platform, RateKind, Reason, Sale, Scheme, TaxCode, TaxError, TaxRate,
    TcsSplit, Withholding,
};

/// The UK's low-value consignment limit: GBP 135.
const GB_CONSIGNMENT_MAX: Money = Money::from_minor(13_500, Currency::GBP);

/// Australia's low-value imported goods limit: AUD 1,000.
const AU_CONSIGNMENT_MAX: Money = Money::from_minor(100_000, Currency::AUD);

fn from_day(day: Date, year: i64, month: u32, first: u32) -> bool {
    Date::new(year, month, first)
        .and_then(Date::days_since_epoch)
        .zip(day.days_since_epoch())
        .is_some_and(|(change, day)| day >= change)
}

/// Whether the goods of `sale` enter `country` from abroad.
fn imported(sale: &Sale, country: &str) -> Result<bool, TaxError> {
    Ok(ships_from(sale)?.country().as_str() != country)
}

pub(super) fn united_kingdom(sale: &Sale) -> Result<Rule, TaxError> {
    let gb = sale.buyer.nation();
    let uk_seller = sale.seller.country().as_str() == "GB";
    let (liable, scheme, reason) = if !sale.code.is_goods() && !uk_seller {
        (
            Liable::Seller,
            Scheme::Domestic,
            Reason::GbOverseasSellerService,
        )
    } else if sale.code.is_goods() && imported(sale, "GB")? {
        if consignment(sale, Currency::GBP)?.minor() > GB_CONSIGNMENT_MAX.minor() {
            return Ok(Rule::import(gb, Reason::GbImport));
        }
        (
            Liable::Marketplace,
            Scheme::UkMarketplace,
            Reason::GbMarketplaceImport,
        )
    } else if uk_seller {
        (Liable::Seller, Scheme::Domestic, Reason::GbDomestic)
    } else {
        (
            Liable::Marketplace,
            Scheme::UkMarketplace,
            Reason::GbMarketplaceOverseasSeller,
        )
    };
    // A VAT-registered business accounts for the VAT itself, except on a UK seller's
    // supplies made in the UK.
    Ok(
        if sale.customer.is_business() && reason != Reason::GbDomestic {
            Rule::reverse_charge(gb, Reason::GbReverseCharge)
        } else {
            Rule::charged(gb, liable, scheme, reason)
        },
    )
}

pub(super) fn united_states(sale: &Sale, data: &TaxData) -> Result<Rule, TaxError> {
    let state = sale.buyer;
    if state.subdivision().is_none() {
        return Err(TaxError::Missing("the buyer's US state"));
    }
    let rules = data.us.state(state)?;
    if rules.rate.is_zero() {
        return Ok(Rule::nothing(
            state,
            Scheme::NotCollected,
            Reason::UsNoSalesTax,
        ));
    }
    if !matches!(sale.code, TaxCode::GeneralGoods | TaxCode::Books) {
        return Ok(Rule::nothing(
            state,
            Scheme::NotCollected,
            Reason::UsTaxabilityNotCovered,
        ));
    }
    if !rules.facilitator_in_force(sale.day) {
        return Ok(Rule::nothing(
            state,
            Scheme::NotCollected,
            Reason::UsBeforeFacilitatorLaw,
        ));
    }
    let sales = sale
        .state_sales
        .ok_or(TaxError::Missing("the marketplace's sales into the state"))?;
    if !rules.nexus(&sales)? {
        return Ok(Rule::nothing(
            state,
            Scheme::NotCollected,
            Reason::UsBelowNexus,
        ));
    }
    Ok(Rule {
        place: state,
        liable: Liable::Marketplace,
        scheme: Scheme::UsMarketplaceFacilitator,
        reason: Reason::UsMarketplaceFacilitator,
        rate: RateFrom::Given(rules.rate, rules.source.clone()),
        reverse_charge: false,
    })
}

pub(super) fn canada(sale: &Sale) -> Result<Rule, TaxError> {
    let province = sale.buyer;
    if province.subdivision().is_none() {
        return Err(TaxError::Missing("the buyer's Canadian province"));
    }
    if sale.seller.country().as_str() == "CA" {
        return Ok(Rule::charged(
            province,
            Liable::Seller,
            Scheme::Domestic,
            Reason::CaDomestic,
        ));
    }
    if sale.code.is_goods() && imported(sale, "CA")? {
        return Ok(Rule::import(province, Reason::CaImport));
    }
    Ok(if sale.customer.is_business() {
        Rule::nothing(province, Scheme::NotCollected, Reason::CaRegisteredBusiness)
    } else {
        Rule::charged(
            province,
            Liable::Marketplace,
            Scheme::CaDistributionPlatform,
            Reason::CaDistributionPlatform,
        )
    })
}

pub(super) fn australia(sale: &Sale) -> Result<Rule, TaxError> {
    let au = sale.buyer.nation();
    let au_seller = sale.seller.country().as_str() == "AU";
    if sale.code.is_goods() && imported(sale, "AU")? {
        if consignment(sale, Currency::AUD)?.minor() > AU_CONSIGNMENT_MAX.minor() {
            return Ok(Rule::import(au, Reason::AuImport));
        }
        return Ok(if sale.customer.is_business() {
            Rule::nothing(au, Scheme::NotCollected, Reason::AuRegisteredBusiness)
        } else {
            Rule::charged(
                au,
                Liable::Marketplace,
                Scheme::AuLowValueImports,
                Reason::AuLowValueImport,
            )
        });
    }
    if au_seller || sale.code.is_goods() {
        return Ok(Rule::charged(
            au,
            Liable::Seller,
            Scheme::Domestic,
            Reason::AuDomestic,
        ));
    }
    Ok(if sale.customer.is_business() {
        Rule::nothing(au, Scheme::NotCollected, Reason::AuRegisteredBusiness)
    } else {
        Rule::charged(
            au,
            Liable::Marketplace,
            Scheme::AuLowValueImports,
            Reason::AuInboundService,
        )
    })
}

pub(super) fn japan(sale: &Sale, platform: &Platform) -> Result<Rule, TaxError> {
    let jp = sale.buyer.nation();
    if sale.seller.country().as_str() == "JP" {
        return Ok(Rule::charged(
            jp,
            Liable::Seller,
            Scheme::Domestic,
            Reason::JpDomestic,
        ));
    }
    if sale.code.is_goods() {
        return Ok(if imported(sale, "JP")? {
            Rule::import(jp, Reason::JpImport)
        } else {
            Rule::charged(
                jp,
                Liable::Seller,
                Scheme::Domestic,
                Reason::JpForeignSeller,
            )
        });
    }
    if sale.customer.is_business() {
        return Ok(Rule::reverse_charge(jp, Reason::JpReverseCharge));
    }
    let platform_taxation = platform.jp_designated && from_day(sale.day, 2025, 4, 1);
    Ok(if platform_taxation {
        Rule::charged(
            jp,
            Liable::Marketplace,
            Scheme::JpPlatform,
            Reason::JpPlatformTaxation,
        )
    } else {
        Rule::charged(
            jp,
            Liable::Seller,
            Scheme::Domestic,
            Reason::JpForeignSeller,
        )
    })
}

/// India: an Indian seller's sale to an Indian buyer through the platform. The seller owes
/// the GST at the rate it declares for the product; the marketplace withholds TCS.
/// A foreign seller's sale to India is outside the rules Bazaar has.
pub(super) fn india(sale: &Sale, data: &TaxData) -> Result<Decision, TaxError> {
    let buyer = sale.buyer;
    let basis = basis(buyer);
    if sale.seller.country().as_str() != "IN" {
        return Ok(Decision::not_covered(buyer.nation(), basis));
    }
    if buyer.subdivision().is_none() || sale.seller.subdivision().is_none() {
        return Err(TaxError::Missing(
            "the seller's and the buyer's Indian states",
        ));
    }
    // The GST rate is the seller's, set by the product's HSN code; without one declared, the
    // table's rate for the tax code stands in (18% for most goods and for e-services).
    let (gst, gst_source) = match sale.seller_rate {
        Some(rate) => (rate, "seller".to_owned()),
        None => {
            let period = data
                .rates
                .rate(buyer.nation(), kind_of(sale.code), sale.day)?;
            (period.rate, period.source.clone())
        }
    };
    let tcs = data.rates.rate(buyer.nation(), RateKind::Tcs, sale.day)?;
    let split = if buyer == sale.seller {
        TcsSplit::CentralAndState
    } else {
        TcsSplit::Integrated
    };
    Ok(Decision {
        place: buyer,
        liable: Liable::Seller,
        scheme: Scheme::InTcs,
        rate: TaxRate::from_basis_points(gst),
        rate_source: Some(gst_source),
        reverse_charge: false,
        reason: Reason::InTcs,
        unconfirmed: None,
        withholding: Some(Withholding {
            rate: TaxRate::from_basis_points(tcs.rate),
            split,
            seller_state: sale.seller,
            source: tcs.source.clone(),
        }),
        basis,
    })
}
