//! The retry schedule and what a response means.

use super::*;

#[test]
fn retry_delays_without_jitter() {
    let schedule = RetrySchedule::default();
    assert_eq!(schedule.first, Duration::from_secs(30));
    assert_eq!(schedule.cap, Duration::from_secs(21_600));
    assert_eq!(schedule.window, Duration::from_secs(259_200));
    // Full jitter gives the nominal delay.
    let nominal: Vec<u64> = (0..=12)
        .map(|a| schedule.delay(a, 1000).as_secs())
        .collect();
    assert_eq!(
        nominal,
        [
            30, 30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15_360, 21_600, 21_600
        ]
    );
    // No jitter gives half of it.
    assert_eq!(schedule.delay(1, 0), Duration::from_secs(15));
    assert_eq!(schedule.delay(20, 0), Duration::from_secs(10_800));
    assert_eq!(schedule.delay(u32::MAX, 1000), schedule.cap);
    assert_eq!(schedule.delay(u32::MAX, 0), Duration::from_secs(10_800));
}

#[test]
fn retry_delays_are_monotone_and_capped() {
    let schedule = RetrySchedule::default();
    for jitter in [0, 500, 1000] {
        let mut previous = Duration::ZERO;
        for attempt in (0..100).chain([u32::MAX.saturating_sub(1), u32::MAX]) {
            let delay = schedule.delay(attempt, jitter);
            assert!(delay >= previous, "attempt {attempt} jitter {jitter}");
            assert!(delay <= schedule.cap);
            previous = delay;
        }
    }
}

#[test]
fn retry_jitter_bounds() {
    let schedule = RetrySchedule::default();
    for attempt in [1, 3, 11, 50] {
        let nominal = schedule.delay(attempt, 1000);
        let low = schedule.delay(attempt, 0);
        assert_eq!(low, nominal.checked_div(2).unwrap());
        let mut previous = low;
        for jitter in (0..=1000).step_by(50) {
            let delay = schedule.delay(attempt, jitter);
            assert!(low <= delay && delay <= nominal);
            assert!(delay >= previous);
            previous = delay;
        }
        // Values above 1000 count as 1000.
        assert_eq!(schedule.delay(attempt, 1001), nominal);
        assert_eq!(schedule.delay(attempt, u16::MAX), nominal);
    }
    assert_eq!(schedule.delay(1, 500), Duration::from_millis(22_500));
}

#[test]
fn retry_odd_and_extreme_schedules() {
    let odd = RetrySchedule {
        first: Duration::from_nanos(3),
        cap: Duration::MAX,
        window: Duration::MAX,
    };
    assert_eq!(odd.delay(1, 0), Duration::from_nanos(2));
    assert_eq!(odd.delay(1, 1000), Duration::from_nanos(3));
    assert_eq!(odd.delay(200, 1000), Duration::MAX);
    assert!(odd.delay(200, 999) <= Duration::MAX);
    let zero = RetrySchedule {
        first: Duration::ZERO,
        cap: Duration::from_secs(10),
        window: Duration::from_secs(10),
    };
    assert_eq!(zero.delay(u32::MAX, 1000), Duration::ZERO);
    let first_above_cap = RetrySchedule {
        first: Duration::from_secs(100),
        cap: Duration::from_secs(10),
        window: Duration::from_secs(10),
    };
    assert_eq!(first_above_cap.delay(1, 1000), Duration::from_secs(10));
}

#[test]
fn retry_window_cutoff() {
    const SECOND: i64 = 1_000_000;
    let schedule = RetrySchedule::default();
    let start = Timestamp::from_micros(T.checked_mul(SECOND).unwrap());
    let at = |seconds: i64| {
        Timestamp::from_micros(start.as_micros().checked_add(seconds * SECOND).unwrap())
    };
    assert_eq!(schedule.next_attempt(start, start, 1, 1000), Some(at(30)));
    assert_eq!(schedule.next_attempt(start, at(30), 2, 0), Some(at(60)));
    // Last possible retry lands exactly on the window's end.
    let window = 259_200;
    assert_eq!(
        schedule.next_attempt(start, at(window - 21_600), 30, 1000),
        Some(at(window))
    );
    assert_eq!(
        schedule.next_attempt(start, at(window - 21_599), 30, 1000),
        None
    );
    assert_eq!(
        schedule.next_attempt(start, at(window - 10_799), 30, 0),
        None
    );
    // A full run of failures stops within the window.
    let mut now = start;
    let mut attempts = 1;
    while let Some(next) = schedule.next_attempt(start, now, attempts, 1000) {
        assert!(next > now);
        now = next;
        attempts += 1;
    }
    assert!(now <= at(window));
    assert_eq!(attempts, 21);
    // Extremes saturate instead of overflowing.
    let huge = RetrySchedule {
        first: Duration::MAX,
        cap: Duration::MAX,
        window: Duration::MAX,
    };
    assert_eq!(
        huge.next_attempt(Timestamp::MAX, Timestamp::MAX, 1, 1000),
        Some(Timestamp::MAX)
    );
    assert_eq!(
        schedule.next_attempt(Timestamp::MIN, Timestamp::MAX, 1, 0),
        None
    );
}

#[test]
fn classify_table() {
    let table = [
        (None, AttemptOutcome::Retry),
        (Some(100), AttemptOutcome::Reject),
        (Some(199), AttemptOutcome::Reject),
        (Some(200), AttemptOutcome::Delivered),
        (Some(204), AttemptOutcome::Delivered),
        (Some(299), AttemptOutcome::Delivered),
        (Some(301), AttemptOutcome::Reject),
        (Some(302), AttemptOutcome::Reject),
        (Some(308), AttemptOutcome::Reject),
        (Some(400), AttemptOutcome::Reject),
        (Some(401), AttemptOutcome::Reject),
        (Some(404), AttemptOutcome::Reject),
        (Some(408), AttemptOutcome::Reject),
        (Some(410), AttemptOutcome::Reject),
        (Some(428), AttemptOutcome::Reject),
        (Some(429), AttemptOutcome::Retry),
        (Some(430), AttemptOutcome::Reject),
        (Some(500), AttemptOutcome::Retry),
        (Some(503), AttemptOutcome::Retry),
        (Some(599), AttemptOutcome::Retry),
        (Some(600), AttemptOutcome::Reject),
        (Some(0), AttemptOutcome::Reject),
        (Some(u16::MAX), AttemptOutcome::Reject),
    ];
    for (status, expected) in table {
        assert_eq!(classify(status), expected, "{status:?}");
    }
}
