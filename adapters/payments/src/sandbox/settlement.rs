//! The sandbox's books and its daily settlement detail report: every capture, refund and
//! chargeback it booked, paid out in batches to the platform's bank account less its fees.

use bazaar_domain::payments::{Fees, JournalType, SettlementRow, write_settlement_report};
use bazaar_money::{Currency, Rounding};
use rust_decimal::Decimal;

use super::*;

/// The company account the sandbox reports under.
const COMPANY: &str = "BazaarSandbox";

/// One booking: money the sandbox owes the platform (a capture) or takes back.
#[derive(Clone, Debug)]
pub(super) struct Booking {
    pub(super) at: Timestamp,
    pub(super) psp_reference: PspReference,
    pub(super) payment_id: PaymentId,
    pub(super) method: MethodType,
    pub(super) journal: JournalType,
    /// Positive; the journal type says which way it goes.
    pub(super) amount: Money,
    pub(super) modification: String,
}

/// The books: bookings in the order made, how many were reported, the next batch number.
#[derive(Default)]
pub(super) struct Books {
    pub(super) bookings: Vec<Booking>,
    pub(super) reported: usize,
    pub(super) next_batch: u32,
    /// Reports made and not yet acknowledged by the platform, by batch: like a provider's
    /// report files, they stay to be fetched until the platform has settled them.
    pub(super) unsettled: BTreeMap<u32, String>,
}

impl Books {
    /// Books what a notification says happened, if it moves money.
    pub(super) fn record(&mut self, notification: &Notification, method: MethodType) {
        let (journal, modification) = match &notification.event {
            NotificationEvent::Captured => {
                (JournalType::Settled, notification.psp_reference.to_string())
            }
            NotificationEvent::Refunded { refund_reference } => {
                (JournalType::Refunded, refund_reference.to_string())
            }
            NotificationEvent::Chargeback => (
                JournalType::Chargeback,
                format!(
                    "CB{}",
                    notification.event_id.replace('-', "").to_uppercase()
                ),
            ),
            _ => return,
        };
        self.bookings.push(Booking {
            at: notification.occurred_at,
            psp_reference: notification.psp_reference.clone(),
            payment_id: notification.payment_id,
            method,
            journal,
            amount: notification.amount,
            modification,
        });
    }
}

/// `amount` times `rate`, half up, in its currency.
fn part(amount: Money, rate: Decimal) -> Money {
    amount
        .mul_decimal(rate, Rounding::HalfUp)
        .map(|split| split.value)
        .unwrap_or(Money::zero(amount.currency()))
}

/// The sandbox's price list: cards pay interchange 0.30%, scheme fees 0.10%, a markup of
/// 0.50% and a commission of 10 minor units; other methods a 0.80% commission. A refund or
/// chargeback costs nothing here. The fees never exceed the amount.
fn fees(booking: &Booking) -> Fees {
    let amount = booking.amount;
    let currency = amount.currency();
    if booking.journal != JournalType::Settled {
        return Fees::zero(currency);
    }
    let fees = if booking.method == MethodType::Card {
        Fees {
            commission: Money::from_minor(10, currency),
            markup: part(amount, Decimal::new(50, 4)),
            scheme_fees: part(amount, Decimal::new(10, 4)),
            interchange: part(amount, Decimal::new(30, 4)),
        }
    } else {
        Fees {
            commission: part(amount, Decimal::new(80, 4)),
            ..Fees::zero(currency)
        }
    };
    match fees.total() {
        Ok(total) if total.minor() <= amount.minor() => fees,
        _ => Fees::zero(currency),
    }
}

fn booked_at(at: Timestamp) -> String {
    let text = bazaar_domain::time::Rfc3339::to_rfc3339(at);
    // 2026-03-02T15:00:00.000000Z → 2026-03-02 15:00:00
    text.get(..19).unwrap_or(&text).replacen('T', " ", 1)
}

impl Inner {
    /// Makes the report of the bookings made before `until` and not reported yet, as one
    /// batch, if there are any; answers every report not acknowledged yet, oldest first.
    pub(super) fn settlement_reports(
        &mut self,
        merchant: &str,
        until: Timestamp,
    ) -> Vec<(u32, String)> {
        if let Some((batch, report)) = self.next_report(merchant, until) {
            self.outbox.books.unsettled.insert(batch, report);
        }
        self.outbox
            .books
            .unsettled
            .iter()
            .map(|(batch, report)| (*batch, report.clone()))
            .collect()
    }

    fn next_report(&mut self, merchant: &str, until: Timestamp) -> Option<(u32, String)> {
        let books = &mut self.outbox.books;
        let start = books.reported;
        let due: Vec<Booking> = books
            .bookings
            .iter()
            .skip(start)
            .take_while(|booking| booking.at < until)
            .cloned()
            .collect();
        if due.is_empty() {
            return None;
        }
        books.reported = start.saturating_add(due.len());
        books.next_batch = books.next_batch.saturating_add(1);
        let batch = books.next_batch;
        let mut rows = Vec::new();
        let mut paid: BTreeMap<&'static str, Money> = BTreeMap::new();
        for booking in &due {
            let fees = fees(booking);
            let gross = if booking.journal == JournalType::Settled {
                booking.amount
            } else {
                booking.amount.checked_neg().unwrap_or(booking.amount)
            };
            let net = fees
                .total()
                .and_then(|total| gross.checked_sub(total))
                .unwrap_or(gross);
            let currency = net.currency();
            let total = paid.entry(currency.code()).or_insert(Money::zero(currency));
            *total = total.checked_add(net).unwrap_or(*total);
            rows.push(SettlementRow {
                company_account: COMPANY.to_owned(),
                merchant_account: merchant.to_owned(),
                psp_reference: booking.psp_reference.to_string(),
                merchant_reference: booking.payment_id.to_string(),
                payment_method: booking.method.wire_name().to_owned(),
                created: booked_at(booking.at),
                time_zone: "UTC".to_owned(),
                journal: booking.journal,
                modification_reference: booking.modification.clone(),
                gross,
                exchange_rate: "1".to_owned(),
                net,
                fees,
                variant: booking.method.wire_name().to_owned(),
                modification_merchant_reference: String::new(),
                batch,
            });
        }
        for (code, total) in paid {
            let Ok(currency) = Currency::from_code(code) else {
                continue;
            };
            rows.push(SettlementRow {
                company_account: COMPANY.to_owned(),
                merchant_account: merchant.to_owned(),
                psp_reference: String::new(),
                merchant_reference: String::new(),
                payment_method: String::new(),
                created: booked_at(until),
                time_zone: "UTC".to_owned(),
                journal: JournalType::MerchantPayout,
                modification_reference: format!("BATCH{batch}{code}"),
                gross: Money::zero(currency),
                exchange_rate: "1".to_owned(),
                net: total.checked_neg().unwrap_or(total),
                fees: Fees::zero(currency),
                variant: String::new(),
                modification_merchant_reference: String::new(),
                batch,
            });
        }
        Some((batch, write_settlement_report(&rows)))
    }
}
