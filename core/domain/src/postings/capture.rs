//! A captured line's postings: where its money goes at capture, and what each refund
//! reverses.

use bazaar_ledger::{Metadata, RequestKind, TransferId, TransferRequest};
use bazaar_money::{Currency, Money, MoneyError};
use uuid::Uuid;

use super::{Leg, LineTaxTerms, Posting, TaxCollector};
use crate::catalog::BasisPoints;
use crate::chart::{ChartAccount, Jurisdiction, ProviderName, Revenue, SellerId};
use crate::error::CommerceError;
use crate::fx::{Conversion, convert};
use crate::orders::{FxQuote, LineId, OrderId, RefundId};
use crate::payments::PaymentId;

/// What one line of a captured payment is, for the ledger.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineCapture {
    /// The captured payment; carried in every transfer's metadata.
    pub payment_id: PaymentId,
    /// The provider that captured the payment: its clearing account is debited.
    pub provider: ProviderName,
    /// The seller's order the line belongs to.
    pub order_id: OrderId,
    /// The seller whose pending account receives its share.
    pub seller_id: SellerId,
    /// The line; the ids of its capture transfers, and of its refunds' reversals, derive
    /// from it.
    pub line_id: LineId,
    /// Tax included, in the presentment currency.
    pub total: Money,
    /// The line's tax, fixed at checkout; included in `total`.
    pub tax: LineTaxTerms,
    /// The seller's commission rate fixed at checkout, in basis points; applied to the
    /// gross in the settlement currency.
    pub commission: BasisPoints,
    /// The currency the seller earns in: the quote's target, or the total's currency when
    /// there is no quote (anything else is `internal_error`).
    pub settlement_currency: Currency,
    /// The FX quote locked at checkout, present when the settlement currency differs from
    /// the presentment currency.
    pub quote: Option<FxQuote>,
}

/// Where a line's money goes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Breakdown {
    /// All tax charged to the buyer, in the presentment currency.
    pub tax: Money,
    /// The part of `tax` the marketplace owes: credited to `tax_payable`.
    pub collected: Money,
    /// The total less tax, in the presentment currency.
    pub net: Money,
    /// What goes to the seller's side before commission: the total less `collected`, in
    /// the presentment currency (the seller's own tax included).
    pub seller_part: Money,
    /// `seller_part` converted into the settlement currency at the locked quote, with its
    /// spread and rounding residue; `None` when no conversion is needed.
    pub conversion: Option<Conversion>,
    /// What the seller's sale is worth in the settlement currency before commission.
    pub gross: Money,
    /// The tax the seller owes, in the settlement currency: part of `gross`, outside the
    /// commission base.
    pub seller_tax: Money,
    /// The platform's commission: `gross - seller_tax` times the commission rate, rounded
    /// half-up, in the settlement currency.
    pub commission: Money,
    /// Tax withheld from the seller (India's TCS), per payable: leg name, jurisdiction,
    /// amount in the settlement currency.
    pub withheld: Vec<(&'static str, Jurisdiction, Money)>,
    /// What the seller earns.
    pub seller: Money,
}

/// `amount * numerator / denominator`, rounded half-up; all non-negative.
pub(crate) fn prorate(amount: i64, numerator: i64, denominator: i64) -> Result<i64, MoneyError> {
    if denominator <= 0 || amount < 0 || numerator < 0 {
        return Err(MoneyError::Overflow);
    }
    let product = i128::from(amount)
        .checked_mul(i128::from(numerator))
        .and_then(|p| p.checked_mul(2))
        .and_then(|p| p.checked_add(i128::from(denominator)))
        .ok_or(MoneyError::Overflow)?;
    let divisor = i128::from(denominator)
        .checked_mul(2)
        .ok_or(MoneyError::Overflow)?;
    let result = product.checked_div(divisor).ok_or(MoneyError::Overflow)?;
    i64::try_from(result).map_err(|_| MoneyError::Overflow)
}

/// `amount * numerator / denominator` rounded half-up, and zero when `denominator` is.
fn prorate_or_zero(amount: i64, numerator: i64, denominator: i64) -> Result<i64, MoneyError> {
    if denominator == 0 {
        Ok(0)
    } else {
        prorate(amount, numerator, denominator)
    }
}

/// `amount * rate`, rounded half-up, for a rate in basis points.
fn apply_bps(amount: Money, rate: BasisPoints) -> Result<Money, MoneyError> {
    let minor = prorate(amount.minor(), i64::from(rate.get()), 10_000)?;
    Ok(Money::from_minor(minor, amount.currency()))
}

impl LineCapture {
    /// Splits the line's total: the tax fixed at checkout, the part the marketplace
    /// collects (to `tax_payable`), the seller's part converted at the quote (or itself) into
    /// `gross`, the seller's own tax within it (in proportion), `commission = (gross -
    /// seller_tax) * c` rounded half-up, the withheld tax on the same base, and the seller
    /// gets what is left. `internal_error` when the settlement currency fits neither the
    /// quote nor the total, or the tax exceeds the total; a money error on overflow.
    pub fn breakdown(&self) -> Result<Breakdown, CommerceError> {
        let tax = self.tax.amount;
        if tax.currency() != self.total.currency()
            || tax.is_negative()
            || tax.minor() > self.total.minor()
        {
            return Err(CommerceError::Internal);
        }
        let net = self.total.checked_sub(tax)?;
        let collected = match self.tax.collector {
            TaxCollector::Marketplace => tax,
            TaxCollector::Seller => Money::zero(tax.currency()),
        };
        let seller_part = self.total.checked_sub(collected)?;
        let (conversion, gross) = match &self.quote {
            Some(quote) => {
                if quote.rate.to != self.settlement_currency {
                    return Err(CommerceError::Internal);
                }
                let conversion = convert(seller_part, &quote.rate, quote.spread)?;
                let gross = conversion.client_value;
                (Some(conversion), gross)
            }
            None => {
                if self.settlement_currency != self.total.currency() {
                    return Err(CommerceError::Internal);
                }
                (None, seller_part)
            }
        };
        let seller_tax = match self.tax.collector {
            TaxCollector::Marketplace => Money::zero(gross.currency()),
            TaxCollector::Seller => Money::from_minor(
                prorate_or_zero(gross.minor(), tax.minor(), seller_part.minor())?,
                gross.currency(),
            ),
        };
        let base = gross.checked_sub(seller_tax)?;
        let commission = apply_bps(base, self.commission)?;
        let withheld = match &self.tax.withheld {
            Some(terms) => {
                let after_commission = base.checked_sub(commission)?;
                let amount = Money::from_minor(
                    prorate(base.minor(), i64::from(terms.rate.millionths()), 1_000_000)?
                        .min(after_commission.minor()),
                    base.currency(),
                );
                terms.payables(amount)?
            }
            None => Vec::new(),
        };
        let mut seller = gross.checked_sub(commission)?;
        for (_, _, amount) in &withheld {
            seller = seller.checked_sub(*amount)?;
        }
        Ok(Breakdown {
            tax,
            collected,
            net,
            seller_part,
            conversion,
            gross,
            seller_tax,
            commission,
            withheld,
            seller,
        })
    }

    /// The capture legs, zero amounts left out.
    pub fn capture_legs(&self) -> Result<Vec<Leg>, CommerceError> {
        let b = self.breakdown()?;
        let psp = ChartAccount::PspClearing(self.provider.clone());
        let mut legs = vec![Leg {
            name: "tax",
            debit: psp.clone(),
            credit: ChartAccount::TaxPayable(self.tax.jurisdiction.clone()),
            amount: b.collected,
        }];
        let source = match &b.conversion {
            Some(conversion) => {
                legs.push(Leg {
                    name: "fx_in",
                    debit: psp,
                    credit: ChartAccount::FxPosition,
                    amount: b.seller_part,
                });
                legs.push(Leg {
                    name: "fx_spread",
                    debit: ChartAccount::FxPosition,
                    credit: ChartAccount::Revenue(Revenue::FxSpread),
                    amount: conversion.spread_value,
                });
                let residue = conversion.residue;
                if residue.is_negative() {
                    legs.push(Leg {
                        name: "fx_rounding",
                        debit: ChartAccount::Rounding,
                        credit: ChartAccount::FxPosition,
                        amount: residue.checked_neg()?,
                    });
                } else {
                    legs.push(Leg {
                        name: "fx_rounding",
                        debit: ChartAccount::FxPosition,
                        credit: ChartAccount::Rounding,
                        amount: residue,
                    });
                }
                ChartAccount::FxPosition
            }
            None => psp,
        };
        legs.push(Leg {
            name: "commission",
            debit: source.clone(),
            credit: ChartAccount::Revenue(Revenue::Commission),
            amount: b.commission,
        });
        for (name, jurisdiction, amount) in &b.withheld {
            legs.push(Leg {
                name,
                debit: source.clone(),
                credit: ChartAccount::TaxPayable(jurisdiction.clone()),
                amount: *amount,
            });
        }
        legs.push(Leg {
            name: "seller",
            debit: source,
            credit: ChartAccount::SellerPending(self.seller_id),
            amount: b.seller,
        });
        legs.retain(|leg| leg.amount.is_positive());
        Ok(legs)
    }

    /// How much of each capture leg is reversed once `refunded` (in presentment minor
    /// units, at most the line total) has been refunded in all. Non-decreasing in
    /// `refunded`, never above the leg, and the whole leg at a full refund; the legs
    /// that debit the provider's clearing account add up to exactly `refunded`.
    pub fn reversed_by(&self, refunded: i64) -> Result<Vec<(&'static str, i64)>, CommerceError> {
        let total = self.total.minor();
        if refunded < 0 || refunded > total {
            return Err(CommerceError::Internal);
        }
        let b = self.breakdown()?;
        let tax = prorate(b.collected.minor(), refunded, total)?;
        let part = refunded.checked_sub(tax).ok_or(MoneyError::Overflow)?;
        let share = |amount: i64| prorate_or_zero(amount, part, b.seller_part.minor());
        let mut reversed = vec![("tax", tax)];
        let gross = match &b.conversion {
            Some(conversion) => {
                reversed.push(("fx_in", part));
                reversed.push(("fx_spread", share(conversion.spread_value.minor())?));
                let residue = if refunded == total {
                    conversion
                        .residue
                        .minor()
                        .checked_abs()
                        .ok_or(MoneyError::Overflow)?
                } else {
                    0
                };
                reversed.push(("fx_rounding", residue));
                share(b.gross.minor())?
            }
            None => part,
        };
        let commission = prorate_or_zero(b.commission.minor(), gross, b.gross.minor())?;
        reversed.push(("commission", commission));
        // Withheld tax is reversed in proportion to what is left after commission, so that
        // neither it nor the seller's share ever runs ahead of its leg.
        let after = gross.checked_sub(commission).ok_or(MoneyError::Overflow)?;
        let after_whole = b.gross.checked_sub(b.commission)?.minor();
        let withheld_whole: i64 = b.withheld.iter().map(|(_, _, m)| m.minor()).sum();
        let withheld = prorate_or_zero(withheld_whole, after, after_whole)?;
        let mut left = withheld;
        for (index, (name, _, amount)) in b.withheld.iter().enumerate() {
            let this = if index.saturating_add(1) == b.withheld.len() {
                left
            } else {
                prorate_or_zero(amount.minor(), withheld, withheld_whole)?
            };
            left = left.checked_sub(this).ok_or(MoneyError::Overflow)?;
            reversed.push((name, this));
        }
        reversed.push((
            "seller",
            after.checked_sub(withheld).ok_or(MoneyError::Overflow)?,
        ));
        Ok(reversed)
    }

    fn metadata(&self, kind: &str) -> Metadata {
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), kind.into());
        metadata.insert("payment_id".into(), self.payment_id.to_string());
        metadata.insert("order_id".into(), self.order_id.to_string());
        metadata.insert("line_id".into(), self.line_id.to_string());
        metadata.insert("seller_id".into(), self.seller_id.to_string());
        metadata.insert("jurisdiction".into(), self.tax.jurisdiction.as_str().into());
        if let Some(quote) = &self.quote {
            metadata.insert("fx_rate".into(), quote.rate.mid.to_string());
            metadata.insert(
                "fx_pair".into(),
                format!("{}/{}", quote.rate.from.code(), quote.rate.to.code()),
            );
            metadata.insert("fx_source".into(), quote.rate.source.clone());
            metadata.insert(
                "fx_effective_at".into(),
                quote.rate.effective_at.as_micros().to_string(),
            );
            metadata.insert("fx_spread".into(), quote.spread.fraction().to_string());
        }
        metadata
    }

    /// The transfer id of capture leg `name`, derived from the line id: computing the
    /// capture again names the same transfers, and refunds name them as the originals they
    /// reverse.
    pub fn capture_leg_id(&self, name: &str) -> TransferId {
        capture_leg_id(self.line_id.as_uuid(), name)
    }

    /// The capture transfers of this line.
    pub fn capture_requests(&self) -> Result<Posting, CommerceError> {
        let legs = self.capture_legs()?;
        let metadata = self.metadata("capture");
        Ok(Posting::direct(
            legs,
            |leg| self.capture_leg_id(leg.name),
            &metadata,
        ))
    }

    /// The reversals that take the line from `before` to `after` refunded (presentment
    /// minor units), for refund `refund_id` (a chargeback uses a refund id of its own).
    pub fn refund_requests(
        &self,
        refund_id: RefundId,
        before: i64,
        after: i64,
        kind: &str,
    ) -> Result<Posting, CommerceError> {
        if before > after {
            return Err(CommerceError::Internal);
        }
        let legs = self.capture_legs()?;
        let old = self.reversed_by(before)?;
        let new = self.reversed_by(after)?;
        let mut metadata = self.metadata(kind);
        metadata.insert("refund_id".into(), refund_id.to_string());
        let mut posting = Posting::default();
        for leg in &legs {
            let find = |list: &[(&str, i64)]| {
                list.iter()
                    .find(|(name, _)| *name == leg.name)
                    .map_or(0, |(_, amount)| *amount)
            };
            let amount = find(&new)
                .checked_sub(find(&old))
                .ok_or(MoneyError::Overflow)?;
            if amount <= 0 {
                continue;
            }
            posting.add_accounts(leg);
            posting.requests.push(TransferRequest {
                id: TransferId::from_uuid(Uuid::new_v5(
                    &refund_id.as_uuid(),
                    format!("{}:{}", self.line_id, leg.name).as_bytes(),
                )),
                kind: RequestKind::Reverse {
                    original_id: self.capture_leg_id(leg.name),
                    amount: Money::from_minor(amount, leg.amount.currency()),
                },
                metadata: metadata.clone(),
            });
        }
        Ok(posting)
    }
}

/// The transfer id of capture leg `name` (e.g. `commission`) of the order line `line`.
pub fn capture_leg_id(line: Uuid, name: &str) -> TransferId {
    TransferId::from_uuid(Uuid::new_v5(&line, format!("capture:{name}").as_bytes()))
}
