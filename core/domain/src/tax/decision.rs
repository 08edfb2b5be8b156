//! What the engine answers for one line: where the supply is taxed, who owes the tax, under
//! which scheme, at which rate, and the rule that decided, with its legal basis.

use super::{Area, TaxRate, Unconfirmed};

/// Who owes the tax to the authority.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Liable {
    /// The seller charges it and declares it; Bazaar passes it on with the seller's share.
    Seller,
    /// Bazaar, as deemed supplier or marketplace facilitator: it never reaches the seller.
    Marketplace,
    /// The buyer accounts for it: reverse charge, or import tax at the border.
    Buyer,
    /// No one: outside the scope of any tax Bazaar knows, or below a threshold.
    Nobody,
}

impl Liable {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seller => "seller",
            Self::Marketplace => "marketplace",
            Self::Buyer => "buyer",
            Self::Nobody => "nobody",
        }
    }
}

/// The scheme the tax is declared under.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Scheme {
    /// A domestic return in the place of supply.
    Domestic,
    /// The EU One-Stop Shop (union or non-union scheme), quarterly.
    Oss,
    /// The EU Import One-Stop Shop, monthly.
    Ioss,
    /// The customer accounts for the tax; nothing is charged.
    ReverseCharge,
    /// Tax is due when the goods are imported, from the importer; nothing is charged at sale.
    Import,
    /// A US state's marketplace facilitator law.
    UsMarketplaceFacilitator,
    /// The UK's rules for online marketplaces (VAT Act 1994, section 5A).
    UkMarketplace,
    /// Australia's GST on low-value imported goods and inbound digital supplies through an
    /// electronic distribution platform.
    AuLowValueImports,
    /// Canada's GST/HST rules for distribution platform operators.
    CaDistributionPlatform,
    /// Japan's platform taxation of foreign sellers' e-services.
    JpPlatform,
    /// India's tax collected at source by the e-commerce operator.
    InTcs,
    /// A tax exists but is not collected on this sale (below a nexus threshold, not taxable).
    NotCollected,
    /// No tax Bazaar knows of applies.
    OutOfScope,
}

impl Scheme {
    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domestic => "domestic",
            Self::Oss => "oss",
            Self::Ioss => "ioss",
            Self::ReverseCharge => "reverse_charge",
            Self::Import => "import",
            Self::UsMarketplaceFacilitator => "us_marketplace_facilitator",
            Self::UkMarketplace => "uk_marketplace",
            Self::AuLowValueImports => "au_low_value_imports",
            Self::CaDistributionPlatform => "ca_distribution_platform",
            Self::JpPlatform => "jp_platform",
            Self::InTcs => "in_tcs",
            Self::NotCollected => "not_collected",
            Self::OutOfScope => "out_of_scope",
        }
    }
}

/// Declares the reasons: each with its stable code and its explanation.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident => $code:literal, $text:literal;)+) => {
        /// The rule that decided: explainable to a buyer, a seller and an auditor.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Reason {
            $($(#[$doc])* $name,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$name,)+];

            /// Its stable code.
            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$name => $code,)+
                }
            }

            /// The rule in one sentence, with its legal basis.
            pub fn explain(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)+
                }
            }
        }
    };
}

reasons! {
    /// Supplied within one EU member state.
    EuDomestic => "eu_domestic",
        "Supplied within one member state: its VAT, charged by the seller (Directive 2006/112/EC, Articles 31, 32 and 45).";
    /// An EU seller under the EUR 10,000 EU-wide threshold.
    EuBelowThreshold => "eu_below_threshold",
        "The seller's cross-border sales to EU consumers are within EUR 10,000 a year: VAT of the seller's member state (Directive 2006/112/EC, Article 59c).";
    /// Goods to a consumer in another member state, above the threshold.
    EuDistanceSale => "eu_distance_sale_oss",
        "Intra-EU distance sale of goods: VAT where the goods arrive, declared through the One-Stop Shop (Directive 2006/112/EC, Articles 33 and 369b).";
    /// An e-service to a consumer in another member state, above the threshold.
    EuEService => "eu_e_service_oss",
        "Electronically supplied service to a consumer: VAT where the customer is, declared through the One-Stop Shop (Directive 2006/112/EC, Articles 58 and 369b).";
    /// A live-streamed event for a consumer, from 2025.
    EuLiveEventAttendee => "eu_live_event_where_attendee_is",
        "Event attended virtually by a consumer: VAT where the attendee is, from 1 January 2025 (Directive 2006/112/EC, Article 54(1) as amended by Directive (EU) 2022/542).";
    /// A live-streamed event for a consumer, before 2025.
    EuLiveEventHeld => "eu_live_event_where_held",
        "Admission to an event for a consumer before 2025: VAT where the event takes place, the seller's member state (Directive 2006/112/EC, Article 54(1)).";
    /// A live-streamed event held outside the EU, before 2025.
    LiveEventHeldAbroad => "live_event_held_outside",
        "Before 2025 an event is taxed where it takes place: outside the EU, so no EU VAT (Directive 2006/112/EC, Article 54(1)).";
    /// A service to a business in another country.
    EuReverseChargeService => "eu_reverse_charge_service",
        "Service to a business with a confirmed VAT ID: taxed where the customer is established, the customer accounts for the VAT (Directive 2006/112/EC, Articles 44 and 196).";
    /// Goods to a business in another member state.
    EuIntraCommunitySupply => "eu_intra_community_supply",
        "Goods dispatched to a business with a confirmed VAT ID in another member state: exempt supply, the customer accounts for the acquisition (Directive 2006/112/EC, Articles 138 and 40).";
    /// An import of at most EUR 150 through the platform.
    EuIossDeemedSupplier => "eu_ioss_deemed_supplier",
        "Goods imported in a consignment of at most EUR 150 sold through the platform: the marketplace is the deemed supplier and declares the VAT through the Import One-Stop Shop (Directive 2006/112/EC, Articles 14a(1) and 369l).";
    /// An import above EUR 150, or to a business.
    EuImport => "eu_import_vat",
        "Goods imported above EUR 150, or for a business: import VAT is due at the border from the importer (Directive 2006/112/EC, Articles 30 and 201).";
    /// Goods inside the EU sold by a seller established outside it.
    EuDeemedSupplierGoods => "eu_deemed_supplier_goods",
        "Goods already in the EU sold to a consumer by a seller established outside the EU: the marketplace is the deemed supplier (Directive 2006/112/EC, Article 14a(2)).";
    /// An e-service sold to an EU consumer by a seller established outside the EU.
    EuDeemedSupplierEService => "eu_deemed_supplier_e_service",
        "Electronically supplied service sold through the platform by a seller established outside the EU: the marketplace is presumed the supplier and declares through the One-Stop Shop (Implementing Regulation (EU) 282/2011, Article 9a).";
    /// A live event sold to an EU consumer by a seller established outside the EU, from 2025.
    EuLiveEventNonEuSeller => "eu_live_event_non_eu_seller",
        "Event attended virtually by an EU consumer from a seller outside the EU: VAT where the attendee is, declared by the seller through the non-union One-Stop Shop (Directive 2006/112/EC, Articles 54(1) and 358a).";
    /// A UK sale of goods in the UK by a UK seller, or any UK-established supplier.
    GbDomestic => "gb_domestic",
        "Supplied in the United Kingdom by a UK seller: UK VAT, charged by the seller (VAT Act 1994, section 4).";
    /// An import of at most GBP 135 through the platform.
    GbMarketplaceImport => "gb_marketplace_low_value_import",
        "Goods imported in a consignment of at most GBP 135 sold through an online marketplace: the marketplace is liable for the VAT (VAT Act 1994, section 5A).";
    /// Goods in the UK sold by an overseas seller.
    GbMarketplaceOverseasSeller => "gb_marketplace_overseas_seller",
        "Goods already in the United Kingdom sold by a seller established outside it through an online marketplace: the marketplace is liable for the VAT (VAT Act 1994, section 5A).";
    /// A sale to a UK VAT-registered business that gave its number.
    GbReverseCharge => "gb_reverse_charge",
        "Sold to a UK VAT-registered business that gave its VAT number: the business accounts for the VAT under the reverse charge (VAT Act 1994, sections 5A and 8).";
    /// An import above GBP 135.
    GbImport => "gb_import_vat",
        "Goods imported in a consignment above GBP 135: import VAT is due at the border from the importer.";
    /// An overseas seller's service to a UK consumer.
    GbOverseasSellerService => "gb_overseas_seller_service",
        "Digital service to a UK consumer by a seller established outside the UK: UK VAT, due from the seller, who must register whatever its turnover (VAT Act 1994, Schedule 1A).";
    /// A US state with no state sales tax.
    UsNoSalesTax => "us_no_state_sales_tax",
        "The state levies no state-wide sales tax.";
    /// Sales into a US state below its economic nexus threshold.
    UsBelowNexus => "us_below_nexus",
        "The marketplace's sales into the state are below its economic nexus threshold: no sales tax is collected yet.";
    /// A US sale before the state's marketplace facilitator law.
    UsBeforeFacilitatorLaw => "us_before_facilitator_law",
        "Sold before the state's marketplace facilitator law took effect: the marketplace does not collect.";
    /// A US sale of food, e-services or live events.
    UsTaxabilityNotCovered => "us_taxability_not_covered",
        "Taxability of food and digital products differs by state and is not in Bazaar's data: not collected.";
    /// A US sale through the marketplace above the nexus threshold.
    UsMarketplaceFacilitator => "us_marketplace_facilitator",
        "The marketplace facilitates the sale and has economic nexus in the state: it collects and remits the state sales tax.";
    /// A Canadian sale by a Canadian seller.
    CaDomestic => "ca_domestic",
        "Supplied in Canada by a Canadian seller: GST or HST of the province, charged by the seller (Excise Tax Act, Part IX).";
    /// A Canadian sale by a non-resident seller through the platform.
    CaDistributionPlatform => "ca_distribution_platform",
        "Sold in Canada through the platform by a non-resident seller: the marketplace, as distribution platform operator, collects the GST or HST (Excise Tax Act, Subdivisions E and E.1 of Division II).";
    /// A Canadian sale to a GST/HST-registered business by a non-resident.
    CaRegisteredBusiness => "ca_registered_business",
        "Sold to a GST/HST-registered business by a non-resident seller: not collected, the business self-assesses where required.";
    /// Goods imported into Canada.
    CaImport => "ca_import",
        "Goods imported into Canada: GST or HST is due at the border from the importer.";
    /// An Australian sale by an Australian seller.
    AuDomestic => "au_domestic",
        "Supplied in Australia: GST, charged by the seller (GST Act 1999, section 9-5).";
    /// Low-value goods imported through the platform.
    AuLowValueImport => "au_low_value_import",
        "Goods imported in a consignment of at most AUD 1,000 through an electronic distribution platform: the platform is liable for the GST (GST Act 1999, Divisions 84-C and 84-D).";
    /// A foreign seller's service to an Australian consumer through the platform.
    AuInboundService => "au_inbound_service",
        "Digital service to an Australian consumer by a foreign seller through an electronic distribution platform: the platform is liable for the GST (GST Act 1999, section 84-55).";
    /// A sale to a GST-registered Australian business.
    AuRegisteredBusiness => "au_registered_business",
        "Sold from abroad to a GST-registered business that gave its ABN: not a taxable supply, the business accounts where required (GST Act 1999, section 84-5).";
    /// Goods above AUD 1,000 imported into Australia.
    AuImport => "au_import_gst",
        "Goods imported in a consignment above AUD 1,000: GST is due at the border from the importer.";
    /// A Japanese sale by a Japanese seller.
    JpDomestic => "jp_domestic",
        "Supplied in Japan by a Japanese seller: consumption tax, charged by the seller (Consumption Tax Act, Article 4).";
    /// A foreign seller's e-service to a Japanese consumer through a designated platform.
    JpPlatformTaxation => "jp_platform_taxation",
        "Electronic service to a consumer in Japan by a foreign seller through a designated platform, from 1 April 2025: the platform is liable (Consumption Tax Act, Article 15-2).";
    /// A foreign seller's sale in Japan.
    JpForeignSeller => "jp_foreign_seller",
        "Supplied in Japan by a foreign seller: consumption tax, due from the seller.";
    /// A foreign seller's e-service to a Japanese business.
    JpReverseCharge => "jp_reverse_charge",
        "Business-to-business electronic service from abroad: the Japanese business accounts for the consumption tax (Consumption Tax Act, Article 5, specified taxable purchase).";
    /// Goods imported into Japan.
    JpImport => "jp_import",
        "Goods imported into Japan: consumption tax is due at the border from the importer.";
    /// An Indian sale by an Indian seller through the platform.
    InTcs => "in_tcs",
        "Sold in India through the platform by an Indian seller: the seller owes the GST, and the marketplace collects tax at source from the seller's proceeds (CGST Act 2017, section 52).";
    /// A destination Bazaar has no rules for.
    DestinationNotCovered => "destination_not_covered",
        "Bazaar has no tax rules for this destination: nothing is collected.";
    /// A rate the marketplace's operator configured for a destination without rules.
    ConfiguredRate => "configured_rate",
        "A rate the marketplace's operator configured for this destination, which Bazaar has no rules for: the marketplace collects it.";
}

/// India's TCS split: both halves in the seller's state, or integrated tax across states.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TcsSplit {
    /// Seller and buyer in the same state: half CGST, half SGST of that state.
    CentralAndState,
    /// Seller and buyer in different states: IGST.
    Integrated,
}

/// Tax the marketplace withholds from the seller's proceeds (India's TCS): it is not added to
/// the price and not owed by the buyer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Withholding {
    /// The rate, on the line's value net of GST.
    pub rate: TaxRate,
    /// How the withheld amount is split between payables.
    pub split: TcsSplit,
    /// The seller's state: the SGST half's jurisdiction.
    pub seller_state: Area,
    /// The rate's source in the data.
    pub source: String,
}

/// Whether the line's price includes the tax or the tax is added on top.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PriceBasis {
    /// Prices include the tax (the EU, the UK, Australia, Japan, India).
    Inclusive,
    /// Tax is added to the price at checkout (the US, Canada).
    Exclusive,
}

/// The engine's answer for one line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Decision {
    /// Where the supply is taxed.
    pub place: Area,
    /// Who owes the tax.
    pub liable: Liable,
    /// How it is declared.
    pub scheme: Scheme,
    /// The rate charged on the line: zero when nothing is charged (reverse charge, import,
    /// not collected, out of scope).
    pub rate: TaxRate,
    /// The source of the rate in the data, when one was read.
    pub rate_source: Option<String>,
    /// The customer accounts for the tax: invoices carry the reverse-charge wording.
    pub reverse_charge: bool,
    /// The rule that decided.
    pub reason: Reason,
    /// A business number was given but could not be confirmed, so tax was charged as for a
    /// consumer.
    pub unconfirmed: Option<Unconfirmed>,
    /// Tax withheld from the seller (India's TCS).
    pub withholding: Option<Withholding>,
    /// Whether the price includes the tax.
    pub basis: PriceBasis,
}

impl Decision {
    /// Nothing charged and nobody liable: a destination Bazaar has no rules for.
    pub fn not_covered(place: Area, basis: PriceBasis) -> Self {
        Self {
            place,
            liable: Liable::Nobody,
            scheme: Scheme::OutOfScope,
            rate: TaxRate::ZERO,
            rate_source: None,
            reverse_charge: false,
            reason: Reason::DestinationNotCovered,
            unconfirmed: None,
            withholding: None,
            basis,
        }
    }

    /// Whether tax is charged to the buyer on this line.
    pub fn charges_tax(&self) -> bool {
        !self.rate.is_zero() && matches!(self.liable, Liable::Seller | Liable::Marketplace)
    }
}
