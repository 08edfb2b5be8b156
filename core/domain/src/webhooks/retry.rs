//! When a failed delivery is tried again, and what a response means.

use std::time::Duration;

use bazaar_ledger::Timestamp;

/// When a failed delivery is tried again: exponential back-off from `first`, each delay at
/// most `cap`, no attempt later than `window` after the first one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RetrySchedule {
    /// The nominal delay after the first failed attempt.
    pub first: Duration,
    /// The largest nominal delay.
    pub cap: Duration,
    /// How long after the first attempt retries stop.
    pub window: Duration,
}

impl Default for RetrySchedule {
    /// 30 seconds, doubling up to 6 hours, for 3 days.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(30),
            cap: Duration::from_secs(6 * 3600),
            window: Duration::from_secs(72 * 3600),
        }
    }
}

/// The duration of `nanos` nanoseconds, if it fits.
fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos.checked_div(NANOS_PER_SEC)?).ok()?;
    let subsec = u32::try_from(nanos.checked_rem(NANOS_PER_SEC)?).ok()?;
    Some(Duration::new(secs, subsec))
}

impl RetrySchedule {
    /// The wait after failed attempt number `attempt` (1 for the first; 0 counts as 1).
    ///
    /// The nominal delay is `first * 2^(attempt - 1)`, at most `cap`. Half of it is fixed
    /// and `jitter_permille / 1000` (at most 1000) of the other half is added ("equal
    /// jitter"), so the result is between half the nominal delay and all of it. The caller
    /// draws `jitter_permille` at random for each attempt.
    pub fn delay(&self, attempt: u32, jitter_permille: u16) -> Duration {
        let exponent = attempt.max(1).saturating_sub(1);
        let nominal = match 2_u32
            .checked_pow(exponent)
            .and_then(|factor| self.first.checked_mul(factor))
        {
            Some(delay) => delay.min(self.cap),
            None if self.first.is_zero() => Duration::ZERO,
            None => self.cap,
        };
        let half = nominal.checked_div(2).unwrap_or_default();
        let fixed = nominal.saturating_sub(half);
        let permille = u128::from(jitter_permille.min(1000));
        let jitter = half
            .as_nanos()
            .checked_mul(permille)
            .and_then(|scaled| scaled.checked_div(1000))
            .and_then(duration_from_nanos)
            .unwrap_or(half);
        fixed.saturating_add(jitter)
    }

    /// When to try again after `attempts_made` failed attempts, the first of which was at
    /// `first_attempt_at`: `now` plus [`delay`](Self::delay)`(attempts_made, ..)`, or `None`
    /// when that is later than `first_attempt_at + window` and the delivery is given up.
    pub fn next_attempt(
        &self,
        first_attempt_at: Timestamp,
        now: Timestamp,
        attempts_made: u32,
        jitter_permille: u16,
    ) -> Option<Timestamp> {
        let at = now.saturating_add(self.delay(attempts_made, jitter_permille));
        (at <= first_attempt_at.saturating_add(self.window)).then_some(at)
    }
}

/// What one delivery attempt's result means.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AttemptOutcome {
    /// The endpoint took the event; no more attempts.
    Delivered,
    /// Try again on the [`RetrySchedule`].
    Retry,
    /// The endpoint refused the event; no more attempts.
    Reject,
}

/// Classifies an attempt by its HTTP status, `None` meaning no response (network error or
/// timeout): 2xx is delivered; no response, 429 and 5xx are retried; anything else
/// (1xx, redirects, other 4xx) is rejected. Redirects are not followed.
pub fn classify(status: Option<u16>) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        None | Some(429 | 500..=599) => AttemptOutcome::Retry,
        Some(_) => AttemptOutcome::Reject,
    }
}
