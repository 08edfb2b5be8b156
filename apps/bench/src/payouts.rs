//! The payout run at scale: `cargo run --release -p bench -- payouts [--sellers 100000]
//! [--db-pool 16]`.
//!
//! Recreates the database `BAZAAR_BENCH_PAYOUTS_URL` (default
//! `postgres://postgres@127.0.0.1:5432/bazaar_bench_payouts`), registers the sellers (German,
//! EUR, daily payouts), gives each a released balance on the ledger and a verified SEPA
//! account (details sealed as the store seals them), then times one pass of the payout run on
//! a business day: every seller's release check, its scheduled payout created, its ledger
//! hold posted and the payout handed to the (sandbox) rail. It checks that every seller got
//! exactly one payout in transit for its whole balance, and ends with the summary line
//! `payouts: sellers=N seconds=S`.

use std::sync::Arc;
use std::time::Instant;

use bazaar_domain::chart::{ChartAccount, SellerId};
use bazaar_domain::payouts::{BankAccountId, BankDetails, PayoutState, Payouts};
use bazaar_ledger::{
    LedgerStore, ManualClock, Metadata, RequestKind, Timestamp, TransferId, TransferRequest,
};
use bazaar_money::{Currency, Money};
use bazaar_payouts::SandboxRails;
use bazaar_postgres::{LedgerConfig, PostgresLedger, PostgresPayouts, RetryPolicy, SecretKey};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, Bytea, Text, Uuid as SqlUuid};
use uuid::Uuid;

const SELLER_BASE: u128 = 0x5E11_0000_0000;
/// What each seller has available, in cents.
const BALANCE: i64 = 12_345;
/// Wednesday 11 March 2026, 15:00 UTC: a business day in Germany.
const RUN_AT: i64 = 1_773_241_200_000_000;
const IBAN: &str = "DE89370400440532013000";

/// The benchmark's options.
pub struct Options {
    sellers: u32,
    db_pool: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            sellers: 100_000,
            db_pool: 16,
        };
        for (flag, number) in crate::numeric_flags(args)? {
            match flag {
                "--sellers" => options.sellers = number.max(1),
                "--db-pool" => options.db_pool = number.max(1),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

fn seller(i: u32) -> SellerId {
    SellerId::from_u128(SELLER_BASE + u128::from(i))
}

fn fail<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

/// Sellers and their verified bank accounts, in bulk.
fn insert_sellers(
    conn: &mut PgConnection,
    options: &Options,
    key: &SecretKey,
) -> Result<(), String> {
    let details = BankDetails::Iban {
        iban: IBAN.to_owned(),
    };
    for start in (0..options.sellers).step_by(10_000) {
        let end = start.saturating_add(10_000).min(options.sellers);
        let ids: Vec<Uuid> = (start..end).map(|i| seller(i).as_uuid()).collect();
        let names: Vec<String> = (start..end).map(|i| format!("Shop {i}")).collect();
        // raw SQL: unnest batch insert of the benchmark's sellers
        sql_query(
            "INSERT INTO sellers (id, name, country, home_region, settlement_currency, \
             commission_bps, created_at) \
             SELECT id, name, 'DE', 'eu', 'EUR', 1000, 0 FROM unnest($1, $2) AS s(id, name)",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Text>, _>(&names)
        .execute(conn)
        .map_err(fail("insert sellers"))?;
        let accounts: Vec<Uuid> = (start..end)
            .map(|i| BankAccountId::for_key(seller(i), "main").as_uuid())
            .collect();
        let sealed = accounts
            .iter()
            .map(|id| {
                key.seal(details.to_sealable().as_bytes(), id.as_bytes())
                    .map_err(fail("seal"))
            })
            .collect::<Result<Vec<Vec<u8>>, String>>()?;
        let deposits = accounts
            .iter()
            .map(|id| key.seal(b"12,34", id.as_bytes()).map_err(fail("seal")))
            .collect::<Result<Vec<Vec<u8>>, String>>()?;
        // raw SQL: unnest batch insert of the benchmark's verified bank accounts
        sql_query(
            "INSERT INTO bank_accounts (id, seller_id, currency, rail, kind, masked, holder_name, \
             details_sealed, deposits_sealed, state, failed_attempts, created_at, updated_at, \
             home_region) \
             SELECT id, seller_id, 'EUR', 'sepa_credit', 'iban', $3, 'Shop owner', details, \
             deposits, 'verified', 0, 0, 0, 'eu' \
             FROM unnest($1, $2, $4, $5) AS a(id, seller_id, details, deposits)",
        )
        .bind::<Array<SqlUuid>, _>(&accounts)
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Text, _>(details.masked())
        .bind::<Array<Bytea>, _>(&sealed)
        .bind::<Array<Bytea>, _>(&deposits)
        .execute(conn)
        .map_err(fail("insert bank accounts"))?;
    }
    Ok(())
}

/// Every seller's ledger accounts, and its released balance from the platform's bank.
async fn fund(ledger: &PostgresLedger, options: &Options) -> Result<(), String> {
    let mut accounts = vec![
        ChartAccount::Bank
            .new_account(Currency::EUR)
            .map_err(fail("bank account"))?,
    ];
    for i in 0..options.sellers {
        for account in [
            ChartAccount::SellerPending(seller(i)),
            ChartAccount::SellerAvailable(seller(i)),
            ChartAccount::SellerReserve(seller(i)),
        ] {
            accounts.push(
                account
                    .new_account(Currency::EUR)
                    .map_err(fail("account"))?,
            );
        }
    }
    for chunk in accounts.chunks(10_000) {
        let results = ledger
            .create_accounts(chunk.to_vec())
            .await
            .map_err(fail("open accounts"))?;
        if let Some(error) = results.iter().find_map(|r| r.as_ref().err()) {
            return Err(format!("opening accounts: {error}"));
        }
    }
    let sellers: Vec<u32> = (0..options.sellers).collect();
    for chunk in sellers.chunks(bazaar_ledger::BATCH_LEGS_MAX) {
        let batch = chunk
            .iter()
            .map(|i| TransferRequest {
                id: TransferId::from_u128((7 << 120) | u128::from(*i)),
                kind: RequestKind::Direct {
                    debit_account_id: ChartAccount::Bank.id(Currency::EUR),
                    credit_account_id: ChartAccount::SellerAvailable(seller(*i)).id(Currency::EUR),
                    amount: Money::from_minor(BALANCE, Currency::EUR),
                },
                metadata: Metadata::new(),
            })
            .collect();
        ledger
            .submit(batch)
            .await
            .map_err(fail("fund"))?
            .map_err(fail("fund"))?;
    }
    Ok(())
}

pub fn run(options: Options) -> Result<(), String> {
    let url = std::env::var("BAZAAR_BENCH_PAYOUTS_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/bazaar_bench_payouts".to_owned());
    let mut conn = crate::ledger::recreate_database(&url)?;
    let key = SecretKey::generate();
    let started = Instant::now();
    insert_sellers(&mut conn, &options, &key)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(fail("runtime"))?;
    runtime.block_on(async {
        let clock = Arc::new(ManualClock::new(Timestamp::from_micros(RUN_AT - 3_600_000_000)));
        let ledger = PostgresLedger::connect(LedgerConfig::new(&url), clock.clone())
            .await
            .map_err(fail("ledger"))?;
        fund(&ledger, &options).await?;
        println!(
            "setup: {} sellers with {} available and a verified account in {:.1} s",
            options.sellers,
            Money::from_minor(BALANCE, Currency::EUR),
            started.elapsed().as_secs_f64()
        );
        let payouts = Payouts::new(
            PostgresPayouts::new(&url, options.db_pool, RetryPolicy::default(), key.clone()),
            SandboxRails::new(&url, options.db_pool.div_ceil(2)),
            ledger.clone(),
        );
        let now = Timestamp::from_micros(RUN_AT);
        clock.set(now);
        let timer = Instant::now();
        let pass = payouts.run(500, now).await.map_err(fail("run"))?;
        let elapsed = timer.elapsed();
        let seconds = elapsed.as_secs_f64();
        let per_second = u128::from(pass.sellers) * 1_000 / elapsed.as_millis().max(1);
        println!(
            "run: sellers={} releases={} payouts={} failed={} in {seconds:.1} s ({per_second} sellers/s)",
            pass.sellers, pass.releases, pass.payouts, pass.failed
        );
        check(&payouts, &ledger, &options).await?;
        println!("payouts: sellers={} seconds={seconds:.1}", options.sellers);
        Ok::<_, String>(())
    })?;
    Ok(())
}

/// Every seller has one payout, in transit, for its whole balance; the platform's
/// payouts-in-transit account holds all of them.
async fn check(
    payouts: &Payouts<PostgresPayouts, SandboxRails, PostgresLedger>,
    ledger: &PostgresLedger,
    options: &Options,
) -> Result<(), String> {
    for i in (0..options.sellers).step_by(997) {
        let page = payouts
            .payouts(seller(i), None, 10)
            .await
            .map_err(fail("read payouts"))?;
        let [payout] = page.items.as_slice() else {
            return Err(format!("seller {i} has {} payouts", page.items.len()));
        };
        if payout.state != PayoutState::InTransit || payout.amount.minor() != BALANCE {
            return Err(format!("seller {i}: {payout:?}"));
        }
    }
    let (_, transit) = ledger
        .account(ChartAccount::PayoutsInTransit.id(Currency::EUR))
        .await
        .map_err(fail("read transit"))?
        .ok_or("no payouts in transit")?;
    let expected = i64::from(options.sellers) * BALANCE;
    if transit.credits_pending != expected {
        return Err(format!(
            "in transit {} instead of {expected}",
            transit.credits_pending
        ));
    }
    Ok(())
}
