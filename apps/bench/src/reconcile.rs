//! `bench reconcile`: bank entries matched against ledger transfers in memory.
//!
//! Builds `--entries` ledger records (EUR, amounts of 1.00 to 1,000.00, dates over a year,
//! a unique end-to-end reference each) and as many bank entries: the same references, half
//! of them booked a day before or after, one in ten less a fee of 0.01 to 1.00 (what a
//! provider keeps), one in five hundred with no ledger record (bank charges) and one in a
//! thousand ledger records with no bank entry. Two rules: exact amount within a day, then
//! the same with a fee's drift. Prints the buckets, the time matching took, and the process's
//! peak memory.

use std::time::Instant;

use bazaar_domain::reconciliation::{Record, ReferenceRule, Rule, Strategy, reconcile};
use bazaar_money::{Currency, Money};

pub struct Options {
    entries: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self { entries: 1_000_000 };
        for (flag, number) in crate::numeric_flags(args)? {
            match flag {
                "--entries" => options.entries = number.max(1),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(options)
    }
}

/// splitmix64: a fixed sequence, so every run reconciles the same data.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> i64 {
        i64::try_from(self.next() % bound).unwrap_or(0)
    }
}

/// The peak resident memory of this process, in MiB (Linux's `VmHWM`).
fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn data(entries: u32) -> (Vec<Record>, Vec<Record>) {
    let mut random = Sequence(20_261_201);
    let count = usize::try_from(entries).unwrap_or(0);
    let mut ledger = Vec::with_capacity(count);
    let mut bank = Vec::with_capacity(count);
    let first_day = 20_000_i64;
    for n in 0..entries {
        let amount = 100 + random.below(99_901);
        let day = first_day + random.below(365);
        let reference = format!("E2E{n:08}");
        if random.below(1_000) != 0 {
            ledger.push(Record {
                id: format!("t{n}"),
                amount: Money::from_minor(amount, Currency::EUR),
                day,
                reference: Some(reference.clone()),
            });
        }
        let noise = match random.below(4) {
            0 => -1,
            1 => 1,
            _ => 0,
        };
        let fee = if random.below(10) == 0 {
            1 + random.below(100)
        } else {
            0
        };
        let orphan = random.below(500) == 0;
        bank.push(Record {
            id: format!("b{n}"),
            amount: Money::from_minor(amount - fee, Currency::EUR),
            day: day + noise,
            reference: Some(if orphan {
                format!("CHG{n:08}")
            } else {
                reference
            }),
        });
    }
    (bank, ledger)
}

pub fn run(options: Options) -> Result<(), String> {
    let built = Instant::now();
    let (bank, ledger) = data(options.entries);
    println!(
        "built {} bank entries and {} ledger records in {:.1} s",
        bank.len(),
        ledger.len(),
        built.elapsed().as_secs_f64()
    );
    let rules = [
        Rule {
            name: "exact within a day".to_owned(),
            strategy: Strategy::OneToOne,
            amount_drift_minor: 0,
            date_drift_days: 1,
            reference: ReferenceRule::Equal,
        },
        Rule {
            name: "provider fee within a day".to_owned(),
            strategy: Strategy::OneToOne,
            amount_drift_minor: 100,
            date_drift_days: 1,
            reference: ReferenceRule::Equal,
        },
    ];
    let started = Instant::now();
    let result = reconcile(&bank, &ledger, &rules).map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let matched = result.external_matched();
    let total = bank.len().max(1);
    let pct = |n: usize| {
        let per_hundred_thousand = n * 100_000 / total;
        format!(
            "{}.{:03}",
            per_hundred_thousand / 1_000,
            per_hundred_thousand % 1_000
        )
    };
    println!(
        "matched {} exactly, {} with an amount difference; unmatched: {} bank, {} ledger",
        result.matched.len(),
        result.amount_differences.len(),
        result.unmatched_external.len(),
        result.unmatched_internal.len()
    );
    println!(
        "reconcile: entries={} matched_pct={} exact_pct={} seconds={seconds:.2} peak_mib={}",
        bank.len(),
        pct(matched),
        pct(result.matched.len()),
        peak_mib()
    );
    Ok(())
}
