//! A provider's reports as stored rows: every row of a settlement details report or an
//! itemized payout reconciliation report, and one payout row per batch and currency (what
//! the provider sent to the platform's bank).

use std::collections::HashMap;

use bazaar_money::{Money, MoneyError};
use uuid::Uuid;

use super::{MatchError, Record};
use crate::fx::calendar::Date;
use crate::payments::{ItemizedRow, JournalType, SettlementRow, payout_totals};

bazaar_ledger::uuid_id!(
    /// A provider row's id, derived from the provider, its batch and the row.
    ProviderRowId
);

/// The namespace of provider row ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x71c3_0e9d_5a28_4b6e_8f14_c2d7_39a0_b615);

/// What a provider row records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ProviderRowKind {
    /// A capture paid to the platform.
    Payment,
    /// A refund taken back.
    Refund,
    /// A chargeback taken back.
    Chargeback,
    /// A chargeback the platform won.
    ChargebackReversal,
    /// A fee not tied to one payment: the ledger learns of it from the report.
    Fee,
    /// What a batch paid to the platform's bank, in one currency.
    Payout,
    /// Anything else the report lists (an adjustment, a transfer).
    Other,
}

impl ProviderRowKind {
    const ALL: [Self; 7] = [
        Self::Payment,
        Self::Refund,
        Self::Chargeback,
        Self::ChargebackReversal,
        Self::Fee,
        Self::Payout,
        Self::Other,
    ];

    /// Its stored name, e.g. `chargeback_reversal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Chargeback => "chargeback",
            Self::ChargebackReversal => "chargeback_reversal",
            Self::Fee => "fee",
            Self::Payout => "payout",
            Self::Other => "other",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    fn of_journal(journal: JournalType) -> Self {
        match journal {
            JournalType::Settled => Self::Payment,
            JournalType::Refunded => Self::Refund,
            JournalType::Chargeback => Self::Chargeback,
            JournalType::ChargebackReversed => Self::ChargebackReversal,
            JournalType::Fee => Self::Fee,
            JournalType::MerchantPayout => Self::Payout,
        }
    }

    fn of_category(category: &str) -> Self {
        match category {
            "charge" | "payment" => Self::Payment,
            "refund" => Self::Refund,
            "dispute" => Self::Chargeback,
            "dispute_reversal" => Self::ChargebackReversal,
            "fee" => Self::Fee,
            _ => Self::Other,
        }
    }
}

/// One provider row as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderRowRecord {
    /// Derived from the provider, the batch and the row: the same row is stored once.
    pub id: ProviderRowId,
    /// The provider's short name, e.g. `sandbox`.
    pub provider: String,
    /// The batch or payout that paid it out, as the provider names it.
    pub batch: String,
    /// What it records.
    pub kind: ProviderRowKind,
    /// What ties it to the ledger: the platform's payment id (the settlement report's
    /// merchant reference), else the provider's own reference of the row.
    pub reference: Option<String>,
    /// Before fees, signed: money to the platform positive.
    pub gross: Money,
    /// The provider's fees on it, positive when charged.
    pub fees: Money,
    /// After fees, signed like `gross`: what moves through the platform's bank.
    pub net: Money,
    /// The day the provider booked it (a payout row: the day it was sent).
    pub date: Date,
}

impl ProviderRowRecord {
    /// The row as a record to match: its net, its date and its reference; the record's id
    /// is the row's id.
    pub fn record(&self) -> Result<Record, MatchError> {
        Record::new(
            self.id.to_string(),
            self.net,
            self.date,
            self.reference.clone(),
        )
    }

    /// The reference a payout row is known by at the bank: `{provider}-batch-{batch}`.
    pub fn payout_reference(provider: &str, batch: &str) -> String {
        format!("{provider}-batch-{batch}")
    }
}

/// The day of a `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DD`) time as written in a report.
fn day_of(written: &str) -> Option<Date> {
    written.get(..10).and_then(Date::parse_iso)
}

fn row_id(provider: &str, batch: &str, key: &str) -> ProviderRowId {
    let name = format!("{provider}:{batch}:{key}");
    ProviderRowId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

/// Why a report's rows cannot be stored.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ProviderRowError {
    /// A row's date does not read.
    #[error("row {row}: the date {written:?} does not read as YYYY-MM-DD")]
    Date {
        /// The row's place in the report, from 1.
        row: usize,
        /// What was written.
        written: String,
    },
    /// Money arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl ProviderRowError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Date { .. } => "invalid_date",
            Self::Money(inner) => inner.code(),
        }
    }
}

/// The rows of a settlement details report from `provider`: every row in its own place
/// (payment rows keyed by their references, others by their place in the batch), a
/// `MerchantPayout` row as the batch's payout in its currency (money in: the report's debit
/// turned around), referenced as
/// [`ProviderRowRecord::payout_reference`].
pub fn settlement_records(
    provider: &str,
    rows: &[SettlementRow],
) -> Result<Vec<ProviderRowRecord>, ProviderRowError> {
    let mut places: HashMap<(u32, &str), usize> = HashMap::new();
    let mut records = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let batch = row.batch.to_string();
        let kind = ProviderRowKind::of_journal(row.journal);
        let place = places.entry((row.batch, kind.as_str())).or_insert(0);
        *place = place.saturating_add(1);
        let key = match kind {
            ProviderRowKind::Payout => format!("payout:{}", row.net.currency().code()),
            _ if !row.psp_reference.is_empty() => format!(
                "{}:{}:{}",
                kind.as_str(),
                row.psp_reference,
                row.modification_reference
            ),
            _ => format!("{}:#{place}", kind.as_str()),
        };
        let date = day_of(&row.created).ok_or_else(|| ProviderRowError::Date {
            row: index.saturating_add(1),
            written: row.created.chars().take(40).collect(),
        })?;
        let reference = match kind {
            ProviderRowKind::Payout => Some(ProviderRowRecord::payout_reference(provider, &batch)),
            _ if !row.merchant_reference.is_empty() => Some(row.merchant_reference.clone()),
            _ => (!row.psp_reference.is_empty()).then(|| row.psp_reference.clone()),
        };
        // The report writes a payout as a debit of the provider's balance; to the bank it
        // is money in.
        let (gross, net) = if kind == ProviderRowKind::Payout {
            (row.gross.checked_neg()?, row.net.checked_neg()?)
        } else {
            (row.gross, row.net)
        };
        records.push(ProviderRowRecord {
            id: row_id(provider, &batch, &key),
            provider: provider.to_owned(),
            batch,
            kind,
            reference,
            gross,
            fees: row.fees.total()?,
            net,
            date,
        });
    }
    Ok(records)
}

/// The rows of an itemized payout reconciliation report from `provider`, each referenced by
/// its source (the provider's charge or refund id), and one payout row per payout and
/// currency, summing its rows, dated the day the payout was expected in the bank.
pub fn itemized_records(
    provider: &str,
    rows: &[ItemizedRow],
) -> Result<Vec<ProviderRowRecord>, ProviderRowError> {
    let mut records = Vec::with_capacity(rows.len());
    let mut payout_days: HashMap<&str, Date> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        let bad_date = |written: &str| ProviderRowError::Date {
            row: index.saturating_add(1),
            written: written.chars().take(40).collect(),
        };
        let date = day_of(&row.created_utc).ok_or_else(|| bad_date(&row.created_utc))?;
        let paid =
            day_of(&row.payout_effective_at).ok_or_else(|| bad_date(&row.payout_effective_at))?;
        payout_days.entry(&row.payout_id).or_insert(paid);
        records.push(ProviderRowRecord {
            id: row_id(provider, &row.payout_id, &row.balance_transaction_id),
            provider: provider.to_owned(),
            batch: row.payout_id.clone(),
            kind: ProviderRowKind::of_category(&row.reporting_category),
            reference: (!row.source_id.is_empty()).then(|| row.source_id.clone()),
            gross: row.gross,
            fees: row.fee,
            net: row.net,
            date,
        });
    }
    // Summing is the only way payout_totals fails.
    let totals =
        payout_totals(rows).map_err(|_| ProviderRowError::Money(MoneyError::OutOfRange))?;
    for ((payout, currency), total) in totals {
        let Some(date) = payout_days.get(payout.as_str()).copied() else {
            continue;
        };
        records.push(ProviderRowRecord {
            id: row_id(provider, &payout, &format!("payout:{}", currency.code())),
            provider: provider.to_owned(),
            reference: Some(ProviderRowRecord::payout_reference(provider, &payout)),
            batch: payout,
            kind: ProviderRowKind::Payout,
            gross: total,
            fees: Money::zero(currency),
            net: total,
            date,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use bazaar_money::Currency;

    use super::*;
    use crate::payments::parse_itemized_report;

    const ITEMIZED: &str = "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description\r\n\
        po_1,2026-11-20 00:00:00,txn_1,2026-11-17 10:00:00,2026-11-19 00:00:00,eur,50.00,1.75,48.25,charge,ch_1,\r\n\
        po_1,2026-11-20 00:00:00,txn_2,2026-11-18 11:00:00,2026-11-19 00:00:00,eur,-10.00,0.00,-10.00,refund,re_1,\r\n\
        po_1,2026-11-20 00:00:00,txn_3,2026-11-18 12:00:00,2026-11-19 00:00:00,eur,0.00,2.00,-2.00,fee,,monthly fee\r\n";

    #[test]
    fn an_itemized_report_gives_its_rows_and_one_payout_row_per_payout() {
        let rows = parse_itemized_report(ITEMIZED).unwrap();
        let records = itemized_records("stripe", &rows).unwrap();
        let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["payment", "refund", "fee", "payout"]);
        let payout = &records[3];
        assert_eq!(payout.net, Money::from_minor(3_625, Currency::EUR));
        assert_eq!(payout.date, Date::new(2026, 11, 20).unwrap());
        assert_eq!(payout.reference.as_deref(), Some("stripe-batch-po_1"));
        assert_eq!(records[0].reference.as_deref(), Some("ch_1"));
        assert_eq!(records[2].reference, None);
        // The same rows give the same ids; another provider's do not.
        let again = itemized_records("stripe", &rows).unwrap();
        assert_eq!(records, again);
        let other = itemized_records("other", &rows).unwrap();
        assert_ne!(records[0].id, other[0].id);
    }

    #[test]
    fn a_bad_date_is_refused_with_its_row() {
        let mut rows = parse_itemized_report(ITEMIZED).unwrap();
        rows[1].created_utc = "yesterday".to_owned();
        let error = itemized_records("stripe", &rows).unwrap_err();
        assert_eq!(error.code(), "invalid_date");
        assert!(error.to_string().starts_with("row 2:"), "{error}");
    }
}
