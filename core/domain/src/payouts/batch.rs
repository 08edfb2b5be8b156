//! The payout run a page of sellers at a time: balances read in one query, releases only for
//! sellers with something to release, the day's scheduled payouts recorded in one
//! transaction, their ledger holds submitted together (the posting engine groups them), and
//! their rail submissions and moves written in one transaction each. Every step keeps the
//! guarantees of the one-payout path (`drive`): derived ids, compare-and-set moves, nothing
//! moved twice; whatever a step leaves undone, `resume` finishes.

use std::collections::HashMap;

use bazaar_ledger::{AccountId, Balance, LedgerStore, Timestamp, TransferError};
use bazaar_money::Money;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::{
    BusinessCalendar, LedgerChange, NewPayout, Payout, PayoutError, PayoutId, PayoutKind,
    PayoutMove, PayoutRails, PayoutSeller, PayoutState, PayoutStore, Payouts, PayoutsError,
    RUN_CONCURRENCY, RailSubmission, RunPass, Withholding, Zone, transition,
};
use crate::Country;
use crate::chart::ChartAccount;
use crate::postings::submit;

/// Ledger holds submitted at once; the posting engine groups them into few transactions.
const HOLDS_IN_FLIGHT: usize = 256;

/// A seller's balance of one kind, from the page's bulk read.
fn balance_of(
    balances: &HashMap<AccountId, Balance>,
    account: &ChartAccount,
    seller: &PayoutSeller,
) -> Balance {
    balances
        .get(&account.id(seller.currency))
        .copied()
        .unwrap_or_default()
}

impl<S: PayoutStore, R: PayoutRails, L: LedgerStore, W: Withholding> Payouts<S, R, L, W> {
    async fn read_balances(
        &self,
        sellers: &[&PayoutSeller],
    ) -> Result<HashMap<AccountId, Balance>, PayoutsError> {
        let ids = sellers
            .iter()
            .flat_map(|seller| {
                [
                    ChartAccount::SellerPending(seller.id).id(seller.currency),
                    ChartAccount::SellerAvailable(seller.id).id(seller.currency),
                    ChartAccount::SellerReserve(seller.id).id(seller.currency),
                ]
            })
            .collect();
        let found = self
            .ledger
            .accounts(ids)
            .await
            .map_err(|error| match error {
                bazaar_ledger::StoreError::Unavailable(_) => {
                    PayoutsError::Store(super::PayoutStoreError::Unavailable)
                }
                bazaar_ledger::StoreError::Internal(_) => {
                    PayoutsError::Store(super::PayoutStoreError::Internal)
                }
            })?;
        Ok(found
            .into_iter()
            .map(|(account, balance)| (account.id, balance))
            .collect())
    }

    /// One page of the payout run (see the module).
    pub(super) async fn run_page(
        &self,
        sellers: &[PayoutSeller],
        now: Timestamp,
        pass: &mut RunPass,
    ) -> Result<(), PayoutsError> {
        let all: Vec<&PayoutSeller> = sellers.iter().collect();
        let mut balances = self.read_balances(&all).await?;
        let released = self.release_page(&all, &balances, now, pass).await;
        if !released.is_empty() {
            balances.extend(self.read_balances(&released).await?);
        }
        let due = due_today(&all, now, pass);
        if due.is_empty() {
            return Ok(());
        }
        // Payouts a worker made before for today are driven on; the others are made now.
        let existing = self
            .store
            .payouts_by_ids(due.iter().map(|(_, id, _)| *id).collect())
            .await?;
        pass.payouts = pass
            .payouts
            .saturating_add(u32::try_from(existing.len()).unwrap_or(u32::MAX));
        let fresh: Vec<_> = due
            .into_iter()
            .filter(|(_, id, _)| !existing.iter().any(|payout| payout.id == *id))
            .collect();
        for payout in existing {
            if payout.ledger_due.is_some() || payout.state == PayoutState::Pending {
                self.drive(payout, now).await?;
            }
        }
        let accounts = self
            .store
            .payable_accounts(
                fresh
                    .iter()
                    .map(|(seller, _, _)| (seller.id, seller.currency))
                    .collect(),
            )
            .await?;
        let new = new_payouts(fresh, &accounts, &balances)?;
        if new.is_empty() {
            return Ok(());
        }
        let count = u32::try_from(new.len()).unwrap_or(u32::MAX);
        let inserted = match self.store.insert_payouts(new.clone(), now).await {
            Ok(inserted) => inserted,
            Err(_) => {
                // One of them could not be recorded as read (an account removed meanwhile):
                // record them one by one, the others still go.
                let mut inserted = Vec::new();
                for payout in new {
                    match self.store.insert_payout(payout, now).await {
                        Ok(payout) => inserted.push(payout),
                        Err(_) => pass.failed = pass.failed.saturating_add(1),
                    }
                }
                inserted
            }
        };
        pass.payouts = pass.payouts.saturating_add(count);
        self.drive_many(inserted, now).await
    }

    /// Releases for the page's sellers with something captured or reserved; answers those
    /// whose balances changed.
    async fn release_page<'a>(
        &self,
        all: &[&'a PayoutSeller],
        balances: &HashMap<AccountId, Balance>,
        now: Timestamp,
        pass: &mut RunPass,
    ) -> Vec<&'a PayoutSeller> {
        // Releases, for the sellers with something captured or reserved.
        let releasing: Vec<&PayoutSeller> = all
            .iter()
            .copied()
            .filter(|seller| {
                balance_of(balances, &ChartAccount::SellerPending(seller.id), seller).credits_posted
                    > 0
                    || balance_of(balances, &ChartAccount::SellerReserve(seller.id), seller)
                        .credits_posted
                        > 0
            })
            .collect();
        let mut released = Vec::new();
        let mut waiting = releasing.iter();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < RUN_CONCURRENCY {
                let Some(seller) = waiting.next() else {
                    break;
                };
                running.push(async move { (*seller, self.release(seller, now).await) });
            }
            let Some((seller, result)) = running.next().await else {
                break;
            };
            match result {
                Ok(0) => {}
                Ok(count) => {
                    pass.releases = pass.releases.saturating_add(count);
                    released.push(seller);
                }
                Err(PayoutsError::Invalid(PayoutError::CountryNotCovered(_))) => {}
                Err(_) => pass.failed = pass.failed.saturating_add(1),
            }
        }
        released
    }

    /// Posts the holds of new payouts, many at once: answers those held and those the
    /// balance no longer covers; the others keep their hold due for `resume`.
    async fn hold_all(&self, payouts: Vec<Payout>) -> (Vec<Payout>, Vec<Payout>) {
        let mut held = Vec::new();
        let mut unfunded = Vec::new();
        let mut waiting = payouts.into_iter();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < HOLDS_IN_FLIGHT {
                let Some(payout) = waiting.next() else {
                    break;
                };
                running.push(async move {
                    let posted = match payout.money().posting(LedgerChange::PostPending) {
                        Ok(Some(posting)) => submit(&self.ledger, posting).await,
                        Ok(None) => Ok(()),
                        Err(error) => return (payout, Err(PayoutsError::from(error))),
                    };
                    (payout, posted.map_err(PayoutsError::from))
                });
            }
            let Some((payout, posted)) = running.next().await else {
                break;
            };
            match posted {
                Ok(()) => held.push(payout),
                Err(PayoutsError::LedgerRejected(code))
                    if code == TransferError::ExceedsCredits.code() =>
                {
                    unfunded.push(payout);
                }
                // Left with its hold due: `resume` posts it.
                Err(_) => {}
            }
        }
        (held, unfunded)
    }

    /// Takes new payouts through their holds and their rails together (see the module).
    async fn drive_many(&self, payouts: Vec<Payout>, now: Timestamp) -> Result<(), PayoutsError> {
        let (held, unfunded) = self.hold_all(payouts).await;
        for payout in unfunded {
            self.drive(payout, now).await?;
        }
        if held.is_empty() {
            return Ok(());
        }
        self.store
            .ledger_posted_many(
                held.iter().map(|p| p.id).collect(),
                LedgerChange::PostPending,
                now,
            )
            .await?;
        let destinations = self
            .store
            .destinations(held.iter().map(|p| (p.seller, p.bank_account)).collect())
            .await?;
        let mut submissions = Vec::new();
        let mut submitted = Vec::new();
        for mut payout in held {
            payout.ledger_due = None;
            let Some((_, details, holder)) = destinations
                .iter()
                .find(|(account, _, _)| *account == payout.bank_account)
            else {
                // The account went meanwhile: the one-payout path cancels it.
                self.drive(payout, now).await?;
                continue;
            };
            submissions.push(RailSubmission {
                payout: payout.id,
                rail: payout.rail,
                amount: payout.amount,
                destination: details.clone(),
                holder_name: holder.clone(),
                statement_reference: super::run::statement_reference(payout.id),
            });
            submitted.push(payout);
        }
        let Ok(answers) = self.rails.submit_many(submissions, now).await else {
            // No answer known: `resume` submits them again under the same ids.
            return Ok(());
        };
        let mut moves = Vec::new();
        for (payout, answer) in submitted.iter().zip(answers) {
            let Ok(answer) = answer else {
                continue;
            };
            let (event, accepted) = answer.event();
            let change = transition(payout.state, event, now, payout.rail)?;
            moves.push((
                payout.id,
                payout.state,
                PayoutMove {
                    accepted,
                    ..PayoutMove::of(change)
                },
            ));
        }
        let moved = self.store.move_payouts(moves, now).await?;
        for payout in moved.into_iter().flatten() {
            if payout.ledger_due.is_some() {
                self.drive(payout, now).await?;
            }
        }
        Ok(())
    }
}

/// The page's sellers whose scheduled payout is due on their local today, with the payout's
/// id and the date.
fn due_today<'a>(
    all: &[&'a PayoutSeller],
    now: Timestamp,
    pass: &mut RunPass,
) -> Vec<(&'a PayoutSeller, PayoutId, crate::fx::calendar::Date)> {
    // The sellers whose scheduled payout is due today.
    let mut calendars: HashMap<Country, Option<(BusinessCalendar, Zone)>> = HashMap::new();
    let mut due = Vec::new();
    for seller in all {
        if seller.settings.paused {
            continue;
        }
        let local = calendars.entry(seller.country).or_insert_with(|| {
            BusinessCalendar::for_country(seller.country)
                .ok()
                .zip(Zone::of_country(seller.country).ok())
        });
        let Some((calendar, zone)) = local.as_ref() else {
            continue;
        };
        let Ok((today, _)) = zone.local(now) else {
            pass.failed = pass.failed.saturating_add(1);
            continue;
        };
        match seller.settings.schedule.is_due(calendar, today) {
            Ok(true) => due.push((
                *seller,
                PayoutId::scheduled(seller.id, seller.currency, today),
                today,
            )),
            Ok(false) => {}
            Err(_) => pass.failed = pass.failed.saturating_add(1),
        }
    }
    due
}

/// The scheduled payouts to make: each due seller's payable balance (at least the
/// schedule's minimum, at most the rail's maximum) to its payable account.
fn new_payouts(
    fresh: Vec<(&PayoutSeller, PayoutId, crate::fx::calendar::Date)>,
    accounts: &[super::BankAccount],
    balances: &HashMap<AccountId, Balance>,
) -> Result<Vec<NewPayout>, PayoutsError> {
    let by_seller: HashMap<(crate::chart::SellerId, bazaar_money::Currency), &super::BankAccount> =
        accounts
            .iter()
            .map(|account| ((account.seller, account.currency), account))
            .collect();
    let mut new = Vec::new();
    for (seller, id, today) in fresh {
        let Some(account) = by_seller.get(&(seller.id, seller.currency)) else {
            continue;
        };
        let payable = super::payable_of(
            seller.currency,
            &balance_of(balances, &ChartAccount::SellerAvailable(seller.id), seller),
            &balance_of(balances, &ChartAccount::SellerPending(seller.id), seller),
        )?;
        let spec = account.rail.spec();
        let amount = Money::from_minor(payable.minor().min(spec.max_minor), seller.currency);
        if !seller.settings.schedule.meets_minimum(payable)? || amount.minor() < spec.min_minor {
            continue;
        }
        new.push(NewPayout {
            id,
            seller: seller.id,
            kind: PayoutKind::Standard,
            amount,
            fee: None,
            bank_account: account.id,
            rail: account.rail,
            scheduled_for: Some(today),
            instant_limit: None,
        });
    }
    Ok(new)
}

impl From<bazaar_money::MoneyError> for PayoutsError {
    fn from(error: bazaar_money::MoneyError) -> Self {
        Self::Invalid(PayoutError::Money(error))
    }
}
