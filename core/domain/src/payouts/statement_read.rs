//! Reading a payout's statement and a seller's account history from the ledger.

use bazaar_ledger::{
    AccountId, HistoryCursor, HistoryEntry, LedgerHistory, LedgerStore, Timestamp, Transfer,
    walk_history,
};
use bazaar_money::Currency;
use uuid::Uuid;

use super::run::ledger_read;
use super::statement::{Movement, PayoutStatement, ReleaseParts, StatementWindow, kind_of};
use super::{
    Payout, PayoutError, PayoutRails, PayoutStore, Payouts, PayoutsError, Withholding, Zone,
};
use crate::chart::{ChartAccount, SellerId};
use crate::fx::calendar::Date;

/// How many entries a statement reads back at most on one account: a seller whose payouts
/// are further apart than this gets a statement that starts with the balance at the cut.
pub const STATEMENT_ENTRIES_MAX: usize = 20_000;

/// A seller's ledger account a balance is read from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SellerBalance {
    /// Released funds (`seller_available`); payouts in transit hold part of it.
    Available,
    /// Captured funds waiting for release (`seller_pending`).
    Pending,
    /// The rolling reserve (`seller_reserve`).
    Reserved,
}

impl SellerBalance {
    /// The ledger account of `seller` in `currency`.
    pub fn account(self, seller: SellerId, currency: Currency) -> AccountId {
        match self {
            Self::Available => ChartAccount::SellerAvailable(seller),
            Self::Pending => ChartAccount::SellerPending(seller),
            Self::Reserved => ChartAccount::SellerReserve(seller),
        }
        .id(currency)
    }
}

/// The cursor that reads a batch at `at` and everything older.
fn through(at: Timestamp) -> Option<HistoryCursor> {
    Some(HistoryCursor {
        timestamp: at,
        leg: i32::MAX,
    })
}

/// The release date a release transfer's `step` metadata names (`release:EUR:2026-11-20`).
fn released_through(transfer: &Transfer) -> Option<Date> {
    let step = transfer.metadata.get("step")?;
    Date::parse_iso(step.rsplit(':').next()?)
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore + LedgerHistory, W: Withholding>
    Payouts<S, R, L, W>
{
    /// Up to `limit` entries of the seller's `balance` account in `currency`, newest first,
    /// older than `before` when given, each with the balance after it.
    pub async fn account_history(
        &self,
        seller: SellerId,
        balance: SellerBalance,
        currency: Currency,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, PayoutsError> {
        self.ledger
            .history(balance.account(seller, currency), before, limit)
            .await
            .map_err(ledger_read)
    }

    /// Entries of `account` from `from` back, newest first, until `stop` says an entry is
    /// the last one wanted (it is included) or the history or [`STATEMENT_ENTRIES_MAX`]
    /// runs out.
    async fn walk_back(
        &self,
        account: AccountId,
        from: Option<HistoryCursor>,
        stop: impl FnMut(&HistoryEntry) -> bool + Send,
    ) -> Result<Vec<HistoryEntry>, PayoutsError> {
        walk_history(&self.ledger, account, from, STATEMENT_ENTRIES_MAX, stop)
            .await
            .map_err(ledger_read)
    }

    /// The entries of the seller's `balance` account since `since`, newest first, at most
    /// [`STATEMENT_ENTRIES_MAX`], and the newest entry before `since` (last, if there is
    /// one): the balance the period opened with.
    pub async fn history_since(
        &self,
        seller: SellerId,
        balance: SellerBalance,
        currency: Currency,
        since: Timestamp,
    ) -> Result<Vec<HistoryEntry>, PayoutsError> {
        self.walk_back(balance.account(seller, currency), None, |entry| {
            entry.transfer.timestamp < since
        })
        .await
    }

    /// The statement of `payout`: the entries it pays out, adding up to its amount. `None`
    /// while (or if) the payout has not held its amount in the ledger. `zone` is the
    /// seller's, in which release dates are counted.
    pub async fn statement(
        &self,
        payout: &Payout,
        zone: Zone,
    ) -> Result<Option<PayoutStatement>, PayoutsError> {
        let money = payout.money();
        let Some(hold) = self
            .ledger
            .transfer(money.transfer_id("pending"))
            .await
            .map_err(ledger_read)?
        else {
            return Ok(None);
        };
        let currency = payout.amount.currency();
        let available = SellerBalance::Available.account(payout.seller, currency);
        let own = payout.id.to_string();
        // The payout before this one (its hold or its fee) ends the window.
        let is_boundary = |entry: &HistoryEntry| {
            entry.transfer.timestamp < hold.timestamp
                && matches!(kind_of(&entry.transfer), "payout_pending" | "payout_fee")
                && entry.transfer.metadata.get("payout_id") != Some(&own)
        };
        let mut entries = self
            .walk_back(available, through(hold.timestamp), is_boundary)
            .await?;
        // The oldest entry read opens the window when it is the payout before (its newest
        // leg, so the balance after its whole batch) or where reading stopped.
        let opening = match entries.last() {
            Some(last) if is_boundary(last) || entries.len() >= STATEMENT_ENTRIES_MAX => {
                let opening = Movement::of(last)?.spendable_after;
                entries.pop();
                opening
            }
            _ => 0,
        };
        entries.reverse();
        let mut movements = Vec::with_capacity(entries.len());
        let mut releases = Vec::new();
        for entry in &entries {
            movements.push(Movement::of(entry)?);
            if kind_of(&entry.transfer) == "release"
                && entry.transfer.credit_account_id == available
                && let Some(parts) = self
                    .release_parts(payout.seller, &entry.transfer, zone)
                    .await?
            {
                releases.push((entry.transfer.id, parts));
            }
        }
        super::statement::assemble(&StatementWindow {
            payout: payout.id,
            amount: payout.amount,
            opening,
            movements,
            releases,
        })
        .map(Some)
        .map_err(PayoutsError::from)
    }

    /// The credits and debits of the pending account that one release moved; `None` when
    /// they cannot be told (a release without its date, or too long a history).
    async fn release_parts(
        &self,
        seller: SellerId,
        release: &Transfer,
        zone: Zone,
    ) -> Result<Option<ReleaseParts>, PayoutsError> {
        let Some(end) = self.release_end(release, zone)? else {
            return Ok(None);
        };
        let currency = release.amount.currency();
        let pending = SellerBalance::Pending.account(seller, currency);
        let reserve = SellerBalance::Reserved.account(seller, currency);
        // Back to the release before and then to the end of its last date.
        let mut previous: Option<(Timestamp, Timestamp)> = None;
        let mut unreadable = false;
        let entries = self
            .walk_back(pending, through(release.timestamp), |entry| {
                let t = entry.transfer.timestamp;
                if previous.is_none()
                    && t < release.timestamp
                    && kind_of(&entry.transfer) == "release"
                {
                    match self.release_end(&entry.transfer, zone) {
                        Ok(Some(end)) => previous = Some((t, end)),
                        _ => unreadable = true,
                    }
                }
                unreadable || previous.is_some_and(|(_, end)| t <= end)
            })
            .await?;
        if unreadable || entries.len() >= STATEMENT_ENTRIES_MAX {
            return Ok(None);
        }
        let (after_release, after_end) = previous.unwrap_or((Timestamp::MIN, Timestamp::MIN));
        let mut parts = ReleaseParts::default();
        for entry in entries.into_iter().rev() {
            let transfer = entry.transfer;
            let t = transfer.timestamp;
            if transfer.credit_account_id == pending {
                if t > after_end && t <= end {
                    let commission = self.commission_of(&transfer).await?;
                    parts.credits.push((transfer, commission));
                }
            } else if t == release.timestamp && transfer.credit_account_id == reserve {
                parts.reserve_held = parts
                    .reserve_held
                    .checked_add(transfer.amount.minor())
                    .ok_or(PayoutError::Money(bazaar_money::MoneyError::Overflow))?;
            } else if t > after_release && t < release.timestamp && kind_of(&transfer) != "release"
            {
                parts.debits.push(transfer);
            }
        }
        Ok(Some(parts))
    }

    /// The instant a release's window ends: midnight after its date, in the seller's zone.
    fn release_end(
        &self,
        release: &Transfer,
        zone: Zone,
    ) -> Result<Option<Timestamp>, PayoutsError> {
        let Some(date) = released_through(release) else {
            return Ok(None);
        };
        let next = date.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
        Ok(Some(zone.midnight(next)?))
    }

    /// The commission leg of the capture `credit` belongs to, if it is a capture with one.
    async fn commission_of(&self, credit: &Transfer) -> Result<Option<Transfer>, PayoutsError> {
        if kind_of(credit) != "capture" {
            return Ok(None);
        }
        let Some(line) = credit
            .metadata
            .get("line_id")
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return Ok(None);
        };
        self.ledger
            .transfer(crate::postings::capture_leg_id(line, "commission"))
            .await
            .map_err(ledger_read)
    }
}
