//! The ledger benchmark: a naive one-transaction-per-sale ledger against Bazaar's group-commit
//! posting engine, on the same PostgreSQL and the same workload.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bazaar_ledger::{
    AccountCode, AccountId, BalanceConstraint, Currency, LedgerStore, Metadata, Money, NewAccount,
    Owner, RequestKind, Side, TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use rand::Rng;
use uuid::Uuid;

use crate::stats::{self, Summary};

const SELLERS: u128 = 100_000;
const BUYERS: u128 = 50_000;
const SELLER_BASE: u128 = 0x5E11_0000_0000;
const BUYER_BASE: u128 = 0xB0B0_0000_0000;
const COMMISSION: u128 = 0xC0_3315_5100;
const FUNDING: u128 = 0xF0_0D00;
/// What every buyer starts with: 1,000,000.00 EUR.
const BUYER_FUNDS: i64 = 100_000_000;
/// PostgreSQL allows 100 connections here; the naive baseline keeps some for everyone else.
const NAIVE_CONNECTIONS_MAX: usize = 80;

#[derive(Debug)]
pub struct Options {
    seconds: u64,
    submitters: Vec<usize>,
    batch_max: usize,
    batch_wait_us: u64,
    skip_naive: bool,
    /// Whether the engine commits groups to its journal (the default) or straight to the
    /// ledger's tables (`--tables`).
    journal: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            seconds: 20,
            submitters: vec![1, 8, 64, 256],
            batch_max: 1024,
            batch_wait_us: 0,
            skip_naive: false,
            journal: true,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |text: &String| {
                text.parse::<u64>()
                    .map_err(|_| format!("{flag}: {text:?} is not a number"))
            };
            match flag.as_str() {
                "--seconds" => options.seconds = number(value()?)?.max(1),
                "--batch-max" => {
                    options.batch_max = usize::try_from(number(value()?)?.max(1))
                        .map_err(|_| "--batch-max is too large".to_owned())?;
                }
                "--batch-wait-us" => options.batch_wait_us = number(value()?)?,
                "--skip-naive" => options.skip_naive = true,
                "--tables" => options.journal = false,
                "--submitters" => {
                    options.submitters = value()?
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse::<usize>()
                                .map_err(|_| format!("bad submitter count {n:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                    if options.submitters.is_empty() || options.submitters.contains(&0) {
                        return Err("--submitters needs positive counts".to_owned());
                    }
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(options)
    }
}

fn database_url() -> String {
    std::env::var("BAZAAR_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/bazaar_bench".to_owned())
}

fn fail(what: &str) -> impl Fn(diesel::result::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// Drops and recreates the database `url` names, then migrates it; the connection to it.
pub(crate) fn recreate_database(url: &str) -> Result<PgConnection, String> {
    bazaar_schema::database::recreate_database(url)
        .map_err(|error| format!("recreate the benchmark database: {error}"))
}

/// Drops and recreates the benchmark database, then migrates it and adds the naive tables.
fn prepare_database(url: &str) -> Result<(), String> {
    let mut conn = recreate_database(url)?;
    // raw SQL: DDL (CREATE TABLE) for the benchmark's own naive table
    sql_query("CREATE TABLE naive_accounts (id UUID PRIMARY KEY, balance BIGINT NOT NULL)")
        .execute(&mut conn)
        .map_err(fail("create naive_accounts"))?;
    // raw SQL: DDL (CREATE TABLE) for the benchmark's own naive table
    sql_query(
        "CREATE TABLE naive_transfers (id UUID PRIMARY KEY, debit_account_id UUID NOT NULL, \
         credit_account_id UUID NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut conn)
    .map_err(fail("create naive_transfers"))?;
    let ids: Vec<Uuid> = (0..SELLERS)
        .map(|i| SELLER_BASE + i)
        .chain((0..BUYERS).map(|i| BUYER_BASE + i))
        .chain([COMMISSION])
        .map(Uuid::from_u128)
        .collect();
    let balances: Vec<i64> = ids
        .iter()
        .map(|id| {
            if id.as_u128() >= BUYER_BASE && id.as_u128() < BUYER_BASE + BUYERS {
                BUYER_FUNDS
            } else {
                0
            }
        })
        .collect();
    // raw SQL: INSERT ... SELECT FROM unnest into naive_accounts, which no table! declares
    sql_query(
        "INSERT INTO naive_accounts (id, balance) SELECT * FROM unnest($1::uuid[], $2::int8[])",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&balances)
    .execute(&mut conn)
    .map_err(fail("fill naive_accounts"))?;
    Ok(())
}

/// A sale: its amount, the seller's 90% and the platform's 10%.
fn sale(rng: &mut impl Rng) -> (u128, u128, i64, i64) {
    let buyer = BUYER_BASE + rng.random_range(0..BUYERS);
    let seller = SELLER_BASE + rng.random_range(0..SELLERS);
    let amount = rng.random_range(100..=10_000_i64);
    let commission = amount / 10;
    (buyer, seller, amount - commission, commission)
}

/// One transaction per sale: insert the transfer rows, then update the buyer's, the seller's
/// and the shared commission account's balances, and commit.
fn run_naive(
    url: &str,
    run: u128,
    submitters: usize,
    seconds: u64,
) -> Result<(Summary, usize), String> {
    let clients = submitters.min(NAIVE_CONNECTIONS_MAX);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut threads = Vec::new();
    for client in 0..clients {
        let url = url.to_owned();
        threads.push(std::thread::spawn(move || -> Result<(Vec<u64>, u64), String> {
            let mut conn = PgConnection::establish(&url).map_err(|error| format!("{error}"))?;
            let mut rng = rand::rng();
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let mut n: u128 = 0;
            while Instant::now() < deadline {
                let (buyer, seller, to_seller, commission) = sale(&mut rng);
                n += 1;
                let id = |leg: u128| Uuid::from_u128((1 << 127) | (run << 112) | (u128::try_from(client).unwrap_or(0) << 80) | (n << 8) | leg);
                let begun = Instant::now();
                let result = conn.transaction::<_, diesel::result::Error, _>(|tx| {
                    // raw SQL: naive_transfers is the benchmark's own table; no table! declares it
                    sql_query(
                        "INSERT INTO naive_transfers (id, debit_account_id, credit_account_id, amount) \
                         VALUES ($1, $3, $4, $5), ($2, $3, $6, $7)",
                    )
                    .bind::<SqlUuid, _>(id(1))
                    .bind::<SqlUuid, _>(id(2))
                    .bind::<SqlUuid, _>(Uuid::from_u128(buyer))
                    .bind::<SqlUuid, _>(Uuid::from_u128(seller))
                    .bind::<BigInt, _>(to_seller)
                    .bind::<SqlUuid, _>(Uuid::from_u128(COMMISSION))
                    .bind::<BigInt, _>(commission)
                    .execute(tx)?;
                    for (account, delta) in [
                        (buyer, -(to_seller + commission)),
                        (seller, to_seller),
                        (COMMISSION, commission),
                    ] {
                        // raw SQL: naive_accounts is the bench's own table; no table! declares it
                        sql_query("UPDATE naive_accounts SET balance = balance + $1 WHERE id = $2")
                            .bind::<BigInt, _>(delta)
                            .bind::<SqlUuid, _>(Uuid::from_u128(account))
                            .execute(tx)?;
                    }
                    Ok(())
                });
                match result {
                    Ok(()) => latencies.push(u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Err(_) => errors += 1,
                }
            }
            Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (mut samples, failed) = thread
            .join()
            .map_err(|_| "a naive client thread died".to_owned())??;
        latencies.append(&mut samples);
        errors += failed;
    }
    Ok((
        stats::summarize(latencies, started.elapsed(), errors),
        clients,
    ))
}

fn account(id: u128, code: &str, constraint: BalanceConstraint) -> Result<NewAccount, String> {
    Ok(NewAccount {
        id: AccountId::from_u128(id),
        currency: Currency::EUR,
        code: AccountCode::new(code).map_err(|e| e.to_string())?,
        owner: Owner::platform(),
        normal_side: Side::Credit,
        constraint,
    })
}

async fn prepare_engine(engine: &PostgresLedger) -> Result<(), String> {
    let held = BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 };
    let mut accounts = vec![
        account(
            COMMISSION,
            "revenue_commission",
            BalanceConstraint::Unconstrained,
        )?,
        account(FUNDING, "bank", BalanceConstraint::Unconstrained)?,
    ];
    for i in 0..SELLERS {
        accounts.push(account(SELLER_BASE + i, "seller_pending", held)?);
    }
    for i in 0..BUYERS {
        accounts.push(account(BUYER_BASE + i, "buyer_funds", held)?);
    }
    for chunk in accounts.chunks(10_000) {
        let results = engine
            .create_accounts(chunk.to_vec())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(error) = results.iter().find_map(|r| r.as_ref().err()) {
            return Err(format!("opening accounts: {error}"));
        }
    }
    let buyers: Vec<u128> = (0..BUYERS).map(|i| BUYER_BASE + i).collect();
    for (chunk_index, chunk) in buyers.chunks(bazaar_ledger::BATCH_LEGS_MAX).enumerate() {
        let batch = chunk
            .iter()
            .map(|buyer| TransferRequest {
                id: TransferId::from_u128(
                    (3 << 120)
                        | (u128::try_from(chunk_index).unwrap_or(0) << 32)
                        | (buyer - BUYER_BASE),
                ),
                kind: RequestKind::Direct {
                    debit_account_id: AccountId::from_u128(FUNDING),
                    credit_account_id: AccountId::from_u128(*buyer),
                    amount: Money::from_minor(BUYER_FUNDS, Currency::EUR),
                },
                metadata: Metadata::new(),
            })
            .collect();
        engine
            .submit(batch)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("funding buyers: {e}"))?;
    }
    Ok(())
}

async fn run_engine(
    engine: &PostgresLedger,
    run: u128,
    submitters: usize,
    seconds: u64,
) -> Result<(Summary, u64), String> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let rejected = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for submitter in 0..submitters {
        let engine = engine.clone();
        let rejected = rejected.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            let mut n: u128 = 0;
            while Instant::now() < deadline {
                let (buyer, seller, to_seller, commission) = sale(&mut rand::rng());
                n += 1;
                let id = |leg: u128| {
                    TransferId::from_u128(
                        (run << 112)
                            | (u128::try_from(submitter).unwrap_or(0) << 80)
                            | (n << 8)
                            | leg,
                    )
                };
                let eur = |minor| Money::from_minor(minor, Currency::EUR);
                let batch = vec![
                    TransferRequest {
                        id: id(1),
                        kind: RequestKind::Direct {
                            debit_account_id: AccountId::from_u128(buyer),
                            credit_account_id: AccountId::from_u128(seller),
                            amount: eur(to_seller),
                        },
                        metadata: Metadata::new(),
                    },
                    TransferRequest {
                        id: id(2),
                        kind: RequestKind::Direct {
                            debit_account_id: AccountId::from_u128(buyer),
                            credit_account_id: AccountId::from_u128(COMMISSION),
                            amount: eur(commission),
                        },
                        metadata: Metadata::new(),
                    },
                ];
                let begun = Instant::now();
                match engine.submit(batch).await {
                    Ok(Ok(_)) => latencies
                        .push(u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Ok(Err(_)) => {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut samples, failed) = task.await.map_err(|e| e.to_string())?;
        latencies.append(&mut samples);
        errors += failed;
    }
    Ok((
        stats::summarize(latencies, started.elapsed(), errors),
        rejected.load(Ordering::Relaxed),
    ))
}

pub fn run(options: Options) -> Result<(), String> {
    let url = database_url();
    println!(
        "preparing {} sellers, {} buyers and the commission account",
        SELLERS, BUYERS
    );
    prepare_database(&url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut config = LedgerConfig::new(url.clone());
        config.batch_max = options.batch_max;
        config.batch_wait = Duration::from_micros(options.batch_wait_us);
        config.journal = options.journal;
        println!("engine commits to {}", if options.journal { "its journal" } else { "the tables" });
        let engine = PostgresLedger::connect(config, Arc::new(SystemClock)).await.map_err(|e| e.to_string())?;
        prepare_engine(&engine).await?;
        let mut results = Vec::new();
        for (run, &submitters) in options.submitters.iter().enumerate() {
            let naive = if options.skip_naive {
                None
            } else {
                let url = url.clone();
                let seconds = options.seconds;
                let (summary, clients) = tokio::task::spawn_blocking(move || run_naive(&url, u128::try_from(run).unwrap_or(0), submitters, seconds))
                    .await
                    .map_err(|e| e.to_string())??;
                println!(
                    "naive  submitters={submitters} clients={clients} sales={} sales_per_s={} p50_ms={} p99_ms={} errors={}",
                    summary.operations, summary.per_second, stats::ms(summary.p50_us), stats::ms(summary.p99_us), summary.errors
                );
                Some(summary)
            };
            let (summary, rejected) = run_engine(&engine, u128::try_from(run).unwrap_or(0) + 1, submitters, options.seconds).await?;
            // The tables catch up with the journal before the next run (or the naive one).
            let begun = Instant::now();
            engine.caught_up().await.map_err(|e| e.to_string())?;
            println!(
                "engine submitters={submitters} sales={} sales_per_s={} p50_ms={} p99_ms={} rejected={rejected} errors={} tables_caught_up_ms={}",
                summary.operations, summary.per_second, stats::ms(summary.p50_us), stats::ms(summary.p99_us), summary.errors, begun.elapsed().as_millis()
            );
            results.push((submitters, naive, summary));
        }
        let headline = results
            .iter()
            .find(|(submitters, _, _)| *submitters == 64)
            .or_else(|| results.last())
            .ok_or_else(|| "nothing was measured".to_owned())?;
        let (submitters, naive, engine_summary) = headline;
        let naive_tps = naive.map_or(0, |n| n.per_second);
        let ratio_tenths = (engine_summary.per_second * 10).checked_div(naive_tps).unwrap_or(0);
        println!(
            "ledger: engine_tps={} naive_tps={} ratio={}.{} p99_ms={} submitters={}",
            engine_summary.per_second,
            naive_tps,
            ratio_tenths / 10,
            ratio_tenths % 10,
            stats::ms(engine_summary.p99_us),
            submitters
        );
        Ok(())
    })
}
