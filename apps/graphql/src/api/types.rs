//! The API's output types: conversions from domain values, nothing more.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
use bazaar_domain::catalog::{ProductKind, ProductSummary, SkuView};
use bazaar_domain::orders::{CheckoutState, OrderState, PaymentState};
use bazaar_domain::payments::Action;
use bazaar_domain::store::{CheckoutRecord, OrderView, PaymentRecord, RefundRecord, RefundState};
use bazaar_domain::webhooks::AttemptOutcome;
use bazaar_domain::webhooks::{AttemptRecord, DeliveryRecord, DeliveryState, WebhookEndpoint};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};

use super::loaders::{Loaders, PriceKey};

/// An amount: a decimal string in major units (exactly as many decimals as the currency
/// has) and the ISO 4217 code.
#[derive(SimpleObject, Clone, Debug)]
pub struct MoneyNode {
    pub amount: String,
    pub currency: String,
}

impl From<Money> for MoneyNode {
    fn from(money: Money) -> Self {
        Self {
            amount: money.amount_string(),
            currency: money.currency().code().to_owned(),
        }
    }
}

/// An instant as RFC 3339 UTC with microseconds, e.g. `2026-11-27T10:15:00.000000Z`.
pub fn instant(at: Timestamp) -> String {
    bazaar_domain::time::Rfc3339::to_rfc3339(at)
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Kind {
    Physical,
    Digital,
}

impl From<ProductKind> for Kind {
    fn from(kind: ProductKind) -> Self {
        match kind {
            ProductKind::Physical => Self::Physical,
            ProductKind::Digital => Self::Digital,
        }
    }
}

impl From<Kind> for ProductKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Physical => Self::Physical,
            Kind::Digital => Self::Digital,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct SellerNode {
    pub id: ID,
    pub name: String,
    pub country: String,
    pub settlement_currency: String,
}

/// A product in a listing or in detail. `price` is the lowest SKU price in the currency the
/// query asked for (listed, or converted at the mid rate when the SKU is not listed in it).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ProductNode {
    pub id: ID,
    pub title: String,
    pub category: String,
    pub kind: Kind,
    /// Average rating as a decimal string with two places, e.g. `4.50`; null without reviews.
    pub rating: Option<String>,
    pub review_count: i32,
    #[graphql(skip)]
    pub seller_id: bazaar_domain::chart::SellerId,
    #[graphql(skip)]
    pub product_id: bazaar_domain::catalog::ProductId,
    #[graphql(skip)]
    pub currency: Currency,
}

impl ProductNode {
    pub fn new(summary: &ProductSummary, currency: Currency) -> Self {
        Self {
            id: ID(summary.id.as_uuid().to_string()),
            title: summary.title.clone(),
            category: summary.category.as_str().to_owned(),
            kind: summary.kind.into(),
            rating: summary
                .rating_centi
                .map(|centi| format!("{}.{:02}", centi / 100, centi % 100)),
            review_count: i32::try_from(summary.review_count).unwrap_or(i32::MAX),
            seller_id: summary.seller_id,
            product_id: summary.id,
            currency,
        }
    }
}

#[ComplexObject]
impl ProductNode {
    async fn seller(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SellerNode>> {
        let loaders = ctx.data::<Loaders>()?;
        let seller = loaders
            .sellers
            .load_one(self.seller_id)
            .await
            .map_err(|e| e.as_ref().clone())?;
        Ok(seller.map(|s| SellerNode {
            id: ID(s.id.to_string()),
            name: s.name,
            country: s.country.as_str().to_owned(),
            settlement_currency: s.settlement_currency.code().to_owned(),
        }))
    }

    async fn price(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MoneyNode>> {
        let loaders = ctx.data::<Loaders>()?;
        let price = loaders
            .prices
            .load_one(PriceKey(self.product_id, self.currency))
            .await
            .map_err(|e| e.as_ref().clone())?;
        Ok(price.map(MoneyNode::from))
    }

    /// The product's SKUs with their stock and price: the first `first` (default 20, at
    /// most 100, as many as a product may have), in a stable order.
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn skus(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<SkuNode>> {
        let first = usize::try_from(super::page_size(first)?).unwrap_or(usize::MAX);
        let app = super::app(ctx)?;
        let loaders = ctx.data::<Loaders>()?;
        let skus = loaders
            .skus
            .load_one(self.product_id)
            .await
            .map_err(|e| e.as_ref().clone())?
            .unwrap_or_default();
        let rates = app.market.rates();
        let now = app.now();
        Ok(skus
            .iter()
            .take(first)
            .map(|sku| SkuNode::new(sku, self.currency, &rates, now))
            .collect())
    }

    /// The product's reviews, newest first.
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<async_graphql::connection::Connection<String, ReviewNode>> {
        super::query::reviews(ctx, self.product_id, first, after).await
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct SkuNode {
    pub id: ID,
    pub title: String,
    /// Units that can still be bought; null for digital goods.
    pub available: Option<i32>,
    pub price: Option<MoneyNode>,
}

impl SkuNode {
    /// A SKU priced in `currency` at the rates of `now`; no price when the rates are stale.
    pub fn new(
        sku: &SkuView,
        currency: Currency,
        rates: &bazaar_domain::fx::RateBook,
        now: Timestamp,
    ) -> Self {
        Self {
            id: ID(sku.sku_id.as_uuid().to_string()),
            title: sku.title.clone(),
            available: sku.available.map(|a| i32::try_from(a).unwrap_or(i32::MAX)),
            price: bazaar_domain::orders::presentment_price(sku, currency, rates, now)
                .ok()
                .map(MoneyNode::from),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ReviewNode {
    pub id: ID,
    pub rating: i32,
    pub body: String,
    pub created_at: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct LineNode {
    pub id: ID,
    pub product_id: ID,
    pub sku_id: ID,
    pub title: String,
    pub quantity: i32,
    pub unit_price: MoneyNode,
    pub total: MoneyNode,
    /// Refunds requested or confirmed so far.
    pub refunded: MoneyNode,
    /// The line's tax and the rule that decided it.
    pub tax: super::tax::LineTaxNode,
}

impl LineNode {
    fn new(line: &bazaar_domain::orders::PricedLine, refunded: Money) -> Self {
        Self {
            id: ID(line.id.as_uuid().to_string()),
            product_id: ID(line.product_id.as_uuid().to_string()),
            sku_id: ID(line.sku_id.as_uuid().to_string()),
            title: line.title.clone(),
            quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
            unit_price: line.unit_price.into(),
            total: line.total.into(),
            refunded: refunded.into(),
            tax: (&line.tax).into(),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderState> for OrderStatus {
    fn from(state: OrderState) -> Self {
        match state {
            OrderState::AwaitingPayment => Self::AwaitingPayment,
            OrderState::Paid => Self::Paid,
            OrderState::Shipped => Self::Shipped,
            OrderState::Delivered => Self::Delivered,
            OrderState::Cancelled => Self::Cancelled,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct OrderNode {
    pub id: ID,
    pub checkout_id: ID,
    pub seller_id: ID,
    pub state: OrderStatus,
    pub total: MoneyNode,
    pub settlement_currency: String,
    pub created_at: String,
    pub lines: Vec<LineNode>,
}

impl From<&OrderView> for OrderNode {
    fn from(order: &OrderView) -> Self {
        Self {
            id: ID(order.id.as_uuid().to_string()),
            checkout_id: ID(order.checkout_id.as_uuid().to_string()),
            seller_id: ID(order.seller_id.to_string()),
            state: order.state.into(),
            total: order.total.into(),
            settlement_currency: order.settlement_currency.code().to_owned(),
            created_at: instant(order.created_at),
            lines: order
                .lines
                .iter()
                .map(|(line, refunded)| LineNode::new(line, *refunded))
                .collect(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ActionNode {
    /// `redirect`, `three_ds_challenge`, `voucher` or `qr_code`.
    pub r#type: String,
    pub url: Option<String>,
    pub reference: Option<String>,
    pub qr_data: Option<String>,
    pub expires_at: Option<String>,
}

impl From<&Action> for ActionNode {
    fn from(action: &Action) -> Self {
        let base = |kind: &str| Self {
            r#type: kind.to_owned(),
            url: None,
            reference: None,
            qr_data: None,
            expires_at: None,
        };
        match action {
            Action::Redirect { url } => Self {
                url: Some(url.clone()),
                ..base("redirect")
            },
            Action::ThreeDsChallenge { url } => Self {
                url: Some(url.clone()),
                ..base("three_ds_challenge")
            },
            Action::Voucher {
                reference,
                expires_at,
            } => Self {
                reference: Some(reference.clone()),
                expires_at: Some(instant(*expires_at)),
                ..base("voucher")
            },
            Action::QrCode { data, expires_at } => Self {
                qr_data: Some(data.clone()),
                expires_at: Some(instant(*expires_at)),
                ..base("qr_code")
            },
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentStatus {
    Pending,
    Authorised,
    Captured,
    Refused,
    Cancelled,
    Expired,
}

impl From<PaymentState> for PaymentStatus {
    fn from(state: PaymentState) -> Self {
        match state {
            PaymentState::Pending => Self::Pending,
            PaymentState::Authorised => Self::Authorised,
            PaymentState::Captured => Self::Captured,
            PaymentState::Refused => Self::Refused,
            PaymentState::Cancelled => Self::Cancelled,
            PaymentState::Expired => Self::Expired,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PaymentNode {
    pub id: ID,
    pub state: PaymentStatus,
    pub method: String,
    pub amount: MoneyNode,
    pub psp_reference: Option<String>,
    /// What the buyer must do next while the payment is pending.
    pub action: Option<ActionNode>,
}

impl From<&PaymentRecord> for PaymentNode {
    fn from(payment: &PaymentRecord) -> Self {
        Self {
            id: ID(payment.id.as_uuid().to_string()),
            state: payment.state.into(),
            method: payment.method.wire_name().to_owned(),
            amount: payment.amount.into(),
            psp_reference: payment
                .psp_reference
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            action: if payment.state.is_final() {
                None
            } else {
                payment.action.as_ref().map(ActionNode::from)
            },
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CheckoutStatus {
    Open,
    PaymentPending,
    Paid,
    Cancelled,
}

impl From<CheckoutState> for CheckoutStatus {
    fn from(state: CheckoutState) -> Self {
        match state {
            CheckoutState::Open => Self::Open,
            CheckoutState::PaymentPending => Self::PaymentPending,
            CheckoutState::Paid => Self::Paid,
            CheckoutState::Cancelled => Self::Cancelled,
        }
    }
}

/// One payment for the orders of several sellers.
#[derive(SimpleObject, Clone, Debug)]
pub struct CheckoutNode {
    pub id: ID,
    pub state: CheckoutStatus,
    pub total: MoneyNode,
    pub country: String,
    /// When the stock reservation lapses without a payment.
    pub expires_at: String,
    pub orders: Vec<CheckoutOrderNode>,
    pub payment: Option<PaymentNode>,
    /// The business buyer's tax number, when it gave one, and the registry's answer.
    pub tax_id: Option<super::tax::TaxIdNode>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct CheckoutOrderNode {
    pub id: ID,
    pub seller_id: ID,
    pub state: OrderStatus,
    pub total: MoneyNode,
    pub settlement_currency: String,
    /// The mid rate locked for this order when the seller settles in another currency.
    pub fx_rate: Option<String>,
    pub fx_source: Option<String>,
    pub lines: Vec<LineNode>,
}

impl From<&CheckoutRecord> for CheckoutNode {
    fn from(record: &CheckoutRecord) -> Self {
        let plan = &record.plan;
        Self {
            id: ID(plan.id.as_uuid().to_string()),
            state: record.state.into(),
            total: plan.total.into(),
            country: plan.country.as_str().to_owned(),
            expires_at: instant(record.expires_at),
            tax_id: super::tax::TaxIdNode::of(&plan.customer),
            orders: plan
                .orders
                .iter()
                .map(|order| CheckoutOrderNode {
                    id: ID(order.id.as_uuid().to_string()),
                    seller_id: ID(order.seller_id.to_string()),
                    state: record
                        .order_states
                        .iter()
                        .find(|(id, _)| *id == order.id)
                        .map_or(OrderStatus::AwaitingPayment, |(_, s)| (*s).into()),
                    total: order.total.into(),
                    settlement_currency: order.settlement_currency.code().to_owned(),
                    fx_rate: order.quote.as_ref().map(|q| q.rate.mid.to_string()),
                    fx_source: order.quote.as_ref().map(|q| q.rate.source.clone()),
                    lines: order
                        .lines
                        .iter()
                        .map(|line| LineNode::new(line, Money::zero(line.total.currency())))
                        .collect(),
                })
                .collect(),
            payment: record.payment.as_ref().map(PaymentNode::from),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RefundNode {
    pub id: ID,
    /// `requested`, `succeeded` or `failed`; the ledger posts when the provider confirms.
    pub state: String,
    pub amount: MoneyNode,
}

impl From<&RefundRecord> for RefundNode {
    fn from(refund: &RefundRecord) -> Self {
        Self {
            id: ID(refund.id.as_uuid().to_string()),
            state: match refund.state {
                RefundState::Requested => "requested",
                RefundState::Succeeded => "succeeded",
                RefundState::Failed => "failed",
            }
            .to_owned(),
            amount: refund.amount.into(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PaymentMethodNode {
    /// The method's wire name (Adyen's `type`), e.g. `pix`, `ideal`, `scheme`.
    pub r#type: String,
    pub name: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct CurrencyNode {
    pub code: String,
    /// Decimal places of the minor unit: 0 for JPY, 2 for EUR, 3 for KWD.
    pub decimals: i32,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct RateNode {
    pub from: String,
    pub to: String,
    /// Units of `to` per unit of `from`, mid-market, as a decimal string.
    pub mid: String,
    pub source: String,
    pub effective_at: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct UserNode {
    pub id: ID,
    pub email: String,
    /// `buyer`, `seller`, `finance` or `compliance`.
    pub role: String,
    /// The buyer or seller this user acts for.
    pub party_id: ID,
}

impl From<&bazaar_domain::identity::User> for UserNode {
    fn from(user: &bazaar_domain::identity::User) -> Self {
        let (role, party) = match user.role {
            bazaar_domain::identity::Role::Buyer(id) => ("buyer", id.as_uuid().to_string()),
            bazaar_domain::identity::Role::Seller(id) => ("seller", id.to_string()),
            bazaar_domain::identity::Role::Finance => ("finance", user.id.as_uuid().to_string()),
            bazaar_domain::identity::Role::Compliance => {
                ("compliance", user.id.as_uuid().to_string())
            }
        };
        Self {
            id: ID(user.id.as_uuid().to_string()),
            email: user.email.as_str().to_owned(),
            role: role.to_owned(),
            party_id: ID(party),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <token>`; shown once, stored only hashed.
    pub token: String,
    pub user: UserNode,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct BalancesNode {
    pub pending: MoneyNode,
    pub available: MoneyNode,
}

/// One transfer on one of the seller's ledger accounts.
#[derive(SimpleObject, Clone, Debug)]
pub struct LedgerEntryNode {
    pub transfer_id: ID,
    /// `capture`, `refund`, `chargeback`, ... from the transfer's metadata.
    pub kind: Option<String>,
    /// `credit` (money in) or `debit` (money out), seen from this account.
    pub direction: String,
    pub amount: MoneyNode,
    /// The account's posted balance right after this transfer.
    pub balance_after: MoneyNode,
    pub at: String,
    pub order_id: Option<String>,
    /// The FX rate used, when the sale was converted: mid rate, pair, source.
    pub fx_rate: Option<String>,
    pub fx_pair: Option<String>,
    pub fx_source: Option<String>,
}

/// Where a seller's events are delivered. Its signing secret is shown only when the
/// endpoint is created or its secret rotated, never here.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "WebhookEndpoint")]
pub struct WebhookEndpointNode {
    pub id: ID,
    pub url: String,
    /// The event patterns subscribed to: `*`, `<family>.*` or `<family>.<name>`.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it is disabled (by the seller, or after failing deliveries in a row).
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    /// While a rotated-out secret still signs deliveries beside the new one: until when.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookEndpointNode {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: ID(endpoint.id.to_string()),
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            consecutive_failures: i32::try_from(endpoint.consecutive_failures).unwrap_or(i32::MAX),
            previous_secret_expires_at: endpoint.previous_secret_expires_at.map(instant),
            created_at: instant(endpoint.created_at),
        }
    }
}

/// An endpoint with its new signing secret, which is shown only in this answer.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookSecretPayload {
    pub endpoint: WebhookEndpointNode,
    /// `whsec_` and 64 hex digits; deliveries are signed with HMAC-SHA256 under it.
    pub secret: String,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl From<DeliveryState> for WebhookDeliveryState {
    fn from(state: DeliveryState) -> Self {
        match state {
            DeliveryState::Pending => Self::Pending,
            DeliveryState::Succeeded => Self::Succeeded,
            DeliveryState::Failed => Self::Failed,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookAttemptOutcome {
    /// A 2xx answer.
    Delivered,
    /// No answer, a timeout, 429 or 5xx: tried again later.
    Retry,
    /// Any other answer: not tried again.
    Rejected,
}

impl From<AttemptOutcome> for WebhookAttemptOutcome {
    fn from(outcome: AttemptOutcome) -> Self {
        match outcome {
            AttemptOutcome::Delivered => Self::Delivered,
            AttemptOutcome::Retry => Self::Retry,
            AttemptOutcome::Reject => Self::Rejected,
        }
    }
}

/// One try to deliver an event.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "WebhookAttempt")]
pub struct WebhookAttemptNode {
    /// 1 for the first try.
    pub attempt: i32,
    pub started_at: String,
    /// The HTTP status answered; null when there was no answer.
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub outcome: WebhookAttemptOutcome,
    pub error: Option<String>,
    /// When the next try was scheduled; null when this one finished the delivery.
    pub next_attempt_at: Option<String>,
}

impl From<&AttemptRecord> for WebhookAttemptNode {
    fn from(attempt: &AttemptRecord) -> Self {
        Self {
            attempt: i32::try_from(attempt.attempt).unwrap_or(i32::MAX),
            started_at: instant(attempt.started_at),
            status_code: attempt.status_code.map(i32::from),
            latency_ms: i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX),
            outcome: attempt.outcome.into(),
            error: attempt.error.clone(),
            next_attempt_at: attempt.next_attempt_at.map(instant),
        }
    }
}

/// One event's delivery to one endpoint, with its attempts, oldest first.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "WebhookDelivery")]
pub struct WebhookDeliveryNode {
    pub id: ID,
    pub event_id: ID,
    pub event_type: String,
    pub state: WebhookDeliveryState,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub attempts: Vec<WebhookAttemptNode>,
}

impl From<&DeliveryRecord> for WebhookDeliveryNode {
    fn from(delivery: &DeliveryRecord) -> Self {
        Self {
            id: ID(delivery.id.to_string()),
            event_id: ID(delivery.event_id.to_string()),
            event_type: delivery.event_type.clone(),
            state: delivery.state.into(),
            next_attempt_at: delivery.next_attempt_at.map(instant),
            created_at: instant(delivery.created_at),
            attempts: delivery
                .attempts
                .iter()
                .map(WebhookAttemptNode::from)
                .collect(),
        }
    }
}

/// How many events of one type the seller has had.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "EventCount")]
pub struct EventCountNode {
    /// E.g. `order.paid`.
    pub event_type: String,
    pub count: i32,
}
