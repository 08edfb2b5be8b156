//! An order's invoice: who supplies, who buys, each line with its tax and the rule that
//! decided it, the tax per place and rate, and the mentions the law requires (the words
//! "Reverse charge" where the customer accounts for the VAT, Directive 2006/112/EC Article
//! 226(11a); the marketplace named where it is the deemed supplier or facilitator).
//!
//! Amounts are the ones fixed at checkout: each line's tax was rounded on its own, and the
//! invoice's tax is the sum of its lines' (the documented rounding rule, see `amounts`).

use bazaar_money::{Currency, Money};

use super::{Area, Decision, Liable, Reason, TaxCode, TaxError, TaxGroup, TaxSummary};

/// One line as the invoice prints it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvoiceLine {
    /// What was sold.
    pub title: String,
    /// Its tax code.
    pub code: TaxCode,
    /// Units.
    pub quantity: u32,
    /// Without tax.
    pub net: Money,
    /// The tax.
    pub tax: Money,
    /// What the buyer paid for it.
    pub total: Money,
    /// The decision, with the rule.
    pub decision: Decision,
}

/// A party on the invoice.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvoiceParty {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub area: Area,
    /// Its tax registration number there, when it has one.
    pub tax_number: Option<String>,
}

/// What the invoice is drawn from: the order's lines as checkout fixed them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvoiceSource {
    /// The invoice's number (the order's).
    pub number: String,
    /// The day of supply, `YYYY-MM-DD`.
    pub issued: String,
    /// The seller.
    pub seller: InvoiceParty,
    /// The buyer, with the VAT number confirmed at checkout for a business.
    pub buyer: InvoiceParty,
    /// The marketplace, named where it is liable for a line's tax.
    pub marketplace: InvoiceParty,
    /// The currency the buyer paid in.
    pub currency: Currency,
    /// Each line: title, tax code, quantity, total paid, the tax within it and the
    /// decision.
    pub lines: Vec<(String, TaxCode, u32, Money, Money, Decision)>,
}

/// An invoice, ready to render.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Invoice {
    /// Its number.
    pub number: String,
    /// The day of supply.
    pub issued: String,
    /// The seller.
    pub seller: InvoiceParty,
    /// The buyer.
    pub buyer: InvoiceParty,
    /// The marketplace, when it is liable for some line's tax.
    pub marketplace: Option<InvoiceParty>,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Net and tax per place, scheme and rate.
    pub groups: Vec<TaxGroup>,
    /// The sum of the lines' net amounts.
    pub net: Money,
    /// The sum of the lines' tax.
    pub tax: Money,
    /// What the buyer paid.
    pub total: Money,
    /// The mentions: each distinct rule with its legal basis, reverse charge first.
    pub notes: Vec<String>,
}

/// The mention an invoice must carry when the customer accounts for the tax.
pub const REVERSE_CHARGE_NOTE: &str = "Reverse charge: the customer accounts for the VAT (Directive 2006/112/EC, Article 196; mention required by Article 226(11a)).";

impl Invoice {
    /// Draws the invoice: each line's total and tax as checkout fixed them, its net the
    /// difference; the groups, the totals and the notes.
    pub fn draw(source: InvoiceSource) -> Result<Self, TaxError> {
        let mut lines = Vec::with_capacity(source.lines.len());
        let mut taxed = Vec::with_capacity(source.lines.len());
        let mut total = Money::zero(source.currency);
        for (title, code, quantity, paid, tax, decision) in source.lines {
            if tax.is_negative() || tax.minor() > paid.minor() || tax.currency() != paid.currency()
            {
                return Err(TaxError::Money(bazaar_money::MoneyError::Overflow));
            }
            let amounts = super::LineTax {
                net: paid.checked_sub(tax)?,
                tax,
                total: paid,
                withheld: Money::zero(paid.currency()),
            };
            total = total.checked_add(amounts.total)?;
            lines.push(InvoiceLine {
                title,
                code,
                quantity,
                net: amounts.net,
                tax: amounts.tax,
                total: amounts.total,
                decision: decision.clone(),
            });
            taxed.push((decision, amounts));
        }
        let pairs: Vec<_> = taxed.iter().map(|(d, a)| (d, *a)).collect();
        let summary = TaxSummary::of(&pairs, source.currency)?;
        let marketplace_liable = lines
            .iter()
            .any(|l| l.decision.liable == Liable::Marketplace && l.decision.charges_tax());
        let mut notes = Vec::new();
        if lines.iter().any(|l| l.decision.reverse_charge) {
            notes.push(REVERSE_CHARGE_NOTE.to_owned());
        }
        let mut reasons: Vec<Reason> = lines.iter().map(|l| l.decision.reason).collect();
        reasons.sort();
        reasons.dedup();
        notes.extend(reasons.into_iter().map(|r| r.explain().to_owned()));
        Ok(Self {
            number: source.number,
            issued: source.issued,
            seller: source.seller,
            buyer: source.buyer,
            marketplace: marketplace_liable.then_some(source.marketplace),
            lines,
            groups: summary.groups,
            net: summary.net,
            tax: summary.tax,
            total,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::{PriceBasis, Scheme, TaxRate};

    fn party(name: &str, area: &str, number: Option<&str>) -> InvoiceParty {
        InvoiceParty {
            name: name.to_owned(),
            area: Area::parse(area).unwrap(),
            tax_number: number.map(str::to_owned),
        }
    }

    fn decision(liable: Liable, scheme: Scheme, rate: u32, reason: Reason) -> Decision {
        Decision {
            place: Area::parse("DE").unwrap(),
            liable,
            scheme,
            rate: TaxRate::from_millionths(rate).unwrap(),
            rate_source: None,
            reverse_charge: scheme == Scheme::ReverseCharge,
            reason,
            unconfirmed: None,
            withholding: None,
            basis: PriceBasis::Inclusive,
        }
    }

    #[test]
    fn an_invoice_sums_its_lines_and_carries_the_reverse_charge_mention() {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        let reverse = decision(
            Liable::Buyer,
            Scheme::ReverseCharge,
            0,
            Reason::EuReverseChargeService,
        );
        let source = InvoiceSource {
            number: "o-1".into(),
            issued: "2026-03-02".into(),
            seller: party("Atelier", "FR", Some("FR40303265045")),
            buyer: party("Kunde GmbH", "DE", Some("DE136695976")),
            marketplace: party("Bazaar", "IE", Some("IE6388047V")),
            currency: Currency::EUR,
            lines: vec![
                (
                    "Course".into(),
                    TaxCode::EService,
                    1,
                    eur(10_000),
                    eur(0),
                    reverse.clone(),
                ),
                (
                    "Workbook".into(),
                    TaxCode::EService,
                    2,
                    eur(5_000),
                    eur(0),
                    reverse,
                ),
            ],
        };
        let invoice = Invoice::draw(source.clone()).unwrap();
        assert_eq!(invoice.total, eur(15_000));
        assert_eq!(invoice.tax, eur(0));
        assert_eq!(invoice.notes[0], REVERSE_CHARGE_NOTE);
        assert_eq!(invoice.notes.len(), 2);
        assert_eq!(invoice.marketplace, None);

        let mut deemed = source;
        let oss = decision(
            Liable::Marketplace,
            Scheme::Oss,
            190_000,
            Reason::EuDeemedSupplierEService,
        );
        deemed.lines = vec![
            (
                "Course".into(),
                TaxCode::EService,
                1,
                eur(11_900),
                eur(1_900),
                oss.clone(),
            ),
            (
                "Guide".into(),
                TaxCode::EService,
                1,
                eur(999),
                eur(160),
                oss,
            ),
        ];
        let invoice = Invoice::draw(deemed).unwrap();
        assert_eq!(invoice.tax, eur(2_060));
        assert_eq!(invoice.net, eur(10_839));
        assert_eq!(invoice.groups.len(), 1);
        assert_eq!(invoice.groups[0].tax, invoice.tax);
        assert_eq!(invoice.marketplace.unwrap().name, "Bazaar");
        assert!(!invoice.notes.contains(&REVERSE_CHARGE_NOTE.to_owned()));
    }
}
