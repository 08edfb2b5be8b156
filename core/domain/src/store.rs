//! The commerce store port: sellers, catalog, checkouts, payments, refunds and reviews,
//! with the transactional operations the marketplace needs, each named for its intent.

use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::Money;
use uuid::Uuid;

use crate::catalog::{
    Buyer, BuyerId, NewProduct, ProductQuery, ProductSummary, Review, Seller, SkuId, SkuView,
};
use crate::chart::{ProviderName, SellerId};
use crate::error::CommerceError;
use crate::orders::{
    CheckoutId, CheckoutPlan, CheckoutState, LineId, OrderId, OrderState, PaymentState, RefundId,
};
use crate::payments::{Action, MethodType, PaymentId, PspReference};
use crate::postings::LineCapture;

bazaar_ledger::uuid_id!(
    /// A ledger intent's id, derived from its kind and subject.
    IntentId
);

/// A checkout as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckoutRecord {
    /// The checkout as priced and stored: buyer, country, currency, total, and the orders
    /// with their lines and locked quotes.
    pub plan: CheckoutPlan,
    /// Where the checkout stands.
    pub state: CheckoutState,
    /// When the stock reservation lapses if no payment result has arrived.
    pub expires_at: Timestamp,
    /// Each order's fulfilment state, in the order of `plan.orders`.
    pub order_states: Vec<(OrderId, OrderState)>,
    /// The checkout's payment, once one was started; a checkout has at most one.
    pub payment: Option<PaymentRecord>,
}

/// A payment as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentRecord {
    /// Bazaar's id, derived from the checkout's; the provider knows it as the merchant
    /// reference.
    pub id: PaymentId,
    /// The checkout it pays.
    pub checkout_id: CheckoutId,
    /// The provider handling it; the capture is posted to its clearing account.
    pub provider: ProviderName,
    /// The method the buyer chose.
    pub method: MethodType,
    /// The checkout's total when the payment started, in the currency the buyer pays in.
    pub amount: Money,
    /// Where the payment stands, as the provider's answers and notifications applied so far
    /// have left it.
    pub state: PaymentState,
    /// The provider's id of the payment, once its answer to the authorisation is recorded;
    /// `None` before.
    pub psp_reference: Option<PspReference>,
    /// What the buyer must do next, while the payment is pending.
    pub action: Option<Action>,
    /// Captured after its checkout was cancelled: posted to the captured-but-unfulfilled
    /// account instead of the sellers, and refunded in full.
    pub captured_late: bool,
}

/// A payment to start for a checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewPayment {
    /// Derived from the checkout, so paying again names the same payment.
    pub id: PaymentId,
    /// The checkout to pay.
    pub checkout_id: CheckoutId,
    /// The buyer asking; another buyer's checkout is refused as not found.
    pub buyer_id: BuyerId,
    /// The provider that handles the payment.
    pub provider: ProviderName,
    /// The method the buyer chose, already checked against what the provider offers for the
    /// checkout's country, currency and amount.
    pub method: MethodType,
}

/// Where a refund stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RefundState {
    /// Asked of the provider; counts against what is left to refund.
    Requested,
    /// The provider confirmed the refund, or it records a chargeback: it is counted in the
    /// line's refunded amount and its posting is queued for the ledger.
    Succeeded,
    /// The provider could not refund: the amount is refundable again.
    Failed,
}

impl RefundState {
    /// The state's stored name: `requested`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The state stored as `value`; `None` for any other string.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Requested, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A refund (or a chargeback, which is recorded as one) of part of a line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundRecord {
    /// Derived from the payment and the requester's scoped idempotency key; for a
    /// chargeback or the refund of a late capture, from the line and the cause.
    pub id: RefundId,
    /// The captured payment refunded.
    pub payment_id: PaymentId,
    /// The line refunded.
    pub line_id: LineId,
    /// Positive, in the currency the buyer paid in.
    pub amount: Money,
    /// Where the refund stands.
    pub state: RefundState,
    /// The provider's reference of the refund once it accepted it; `None` before, and
    /// always for a chargeback.
    pub psp_reference: Option<PspReference>,
    /// Whether it records a chargeback (the buyer's bank took the money back) rather than a
    /// refund asked of the provider.
    pub chargeback: bool,
}

/// A refund to request: part or all of one line of a captured payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewRefund {
    /// Derived from the payment and the requester's scoped key, so a retry names the same
    /// refund.
    pub id: RefundId,
    /// Who asks; a seller may refund only the lines of its own orders.
    pub buyer_or_seller: Requester,
    /// The payment of the checkout the line belongs to.
    pub payment_id: PaymentId,
    /// The line to refund.
    pub line_id: LineId,
    /// Positive, in the currency the buyer paid in, at most what is left to refund of the
    /// line.
    pub amount: Money,
    /// The requester's key as sent, 1 to 128 printable ASCII characters; stored scoped by
    /// [`Requester::scoped_key`].
    pub idempotency_key: String,
}

/// Who asks for a refund: the store checks they own the order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Requester {
    /// A seller, for a line of one of its own orders.
    Seller(SellerId),
    /// The platform itself (support, automatic refunds).
    Platform,
}

impl Requester {
    /// A refund idempotency key as stored: it belongs to whoever asked, so two sellers of
    /// one multi-seller checkout can use the same key without meeting each other's refund.
    pub fn scoped_key(&self, key: &str) -> String {
        match self {
            Self::Seller(seller) => format!("seller:{}/{key}", seller.as_uuid()),
            Self::Platform => format!("platform/{key}"),
        }
    }
}

/// A payment outcome to apply.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PaymentEvent {
    /// Card authorised; capture follows.
    Authorised,
    /// Money captured: the checkout is paid, reserved stock is consumed, digital goods are
    /// delivered, and the capture is queued for the ledger.
    Captured,
    /// Refused, cancelled or expired: the checkout is cancelled and its stock released.
    Failed(PaymentState),
    /// The provider confirmed a refund: it is queued for the ledger.
    RefundSucceeded(RefundId),
    /// The provider could not refund: the amount is refundable again.
    RefundFailed(RefundId),
    /// The buyer's bank took the money back: every line's unrefunded remainder is recorded
    /// as a chargeback refund and queued for the ledger.
    Chargeback,
}

/// What applying an event did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventOutcome {
    /// The event id was seen before; nothing was done.
    pub duplicate: bool,
    /// Ledger postings the event queued, to be submitted now.
    pub intents: Vec<LedgerIntent>,
    /// Refunds the event started on the platform's behalf (a late capture is refunded in
    /// full), to be sent to the provider now.
    pub refunds: Vec<RefundRecord>,
}

/// A ledger posting that a committed change owes the ledger. It is recorded in the same
/// transaction as the change, submitted afterwards (transfer ids are derived, so
/// submitting twice is harmless), and marked applied once the ledger has accepted it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LedgerIntent {
    /// One per kind and subject: a payment has one capture intent, a refund one refund
    /// intent.
    pub id: IntentId,
    /// What to post.
    pub kind: IntentKind,
    /// Failed postings so far.
    pub attempts: u32,
}

/// What a ledger intent posts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IntentKind {
    /// A payment's capture: each line's capture legs, or, for a late capture, the amount
    /// owed back to the buyer.
    Capture(PaymentId),
    /// A confirmed refund or chargeback: the reversal of its line's capture legs, or, after
    /// a late capture, the return of the amount owed back to the buyer.
    Refund(RefundId),
}

/// What a refund posts: the line, and how much of it was refunded before and after.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundPostingInput {
    /// The refunded line, as it was captured.
    pub line: LineCapture,
    /// How much of the line confirmed refunds had returned before this one, in minor units
    /// of the currency the buyer paid in; fixed when this refund was confirmed.
    pub before_minor: i64,
    /// How much of the line has been refunded with this refund: `before_minor` plus its
    /// amount.
    pub after_minor: i64,
    /// Whether the refund records a chargeback; its transfers are then marked as such.
    pub chargeback: bool,
    /// The payment was captured late: the refund clears the captured-but-unfulfilled
    /// account, since no capture was posted to the sellers.
    pub captured_late: bool,
}

/// A provider notification that failed to apply, as delivered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NotificationFailure {
    /// The provider that sent the notification.
    pub provider: ProviderName,
    /// The provider's id of the event (stable across redeliveries).
    pub event_id: String,
    /// The signature header and the raw body, so a parked notification can be replayed.
    pub signature: String,
    /// The raw request body, byte for byte.
    pub body: Vec<u8>,
    /// The stable code of the error it failed with.
    pub error_code: &'static str,
}

/// Whose orders to list: a buyer sees the orders it placed, a seller the orders it sells.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Party {
    /// A buyer: the orders it placed.
    Buyer(BuyerId),
    /// A seller: the orders of its products.
    Seller(SellerId),
}

/// An order as its buyer or seller sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderView {
    /// The order; with `created_at`, it makes the cursor of the page that follows.
    pub id: OrderId,
    /// The checkout the order was placed in.
    pub checkout_id: CheckoutId,
    /// The buyer who placed it.
    pub buyer_id: BuyerId,
    /// The seller who fulfils it.
    pub seller_id: SellerId,
    /// Where the order stands.
    pub state: OrderState,
    /// The order's total, tax included, in the currency the buyer paid in.
    pub total: Money,
    /// The currency the seller earns in for this order.
    pub settlement_currency: bazaar_money::Currency,
    /// When the order was placed; lists are ordered by it, newest first.
    pub created_at: Timestamp,
    /// Lines with how much of each has been refunded (requested or confirmed).
    pub lines: Vec<(crate::orders::PricedLine, Money)>,
}

/// A page position in a list ordered newest first: the last item's time and id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageCursor {
    /// The last item's creation time.
    pub created_at: Timestamp,
    /// The last item's id; it orders items created in the same microsecond.
    pub id: Uuid,
}

/// A review with when it was written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewView {
    /// The review as written.
    pub review: Review,
    /// When the review was added; lists are ordered by it, newest first.
    pub created_at: Timestamp,
}

/// The most items one list page returns.
pub const PAGE_LIMIT_MAX: u32 = 100;
/// The most rows a page query may ask the store for: a full page and the one row more that
/// tells whether another page follows.
pub const FETCH_LIMIT_MAX: u32 = PAGE_LIMIT_MAX + 1;

/// One page of a list, and whether another follows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Page<T> {
    /// The page's items, in list order; at most the limit asked for.
    pub items: Vec<T>,
    /// Whether at least one more item follows the last.
    pub has_next: bool,
}

impl<T> Page<T> {
    /// A page from rows fetched with one more than `limit`.
    pub fn from_fetched(mut fetched: Vec<T>, limit: u32) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_next = fetched.len() > limit;
        fetched.truncate(limit);
        Self {
            items: fetched,
            has_next,
        }
    }

    /// The page of `limit` items that `query` answers when asked for one more (which tells
    /// whether another page follows).
    pub async fn fetch<E, F>(limit: u32, query: impl FnOnce(u32) -> F) -> Result<Self, E>
    where
        F: Future<Output = Result<Vec<T>, E>>,
    {
        let fetched = query(limit.saturating_add(1)).await?;
        Ok(Self::from_fetched(fetched, limit))
    }
}

/// The commerce store.
///
/// Every implementation MUST run each method as one all-or-nothing transaction, and:
/// - `create_checkout`: for a (buyer, idempotency key) seen before, return that checkout if
///   the request fingerprint matches and `IdempotencyKeyReused` if not; otherwise reserve
///   every physical line's stock so that concurrent checkouts never reserve more than is
///   on hand (`OutOfStock` otherwise, nothing reserved), and store the checkout, its orders,
///   lines and reservations.
/// - `start_payment`: refuse with `ReservationExpired` a checkout whose reservation lapsed
///   or that was cancelled; return the existing payment if one was started.
/// - `apply_payment_event`: do nothing and say `duplicate` for an event id seen before;
///   apply only transitions that make sense (a captured payment is not cancelled by a late
///   expiry notice); record every ledger intent in the same transaction.
/// - `request_refund`: refuse with `RefundExceedsRemaining` an amount above the line's
///   total less its requested and succeeded refunds; the same idempotency key returns the
///   first refund, a different request with it `IdempotencyKeyReused`.
/// - `apply_payment_event`: decide the change with
///   [`payment_change`](crate::payments::payment_change) and persist exactly that; for a
///   [`CaptureLate`](crate::payments::PaymentChange::CaptureLate) record the payment as
///   captured late with a capture intent, request a platform refund of every line's
///   unrefunded remainder, and return those refunds; leave the orders cancelled.
/// - `expire_checkouts`: cancel checkouts whose reservation lapsed without a captured
///   payment, release their stock and return them.
/// - `pending_intents`: only intents neither applied nor parked whose retry time has come,
///   oldest first; `intent_failed` counts a failed attempt and stores its error code with
///   either the next attempt's time or the parking time.
/// - `notification_failed`: count one more failure of the (provider, event id), keeping the
///   latest error and the signed body, and return the failures so far.
/// - the catalogue's change feed: every method that changes what a product shows (its
///   creation, its stock reserved, consumed or released, a review of it) MUST note the
///   product as changed at its `now`, in the same transaction, for `catalog_changes`.
pub trait CommerceStore: Send + Sync {
    /// Stores a seller and its commission rates. MUST be idempotent on the seller's id: a
    /// seller that exists is left as it is, and the call succeeds.
    fn create_seller(
        &self,
        seller: &Seller,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// MUST return the seller with this id, commission rates included, or `None`.
    fn seller(
        &self,
        id: SellerId,
    ) -> impl Future<Output = Result<Option<Seller>, CommerceError>> + Send;

    /// MUST return the sellers that exist among `ids`, commission rates included, in no
    /// particular order; unknown ids are left out.
    fn sellers(
        &self,
        ids: &[SellerId],
    ) -> impl Future<Output = Result<Vec<Seller>, CommerceError>> + Send;

    /// Stores a buyer. MUST be idempotent on the buyer's id: a buyer that exists is left as
    /// it is, and the call succeeds.
    fn create_buyer(
        &self,
        buyer: &Buyer,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// MUST return the buyer with this id, or `None`.
    fn buyer(
        &self,
        id: BuyerId,
    ) -> impl Future<Output = Result<Option<Buyer>, CommerceError>> + Send;

    /// Refuses a product of an unknown seller with `NotFound("seller")`.
    fn create_product(
        &self,
        product: &NewProduct,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// The SKUs that exist among `ids`, in no particular order.
    fn sku_views(
        &self,
        ids: &[SkuId],
    ) -> impl Future<Output = Result<Vec<SkuView>, CommerceError>> + Send;

    /// MUST return at most `query.limit` products matching every filter of `query`
    /// (validated by the caller), in id order after `query.after`, with `price_from` the
    /// lowest SKU price in `query.currency` (`None` without a currency) and the rating and
    /// count of the product's reviews.
    fn search_products(
        &self,
        query: &ProductQuery,
    ) -> impl Future<Output = Result<Vec<ProductSummary>, CommerceError>> + Send;

    /// The sales earlier checkouts add to the tax thresholds, counting the lines of orders
    /// that were not cancelled, at the value each line stored at checkout: for each of
    /// `sellers`, its cross-border sales to EU consumers in EUR; for `state` (a US state),
    /// the marketplace's sales into it in USD and their number of orders. Each is the
    /// higher of the calendar year before `now`'s and `now`'s year so far. For each of
    /// `registered`, where its tax registrations place it
    /// ([`TaxRegistration::seller_area`](crate::tax::TaxRegistration::seller_area)); a
    /// seller without a registration in a subdivision of its country is left out.
    fn tax_history(
        &self,
        sellers: &[SellerId],
        state: Option<crate::tax::Area>,
        registered: &[SellerId],
        now: Timestamp,
    ) -> impl Future<Output = Result<crate::orders::TaxHistory, CommerceError>> + Send;

    /// The lines of paid checkouts placed from `from` (inclusive) to `to` (exclusive) whose
    /// tax was declared under `scheme`, with what was refunded of each.
    fn return_lines(
        &self,
        scheme: crate::tax::Scheme,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<crate::tax::ReturnLine>, CommerceError>> + Send;

    /// Stores a checkout `Open` until `expires_at`, its orders `AwaitingPayment` and its
    /// stock reservations, and MUST return it as stored; `fingerprint` is the
    /// [`CheckoutPlan::request_fingerprint`] of the request it was planned from.
    /// Idempotency and stock follow the rules above; an unknown buyer MUST be refused with
    /// `NotFound("buyer")`.
    fn create_checkout(
        &self,
        plan: &CheckoutPlan,
        idempotency_key: &str,
        fingerprint: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<CheckoutRecord, CommerceError>> + Send;

    /// MUST return the checkout with its orders' states and its payment, if one was
    /// started; `None` for an unknown id.
    fn checkout(
        &self,
        id: CheckoutId,
    ) -> impl Future<Output = Result<Option<CheckoutRecord>, CommerceError>> + Send;

    /// Starts the payment of a checkout for the checkout's total. MUST refuse another
    /// buyer's checkout with `NotFound("checkout")`, return the payment already stored
    /// under `payment.id` as it is, and otherwise store the payment `Pending` and move the
    /// checkout to `PaymentPending` (refusals follow the rules above).
    fn start_payment(
        &self,
        payment: &NewPayment,
        now: Timestamp,
    ) -> impl Future<Output = Result<PaymentRecord, CommerceError>> + Send;

    /// Records the provider's reference and what the buyer must do; keeps the stock
    /// reserved until `hold_until` if that is later than the current expiry.
    fn record_provider_reference(
        &self,
        payment_id: PaymentId,
        psp_reference: &PspReference,
        action: Option<&Action>,
        hold_until: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// The payment of the checkout an order belongs to, once one was started.
    fn order_payment(
        &self,
        order: OrderId,
    ) -> impl Future<Output = Result<Option<PaymentId>, CommerceError>> + Send;

    /// MUST return the payment with this id, or `None`.
    fn payment(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Option<PaymentRecord>, CommerceError>> + Send;

    /// `event_id` is the provider's id for the event, `None` for a synchronous answer.
    fn apply_payment_event(
        &self,
        payment_id: PaymentId,
        event_id: Option<&str>,
        event: &PaymentEvent,
        now: Timestamp,
    ) -> impl Future<Output = Result<EventOutcome, CommerceError>> + Send;

    /// Records a refund `Requested` and counts it against its line's remainder. Before it
    /// looks at the key, it MUST refuse a line outside the payment's checkout with
    /// `NotFound("line")` and a seller's request for another seller's line with
    /// `NotFound("order")`; for a new key, it MUST refuse a payment not captured with
    /// `InvalidState` and an amount in another currency than the payment's with
    /// `InvalidInput` (bounds and keys follow the rules above).
    fn request_refund(
        &self,
        refund: &NewRefund,
        now: Timestamp,
    ) -> impl Future<Output = Result<RefundRecord, CommerceError>> + Send;

    /// Records the provider's reference of a refund it accepted, so that the refund's
    /// notifications find it; MUST change nothing else.
    fn set_refund_reference(
        &self,
        id: RefundId,
        psp_reference: &PspReference,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// MUST return the refund whose provider reference is `psp_reference`, or `None`.
    fn refund_by_reference(
        &self,
        psp_reference: &PspReference,
    ) -> impl Future<Output = Result<Option<RefundRecord>, CommerceError>> + Send;

    /// Expires at most `limit` checkouts, `Open` or `PaymentPending` with `expires_at` at
    /// or before `now`, earliest first. For each it MUST cancel the checkout and its orders
    /// awaiting payment, release its held stock and cancel its payment if still `Pending`
    /// or `Authorised`, and return the checkouts as they are afterwards; two concurrent
    /// calls MUST NOT both return one checkout.
    fn expire_checkouts(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CheckoutRecord>, CommerceError>> + Send;

    /// A seller moves its own order (ship, deliver); `NotFound("order")` for an order of
    /// another seller.
    fn move_order(
        &self,
        seller: SellerId,
        order: OrderId,
        to: OrderState,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// Only the buyer of a delivered order that holds the product may review it, once.
    fn add_review(
        &self,
        review: &Review,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// MUST return the changes noted after `since`, at most `limit` of them: when `limit`
    /// come back, more may have been noted.
    fn catalog_changes(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::catalog::CatalogChange>, CommerceError>> + Send;

    /// Forgets the changes noted before `before`; returns how many.
    fn forget_changes(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, CommerceError>> + Send;

    /// MUST return one [`LineCapture`] per line of every order of the payment's checkout,
    /// from what was stored at checkout (line totals, tax and commission rates, the locked
    /// quote), with the buyer's country as jurisdiction; `NotFound("payment")` for an
    /// unknown payment.
    fn capture_inputs(
        &self,
        payment_id: PaymentId,
    ) -> impl Future<Output = Result<Vec<LineCapture>, CommerceError>> + Send;

    /// MUST return what a confirmed refund posts: its line and the line's refunded amounts
    /// before and after it, as fixed when the refund was confirmed, so that computing the
    /// posting again gives the same transfers; `InvalidState` for a refund not confirmed,
    /// `NotFound("refund")` for an unknown one.
    fn refund_inputs(
        &self,
        refund_id: RefundId,
    ) -> impl Future<Output = Result<RefundPostingInput, CommerceError>> + Send;

    /// The SKUs of the given products, for pricing listings in one query.
    fn product_skus(
        &self,
        products: &[crate::catalog::ProductId],
    ) -> impl Future<Output = Result<Vec<SkuView>, CommerceError>> + Send;

    /// A party's orders, newest first, after `after`; at most `limit` (1 to
    /// [`FETCH_LIMIT_MAX`]: a page and one row more).
    fn orders_for(
        &self,
        party: Party,
        after: Option<PageCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OrderView>, CommerceError>> + Send;

    /// One order, only if it belongs to `party` (`None` otherwise, as if it did not exist).
    fn order_for(
        &self,
        party: Party,
        order: OrderId,
    ) -> impl Future<Output = Result<Option<OrderView>, CommerceError>> + Send;

    /// A product's reviews, newest first; at most `limit` (1 to [`FETCH_LIMIT_MAX`]).
    fn reviews(
        &self,
        product: crate::catalog::ProductId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ReviewView>, CommerceError>> + Send;

    /// MUST return at most `limit` intents due at `now` (see the rules above), each with
    /// its failed attempts so far.
    fn pending_intents(
        &self,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<LedgerIntent>, CommerceError>> + Send;

    /// Marks an intent applied: it MUST never be returned by `pending_intents` again.
    /// Marking it again changes nothing.
    fn intent_applied(
        &self,
        id: IntentId,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// Records a failed attempt at an intent: `retry_at` is when to try again, `None` parks
    /// it (it is then never returned by `pending_intents` again).
    fn intent_failed(
        &self,
        id: IntentId,
        error_code: &'static str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// Platform refunds (of late captures) not yet accepted by the provider, oldest first.
    fn unsent_platform_refunds(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RefundRecord>, CommerceError>> + Send;

    /// Records a failed delivery of a provider notification (see the rules above) and MUST
    /// return how many times that (provider, event id) has failed, this delivery included.
    fn notification_failed(
        &self,
        failure: &NotificationFailure,
        now: Timestamp,
    ) -> impl Future<Output = Result<u32, CommerceError>> + Send;

    /// Parks a failed notification: it stays stored, marked for operators.
    fn park_notification(
        &self,
        provider: &ProviderName,
        event_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;
}
