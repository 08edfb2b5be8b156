//! The ledger postings of the commerce flows: capture, refund (full or partial, commission
//! and spread reversed proportionally), chargeback and settlement.
//!
//! Every amount here is derived from what the order stored at checkout (line totals, tax
//! and commission rates, the locked FX quote), and every transfer id is derived from the
//! line, refund or payment it belongs to. Computing a posting twice therefore gives the
//! same transfers with the same ids, and the ledger's idempotency makes a re-submission
//! harmless: that is how a posting interrupted by a crash is completed later.

use bazaar_ledger::{
    AccountId, BATCH_LEGS_MAX, Metadata, NewAccount, RequestKind, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money, MoneyError};
use uuid::Uuid;

use crate::catalog::BasisPoints;
use crate::chart::{ChartAccount, Expense, Jurisdiction, ProviderName, Revenue, SellerId};
use crate::error::CommerceError;
use crate::fx::{Conversion, convert};
use crate::orders::{CART_LINES_MAX, FxQuote, LineId, OrderId, RefundId};
use crate::payments::PaymentId;

/// One transfer of a posting, before it gets its id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Leg {
    /// The leg's name within its posting (`tax`, `fx_in`, `fx_spread`, `fx_rounding`,
    /// `commission`, `seller`, `bank`, `psp_fee`, `captured_unfulfilled`); with the line,
    /// refund or payment it belongs to, it derives the transfer's id.
    pub name: &'static str,
    /// The account debited, in the amount's currency.
    pub debit: ChartAccount,
    /// The account credited, in the amount's currency.
    pub credit: ChartAccount,
    /// What moves; its currency is both accounts' currency. Postings leave out legs that
    /// are not positive.
    pub amount: Money,
}

impl Leg {
    fn accounts(&self) -> [(ChartAccount, Currency); 2] {
        let currency = self.amount.currency();
        [
            (self.debit.clone(), currency),
            (self.credit.clone(), currency),
        ]
    }

    /// The ledger id of the debited account in the leg's currency.
    pub fn debit_id(&self) -> AccountId {
        self.debit.id(self.amount.currency())
    }

    /// The ledger id of the credited account in the leg's currency.
    pub fn credit_id(&self) -> AccountId {
        self.credit.id(self.amount.currency())
    }

    /// The leg as a direct transfer.
    pub fn direct(&self) -> RequestKind {
        RequestKind::Direct {
            debit_account_id: self.debit_id(),
            credit_account_id: self.credit_id(),
            amount: self.amount,
        }
    }
}

/// What one line of a captured payment is, for the ledger.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LineCapture {
    /// The captured payment; carried in every transfer's metadata.
    pub payment_id: PaymentId,
    /// The provider that captured the payment: its clearing account is debited.
    pub provider: ProviderName,
    /// Where the tax is owed: the buyer's country.
    pub jurisdiction: Jurisdiction,
    /// The seller's order the line belongs to.
    pub order_id: OrderId,
    /// The seller whose pending account receives its share.
    pub seller_id: SellerId,
    /// The line; the ids of its capture transfers, and of its refunds' reversals, derive
    /// from it.
    pub line_id: LineId,
    /// Tax included, in the presentment currency.
    pub total: Money,
    /// The tax rate fixed at checkout, in basis points; included in `total`.
    pub tax: BasisPoints,
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
    /// Tax, in the presentment currency.
    pub tax: Money,
    /// The total less tax, in the presentment currency.
    pub net: Money,
    /// `net` converted into the settlement currency at the locked quote, with its spread
    /// and rounding residue; `None` when no conversion is needed.
    pub conversion: Option<Conversion>,
    /// What the seller's sale is worth in the settlement currency before commission.
    pub gross: Money,
    /// The platform's commission: `gross` times the commission rate, rounded half-up, in
    /// the settlement currency.
    pub commission: Money,
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

/// `amount * rate`, rounded half-up, for a rate in basis points.
fn apply_bps(amount: Money, rate: BasisPoints) -> Result<Money, MoneyError> {
    let minor = prorate(amount.minor(), i64::from(rate.get()), 10_000)?;
    Ok(Money::from_minor(minor, amount.currency()))
}

impl LineCapture {
    /// Splits the line's total, for tax rate `t` and commission rate `c`:
    /// `tax = total * t / (1 + t)` rounded half-up, `net` is the rest, `gross` is `net`
    /// converted at the quote (or `net` itself), `commission = gross * c` rounded half-up,
    /// and the seller gets what is left. `internal_error` when the settlement currency fits
    /// neither the quote nor the total; a money error on overflow.
    pub fn breakdown(&self) -> Result<Breakdown, CommerceError> {
        // Prices include tax: tax = total * rate / (1 + rate), rounded half-up.
        let tax_minor = prorate(
            self.total.minor(),
            i64::from(self.tax.get()),
            10_000_i64
                .checked_add(i64::from(self.tax.get()))
                .ok_or(MoneyError::Overflow)?,
        )?;
        let tax = Money::from_minor(tax_minor, self.total.currency());
        let net = self.total.checked_sub(tax)?;
        let (conversion, gross) = match &self.quote {
            Some(quote) => {
                if quote.rate.to != self.settlement_currency {
                    return Err(CommerceError::Internal);
                }
                let conversion = convert(net, &quote.rate, quote.spread)?;
                let gross = conversion.client_value;
                (Some(conversion), gross)
            }
            None => {
                if self.settlement_currency != self.total.currency() {
                    return Err(CommerceError::Internal);
                }
                (None, net)
            }
        };
        let commission = apply_bps(gross, self.commission)?;
        let seller = gross.checked_sub(commission)?;
        Ok(Breakdown {
            tax,
            net,
            conversion,
            gross,
            commission,
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
            credit: ChartAccount::TaxPayable(self.jurisdiction.clone()),
            amount: b.tax,
        }];
        let source = match &b.conversion {
            Some(conversion) => {
                legs.push(Leg {
                    name: "fx_in",
                    debit: psp,
                    credit: ChartAccount::FxPosition,
                    amount: b.net,
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
        let tax = prorate(b.tax.minor(), refunded, total)?;
        let net = refunded.checked_sub(tax).ok_or(MoneyError::Overflow)?;
        let share = |amount: i64| -> Result<i64, MoneyError> {
            if b.net.minor() == 0 {
                Ok(0)
            } else {
                prorate(amount, net, b.net.minor())
            }
        };
        let mut reversed = vec![("tax", tax)];
        let gross = match &b.conversion {
            Some(conversion) => {
                reversed.push(("fx_in", net));
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
            None => net,
        };
        let commission = if b.gross.minor() == 0 {
            0
        } else {
            prorate(b.commission.minor(), gross, b.gross.minor())?
        };
        reversed.push(("commission", commission));
        reversed.push((
            "seller",
            gross.checked_sub(commission).ok_or(MoneyError::Overflow)?,
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
        metadata.insert("jurisdiction".into(), self.jurisdiction.as_str().into());
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

/// A set of transfers and the accounts they need.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Posting {
    /// Every (account, currency) the transfers touch, each once; opened in the ledger
    /// before the transfers are submitted.
    pub accounts: Vec<(ChartAccount, Currency)>,
    /// The transfers, in order; submitted as one linked batch, applied all-or-nothing.
    pub requests: Vec<TransferRequest>,
}

impl Posting {
    fn direct(legs: Vec<Leg>, id: impl Fn(&Leg) -> TransferId, metadata: &Metadata) -> Self {
        let mut posting = Self::default();
        for leg in legs {
            posting.add_accounts(&leg);
            posting.requests.push(TransferRequest {
                id: id(&leg),
                kind: leg.direct(),
                metadata: metadata.clone(),
            });
        }
        posting
    }

    /// Appends `request`, which moves money between `leg`'s accounts, and lists those
    /// accounts.
    pub fn add(&mut self, leg: &Leg, request: TransferRequest) {
        self.add_accounts(leg);
        self.requests.push(request);
    }

    fn add_accounts(&mut self, leg: &Leg) {
        for account in leg.accounts() {
            if !self.accounts.contains(&account) {
                self.accounts.push(account);
            }
        }
    }

    /// Appends `other`'s transfers and the accounts it touches that are not listed yet; a
    /// payment's capture is its lines' captures joined this way into one batch.
    pub fn extend(&mut self, other: Self) {
        for account in other.accounts {
            if !self.accounts.contains(&account) {
                self.accounts.push(account);
            }
        }
        self.requests.extend(other.requests);
    }

    /// Refuses a posting with more legs than one linked ledger batch holds
    /// (`posting_too_large`). A posting is never split into several batches: the parts
    /// would not apply all-or-nothing.
    pub fn check_size(&self) -> Result<(), CommerceError> {
        if self.requests.len() > BATCH_LEGS_MAX {
            return Err(CommerceError::PostingTooLarge {
                legs: self.requests.len(),
                max: BATCH_LEGS_MAX,
            });
        }
        Ok(())
    }

    /// The posting as the one linked batch the ledger applies all-or-nothing.
    pub fn into_batch(self) -> Result<Vec<TransferRequest>, CommerceError> {
        self.check_size()?;
        Ok(self.requests)
    }

    /// The account-opening requests for every account the posting touches.
    pub fn new_accounts(&self) -> Result<Vec<NewAccount>, CommerceError> {
        self.accounts
            .iter()
            .map(|(account, currency)| {
                account
                    .new_account(*currency)
                    .map_err(|_| CommerceError::Internal)
            })
            .collect()
    }
}

/// The most legs one order line's capture has: tax, the three FX legs, commission and
/// the seller's share.
pub const LINE_LEGS_MAX: usize = 6;

// A whole cart's capture (or its full refund) always fits in one linked batch, so a
// checkout that was accepted can always be posted.
const _: () = assert!(CART_LINES_MAX * LINE_LEGS_MAX <= BATCH_LEGS_MAX);

/// Opens the accounts `posting` touches and applies its transfers as one linked batch. Every
/// transfer id is derived, so submitting the same posting again changes nothing.
pub async fn submit<L: bazaar_ledger::LedgerStore>(
    ledger: &L,
    posting: Posting,
) -> Result<(), CommerceError> {
    use crate::service::ledger_unavailable;
    posting.check_size()?;
    for account in posting.new_accounts()? {
        ledger
            .create_account(account)
            .await
            .map_err(ledger_unavailable)?
            .map_err(|_| CommerceError::Internal)?;
    }
    let batch = posting.into_batch()?;
    ledger
        .submit(batch)
        .await
        .map_err(ledger_unavailable)?
        .map_err(|error| CommerceError::LedgerRejected { code: error.code() })?;
    Ok(())
}

/// The provider paid out a captured payment: the bank receives the gross less the fee, the
/// fee is a cost, and the clearing account is settled.
pub fn settlement_posting(
    payment_id: PaymentId,
    provider: &ProviderName,
    gross: Money,
    fee: Money,
) -> Result<Posting, CommerceError> {
    if !gross.is_positive() || fee.is_negative() || fee.minor() > gross.minor() {
        return Err(CommerceError::InvalidInput(
            "a settlement needs a positive gross and a fee between zero and the gross",
        ));
    }
    let psp = ChartAccount::PspClearing(provider.clone());
    let mut legs = vec![
        Leg {
            name: "bank",
            debit: ChartAccount::Bank,
            credit: psp.clone(),
            amount: gross.checked_sub(fee)?,
        },
        Leg {
            name: "psp_fee",
            debit: ChartAccount::Expense(Expense::PspFees),
            credit: psp,
            amount: fee,
        },
    ];
    legs.retain(|leg| leg.amount.is_positive());
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "settlement".into());
    metadata.insert("payment_id".into(), payment_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &payment_id.as_uuid(),
                format!("settlement:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

/// A payment captured after its checkout was cancelled: the provider owes the platform the
/// amount, and the platform owes it back to the buyer (nothing goes to a seller).
pub fn late_capture_posting(
    payment_id: PaymentId,
    provider: &ProviderName,
    amount: Money,
) -> Result<Posting, CommerceError> {
    if !amount.is_positive() {
        return Err(CommerceError::Internal);
    }
    let legs = vec![Leg {
        name: "captured_unfulfilled",
        debit: ChartAccount::PspClearing(provider.clone()),
        credit: ChartAccount::CapturedUnfulfilled,
        amount,
    }];
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "capture_late".into());
    metadata.insert("payment_id".into(), payment_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &payment_id.as_uuid(),
                format!("capture_late:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

/// A refund (or chargeback) of a late-captured payment: the buyer gets the money back
/// from the captured-but-unfulfilled account.
pub fn late_refund_posting(
    refund_id: RefundId,
    payment_id: PaymentId,
    provider: &ProviderName,
    amount: Money,
    kind: &str,
) -> Result<Posting, CommerceError> {
    if !amount.is_positive() {
        return Err(CommerceError::Internal);
    }
    let legs = vec![Leg {
        name: "captured_unfulfilled",
        debit: ChartAccount::CapturedUnfulfilled,
        credit: ChartAccount::PspClearing(provider.clone()),
        amount,
    }];
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), format!("{kind}_late"));
    metadata.insert("payment_id".into(), payment_id.to_string());
    metadata.insert("refund_id".into(), refund_id.to_string());
    Ok(Posting::direct(
        legs,
        |leg| {
            TransferId::from_uuid(Uuid::new_v5(
                &refund_id.as_uuid(),
                format!("refund_late:{}", leg.name).as_bytes(),
            ))
        },
        &metadata,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fx::{FxRate, Spread};
    use bazaar_ledger::Timestamp;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn line(total: i64, tax: u16, commission: u16, quote: Option<FxQuote>) -> LineCapture {
        let settlement_currency = quote.as_ref().map_or(Currency::BRL, |q| q.rate.to);
        LineCapture {
            payment_id: PaymentId::from_uuid(Uuid::from_u128(1)),
            provider: ProviderName::new("sandbox").unwrap(),
            jurisdiction: Jurisdiction::new("BR").unwrap(),
            order_id: OrderId::from_uuid(Uuid::from_u128(2)),
            seller_id: SellerId::from_uuid(Uuid::from_u128(3)),
            line_id: LineId::from_uuid(Uuid::from_u128(4)),
            total: Money::from_minor(total, Currency::BRL),
            tax: BasisPoints::new(tax).unwrap(),
            commission: BasisPoints::new(commission).unwrap(),
            settlement_currency,
            quote,
        }
    }

    fn brl_eur(spread: &str) -> Option<FxQuote> {
        Some(FxQuote {
            rate: FxRate {
                from: Currency::BRL,
                to: Currency::EUR,
                mid: Decimal::from_str("0.1670509505").unwrap(),
                source: "ecb".into(),
                effective_at: Timestamp::from_micros(0),
            },
            spread: Spread::new(Decimal::from_str(spread).unwrap()).unwrap(),
        })
    }

    #[test]
    fn a_same_currency_capture_follows_the_chart() {
        // 119.00 incl. 19% tax, 10% commission: tax 19.00, commission 10.00, seller 90.00.
        let legs = line(11_900, 1_900, 1_000, None).capture_legs().unwrap();
        let amounts: Vec<(&str, i64)> = legs.iter().map(|l| (l.name, l.amount.minor())).collect();
        assert_eq!(
            amounts,
            vec![("tax", 1_900), ("commission", 1_000), ("seller", 9_000)]
        );
    }

    #[test]
    fn a_cross_currency_capture_balances_each_currency_through_fx_positions() {
        let line = line(10_000, 0, 1_000, brl_eur("0.02"));
        let b = line.breakdown().unwrap();
        let c = b.conversion.clone().unwrap();
        assert_eq!(c.mid_value.minor(), 1_671);
        assert_eq!(b.gross.minor(), 1_637);
        assert_eq!(b.commission.minor(), 164);
        assert_eq!(b.seller.minor(), 1_473);
        let legs = line.capture_legs().unwrap();
        // Net flow per (account, currency) sums to zero in each currency.
        for currency in [Currency::BRL, Currency::EUR] {
            let debits: i64 = legs
                .iter()
                .filter(|l| l.amount.currency() == currency)
                .map(|l| l.amount.minor())
                .sum();
            let fx_out: i64 = legs
                .iter()
                .filter(|l| l.amount.currency() == currency && l.debit == ChartAccount::FxPosition)
                .map(|l| l.amount.minor())
                .sum::<i64>()
                - legs
                    .iter()
                    .filter(|l| {
                        l.amount.currency() == currency && l.credit == ChartAccount::FxPosition
                    })
                    .map(|l| l.amount.minor())
                    .sum::<i64>();
            if currency == Currency::EUR {
                assert_eq!(
                    fx_out,
                    c.mid_value.minor(),
                    "EUR position is short the mid value"
                );
            } else {
                assert_eq!(fx_out, -10_000, "BRL position is long what the buyer paid");
            }
            assert!(debits > 0);
        }
    }

    proptest! {
        #[test]
        #[expect(
            clippy::arithmetic_side_effects,
            clippy::as_conversions,
            reason = "sums of test amounts far below the i64 range"
        )]
        fn refunds_in_any_steps_reverse_exactly_and_never_too_much(
            total in 1_i64..5_000_000,
            tax in 0_u16..3_000,
            commission in 0_u16..5_000,
            fx in any::<bool>(),
            cuts in proptest::collection::vec(0_u32..=1_000, 1..6),
        ) {
            let quote = if fx { brl_eur("0.025") } else { None };
            let line = line(total, tax, commission, quote);
            let legs = line.capture_legs().unwrap();
            prop_assert!(legs.len() <= LINE_LEGS_MAX);
            let mut points: Vec<i64> = cuts
                .iter()
                .map(|c| prorate(total, i64::from(*c), 1_000).unwrap())
                .collect();
            points.push(total);
            points.sort_unstable();
            let mut reversed: std::collections::BTreeMap<&str, i64> = Default::default();
            let mut before = 0;
            for after in points {
                let posting = line
                    .refund_requests(RefundId::from_uuid(Uuid::from_u128(after as u128)), before, after, "refund")
                    .unwrap();
                let mut psp = 0;
                for request in &posting.requests {
                    let RequestKind::Reverse { original_id, amount } = &request.kind else {
                        panic!("refunds are reversals");
                    };
                    let leg = legs.iter().find(|l| line.capture_leg_id(l.name) == *original_id).unwrap();
                    prop_assert!(amount.is_positive());
                    *reversed.entry(leg.name).or_default() += amount.minor();
                    prop_assert!(reversed[leg.name] <= leg.amount.minor());
                    if matches!(leg.debit, ChartAccount::PspClearing(_)) {
                        psp += amount.minor();
                    }
                }
                prop_assert_eq!(psp, after - before, "the buyer gets exactly the refund back");
                before = after;
            }
            for leg in &legs {
                prop_assert_eq!(reversed.get(leg.name).copied().unwrap_or(0), leg.amount.minor());
            }
        }
    }

    #[test]
    fn a_posting_is_one_batch_or_refused_whole() {
        let capture = line(10_000, 1_900, 1_000, brl_eur("0.02"))
            .capture_requests()
            .unwrap();
        let mut posting = Posting::default();
        while posting.requests.len() < BATCH_LEGS_MAX {
            posting.requests.push(capture.requests[0].clone());
        }
        assert_eq!(posting.clone().into_batch().unwrap().len(), BATCH_LEGS_MAX);
        posting.requests.push(capture.requests[0].clone());
        let error = posting.into_batch().unwrap_err();
        assert_eq!(error.code(), "posting_too_large");
        assert!(matches!(
            error,
            CommerceError::PostingTooLarge {
                legs: 257,
                max: 256
            }
        ));
    }

    #[test]
    fn settlement_moves_clearing_to_bank_and_fees() {
        let posting = settlement_posting(
            PaymentId::from_uuid(Uuid::from_u128(9)),
            &ProviderName::new("sandbox").unwrap(),
            Money::from_minor(11_900, Currency::EUR),
            Money::from_minor(50, Currency::EUR),
        )
        .unwrap();
        assert_eq!(posting.requests.len(), 2);
        assert!(
            settlement_posting(
                PaymentId::from_uuid(Uuid::from_u128(9)),
                &ProviderName::new("sandbox").unwrap(),
                Money::from_minor(10, Currency::EUR),
                Money::from_minor(50, Currency::EUR),
            )
            .is_err()
        );
    }
}
