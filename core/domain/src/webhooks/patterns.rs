//! Which event types an endpoint subscribes to.

use std::fmt;

use super::{EVENT_FAMILIES, MAX_PATTERNS, WebhookError};

/// The longest event name after the family's dot.
const MAX_EVENT_NAME_LEN: usize = 40;

/// Which event types an endpoint receives: `*` (all), `<family>.*` (all of a family) or
/// `<family>.<name>` (one type).
///
/// The family is one of [`EVENT_FAMILIES`]; the name is 1 to 40 characters of `a`-`z` and
/// `_`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EventPattern(String);

fn is_event_name(name: &str) -> bool {
    (1..=MAX_EVENT_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b == b'_' || b.is_ascii_lowercase())
}

impl EventPattern {
    /// Reads a pattern; only the three forms above are accepted.
    pub fn parse(pattern: &str) -> Result<Self, WebhookError> {
        if pattern == "*" {
            return Ok(Self(pattern.to_owned()));
        }
        let (family, name) = pattern
            .split_once('.')
            .ok_or(WebhookError::InvalidEventPattern(
                "expected `*`, `<family>.*` or `<family>.<name>`",
            ))?;
        if !EVENT_FAMILIES.contains(&family) {
            return Err(WebhookError::InvalidEventPattern("unknown event family"));
        }
        if name != "*" && !is_event_name(name) {
            return Err(WebhookError::InvalidEventPattern(
                "an event name is `*` or 1 to 40 characters of a-z and _",
            ));
        }
        Ok(Self(pattern.to_owned()))
    }

    /// Whether an event of type `event_type` (e.g. `order.paid`) is sent to an endpoint
    /// with this pattern. A string that is not a well-formed event type of a known family
    /// matches no pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        let Some((family, name)) = event_type.split_once('.') else {
            return false;
        };
        if !EVENT_FAMILIES.contains(&family) || !is_event_name(name) {
            return false;
        }
        match self.0.split_once('.') {
            None => true,
            Some((pattern_family, "*")) => pattern_family == family,
            Some(_) => self.0 == event_type,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an endpoint's patterns: at least one, each valid, duplicates dropped (first
/// occurrence kept, order preserved), at most [`MAX_PATTERNS`] distinct ones.
pub fn parse_patterns(patterns: &[String]) -> Result<Vec<EventPattern>, WebhookError> {
    if patterns.is_empty() {
        return Err(WebhookError::NoEventPatterns);
    }
    let mut parsed: Vec<EventPattern> = Vec::new();
    for pattern in patterns {
        let pattern = EventPattern::parse(pattern)?;
        if parsed.contains(&pattern) {
            continue;
        }
        if parsed.len() >= MAX_PATTERNS {
            return Err(WebhookError::TooManyPatterns);
        }
        parsed.push(pattern);
    }
    Ok(parsed)
}
