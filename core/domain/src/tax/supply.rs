//! What the engine is asked: one order line, the parties, where the goods are, and the
//! running totals its thresholds compare against.

use bazaar_money::Money;

use super::{Area, TaxCode};
use crate::catalog::BasisPoints;
use crate::fx::calendar::Date;

/// Why a business customer's tax registration could not be confirmed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unconfirmed {
    /// The registry says the number is not valid (or it failed its check digits).
    Invalid,
    /// The registry (VIES) could not be asked: tax is charged, never zero-rated.
    RegistryUnavailable,
}

impl Unconfirmed {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::RegistryUnavailable => "registry_unavailable",
        }
    }
}

/// The buyer, as tax sees them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Customer {
    /// A consumer, or a business that gave no tax number.
    Consumer,
    /// A business whose tax registration was confirmed: for an EU VAT ID, a valid VIES
    /// answer whose consultation number is kept as proof.
    Business {
        /// The registration, canonical (`DE136695976`).
        tax_id: String,
        /// The registry's consultation number, when it gives one.
        consultation: Option<String>,
    },
    /// A business whose number could not be confirmed: taxed as a consumer.
    Unconfirmed {
        /// The number given, canonical when it parsed.
        tax_id: String,
        /// Why it could not be confirmed.
        why: Unconfirmed,
    },
}

impl Customer {
    /// A confirmed business.
    pub fn is_business(&self) -> bool {
        matches!(self, Self::Business { .. })
    }

    /// The tax number given, confirmed or not.
    pub fn tax_id(&self) -> Option<&str> {
        match self {
            Self::Consumer => None,
            Self::Business { tax_id, .. } | Self::Unconfirmed { tax_id, .. } => Some(tax_id),
        }
    }

    /// How the number fared: `confirmed`, `invalid` or `registry_unavailable`; `None` for a
    /// consumer.
    pub fn tax_id_status(&self) -> Option<&'static str> {
        match self {
            Self::Consumer => None,
            Self::Business { .. } => Some("confirmed"),
            Self::Unconfirmed { why, .. } => Some(why.as_str()),
        }
    }

    /// The registry's consultation number, for a confirmed business that has one.
    pub fn consultation(&self) -> Option<&str> {
        match self {
            Self::Business { consultation, .. } => consultation.as_deref(),
            Self::Consumer | Self::Unconfirmed { .. } => None,
        }
    }

    /// The customer stored as a tax number, its status and consultation number.
    pub fn from_parts(
        tax_id: Option<String>,
        status: Option<&str>,
        consultation: Option<String>,
    ) -> Option<Self> {
        Some(match (tax_id, status) {
            (None, None) => Self::Consumer,
            (Some(tax_id), Some("confirmed")) => Self::Business {
                tax_id,
                consultation,
            },
            (Some(tax_id), Some("invalid")) => Self::Unconfirmed {
                tax_id,
                why: Unconfirmed::Invalid,
            },
            (Some(tax_id), Some("registry_unavailable")) => Self::Unconfirmed {
                tax_id,
                why: Unconfirmed::RegistryUnavailable,
            },
            _ => return None,
        })
    }
}

/// A marketplace's sales into one US state over the period its nexus law measures (the
/// current or the previous calendar year, whichever is higher), this sale included.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StateSales {
    /// Gross sales, in USD.
    pub sales: Money,
    /// Separate transactions.
    pub transactions: u32,
}

/// One order line, as the engine needs it. Thresholds compare amounts the caller converted
/// into the threshold's currency ([`threshold_currency`](super::threshold_currency)).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Sale {
    /// The day of the supply: it picks the rules and rates in force.
    pub day: Date,
    /// What is sold.
    pub code: TaxCode,
    /// Where the seller is established (with its state, for India and the US).
    pub seller: Area,
    /// Where the customer is: the delivery address for goods, the customer's residence for
    /// services (with the state or province, for the US, Canada and India).
    pub buyer: Area,
    /// Consumer or confirmed business.
    pub customer: Customer,
    /// Goods: where they are when sold (the warehouse they ship from). `None` for services.
    pub ships_from: Option<Area>,
    /// Goods: the intrinsic value of the whole consignment, in the destination's threshold
    /// currency (EUR into the EU, GBP into the UK, AUD into Australia).
    pub consignment: Option<Money>,
    /// An EU seller's cross-border sales to consumers in other member states (goods and
    /// e-services), in EUR: the previous calendar year's or this year's including this
    /// sale, whichever is higher.
    pub eu_distance_sales: Option<Money>,
    /// The marketplace's sales into the buyer's US state.
    pub state_sales: Option<StateSales>,
    /// India: the GST rate the seller charges on the product (set by its HSN code), which
    /// Bazaar's data does not hold.
    pub seller_rate: Option<BasisPoints>,
}

/// The marketplace's own settings the rules depend on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Platform {
    /// Whether Japan's National Tax Agency designated Bazaar a specified platform operator
    /// (platform taxation of foreign sellers' e-services to consumers, from 2025-04-01).
    pub jp_designated: bool,
}
