//! A seller's settled sales, read from its pending account's history in the ledger: each
//! order's captured share is a sale on the day it was captured, its refunds reduce it, a
//! chargeback marks it disputed. Only what the ledger holds counts, so an offer can be
//! recomputed from the books at any time.

use std::collections::BTreeMap;

use bazaar_ledger::{AccountId, HistoryEntry};
use bazaar_money::{Currency, Money, MoneyError};

use super::SettledSale;
use crate::fx::calendar::Date;

/// The settled sales in `entries` (the history of the seller's pending account `account`
/// in `currency`, in any order), one per order, oldest first.
pub fn sales_from_history(
    account: AccountId,
    currency: Currency,
    entries: &[HistoryEntry],
) -> Result<Vec<SettledSale>, MoneyError> {
    let mut orders: BTreeMap<String, SettledSale> = BTreeMap::new();
    for entry in entries {
        let transfer = &entry.transfer;
        if transfer.amount.currency() != currency {
            continue;
        }
        let Some(order) = transfer.metadata.get("order_id") else {
            continue;
        };
        let kind = transfer.metadata.get("kind").map_or("", String::as_str);
        let Some(day) = Date::of_instant(transfer.timestamp) else {
            continue;
        };
        let sale = orders.entry(order.clone()).or_insert(SettledSale {
            day,
            net: Money::zero(currency),
            refunded: Money::zero(currency),
            disputed: false,
        });
        match kind {
            "capture" | "capture_late" if transfer.credit_account_id == account => {
                sale.net = sale.net.checked_add(transfer.amount)?;
                sale.day = sale.day.min(day);
            }
            "refund" | "refund_late" if transfer.debit_account_id == account => {
                sale.refunded = sale.refunded.checked_add(transfer.amount)?;
            }
            "chargeback" | "chargeback_late" if transfer.debit_account_id == account => {
                sale.refunded = sale.refunded.checked_add(transfer.amount)?;
                sale.disputed = true;
            }
            _ => {}
        }
    }
    let mut sales: Vec<SettledSale> = orders
        .into_values()
        .filter(|s| s.net.is_positive())
        .collect();
    sales.sort_by_key(|s| s.day);
    Ok(sales)
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::{Balance, Metadata, Timestamp, Transfer, TransferId, TransferKind};
    use uuid::Uuid;

    use super::*;

    fn entry(
        n: u128,
        kind: &str,
        order: &str,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
        day: i64,
    ) -> HistoryEntry {
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), kind.into());
        metadata.insert("order_id".into(), order.into());
        HistoryEntry {
            transfer: Transfer {
                id: TransferId::from_uuid(Uuid::from_u128(n)),
                kind: TransferKind::Direct,
                debit_account_id: debit,
                credit_account_id: credit,
                amount: Money::from_minor(minor, Currency::EUR),
                timestamp: Timestamp::from_micros(day.saturating_mul(86_400_000_000)),
                metadata,
            },
            leg: 0,
            balance_after: Balance::default(),
        }
    }

    #[test]
    fn captures_are_sales_refunds_reduce_them_and_chargebacks_dispute_them() {
        let pending = AccountId::from_uuid(Uuid::from_u128(1));
        let other = AccountId::from_uuid(Uuid::from_u128(2));
        let entries = [
            entry(1, "capture", "a", other, pending, 9_000, 20_000),
            entry(2, "capture", "b", other, pending, 4_500, 20_010),
            entry(3, "refund", "a", pending, other, 1_000, 20_011),
            entry(4, "chargeback", "b", pending, other, 4_500, 20_012),
            entry(5, "payout_pending", "c", pending, other, 700, 20_013),
            entry(6, "capture", "d", other, other, 800, 20_014),
        ];
        let sales = sales_from_history(pending, Currency::EUR, &entries).unwrap();
        assert_eq!(sales.len(), 2);
        assert_eq!(sales[0].net.minor(), 9_000);
        assert_eq!(sales[0].refunded.minor(), 1_000);
        assert!(!sales[0].disputed);
        assert_eq!(sales[0].day, Date::from_days_since_epoch(20_000).unwrap());
        assert_eq!(sales[1].refunded.minor(), 4_500);
        assert!(sales[1].disputed);
    }
}
