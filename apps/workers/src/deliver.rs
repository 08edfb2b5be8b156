//! Sending webhook deliveries: one signed HTTPS POST per attempt, with a 2 s connect and a
//! 10 s total timeout and no redirects; the result decides the next attempt.

use std::time::{Duration, Instant};

use bazaar_domain::events::{AttemptResult, DeliveryJob};
use bazaar_domain::webhooks::{
    AttemptOutcome, EVENT_ID_HEADER, EVENT_TYPE_HEADER, RetrySchedule, SIGNATURE_HEADER, classify,
    signature_header,
};
use bazaar_ledger::{Clock, Timestamp};
use bazaar_postgres::SystemClock;
use rand::Rng;

/// The connect timeout of a delivery.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The whole-request timeout of a delivery.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error response's reason is kept in the delivery log.
const ERROR_TEXT_MAX: usize = 200;

/// An HTTP client for deliveries.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    schedule: RetrySchedule,
}

impl Sender {
    /// A sender retrying on `schedule`.
    pub fn new(schedule: RetrySchedule) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Bazaar-Webhooks/1")
            .pool_max_idle_per_host(16)
            .build()?;
        Ok(Self { client, schedule })
    }

    /// Makes one attempt at `job` and says what it came to, with the time of the next attempt
    /// if there is to be one.
    pub async fn attempt(&self, job: &DeliveryJob) -> AttemptResult {
        let started_at = SystemClock.now();
        let began = Instant::now();
        let (status, error) = match bazaar_rabbitmq::encode(&job.event) {
            Err(error) => (None, Some(format!("event cannot be encoded: {error}"))),
            Ok(body) => {
                let secrets: Vec<_> = job.secrets.iter().collect();
                let signature = signature_header(
                    started_at.as_micros().div_euclid(1_000_000),
                    &body,
                    &secrets,
                );
                let sent = self
                    .client
                    .post(&job.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, signature)
                    .header(EVENT_ID_HEADER, job.event.id.to_string())
                    .header(EVENT_TYPE_HEADER, &job.event.event_type)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        let status = response.status();
                        let error =
                            (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                        (Some(status.as_u16()), error)
                    }
                    Err(error) => {
                        let kind = if error.is_timeout() {
                            "timed out"
                        } else if error.is_connect() {
                            "could not connect"
                        } else {
                            "request failed"
                        };
                        (None, Some(kind.to_owned()))
                    }
                }
            }
        };
        let latency_ms = u32::try_from(began.elapsed().as_millis()).unwrap_or(u32::MAX);
        let outcome = classify(status);
        let next_attempt_at = match outcome {
            AttemptOutcome::Retry => self.schedule.next_attempt(
                job.first_attempt_at.unwrap_or(started_at),
                SystemClock.now(),
                job.attempts.saturating_add(1),
                rand::rng().random_range(0..=1000),
            ),
            AttemptOutcome::Delivered | AttemptOutcome::Reject => None,
        };
        AttemptResult {
            started_at,
            status_code: status,
            latency_ms,
            outcome,
            error: error.map(|e| e.chars().take(ERROR_TEXT_MAX).collect()),
            next_attempt_at,
        }
    }
}

/// Now, as the workers' clock sees it.
pub fn now() -> Timestamp {
    SystemClock.now()
}
