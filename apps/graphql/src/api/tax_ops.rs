//! Tax through the API: sellers' registrations, invoices for buyers and sellers, and, for
//! finance, each scheme's return for a period, what each payable owes, and its remittance.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use bazaar_domain::orders::OrderId;
use bazaar_domain::store::Party;
use bazaar_domain::tax::{Invoice, InvoiceParty, ReturnPeriod, ReturnRow, Scheme, TaxRegistration};
use bazaar_domain::tax_desk::{Payable, TaxDeskError};

use super::tax::{LineTaxNode, TaxCodeInput};
use super::types::{MoneyNode, instant};
use super::{app, buyer, commerce, error, finance, seller, uuid};

/// Maps a tax desk error to its client form; causes are logged here.
pub fn desk(e: TaxDeskError) -> async_graphql::Error {
    if matches!(e.code(), "unavailable" | "internal") {
        tracing::warn!(code = e.code(), %e, "a tax call failed in a backing service");
    }
    error(e.code(), e.to_string())
}

fn scheme_and_period(scheme: &str, period: &str) -> Result<(Scheme, ReturnPeriod)> {
    let scheme = Scheme::parse(scheme)
        .ok_or_else(|| error("invalid_input", "unknown scheme, e.g. oss, ioss, in_tcs"))?;
    let period =
        ReturnPeriod::of_scheme(scheme, period).map_err(|e| error(e.code(), e.to_string()))?;
    Ok((scheme, period))
}

/// A seller's tax registration.
#[derive(SimpleObject)]
pub struct TaxRegistrationNode {
    /// Where it holds: `FR`, `US-TX`, `IN-MH`.
    area: String,
    /// The number, compact (`FR40303265045`, `27AAPFU0939F1ZV`).
    number: String,
}

impl From<&TaxRegistration> for TaxRegistrationNode {
    fn from(r: &TaxRegistration) -> Self {
        Self {
            area: r.area().to_string(),
            number: r.number().to_owned(),
        }
    }
}

/// A party on an invoice.
#[derive(SimpleObject)]
pub struct InvoicePartyNode {
    name: String,
    area: String,
    tax_number: Option<String>,
}

impl From<&InvoiceParty> for InvoicePartyNode {
    fn from(p: &InvoiceParty) -> Self {
        Self {
            name: p.name.clone(),
            area: p.area.to_string(),
            tax_number: p.tax_number.clone(),
        }
    }
}

/// One invoice line.
#[derive(SimpleObject)]
pub struct InvoiceLineNode {
    title: String,
    tax_code: TaxCodeInput,
    quantity: i64,
    net: MoneyNode,
    total: MoneyNode,
    /// The tax with the rule that decided it.
    tax: LineTaxNode,
}

/// Net and tax per place, scheme and rate.
#[derive(SimpleObject)]
pub struct TaxGroupNode {
    place: String,
    scheme: String,
    rate: String,
    net: MoneyNode,
    tax: MoneyNode,
}

/// An order's invoice.
#[derive(SimpleObject)]
pub struct InvoiceNode {
    number: String,
    /// The day of supply, `YYYY-MM-DD`.
    issued: String,
    seller: InvoicePartyNode,
    buyer: InvoicePartyNode,
    /// Bazaar, when it is liable for some line's tax (deemed supplier, facilitator).
    marketplace: Option<InvoicePartyNode>,
    lines: Vec<InvoiceLineNode>,
    groups: Vec<TaxGroupNode>,
    net: MoneyNode,
    tax: MoneyNode,
    total: MoneyNode,
    /// The mentions: "Reverse charge" first where it applies, then each rule's legal basis.
    notes: Vec<String>,
    /// The invoice as a standalone HTML document.
    html: String,
}

impl From<&Invoice> for InvoiceNode {
    fn from(invoice: &Invoice) -> Self {
        Self {
            number: invoice.number.clone(),
            issued: invoice.issued.clone(),
            seller: (&invoice.seller).into(),
            buyer: (&invoice.buyer).into(),
            marketplace: invoice.marketplace.as_ref().map(Into::into),
            lines: invoice
                .lines
                .iter()
                .map(|line| InvoiceLineNode {
                    title: line.title.clone(),
                    tax_code: line.code.into(),
                    quantity: i64::from(line.quantity),
                    net: line.net.into(),
                    total: line.total.into(),
                    tax: (&bazaar_domain::orders::LineTax {
                        decision: line.decision.clone(),
                        amount: line.tax,
                        threshold: None,
                    })
                        .into(),
                })
                .collect(),
            groups: invoice
                .groups
                .iter()
                .map(|g| TaxGroupNode {
                    place: g.place.to_string(),
                    scheme: g.scheme.as_str().to_owned(),
                    rate: g.rate.percent_text(),
                    net: g.net.into(),
                    tax: g.tax.into(),
                })
                .collect(),
            net: invoice.net.into(),
            tax: invoice.tax.into(),
            total: invoice.total.into(),
            notes: invoice.notes.clone(),
            html: crate::invoice::render(invoice).into_string(),
        }
    }
}

/// One row of a return: a place, a rate and a currency.
#[derive(SimpleObject)]
pub struct TaxReturnRowNode {
    place: String,
    rate: String,
    net: MoneyNode,
    tax: MoneyNode,
}

impl From<&ReturnRow> for TaxReturnRowNode {
    fn from(row: &ReturnRow) -> Self {
        Self {
            place: row.place.to_string(),
            rate: row.rate.percent_text(),
            net: row.net.into(),
            tax: row.tax.into(),
        }
    }
}

/// One `tax_payable` account in a period.
#[derive(SimpleObject)]
pub struct PayableNode {
    /// `IT-OSS`, `US-CA-MPF`, `IN-TCS-IGST`.
    jurisdiction: String,
    /// Accrued in the period, refunds deducted.
    accrued: MoneyNode,
    /// What the remittance pays: accrued to the period's end less earlier remittances.
    due: MoneyNode,
    /// When it was remitted (the ledger's time), if it was.
    remitted_at: Option<String>,
}

impl From<&Payable> for PayableNode {
    fn from(p: &Payable) -> Self {
        Self {
            jurisdiction: p.jurisdiction.as_str().to_owned(),
            accrued: p.accrued.into(),
            due: p.due.into(),
            remitted_at: p.remitted.as_ref().map(|r| instant(r.posted_at)),
        }
    }
}

/// A scheme's return for a period: the sales declared, and the ledger's payables.
#[derive(SimpleObject)]
pub struct TaxReturnNode {
    scheme: String,
    period: String,
    /// Sales of the period per place, rate and currency, refunds deducted; for `in_tcs`,
    /// the sellers' GST.
    rows: Vec<TaxReturnRowNode>,
    /// Each payable of the scheme: accrued, due and remitted.
    payables: Vec<PayableNode>,
    /// The rows as CSV.
    csv: String,
    /// The payables as CSV (for `in_tcs`, the TCS per IGST, CGST and state SGST).
    payables_csv: String,
}

#[derive(Default)]
pub struct TaxQuery;

#[Object]
impl TaxQuery {
    /// The signed-in seller's tax registrations.
    async fn tax_registrations(&self, ctx: &Context<'_>) -> Result<Vec<TaxRegistrationNode>> {
        let seller = seller(ctx)?;
        let registrations = app(ctx)?.tax.registrations(seller).await.map_err(desk)?;
        Ok(registrations.iter().map(Into::into).collect())
    }

    /// The invoice of one of the signed-in buyer's or seller's orders; null for anyone
    /// else's.
    async fn invoice(&self, ctx: &Context<'_>, order_id: ID) -> Result<Option<InvoiceNode>> {
        let party = match (buyer(ctx), seller(ctx)) {
            (Ok(buyer), _) => Party::Buyer(buyer),
            (_, Ok(seller)) => Party::Seller(seller),
            (Err(error), _) => return Err(error),
        };
        let order = OrderId::from_uuid(uuid(&order_id, "order id")?);
        let invoice = crate::invoice::draw(app(ctx)?, party, order)
            .await
            .map_err(|e| {
                if matches!(e.code(), "unavailable" | "internal") {
                    tracing::warn!(code = e.code(), %e, "an invoice could not be drawn");
                }
                error(e.code(), e.to_string())
            })?;
        Ok(invoice.as_ref().map(Into::into))
    }

    /// `scheme`'s return for `period` (`YYYY-Qn` for quarterly schemes such as `oss`,
    /// `YYYY-MM` for monthly ones such as `ioss` and `in_tcs`). Finance only.
    async fn tax_return(
        &self,
        ctx: &Context<'_>,
        scheme: String,
        period: String,
    ) -> Result<TaxReturnNode> {
        finance(ctx)?;
        let (scheme, period) = scheme_and_period(&scheme, &period)?;
        let app = app(ctx)?;
        let (Some(from), Some(to)) = (period.from(), period.to()) else {
            return Err(error("invalid_input", "the period is out of range"));
        };
        let rows = app
            .market
            .tax_return(scheme, from, to)
            .await
            .map_err(commerce)?;
        let payables = app.tax.payables(scheme, period).await.map_err(desk)?;
        Ok(TaxReturnNode {
            scheme: scheme.as_str().to_owned(),
            period: period.to_string(),
            csv: bazaar_domain::tax::return_csv(&rows),
            payables_csv: bazaar_domain::tax_desk::payables_csv(&payables),
            rows: rows.iter().map(Into::into).collect(),
            payables: payables.iter().map(Into::into).collect(),
        })
    }
}

#[derive(Default)]
pub struct TaxMutation;

#[Object]
impl TaxMutation {
    /// Adds (or replaces) the signed-in seller's registration in `area`: an EU, UK or
    /// Australian VAT number is checked with its check digits, an Indian GSTIN with its
    /// check character (and sets the seller's state).
    async fn register_tax(
        &self,
        ctx: &Context<'_>,
        area: String,
        number: String,
    ) -> Result<TaxRegistrationNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let registration = app
            .tax
            .register(seller, &area, &number, app.now())
            .await
            .map_err(desk)?;
        tracing::info!(%seller, area = %registration.area(), "tax registration stored");
        Ok((&registration).into())
    }

    /// Removes the signed-in seller's registration in `area`; whether there was one.
    async fn remove_tax_registration(&self, ctx: &Context<'_>, area: String) -> Result<bool> {
        let seller = seller(ctx)?;
        app(ctx)?.tax.unregister(seller, &area).await.map_err(desk)
    }

    /// Remits every payable of `scheme` for `period`, which must have ended: its due amount
    /// moves from `tax_payable` to the bank. Retrying changes nothing. Finance only.
    async fn remit_tax(
        &self,
        ctx: &Context<'_>,
        scheme: String,
        period: String,
    ) -> Result<Vec<PayableNode>> {
        finance(ctx)?;
        let (scheme, period) = scheme_and_period(&scheme, &period)?;
        let app = app(ctx)?;
        let payables = app
            .tax
            .remit(scheme, period, app.now())
            .await
            .map_err(desk)?;
        for payable in &payables {
            tracing::info!(
                jurisdiction = payable.jurisdiction.as_str(),
                period = %period,
                due_minor = payable.due.minor(),
                currency = payable.currency.code(),
                "tax payable remitted"
            );
        }
        Ok(payables.iter().map(Into::into).collect())
    }
}
