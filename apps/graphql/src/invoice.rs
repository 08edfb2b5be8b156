//! Invoices: an order drawn as the tax context's [`Invoice`] (from the order, its buyer's
//! checkout, the seller's registrations and Bazaar's own VAT number) and rendered as one
//! self-contained HTML document, for the API, the seller's pages and printing.

use bazaar_domain::error::CommerceError;
use bazaar_domain::orders::OrderId;
use bazaar_domain::store::Party;
use bazaar_domain::tax::{Area, Invoice, InvoiceParty, InvoiceSource, TaxError, TaxRegistration};
use bazaar_domain::tax_desk::TaxDeskError;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::pages::money;
use crate::state::App;

/// Why an invoice could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// The order, its buyer or its seller could not be read.
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    /// The seller's registrations could not be read.
    #[error(transparent)]
    Desk(#[from] TaxDeskError),
    /// The stored amounts do not add up.
    #[error(transparent)]
    Tax(#[from] TaxError),
}

impl InvoiceError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Commerce(error) => error.code(),
            Self::Desk(error) => error.code(),
            Self::Tax(_) => "internal",
        }
    }
}

/// The invoice of `order` as `party` may see it; `None` when the order is not theirs.
pub async fn draw(
    app: &App,
    party: Party,
    order: OrderId,
) -> Result<Option<Invoice>, InvoiceError> {
    let Some(view) = app.market.order_for(party, order).await? else {
        return Ok(None);
    };
    let seller = app
        .market
        .seller(view.seller_id)
        .await?
        .ok_or(CommerceError::NotFound("seller"))?;
    let buyer = app
        .market
        .buyer(view.buyer_id)
        .await?
        .ok_or(CommerceError::NotFound("buyer"))?;
    let checkout = app
        .market
        .checkout_for(view.buyer_id, view.checkout_id)
        .await?
        .ok_or(CommerceError::NotFound("checkout"))?;
    let registrations = app.tax.registrations(view.seller_id).await?;
    let place = view
        .lines
        .first()
        .map(|(line, _)| line.tax.decision.place)
        .unwrap_or(Area::country_wide(seller.country));
    let seller_number = TaxRegistration::for_place(&registrations, place)
        .or_else(|| TaxRegistration::for_place(&registrations, Area::country_wide(seller.country)))
        .map(|r| r.number().to_owned());
    let issued = bazaar_domain::fx::calendar::Date::of_instant(view.created_at)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let source = InvoiceSource {
        number: view.id.to_string(),
        issued,
        seller: InvoiceParty {
            name: seller.name.clone(),
            area: Area::country_wide(seller.country),
            tax_number: seller_number,
        },
        buyer: InvoiceParty {
            name: buyer.name.clone(),
            area: buyer.tax_area.unwrap_or(Area::country_wide(buyer.country)),
            tax_number: checkout
                .plan
                .customer
                .is_business()
                .then(|| checkout.plan.customer.tax_id().map(str::to_owned))
                .flatten(),
        },
        marketplace: InvoiceParty {
            name: "Bazaar".to_owned(),
            area: Area::country_wide(app.vat_number.country()),
            tax_number: Some(app.vat_number.as_str().to_owned()),
        },
        currency: view.total.currency(),
        lines: view
            .lines
            .into_iter()
            .map(|(line, _)| {
                (
                    line.title,
                    line.tax_code,
                    line.quantity,
                    line.total,
                    line.tax.amount,
                    line.tax.decision,
                )
            })
            .collect(),
    };
    Ok(Some(Invoice::draw(source)?))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;\
color:#1a1a1a;padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}\
table{border-collapse:collapse;width:100%;margin:1rem 0}\
th,td{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;white-space:nowrap}.parties{display:flex;gap:2rem}\
.parties section{flex:1}.note{font-size:.9rem;color:#333}.rule{font-size:.8rem;color:#555}\
p.reverse{font-weight:bold}";

/// The Content-Security-Policy of an invoice page: nothing loaded, nothing run, only the
/// invoice's own inline style (by its hash).
pub fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn party(heading: &str, party: &InvoiceParty) -> Markup {
    html! {
        section {
            h2 { (heading) }
            p { strong { (party.name) } br; (party.area.to_string()) }
            @if let Some(number) = &party.tax_number {
                p { "Tax number: " span class="tax-number" { (number) } }
            }
        }
    }
}

/// The invoice as a standalone HTML document (its style inline, nothing loaded).
pub fn render(invoice: &Invoice) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Invoice " (invoice.number) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Invoice" }
                p { "Number " span id="invoice-number" { (invoice.number) } " · date of supply " (invoice.issued) }
                div class="parties" {
                    (party("Supplier", &invoice.seller))
                    (party("Customer", &invoice.buyer))
                    @if let Some(marketplace) = &invoice.marketplace {
                        (party("Tax collected by the marketplace", marketplace))
                    }
                }
                table id="lines" {
                    thead { tr {
                        th { "Item" } th class="n" { "Qty" } th class="n" { "Net" }
                        th class="n" { "Rate" } th class="n" { "Tax" } th class="n" { "Total" }
                    } }
                    tbody {
                        @for line in &invoice.lines {
                            tr {
                                td {
                                    (line.title)
                                    br;
                                    span class="rule" {
                                        (line.decision.place.to_string()) " · "
                                        (line.decision.scheme.as_str()) " · "
                                        (line.decision.reason.code())
                                    }
                                }
                                td class="n" { (line.quantity) }
                                td class="n" { (money(line.net)) }
                                td class="n" { (line.decision.rate.percent_text()) }
                                td class="n" { (money(line.tax)) }
                                td class="n" { (money(line.total)) }
                            }
                        }
                    }
                }
                h2 { "Tax by rate" }
                table id="rates" {
                    thead { tr {
                        th { "Place" } th { "Scheme" } th class="n" { "Rate" }
                        th class="n" { "Net" } th class="n" { "Tax" }
                    } }
                    tbody {
                        @for group in &invoice.groups {
                            tr {
                                td { (group.place.to_string()) }
                                td { (group.scheme.as_str()) }
                                td class="n" { (group.rate.percent_text()) }
                                td class="n" { (money(group.net)) }
                                td class="n" { (money(group.tax)) }
                            }
                        }
                    }
                    tfoot {
                        tr { th colspan="3" { "Total" } td class="n" { (money(invoice.net)) } td class="n" id="tax-total" { (money(invoice.tax)) } }
                    }
                }
                p { "Amount paid: " strong id="amount-paid" { (money(invoice.total)) } }
                @for (index, note) in invoice.notes.iter().enumerate() {
                    @if index == 0 && note == bazaar_domain::tax::REVERSE_CHARGE_NOTE {
                        p class="reverse" id="reverse-charge" { (note) }
                    } @else {
                        p class="note" { (note) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bazaar_domain::fx::calendar::Date;
    use bazaar_domain::tax::{Customer, Platform, Sale, TaxCode, TaxData, decide, line_tax};
    use bazaar_money::{Currency, Money};

    use super::*;

    /// A French seller's course bought by a German business whose VAT number VIES
    /// confirmed: reverse charge, decided by the engine itself.
    fn reverse_charge_invoice() -> Invoice {
        let data = TaxData::builtin().unwrap();
        let sale = Sale {
            day: Date::parse_iso("2026-03-02").unwrap(),
            code: TaxCode::EService,
            seller: Area::parse("FR").unwrap(),
            buyer: Area::parse("DE").unwrap(),
            customer: Customer::Business {
                tax_id: "DE136695976".into(),
                consultation: Some("WAPIAAAAY8nR3yrU".into()),
            },
            ships_from: None,
            consignment: None,
            eu_distance_sales: None,
            state_sales: None,
            seller_rate: None,
        };
        let decision = decide(&sale, &Platform::default(), &data).unwrap();
        let paid = Money::from_minor(24_900, Currency::EUR);
        let tax = line_tax(&decision, paid).unwrap().tax;
        let party = |name: &str, area: &str, number: &str| InvoiceParty {
            name: name.into(),
            area: Area::parse(area).unwrap(),
            tax_number: Some(number.into()),
        };
        Invoice::draw(InvoiceSource {
            number: "0b5e4f3c-7a1d-4c2e-9f00-5d6e7a8b9c01".into(),
            issued: "2026-03-02".into(),
            seller: party("Atelier Lumière", "FR", "FR40303265045"),
            buyer: party("Kunde Lernwerk GmbH", "DE", "DE136695976"),
            marketplace: party("Bazaar", "IE", "IE6388047V"),
            currency: Currency::EUR,
            lines: vec![(
                "Watercolour foundations (recorded course)".into(),
                TaxCode::EService,
                1,
                paid,
                tax,
                decision,
            )],
        })
        .unwrap()
    }

    #[test]
    fn the_reverse_charge_invoice_says_so_and_matches_the_sample_in_the_docs() {
        let invoice = reverse_charge_invoice();
        assert!(invoice.tax.is_zero());
        assert_eq!(
            invoice.notes.first().map(String::as_str),
            Some(bazaar_domain::tax::REVERSE_CHARGE_NOTE)
        );
        let html = render(&invoice).into_string();
        assert!(html.contains("id=\"reverse-charge\""));
        assert!(html.contains("DE136695976"));
        assert!(html.contains("FR40303265045"));
        assert!(html.contains("Article 196"));
        let sample =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/invoice-sample.html");
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&sample, &html).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&sample).unwrap(),
            html,
            "docs/invoice-sample.html is stale: run with UPDATE_DOCS=1"
        );
    }
}
