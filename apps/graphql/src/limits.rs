//! Limits on signing in and signing up, the requests that cost a password hash (argon2id,
//! 19 MiB and tens of milliseconds of a core each):
//! - one `signIn` or `signUp` per request, refused before anything runs;
//! - password hashes run on a pool of a fixed number of slots with a bounded queue; a full
//!   queue answers 503 with `Retry-After`;
//! - token buckets per client address and per e-mail address; an empty one answers 429 with
//!   `Retry-After`, and every admitted attempt reports both buckets in the `RateLimit` and
//!   `RateLimit-Policy` header fields (draft-ietf-httpapi-ratelimit-headers);
//! - after failed sign-ins in a row from one address to one account, each further attempt from
//!   that address to that account waits (doubling, capped); another address is not slowed,
//!   so an attacker cannot lock the owner out, and a success or a quiet spell clears it.
//!
//! The buckets live in this process, bounded in the number of keys they track; with several
//! instances each counts on its own (see `docs/security.md`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult};
use bazaar_domain::identity::Email;
use tokio::sync::Semaphore;

use crate::config::AuthLimitsConfig;

/// The mutations that hash a password; a request may hold one of them.
const HASHING_FIELDS: [&str; 2] = ["signIn", "signUp"];

/// How long failed sign-ins from one address to one account are remembered without a new one.
const FAILURES_FORGOTTEN_AFTER: Duration = Duration::from_secs(15 * 60);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whole seconds, rounded up, for `Retry-After` and the `RateLimit` fields.
fn seconds_up(duration: Duration) -> u64 {
    let whole = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// Inserts or replaces `key` in a table of at most `keys_max` keys: when a new key finds the
/// table full, the idle entries go first, then the one `oldest` ranks first.
fn insert_bounded<K: Eq + Hash + Clone, V: Copy, O: Ord>(
    table: &mut HashMap<K, V>,
    key: K,
    value: V,
    keys_max: usize,
    idle: impl Fn(&V) -> bool,
    oldest: impl Fn(&V) -> O,
) {
    if !table.contains_key(&key) && table.len() >= keys_max {
        table.retain(|_, entry| !idle(entry));
        if table.len() >= keys_max {
            let evicted = table
                .iter()
                .min_by_key(|(_, entry)| oldest(entry))
                .map(|(key, _)| key.clone());
            if let Some(evicted) = evicted {
                table.remove(&evicted);
            }
        }
    }
    table.insert(key, value);
}

/// A token bucket's shape: `burst` attempts at once, one more every `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rate {
    burst: u32,
    interval: Duration,
}

impl Rate {
    /// The time an empty bucket takes to fill.
    fn window(self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }
}

/// What one bucket said about one attempt.
#[derive(Clone, Copy, Debug)]
struct Quota {
    policy: &'static str,
    rate: Rate,
    remaining: u32,
    /// Until the bucket is full again.
    full_in: Duration,
    /// Set when the attempt was refused: until one attempt is available.
    retry_after: Option<Duration>,
}

/// Token buckets by key, kept as the instant each bucket is full again (the generic cell rate
/// algorithm): a bucket that is full now is the same as no entry, so idle keys cost nothing
/// to forget.
#[derive(Debug)]
struct Buckets<K> {
    policy: &'static str,
    rate: Rate,
    keys_max: usize,
    full_at: Mutex<HashMap<K, Instant>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    fn new(policy: &'static str, burst: u32, interval_ms: u64, keys_max: usize) -> Self {
        Self {
            policy,
            rate: Rate {
                burst: burst.max(1),
                interval: Duration::from_millis(interval_ms.max(1)),
            },
            keys_max,
            full_at: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt from `key`'s bucket, or says how long until one is available.
    fn take(&self, key: &K, now: Instant) -> Quota {
        let mut table = lock(&self.full_at);
        let debt = table.get(key).map_or(Duration::ZERO, |full_at| {
            full_at.saturating_duration_since(now)
        });
        let after = debt.saturating_add(self.rate.interval);
        let window = self.rate.window();
        let quota = Quota {
            policy: self.policy,
            rate: self.rate,
            remaining: 0,
            full_in: debt,
            retry_after: None,
        };
        if after > window {
            return Quota {
                retry_after: Some(after.saturating_sub(window)),
                ..quota
            };
        }
        let Some(full_at) = now.checked_add(after) else {
            return quota;
        };
        insert_bounded(
            &mut table,
            key.clone(),
            full_at,
            self.keys_max,
            |full_at| *full_at <= now,
            |full_at| *full_at,
        );
        let left = window.saturating_sub(after).as_nanos();
        let remaining = left
            .checked_div(self.rate.interval.as_nanos())
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        Quota {
            remaining,
            full_in: after,
            ..quota
        }
    }

    /// Fills `key`'s bucket again.
    fn refill(&self, key: &K) {
        lock(&self.full_at).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.full_at).len()
    }
}

/// Failed sign-ins in a row from one address to one account.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The wait before the next sign-in from one address to one account, after failures.
#[derive(Debug)]
struct Backoff {
    after: u32,
    base: Duration,
    max: Duration,
    keys_max: usize,
    failures: Mutex<HashMap<(IpAddr, String), Failures>>,
}

impl Backoff {
    /// How long the next attempt must still wait after `failures`: none until `after` of them,
    /// then `base`, doubling per further failure, never more than `max`.
    fn delay(&self, failures: Failures) -> Duration {
        let Some(beyond) = failures.count.checked_sub(self.after) else {
            return Duration::ZERO;
        };
        let factor = 1_u32.checked_shl(beyond.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    fn wait(&self, key: &(IpAddr, String), now: Instant) -> Option<Duration> {
        let table = lock(&self.failures);
        let failures = *table.get(key)?;
        let until = failures.last.checked_add(self.delay(failures))?;
        let wait = until.saturating_duration_since(now);
        (!wait.is_zero()).then_some(wait)
    }

    fn failed(&self, key: (IpAddr, String), now: Instant) {
        let mut table = lock(&self.failures);
        let count = table
            .get(&key)
            .filter(|f| now.saturating_duration_since(f.last) < FAILURES_FORGOTTEN_AFTER)
            .map_or(0, |f| f.count);
        let entry = Failures {
            count: count.saturating_add(1),
            last: now,
        };
        insert_bounded(
            &mut table,
            key,
            entry,
            self.keys_max,
            |f| now.saturating_duration_since(f.last) >= FAILURES_FORGOTTEN_AFTER,
            |f| f.last,
        );
    }

    fn succeeded(&self, key: &(IpAddr, String)) {
        lock(&self.failures).remove(key);
    }
}

/// Why an attempt was not admitted.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// 429: a bucket is empty or the address must wait after failures.
    Limited { retry_after: Duration },
    /// 503: every hashing slot is taken and the queue is full.
    Busy,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Limited { .. } => "rate_limited",
            Self::Busy => "busy",
        }
    }

    pub fn message(self) -> String {
        match self {
            Self::Limited { retry_after } => format!(
                "too many sign-in or sign-up attempts; retry in {} s",
                seconds_up(retry_after)
            ),
            Self::Busy => "the server is busy; retry in 1 s".to_owned(),
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn retry_after(self) -> Duration {
        match self {
            Self::Limited { retry_after } => retry_after,
            Self::Busy => Duration::from_secs(1),
        }
    }
}

/// The process-wide limits; one per server.
#[derive(Debug)]
pub struct AuthLimits {
    /// Slots for hashes running plus waiting; a hash that finds none is refused.
    admitted: Arc<Semaphore>,
    /// Slots for hashes running.
    running: Arc<Semaphore>,
    by_address: Buckets<IpAddr>,
    by_account: Buckets<String>,
    backoff: Backoff,
}

impl AuthLimits {
    pub fn new(config: &AuthLimitsConfig) -> Self {
        let concurrency = config.hash_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let admitted = concurrency
            .saturating_add(config.hash_queue)
            .min(Semaphore::MAX_PERMITS);
        Self {
            admitted: Arc::new(Semaphore::new(admitted)),
            running: Arc::new(Semaphore::new(concurrency)),
            by_address: Buckets::new("ip", config.ip_burst, config.ip_refill_ms, config.keys_max),
            by_account: Buckets::new(
                "account",
                config.account_burst,
                config.account_refill_ms,
                config.keys_max,
            ),
            backoff: Backoff {
                after: config.backoff_after.max(1),
                base: Duration::from_millis(config.backoff_base_ms),
                max: Duration::from_millis(config.backoff_max_ms),
                keys_max: config.keys_max,
                failures: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Admits one attempt from `request`'s client on `account`, or refuses it (and records
    /// the refusal for the HTTP answer). Reports the buckets in the answer's headers.
    pub fn admit(&self, request: &AuthRequest, account: &Email) -> Result<(), Refusal> {
        let now = Instant::now();
        let account = account.as_str().to_owned();
        let refused = |refusal: Refusal| {
            request.refuse(refusal);
            Err(refusal)
        };
        if let Some(retry_after) = self.backoff.wait(&(request.client, account.clone()), now) {
            return refused(Refusal::Limited { retry_after });
        }
        let by_address = self.by_address.take(&request.client, now);
        request.report(by_address);
        if let Some(retry_after) = by_address.retry_after {
            return refused(Refusal::Limited { retry_after });
        }
        let by_account = self.by_account.take(&account, now);
        request.report(by_account);
        if let Some(retry_after) = by_account.retry_after {
            return refused(Refusal::Limited { retry_after });
        }
        Ok(())
    }

    /// A wrong password from `request`'s client for `account`.
    pub fn failed(&self, request: &AuthRequest, account: &Email) {
        self.backoff.failed(
            (request.client, account.as_str().to_owned()),
            Instant::now(),
        );
    }

    /// A correct password: the owner is back, so the account's bucket and this address's
    /// failures on it are cleared.
    pub fn succeeded(&self, request: &AuthRequest, account: &Email) {
        let account = account.as_str().to_owned();
        self.by_account.refill(&account);
        self.backoff.succeeded(&(request.client, account));
    }

    /// Runs a password hash on a free slot (waiting in the bounded queue for one), or refuses
    /// with `Busy` when the queue is full. The slot is held until the hash ends, even if the
    /// request is dropped meanwhile.
    pub async fn hash<T: Send + 'static>(
        &self,
        request: &AuthRequest,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let Ok(admitted) = self.admitted.clone().try_acquire_owned() else {
            tracing::warn!("password hashing queue full; refusing an attempt");
            request.refuse(Refusal::Busy);
            return Err(Refusal::Busy);
        };
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refusal::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            work()
        })
        .await
        .map_err(|_| Refusal::Busy)
    }

    /// How many keys the buckets track, for tests of the bound.
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        (self.by_address.len(), self.by_account.len())
    }
}

/// The client's address: the last entry of `proxy_header` (a header a trusted reverse proxy
/// sets) when configured and readable, else the connection's peer. IPv6 addresses count by
/// their /64, which one subscriber usually holds whole.
pub fn client_address(request: &HttpRequest, proxy_header: Option<&str>) -> IpAddr {
    let forwarded = proxy_header.and_then(|name| {
        let value = request.headers().get(name)?.to_str().ok()?;
        value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    });
    let address = forwarded
        .or_else(|| request.peer_addr().map(|peer| peer.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// One HTTP request's view of the limits: its client, and what the answer must carry.
#[derive(Debug)]
pub struct AuthRequest {
    client: IpAddr,
    answer: Mutex<Answer>,
}

#[derive(Debug, Default)]
struct Answer {
    quotas: Vec<Quota>,
    refusal: Option<Refusal>,
}

impl AuthRequest {
    pub fn new(client: IpAddr) -> Self {
        Self {
            client,
            answer: Mutex::new(Answer::default()),
        }
    }

    /// The client's address, as the limits count it.
    pub fn client(&self) -> IpAddr {
        self.client
    }

    fn report(&self, quota: Quota) {
        lock(&self.answer).quotas.push(quota);
    }

    fn refuse(&self, refusal: Refusal) {
        lock(&self.answer).refusal = Some(refusal);
    }

    /// The HTTP answer for a GraphQL response: 200, or 429 / 503 with `Retry-After` when an
    /// attempt was refused, with the `RateLimit` fields of the buckets it consulted.
    pub fn respond(&self, response: &async_graphql::Response) -> HttpResponse {
        let answer = lock(&self.answer);
        let status = answer.refusal.map_or(StatusCode::OK, Refusal::status);
        let mut builder = HttpResponse::build(status);
        if let Some(refusal) = answer.refusal {
            builder.insert_header((
                header::RETRY_AFTER,
                seconds_up(refusal.retry_after()).max(1).to_string(),
            ));
        }
        if !answer.quotas.is_empty() {
            let policies: Vec<String> = answer
                .quotas
                .iter()
                .map(|q| {
                    format!(
                        "\"{}\";q={};w={}",
                        q.policy,
                        q.rate.burst,
                        seconds_up(q.rate.window())
                    )
                })
                .collect();
            let current: Vec<String> = answer
                .quotas
                .iter()
                .map(|q| {
                    format!(
                        "\"{}\";r={};t={}",
                        q.policy,
                        q.remaining,
                        seconds_up(q.full_in)
                    )
                })
                .collect();
            for (name, value) in [
                ("ratelimit-policy", policies.join(", ")),
                ("ratelimit", current.join(", ")),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    builder.insert_header((HeaderName::from_static(name), value));
                }
            }
        }
        builder.json(response)
    }
}

/// A GraphQL error for a refused attempt, with its stable code.
pub fn refused(refusal: Refusal) -> async_graphql::Error {
    crate::api::error(refusal.code(), refusal.message())
}

/// Refuses, before anything runs, a document whose operations select `signIn` or `signUp`
/// more than once (under aliases, in fragments or in several operations of one document).
pub fn one_hash_per_request(document: &ExecutableDocument) -> ServerResult<()> {
    if hashing_fields(document) > 1 {
        let mut error = ServerError::new(
            "a request may sign in or sign up once; send one signIn or signUp per request",
            None,
        );
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "one_sign_in_per_request");
        error.extensions = Some(extensions);
        return Err(error);
    }
    Ok(())
}

/// How many `signIn` and `signUp` fields the document's operations select, fragments
/// expanded (each fragment counted once per spread; a fragment cycle counts nothing more,
/// validation refuses it afterwards). They exist only on the mutation root, so nested
/// selections are not searched.
fn hashing_fields(document: &ExecutableDocument) -> usize {
    let mut counted: HashMap<String, usize> = HashMap::new();
    let mut visiting: Vec<String> = Vec::new();
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            count_in(
                &operation.node.selection_set.node,
                document,
                &mut counted,
                &mut visiting,
            )
        })
        .fold(0, usize::saturating_add)
}

fn count_in(
    set: &SelectionSet,
    document: &ExecutableDocument,
    counted: &mut HashMap<String, usize>,
    visiting: &mut Vec<String>,
) -> usize {
    let mut total: usize = 0;
    for selection in &set.items {
        let here = match &selection.node {
            Selection::Field(field) => {
                usize::from(HASHING_FIELDS.contains(&field.node.name.node.as_str()))
            }
            Selection::InlineFragment(inline) => {
                count_in(&inline.node.selection_set.node, document, counted, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(known) = counted.get(name) {
                    *known
                } else if visiting.iter().any(|v| v == name) {
                    0
                } else if let Some(fragment) = document.fragments.get(name) {
                    visiting.push(name.to_owned());
                    let count = count_in(
                        &fragment.node.selection_set.node,
                        document,
                        counted,
                        visiting,
                    );
                    visiting.pop();
                    counted.insert(name.to_owned(), count);
                    count
                } else {
                    0
                }
            }
        };
        total = total.saturating_add(here);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthLimitsConfig {
        AuthLimitsConfig {
            hash_concurrency: 1,
            hash_queue: 0,
            ip_burst: 3,
            ip_refill_ms: 60_000,
            account_burst: 2,
            account_refill_ms: 60_000,
            backoff_after: 2,
            backoff_base_ms: 1_000,
            backoff_max_ms: 4_000,
            keys_max: 4,
            client_ip_header: None,
        }
    }

    #[test]
    fn buckets_admit_a_burst_then_refuse_until_a_token_returns() {
        let buckets: Buckets<u8> = Buckets::new("ip", 3, 1_000, 10);
        let now = Instant::now();
        let remaining: Vec<u32> = (0..3).map(|_| buckets.take(&1, now).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = buckets.take(&1, now);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(refused.full_in, Duration::from_secs(3));
        let later = now.checked_add(Duration::from_millis(1_000)).unwrap();
        assert_eq!(buckets.take(&1, later).retry_after, None);
        assert_eq!(buckets.take(&2, now).remaining, 2, "keys are independent");
    }

    #[test]
    fn tables_stay_bounded_forgetting_idle_then_oldest_keys() {
        let buckets: Buckets<u32> = Buckets::new("ip", 2, 1_000, 4);
        let now = Instant::now();
        for key in 0..100 {
            let at = now.checked_add(Duration::from_millis(key.into())).unwrap();
            buckets.take(&key, at);
        }
        assert_eq!(buckets.len(), 4);
        let limits = AuthLimits::new(&config());
        let request = AuthRequest::new(IpAddr::from([10, 0, 0, 1]));
        for n in 0..50 {
            let email = Email::new(&format!("u{n}@example.com")).unwrap();
            let _ = limits.admit(&request, &email);
        }
        let (addresses, accounts) = limits.tracked();
        assert!(addresses <= 4 && accounts <= 4);
    }

    #[test]
    fn backoff_grows_per_failure_up_to_its_cap_and_clears_on_success() {
        let backoff = Backoff {
            after: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(4),
            keys_max: 10,
            failures: Mutex::new(HashMap::new()),
        };
        let last = Instant::now();
        let delays: Vec<u64> = (0..7)
            .map(|count| backoff.delay(Failures { count, last }).as_secs())
            .collect();
        assert_eq!(delays, [0, 0, 1, 2, 4, 4, 4]);
        let key = (IpAddr::from([10, 0, 0, 1]), "a@example.com".to_owned());
        let other = (IpAddr::from([10, 0, 0, 2]), "a@example.com".to_owned());
        for _ in 0..5 {
            backoff.failed(key.clone(), last);
        }
        assert_eq!(backoff.wait(&key, last), Some(Duration::from_secs(4)));
        assert_eq!(
            backoff.wait(&other, last),
            None,
            "another address waits not"
        );
        backoff.succeeded(&key);
        assert_eq!(backoff.wait(&key, last), None);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = actix_web::test::TestRequest::default()
            .peer_addr("[2001:db8:1:2:aaaa::1]:443".parse().unwrap())
            .to_http_request();
        let b = actix_web::test::TestRequest::default()
            .peer_addr("[2001:db8:1:2:bbbb::2]:443".parse().unwrap())
            .to_http_request();
        assert_eq!(client_address(&a, None), client_address(&b, None));
        let proxied = actix_web::test::TestRequest::default()
            .peer_addr("10.0.0.9:443".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.7, 203.0.113.5"))
            .to_http_request();
        assert_eq!(
            client_address(&proxied, Some("x-forwarded-for")),
            IpAddr::from([203, 0, 113, 5])
        );
        assert_eq!(client_address(&proxied, None), IpAddr::from([10, 0, 0, 9]));
    }

    fn fields(query: &str) -> usize {
        hashing_fields(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn hashing_fields_are_counted_through_aliases_and_fragments() {
        assert_eq!(
            fields("mutation { signIn(email: \"a\", password: \"b\") { token } }"),
            1
        );
        assert_eq!(
            fields(
                "mutation { a: signIn(email: \"a\", password: \"b\") { token } b: signIn(email: \"a\", password: \"c\") { token } }"
            ),
            2
        );
        assert_eq!(
            fields(
                "mutation { ...F ...F } fragment F on Mutation { signIn(email: \"a\", password: \"b\") { token } }"
            ),
            2
        );
        assert_eq!(
            fields(
                "mutation { ... on Mutation { signUp(input: {}) { email } } signIn(email: \"a\", password: \"b\") { token } }"
            ),
            2
        );
        assert_eq!(
            fields(
                "mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ...A signOut }"
            ),
            0
        );
        assert_eq!(fields("query { products { edges { node { id } } } }"), 0);
    }
}
