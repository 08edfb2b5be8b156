//! The commerce store on PostgreSQL (and CockroachDB), behind the `CommerceStore` port.
//!
//! Every method is one SERIALIZABLE transaction on a pooled connection, run on tokio's
//! blocking pool and retried on serialization conflicts and lost connections within the
//! retry policy. Stock is reserved with a conditional `UPDATE ... WHERE on_hand - reserved
//! >= quantity` (and a CHECK constraint backs it), so concurrent checkouts can never
//! oversell. See `docs/commerce.md`.

pub mod coalesce;
pub(crate) mod emit;
pub mod group;
pub(crate) mod rows;
pub(crate) mod transact;
pub(crate) mod tx;

pub(crate) use crate::retry::StoreFailure;
pub(crate) use transact::{Db, Mode, pool, run};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bazaar_domain::catalog::{
    Buyer, BuyerId, CatalogChange, NewProduct, ProductQuery, ProductSummary, Review, Seller, SkuId,
    SkuView,
};
use bazaar_domain::chart::{ProviderName, SellerId};
use bazaar_domain::error::CommerceError;
use bazaar_domain::orders::{CheckoutId, CheckoutPlan, OrderId, OrderState, RefundId};
use bazaar_domain::payments::{Action, PaymentId, PspReference};
use bazaar_domain::postings::LineCapture;
use bazaar_domain::store::{
    CheckoutRecord, CommerceStore, EventOutcome, FETCH_LIMIT_MAX, IntentId, LedgerIntent,
    NewPayment, NewRefund, NotificationFailure, OrderView, PageCursor, Party, PaymentEvent,
    PaymentRecord, RefundPostingInput, RefundRecord, ReviewView,
};
use bazaar_ledger::Timestamp;
use diesel::pg::PgConnection;
use diesel::r2d2::Pool;
use uuid::Uuid;

use crate::pool::Manager;
use crate::retry::RetryPolicy;

/// Reads of exactly one statement, which run without a transaction (see [`Mode::Statement`]).
const STATEMENTS: [&str; 8] = [
    "products_by_ids",
    "seller",
    "sellers",
    "product_skus",
    "sku_views",
    "catalog_changes",
    "buyer",
    "threshold_totals",
];

/// The other operations that only read.
const READS: [&str; 13] = [
    // One statement, but planned for its parameters: a generic plan cannot prune its
    // optional filters (`$2 IS NULL OR ...`) and reads the whole catalogue.
    "search_products",
    "seller_areas",
    "checkout",
    "payment",
    "order_payment",
    "refund_by_reference",
    "capture_inputs",
    "refund_inputs",
    "pending_intents",
    "unsent_platform_refunds",
    "orders_for",
    "order_for",
    "reviews",
];

/// The commerce store.
#[derive(Clone)]
pub struct PostgresCommerce {
    pool: Pool<Manager>,
    retry: Arc<RetryPolicy>,
    /// Set while this process folds tax threshold totals: one fold at a time.
    folding: Arc<AtomicBool>,
    /// The checkouts waiting to be stored in a group.
    checkouts: Arc<crate::batch::Batcher<tx::NewCheckout, group::Answer>>,
    /// Reads by id waiting to be answered together.
    buyers: coalesce::Reads<Buyer>,
    skus: coalesce::Reads<SkuView>,
    product_skus: coalesce::Reads<SkuView>,
    sellers: coalesce::Reads<Seller>,
    products: coalesce::Reads<ProductSummary>,
}

impl std::fmt::Debug for PostgresCommerce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCommerce")
            .field("pool_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

/// An error inside a store transaction: a rule refused it (`E`, the port's error type), or
/// the database failed.
#[derive(Debug)]
pub(crate) enum Fail<E = CommerceError> {
    Domain(E),
    Db(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Fail<E> {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

impl StoreFailure for CommerceError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

impl From<CommerceError> for Fail {
    fn from(error: CommerceError) -> Self {
        Self::Domain(error)
    }
}

impl PostgresCommerce {
    /// A store with a pool of at most `pool_size` connections; connections open lazily.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            pool: pool(database_url, pool_size, &retry),
            retry: Arc::new(retry),
            folding: Arc::new(AtomicBool::new(false)),
            checkouts: group::queue(),
            buyers: coalesce::reads("buyers"),
            skus: coalesce::reads("sku_views"),
            product_skus: coalesce::reads("product_skus"),
            sellers: coalesce::reads("sellers"),
            products: coalesce::reads("products"),
        }
    }

    /// Folds the rows of these tax threshold totals into their bases, in the background,
    /// unless this process is folding already: the totals read are right either way, and a
    /// total not folded now is folded by a later reader.
    fn fold_in_background(&self, crowded: Vec<tx::Key>) {
        if self
            .folding
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(error) = store
                .run("fold_threshold_totals", move |conn| {
                    tx::fold(conn, &crowded)
                })
                .await
            {
                tracing::warn!(%error, "the tax threshold totals were not folded");
            }
            store.folding.store(false, Ordering::Release);
        });
    }

    /// Runs `work` in a SERIALIZABLE transaction, retrying conflicts and lost connections.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl Fn(&mut PgConnection) -> Result<T, Fail> + Send + 'static,
    ) -> Result<T, CommerceError> {
        let mode = if STATEMENTS.contains(&operation) {
            Mode::Statement
        } else if READS.contains(&operation) {
            Mode::Read
        } else {
            Mode::Write
        };
        run(&self.pool, &self.retry, operation, mode, work).await
    }

    /// Runs `probe` on a pooled connection, waiting at most `wait` for one, without a
    /// transaction or retries: for readiness checks, which must neither open connections
    /// of their own nor wait long. No connection in time is `Unavailable`.
    pub async fn probe<T: Send + 'static>(
        &self,
        wait: std::time::Duration,
        probe: impl FnOnce(&mut PgConnection) -> T + Send + 'static,
    ) -> Result<T, CommerceError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get_timeout(wait).map_err(|error| {
                tracing::warn!(%error, "no database connection for a readiness probe");
                CommerceError::Unavailable
            })?;
            Ok(probe(&mut conn))
        })
        .await
        .map_err(|_| CommerceError::Internal)?
    }
}

impl CommerceStore for PostgresCommerce {
    async fn create_seller(&self, seller: &Seller, now: Timestamp) -> Result<(), CommerceError> {
        let seller = seller.clone();
        self.run("create_seller", move |conn| {
            tx::create_seller(conn, &seller, now)
        })
        .await
    }

    async fn seller(&self, id: SellerId) -> Result<Option<Seller>, CommerceError> {
        self.run("seller", move |conn| {
            Ok(tx::sellers(conn, &[id.as_uuid()])?.into_iter().next())
        })
        .await
    }

    async fn sellers(&self, ids: &[SellerId]) -> Result<Vec<Seller>, CommerceError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        self.read_by_ids(&self.sellers, "sellers", ids, tx::sellers, |s| {
            s.id.as_uuid()
        })
        .await
    }

    async fn create_buyer(&self, buyer: &Buyer, now: Timestamp) -> Result<(), CommerceError> {
        let buyer = buyer.clone();
        self.run("create_buyer", move |conn| {
            tx::create_buyer(conn, &buyer, now)
        })
        .await
    }

    async fn buyer(&self, id: BuyerId) -> Result<Option<Buyer>, CommerceError> {
        let ids = vec![id.as_uuid()];
        let found = self
            .read_by_ids(&self.buyers, "buyer", ids, tx::buyers, |b| b.id.as_uuid())
            .await?;
        Ok(found.into_iter().next())
    }

    async fn create_product(
        &self,
        product: &NewProduct,
        now: Timestamp,
    ) -> Result<(), CommerceError> {
        let product = product.clone();
        self.run("create_product", move |conn| {
            tx::create_product(conn, &product, now)
        })
        .await
    }

    async fn sku_views(&self, ids: &[SkuId]) -> Result<Vec<SkuView>, CommerceError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        self.read_by_ids(&self.skus, "sku_views", ids, tx::sku_views, |v| {
            v.sku_id.as_uuid()
        })
        .await
    }

    async fn search_products(
        &self,
        query: &ProductQuery,
    ) -> Result<Vec<ProductSummary>, CommerceError> {
        if let Some(ids) = by_ids_only(query) {
            // A product page's read, answered together with the others waiting.
            let mut found = self
                .read_by_ids(
                    &self.products,
                    "products_by_ids",
                    ids,
                    tx::products_by_ids,
                    |p| p.id.as_uuid(),
                )
                .await?;
            found.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
            return Ok(found);
        }
        let query = query.clone();
        self.run("search_products", move |conn| tx::search(conn, &query))
            .await
    }

    async fn tax_history(
        &self,
        sellers: &[SellerId],
        state: Option<bazaar_domain::tax::Area>,
        registered: &[SellerId],
        now: Timestamp,
    ) -> Result<bazaar_domain::orders::TaxHistory, CommerceError> {
        let sellers: Vec<Uuid> = sellers.iter().map(|id| id.as_uuid()).collect();
        let registered: Vec<Uuid> = registered.iter().map(|id| id.as_uuid()).collect();
        let read = move |conn: &mut PgConnection| {
            tx::totals(conn, &tx::threshold_keys(&sellers, state, now)?)
        };
        let mut totals = self.run("threshold_totals", read.clone()).await?;
        if !totals.missing.is_empty() {
            // The first checkout to need a total sums its base from the orders.
            let missing = std::mem::take(&mut totals.missing);
            self.run("sum_threshold_bases", move |conn| {
                tx::sum_bases(conn, &missing)
            })
            .await?;
            totals = self.run("threshold_totals", read).await?;
        }
        if !totals.crowded.is_empty() {
            self.fold_in_background(std::mem::take(&mut totals.crowded));
        }
        let mut history =
            tx::history_of(&totals.found, state, now).map_err(|_| CommerceError::Internal)?;
        if !registered.is_empty() {
            let areas = self
                .run("seller_areas", move |conn| {
                    tx::seller_areas(conn, &registered)
                })
                .await?;
            history.seller_areas.extend(areas);
        }
        Ok(history)
    }

    async fn return_lines(
        &self,
        scheme: bazaar_domain::tax::Scheme,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<bazaar_domain::tax::ReturnLine>, CommerceError> {
        self.run("return_lines", move |conn| {
            tx::return_lines(conn, scheme, from, to)
        })
        .await
    }

    async fn create_checkout(
        &self,
        plan: &CheckoutPlan,
        idempotency_key: &str,
        fingerprint: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<CheckoutRecord, CommerceError> {
        self.create_grouped(tx::NewCheckout {
            plan: plan.clone(),
            key: idempotency_key.to_owned(),
            fingerprint: fingerprint.to_owned(),
            expires_at,
            now,
        })
        .await
    }

    async fn checkout(&self, id: CheckoutId) -> Result<Option<CheckoutRecord>, CommerceError> {
        self.run("checkout", move |conn| {
            tx::load_checkout(conn, id.as_uuid())
        })
        .await
    }

    async fn start_payment(
        &self,
        payment: &NewPayment,
        now: Timestamp,
    ) -> Result<PaymentRecord, CommerceError> {
        let payment = payment.clone();
        self.run("start_payment", move |conn| {
            tx::start_payment(conn, &payment, now)
        })
        .await
    }

    async fn record_provider_reference(
        &self,
        payment_id: PaymentId,
        psp_reference: &PspReference,
        action: Option<&Action>,
        hold_until: Timestamp,
    ) -> Result<(), CommerceError> {
        let reference = psp_reference.clone();
        let action = action.cloned();
        self.run("record_provider_reference", move |conn| {
            tx::record_provider_reference(conn, payment_id, &reference, action.as_ref(), hold_until)
        })
        .await
    }

    async fn order_payment(&self, order: OrderId) -> Result<Option<PaymentId>, CommerceError> {
        self.run("order_payment", move |conn| tx::order_payment(conn, order))
            .await
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, CommerceError> {
        self.run("payment", move |conn| {
            tx::payment(conn, id.as_uuid(), false)
        })
        .await
    }

    async fn apply_payment_event(
        &self,
        payment_id: PaymentId,
        event_id: Option<&str>,
        event: &PaymentEvent,
        now: Timestamp,
    ) -> Result<EventOutcome, CommerceError> {
        let event_id = event_id.map(str::to_owned);
        let event = event.clone();
        self.run("apply_payment_event", move |conn| {
            tx::apply_payment_event(conn, payment_id, event_id.as_deref(), &event, now)
        })
        .await
    }

    async fn request_refund(
        &self,
        refund: &NewRefund,
        now: Timestamp,
    ) -> Result<RefundRecord, CommerceError> {
        let refund = refund.clone();
        self.run("request_refund", move |conn| {
            tx::request_refund(conn, &refund, now)
        })
        .await
    }

    async fn set_refund_reference(
        &self,
        id: RefundId,
        psp_reference: &PspReference,
    ) -> Result<(), CommerceError> {
        let reference = psp_reference.clone();
        self.run("set_refund_reference", move |conn| {
            tx::set_refund_reference(conn, id, &reference)
        })
        .await
    }

    async fn refund_by_reference(
        &self,
        psp_reference: &PspReference,
    ) -> Result<Option<RefundRecord>, CommerceError> {
        let reference = psp_reference.clone();
        self.run("refund_by_reference", move |conn| {
            tx::refund_by_reference(conn, &reference)
        })
        .await
    }

    async fn expire_checkouts(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<CheckoutRecord>, CommerceError> {
        self.run("expire_checkouts", move |conn| {
            tx::expire_checkouts(conn, now, limit)
        })
        .await
    }

    async fn move_order(
        &self,
        seller: SellerId,
        order: OrderId,
        to: OrderState,
        now: Timestamp,
    ) -> Result<(), CommerceError> {
        self.run("move_order", move |conn| {
            tx::move_order(conn, seller, order, to, now)
        })
        .await
    }

    async fn add_review(&self, review: &Review, now: Timestamp) -> Result<(), CommerceError> {
        let review = review.clone();
        self.run("add_review", move |conn| tx::add_review(conn, &review, now))
            .await
    }

    async fn catalog_changes(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<CatalogChange>, CommerceError> {
        self.run("catalog_changes", move |conn| {
            tx::catalog_changes(conn, since, limit)
        })
        .await
    }

    async fn forget_changes(&self, before: Timestamp) -> Result<u64, CommerceError> {
        let forgotten = self
            .run("forget_changes", move |conn| {
                tx::forget_changes(conn, before)
            })
            .await?;
        Ok(u64::try_from(forgotten).unwrap_or(u64::MAX))
    }

    async fn capture_inputs(
        &self,
        payment_id: PaymentId,
    ) -> Result<Vec<LineCapture>, CommerceError> {
        self.run("capture_inputs", move |conn| {
            tx::capture_inputs(conn, payment_id)
        })
        .await
    }

    async fn refund_inputs(
        &self,
        refund_id: RefundId,
    ) -> Result<RefundPostingInput, CommerceError> {
        self.run("refund_inputs", move |conn| {
            tx::refund_inputs(conn, refund_id)
        })
        .await
    }

    async fn product_skus(
        &self,
        products: &[bazaar_domain::catalog::ProductId],
    ) -> Result<Vec<SkuView>, CommerceError> {
        let ids: Vec<Uuid> = products.iter().map(|p| p.as_uuid()).collect();
        // Product pages and listings read their SKUs together with the others waiting.
        self.read_by_ids(
            &self.product_skus,
            "product_skus",
            ids,
            tx::product_skus,
            |v| v.product_id.as_uuid(),
        )
        .await
    }

    async fn orders_for(
        &self,
        party: Party,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Vec<OrderView>, CommerceError> {
        let limit = limit.clamp(1, FETCH_LIMIT_MAX);
        self.run("orders_for", move |conn| {
            tx::orders_for(conn, party, after, None, limit)
        })
        .await
    }

    async fn order_for(
        &self,
        party: Party,
        order: OrderId,
    ) -> Result<Option<OrderView>, CommerceError> {
        self.run("order_for", move |conn| {
            Ok(tx::orders_for(conn, party, None, Some(order), 1)?
                .into_iter()
                .next())
        })
        .await
    }

    async fn reviews(
        &self,
        product: bazaar_domain::catalog::ProductId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Vec<ReviewView>, CommerceError> {
        let limit = limit.clamp(1, FETCH_LIMIT_MAX);
        self.run("reviews", move |conn| {
            tx::reviews(conn, product, after, limit)
        })
        .await
    }

    async fn pending_intents(
        &self,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<LedgerIntent>, CommerceError> {
        self.run("pending_intents", move |conn| {
            tx::pending_intents(conn, limit, now)
        })
        .await
    }

    async fn intent_failed(
        &self,
        id: IntentId,
        error_code: &'static str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), CommerceError> {
        self.run("intent_failed", move |conn| {
            tx::intent_failed(conn, id.as_uuid(), error_code, retry_at, now)
        })
        .await
    }

    async fn unsent_platform_refunds(
        &self,
        limit: u32,
    ) -> Result<Vec<RefundRecord>, CommerceError> {
        self.run("unsent_platform_refunds", move |conn| {
            tx::unsent_platform_refunds(conn, limit)
        })
        .await
    }

    async fn notification_failed(
        &self,
        failure: &NotificationFailure,
        now: Timestamp,
    ) -> Result<u32, CommerceError> {
        let failure = failure.clone();
        self.run("notification_failed", move |conn| {
            tx::notification_failed(conn, &failure, now)
        })
        .await
    }

    async fn park_notification(
        &self,
        provider: &ProviderName,
        event_id: &str,
        now: Timestamp,
    ) -> Result<(), CommerceError> {
        let provider = provider.as_str().to_owned();
        let event_id = event_id.to_owned();
        self.run("park_notification", move |conn| {
            tx::park_notification(conn, &provider, &event_id, now)
        })
        .await
    }

    async fn intent_applied(&self, id: IntentId, now: Timestamp) -> Result<(), CommerceError> {
        self.run("intent_applied", move |conn| {
            tx::intent_applied(conn, id.as_uuid(), now)
        })
        .await
    }
}

/// The ids of a search that asks for nothing but named products (a product page's read),
/// whose answer is those that exist in id order. Every field is named, so a filter added to
/// [`ProductQuery`] must be decided on here.
fn by_ids_only(query: &ProductQuery) -> Option<Vec<Uuid>> {
    let ProductQuery {
        text: None,
        category: None,
        seller_id: None,
        kind: None,
        currency: None,
        price_min_minor: None,
        price_max_minor: None,
        ids: Some(ids),
        after: None,
        limit: _,
    } = query
    else {
        return None;
    };
    Some(ids.iter().map(|id| id.as_uuid()).collect())
}
