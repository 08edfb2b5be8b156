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

/// Runs `op` from `tasks` tasks until `seconds` have passed, each call numbered (task `t`
/// calls with `t`, `t + 256`, `t + 512`, ...); answers the latency of each call that
/// succeeded in microseconds, how many failed, and the time taken.
pub async fn drive<Op, Fut>(
    tasks: u32,
    seconds: u32,
    op: Op,
) -> Result<(Vec<u64>, u64, Duration), String>
where
    Op: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(u64::from(seconds));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut n) = (Vec::new(), 0_u64, u64::from(task));
            while std::time::Instant::now() < deadline {
                let at = std::time::Instant::now();
                if op(n).await {
                    latencies.push(u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX));
                } else {
                    errors += 1;
                }
                n += 256;
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for handle in handles {
        let (mut some, failed) = handle.await.map_err(|e| format!("task: {e}"))?;
        latencies.append(&mut some);
        errors += failed;
    }
    Ok((latencies, errors, started.elapsed()))
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
