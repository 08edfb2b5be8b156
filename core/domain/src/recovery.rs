//! The retry rules of work that must never be lost: ledger intents (postings a committed
//! change owes the ledger) and provider notifications. Each failing item is retried on its
//! own with exponential backoff, then parked where finance and operators see it; it never
//! blocks the items behind it and is never deleted.

use bazaar_ledger::Timestamp;

use crate::error::CommerceError;

/// How many times an intent the ledger refuses is tried before it is parked.
pub const INTENT_ATTEMPTS_MAX: u32 = 8;
/// How many failed deliveries of one provider notification Bazaar accepts before it parks
/// the notification (keeping its signed body) and acknowledges it to the provider.
pub const NOTIFICATION_ATTEMPTS_MAX: u32 = 8;
/// The wait after the first failure; it doubles with each further failure.
pub const RETRY_DELAY_SECS_FIRST: u32 = 10;
/// The longest wait between two attempts.
pub const RETRY_DELAY_SECS_MAX: u32 = 60 * 60;

/// What to do with an item after a failed attempt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AfterFailure {
    /// Try again, not before this time.
    RetryAt(Timestamp),
    /// Stop trying: keep it, with its error, for a person to resolve.
    Park,
}

/// The wait after the `attempts`-th failure (1 for the first): 10 s, 20 s, 40 s, ... at
/// most an hour.
pub fn backoff_secs(attempts: u32) -> u32 {
    // Past 20 doublings the cap has long been reached; the shift stays far inside u64.
    let doublings = attempts.saturating_sub(1).min(20);
    let delay = u64::from(RETRY_DELAY_SECS_FIRST) << doublings;
    u32::try_from(delay.min(u64::from(RETRY_DELAY_SECS_MAX))).unwrap_or(RETRY_DELAY_SECS_MAX)
}

/// Whether an error may go away by itself (a backing service did not answer), so that
/// retrying forever is right, rather than parking.
pub fn is_transient(error: &CommerceError) -> bool {
    matches!(error, CommerceError::Unavailable)
}

/// After an intent's `attempts`-th failed posting (this one included): an outage is retried
/// with backoff for as long as it lasts; a refusal is retried with backoff and parked after
/// [`INTENT_ATTEMPTS_MAX`] attempts.
pub fn after_intent_failure(attempts: u32, error: &CommerceError, now: Timestamp) -> AfterFailure {
    if !is_transient(error) && attempts >= INTENT_ATTEMPTS_MAX {
        return AfterFailure::Park;
    }
    AfterFailure::RetryAt(now.saturating_add_secs(backoff_secs(attempts)))
}

/// After a notification's `attempts`-th failed application: the provider redelivers it
/// (with its own backoff) until [`NOTIFICATION_ATTEMPTS_MAX`] failures, then it is parked.
/// An outage never parks: the provider keeps redelivering until Bazaar is back.
pub fn after_notification_failure(
    attempts: u32,
    error: &CommerceError,
    now: Timestamp,
) -> AfterFailure {
    if !is_transient(error) && attempts >= NOTIFICATION_ATTEMPTS_MAX {
        return AfterFailure::Park;
    }
    AfterFailure::RetryAt(now.saturating_add_secs(backoff_secs(attempts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_secs(0), 10);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(2), 20);
        assert_eq!(backoff_secs(4), 80);
        assert_eq!(backoff_secs(10), RETRY_DELAY_SECS_MAX);
        assert_eq!(backoff_secs(u32::MAX), RETRY_DELAY_SECS_MAX);
    }

    #[test]
    fn refusals_park_after_the_last_attempt_and_outages_never_do() {
        let now = Timestamp::from_micros(0);
        let refused = CommerceError::LedgerRejected {
            code: "original_not_found",
        };
        assert_eq!(
            after_intent_failure(1, &refused, now),
            AfterFailure::RetryAt(now.saturating_add_secs(10))
        );
        assert_eq!(
            after_intent_failure(INTENT_ATTEMPTS_MAX, &refused, now),
            AfterFailure::Park
        );
        assert!(matches!(
            after_intent_failure(1_000, &CommerceError::Unavailable, now),
            AfterFailure::RetryAt(_)
        ));
        assert_eq!(
            after_notification_failure(NOTIFICATION_ATTEMPTS_MAX, &CommerceError::Internal, now),
            AfterFailure::Park
        );
        assert!(matches!(
            after_notification_failure(
                NOTIFICATION_ATTEMPTS_MAX - 1,
                &CommerceError::Internal,
                now
            ),
            AfterFailure::RetryAt(_)
        ));
    }
}
