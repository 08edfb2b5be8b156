//! Anonymous reads answered from memory, and persisted queries.
//!
//! The JSON answer to an anonymous GraphQL query is kept for the cache's lifetime (half a
//! second by default) and shared by every request that asks exactly the same thing meanwhile
//! (the same request bytes), so a page of the catalogue costs one execution per lifetime
//! however many buyers ask for it, and a burst of identical requests runs one execution that
//! the others wait for. A change is visible to every request that arrives one lifetime after
//! it committed: an answer's age counts from before its execution began, and no answer is
//! served once that age passes the lifetime. Signed-in requests, mutations and subscriptions
//! never pass through; an answer that carries errors is handed to the requests already
//! waiting for it and then forgotten.
//!
//! An answer that reads nothing but products named by id (a product page: `product(id:)` at
//! the root, with its SKUs, stock, prices, seller and reviews) is kept longer, up to
//! `BAZAAR_PRODUCT_CACHE_SECS`, while the catalogue's change feed vouches for it: every
//! transaction that changes a product notes it in the feed, each process reads the feed every
//! [`FEED_PERIOD`], and such an answer is served past the short lifetime only if none of its
//! products was seen changed since it began, the exchange rates did not change meanwhile, and
//! the last read of the feed that was applied began less than [`FEED_VOUCHES_FOR`] ago. A
//! process that cannot read the feed falls back to the short lifetime.
//!
//! Persisted queries follow the automatic persisted query protocol: a client sends the
//! SHA-256 of its query in `extensions.persistedQuery.sha256Hash` and the query text only
//! when the server answers `PERSISTED_QUERY_NOT_FOUND`. With them an anonymous read fits in a
//! short GET that a CDN can keep and revalidate with its `ETag`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// The most answers kept at once; past it, expired answers are swept and, if none expired,
/// new requests run uncached until some do. With [`READ_CACHE_ANSWER_BYTES_MAX`] it bounds
/// the cache's memory at 256 MiB.
pub const READ_CACHE_ENTRIES_MAX: usize = 4_096;
/// The largest answer kept (a listing page of 20 products is about 4 KiB); a larger one goes
/// to the requests waiting for it and is then dropped.
pub const READ_CACHE_ANSWER_BYTES_MAX: usize = 64 * 1024;
/// The most sellers [`Kept`] for listings.
pub const SELLERS_KEPT_MAX: usize = 200_000;
/// The longest request (body or query string) whose answer is kept.
pub const READ_CACHE_KEY_BYTES_MAX: usize = 8 * 1024;
/// The most persisted queries kept (with [`PERSISTED_QUERY_BYTES_MAX`], 64 MiB at most); past
/// it, an arbitrary one is forgotten for each new one (its clients send its text again when
/// told it is not found).
pub const PERSISTED_QUERIES_MAX: usize = 4_096;
/// The longest query text that may be persisted.
pub const PERSISTED_QUERY_BYTES_MAX: usize = 16 * 1024;

/// How often each process reads the catalogue's change feed.
pub const FEED_PERIOD: Duration = Duration::from_millis(250);
/// A product answer is served past the short lifetime only while the last applied read of
/// the change feed began less than this long ago: every change committed before that read
/// began has been applied, and one committed after it is younger than this, so no change
/// shows later than this (under one second) after its commit.
pub const FEED_VOUCHES_FOR: Duration = Duration::from_millis(750);
/// How far back each read of the feed looks. A change is noted at its transaction's `now`,
/// which precedes its commit, and processes' clocks differ; a change noted up to this long
/// before it became visible is still seen.
pub const FEED_OVERLAP: Duration = Duration::from_secs(5);
/// The most entries one read of the feed takes; when that many come back, every kept product
/// answer is dropped.
pub const FEED_ENTRIES_MAX: u32 = 20_000;

/// Locks a mutex whose every change is one insert or remove, so a panic while it was held
/// cannot have left it half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One execution's answer, as sent.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The serialized GraphQL response.
    pub body: Bytes,
    /// A strong validator of `body`: the first 128 bits of its SHA-256, quoted.
    pub etag: String,
    /// Whether the response carried no errors.
    pub succeeded: bool,
    /// Whether the answer may be kept: the response carried no errors and is at most
    /// [`READ_CACHE_ANSWER_BYTES_MAX`] long.
    pub keep: bool,
    /// The products the answer read, when it read nothing else: such an answer may be kept
    /// until one of them changes.
    pub products: Option<Arc<[Uuid]>>,
}

impl Answer {
    /// The answer of a response serialized as `body`, kept if `succeeded` and not too long.
    pub fn new(body: Bytes, succeeded: bool) -> Self {
        let digest = Sha256::digest(&body);
        let half = digest.get(..16).unwrap_or_default();
        Self {
            etag: format!("\"{}\"", hex::encode(half)),
            keep: succeeded && body.len() <= READ_CACHE_ANSWER_BYTES_MAX,
            succeeded,
            body,
            products: None,
        }
    }

    /// The same answer, known to read nothing but `products`.
    pub fn reading_only(self, products: Vec<Uuid>) -> Self {
        Self {
            products: Some(products.into()),
            ..self
        }
    }
}

/// The answer to one request, filled by the first request that asks for it.
#[derive(Debug)]
pub struct Slot {
    key: Bytes,
    started: Instant,
    answer: OnceCell<Answer>,
}

/// Where a request stands with the cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lookup {
    /// Answered from memory.
    Hit,
    /// Executed by this request (and shared with those that asked meanwhile).
    Miss,
}

impl Lookup {
    /// The `result` label of the cache's counter.
    pub fn label(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
        }
    }
}

/// What the change feed has told this process.
#[derive(Debug)]
struct Feed {
    /// When the last applied read of the feed began; `None` before the first.
    read_from: Option<Instant>,
    /// When each product was last seen changed (for `product_ttl`).
    changed: HashMap<Uuid, Instant>,
    /// The feed's entries already applied, by product and the writer's time in microseconds,
    /// until they fall out of the window each read looks at.
    applied: HashSet<(Uuid, i64)>,
    /// Product answers that began before this are not served past the short lifetime.
    all_changed: Instant,
}

/// The anonymous read cache of one server process.
#[derive(Debug)]
pub struct ReadCache {
    ttl: Duration,
    product_ttl: Duration,
    slots: Mutex<HashMap<Bytes, Arc<Slot>>>,
    feed: Mutex<Feed>,
}

impl ReadCache {
    /// A cache keeping answers for `ttl`, and answers reading only products up to
    /// `product_ttl` while the change feed vouches for them; `None` for a zero `ttl` (no
    /// cache).
    pub fn new(ttl: Duration, product_ttl: Duration) -> Option<Self> {
        (!ttl.is_zero()).then(|| Self {
            ttl,
            product_ttl,
            slots: Mutex::new(HashMap::new()),
            feed: Mutex::new(Feed {
                read_from: None,
                changed: HashMap::new(),
                applied: HashSet::new(),
                all_changed: Instant::now(),
            }),
        })
    }

    /// Whether product answers are kept past the short lifetime (the feed is worth reading).
    pub fn keeps_products(&self) -> bool {
        self.product_ttl > self.ttl
    }

    /// Applies one read of the change feed that began at `began` and took the entries after
    /// `window` (the writer's time, in microseconds): the answers reading a product of an
    /// entry not applied before, begun before now, are no longer served past the short
    /// lifetime.
    pub fn changes_seen(
        &self,
        began: Instant,
        window: i64,
        entries: impl IntoIterator<Item = (Uuid, i64)>,
    ) {
        let now = Instant::now();
        let mut feed = lock(&self.feed);
        for (product, at) in entries {
            if feed.applied.insert((product, at)) {
                feed.changed.insert(product, now);
            }
        }
        feed.applied.retain(|(_, at)| *at > window);
        let product_ttl = self.product_ttl;
        feed.changed
            .retain(|_, at| now.duration_since(*at) < product_ttl);
        feed.read_from = Some(began);
    }

    /// Drops every kept product answer (the exchange rates changed, or too much changed to
    /// name).
    pub fn forget_products(&self) {
        lock(&self.feed).all_changed = Instant::now();
    }

    /// Whether `slot` may still be served at `now`: within the short lifetime, or a
    /// finished product answer the feed vouches for.
    fn live<'c>(
        &'c self,
        slot: &Slot,
        now: Instant,
        feed: &mut Option<MutexGuard<'c, Feed>>,
    ) -> bool {
        let age = now.duration_since(slot.started);
        if age < self.ttl {
            return true;
        }
        let Some(products) = slot
            .answer
            .get()
            .and_then(|answer| answer.products.as_ref())
        else {
            return false;
        };
        if age >= self.product_ttl {
            return false;
        }
        let feed = feed.get_or_insert_with(|| lock(&self.feed));
        feed.read_from
            .is_some_and(|read| now.saturating_duration_since(read) < FEED_VOUCHES_FOR)
            && feed.all_changed < slot.started
            && products.iter().all(|product| {
                feed.changed
                    .get(product)
                    .is_none_or(|changed| *changed < slot.started)
            })
    }

    /// The slot of a request identified by `key` (its bytes, prefixed by its method), or
    /// `None` when the request must run uncached: its key is too long, or `read_only` (asked
    /// only the first time a key is seen) says it is not a query.
    pub fn slot(&self, key: Bytes, read_only: impl FnOnce() -> bool) -> Option<Arc<Slot>> {
        if key.len() > READ_CACHE_KEY_BYTES_MAX {
            return None;
        }
        let now = Instant::now();
        {
            let mut slots = lock(&self.slots);
            if let Some(slot) = slots.get(&key) {
                if self.live(slot, now, &mut None) {
                    return Some(slot.clone());
                }
                // A key stays in the map only if it was read-only when first seen.
                let fresh = Arc::new(Slot::new(key.clone(), now));
                slots.insert(key, fresh.clone());
                return Some(fresh);
            }
        }
        if !read_only() {
            return None;
        }
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(&key)
            && self.live(slot, now, &mut None)
        {
            return Some(slot.clone());
        }
        let fresh = Arc::new(Slot::new(key.clone(), now));
        if slots.len() >= READ_CACHE_ENTRIES_MAX {
            self.make_room(&mut slots, now);
        }
        if slots.len() < READ_CACHE_ENTRIES_MAX {
            slots.insert(key, fresh.clone());
        }
        Some(fresh)
    }

    /// The slot's answer: the one already there, or the one `fill` makes (while the other
    /// requests of the slot wait for it). An answer that may not be kept leaves the cache.
    pub async fn answer<F>(&self, slot: &Slot, fill: F) -> (Answer, Lookup)
    where
        F: Future<Output = Answer>,
    {
        let mut filled = false;
        let answer = slot
            .answer
            .get_or_init(|| {
                filled = true;
                fill
            })
            .await
            .clone();
        if !answer.keep {
            let mut slots = lock(&self.slots);
            if slots
                .get(&slot.key)
                .is_some_and(|kept| std::ptr::eq(Arc::as_ptr(kept), slot))
            {
                slots.remove(&slot.key);
            }
        }
        let lookup = if filled { Lookup::Miss } else { Lookup::Hit };
        (answer, lookup)
    }

    /// Sweeps the answers no longer served and, when every one still is, the older half.
    fn make_room(&self, slots: &mut HashMap<Bytes, Arc<Slot>>, now: Instant) {
        let mut feed = None;
        slots.retain(|_, slot| self.live(slot, now, &mut feed));
        if slots.len() >= READ_CACHE_ENTRIES_MAX {
            let mut started: Vec<Instant> = slots.values().map(|slot| slot.started).collect();
            let middle = started.len() / 2;
            let (_, cutoff, _) = started.select_nth_unstable(middle);
            let cutoff = *cutoff;
            slots.retain(|_, slot| slot.started > cutoff);
        }
    }

    /// How many answers the cache holds (expired ones included until they are swept).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }
}

impl Slot {
    fn new(key: Bytes, started: Instant) -> Self {
        Self {
            key,
            started,
            answer: OnceCell::new(),
        }
    }
}

/// Values by key, each kept for a lifetime counted from before it was read: what a cache of
/// public records (sellers' names and countries) needs, with the read cache's bound on how
/// late a change shows.
#[derive(Debug)]
pub struct Kept<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> Kept<K, V> {
    /// Keeps at most `capacity` values for `ttl` each (none with a zero `ttl`).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The values still kept among `keys`, and the keys to read.
    pub fn split(&self, keys: &[K]) -> (HashMap<K, V>, Vec<K>) {
        let now = Instant::now();
        let entries = lock(&self.entries);
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            match entries.get(key) {
                Some((read, value)) if now.duration_since(*read) < self.ttl => {
                    found.insert(*key, value.clone());
                }
                _ => missing.push(*key),
            }
        }
        (found, missing)
    }

    /// Keeps values read by a read that began at `started`.
    pub fn keep(&self, started: Instant, values: impl IntoIterator<Item = (K, V)>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = lock(&self.entries);
        for (key, value) in values {
            if entries.len() >= self.capacity && !entries.contains_key(&key) {
                let (now, ttl) = (Instant::now(), self.ttl);
                entries.retain(|_, (read, _)| now.duration_since(*read) < ttl);
                if entries.len() >= self.capacity {
                    return;
                }
            }
            entries.insert(key, (started, value));
        }
    }
}

/// Whether the operation a request runs (the one named, or the only one) is a query; `false`
/// for a document that does not parse or does not name one operation.
pub fn is_query(request: &mut async_graphql::Request) -> bool {
    operation_run(request).is_some_and(|op| op.ty == OperationType::Query)
}

/// Whether the operation a request runs reads nothing but products named by id: every field
/// at its root is `product` (or `__typename`), and no fragment is spread there.
pub fn reads_only_products(request: &mut async_graphql::Request) -> bool {
    operation_run(request).is_some_and(|op| {
        op.ty == OperationType::Query
            && op
                .selection_set
                .node
                .items
                .iter()
                .all(|item| match &item.node {
                    Selection::Field(field) => {
                        matches!(field.node.name.node.as_str(), "product" | "__typename")
                    }
                    Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
                })
    })
}

/// The operation a request runs, from its document parsed once: the parse is kept in the
/// request, and the execution takes it from there instead of parsing the text again.
/// `None` for a document that does not parse or does not name one operation.
fn operation_run(request: &mut async_graphql::Request) -> Option<&OperationDefinition> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    operation(document, name.as_deref())
}

/// The operation a request runs: the one named, or the only one (named or not).
fn operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, operation)| &operation.node),
        // A document of one named operation, run without naming it.
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The products a request's resolvers read, noted by `product(id:)`.
#[derive(Debug, Default)]
pub struct ProductsRead(Mutex<Vec<Uuid>>);

impl ProductsRead {
    /// Notes that `product` was read.
    pub fn note(&self, product: Uuid) {
        lock(&self.0).push(product);
    }

    /// The products noted.
    pub fn taken(&self) -> Vec<Uuid> {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// Why a persisted query could not be used; the code is what the protocol's clients look for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PersistedError {
    /// The hash names no query this server knows: send the text with it.
    #[error("PersistedQueryNotFound")]
    NotFound,
    /// The extension is not `{"version": 1, "sha256Hash": "<64 hex>"}`.
    #[error(
        "the persistedQuery extension must be {{\"version\": 1, \"sha256Hash\": \"<64 hex characters>\"}}"
    )]
    Invalid,
    /// The text sent does not hash to the hash sent.
    #[error("the query's SHA-256 is not the sha256Hash sent with it")]
    HashMismatch,
    /// The text is longer than [`PERSISTED_QUERY_BYTES_MAX`].
    #[error("the query is too long to be persisted")]
    TooLong,
}

impl PersistedError {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            PersistedError::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            PersistedError::Invalid => "invalid_input",
            PersistedError::HashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            PersistedError::TooLong => "PERSISTED_QUERY_TOO_LONG",
        }
    }
}

/// Query texts by their SHA-256, as clients registered them.
#[derive(Debug, Default)]
pub struct PersistedQueries {
    queries: Mutex<HashMap<[u8; 32], Arc<str>>>,
}

impl PersistedQueries {
    /// Resolves a request's `persistedQuery` extension, if it has one: a request with a text
    /// registers it under its hash; one without gets the text registered before.
    pub fn resolve(&self, request: &mut async_graphql::Request) -> Result<(), PersistedError> {
        let Some(extension) = request.extensions.remove("persistedQuery") else {
            return Ok(());
        };
        let hash = persisted_hash(&extension).ok_or(PersistedError::Invalid)?;
        if request.query.is_empty() {
            let text = lock(&self.queries)
                .get(&hash)
                .cloned()
                .ok_or(PersistedError::NotFound)?;
            request.query = text.to_string();
            return Ok(());
        }
        if request.query.len() > PERSISTED_QUERY_BYTES_MAX {
            return Err(PersistedError::TooLong);
        }
        if <[u8; 32]>::from(Sha256::digest(request.query.as_bytes())) != hash {
            return Err(PersistedError::HashMismatch);
        }
        let mut queries = lock(&self.queries);
        if !queries.contains_key(&hash) {
            if queries.len() >= PERSISTED_QUERIES_MAX
                && let Some(evicted) = queries.keys().next().copied()
            {
                queries.remove(&evicted);
            }
            queries.insert(hash, Arc::from(request.query.as_str()));
        }
        Ok(())
    }
}

fn persisted_hash(extension: &async_graphql::Value) -> Option<[u8; 32]> {
    let async_graphql::Value::Object(fields) = extension else {
        return None;
    };
    let version = fields.get("version")?;
    if *version != async_graphql::Value::from(1) {
        return None;
    }
    let async_graphql::Value::String(hash) = fields.get("sha256Hash")? else {
        return None;
    };
    let mut bytes = [0_u8; 32];
    hex::decode_to_slice(hash, &mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str, keep: bool) -> Answer {
        Answer::new(Bytes::from(text.to_owned()), keep)
    }

    #[tokio::test]
    async fn an_answer_is_shared_until_it_expires() {
        let Some(cache) = ReadCache::new(Duration::from_millis(200), Duration::ZERO) else {
            panic!("a non-zero lifetime makes a cache");
        };
        let key = Bytes::from_static(b"P{products}");
        let first = cache.slot(key.clone(), || true).expect("a query is cached");
        let (a, lookup) = cache.answer(&first, async { answer("one", true) }).await;
        assert_eq!((a.body.as_ref(), lookup), (b"one".as_ref(), Lookup::Miss));
        let again = cache
            .slot(key.clone(), || panic!("a known key is not parsed again"))
            .expect("still cached");
        let (b, lookup) = cache.answer(&again, async { answer("two", true) }).await;
        assert_eq!((b.body.as_ref(), lookup), (b"one".as_ref(), Lookup::Hit));
        assert_eq!(a.etag, b.etag);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let later = cache.slot(key, || true).expect("still a query");
        let (c, lookup) = cache.answer(&later, async { answer("three", true) }).await;
        assert_eq!((c.body.as_ref(), lookup), (b"three".as_ref(), Lookup::Miss));
        assert_ne!(a.etag, c.etag);
    }

    #[tokio::test]
    async fn errors_and_mutations_are_not_kept() {
        let Some(cache) = ReadCache::new(Duration::from_secs(60), Duration::ZERO) else {
            panic!("a non-zero lifetime makes a cache");
        };
        assert!(
            cache
                .slot(Bytes::from_static(b"Pmutation"), || false)
                .is_none()
        );
        assert_eq!(cache.len(), 0);
        let key = Bytes::from_static(b"P{failing}");
        let slot = cache.slot(key.clone(), || true).expect("a query");
        let (a, _) = cache.answer(&slot, async { answer("error", false) }).await;
        assert!(!a.keep);
        assert_eq!(cache.len(), 0, "an answer with errors leaves the cache");
        let long = cache
            .slot(Bytes::from_static(b"P{long}"), || true)
            .expect("a query");
        let text = "x".repeat(READ_CACHE_ANSWER_BYTES_MAX + 1);
        let (c, _) = cache.answer(&long, async { answer(&text, true) }).await;
        assert!(!c.keep);
        assert_eq!(cache.len(), 0, "an answer over the size limit is not kept");
        let retry = cache.slot(key, || true).expect("a query");
        let (b, lookup) = cache.answer(&retry, async { answer("fine", true) }).await;
        assert_eq!((b.body.as_ref(), lookup), (b"fine".as_ref(), Lookup::Miss));
        assert!(ReadCache::new(Duration::ZERO, Duration::from_secs(60)).is_none());
    }

    /// Asks `cache` for `key`, answered with `text` reading only `products` on a miss.
    async fn ask(
        cache: &ReadCache,
        key: &'static [u8],
        text: &str,
        products: &[Uuid],
    ) -> (Bytes, Lookup) {
        let slot = cache
            .slot(Bytes::from_static(key), || true)
            .expect("a query");
        let fill = async { answer(text, true).reading_only(products.to_vec()) };
        let (answer, lookup) = cache.answer(&slot, fill).await;
        (answer.body, lookup)
    }

    #[tokio::test]
    async fn a_product_answer_outlives_the_short_lifetime_until_its_product_changes() {
        let Some(cache) = ReadCache::new(Duration::from_millis(50), Duration::from_secs(60)) else {
            panic!("a non-zero lifetime makes a cache");
        };
        let (lamp, chair) = (Uuid::from_u128(1), Uuid::from_u128(2));
        cache.changes_seen(Instant::now(), 0, []);
        ask(&cache, b"Plamp", "lamp 1", &[lamp]).await;
        ask(&cache, b"Pchair", "chair 1", &[chair]).await;
        tokio::time::sleep(Duration::from_millis(80)).await;
        // Past the short lifetime, vouched for by a fresh read of the feed.
        cache.changes_seen(Instant::now(), 0, []);
        assert_eq!(
            ask(&cache, b"Plamp", "lamp 2", &[lamp]).await,
            (Bytes::from("lamp 1"), Lookup::Hit)
        );
        // The lamp changes: its answer goes, the chair's stays.
        cache.changes_seen(Instant::now(), 0, [(lamp, 7)]);
        assert_eq!(
            ask(&cache, b"Plamp", "lamp 3", &[lamp]).await,
            (Bytes::from("lamp 3"), Lookup::Miss)
        );
        assert_eq!(
            ask(&cache, b"Pchair", "chair 2", &[chair]).await.1,
            Lookup::Hit
        );
        // The rates change: every product answer goes.
        tokio::time::sleep(Duration::from_millis(80)).await;
        cache.forget_products();
        cache.changes_seen(Instant::now(), 0, []);
        assert_eq!(
            ask(&cache, b"Pchair", "chair 3", &[chair]).await,
            (Bytes::from("chair 3"), Lookup::Miss)
        );
    }

    #[tokio::test]
    async fn without_a_recent_read_of_the_feed_only_the_short_lifetime_holds() {
        let Some(cache) = ReadCache::new(Duration::from_millis(50), Duration::from_secs(60)) else {
            panic!("a non-zero lifetime makes a cache");
        };
        let lamp = Uuid::from_u128(1);
        // Never read: nothing is vouched for.
        ask(&cache, b"Plamp", "lamp 1", &[lamp]).await;
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            ask(&cache, b"Plamp", "lamp 2", &[lamp]).await.1,
            Lookup::Miss
        );
        // Read once, then not again for longer than the feed vouches.
        let read = Instant::now();
        cache.changes_seen(read, 0, []);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            ask(&cache, b"Plamp", "lamp 3", &[lamp]).await.1,
            Lookup::Hit
        );
        tokio::time::sleep(FEED_VOUCHES_FOR).await;
        assert_eq!(
            ask(&cache, b"Plamp", "lamp 4", &[lamp]).await.1,
            Lookup::Miss
        );
        // An answer that read more than products keeps the short lifetime only.
        cache.changes_seen(Instant::now(), 0, []);
        let slot = cache
            .slot(Bytes::from_static(b"Plist"), || true)
            .expect("a query");
        cache.answer(&slot, async { answer("list 1", true) }).await;
        tokio::time::sleep(Duration::from_millis(80)).await;
        cache.changes_seen(Instant::now(), 0, []);
        let slot = cache
            .slot(Bytes::from_static(b"Plist"), || true)
            .expect("a query");
        let (_, lookup) = cache.answer(&slot, async { answer("list 2", true) }).await;
        assert_eq!(lookup, Lookup::Miss);
    }

    #[tokio::test]
    async fn a_full_cache_drops_its_older_half() {
        let Some(cache) = ReadCache::new(Duration::from_secs(60), Duration::ZERO) else {
            panic!("a non-zero lifetime makes a cache");
        };
        for n in 0..READ_CACHE_ENTRIES_MAX {
            let key = Bytes::from(format!("P{{n{n}}}"));
            let slot = cache.slot(key, || true).expect("a query");
            cache.answer(&slot, async { answer("x", true) }).await;
        }
        assert_eq!(cache.len(), READ_CACHE_ENTRIES_MAX);
        let slot = cache
            .slot(Bytes::from_static(b"Pnew"), || true)
            .expect("a query");
        cache.answer(&slot, async { answer("new", true) }).await;
        let kept = cache.len();
        assert!(kept <= READ_CACHE_ENTRIES_MAX / 2 + 1 && kept > 1, "{kept}");
        let again = cache
            .slot(Bytes::from_static(b"Pnew"), || true)
            .expect("a query");
        let (_, lookup) = cache.answer(&again, async { answer("newer", true) }).await;
        assert_eq!(lookup, Lookup::Hit, "the newest answer is kept");
    }

    fn request(text: &str, name: Option<&str>) -> async_graphql::Request {
        let request = async_graphql::Request::new(text);
        match name {
            Some(name) => request.operation_name(name),
            None => request,
        }
    }

    fn reads_only_products_text(text: &str, name: Option<&str>) -> bool {
        reads_only_products(&mut request(text, name))
    }

    fn is_query_text(text: &str, name: Option<&str>) -> bool {
        is_query(&mut request(text, name))
    }

    #[test]
    fn only_product_fields_at_the_root_read_only_products() {
        let product = "{ product(id: \"a\") { title seller { name } skus { price { amount } } } }";
        assert!(reads_only_products_text(product, None));
        assert!(reads_only_products_text(
            "query P($id: ID!) { a: product(id: $id) { title } b: product(id: \"x\") { title } __typename }",
            None
        ));
        assert!(!reads_only_products_text(
            "{ product(id: \"a\") { title } products(first: 2) { edges { cursor } } }",
            None
        ));
        assert!(!reads_only_products_text(
            "{ ...F } fragment F on Query { product(id: \"a\") { title } }",
            None
        ));
        assert!(!reads_only_products_text(
            "{ ... on Query { product(id: \"a\") { title } } }",
            None
        ));
        assert!(!reads_only_products_text(
            "mutation { product(id: \"a\") }",
            None
        ));
        assert!(!reads_only_products_text("{ product(", None));
    }

    #[tokio::test]
    async fn kept_values_expire_from_when_their_read_began() {
        let kept: Kept<u32, &str> = Kept::new(Duration::from_millis(100), 2);
        let before = Instant::now();
        kept.keep(before, [(1, "one"), (2, "two"), (3, "over capacity")]);
        let (found, missing) = kept.split(&[1, 2, 3]);
        assert_eq!((found.len(), missing), (2, vec![3]));
        tokio::time::sleep(Duration::from_millis(120)).await;
        let (found, missing) = kept.split(&[1, 2]);
        assert_eq!((found.len(), missing), (0, vec![1, 2]));
        kept.keep(Instant::now(), [(3, "three")]);
        assert_eq!(kept.split(&[3]).0.get(&3), Some(&"three"));
    }

    #[test]
    fn only_queries_are_read_only() {
        assert!(is_query_text("{ products { edges { cursor } } }", None));
        assert!(is_query_text("query A { a } mutation B { b }", Some("A")));
        assert!(!is_query_text("query A { a } mutation B { b }", Some("B")));
        assert!(!is_query_text("query A { a } query B { b }", None));
        assert!(!is_query_text("mutation { signOut }", None));
        assert!(!is_query_text("subscription { s }", None));
        assert!(!is_query_text("{ unclosed", None));
    }

    #[test]
    fn persisted_queries_register_and_resolve_by_hash() {
        let queries = PersistedQueries::default();
        let text = "{ currencies { code } }";
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        let request = |query: &str, hash: &str| {
            let mut request = async_graphql::Request::new(query);
            let extension = serde_json::json!({"version": 1, "sha256Hash": hash});
            request.extensions.insert(
                "persistedQuery".to_owned(),
                async_graphql::Value::from_json(extension).unwrap_or_default(),
            );
            request
        };
        let mut unknown = request("", &hash);
        assert_eq!(queries.resolve(&mut unknown), Err(PersistedError::NotFound));
        let mut wrong = request("{ other }", &hash);
        assert_eq!(
            queries.resolve(&mut wrong),
            Err(PersistedError::HashMismatch)
        );
        let mut bad = request("", "not hex");
        assert_eq!(queries.resolve(&mut bad), Err(PersistedError::Invalid));
        let mut register = request(text, &hash);
        assert_eq!(queries.resolve(&mut register), Ok(()));
        let mut by_hash = request("", &hash);
        assert_eq!(queries.resolve(&mut by_hash), Ok(()));
        assert_eq!(by_hash.query, text);
        assert!(!by_hash.extensions.contains_key("persistedQuery"));
    }
}
