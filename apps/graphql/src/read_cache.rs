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
//! Persisted queries follow the automatic persisted query protocol: a client sends the
//! SHA-256 of its query in `extensions.persistedQuery.sha256Hash` and the query text only
//! when the server answers `PERSISTED_QUERY_NOT_FOUND`. With them an anonymous read fits in a
//! short GET that a CDN can keep and revalidate with its `ETag`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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

/// The anonymous read cache of one server process.
#[derive(Debug)]
pub struct ReadCache {
    ttl: Duration,
    slots: Mutex<HashMap<Bytes, Arc<Slot>>>,
}

impl ReadCache {
    /// A cache keeping answers for `ttl`; `None` for a zero `ttl` (no cache).
    pub fn new(ttl: Duration) -> Option<Self> {
        (!ttl.is_zero()).then(|| Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
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
                if now.duration_since(slot.started) < self.ttl {
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
            && now.duration_since(slot.started) < self.ttl
        {
            return Some(slot.clone());
        }
        let fresh = Arc::new(Slot::new(key.clone(), now));
        if slots.len() >= READ_CACHE_ENTRIES_MAX {
            let ttl = self.ttl;
            slots.retain(|_, slot| now.duration_since(slot.started) < ttl);
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
pub fn is_query(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let ty = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation.node.ty,
        (DocumentOperations::Multiple(operations), Some(name)) => {
            match operations.iter().find(|(n, _)| n.as_str() == name) {
                Some((_, operation)) => operation.node.ty,
                None => return false,
            }
        }
        (DocumentOperations::Multiple(_), None) => return false,
    };
    ty == OperationType::Query
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
        let Some(cache) = ReadCache::new(Duration::from_millis(200)) else {
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
        let Some(cache) = ReadCache::new(Duration::from_secs(60)) else {
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
        assert!(ReadCache::new(Duration::ZERO).is_none());
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
        assert!(is_query("{ products { edges { cursor } } }", None));
        assert!(is_query("query A { a } mutation B { b }", Some("A")));
        assert!(!is_query("query A { a } mutation B { b }", Some("B")));
        assert!(!is_query("query A { a } query B { b }", None));
        assert!(!is_query("mutation { signOut }", None));
        assert!(!is_query("subscription { s }", None));
        assert!(!is_query("{ unclosed", None));
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
