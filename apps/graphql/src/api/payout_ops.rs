//! Payouts through the API: balances by type, the payout schedule, payouts with the ledger
//! entries behind them, and payouts on request. Sellers only, each seeing only its own.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use bazaar_domain::chart::SellerId;
use bazaar_domain::payouts::{
    BankAccountId, BusinessCalendar, CreatePayout, Interval, Payout, PayoutId, PayoutSchedule,
    PayoutSettings, PayoutState, Zone,
};
use bazaar_money::{Currency, Money};

use super::payouts::payouts as payouts_error;
use super::query::{money, page};
use super::types::{MoneyNode, instant};
use super::{
    app, commerce, error, list_cost, page_size, parse_time_cursor, seller, time_cursor, uuid,
};
use crate::state::App;

/// A seller's money in one currency, by what can be done with it; every figure is read from
/// the ledger.
#[derive(SimpleObject)]
pub struct PayoutBalancesNode {
    currency: String,
    /// Released and free: what a payout may take now.
    available: MoneyNode,
    /// Captured, waiting for release. Below zero when refunds after release took more than
    /// was waiting: the seller owes it, and it is held back from payouts.
    pending: MoneyNode,
    /// Held by a rolling reserve.
    reserved: MoneyNode,
    /// The part of `available` an instant payout may take.
    instant_available: MoneyNode,
    /// Held by payouts on their way to the bank.
    in_transit: MoneyNode,
    /// What a payout may take now: `available`, less what the seller owes.
    payable: MoneyNode,
}

/// When and how much the seller is paid out.
#[derive(SimpleObject)]
pub struct PayoutScheduleNode {
    currency: String,
    /// `manual`, `daily`, `weekly:<weekday>` (e.g. `weekly:friday`) or `monthly:<day>` (1 to
    /// 31; 29 to 31 fall on the last day of shorter months).
    interval: String,
    /// Business days funds wait after capture before they are released, at least the
    /// country's own delay.
    delay_days: i32,
    /// The smallest scheduled payout.
    minimum: MoneyNode,
    /// Set after a payout failed for a reason in the bank details, until the seller
    /// verifies an account in this currency.
    paused: bool,
    /// The next local date a scheduled payout runs (`YYYY-MM-DD`), if any.
    next_payout_on: Option<String>,
}

/// One ledger transfer behind a payout.
#[derive(SimpleObject)]
pub struct PayoutEntryNode {
    transfer_id: ID,
    /// `pending` (the hold), `fee`, `post` and `bank` (paid), `void` and `fee_back` (failed
    /// or canceled), `bank_back` and `post_back` (returned).
    step: String,
    amount: MoneyNode,
    at: String,
}

/// A payout of the signed-in seller.
pub struct PayoutNode(Payout);

#[Object(name = "Payout")]
impl PayoutNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// `standard` or `instant`.
    async fn kind(&self) -> &str {
        self.0.kind.as_str()
    }

    /// What reaches the bank account.
    async fn amount(&self) -> MoneyNode {
        self.0.amount.into()
    }

    /// An instant payout's fee.
    async fn fee(&self) -> Option<MoneyNode> {
        self.0.fee.map(MoneyNode::from)
    }

    /// `pending`, `in_transit`, `paid`, `failed`, `canceled` or `returned`.
    async fn state(&self) -> &str {
        self.0.state.as_str()
    }

    /// Why it failed or came back, e.g. `invalid_account_number`.
    async fn failure_code(&self) -> Option<&str> {
        match self.0.state {
            PayoutState::Failed(code) | PayoutState::Returned(code) => Some(code.as_str()),
            _ => None,
        }
    }

    /// Why the platform canceled it, e.g. `insufficient_balance`.
    async fn canceled_reason(&self) -> Option<&str> {
        self.0.canceled_reason.as_deref()
    }

    async fn bank_account_id(&self) -> ID {
        ID(self.0.bank_account.to_string())
    }

    /// The rail carrying it, e.g. `sepa_credit`.
    async fn rail(&self) -> &str {
        self.0.rail.as_str()
    }

    /// When the rail expects it to arrive.
    async fn expected_at(&self) -> Option<String> {
        self.0.expected_at.map(instant)
    }

    /// The scheduled run that made it (`YYYY-MM-DD`); none when the seller asked for it.
    async fn scheduled_for(&self) -> Option<String> {
        self.0.scheduled_for.map(|date| date.to_string())
    }

    async fn created_at(&self) -> String {
        instant(self.0.created_at)
    }

    /// The ledger transfers behind it, in the order they happened.
    async fn entries(&self, ctx: &Context<'_>) -> Result<Vec<PayoutEntryNode>> {
        let entries = app(ctx)?
            .payouts
            .payout_entries(&self.0)
            .await
            .map_err(payouts_error)?;
        Ok(entries
            .into_iter()
            .map(|(step, transfer)| PayoutEntryNode {
                transfer_id: ID(transfer.id.to_string()),
                step: step.to_owned(),
                amount: transfer.amount.into(),
                at: instant(transfer.timestamp),
            })
            .collect())
    }
}

/// The signed-in seller's settlement currency and country.
async fn seller_home(
    ctx: &Context<'_>,
    seller: SellerId,
) -> Result<(Currency, bazaar_domain::Country)> {
    let found = app(ctx)?
        .market
        .seller(seller)
        .await
        .map_err(commerce)?
        .ok_or_else(|| error("not_found", "seller not found"))?;
    Ok((found.settlement_currency, found.country))
}

/// The next local date `settings` pays out in `country`; none for a manual schedule or a
/// country without a calendar (its payouts are refused when they are made, with the
/// calendar's error).
pub fn next_payout_on(
    app: &App,
    settings: &PayoutSettings,
    country: bazaar_domain::Country,
) -> Option<bazaar_domain::fx::calendar::Date> {
    BusinessCalendar::for_country(country)
        .ok()
        .zip(Zone::of_country(country).ok())
        .and_then(|(calendar, zone)| {
            let today = zone.local(app.now()).ok()?.0;
            settings
                .schedule
                .next_payout_on_or_after(&calendar, today)
                .ok()
                .flatten()
        })
}

fn schedule_node(
    app: &App,
    settings: &PayoutSettings,
    country: bazaar_domain::Country,
) -> PayoutScheduleNode {
    let schedule = settings.schedule;
    let next = next_payout_on(app, settings, country);
    PayoutScheduleNode {
        currency: schedule.currency().code().to_owned(),
        interval: schedule.interval().to_string(),
        delay_days: i32::try_from(schedule.delay_days()).unwrap_or(i32::MAX),
        minimum: schedule.minimum().into(),
        paused: settings.paused,
        next_payout_on: next.map(|date| date.to_string()),
    }
}

/// Payout queries.
#[derive(Default)]
pub struct PayoutQuery;

#[Object]
impl PayoutQuery {
    /// The signed-in seller's balances by type: its settlement currency first, then every
    /// other currency it holds a balance in (after a conversion).
    async fn payout_balances(&self, ctx: &Context<'_>) -> Result<Vec<PayoutBalancesNode>> {
        let seller = seller(ctx)?;
        let (home, _) = seller_home(ctx, seller).await?;
        let app = app(ctx)?;
        let service = &app.payouts;
        let currencies = app
            .seller_currencies(seller, home)
            .await
            .map_err(payouts_error)?;
        let mut nodes = Vec::new();
        for currency in currencies {
            let balances = service
                .balances(seller, currency)
                .await
                .map_err(payouts_error)?;
            let payable = service
                .payable(seller, currency)
                .await
                .map_err(payouts_error)?;
            nodes.push(PayoutBalancesNode {
                currency: currency.code().to_owned(),
                available: balances.available.into(),
                pending: balances.pending.into(),
                reserved: balances.reserved.into(),
                instant_available: balances.instant_available.into(),
                in_transit: balances.in_transit.into(),
                payable: payable.into(),
            });
        }
        Ok(nodes)
    }

    /// The signed-in seller's payout schedule in its settlement currency.
    async fn payout_schedule(&self, ctx: &Context<'_>) -> Result<PayoutScheduleNode> {
        let seller = seller(ctx)?;
        let (currency, country) = seller_home(ctx, seller).await?;
        let app = app(ctx)?;
        let settings = app
            .payouts
            .settings(seller, currency)
            .await
            .map_err(payouts_error)?;
        Ok(schedule_node(app, &settings, country))
    }

    /// The signed-in seller's payouts, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn payouts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PayoutNode>> {
        let seller = seller(ctx)?;
        let limit = page_size(first)?;
        let after = after.as_deref().map(parse_time_cursor).transpose()?;
        let found = app(ctx)?
            .payouts
            .payouts(seller, after, limit)
            .await
            .map_err(payouts_error)?;
        Ok(page(found, after.is_some(), |payout| {
            (
                time_cursor(payout.created_at, payout.id.as_uuid()),
                PayoutNode(payout.clone()),
            )
        }))
    }

    /// One of the signed-in seller's payouts; another seller's is `null`.
    async fn payout(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PayoutNode>> {
        let seller = seller(ctx)?;
        let id = PayoutId::from_uuid(uuid(&id, "payout id")?);
        let found = app(ctx)?
            .payouts
            .payout(seller, id)
            .await
            .map_err(payouts_error)?;
        Ok(found.map(PayoutNode))
    }
}

/// Payout mutations.
#[derive(Default)]
pub struct PayoutMutation;

#[Object]
impl PayoutMutation {
    /// Sets the signed-in seller's payout schedule in its settlement currency: `interval`
    /// as `payoutSchedule` shows it, a delay of 0 to 30 business days, and the smallest
    /// scheduled payout as a decimal string (default 0).
    async fn set_payout_schedule(
        &self,
        ctx: &Context<'_>,
        interval: String,
        delay_days: Option<i32>,
        minimum: Option<String>,
    ) -> Result<PayoutScheduleNode> {
        let seller = seller(ctx)?;
        let (currency, country) = seller_home(ctx, seller).await?;
        let invalid = |e: bazaar_domain::payouts::PayoutError| error(e.code(), e.to_string());
        let interval = Interval::parse(interval.trim()).map_err(invalid)?;
        let delay = u32::try_from(delay_days.unwrap_or(0))
            .map_err(|_| error("invalid_input", "delayDays cannot be negative"))?;
        let minimum = match minimum {
            Some(text) => money(&text, currency)?,
            None => Money::zero(currency),
        };
        let schedule = PayoutSchedule::new(interval, delay, minimum, currency).map_err(invalid)?;
        let app = app(ctx)?;
        let set = app.payouts.set_schedule(seller, schedule, app.now()).await;
        let resource = ("payout_schedule", seller.to_string());
        let who = super::audit_who(ctx);
        crate::audit_trail::after(app, who, "payout_schedule.set", resource, &set).await;
        Ok(schedule_node(app, &set.map_err(payouts_error)?, country))
    }

    /// Pays `amount` (a decimal string in the seller's settlement currency) out of the
    /// signed-in seller's available balance to `bankAccountId` (default: its oldest verified
    /// account in that currency). With `instant`, the payout goes within minutes on the
    /// account's instant rail, for a fee, from `instantAvailable` (settled card funds) and
    /// within a daily limit. `currency` (default: the settlement currency) picks the
    /// balance, for a seller holding another after `convertBalance`. The same
    /// `idempotencyKey` pays once; with another amount or account it is
    /// `idempotency_key_reused`.
    async fn create_payout(
        &self,
        ctx: &Context<'_>,
        amount: String,
        bank_account_id: Option<ID>,
        instant: Option<bool>,
        currency: Option<String>,
        idempotency_key: String,
    ) -> Result<PayoutNode> {
        let seller = seller(ctx)?;
        let (home, country) = seller_home(ctx, seller).await?;
        let currency = match currency {
            Some(code) => super::query::currency(&code)?,
            None => home,
        };
        let bank_account = bank_account_id
            .map(|id| uuid(&id, "bank account id").map(BankAccountId::from_uuid))
            .transpose()?;
        let request = CreatePayout {
            seller,
            country,
            amount: money(&amount, currency)?,
            bank_account,
            instant: instant.unwrap_or(false),
            idempotency_key,
        };
        let app = app(ctx)?;
        let created = app.payouts.create_payout(request, app.now()).await;
        let resource = (
            "payout",
            created
                .as_ref()
                .map(|p| p.id.to_string())
                .unwrap_or_default(),
        );
        let who = super::audit_who(ctx);
        crate::audit_trail::after(app, who, "payout.create", resource, &created).await;
        Ok(PayoutNode(created.map_err(payouts_error)?))
    }

    /// Converts `amount` of the signed-in seller's available balance in its currency into
    /// `to`, at the current mid rate less the platform's spread, so that it can be paid out
    /// to an account in `to` (`createPayout(currency: to)`). More than `payable` is
    /// `insufficient_balance`; the same `idempotencyKey` converts once.
    async fn convert_balance(
        &self,
        ctx: &Context<'_>,
        amount: String,
        from: String,
        to: String,
        idempotency_key: String,
    ) -> Result<BalanceConversionNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let from = super::query::currency(&from)?;
        let to = super::query::currency(&to)?;
        let source = money(&amount, from)?;
        let fx = |e: bazaar_domain::fx::FxError| error(e.code(), e.to_string());
        let rate = app.market.rates().quote(from, to, app.now()).map_err(fx)?;
        let conversion =
            bazaar_domain::fx::convert(source, &rate, app.market.spread()).map_err(fx)?;
        app.payouts
            .convert_balance(bazaar_domain::payouts::ConvertBalance {
                seller,
                conversion: conversion.clone(),
                idempotency_key,
            })
            .await
            .map_err(payouts_error)?;
        Ok(BalanceConversionNode {
            source: conversion.source.into(),
            converted: conversion.client_value.into(),
            spread: conversion.spread_value.into(),
            rate: conversion.rate.mid.to_string(),
            client_rate: conversion.client_rate.to_string(),
        })
    }
}

/// A balance conversion: what left, what arrived, what the platform kept.
#[derive(SimpleObject)]
pub struct BalanceConversionNode {
    /// Taken from the balance in the source currency.
    source: MoneyNode,
    /// Added to the balance in the target currency.
    converted: MoneyNode,
    /// The platform's spread, in the target currency.
    spread: MoneyNode,
    /// The mid-market rate used.
    rate: String,
    /// The rate applied: mid less the spread.
    client_rate: String,
}
