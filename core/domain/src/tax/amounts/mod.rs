//! Tax amounts from decisions, and the rounding rule.
//!
//! The rounding rule: tax is computed and rounded half-up per line, in the line's currency's
//! minor unit; an invoice's tax is the sum of its lines' taxes, and its breakdown by place
//! and rate sums the same line taxes, so the invoice total, the breakdown and the lines
//! always agree to the minor unit. A refund returns tax in proportion to the refunded part of
//! the line, rounded half-up, and the refund that completes the line returns exactly what is
//! left, so no line ever returns more tax than it collected.

use bazaar_money::{Money, MoneyError};

use super::{Decision, PriceBasis, TaxError, TaxRate};
use crate::postings::prorate;

fn share(amount: Money, rate: TaxRate, denominator: i64) -> Result<Money, MoneyError> {
    let minor = prorate(amount.minor(), i64::from(rate.millionths()), denominator)?;
    Ok(Money::from_minor(minor, amount.currency()))
}

/// One line's tax.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LineTax {
    /// The line's value without tax.
    pub net: Money,
    /// The tax charged to the buyer.
    pub tax: Money,
    /// What the buyer pays for the line: `net + tax`.
    pub total: Money,
    /// Tax withheld from the seller's proceeds (India's TCS), on `net`; not part of `total`.
    pub withheld: Money,
}

/// The tax of a line priced at `price` (tax included or not, as the decision's basis
/// says). A negative price is refused.
pub fn line_tax(decision: &Decision, price: Money) -> Result<LineTax, TaxError> {
    if price.is_negative() {
        return Err(TaxError::Money(MoneyError::Overflow));
    }
    let rate = if decision.charges_tax() {
        decision.rate
    } else {
        TaxRate::ZERO
    };
    let (net, tax) = match decision.basis {
        PriceBasis::Inclusive => {
            let denominator = i64::from(TaxRate::WHOLE)
                .checked_add(i64::from(rate.millionths()))
                .ok_or(MoneyError::Overflow)?;
            let tax = share(price, rate, denominator)?;
            (price.checked_sub(tax)?, tax)
        }
        PriceBasis::Exclusive => (price, share(price, rate, i64::from(TaxRate::WHOLE))?),
    };
    let withheld = match &decision.withholding {
        Some(withholding) => share(net, withholding.rate, i64::from(TaxRate::WHOLE))?,
        None => Money::zero(price.currency()),
    };
    Ok(LineTax {
        net,
        tax,
        total: net.checked_add(tax)?,
        withheld,
    })
}

/// The tax a refund returns: `tax * refund / total`, rounded half-up, and exactly what is
/// left when the refund completes the line. Refusing a refund beyond the line keeps the
/// tax returned within the tax collected.
pub fn refund_tax(
    line: &LineTax,
    refunded_before: Money,
    tax_returned_before: Money,
    refund: Money,
) -> Result<Money, TaxError> {
    let refunded = refunded_before.checked_add(refund)?;
    if refund.is_negative() || refunded.minor() > line.total.minor() {
        return Err(TaxError::Money(MoneyError::Overflow));
    }
    let left = line.tax.checked_sub(tax_returned_before)?;
    if refunded == line.total {
        return Ok(left);
    }
    let due = Money::from_minor(
        prorate(line.tax.minor(), refunded.minor(), line.total.minor())?,
        line.tax.currency(),
    );
    // What the refunds so far should have returned, less what they did; never more than is
    // left, never negative.
    let back = due.checked_sub(tax_returned_before)?;
    Ok(Money::from_minor(
        back.minor().clamp(0, left.minor().max(0)),
        back.currency(),
    ))
}

/// One group of an invoice's tax breakdown: the lines taxed in one place, under one scheme,
/// at one rate.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaxGroup {
    /// Where the tax is owed.
    pub place: super::Area,
    /// How it is declared.
    pub scheme: super::Scheme,
    /// The rate.
    pub rate: TaxRate,
    /// The group's value without tax.
    pub net: Money,
    /// The group's tax: the sum of its lines' taxes.
    pub tax: Money,
}

/// An invoice's tax: its groups, in first-seen order, and the total, which is both the sum
/// of the lines' taxes and the sum of the groups' taxes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaxSummary {
    /// One group per place, scheme and rate.
    pub groups: Vec<TaxGroup>,
    /// The invoice's tax.
    pub tax: Money,
    /// The invoice's value without tax.
    pub net: Money,
}

impl TaxSummary {
    /// Sums `lines` (all in one currency) under the rounding rule: no rounding after the
    /// lines'.
    pub fn of(
        lines: &[(&Decision, LineTax)],
        currency: bazaar_money::Currency,
    ) -> Result<Self, TaxError> {
        let mut groups: Vec<TaxGroup> = Vec::new();
        let mut tax = Money::zero(currency);
        let mut net = Money::zero(currency);
        for (decision, line) in lines {
            tax = tax.checked_add(line.tax)?;
            net = net.checked_add(line.net)?;
            let rate = if decision.charges_tax() {
                decision.rate
            } else {
                TaxRate::ZERO
            };
            let same = |g: &&mut TaxGroup| {
                g.place == decision.place && g.scheme == decision.scheme && g.rate == rate
            };
            match groups.iter_mut().find(same) {
                Some(group) => {
                    group.net = group.net.checked_add(line.net)?;
                    group.tax = group.tax.checked_add(line.tax)?;
                }
                None => groups.push(TaxGroup {
                    place: decision.place,
                    scheme: decision.scheme,
                    rate,
                    net: line.net,
                    tax: line.tax,
                }),
            }
        }
        Ok(Self { groups, tax, net })
    }
}

#[cfg(test)]
mod tests;
