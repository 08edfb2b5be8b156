//! A line's tax as the ledger sees it, fixed at checkout: how much, who receives it, and
//! what the marketplace withholds from the seller.

use bazaar_money::{Money, MoneyError};

use super::prorate;
use crate::catalog::BasisPoints;
use crate::chart::Jurisdiction;
use crate::error::CommerceError;
use crate::tax::{Area, Liable, Scheme, TaxRate, TcsSplit};

/// Who receives a line's tax at capture.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaxCollector {
    /// Bazaar owes it: credited to `tax_payable` of the line's jurisdiction, it never
    /// reaches the seller's balance.
    Marketplace,
    /// The seller owes it: it travels with the seller's share, outside the commission base.
    Seller,
}

/// Tax collected at source from the seller's share (India's TCS).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Withheld {
    /// The rate, on the seller's share net of tax and before commission.
    pub rate: TaxRate,
    /// CGST and SGST halves, or IGST.
    pub split: TcsSplit,
    /// The seller's state: the SGST half is owed there.
    pub seller_state: Area,
}

impl Withheld {
    /// The payables the withheld amount goes to, each with its leg name and share of
    /// `amount`: IGST whole, or CGST half (rounded half-up) and SGST the rest.
    pub fn payables(
        &self,
        amount: Money,
    ) -> Result<Vec<(&'static str, Jurisdiction, Money)>, CommerceError> {
        let jurisdiction =
            |code: String| Jurisdiction::new(&code).map_err(|_| CommerceError::Internal);
        Ok(match self.split {
            TcsSplit::Integrated => {
                vec![("tcs_igst", jurisdiction("IN-TCS-IGST".to_owned())?, amount)]
            }
            TcsSplit::CentralAndState => {
                let central = Money::from_minor(prorate(amount.minor(), 1, 2)?, amount.currency());
                let state = amount.checked_sub(central)?;
                vec![
                    ("tcs_cgst", jurisdiction("IN-TCS-CGST".to_owned())?, central),
                    (
                        "tcs_sgst",
                        jurisdiction(format!("{}-TCS-SGST", self.seller_state))?,
                        state,
                    ),
                ]
            }
        })
    }
}

/// A line's tax, fixed at checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineTaxTerms {
    /// The tax charged to the buyer, included in the line's total, in the presentment
    /// currency.
    pub amount: Money,
    /// Who receives it.
    pub collector: TaxCollector,
    /// Where the marketplace owes it: the owner of its `tax_payable` account.
    pub jurisdiction: Jurisdiction,
    /// What the marketplace withholds from the seller's share.
    pub withheld: Option<Withheld>,
}

impl LineTaxTerms {
    /// Tax included in `total` at `rate`, owed by the marketplace in `jurisdiction`:
    /// `total * rate / (1 + rate)`, rounded half-up.
    pub fn included(
        total: Money,
        rate: BasisPoints,
        jurisdiction: Jurisdiction,
    ) -> Result<Self, MoneyError> {
        let denominator = 10_000_i64
            .checked_add(i64::from(rate.get()))
            .ok_or(MoneyError::Overflow)?;
        let amount = prorate(total.minor(), i64::from(rate.get()), denominator)?;
        Ok(Self {
            amount: Money::from_minor(amount, total.currency()),
            collector: TaxCollector::Marketplace,
            jurisdiction,
            withheld: None,
        })
    }
}

/// The `tax_payable` owner of tax the marketplace collects at `place` under `scheme`: the
/// place alone for a domestic return (`DE`, `US-CA`), the place and the scheme otherwise
/// (`IT-OSS`, `FR-IOSS`, `GB-UKMP`, `US-CA-MPF`, `AU-LVI`, `CA-ON-DPO`, `JP-PLAT`).
pub fn payable_jurisdiction(place: Area, scheme: Scheme) -> Result<Jurisdiction, CommerceError> {
    let suffix = match scheme {
        Scheme::Oss => Some("OSS"),
        Scheme::Ioss => Some("IOSS"),
        Scheme::UkMarketplace => Some("UKMP"),
        Scheme::UsMarketplaceFacilitator => Some("MPF"),
        Scheme::AuLowValueImports => Some("LVI"),
        Scheme::CaDistributionPlatform => Some("DPO"),
        Scheme::JpPlatform => Some("PLAT"),
        Scheme::Domestic
        | Scheme::ReverseCharge
        | Scheme::Import
        | Scheme::InTcs
        | Scheme::NotCollected
        | Scheme::OutOfScope => None,
    };
    let code = match suffix {
        Some(suffix) => format!("{place}-{suffix}"),
        None => place.to_string(),
    };
    Jurisdiction::new(&code).map_err(|_| CommerceError::Internal)
}

/// The scheme whose return declares what the `tax_payable` account of `jurisdiction` holds:
/// the inverse of [`payable_jurisdiction`], with India's TCS payables (`IN-TCS-IGST`,
/// `IN-TCS-CGST`, `IN-MH-TCS-SGST`) under [`Scheme::InTcs`]. A bare place is a domestic
/// return.
pub fn payable_scheme(jurisdiction: &str) -> Scheme {
    const SUFFIXES: [(&str, Scheme); 7] = [
        ("-OSS", Scheme::Oss),
        ("-IOSS", Scheme::Ioss),
        ("-UKMP", Scheme::UkMarketplace),
        ("-MPF", Scheme::UsMarketplaceFacilitator),
        ("-LVI", Scheme::AuLowValueImports),
        ("-DPO", Scheme::CaDistributionPlatform),
        ("-PLAT", Scheme::JpPlatform),
    ];
    if jurisdiction.contains("-TCS-") {
        return Scheme::InTcs;
    }
    SUFFIXES
        .iter()
        .find(|(suffix, _)| jurisdiction.ends_with(suffix))
        .map_or(Scheme::Domestic, |(_, scheme)| *scheme)
}

/// Who collects tax that `liable` owes: the buyer's and nobody's tax is not charged.
pub fn collector_of(liable: Liable) -> TaxCollector {
    match liable {
        Liable::Seller => TaxCollector::Seller,
        Liable::Marketplace | Liable::Buyer | Liable::Nobody => TaxCollector::Marketplace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payable_names_the_scheme_that_declares_it() {
        let place = Area::parse("US-CA").unwrap();
        for scheme in Scheme::ALL {
            let jurisdiction = payable_jurisdiction(place, scheme).unwrap();
            let expected = match scheme {
                Scheme::Domestic
                | Scheme::ReverseCharge
                | Scheme::Import
                | Scheme::InTcs
                | Scheme::NotCollected
                | Scheme::OutOfScope => Scheme::Domestic,
                other => other,
            };
            assert_eq!(
                payable_scheme(jurisdiction.as_str()),
                expected,
                "{scheme:?}"
            );
        }
        let withheld = Withheld {
            rate: TaxRate::from_millionths(5_000).unwrap(),
            split: TcsSplit::CentralAndState,
            seller_state: Area::parse("IN-MH").unwrap(),
        };
        let eur = Money::from_minor(101, bazaar_money::Currency::INR);
        for (_, jurisdiction, _) in withheld.payables(eur).unwrap() {
            assert_eq!(payable_scheme(jurisdiction.as_str()), Scheme::InTcs);
        }
    }
}
