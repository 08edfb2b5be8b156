//! The payouts service's money side: releasing captured funds, the scheduled payout run,
//! payouts a seller asks for, and driving each payout through the ledger and its rail.
//!
//! Every step is safe to repeat and to run from several workers at once: release transfers
//! and scheduled payouts have ids derived from the seller, the currency and the local date;
//! a payout's ledger transfers derive from its id; the rail takes the payout id as its
//! idempotency key; and the store moves a payout only from the state the mover read.

use bazaar_ledger::{AccountId, Balance, LedgerStore, Metadata, Timestamp, TransferId};
use bazaar_ledger::{TransferError, TransferRequest};
use bazaar_money::{Currency, Money, Rounding};
use uuid::Uuid;

use super::{
    Balances, BusinessCalendar, FIRST_YEAR, LedgerChange, Payout, PayoutError, PayoutEvent,
    PayoutId, PayoutMove, PayoutRails, PayoutSeller, PayoutState, PayoutStore, PayoutStoreError,
    Payouts, PayoutsError, RailOutcome, RailSubmission, ReleasePolicy, Withholding, Zone,
    released_through, share_of, transition,
};
use crate::chart::{ChartAccount, SellerId};
use crate::error::CommerceError;
use crate::fx::calendar::Date;
use crate::postings::{Leg, Posting, submit};

/// How many sellers' turns one payout-run worker takes at once.
pub const RUN_CONCURRENCY: usize = 32;

/// Pages of sellers one payout-run worker works on at once.
pub const PAGES_IN_FLIGHT: usize = 4;

/// What one pass of the payout run did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RunPass {
    /// Sellers looked at.
    pub sellers: u32,
    /// Releases posted (pending to available, or out of the reserve).
    pub releases: u32,
    /// Scheduled payouts created or found already created.
    pub payouts: u32,
    /// Sellers whose turn failed; logged by the caller, retried on the next pass.
    pub failed: u32,
}

impl From<CommerceError> for PayoutsError {
    fn from(error: CommerceError) -> Self {
        match error {
            CommerceError::Unavailable => Self::Store(PayoutStoreError::Unavailable),
            CommerceError::LedgerRejected { code } => Self::LedgerRejected(code),
            _ => Self::Store(PayoutStoreError::Internal),
        }
    }
}

pub(super) fn ledger_read(error: bazaar_ledger::StoreError) -> PayoutsError {
    match error {
        bazaar_ledger::StoreError::Unavailable(_) => {
            PayoutsError::Store(PayoutStoreError::Unavailable)
        }
        bazaar_ledger::StoreError::Internal(_) => PayoutsError::Store(PayoutStoreError::Internal),
    }
}

/// A transfer id derived from the seller and a step name.
fn derived_id(seller: SellerId, step: &str) -> TransferId {
    TransferId::from_uuid(Uuid::new_v5(&seller.as_uuid(), step.as_bytes()))
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore, W: Withholding> Payouts<S, R, L, W> {
    async fn balance(&self, id: AccountId) -> Result<Option<(Timestamp, Balance)>, PayoutsError> {
        Ok(self
            .ledger
            .account(id)
            .await
            .map_err(ledger_read)?
            .map(|(account, balance)| (account.created_at, balance)))
    }

    pub(super) async fn balance_or_zero(
        &self,
        account: ChartAccount,
        currency: Currency,
    ) -> Result<Balance, PayoutsError> {
        Ok(self
            .balance(account.id(currency))
            .await?
            .map(|(_, balance)| balance)
            .unwrap_or_default())
    }

    /// The seller's available and pending ledger balances in `currency`.
    async fn available_and_pending(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> Result<(Balance, Balance), PayoutsError> {
        let available = self
            .balance_or_zero(ChartAccount::SellerAvailable(seller), currency)
            .await?;
        let pending = self
            .balance_or_zero(ChartAccount::SellerPending(seller), currency)
            .await?;
        Ok((available, pending))
    }

    /// The seller's balances in `currency`, from the ledger.
    pub async fn balances(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> Result<Balances, PayoutsError> {
        let (available, pending) = self.available_and_pending(seller, currency).await?;
        let reserve = self
            .balance_or_zero(ChartAccount::SellerReserve(seller), currency)
            .await?;
        let instant = self.store.instant_eligible(seller, currency).await?;
        Ok(Balances::from_ledger(
            currency, &available, &pending, &reserve, instant,
        )?)
    }

    /// What a payout may take now: the available balance, less what the seller owes when
    /// refunds after release took the pending balance below zero.
    pub async fn payable(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> Result<Money, PayoutsError> {
        let (available, pending) = self.available_and_pending(seller, currency).await?;
        Ok(super::payable_of(currency, &available, &pending)?)
    }

    /// The seller's local date of its first capture: the first day whose end saw a credit on
    /// its pending account, found by halving the days since the account was opened.
    async fn first_capture_on(
        &self,
        pending: AccountId,
        opened: Timestamp,
        zone: Zone,
        today: Date,
    ) -> Result<Option<Date>, PayoutsError> {
        let credited_by_end_of = |day: Date| async move {
            let end = zone.midnight(day.add_days(1).ok_or(PayoutError::DateOutOfRange)?)?;
            Ok::<_, PayoutsError>(
                self.ledger
                    .balance_at(pending, end)
                    .await
                    .map_err(ledger_read)?
                    .is_some_and(|balance| balance.credits_posted > 0),
            )
        };
        let floor = Date::new(FIRST_YEAR, 1, 1).ok_or(PayoutError::DateOutOfRange)?;
        let mut low = zone.local(opened)?.0.max(floor);
        let mut high = today;
        if low > high || !credited_by_end_of(high).await? {
            return Ok(None);
        }
        // Invariant: credited by the end of `high`; not by the end of the day before `low`.
        while low < high {
            let span = high
                .days_since_epoch()
                .zip(low.days_since_epoch())
                .and_then(|(high, low)| high.checked_sub(low))
                .ok_or(PayoutError::DateOutOfRange)?;
            let middle = low
                .add_days(span.div_euclid(2))
                .ok_or(PayoutError::DateOutOfRange)?;
            if credited_by_end_of(middle).await? {
                high = middle;
            } else {
                low = middle.add_days(1).ok_or(PayoutError::DateOutOfRange)?;
            }
        }
        Ok(Some(low))
    }

    /// Releases the seller's captured funds whose delay has passed (see [`released_through`])
    /// to its available balance, less the rolling reserve, and the reserve's held parts
    /// whose hold has ended. Answers how many releases it posted.
    ///
    /// The amount is a running total read from the ledger: the pending account's credits up
    /// to the end of the last released capture date, less every debit it has had (earlier
    /// releases, refunds and chargebacks). Refunds therefore come out of funds not yet
    /// released first, and a release never takes the pending balance below zero.
    pub async fn release(
        &self,
        seller: &PayoutSeller,
        now: Timestamp,
    ) -> Result<u32, PayoutsError> {
        let currency = seller.currency;
        let pending_id = ChartAccount::SellerPending(seller.id).id(currency);
        let Some((opened, pending)) = self.balance(pending_id).await? else {
            return Ok(0);
        };
        let zone = Zone::of_country(seller.country)?;
        let calendar = BusinessCalendar::for_country(seller.country)?;
        let mut policy = ReleasePolicy::default_for(seller.country)?;
        policy.reserve = seller.settings.reserve;
        let today = zone.local(now)?.0;
        let mut posted = 0_u32;
        if pending.credits_posted == 0 {
            // Nothing was ever captured: nothing to release but the reserve's leftovers.
            return Ok(u32::from(self.release_reserve(seller, zone, today).await?));
        }
        let first = match seller.settings.first_capture_on {
            Some(first) => Some(first),
            None => {
                let found = self
                    .first_capture_on(pending_id, opened, zone, today)
                    .await?;
                if let Some(first) = found {
                    self.store
                        .set_first_capture(seller.id, currency, first, now)
                        .await?;
                }
                found
            }
        };
        if let Some(first) = first
            && let Some(through) = released_through(
                today,
                first,
                &calendar,
                &policy,
                seller.settings.schedule.delay_days(),
            )?
        {
            let end = zone.midnight(through.add_days(1).ok_or(PayoutError::DateOutOfRange)?)?;
            let due = self.due_since(pending_id, end, &pending).await?;
            if due > 0 {
                let due = Money::from_minor(due, currency);
                // What the seller owes comes out first; the reserve holds its share of the
                // rest.
                let mut legs = self.withholding.withhold(seller.id, due, today).await?;
                let mut rest = due;
                for leg in &legs {
                    if leg.debit == ChartAccount::SellerPending(seller.id) {
                        rest = rest.checked_sub(leg.amount).map_err(PayoutError::from)?;
                    }
                }
                if rest.is_negative() {
                    return Err(PayoutsError::Store(PayoutStoreError::Internal));
                }
                let held = match policy.reserve {
                    Some(reserve) => share_of(rest, reserve.share, Rounding::Down)?,
                    None => Money::zero(currency),
                };
                let pending = ChartAccount::SellerPending(seller.id);
                legs.push(Leg {
                    name: "available",
                    debit: pending.clone(),
                    credit: ChartAccount::SellerAvailable(seller.id),
                    amount: rest.checked_sub(held).map_err(PayoutError::from)?,
                });
                legs.push(Leg {
                    name: "reserve",
                    debit: pending,
                    credit: ChartAccount::SellerReserve(seller.id),
                    amount: held,
                });
                let step = format!("release:{}:{through}", currency.code());
                if self.post_moves(seller.id, &step, &legs).await? {
                    posted = posted.saturating_add(1);
                }
            }
        }
        if self.release_reserve(seller, zone, today).await? {
            posted = posted.saturating_add(1);
        }
        Ok(posted)
    }

    /// What is due out of an account: its credits up to `end`, less every debit it has had
    /// since it was opened (`now` is its balance now). Credits after `end` are not due yet.
    async fn due_since(
        &self,
        account: AccountId,
        end: Timestamp,
        now: &Balance,
    ) -> Result<i64, PayoutsError> {
        let credited = self
            .ledger
            .balance_at(account, end)
            .await
            .map_err(ledger_read)?
            .unwrap_or_default()
            .credits_posted;
        Ok(credited
            .checked_sub(now.debits_posted)
            .and_then(|due| due.checked_sub(now.debits_pending))
            .ok_or(PayoutError::Money(bazaar_money::MoneyError::Overflow))?)
    }

    /// Moves the reserve's parts held for their whole hold back to the available balance:
    /// the reserve's credits up to the start of the day `hold_days` ago, less its debits.
    async fn release_reserve(
        &self,
        seller: &PayoutSeller,
        zone: Zone,
        today: Date,
    ) -> Result<bool, PayoutsError> {
        let currency = seller.currency;
        let reserve_id = ChartAccount::SellerReserve(seller.id).id(currency);
        let Some((_, reserve)) = self.balance(reserve_id).await? else {
            return Ok(false);
        };
        if reserve.credits_posted == 0 {
            return Ok(false);
        }
        let hold = seller
            .settings
            .reserve
            .map_or(0, |reserve| reserve.hold_days);
        let until = today
            .add_days(
                1_i64
                    .checked_sub(i64::from(hold))
                    .ok_or(PayoutError::DateOutOfRange)?,
            )
            .ok_or(PayoutError::DateOutOfRange)?;
        let due = self
            .due_since(reserve_id, zone.midnight(until)?, &reserve)
            .await?;
        if due <= 0 {
            return Ok(false);
        }
        let step = format!("reserve_release:{}:{today}", currency.code());
        let legs = [Leg {
            name: "available",
            debit: ChartAccount::SellerReserve(seller.id),
            credit: ChartAccount::SellerAvailable(seller.id),
            amount: Money::from_minor(due, currency),
        }];
        self.post_moves(seller.id, &step, &legs).await
    }

    /// Posts `legs` (those of zero left out) as one batch with ids derived from `step`. A
    /// batch another worker posted first with other amounts (the same step raced with a
    /// refund between the two reads) is left as posted: the next pass reads the ledger
    /// again.
    async fn post_moves(
        &self,
        seller: SellerId,
        step: &str,
        legs: &[Leg],
    ) -> Result<bool, PayoutsError> {
        let mut posting = Posting::default();
        let mut metadata = Metadata::new();
        metadata.insert("kind".into(), step.split(':').next().unwrap_or(step).into());
        metadata.insert("seller_id".into(), seller.to_string());
        // The whole step: a payout's statement reads a release's date from it.
        metadata.insert("step".into(), step.to_owned());
        for leg in legs.iter().filter(|leg| leg.amount.is_positive()) {
            let request = TransferRequest {
                id: derived_id(seller, &format!("{step}:{}", leg.name)),
                kind: leg.direct(),
                metadata: metadata.clone(),
            };
            posting.add(leg, request);
        }
        if posting.requests.is_empty() {
            return Ok(false);
        }
        match submit(&self.ledger, posting).await {
            Ok(()) => Ok(true),
            Err(CommerceError::LedgerRejected { code }) if is_raced(code) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Takes a payout as far as it can go now: posts the ledger change due, then hands a
    /// pending payout to its rail. A hold the balance cannot cover cancels the payout
    /// (`insufficient_balance`), with nothing moved.
    pub async fn drive(&self, mut payout: Payout, now: Timestamp) -> Result<Payout, PayoutsError> {
        for _ in 0..4 {
            if let Some(change) = payout.ledger_due {
                let Some(posting) = payout.money().posting(change)? else {
                    self.store.ledger_posted(payout.id, change, now).await?;
                    payout.ledger_due = None;
                    continue;
                };
                match submit(&self.ledger, posting).await {
                    Ok(()) => {}
                    Err(CommerceError::LedgerRejected { code })
                        if change == LedgerChange::PostPending
                            && code == TransferError::ExceedsCredits.code() =>
                    {
                        return self.cancel_unfunded(payout, now).await;
                    }
                    Err(error) => return Err(error.into()),
                }
                self.store.ledger_posted(payout.id, change, now).await?;
                payout.ledger_due = None;
                continue;
            }
            if payout.state != PayoutState::Pending {
                return Ok(payout);
            }
            let Some(moved) = self.submit_to_rail(&payout, now).await? else {
                return Ok(payout);
            };
            payout = moved;
        }
        Ok(payout)
    }

    async fn cancel_unfunded(
        &self,
        payout: Payout,
        now: Timestamp,
    ) -> Result<Payout, PayoutsError> {
        let change = super::Change {
            state: PayoutState::Canceled,
            ledger: LedgerChange::Nothing,
            follow_up: None,
        };
        let moved = self
            .store
            .move_payout(
                payout.id,
                PayoutState::Pending,
                PayoutMove {
                    canceled_reason: Some("insufficient_balance"),
                    force: true,
                    ..PayoutMove::of(change)
                },
                now,
            )
            .await?;
        Ok(moved.unwrap_or(payout))
    }

    /// Hands a pending payout to its rail; `None` when the rail did not answer (the next
    /// pass asks again, with the same payout id) or another worker moved it first.
    async fn submit_to_rail(
        &self,
        payout: &Payout,
        now: Timestamp,
    ) -> Result<Option<Payout>, PayoutsError> {
        let Some((destination, holder_name)) = self
            .store
            .destination(payout.seller, payout.bank_account)
            .await?
        else {
            // The seller removed the account before the payout left: cancel it, releasing
            // the hold.
            let change = transition(payout.state, PayoutEvent::Canceled, now, payout.rail)?;
            return Ok(self
                .store
                .move_payout(
                    payout.id,
                    payout.state,
                    PayoutMove {
                        canceled_reason: Some("bank_account_removed"),
                        ..PayoutMove::of(change)
                    },
                    now,
                )
                .await?);
        };
        let answer = self
            .rails
            .submit(
                RailSubmission {
                    payout: payout.id,
                    rail: payout.rail,
                    amount: payout.amount,
                    destination,
                    holder_name,
                    statement_reference: statement_reference(payout.id),
                },
                now,
            )
            .await;
        let (event, accepted) = match answer {
            Ok(answer) => answer.event(),
            Err(super::RailError::Unavailable) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let change = transition(payout.state, event, now, payout.rail)?;
        Ok(self
            .store
            .move_payout(
                payout.id,
                payout.state,
                PayoutMove {
                    accepted,
                    ..PayoutMove::of(change)
                },
                now,
            )
            .await?)
    }

    /// Applies the rails' events since the last one handled, at most `limit`, and answers
    /// how many moved a payout. Each move is stored before the cursor passes its event, and
    /// an event applied twice moves nothing.
    pub async fn rail_events(&self, limit: u32, now: Timestamp) -> Result<u32, PayoutsError> {
        let after = self.store.rail_cursor().await?;
        let events = self.rails.events(after, limit, now).await?;
        let mut moved = 0_u32;
        for event in events {
            if let Some(payout) = self.store.payout(None, event.payout).await? {
                let payout = self.drive(payout, now).await?;
                let happened = match event.outcome {
                    RailOutcome::Paid => PayoutEvent::Paid,
                    RailOutcome::Failed(code) => PayoutEvent::Failed(code),
                    RailOutcome::Returned(code) => PayoutEvent::Returned(code),
                };
                match transition(payout.state, happened, event.at, payout.rail) {
                    Ok(change) => {
                        let stored = self
                            .store
                            .move_payout(
                                payout.id,
                                payout.state,
                                PayoutMove {
                                    event_id: Some(event.event_id.clone()),
                                    ..PayoutMove::of(change)
                                },
                                now,
                            )
                            .await?;
                        if let Some(stored) = stored {
                            moved = moved.saturating_add(1);
                            self.drive(stored, now).await?;
                        }
                    }
                    Err(error) => {
                        // A duplicate report, or one the rules refuse (a return after its
                        // window): nothing moves; the caller logs the count of moves.
                        let _ = error;
                    }
                }
            }
            self.store.set_rail_cursor(event.event_id, now).await?;
        }
        Ok(moved)
    }

    /// The ledger transfers the payout has made so far, each with its step name, in the
    /// order steps happen: the trail behind every figure shown for it.
    pub async fn payout_entries(
        &self,
        payout: &Payout,
    ) -> Result<Vec<(&'static str, bazaar_ledger::Transfer)>, PayoutsError> {
        let money = payout.money();
        let mut entries = Vec::new();
        for step in super::PAYOUT_STEPS {
            let found = self
                .ledger
                .transfer(money.transfer_id(step))
                .await
                .map_err(ledger_read)?;
            if let Some(transfer) = found {
                entries.push((step, transfer));
            }
        }
        Ok(entries)
    }

    /// Drives payouts with work left (a ledger change due, or not yet handed to the rail),
    /// at most `limit`; answers how many it looked at.
    pub async fn resume(&self, limit: u32, now: Timestamp) -> Result<u32, PayoutsError> {
        let payouts = self.store.payouts_with_work(limit).await?;
        let count = u32::try_from(payouts.len()).unwrap_or(u32::MAX);
        for payout in payouts {
            self.drive(payout, now).await?;
        }
        Ok(count)
    }

    /// One pass of releases and scheduled payouts over every seller, `batch` sellers a page
    /// and [`PAGES_IN_FLIGHT`] pages at once (see `batch.rs`). A seller whose turn fails is
    /// counted and left for the next pass.
    pub async fn run(&self, batch: u32, now: Timestamp) -> Result<RunPass, PayoutsError> {
        use futures_util::StreamExt;
        use futures_util::stream::FuturesUnordered;

        let mut pass = RunPass::default();
        let mut after = None;
        let mut exhausted = false;
        let mut running = FuturesUnordered::new();
        loop {
            while !exhausted && running.len() < PAGES_IN_FLIGHT {
                let sellers = self.store.sellers(after, batch).await?;
                match sellers.last() {
                    None => exhausted = true,
                    Some(last) => {
                        after = Some(last.id);
                        running.push(self.page_pass(sellers, now));
                    }
                }
            }
            let Some(page) = running.next().await else {
                return Ok(pass);
            };
            let page = page?;
            pass.sellers = pass.sellers.saturating_add(page.sellers);
            pass.releases = pass.releases.saturating_add(page.releases);
            pass.payouts = pass.payouts.saturating_add(page.payouts);
            pass.failed = pass.failed.saturating_add(page.failed);
        }
    }

    async fn page_pass(
        &self,
        sellers: Vec<PayoutSeller>,
        now: Timestamp,
    ) -> Result<RunPass, PayoutsError> {
        let mut pass = RunPass {
            sellers: u32::try_from(sellers.len()).unwrap_or(u32::MAX),
            ..RunPass::default()
        };
        self.run_page(&sellers, now, &mut pass).await?;
        Ok(pass)
    }
}

/// Ledger codes that mean another worker posted the same step with other amounts first.
fn is_raced(code: &str) -> bool {
    code.starts_with("exists_with_different")
}

/// What the seller sees on the bank statement: the platform and the payout's short id.
pub(super) fn statement_reference(id: PayoutId) -> String {
    let short: String = id
        .to_string()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    format!("BAZAAR PAYOUT {}", short.to_ascii_uppercase())
}
