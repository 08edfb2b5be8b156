//! Tax as the API shows it: each order line's tax with the rule that decided it.

use async_graphql::{Enum, SimpleObject};
use bazaar_domain::orders::LineTax;
use bazaar_domain::tax::TaxCode;

use super::types::MoneyNode;

/// What a product is, for tax.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(name = "TaxCode")]
pub enum TaxCodeInput {
    /// Physical goods without a reduced rate.
    GeneralGoods,
    /// Printed books (reduced rates in most countries).
    Books,
    /// Basic foodstuffs (reduced rates in most countries).
    Food,
    /// Electronically supplied services: pre-recorded courses, downloads, software.
    EService,
    /// Events streamed live: classes, webinars, concerts.
    LiveEvent,
}

impl From<TaxCodeInput> for TaxCode {
    fn from(code: TaxCodeInput) -> Self {
        match code {
            TaxCodeInput::GeneralGoods => Self::GeneralGoods,
            TaxCodeInput::Books => Self::Books,
            TaxCodeInput::Food => Self::Food,
            TaxCodeInput::EService => Self::EService,
            TaxCodeInput::LiveEvent => Self::LiveEvent,
        }
    }
}

impl From<TaxCode> for TaxCodeInput {
    fn from(code: TaxCode) -> Self {
        match code {
            TaxCode::GeneralGoods => Self::GeneralGoods,
            TaxCode::Books => Self::Books,
            TaxCode::Food => Self::Food,
            TaxCode::EService => Self::EService,
            TaxCode::LiveEvent => Self::LiveEvent,
        }
    }
}

/// A line's tax, as checkout decided it.
#[derive(SimpleObject, Clone, Debug)]
pub struct LineTaxNode {
    /// The tax charged, part of the line's total.
    pub amount: MoneyNode,
    /// The rate charged, e.g. `19%` or `6.875%`; `0%` when nothing is charged.
    pub rate: String,
    /// Where the supply is taxed: `DE`, `US-CA`.
    pub place: String,
    /// Who owes the tax: `seller`, `marketplace`, `buyer` or `nobody`.
    pub liable: String,
    /// How it is declared: `domestic`, `oss`, `ioss`, `reverse_charge`, ...
    pub scheme: String,
    /// The customer accounts for the tax (reverse charge).
    pub reverse_charge: bool,
    /// The rule that decided, e.g. `eu_distance_sale_oss`.
    pub reason: String,
    /// The rule in one sentence, with its legal basis.
    pub explanation: String,
}

/// A business buyer's tax number and what the registry answered.
#[derive(SimpleObject, Clone, Debug)]
pub struct TaxIdNode {
    /// The number, compact with its country prefix (`DE136695976`).
    pub number: String,
    /// `confirmed`, `invalid` or `registry_unavailable`: only a confirmed number is
    /// reverse-charged; the others are charged VAT.
    pub status: String,
    /// The registry's consultation number, kept as proof of the check.
    pub consultation: Option<String>,
}

impl TaxIdNode {
    /// The customer's number, if it gave one.
    pub fn of(customer: &bazaar_domain::tax::Customer) -> Option<Self> {
        Some(Self {
            number: customer.tax_id()?.to_owned(),
            status: customer.tax_id_status()?.to_owned(),
            consultation: customer.consultation().map(str::to_owned),
        })
    }
}

impl From<&LineTax> for LineTaxNode {
    fn from(tax: &LineTax) -> Self {
        let decision = &tax.decision;
        Self {
            amount: tax.amount.into(),
            rate: decision.rate.percent_text(),
            place: decision.place.to_string(),
            liable: decision.liable.as_str().to_owned(),
            scheme: decision.scheme.as_str().to_owned(),
            reverse_charge: decision.reverse_charge,
            reason: decision.reason.code().to_owned(),
            explanation: decision.reason.explain().to_owned(),
        }
    }
}
