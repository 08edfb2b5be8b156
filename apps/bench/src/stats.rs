//! Throughput and latency percentiles from raw samples, in integers.

use std::time::Duration;

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub operations: u64,
    pub per_second: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
}

pub fn summarize(mut latencies_us: Vec<u64>, elapsed: Duration, errors: u64) -> Summary {
    latencies_us.sort_unstable();
    let operations = u64::try_from(latencies_us.len()).unwrap_or(u64::MAX);
    let elapsed_us = u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let per_second = u64::try_from(
        u128::from(operations)
            .saturating_mul(1_000_000)
            .checked_div(u128::from(elapsed_us))
            .unwrap_or(0),
    )
    .unwrap_or(u64::MAX);
    Summary {
        operations,
        per_second,
        p50_us: percentile(&latencies_us, 50),
        p99_us: percentile(&latencies_us, 99),
        errors,
    }
}

/// The `pct`th percentile of sorted samples (nearest rank).
pub(crate) fn percentile(sorted: &[u64], pct: usize) -> u64 {
    let rank = sorted
        .len()
        .saturating_mul(pct)
        .div_ceil(100)
        .saturating_sub(1);
    sorted.get(rank).copied().unwrap_or(0)
}

/// Microseconds as milliseconds with two decimals, for printing.
pub fn ms(us: u64) -> String {
    format!("{}.{:02}", us / 1000, (us % 1000) / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        let summary = summarize(samples, Duration::from_secs(2), 0);
        assert_eq!(summary.operations, 100);
        assert_eq!(summary.per_second, 50);
        assert_eq!(summary.p50_us, 50);
        assert_eq!(summary.p99_us, 99);
        assert_eq!(ms(12_345), "12.34");
        assert_eq!(summarize(Vec::new(), Duration::ZERO, 0).p99_us, 0);
    }
}
