//! Which event types an endpoint subscribes to.

use super::*;

#[test]
fn pattern_parsing() {
    for good in [
        "*",
        "order.*",
        "order.paid",
        "payment.captured",
        "refund.*",
        "review.created",
        "payout.*",
        "loan.repaid",
        "webhook_endpoint.disabled",
        "order.a",
        &format!("order.{}", "a".repeat(40)),
    ] {
        let pattern = EventPattern::parse(good).unwrap();
        assert_eq!(pattern.as_str(), good);
        assert_eq!(pattern.to_string(), good);
    }
    for bad in [
        "",
        "order",
        "order.",
        ".paid",
        "*.paid",
        "*.*",
        "**",
        "orders.paid",
        "Order.paid",
        "order.Paid",
        "order.paid2",
        "order.pa-id",
        "order.paid.*",
        "order.paid.now",
        "order.p*",
        " order.paid",
        "order.paid ",
        "webhook-endpoint.disabled",
        &format!("order.{}", "a".repeat(41)),
    ] {
        let error = EventPattern::parse(bad).unwrap_err();
        assert_eq!(error.code(), "invalid_event_pattern", "{bad:?}");
    }
}

#[test]
fn pattern_matching() {
    let table = [
        ("*", "order.paid", true),
        ("*", "webhook_endpoint.disabled", true),
        ("*", "nonsense", false),
        ("*", "unknown.paid", false),
        ("*", "", false),
        ("order.*", "order.paid", true),
        ("order.*", "order.created", true),
        ("order.*", "payment.captured", false),
        ("order.*", "order.", false),
        ("order.*", "order", false),
        ("order.*", "orders.paid", false),
        ("order.*", "order.paid.partial", false),
        ("order.paid", "order.paid", true),
        ("order.paid", "order.paid_late", false),
        ("order.paid", "order.pai", false),
        ("order.paid", "order.*", false),
        ("payment.*", "payment.failed", true),
        ("webhook_endpoint.*", "webhook_endpoint.disabled", true),
    ];
    for (pattern, event_type, expected) in table {
        assert_eq!(
            EventPattern::parse(pattern).unwrap().matches(event_type),
            expected,
            "{pattern} ~ {event_type}"
        );
    }
}

#[test]
fn patterns_list() {
    let strings = |items: &[&str]| items.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        parse_patterns(&[]).unwrap_err(),
        WebhookError::NoEventPatterns
    );
    let parsed = parse_patterns(&strings(&["order.*", "refund.failed", "order.*"])).unwrap();
    let names: Vec<&str> = parsed.iter().map(EventPattern::as_str).collect();
    assert_eq!(names, ["order.*", "refund.failed"]);
    assert_eq!(
        parse_patterns(&strings(&["order.*", "nope"]))
            .unwrap_err()
            .code(),
        "invalid_event_pattern"
    );

    let distinct: Vec<String> = (0..=MAX_PATTERNS)
        .map(|i| format!("order.{}", "a".repeat(i.checked_add(1).unwrap())))
        .collect();
    assert_eq!(parse_patterns(&distinct[..MAX_PATTERNS]).unwrap().len(), 32);
    let error = parse_patterns(&distinct).unwrap_err();
    assert_eq!(error, WebhookError::TooManyPatterns);
    assert_eq!(error.code(), "too_many_patterns");
    // Duplicates do not count towards the limit.
    let mut with_duplicates = distinct[..MAX_PATTERNS].to_vec();
    with_duplicates.extend_from_slice(&distinct[..MAX_PATTERNS]);
    assert_eq!(parse_patterns(&with_duplicates).unwrap().len(), 32);
}
