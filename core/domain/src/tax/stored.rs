//! A decision as one line of text, for storing it with the order line it taxed: every field
//! the invoice, the postings and the reports need, in a fixed order, `|`-separated.

use super::{
    Area, Decision, Liable, PriceBasis, Reason, Scheme, TaxRate, TcsSplit, Unconfirmed, Withholding,
};

const VERSION: &str = "d1";

const LIABLE: [Liable; 4] = [
    Liable::Seller,
    Liable::Marketplace,
    Liable::Buyer,
    Liable::Nobody,
];

const SCHEMES: [Scheme; 13] = [
    Scheme::Domestic,
    Scheme::Oss,
    Scheme::Ioss,
    Scheme::ReverseCharge,
    Scheme::Import,
    Scheme::UsMarketplaceFacilitator,
    Scheme::UkMarketplace,
    Scheme::AuLowValueImports,
    Scheme::CaDistributionPlatform,
    Scheme::JpPlatform,
    Scheme::InTcs,
    Scheme::NotCollected,
    Scheme::OutOfScope,
];

impl Liable {
    /// The party stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        LIABLE.into_iter().find(|l| l.as_str() == text)
    }
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Self; 13] = SCHEMES;

    /// The scheme stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        SCHEMES.into_iter().find(|s| s.as_str() == text)
    }
}

impl Reason {
    /// The reason whose code is `code`.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }
}

fn flag(value: bool) -> &'static str {
    if value { "y" } else { "n" }
}

impl Decision {
    /// The decision as one line of text; [`Decision::from_stored`] reads it back.
    pub fn to_stored(&self) -> String {
        let (tcs_rate, split, state) = match &self.withholding {
            Some(w) => (
                w.rate.millionths().to_string(),
                match w.split {
                    TcsSplit::CentralAndState => "central_state",
                    TcsSplit::Integrated => "integrated",
                },
                w.seller_state.to_string(),
            ),
            None => (String::new(), "", String::new()),
        };
        let fields = [
            VERSION.to_owned(),
            self.place.to_string(),
            self.liable.as_str().to_owned(),
            self.scheme.as_str().to_owned(),
            self.rate.millionths().to_string(),
            self.rate_source.clone().unwrap_or_default(),
            flag(self.reverse_charge).to_owned(),
            self.reason.code().to_owned(),
            self.unconfirmed
                .map(Unconfirmed::as_str)
                .unwrap_or("")
                .to_owned(),
            tcs_rate,
            split.to_owned(),
            state,
            match self.basis {
                PriceBasis::Inclusive => "inclusive",
                PriceBasis::Exclusive => "exclusive",
            }
            .to_owned(),
        ];
        fields.join("|")
    }

    /// Reads what [`Decision::to_stored`] wrote; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        let cells: Vec<&str> = text.split('|').collect();
        let [
            version,
            place,
            liable,
            scheme,
            rate,
            source,
            rc,
            reason,
            unconfirmed,
            tcs,
            split,
            state,
            basis,
        ] = cells.as_slice()
        else {
            return None;
        };
        if *version != VERSION || source.contains('|') {
            return None;
        }
        let withholding = match *tcs {
            "" => None,
            rate => Some(Withholding {
                rate: TaxRate::from_millionths(rate.parse().ok()?)?,
                split: match *split {
                    "central_state" => TcsSplit::CentralAndState,
                    "integrated" => TcsSplit::Integrated,
                    _ => return None,
                },
                seller_state: Area::parse(state).ok()?,
                source: "stored".to_owned(),
            }),
        };
        Some(Self {
            place: Area::parse(place).ok()?,
            liable: Liable::parse(liable)?,
            scheme: Scheme::parse(scheme)?,
            rate: TaxRate::from_millionths(rate.parse().ok()?)?,
            rate_source: (!source.is_empty()).then(|| (*source).to_owned()),
            reverse_charge: match *rc {
                "y" => true,
                "n" => false,
                _ => return None,
            },
            reason: Reason::parse(reason)?,
            unconfirmed: match *unconfirmed {
                "" => None,
                "invalid" => Some(Unconfirmed::Invalid),
                "registry_unavailable" => Some(Unconfirmed::RegistryUnavailable),
                _ => return None,
            },
            withholding,
            basis: match *basis {
                "inclusive" => PriceBasis::Inclusive,
                "exclusive" => PriceBasis::Exclusive,
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::{Customer, Platform, TaxCode, TaxData, decide};

    #[test]
    fn every_golden_kind_of_decision_reads_back_as_written() {
        let data = TaxData::builtin().unwrap();
        let mut sale = crate::tax::Sale {
            day: crate::fx::calendar::Date::parse_iso("2026-06-15").unwrap(),
            code: TaxCode::Books,
            seller: Area::parse("IN-KA").unwrap(),
            buyer: Area::parse("IN-KA").unwrap(),
            customer: Customer::Consumer,
            ships_from: Some(Area::parse("IN").unwrap()),
            consignment: None,
            eu_distance_sales: None,
            state_sales: None,
            seller_rate: Some(crate::catalog::BasisPoints::new(500).unwrap()),
        };
        let mut decisions = vec![decide(&sale, &Platform::default(), &data).unwrap()];
        sale.seller = Area::parse("FR").unwrap();
        sale.buyer = Area::parse("DE").unwrap();
        sale.code = TaxCode::EService;
        sale.customer = Customer::Unconfirmed {
            tax_id: "DE136695976".to_owned(),
            why: Unconfirmed::RegistryUnavailable,
        };
        sale.eu_distance_sales = Some(bazaar_money::Money::from_minor(
            5_000_000,
            bazaar_money::Currency::EUR,
        ));
        decisions.push(decide(&sale, &Platform::default(), &data).unwrap());
        for decision in decisions {
            let mut expected = decision.clone();
            if let Some(w) = &mut expected.withholding {
                w.source = "stored".to_owned();
            }
            assert_eq!(Decision::from_stored(&decision.to_stored()), Some(expected));
        }
        assert_eq!(Decision::from_stored("d1|DE"), None);
        assert_eq!(Decision::from_stored(""), None);
        for scheme in Scheme::ALL {
            assert_eq!(Scheme::parse(scheme.as_str()), Some(scheme));
        }
    }
}
