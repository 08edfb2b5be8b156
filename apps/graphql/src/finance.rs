//! Finance's background work against the sandbox bank: each settled provider report is
//! imported and its payouts credited to the platform's account; once a day ends, the bank's
//! statement of every account is imported and that day is reconciled three ways, and what
//! the ledger lacks (the bank's charges, the provider's fee rows) is booked.

use std::sync::atomic::Ordering;

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payments::{JournalType, parse_settlement_report};
use bazaar_domain::reconciliation::{ImportOutcome, RunMode, ThreeWayRules};
use bazaar_payouts::SandboxBank;

use crate::state::App;

/// The last microsecond of `day` (UTC): a report "at" a day includes all of it.
pub fn end_of_day(day: Date) -> bazaar_ledger::Timestamp {
    let micros = day
        .add_days(1)
        .and_then(Date::days_since_epoch)
        .and_then(|d| d.checked_mul(bazaar_domain::time::MICROS_PER_DAY))
        .and_then(|m| m.checked_sub(1))
        .unwrap_or(i64::MAX);
    bazaar_ledger::Timestamp::from_micros(micros)
}

/// The instants bounding the days `from` to `to` (UTC, both included): `from` at 00:00 and
/// the midnight after `to`. `None` outside the calendar's range.
pub fn days_span(
    from: Date,
    to: Date,
) -> Option<(bazaar_ledger::Timestamp, bazaar_ledger::Timestamp)> {
    let midnight = |day: Date| {
        day.days_since_epoch()
            .and_then(|d| d.checked_mul(bazaar_domain::time::MICROS_PER_DAY))
            .map(bazaar_ledger::Timestamp::from_micros)
    };
    Some((midnight(from)?, midnight(to.add_days(1)?)?))
}

/// The longest period one run on request may cover, in days.
pub const RUN_DAYS_MAX: i64 = 31;

/// Whether `from` to `to` is a period a run on request may cover: `to` from `from` to 30
/// days after it.
pub fn run_period_ok(from: Date, to: Date) -> bool {
    to.days_since_epoch()
        .zip(from.days_since_epoch())
        .and_then(|(t, f)| t.checked_sub(f))
        .is_some_and(|days| (0..RUN_DAYS_MAX).contains(&days))
}

/// A `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse_iso(text.trim())
}

/// Imports a settled provider report for finance and credits the sandbox bank with what each
/// of its currencies paid out. Failures are logged; the report is imported again later
/// (imports are idempotent), the bank's credit is recorded once per batch and currency.
pub async fn provider_report(app: &App, provider: &str, batch: u32, report: &str) {
    let now = app.now();
    let name = format!("{provider}-batch-{batch}.csv");
    match app
        .reconciliation
        .import_settlement_report(provider, &name, report, now)
        .await
    {
        Ok(ImportOutcome::Imported { entries }) => {
            tracing::info!(
                batch,
                rows = entries,
                "provider report imported for finance"
            );
        }
        Ok(ImportOutcome::AlreadyImported) => {}
        Err(error) => {
            tracing::warn!(batch, code = error.code(), %error, "importing a provider report failed");
        }
    }
    let Some(bank) = &app.bank else {
        return;
    };
    let Ok(rows) = parse_settlement_report(report) else {
        return;
    };
    for row in rows
        .iter()
        .filter(|r| r.journal == JournalType::MerchantPayout)
    {
        let Ok(paid) = row.net.checked_neg() else {
            continue;
        };
        if let Err(error) = bank
            .receive_provider_payout(paid.currency(), paid, now, provider, batch)
            .await
        {
            tracing::warn!(
                batch,
                code = error.code(),
                "crediting the sandbox bank failed"
            );
        }
    }
}

/// Once a UTC day has ended: imports the sandbox bank's statements of that day, reconciles
/// each account's day three ways (stored), and books what the run found to book.
pub async fn daily_statements(app: &App) {
    let Some(bank) = &app.bank else {
        return;
    };
    let Some(yesterday) = Date::of_instant(app.now()).and_then(|today| today.add_days(-1)) else {
        return;
    };
    let Some(day) = yesterday.days_since_epoch() else {
        return;
    };
    if app.statements_through.load(Ordering::Relaxed) >= day {
        return;
    }
    let currencies = match bank.currencies_with_entries().await {
        Ok(currencies) => currencies,
        Err(error) => {
            tracing::warn!(
                code = error.code(),
                "listing the sandbox bank's accounts failed"
            );
            return;
        }
    };
    for currency in currencies {
        if let Err(code) = reconcile_day(app, bank, currency, yesterday).await {
            tracing::warn!(currency = currency.code(), %yesterday, code, "the bank's day was not reconciled; it is tried again");
            return;
        }
    }
    app.statements_through.store(day, Ordering::Relaxed);
}

async fn reconcile_day(
    app: &App,
    bank: &SandboxBank,
    currency: bazaar_money::Currency,
    day: Date,
) -> Result<(), &'static str> {
    let xml = bank
        .statement(currency, day, &format!("{day}T23:59:59"))
        .await
        .map_err(|e| e.code())?;
    let now = app.now();
    let name = format!("statement-{}-{day}.xml", currency.code());
    let account = SandboxBank::account(currency);
    app.reconciliation
        .import_camt053(&name, &xml, now)
        .await
        .map_err(|e| e.code())?;
    let run = app
        .reconciliation
        .run(
            &account,
            currency,
            (day, day),
            &ThreeWayRules::default(),
            RunMode::Store,
            now,
        )
        .await
        .map_err(|e| e.code())?;
    let booked = app
        .reconciliation
        .book(&run.three_way)
        .await
        .map_err(|e| e.code())?;
    let [matched, differences, outside, inside] = run.summary.counts;
    tracing::info!(
        run = %run.summary.id,
        currency = currency.code(),
        %day,
        matched,
        differences,
        unmatched_external = outside,
        unmatched_internal = inside,
        booked,
        "the bank's day reconciled"
    );
    Ok(())
}
