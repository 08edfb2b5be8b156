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
