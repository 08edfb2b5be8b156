//! A payout's statement: the ledger entries it pays out, summing exactly to the payout.
//!
//! A payout takes from the seller's available balance, which many entries fed since the
//! payout before it. The statement lists them: the balance brought forward from that payout,
//! every entry on the available account since (a release expanded into the sales, fees,
//! refunds and chargebacks behind it; balance conversions with their rates; payouts that
//! came back), an instant payout's fee, and what stayed in the balance. The lines add up to
//! the payout's amount by construction, and [`assemble`] checks that they do.
//!
//! Releases move a running total: after each release the pending account's debits equal its
//! credits up to the end of the release's last due date. So the release at `t_k` through the
//! date ending at `end_k`, after the release at `t_j` through `end_j`, moves exactly the
//! credits with timestamps in `(end_j, end_k]` less the debits posted in `(t_j, t_k)`. A
//! release whose parts do not add up to it (a refund that raced the release) is listed as
//! one line instead.

use bazaar_ledger::{HistoryEntry, Timestamp, Transfer, TransferId};
use bazaar_money::{Currency, Money, MoneyError};

use super::{PayoutError, PayoutId};

/// What a statement line is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StatementKind {
    /// The available balance right after the payout before this one.
    BroughtForward,
    /// An order line's sale, before the platform's fee.
    Sale,
    /// The platform's commission on a sale.
    Fee,
    /// A refund.
    Refund,
    /// A chargeback.
    Chargeback,
    /// A release listed as one line: its parts did not add up to it.
    Release,
    /// The part of a release the rolling reserve held back.
    ReserveHeld,
    /// Reserve whose hold ended, back in the available balance.
    ReserveReleased,
    /// Part of the balance converted from or into another currency.
    Conversion,
    /// An earlier payout that failed, was canceled or came back.
    PayoutReturned,
    /// Any other ledger entry on the available account.
    Other,
    /// This instant payout's fee.
    InstantFee,
    /// What stayed in the available balance after this payout.
    CarriedForward,
}

impl StatementKind {
    /// The name in the CSV export, e.g. `sale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BroughtForward => "brought_forward",
            Self::Sale => "sale",
            Self::Fee => "fee",
            Self::Refund => "refund",
            Self::Chargeback => "chargeback",
            Self::Release => "release",
            Self::ReserveHeld => "reserve_held",
            Self::ReserveReleased => "reserve_released",
            Self::Conversion => "conversion",
            Self::PayoutReturned => "payout_returned",
            Self::Other => "other",
            Self::InstantFee => "instant_fee",
            Self::CarriedForward => "carried_forward",
        }
    }

    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Self::BroughtForward => "Balance brought forward",
            Self::Sale => "Sale",
            Self::Fee => "Platform fee",
            Self::Refund => "Refund",
            Self::Chargeback => "Chargeback",
            Self::Release => "Released funds",
            Self::ReserveHeld => "Held in rolling reserve",
            Self::ReserveReleased => "Reserve released",
            Self::Conversion => "Currency conversion",
            Self::PayoutReturned => "Payout returned to balance",
            Self::Other => "Other",
            Self::InstantFee => "Instant payout fee",
            Self::CarriedForward => "Left in balance",
        }
    }
}

/// One line of a payout's statement.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatementLine {
    /// What it is.
    pub kind: StatementKind,
    /// When the entry behind it was posted; none for the balance lines.
    pub at: Option<Timestamp>,
    /// Its effect on the payout, in the payout's currency.
    pub amount: Money,
    /// The ledger transfer behind it.
    pub transfer: Option<TransferId>,
    /// The order it belongs to.
    pub order: Option<String>,
    /// The exchange rate applied, as the ledger recorded it.
    pub fx_rate: Option<String>,
    /// The payout, refund or conversion it refers to.
    pub reference: Option<String>,
}

impl StatementLine {
    fn balance(kind: StatementKind, amount: Money) -> Self {
        Self {
            kind,
            at: None,
            amount,
            transfer: None,
            order: None,
            fx_rate: None,
            reference: None,
        }
    }

    fn of(kind: StatementKind, transfer: &Transfer, amount: Money) -> Self {
        let meta = |key: &str| transfer.metadata.get(key).cloned();
        Self {
            kind,
            at: Some(transfer.timestamp),
            amount,
            transfer: Some(transfer.id),
            order: meta("order_id"),
            fx_rate: meta("fx_rate"),
            reference: meta("payout_id")
                .or_else(|| meta("refund_id"))
                .or_else(|| meta("idempotency_key")),
        }
    }
}

/// A payout's statement: lines that add up to its amount.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayoutStatement {
    /// The payout.
    pub payout: PayoutId,
    /// What the lines add up to: the payout's amount.
    pub total: Money,
    /// Oldest first, between the balance brought forward and the balance left.
    pub lines: Vec<StatementLine>,
}

/// One entry of the available account's history with the seller's spendable balance after
/// it (posted credits less posted and pending debits).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Movement {
    /// The transfer.
    pub transfer: Transfer,
    /// The spendable balance after it, in minor units.
    pub spendable_after: i64,
}

impl Movement {
    /// The movement of a history entry.
    pub fn of(entry: &HistoryEntry) -> Result<Self, PayoutError> {
        Ok(Self {
            transfer: entry.transfer.clone(),
            spendable_after: i64::try_from(entry.balance_after.available_credit())
                .map_err(|_| PayoutError::Money(MoneyError::Overflow))?,
        })
    }

    /// The ledger's `kind` for it, e.g. `capture` or `payout_pending`.
    pub fn kind(&self) -> &str {
        kind_of(&self.transfer)
    }
}

/// The `kind` metadata a transfer was posted with.
pub fn kind_of(transfer: &Transfer) -> &str {
    transfer.metadata.get("kind").map_or("", String::as_str)
}

/// The parts of one release, read from the pending account.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ReleaseParts {
    /// Credits in the release's window, each with its capture's commission transfer if any.
    pub credits: Vec<(Transfer, Option<Transfer>)>,
    /// Debits in the release's window other than releases: refunds and chargebacks.
    pub debits: Vec<Transfer>,
    /// What the release's leg to the rolling reserve held back.
    pub reserve_held: i64,
}

/// What [`assemble`] needs: the window of the available account this payout pays out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatementWindow {
    /// The payout.
    pub payout: PayoutId,
    /// Its amount.
    pub amount: Money,
    /// The spendable balance before the window.
    pub opening: i64,
    /// The entries since the payout before, oldest first, with this payout's own batch last.
    pub movements: Vec<Movement>,
    /// The parts of each release in the window, by release transfer.
    pub releases: Vec<(TransferId, ReleaseParts)>,
}

/// The statement of a window; [`PayoutError::StatementMismatch`] if its lines do not add up
/// to the payout (which would mean the window was read wrongly).
pub fn assemble(window: &StatementWindow) -> Result<PayoutStatement, PayoutError> {
    let currency = window.amount.currency();
    let money = |minor: i64| Money::from_minor(minor, currency);
    let mut lines = vec![StatementLine::balance(
        StatementKind::BroughtForward,
        money(window.opening),
    )];
    let mut before = window.opening;
    for movement in &window.movements {
        let delta = movement
            .spendable_after
            .checked_sub(before)
            .ok_or(MoneyError::Overflow)?;
        before = movement.spendable_after;
        if delta == 0 {
            continue;
        }
        let own = movement.transfer.metadata.get("payout_id") == Some(&window.payout.to_string());
        match (own, movement.kind()) {
            // This payout's hold is the total itself.
            (true, "payout_pending") => {}
            (true, "payout_fee") => lines.push(StatementLine::of(
                StatementKind::InstantFee,
                &movement.transfer,
                money(delta),
            )),
            (_, "release") => {
                let parts = window
                    .releases
                    .iter()
                    .find(|(id, _)| *id == movement.transfer.id)
                    .map(|(_, parts)| parts);
                lines.extend(release_lines(&movement.transfer, delta, parts, currency)?);
            }
            (_, kind) => lines.push(StatementLine::of(
                movement_kind(kind),
                &movement.transfer,
                money(delta),
            )),
        }
    }
    lines.push(StatementLine::balance(
        StatementKind::CarriedForward,
        money(before.checked_neg().ok_or(MoneyError::Overflow)?),
    ));
    let total = sum(&lines, currency)?;
    if total != window.amount {
        return Err(PayoutError::StatementMismatch {
            expected: window.amount,
            found: total,
        });
    }
    Ok(PayoutStatement {
        payout: window.payout,
        total,
        lines,
    })
}

fn movement_kind(kind: &str) -> StatementKind {
    match kind {
        "reserve_release" => StatementKind::ReserveReleased,
        "balance_conversion" => StatementKind::Conversion,
        kind if kind.starts_with("payout_") => StatementKind::PayoutReturned,
        _ => StatementKind::Other,
    }
}

/// The sum of `lines`, in `currency`.
pub fn sum(lines: &[StatementLine], currency: Currency) -> Result<Money, MoneyError> {
    lines.iter().try_fold(Money::zero(currency), |total, line| {
        total.checked_add(line.amount)
    })
}

/// A release as its sales, fees, refunds and chargebacks and what the reserve held; one
/// [`StatementKind::Release`] line when its parts are unknown or do not add up to it.
fn release_lines(
    release: &Transfer,
    available: i64,
    parts: Option<&ReleaseParts>,
    currency: Currency,
) -> Result<Vec<StatementLine>, MoneyError> {
    let money = |minor: i64| Money::from_minor(minor, currency);
    let whole = || {
        vec![StatementLine::of(
            StatementKind::Release,
            release,
            money(available),
        )]
    };
    let Some(parts) = parts else {
        return Ok(whole());
    };
    let mut lines = Vec::new();
    for (credit, commission) in &parts.credits {
        let is_capture = kind_of(credit) == "capture";
        match commission {
            Some(fee) if is_capture && fee.amount.currency() == currency => {
                lines.push(StatementLine::of(
                    StatementKind::Sale,
                    credit,
                    credit.amount.checked_add(fee.amount)?,
                ));
                lines.push(StatementLine::of(
                    StatementKind::Fee,
                    fee,
                    fee.amount.checked_neg()?,
                ));
            }
            _ => {
                let kind = if is_capture {
                    StatementKind::Sale
                } else {
                    StatementKind::Other
                };
                lines.push(StatementLine::of(kind, credit, credit.amount));
            }
        }
    }
    for debit in &parts.debits {
        let kind = match kind_of(debit) {
            "refund" => StatementKind::Refund,
            "chargeback" => StatementKind::Chargeback,
            _ => StatementKind::Other,
        };
        lines.push(StatementLine::of(kind, debit, debit.amount.checked_neg()?));
    }
    if parts.reserve_held != 0 {
        lines.push(StatementLine::of(
            StatementKind::ReserveHeld,
            release,
            money(
                parts
                    .reserve_held
                    .checked_neg()
                    .ok_or(MoneyError::Overflow)?,
            ),
        ));
    }
    if sum(&lines, currency)? != money(available) {
        return Ok(whole());
    }
    Ok(lines)
}

impl PayoutStatement {
    /// The statement as CSV (RFC 4180: CRLF line ends, fields with commas, quotes or line
    /// breaks quoted): one row per line, amounts as plain decimals with a currency column,
    /// times in UTC (RFC 3339). The amounts add up to the payout.
    pub fn to_csv(&self) -> String {
        use crate::payments::settlement_report::quote;
        let mut out = String::from(
            "posted_at,type,description,order_id,reference,transfer_id,fx_rate,amount,currency\r\n",
        );
        for line in &self.lines {
            let fields = [
                line.at
                    .map(crate::time::Rfc3339::to_rfc3339)
                    .unwrap_or_default(),
                line.kind.as_str().to_owned(),
                line.kind.label().to_owned(),
                line.order.clone().unwrap_or_default(),
                line.reference.clone().unwrap_or_default(),
                line.transfer.map(|id| id.to_string()).unwrap_or_default(),
                line.fx_rate.clone().unwrap_or_default(),
                line.amount.amount_string(),
                line.amount.currency().code().to_owned(),
            ];
            let row: Vec<String> = fields.iter().map(|f| quote(f)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::arithmetic_side_effects, reason = "small values in test data")]

    use bazaar_ledger::{AccountId, Metadata, TransferKind};
    use proptest::prelude::*;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn transfer(n: u128, kind: &str, minor: i64, extra: &[(&str, &str)]) -> Transfer {
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), kind.into());
        for (key, value) in extra {
            metadata.insert((*key).into(), (*value).into());
        }
        Transfer {
            id: TransferId::from_u128(n),
            kind: TransferKind::Direct,
            debit_account_id: AccountId::from_u128(1),
            credit_account_id: AccountId::from_u128(2),
            amount: eur(minor),
            timestamp: Timestamp::from_micros(i64::try_from(n).unwrap()),
            metadata,
        }
    }

    fn moved(transfer: Transfer, spendable_after: i64) -> Movement {
        Movement {
            transfer,
            spendable_after,
        }
    }

    const PAYOUT: u128 = 77;

    fn hold(n: u128, spendable_after: i64) -> Movement {
        let payout = PayoutId::from_u128(PAYOUT).to_string();
        moved(
            transfer(n, "payout_pending", 0, &[("payout_id", payout.as_str())]),
            spendable_after,
        )
    }

    fn window(amount: i64, opening: i64, movements: Vec<Movement>) -> StatementWindow {
        StatementWindow {
            payout: PayoutId::from_u128(PAYOUT),
            amount: eur(amount),
            opening,
            movements,
            releases: Vec::new(),
        }
    }

    fn kinds_and_amounts(statement: &PayoutStatement) -> Vec<(&'static str, i64)> {
        statement
            .lines
            .iter()
            .map(|line| (line.kind.as_str(), line.amount.minor()))
            .collect()
    }

    #[test]
    fn a_release_is_listed_as_its_sales_fees_refunds_and_reserve() {
        let release = transfer(10, "release", 11_000, &[]);
        let mut statement_window = window(
            10_000,
            500,
            vec![moved(release.clone(), 11_500), hold(11, 1_500)],
        );
        let sale = transfer(3, "capture", 9_000, &[("order_id", "o1")]);
        let fee = transfer(4, "capture", 1_000, &[("order_id", "o1")]);
        let converted = transfer(5, "capture", 4_000, &[("fx_rate", "1.0812")]);
        statement_window.releases.push((
            release.id,
            ReleaseParts {
                credits: vec![(sale, Some(fee)), (converted, None)],
                debits: vec![
                    transfer(6, "refund", 1_500, &[]),
                    transfer(7, "chargeback", 400, &[]),
                ],
                reserve_held: 100,
            },
        ));
        let statement = assemble(&statement_window).unwrap();
        assert_eq!(
            kinds_and_amounts(&statement),
            [
                ("brought_forward", 500),
                ("sale", 10_000),
                ("fee", -1_000),
                ("sale", 4_000),
                ("refund", -1_500),
                ("chargeback", -400),
                ("reserve_held", -100),
                ("carried_forward", -1_500),
            ]
        );
        assert_eq!(statement.total, eur(10_000));
        assert_eq!(statement.lines[1].order.as_deref(), Some("o1"));
        assert_eq!(statement.lines[3].fx_rate.as_deref(), Some("1.0812"));
        let csv = statement.to_csv();
        assert!(csv.starts_with("posted_at,type,description,"));
        assert_eq!(csv.matches("\r\n").count(), 9);
        assert!(csv.contains(",sale,Sale,o1,,"));
    }

    #[test]
    fn a_release_whose_parts_do_not_add_up_is_one_line() {
        let release = transfer(10, "release", 3_000, &[]);
        let mut statement_window =
            window(3_000, 0, vec![moved(release.clone(), 3_000), hold(11, 0)]);
        statement_window.releases.push((
            release.id,
            ReleaseParts {
                credits: vec![(transfer(3, "capture", 2_999, &[]), None)],
                ..ReleaseParts::default()
            },
        ));
        let statement = assemble(&statement_window).unwrap();
        assert_eq!(
            kinds_and_amounts(&statement),
            [
                ("brought_forward", 0),
                ("release", 3_000),
                ("carried_forward", 0)
            ]
        );
    }

    #[test]
    fn returned_payouts_conversions_and_an_instant_fee_are_lines_of_their_own() {
        let payout = PayoutId::from_u128(PAYOUT).to_string();
        let statement = assemble(&window(
            1_000,
            200,
            vec![
                moved(
                    transfer(1, "payout_void", 300, &[("payout_id", "other")]),
                    500,
                ),
                moved(
                    transfer(2, "balance_conversion", 700, &[("fx_rate", "0.86")]),
                    1_200,
                ),
                moved(transfer(3, "payout_post", 0, &[]), 1_200),
                hold(4, 200),
                moved(
                    transfer(5, "payout_fee", 10, &[("payout_id", payout.as_str())]),
                    190,
                ),
            ],
        ))
        .unwrap();
        assert_eq!(
            kinds_and_amounts(&statement),
            [
                ("brought_forward", 200),
                ("payout_returned", 300),
                ("conversion", 700),
                ("instant_fee", -10),
                ("carried_forward", -190),
            ]
        );
    }

    #[test]
    fn a_window_that_does_not_add_up_is_refused() {
        let refused = assemble(&window(1_000, 0, vec![hold(1, -900)]));
        assert_eq!(
            refused.unwrap_err(),
            PayoutError::StatementMismatch {
                expected: eur(1_000),
                found: eur(900),
            }
        );
    }

    proptest! {
        /// Whatever moved the balance before the hold, the lines add up to the payout.
        #[test]
        fn the_lines_always_add_up_to_the_payout(
            opening in -10_000_i64..10_000,
            deltas in proptest::collection::vec(-5_000_i64..5_000, 0..20),
            amount in 1_i64..50_000,
        ) {
            let mut spendable = opening;
            let mut movements = Vec::new();
            for (n, delta) in deltas.iter().enumerate() {
                spendable += delta;
                let kind = ["reserve_release", "balance_conversion", "payout_void", "other"][n % 4];
                movements.push(moved(transfer(u128::try_from(n).unwrap() + 1, kind, delta.abs(), &[]), spendable));
            }
            movements.push(hold(1_000, spendable - amount));
            let statement = assemble(&window(amount, opening, movements)).unwrap();
            prop_assert_eq!(statement.total, eur(amount));
            prop_assert_eq!(sum(&statement.lines, Currency::EUR).unwrap(), eur(amount));
        }
    }
}
