//! Bazaar's benchmarks. Each prints a line per measurement and ends with one machine-readable
//! summary line.
//!
//! `cargo run --release -p bench -- ledger [--seconds 20] [--submitters 1,8,64,256]
//!     [--batch-max 1024] [--batch-wait-us 0] [--skip-naive] [--tables]`
//!
//! The ledger benchmark recreates the database `BAZAAR_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/bazaar_bench`), opens 100,000 seller accounts, 50,000
//! buyer accounts and one commission account, and runs the same marketplace workload through
//! a naive one-transaction-per-sale ledger and through Bazaar's posting engine: every sale moves
//! an amount from a buyer to a seller (90%) and to the commission account (10%) atomically.
//!
//! `cargo run --release -p bench -- events [--events 200000] [--rate 2000] [--seconds 20]
//!     [--relay-batch 1000] [--db-pool 8]`
//!
//! The events benchmark recreates the database `bazaar_bench_events`, measures how many outbox
//! events per second the relay publishes to RabbitMQ with confirms, then the latency from an
//! event's commit to its webhook at a steady rate (see `events.rs`).
//!
//! `cargo run --release -p bench -- payouts [--sellers 100000] [--db-pool 16]`
//!
//! The payouts benchmark times one pass of the payout run over sellers with released
//! balances and verified bank accounts (see `payouts.rs`).
//!
//! `cargo run --release -p bench -- reconcile [--entries 1000000]`
//!
//! The reconcile benchmark matches bank entries against ledger transfers in memory, with
//! date noise, provider fees and orphans on both sides (see `reconcile.rs`).
//!
//! `cargo run --release -p bench -- audit [--records 10000000] [--seconds 10] [--appenders 16]`
//!
//! The audit benchmark measures appends per second to the audit log's one chain on
//! PostgreSQL, then the time `bazaar-audit verify` takes on an export of `--records` records
//! (see `audit.rs`).
//!
//! `cargo run --release -p bench -- vault [--callers 16] [--seconds 10] [--records 10000000]
//!     [--appenders 16]`
//!
//! The vault benchmark measures tokenizations per second through the card vault's server
//! and channel, then runs the audit benchmark (see `vault.rs`).
#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]
#![expect(
    clippy::arithmetic_side_effects,
    reason = "benchmark bookkeeping on counters that cannot overflow in a run"
)]

mod audit;
mod events;
mod ledger;
mod payouts;
mod reconcile;
mod stats;
mod vault;

use std::process::ExitCode;

/// `--flag N` pairs of whole numbers, in order, for benchmarks whose options are all numbers.
fn numeric_flags(args: &[String]) -> Result<Vec<(&str, u32)>, String> {
    let mut flags = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u32 = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        flags.push((flag.as_str(), number));
    }
    Ok(flags)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((name, rest)) if name == "ledger" => {
            ledger::Options::parse(rest).and_then(ledger::run)
        }
        Some((name, rest)) if name == "events" => {
            events::Options::parse(rest).and_then(events::run)
        }
        Some((name, rest)) if name == "payouts" => {
            payouts::Options::parse(rest).and_then(payouts::run)
        }
        Some((name, rest)) if name == "audit" => audit::Options::parse(rest).and_then(audit::run),
        Some((name, rest)) if name == "vault" => vault::Options::parse(rest).and_then(vault::run),
        Some((name, rest)) if name == "reconcile" => {
            reconcile::Options::parse(rest).and_then(reconcile::run)
        }
        _ => Err(
            "usage: bench ledger [--seconds N] [--submitters 1,8,64,256] [--batch-max N] \
                  [--batch-wait-us N] [--skip-naive] [--tables]\n       \
             bench events [--events N] [--rate R] [--seconds S] [--relay-batch N] [--db-pool N]\n       \
             bench payouts [--sellers N] [--db-pool N]\n       \
             bench reconcile [--entries N]\n       \
             bench audit [--records N] [--seconds S] [--appenders N]\n       \
             bench vault [--callers N] [--seconds S] [--records N] [--appenders N]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
