//! Sending webhook deliveries: one signed HTTPS POST per attempt, with a 2 s connect and a
//! 10 s total timeout and no redirects; the result decides the next attempt.
//!
//! The sender resolves host names itself (through a [`Resolver`]), refuses the attempt when
//! any address the name resolves to is one [`may_deliver_to`] refuses, and connects only to
//! the addresses it checked; the request keeps the name in its `Host` header and TLS server
//! name. An address written in the URL is checked the same way. Every new connection is
//! checked again, so a name that changes its addresses after the endpoint was registered (DNS
//! rebinding) gains nothing. A refused attempt records [`ADDRESS_BLOCKED`] and nothing more.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_domain::webhooks::{
    ADDRESS_BLOCKED, AttemptOutcome, AttemptResult, DeliveryJob, EVENT_ID_HEADER,
    EVENT_TYPE_HEADER, EndpointUrl, RetrySchedule, SECRET_UNAVAILABLE, SIGNATURE_HEADER, classify,
    may_deliver_to, signature_header,
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
/// The most addresses of one name that are checked and tried.
const ADDRESSES_MAX: usize = 32;

/// What a [`Resolver`] answers: the addresses of a host name.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Looks up the addresses of a host name. The sender asks it for each new connection and
/// checks every address it answers before connecting to any of them.
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (a DNS name, never an address literal).
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|address| address.ip())
                .collect())
        })
    }
}

/// The attempt was refused because an address is blocked.
#[derive(Debug, thiserror::Error)]
#[error("{ADDRESS_BLOCKED}")]
struct AddressBlocked;

/// The HTTP client's resolver: the [`Resolver`]'s answer, all of it checked.
struct Checked {
    resolver: Arc<dyn Resolver>,
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.resolver.lookup(name.as_str());
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let mut addresses = lookup.await?;
            addresses.truncate(ADDRESSES_MAX);
            if addresses.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses").into());
            }
            if !addresses.iter().all(|a| may_deliver_to(*a, allow_loopback)) {
                return Err(AddressBlocked.into());
            }
            let checked: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(checked)
        })
    }
}

/// Whether `error` or anything that caused it is [`AddressBlocked`].
fn blocked(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<AddressBlocked>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// An HTTP client for deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    schedule: RetrySchedule,
    allow_loopback: bool,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("schedule", &self.schedule)
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A sender retrying on `schedule` that finds addresses with `resolver`. With
    /// `allow_loopback` (`BAZAAR_WEBHOOK_ALLOW_LOOPBACK_HTTP`, for local testing) loopback
    /// addresses may be delivered to; other blocked addresses never are.
    pub fn new(
        schedule: RetrySchedule,
        allow_loopback: bool,
        resolver: Arc<dyn Resolver>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the check.
            .no_proxy()
            .dns_resolver(Arc::new(Checked {
                resolver,
                allow_loopback,
            }))
            .user_agent("Bazaar-Webhooks/1")
            .pool_max_idle_per_host(16)
            .build()?;
        Ok(Self {
            client,
            schedule,
            allow_loopback,
        })
    }

    /// Makes one attempt at `job` and says what it came to, with the time of the next attempt
    /// if there is to be one.
    pub async fn attempt(&self, job: &DeliveryJob) -> AttemptResult {
        let started_at = SystemClock.now();
        let began = Instant::now();
        let (status, error) = self.send(job, started_at).await;
        // A refused attempt tells nothing, not even how long the refusal took.
        let latency_ms = if error.as_deref() == Some(ADDRESS_BLOCKED) {
            0
        } else {
            u32::try_from(began.elapsed().as_millis()).unwrap_or(u32::MAX)
        };
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

    /// Sends `job` once: the response's status, or none, and what went wrong.
    async fn send(
        &self,
        job: &DeliveryJob,
        started_at: Timestamp,
    ) -> (Option<u16>, Option<String>) {
        let Ok(secrets) = &job.secrets else {
            return (None, Some(SECRET_UNAVAILABLE.to_owned()));
        };
        // Stored URLs passed this when they were registered; parsed again for an address
        // written as the host, which the client would connect to without resolving it.
        let Ok(url) = EndpointUrl::parse(&job.url, true) else {
            return (None, Some("invalid URL".to_owned()));
        };
        if url
            .address()
            .is_some_and(|address| !may_deliver_to(address, self.allow_loopback))
        {
            return (None, Some(ADDRESS_BLOCKED.to_owned()));
        }
        let body = match bazaar_rabbitmq::encode(&job.event) {
            Ok(body) => body,
            Err(error) => return (None, Some(format!("event cannot be encoded: {error}"))),
        };
        let secrets: Vec<_> = secrets.iter().collect();
        let signature = signature_header(
            started_at.as_micros().div_euclid(1_000_000),
            &body,
            &secrets,
        );
        let sent = self
            .client
            .post(url.as_str())
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
                let error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                (Some(status.as_u16()), error)
            }
            Err(error) => {
                let kind = if blocked(&error) {
                    ADDRESS_BLOCKED
                } else if error.is_timeout() {
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
}

/// Now, as the workers' clock sees it.
pub fn now() -> Timestamp {
    SystemClock.now()
}
