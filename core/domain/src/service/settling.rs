//! Settling a provider's settlement report: each row's money moves from the provider's
//! clearing account to the platform's bank, its fees to `expense_psp_fees`.

use bazaar_ledger::{LedgerStore, Metadata, TransferId};
use bazaar_money::Money;
use uuid::Uuid;

use super::Marketplace;
use crate::chart::{ChartAccount, Expense};
use crate::error::CommerceError;
use crate::payments::{
    JournalType, MethodType, PaymentId, PaymentProvider, PspReference, Settlement, SettlementRow,
    parse_settlement_report,
};
use crate::payouts::SettledCardFunds;
use crate::postings::{Leg, Posting};
use crate::store::CommerceStore;

/// What settling one report did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SettledReport {
    /// Rows read (payout rows included).
    pub rows: usize,
    /// Rows posted to the ledger now or before (a report settled twice posts nothing new).
    pub posted: usize,
    /// Rows naming a payment Bazaar does not know (or one not captured), by provider
    /// reference; nothing is posted for them, and finance sees them in reconciliation.
    pub unknown: Vec<String>,
    /// Each seller's share of every card payment settled by the report: what its instant
    /// payouts may take (`Payouts::record_settled_card_funds`).
    pub card_funds: Vec<SettledCardFunds>,
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    /// Reads a settlement report (the Adyen settlement-detail layout) and posts every row:
    /// a settled capture moves its gross less fees from clearing to the bank and its fees to
    /// `expense_psp_fees` (`settle`); a refund or chargeback moves its amount back from the
    /// bank to clearing, a reversed chargeback forward again. Transfer ids derive from the
    /// payment and the row's modification reference, so settling a report twice posts
    /// nothing new. A report that does not read, or whose arithmetic does not add up, is
    /// refused whole.
    pub async fn settle_report(&self, text: &str) -> Result<SettledReport, CommerceError> {
        let rows = parse_settlement_report(text)?;
        let mut outcome = SettledReport {
            rows: rows.len(),
            ..SettledReport::default()
        };
        for row in &rows {
            if row.journal == JournalType::MerchantPayout {
                continue;
            }
            let Some(payment_id) = Uuid::parse_str(&row.merchant_reference)
                .ok()
                .map(PaymentId::from_uuid)
            else {
                outcome.unknown.push(row.psp_reference.clone());
                continue;
            };
            let Some(payment) = self.store.payment(payment_id).await? else {
                outcome.unknown.push(row.psp_reference.clone());
                continue;
            };
            if row.journal == JournalType::Settled {
                let settlement = Settlement {
                    psp_reference: PspReference::new(&row.psp_reference)?,
                    gross: row.gross,
                    fee: row.fees.total()?,
                };
                match self.settle(payment_id, &settlement).await {
                    Ok(()) if payment.method == MethodType::Card => {
                        outcome
                            .card_funds
                            .extend(self.seller_shares(payment_id).await?);
                    }
                    Ok(()) => {}
                    Err(CommerceError::InvalidState(_)) => {
                        outcome.unknown.push(row.psp_reference.clone());
                        continue;
                    }
                    Err(error) => return Err(error),
                }
            } else if let Some(posting) = modification_posting(row, payment_id, &payment.provider)?
            {
                self.submit(posting).await?;
            }
            outcome.posted = outcome.posted.saturating_add(1);
        }
        Ok(outcome)
    }
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    /// Each seller's share of a payment, in its settlement currency.
    async fn seller_shares(
        &self,
        payment_id: PaymentId,
    ) -> Result<Vec<SettledCardFunds>, CommerceError> {
        let mut shares: Vec<SettledCardFunds> = Vec::new();
        for line in self.store.capture_inputs(payment_id).await? {
            let share = line.breakdown()?.seller;
            match shares.iter_mut().find(|s| s.seller == line.seller_id) {
                Some(found) => found.amount = found.amount.checked_add(share)?,
                None => shares.push(SettledCardFunds {
                    payment: payment_id,
                    seller: line.seller_id,
                    amount: share,
                }),
            }
        }
        Ok(shares)
    }
}

/// A refund's, chargeback's or reversal's settlement: its amount between the bank and the
/// provider's clearing account, its fees from the bank to `expense_psp_fees`.
fn modification_posting(
    row: &SettlementRow,
    payment_id: PaymentId,
    provider: &crate::chart::ProviderName,
) -> Result<Option<Posting>, CommerceError> {
    let psp = ChartAccount::PspClearing(provider.clone());
    let amount = Money::from_minor(row.gross.minor().saturating_abs(), row.gross.currency());
    let fees = row.fees.total()?;
    let mut legs = Vec::new();
    match row.journal {
        JournalType::Refunded | JournalType::Chargeback => legs.push(Leg {
            name: "bank",
            debit: psp,
            credit: ChartAccount::Bank,
            amount,
        }),
        JournalType::ChargebackReversed => legs.push(Leg {
            name: "bank",
            debit: ChartAccount::Bank,
            credit: psp,
            amount,
        }),
        JournalType::Settled | JournalType::Fee | JournalType::MerchantPayout => return Ok(None),
    }
    legs.push(Leg {
        name: "psp_fee",
        debit: ChartAccount::Expense(Expense::PspFees),
        credit: ChartAccount::Bank,
        amount: fees,
    });
    legs.retain(|leg| leg.amount.is_positive());
    let step = format!(
        "settlement:{}:{}",
        row.journal.as_str(),
        row.modification_reference
    );
    let mut metadata = Metadata::new();
    metadata.insert(
        "kind".into(),
        format!("settlement_{}", row.journal.as_str().to_lowercase()),
    );
    metadata.insert("payment_id".into(), payment_id.to_string());
    metadata.insert("batch".into(), row.batch.to_string());
    let mut posting = Posting::default();
    for leg in &legs {
        let id = TransferId::from_uuid(Uuid::new_v5(
            &payment_id.as_uuid(),
            format!("{step}:{}", leg.name).as_bytes(),
        ));
        posting.add(
            leg,
            bazaar_ledger::TransferRequest {
                id,
                kind: leg.direct(),
                metadata: metadata.clone(),
            },
        );
    }
    Ok(Some(posting))
}
