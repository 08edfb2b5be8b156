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

/// A checkout as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckoutRecord {
    pub plan: CheckoutPlan,
    pub state: CheckoutState,
    /// When the stock reservation lapses if no payment result has arrived.
    pub expires_at: Timestamp,
    pub order_states: Vec<(OrderId, OrderState)>,
    pub payment: Option<PaymentRecord>,
}

/// A payment as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub checkout_id: CheckoutId,
    pub provider: ProviderName,
    pub method: MethodType,
    pub amount: Money,
    pub state: PaymentState,
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
    pub id: PaymentId,
    pub checkout_id: CheckoutId,
    pub buyer_id: BuyerId,
    pub provider: ProviderName,
    pub method: MethodType,
}

/// Where a refund stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RefundState {
    /// Asked of the provider; counts against what is left to refund.
    Requested,
    Succeeded,
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Requested, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A refund (or a chargeback, which is recorded as one) of part of a line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundRecord {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub line_id: LineId,
    pub amount: Money,
    pub state: RefundState,
    pub psp_reference: Option<PspReference>,
    pub chargeback: bool,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewRefund {
    pub id: RefundId,
    pub buyer_or_seller: Requester,
    pub payment_id: PaymentId,
    pub line_id: LineId,
    pub amount: Money,
    pub idempotency_key: String,
}

/// Who asks for a refund: the store checks they own the order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Requester {
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
    pub id: Uuid,
    pub kind: IntentKind,
    /// Failed postings so far.
    pub attempts: u32,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IntentKind {
    Capture(PaymentId),
    Refund(RefundId),
}

/// What a refund posts: the line, and how much of it was refunded before and after.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundPostingInput {
    pub line: LineCapture,
    pub before_minor: i64,
    pub after_minor: i64,
    pub chargeback: bool,
    /// The payment was captured late: the refund clears the captured-but-unfulfilled
    /// account, since no capture was posted to the sellers.
    pub captured_late: bool,
}

/// A provider notification that failed to apply, as delivered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NotificationFailure {
    pub provider: ProviderName,
    /// The provider's id of the event (stable across redeliveries).
    pub event_id: String,
    /// The signature header and the raw body, so a parked notification can be replayed.
    pub signature: String,
    pub body: Vec<u8>,
    /// The stable code of the error it failed with.
    pub error_code: &'static str,
}

/// Whose orders to list: a buyer sees the orders it placed, a seller the orders it sells.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Party {
    Buyer(BuyerId),
    Seller(SellerId),
}

/// An order as its buyer or seller sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderView {
    pub id: OrderId,
    pub checkout_id: CheckoutId,
    pub buyer_id: BuyerId,
    pub seller_id: SellerId,
    pub state: OrderState,
    pub total: Money,
    pub settlement_currency: bazaar_money::Currency,
    pub created_at: Timestamp,
    /// Lines with how much of each has been refunded (requested or confirmed).
    pub lines: Vec<(crate::orders::PricedLine, Money)>,
}

/// A page position in a list ordered newest first: the last item's time and id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageCursor {
    pub created_at: Timestamp,
    pub id: Uuid,
}

/// A review with when it was written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewView {
    pub review: Review,
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
    pub items: Vec<T>,
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
pub trait CommerceStore: Send + Sync {
    fn create_seller(
        &self,
        seller: &Seller,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    fn seller(
        &self,
        id: SellerId,
    ) -> impl Future<Output = Result<Option<Seller>, CommerceError>> + Send;

    fn sellers(
        &self,
        ids: &[SellerId],
    ) -> impl Future<Output = Result<Vec<Seller>, CommerceError>> + Send;

    fn create_buyer(
        &self,
        buyer: &Buyer,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

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

    fn search_products(
        &self,
        query: &ProductQuery,
    ) -> impl Future<Output = Result<Vec<ProductSummary>, CommerceError>> + Send;

    fn create_checkout(
        &self,
        plan: &CheckoutPlan,
        idempotency_key: &str,
        fingerprint: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<CheckoutRecord, CommerceError>> + Send;

    fn checkout(
        &self,
        id: CheckoutId,
    ) -> impl Future<Output = Result<Option<CheckoutRecord>, CommerceError>> + Send;

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

    fn request_refund(
        &self,
        refund: &NewRefund,
        now: Timestamp,
    ) -> impl Future<Output = Result<RefundRecord, CommerceError>> + Send;

    fn set_refund_reference(
        &self,
        id: RefundId,
        psp_reference: &PspReference,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    fn refund_by_reference(
        &self,
        psp_reference: &PspReference,
    ) -> impl Future<Output = Result<Option<RefundRecord>, CommerceError>> + Send;

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

    fn capture_inputs(
        &self,
        payment_id: PaymentId,
    ) -> impl Future<Output = Result<Vec<LineCapture>, CommerceError>> + Send;

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

    fn pending_intents(
        &self,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<LedgerIntent>, CommerceError>> + Send;

    fn intent_applied(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// Records a failed attempt at an intent: `retry_at` is when to try again, `None` parks
    /// it (it is then never returned by `pending_intents` again).
    fn intent_failed(
        &self,
        id: Uuid,
        error_code: &'static str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), CommerceError>> + Send;

    /// Platform refunds (of late captures) not yet accepted by the provider, oldest first.
    fn unsent_platform_refunds(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RefundRecord>, CommerceError>> + Send;

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
