//! Tax returns from the lines sold: per place of supply and rate, what was sold and the tax on
//! it, less what was refunded. For tax the marketplace owes, a return's tax is what the
//! ledger's `tax_payable` of that place and scheme holds: the same per-line amounts, and
//! refunds taken back with the same rounding (`round_half_up(tax x refunded / total)`).

use std::collections::BTreeMap;

use bazaar_money::{Currency, Money};

use super::{Area, Decision, Scheme, TaxError, TaxRate};
use crate::postings::prorate;

/// One sold line, as a return needs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReturnLine {
    /// The decision checkout made for it.
    pub decision: Decision,
    /// What the buyer paid for it, tax included.
    pub total: Money,
    /// Its tax.
    pub tax: Money,
    /// What was refunded of it so far.
    pub refunded: Money,
}

/// One row of a return: a place, a rate, a currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReturnRow {
    /// The member state, state or country the tax is owed to.
    pub place: Area,
    /// The rate.
    pub rate: TaxRate,
    /// The currency the lines were sold in.
    pub currency: Currency,
    /// The value of the supplies without tax, refunds deducted.
    pub net: Money,
    /// The tax, refunds deducted.
    pub tax: Money,
}

/// The return of `scheme` from `lines` (lines of other schemes are left out): one row per
/// place, rate and currency, in that order.
pub fn tax_return(lines: &[ReturnLine], scheme: Scheme) -> Result<Vec<ReturnRow>, TaxError> {
    let mut rows: BTreeMap<(Area, TaxRate, Currency), (Money, Money)> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.decision.scheme == scheme) {
        let currency = line.total.currency();
        let refunded_tax = if line.total.is_zero() {
            0
        } else {
            prorate(line.tax.minor(), line.refunded.minor(), line.total.minor())?
        };
        let tax = line
            .tax
            .checked_sub(Money::from_minor(refunded_tax, currency))?;
        let net = line.total.checked_sub(line.refunded)?.checked_sub(tax)?;
        let key = (line.decision.place, line.decision.rate, currency);
        let entry = rows
            .entry(key)
            .or_insert((Money::zero(currency), Money::zero(currency)));
        entry.0 = entry.0.checked_add(net)?;
        entry.1 = entry.1.checked_add(tax)?;
    }
    Ok(rows
        .into_iter()
        .map(|((place, rate, currency), (net, tax))| ReturnRow {
            place,
            rate,
            currency,
            net,
            tax,
        })
        .collect())
}

/// A return as CSV: `place,rate_percent,currency,net,tax`, amounts in major units.
pub fn return_csv(rows: &[ReturnRow]) -> String {
    let mut text = String::from("place,rate_percent,currency,net,tax\n");
    for row in rows {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            row.place,
            row.rate.percent_text().trim_end_matches('%'),
            row.currency.code(),
            row.net.amount_string(),
            row.tax.amount_string(),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::{Liable, PriceBasis, Reason};

    fn line(
        place: &str,
        scheme: Scheme,
        rate: u32,
        total: i64,
        tax: i64,
        refunded: i64,
    ) -> ReturnLine {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        ReturnLine {
            decision: Decision {
                place: Area::parse(place).unwrap(),
                liable: Liable::Marketplace,
                scheme,
                rate: TaxRate::from_millionths(rate).unwrap(),
                rate_source: None,
                reverse_charge: false,
                reason: Reason::EuEService,
                unconfirmed: None,
                withholding: None,
                basis: PriceBasis::Inclusive,
            },
            total: eur(total),
            tax: eur(tax),
            refunded: eur(refunded),
        }
    }

    #[test]
    fn a_return_sums_each_place_and_rate_less_refunds() {
        let lines = [
            line("IT", Scheme::Oss, 220_000, 12_200, 2_200, 6_100),
            line("IT", Scheme::Oss, 220_000, 2_440, 440, 0),
            line("DE", Scheme::Oss, 190_000, 11_900, 1_900, 0),
            line("DE", Scheme::Ioss, 190_000, 5_950, 950, 0),
        ];
        let rows = tax_return(&lines, Scheme::Oss).unwrap();
        assert_eq!(rows.len(), 2);
        let italy = rows.iter().find(|r| r.place.to_string() == "IT").unwrap();
        // 22.00 less half refunded (11.00) plus 4.40; net 50.00 plus 20.00.
        assert_eq!(italy.tax.minor(), 1_100 + 440);
        assert_eq!(italy.net.minor(), 5_000 + 2_000);
        assert_eq!(
            return_csv(&rows),
            "place,rate_percent,currency,net,tax\nDE,19,EUR,100.00,19.00\nIT,22,EUR,70.00,15.40\n"
        );
    }
}
