//! The two sides of a bank reconciliation as records: the bank's booked entries, and the
//! ledger's transfers on `bank`.

use bazaar_ledger::{AccountId, Transfer};

use super::{BankEntryRecord, MatchError, Record};
use crate::fx::calendar::Date;

/// The bank's booked entries as outside records: dated by booking (else value) date, their
/// reference the end-to-end ids, remittance and bank reference together (a `Contains` rule
/// finds a ledger reference in it). Pending and information entries are left out.
pub fn bank_records(entries: &[BankEntryRecord]) -> Result<Vec<Record>, MatchError> {
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries.iter().filter(|e| e.status == "BOOK") {
        let Some(date) = entry.booking_date.or(entry.value_date) else {
            continue;
        };
        let text: Vec<&str> = [
            entry.end_to_end_ids.as_deref(),
            entry.remittance.as_deref(),
            entry.servicer_reference.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        records.push(Record::new(
            entry.id.to_string(),
            entry.amount,
            date,
            (!text.is_empty()).then(|| text.join(" ")),
        )?);
    }
    Ok(records)
}

/// The reference a ledger transfer on `bank` is known by outside: its payout, else its
/// payment, else an explicit `reference`.
fn ledger_reference(transfer: &Transfer) -> Option<String> {
    ["payout_id", "payment_id", "reference"]
        .into_iter()
        .find_map(|key| transfer.metadata.get(key).cloned())
}

/// The ledger's transfers on `bank` as inside records, money in positive, dated by the UTC
/// day they were posted; transfers that do not touch `bank` are left out.
pub fn ledger_records(transfers: &[Transfer], bank: AccountId) -> Result<Vec<Record>, MatchError> {
    let mut records = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        let amount = if transfer.debit_account_id == bank {
            transfer.amount
        } else if transfer.credit_account_id == bank {
            transfer.amount.checked_neg()?
        } else {
            continue;
        };
        let date = Date::of_instant(transfer.timestamp).ok_or(MatchError::DateOutOfRange)?;
        records.push(Record::new(
            transfer.id.to_string(),
            amount,
            date,
            ledger_reference(transfer),
        )?);
    }
    Ok(records)
}
