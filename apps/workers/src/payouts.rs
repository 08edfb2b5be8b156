//! The payouts role: releases captured funds (withholding loan repayments in the same
//! batch), runs every seller's scheduled payouts, drives payouts through the ledger and
//! their rails, applies what the rails report, and services loans (due dates, charge-offs).
//!
//! Any number of processes may run it at once: a scheduled payout's id is derived from the
//! seller, the currency and the seller's local date, so the second worker to reach a seller
//! finds the payout the first created; ledger transfers and rail submissions are idempotent
//! by the payout id; and a payout moves only from the state its mover read.

use std::sync::Arc;
use std::time::Instant;

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{Lending, Policy};
use bazaar_domain::payouts::Payouts;
use bazaar_ledger::Clock;
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{
    LedgerConfig, PostgresLedger, PostgresLending, PostgresPayouts, RetryPolicy, SecretKeys,
    SystemClock,
};
use bazaar_rabbitmq::{backoff, sleep_or_shutdown};
use tokio::sync::watch;

use crate::WorkerConfig;

/// The payouts service as the role runs it: the sandbox rails are the only connector so far.
pub type PayoutService = Payouts<PostgresPayouts, SandboxRails, PostgresLedger, LendingService>;

/// Lending as the role runs it: withholding at release, and the servicing run.
pub type LendingService = Lending<PostgresLending, PostgresLedger>;

/// The lending service on `ledger`.
fn lending(config: &WorkerConfig, ledger: PostgresLedger) -> LendingService {
    Lending::new(
        PostgresLending::new(&config.database_url, config.db_pool, RetryPolicy::default()),
        ledger,
        Policy {
            charge_off_after_days: i64::from(config.loan_charge_off_days),
            ..Policy::default()
        },
    )
}

/// Payouts, rail events and sellers looked at per step.
const BATCH: u32 = 500;

/// Builds the service, retrying until the database and the ledger answer (the API process
/// creates and migrates the database) or `shutdown` turns true.
async fn connect(
    config: &WorkerConfig,
    key: &SecretKeys,
    clock: &Arc<dyn Clock>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(PayoutService, LendingService)> {
    let mut failures = 0_u32;
    loop {
        match PostgresLedger::connect(LedgerConfig::new(&config.database_url), clock.clone()).await
        {
            Ok(ledger) => {
                let payouts = Payouts::new(
                    PostgresPayouts::new(
                        &config.database_url,
                        config.db_pool,
                        RetryPolicy::default(),
                        key.clone(),
                    ),
                    SandboxRails::new(&config.database_url, 2),
                    ledger.clone(),
                )
                .withholding(lending(config, ledger.clone()));
                return Some((payouts, lending(config, ledger)));
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "payouts: the ledger is not reachable yet");
                if sleep_or_shutdown(backoff(failures), shutdown).await {
                    return None;
                }
            }
        }
    }
}

/// Runs the role on the system clock (see [`run_on`]).
pub async fn run(config: WorkerConfig, key: SecretKeys, shutdown: watch::Receiver<bool>) {
    run_on(config, key, Arc::new(SystemClock), shutdown).await;
}

/// Runs the role until `shutdown` turns true, reading the time from `clock`: every
/// `payout_poll`, the rails' events and the payouts with work left; every
/// `payout_run_every`, a release and payout pass over every seller.
pub async fn run_on(
    config: WorkerConfig,
    key: SecretKeys,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some((service, loans)) = connect(&config, &key, &clock, &mut shutdown).await else {
        return;
    };
    let mut last_run: Option<Instant> = None;
    loop {
        let now = clock.now();
        match service.rail_events(BATCH, now).await {
            Ok(0) => {}
            Ok(moved) => tracing::info!(moved, "payouts: rail events applied"),
            Err(error) => tracing::warn!(%error, code = error.code(), "payouts: rail events"),
        }
        if let Err(error) = service.resume(BATCH, now).await {
            tracing::warn!(%error, code = error.code(), "payouts: resuming payouts");
        }
        if last_run.is_none_or(|at| at.elapsed() >= config.payout_run_every) {
            let started = Instant::now();
            match service.run(BATCH, now).await {
                Ok(pass) => {
                    tracing::info!(
                        sellers = pass.sellers,
                        releases = pass.releases,
                        payouts = pass.payouts,
                        failed = pass.failed,
                        millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "payouts: run pass done"
                    );
                    last_run = Some(Instant::now());
                }
                Err(error) => {
                    tracing::warn!(%error, code = error.code(), "payouts: run pass stopped");
                }
            }
            service_loans(&loans, now).await;
        }
        if sleep_or_shutdown(config.payout_poll, &mut shutdown).await {
            return;
        }
    }
}

/// The loans' servicing run on today's date (UTC): due dates, charge-offs, repayments
/// recorded.
async fn service_loans(loans: &LendingService, now: bazaar_ledger::Timestamp) {
    let Some(today) = Date::of_instant(now) else {
        return;
    };
    match loans.run(BATCH, today, now).await {
        Ok(run) => {
            for (loan, error) in &run.failed {
                tracing::warn!(%loan, %error, code = error.code(), "lending: a loan's look failed");
            }
            if run.due_dates > 0 || run.charged_off > 0 || !run.failed.is_empty() {
                tracing::info!(
                    loans = run.looked,
                    due_dates = run.due_dates,
                    charged_off = run.charged_off,
                    failed = run.failed.len(),
                    "lending: servicing run done"
                );
            }
        }
        Err(error) => tracing::warn!(%error, code = error.code(), "lending: servicing run stopped"),
    }
}
