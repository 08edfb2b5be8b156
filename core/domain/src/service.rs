//! The marketplace service: checkout, payment, notifications, refunds and settlement,
//! composed from the commerce store, the ledger and a payment provider.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use bazaar_ledger::{
    Clock, HistoryCursor, HistoryEntry, LedgerHistory, LedgerStore, StoreError, Timestamp,
};
use bazaar_money::{Currency, Money};

use crate::Country;
use crate::catalog::{
    Buyer, BuyerId, NewProduct, ProductDraft, ProductId, ProductQuery, ProductSummary, Review,
    Seller, SkuView,
};
use crate::chart::{ChartAccount, SellerId};
use crate::error::CommerceError;
use crate::fx::{RateBook, Spread};
use crate::orders::{
    CartLine, CheckoutId, CheckoutPlan, LineId, OrderId, OrderState, PaymentState, PricingContext,
    RefundId, TaxRates, plan_checkout, validate_idempotency_key,
};
use crate::payments::{
    AuthorizeRequest, MethodDetails, MethodOffer, NotificationEvent, PaymentId, PaymentProvider,
    PaymentStatus, ProviderError, Settlement,
};
use crate::postings::{Posting, late_capture_posting, late_refund_posting, settlement_posting};
use crate::recovery::{AfterFailure, after_intent_failure, after_notification_failure};
use crate::store::{
    CheckoutRecord, CommerceStore, IntentKind, LedgerIntent, NewPayment, NewRefund,
    NotificationFailure, OrderView, PAGE_LIMIT_MAX, Page, PageCursor, Party, PaymentEvent,
    PaymentRecord, RefundRecord, Requester, ReviewView,
};

/// How long stock stays reserved for a checkout that has no payment result yet.
pub const RESERVATION_SECS_DEFAULT: u32 = 30 * 60;
/// Extra time a reservation is held past a pending payment's own expiry, so a voucher paid
/// at the last minute still finds its stock.
pub const RESERVATION_GRACE_SECS: u32 = 15 * 60;
/// The most ledger intents one recovery pass posts.
const INTENTS_PER_PASS_MAX: u32 = 500;
/// The most platform refunds one recovery pass sends.
const REFUNDS_PER_PASS_MAX: u32 = 100;

/// What one pass over the pending ledger intents did; the caller logs the failures.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct IntentsPass {
    pub posted: usize,
    /// Failed this time, to be tried again after a backoff.
    pub retrying: usize,
    /// Failed for the last time: parked with their error code for finance.
    pub parked: usize,
    pub failures: Vec<IntentFailure>,
}

/// One failed attempt at posting an intent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IntentFailure {
    pub intent_id: uuid::Uuid,
    /// Failed attempts so far, this one included.
    pub attempts: u32,
    /// The code stored with it: the ledger's rejection code, or the commerce error code.
    pub code: &'static str,
    pub parked: bool,
}

/// What one pass over the unsent platform refunds did; the caller logs the failures.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RefundsPass {
    pub sent: usize,
    /// Refunds the provider did not take, with the error code. Those it refused outright
    /// (`refused`) are marked failed and need a person; the others are sent again.
    pub failures: Vec<(RefundId, &'static str, bool)>,
}

/// What became of one delivery of a provider notification; the caller logs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Delivery {
    /// Applied (or a repeat of one applied before): acknowledge it.
    Applied,
    /// Failed `attempts` times so far with `code`: do not acknowledge it, so the provider
    /// delivers it again.
    Failed { attempts: u32, code: &'static str },
    /// Failed, and recording the failure failed too (`code` is the store's): do not
    /// acknowledge it.
    Unrecorded { code: &'static str },
    /// Failed too often: stored for operators with its signed body; acknowledge it so the
    /// provider stops.
    Parked { attempts: u32, code: &'static str },
}

impl Delivery {
    /// Whether the provider may forget the notification: its effect, or the notification
    /// itself, is committed in Bazaar's database.
    pub fn acknowledge(self) -> bool {
        matches!(self, Self::Applied | Self::Parked { .. })
    }

    /// `applied`, `failed` or `parked`.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Failed { .. } | Self::Unrecorded { .. } => "failed",
            Self::Parked { .. } => "parked",
        }
    }
}

/// The code kept for a failure: the ledger's own reason where the ledger refused.
fn failure_code(error: &CommerceError) -> &'static str {
    match error {
        CommerceError::LedgerRejected { code } => code,
        other => other.code(),
    }
}

/// The marketplace's settings.
#[derive(Clone, Debug)]
pub struct MarketplaceConfig {
    pub spread: Spread,
    pub taxes: TaxRates,
    pub reservation_secs: u32,
}

/// A seller's balances, straight from the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SellerBalances {
    pub pending: Money,
    pub available: Money,
}

/// Which of a seller's ledger accounts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SellerAccount {
    Pending,
    Available,
}

/// One transfer on a seller's account, as the seller reads it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SellerLedgerEntry {
    pub entry: HistoryEntry,
    /// Whether the transfer credited the account (money in).
    pub credit: bool,
    /// The account's balance (credits less debits) right after the transfer, in the
    /// seller's settlement currency.
    pub balance_after: Money,
}

/// What a buyer asks to check out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckoutCommand {
    pub id: CheckoutId,
    pub buyer_id: BuyerId,
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    pub idempotency_key: String,
}

/// How a buyer pays a checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayCommand {
    pub checkout_id: CheckoutId,
    pub buyer_id: BuyerId,
    pub details: MethodDetails,
    pub return_url: String,
}

/// The marketplace service.
pub struct Marketplace<S, L, P> {
    store: S,
    ledger: L,
    provider: P,
    rates: RwLock<Arc<RateBook>>,
    config: MarketplaceConfig,
    clock: Arc<dyn Clock>,
}

impl<S, L, P> std::fmt::Debug for Marketplace<S, L, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplace")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The ledger adapter logs the cause where it happens; callers get the commerce code.
fn ledger_unavailable(error: StoreError) -> CommerceError {
    match error {
        StoreError::Unavailable(_) => CommerceError::Unavailable,
        StoreError::Internal(_) => CommerceError::Internal,
    }
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    pub fn new(
        store: S,
        ledger: L,
        provider: P,
        rates: RateBook,
        config: MarketplaceConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            ledger,
            provider,
            rates: RwLock::new(Arc::new(rates)),
            config,
            clock,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The rate book in use.
    pub fn rates(&self) -> Arc<RateBook> {
        match self.rates.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the rate book (after a rate source published new rates). Checkouts already
    /// placed keep the rates they locked.
    pub fn set_rates(&self, rates: RateBook) {
        let rates = Arc::new(rates);
        match self.rates.write() {
            Ok(mut guard) => *guard = rates,
            Err(poisoned) => *poisoned.into_inner() = rates,
        }
    }

    pub async fn register_seller(&self, seller: &Seller) -> Result<(), CommerceError> {
        self.store.create_seller(seller, self.now()).await?;
        self.open_seller_accounts(seller).await
    }

    /// Opens a stored seller's ledger accounts (pending, available, reserve). Idempotent; a
    /// posting also opens the accounts it touches, so a seller whose opening failed is not
    /// stuck.
    pub async fn open_seller_accounts(&self, seller: &Seller) -> Result<(), CommerceError> {
        let currency = seller.settlement_currency;
        let accounts = [
            ChartAccount::SellerPending(seller.id),
            ChartAccount::SellerAvailable(seller.id),
            ChartAccount::SellerReserve(seller.id),
        ];
        for account in accounts {
            let new = account
                .new_account(currency)
                .map_err(|_| CommerceError::Internal)?;
            self.ledger
                .create_account(new)
                .await
                .map_err(ledger_unavailable)?
                .map_err(|_| CommerceError::Internal)?;
        }
        Ok(())
    }

    pub async fn register_buyer(&self, buyer: &Buyer) -> Result<(), CommerceError> {
        self.store.create_buyer(buyer, self.now()).await
    }

    pub async fn add_product(&self, product: &NewProduct) -> Result<(), CommerceError> {
        product.validate()?;
        self.store.create_product(product, self.now()).await
    }

    /// Lists a seller's product. The same key with the same product returns it again; with
    /// anything different, `idempotency_key_reused`.
    pub async fn create_product(
        &self,
        seller_id: SellerId,
        idempotency_key: &str,
        draft: ProductDraft,
    ) -> Result<ProductSummary, CommerceError> {
        let product = NewProduct::from_draft(seller_id, idempotency_key, draft)?;
        self.add_product(&product).await?;
        let found = self
            .search_page(&ProductQuery {
                ids: Some(vec![product.id]),
                limit: 1,
                ..ProductQuery::default()
            })
            .await?;
        // The id is the seller's own; a product just written and not found is a fault.
        found
            .items
            .into_iter()
            .find(|summary| summary.seller_id == seller_id)
            .ok_or(CommerceError::Internal)
    }

    pub async fn search(&self, query: &ProductQuery) -> Result<Vec<ProductSummary>, CommerceError> {
        query.validate()?;
        self.store.search_products(query).await
    }

    /// A page of products (`query.limit` of them, at most 100) and whether another follows.
    pub async fn search_page(
        &self,
        query: &ProductQuery,
    ) -> Result<Page<ProductSummary>, CommerceError> {
        query.validate()?;
        // One row more than the page tells whether another page follows.
        let fetch = ProductQuery {
            limit: query.limit.saturating_add(1),
            ..query.clone()
        };
        let fetched = self.store.search_products(&fetch).await?;
        Ok(Page::from_fetched(fetched, query.limit))
    }

    /// The methods a buyer in `country` may pay `amount` with, as the provider offers them.
    pub fn payment_methods(&self, country: &Country, amount: Money) -> Vec<MethodOffer> {
        if !amount.is_positive() {
            return Vec::new();
        }
        self.provider.payment_methods(country, amount)
    }

    /// Prices the cart, splits it per seller and reserves the stock. The same idempotency
    /// key returns the same checkout.
    pub async fn checkout(
        &self,
        command: &CheckoutCommand,
    ) -> Result<CheckoutRecord, CommerceError> {
        validate_idempotency_key(&command.idempotency_key)?;
        crate::orders::validate_cart(&command.lines)?;
        let buyer = self
            .store
            .buyer(command.buyer_id)
            .await?
            .ok_or(CommerceError::NotFound("buyer"))?;
        let sku_ids: Vec<_> = command.lines.iter().map(|l| l.sku_id).collect();
        let skus = self.store.sku_views(&sku_ids).await?;
        let mut seller_ids: Vec<SellerId> = skus.iter().map(|s| s.seller_id).collect();
        seller_ids.sort();
        seller_ids.dedup();
        let sellers: BTreeMap<_, _> = self
            .store
            .sellers(&seller_ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let rates = self.rates();
        let context = PricingContext {
            rates: &rates,
            spread: self.config.spread,
            taxes: &self.config.taxes,
            now: self.now(),
        };
        let plan = plan_checkout(
            command.id,
            buyer.id,
            buyer.country,
            command.currency,
            &command.lines,
            &skus,
            &sellers,
            &context,
        )?;
        let fingerprint =
            CheckoutPlan::request_fingerprint(buyer.id, command.currency, &command.lines);
        let now = self.now();
        self.store
            .create_checkout(
                &plan,
                &command.idempotency_key,
                &fingerprint,
                now.saturating_add_secs(self.config.reservation_secs),
                now,
            )
            .await
    }

    /// Starts (or, on a retry, continues) the payment of a checkout with a local method.
    pub async fn pay(&self, command: &PayCommand) -> Result<PaymentRecord, CommerceError> {
        let checkout = self
            .store
            .checkout(command.checkout_id)
            .await?
            .filter(|c| c.plan.buyer_id == command.buyer_id)
            .ok_or(CommerceError::NotFound("checkout"))?;
        let plan = &checkout.plan;
        let method = command.details.method();
        let offered = self
            .provider
            .payment_methods(&plan.country, plan.total)
            .iter()
            .any(|offer| offer.method == method);
        if !offered {
            return Err(CommerceError::PaymentMethodNotAvailable);
        }
        let payment_id = PaymentId(crate::orders::derive_id(plan.id.0, "payment"));
        let payment = self
            .store
            .start_payment(
                &NewPayment {
                    id: payment_id,
                    checkout_id: plan.id,
                    buyer_id: plan.buyer_id,
                    provider: self.provider.name().clone(),
                    method,
                },
                self.now(),
            )
            .await?;
        if let (PaymentState::Authorised, Some(reference)) =
            (payment.state, payment.psp_reference.as_ref())
        {
            // A retry after the capture call's answer was lost: capture again (the
            // provider deduplicates on the key).
            self.capture(payment_id, reference, plan.total).await?;
            return self
                .store
                .payment(payment_id)
                .await?
                .ok_or(CommerceError::Internal);
        }
        if payment.state.is_final() || payment.psp_reference.is_some() {
            return Ok(payment);
        }
        let answer = self
            .provider
            .authorize(AuthorizeRequest {
                payment_id,
                amount: plan.total,
                country: plan.country,
                details: command.details.clone(),
                return_url: command.return_url.clone(),
                idempotency_key: format!("authorize:{payment_id}"),
            })
            .await?;
        let hold_until = match &answer.status {
            PaymentStatus::ActionRequired(
                crate::payments::Action::Voucher { expires_at, .. }
                | crate::payments::Action::QrCode { expires_at, .. },
            ) => expires_at.saturating_add_secs(RESERVATION_GRACE_SECS),
            _ => checkout.expires_at,
        };
        let action = match &answer.status {
            PaymentStatus::ActionRequired(action) => Some(action),
            _ => None,
        };
        self.store
            .record_provider_reference(payment_id, &answer.psp_reference, action, hold_until)
            .await?;
        match answer.status {
            PaymentStatus::Authorised => {
                self.apply(payment_id, None, PaymentEvent::Authorised)
                    .await?;
                self.capture(payment_id, &answer.psp_reference, plan.total)
                    .await?;
            }
            PaymentStatus::Captured { .. } => {
                self.apply(payment_id, None, PaymentEvent::Captured).await?;
            }
            PaymentStatus::Refused { .. } => {
                self.apply(
                    payment_id,
                    None,
                    PaymentEvent::Failed(PaymentState::Refused),
                )
                .await?;
            }
            PaymentStatus::Cancelled => {
                self.apply(
                    payment_id,
                    None,
                    PaymentEvent::Failed(PaymentState::Cancelled),
                )
                .await?;
            }
            PaymentStatus::Expired => {
                self.apply(
                    payment_id,
                    None,
                    PaymentEvent::Failed(PaymentState::Expired),
                )
                .await?;
            }
            PaymentStatus::ActionRequired(_) | PaymentStatus::Pending => {}
        }
        self.store
            .payment(payment_id)
            .await?
            .ok_or(CommerceError::Internal)
    }

    /// Captures an authorised card payment in full (Bazaar captures at once; goods ship
    /// after payment).
    async fn capture(
        &self,
        payment_id: PaymentId,
        reference: &crate::payments::PspReference,
        amount: Money,
    ) -> Result<(), CommerceError> {
        let captured = self
            .provider
            .capture(reference, amount, &format!("capture:{payment_id}"))
            .await?;
        if let PaymentStatus::Captured { .. } = captured.status {
            self.apply(payment_id, None, PaymentEvent::Captured).await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        payment_id: PaymentId,
        event_id: Option<&str>,
        event: PaymentEvent,
    ) -> Result<bool, CommerceError> {
        let outcome = self
            .store
            .apply_payment_event(payment_id, event_id, &event, self.now())
            .await?;
        for intent in &outcome.intents {
            self.post_intent(intent).await?;
        }
        for refund in &outcome.refunds {
            // The event itself is committed: a refund the provider did not take now is sent
            // again (and reported) by `send_platform_refunds`.
            if self.send_platform_refund(refund).await.is_err() {
                continue;
            }
        }
        Ok(!outcome.duplicate)
    }

    /// Asks the provider to refund a platform refund (of a late capture) and records its
    /// reference. A refund the provider refuses outright is marked failed (`Ok(false)`): the
    /// money stays in the captured-but-unfulfilled account for support to return.
    async fn send_platform_refund(&self, refund: &RefundRecord) -> Result<bool, CommerceError> {
        let payment = self
            .store
            .payment(refund.payment_id)
            .await?
            .ok_or(CommerceError::NotFound("payment"))?;
        let reference = payment.psp_reference.ok_or(CommerceError::InvalidState(
            "the payment has no provider reference",
        ))?;
        let answer = self
            .provider
            .refund(
                &reference,
                refund.amount,
                &format!("refund:{}", refund.id.0),
            )
            .await;
        match answer {
            Ok(answer) => {
                self.store
                    .set_refund_reference(refund.id, &answer.refund_reference)
                    .await?;
                Ok(true)
            }
            Err(error @ ProviderError::Unavailable(_)) => Err(error.into()),
            Err(_) => {
                self.store
                    .apply_payment_event(
                        payment.id,
                        None,
                        &PaymentEvent::RefundFailed(refund.id),
                        self.now(),
                    )
                    .await?;
                Ok(false)
            }
        }
    }

    /// Sends the platform refunds (of late captures) that the provider has not accepted
    /// yet.
    pub async fn send_platform_refunds(&self) -> Result<RefundsPass, CommerceError> {
        let refunds = self
            .store
            .unsent_platform_refunds(REFUNDS_PER_PASS_MAX)
            .await?;
        let mut pass = RefundsPass::default();
        for refund in &refunds {
            match self.send_platform_refund(refund).await {
                Ok(true) => pass.sent = pass.sent.saturating_add(1),
                Ok(false) => pass
                    .failures
                    .push((refund.id, "payment_state_invalid", true)),
                Err(error) => pass.failures.push((refund.id, error.code(), false)),
            }
        }
        Ok(pass)
    }

    /// Receives one notification delivery from the provider (`event_id` as the provider
    /// sent it with the request): applies it, or counts its failure and, once it keeps
    /// failing, parks it with its signed body for operators. The answer says whether to
    /// acknowledge it; a delivery whose failure could not even be recorded is not
    /// acknowledged, so the provider delivers it again.
    pub async fn receive_notification(
        &self,
        event_id: &str,
        signature: &str,
        body: &[u8],
    ) -> Delivery {
        let error = match self.handle_notifications(signature, body).await {
            Ok(_) => return Delivery::Applied,
            Err(error) => error,
        };
        let failure = NotificationFailure {
            provider: self.provider.name().clone(),
            event_id: event_id.to_owned(),
            signature: signature.to_owned(),
            body: body.to_vec(),
            error_code: failure_code(&error),
        };
        let now = self.now();
        let code = failure.error_code;
        let attempts = match self.store.notification_failed(&failure, now).await {
            Ok(attempts) => attempts,
            Err(store_error) => {
                return Delivery::Unrecorded {
                    code: store_error.code(),
                };
            }
        };
        match after_notification_failure(attempts, &error, now) {
            AfterFailure::RetryAt(_) => Delivery::Failed { attempts, code },
            AfterFailure::Park => {
                match self
                    .store
                    .park_notification(&failure.provider, event_id, now)
                    .await
                {
                    Ok(()) => Delivery::Parked { attempts, code },
                    Err(store_error) => Delivery::Unrecorded {
                        code: store_error.code(),
                    },
                }
            }
        }
    }

    /// Authenticates and applies a provider notification request. Returns how many events
    /// were new; repeated deliveries apply nothing.
    pub async fn handle_notifications(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<usize, CommerceError> {
        let notifications = self.provider.parse_notifications(signature, body)?;
        let mut applied: usize = 0;
        for notification in notifications {
            let event = match &notification.event {
                NotificationEvent::Authorised => PaymentEvent::Authorised,
                NotificationEvent::Captured => PaymentEvent::Captured,
                NotificationEvent::Refused { .. } => PaymentEvent::Failed(PaymentState::Refused),
                NotificationEvent::Cancelled => PaymentEvent::Failed(PaymentState::Cancelled),
                NotificationEvent::Expired => PaymentEvent::Failed(PaymentState::Expired),
                NotificationEvent::Chargeback => PaymentEvent::Chargeback,
                NotificationEvent::Refunded { refund_reference }
                | NotificationEvent::RefundFailed { refund_reference } => {
                    let refund = self
                        .store
                        .refund_by_reference(refund_reference)
                        .await?
                        .ok_or(CommerceError::NotFound("refund"))?;
                    if matches!(notification.event, NotificationEvent::Refunded { .. }) {
                        PaymentEvent::RefundSucceeded(refund.id)
                    } else {
                        PaymentEvent::RefundFailed(refund.id)
                    }
                }
            };
            if self
                .apply(notification.payment_id, Some(&notification.event_id), event)
                .await?
            {
                applied = applied.saturating_add(1);
            }
        }
        Ok(applied)
    }

    /// Asks the provider to refund `amount` of a line; the ledger posting follows the
    /// provider's confirmation.
    pub async fn refund(
        &self,
        requester: Requester,
        order_id: OrderId,
        line_id: LineId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<RefundRecord, CommerceError> {
        validate_idempotency_key(idempotency_key)?;
        if !amount.is_positive() {
            return Err(CommerceError::InvalidInput(
                "a refund amount must be positive",
            ));
        }
        let payment_id = self
            .store
            .order_payment(order_id)
            .await?
            .ok_or(CommerceError::NotFound("order"))?;
        let payment = self
            .store
            .payment(payment_id)
            .await?
            .ok_or(CommerceError::NotFound("payment"))?;
        let psp_reference = payment
            .psp_reference
            .clone()
            .ok_or(CommerceError::InvalidState("the payment was not captured"))?;
        let refund_id = RefundId(crate::orders::derive_id(
            payment_id.0,
            &format!("refund:{}", requester.scoped_key(idempotency_key)),
        ));
        let refund = self
            .store
            .request_refund(
                &NewRefund {
                    id: refund_id,
                    buyer_or_seller: requester,
                    payment_id,
                    line_id,
                    amount,
                    idempotency_key: idempotency_key.to_owned(),
                },
                self.now(),
            )
            .await?;
        if refund.psp_reference.is_some() {
            return Ok(refund);
        }
        let answer = self
            .provider
            .refund(&psp_reference, amount, &format!("refund:{refund_id}"))
            .await;
        match answer {
            Ok(answer) => {
                self.store
                    .set_refund_reference(refund_id, &answer.refund_reference)
                    .await?;
                Ok(RefundRecord {
                    psp_reference: Some(answer.refund_reference),
                    ..refund
                })
            }
            Err(error @ crate::payments::ProviderError::Unavailable(_)) => Err(error.into()),
            Err(error) => {
                // The provider refused outright: release the amount again.
                self.apply(payment_id, None, PaymentEvent::RefundFailed(refund_id))
                    .await?;
                Err(error.into())
            }
        }
    }

    /// Posts the provider's settlement of a captured payment.
    pub async fn settle(
        &self,
        payment_id: PaymentId,
        settlement: &Settlement,
    ) -> Result<(), CommerceError> {
        let payment = self
            .store
            .payment(payment_id)
            .await?
            .ok_or(CommerceError::NotFound("payment"))?;
        if payment.state != PaymentState::Captured
            || payment.psp_reference.as_ref() != Some(&settlement.psp_reference)
        {
            return Err(CommerceError::InvalidState(
                "only a captured payment can be settled",
            ));
        }
        let posting = settlement_posting(
            payment_id,
            &payment.provider,
            settlement.gross,
            settlement.fee,
        )?;
        self.submit(posting).await
    }

    /// Cancels checkouts whose reservation lapsed and withdraws their payments at the
    /// provider. Returns how many were cancelled.
    pub async fn expire_checkouts(&self, limit: u32) -> Result<usize, CommerceError> {
        let expired = self.store.expire_checkouts(self.now(), limit).await?;
        for checkout in &expired {
            if let Some(reference) = checkout
                .payment
                .as_ref()
                .and_then(|p| p.psp_reference.as_ref())
            {
                // Best effort: a payment the provider already captured answers InvalidState,
                // and its capture notification follows; it is then posted and refunded as a
                // late capture (`PaymentChange::CaptureLate`), so no money is dropped.
                let _ = self
                    .provider
                    .cancel(reference, &format!("cancel:{}", checkout.plan.id))
                    .await;
            }
        }
        Ok(expired.len())
    }

    /// Posts the ledger intents that a crash, an outage or a refusal left unposted and
    /// whose retry time has come. Each stands alone: one that fails is retried later with
    /// backoff, then parked with its error code ([`crate::recovery`]); the others go on.
    pub async fn post_pending_intents(&self) -> Result<IntentsPass, CommerceError> {
        let intents = self
            .store
            .pending_intents(INTENTS_PER_PASS_MAX, self.now())
            .await?;
        let mut pass = IntentsPass::default();
        for intent in &intents {
            let error = match self.post_intent(intent).await {
                Ok(()) => {
                    pass.posted = pass.posted.saturating_add(1);
                    continue;
                }
                Err(error) => error,
            };
            let attempts = intent.attempts.saturating_add(1);
            let now = self.now();
            let code = failure_code(&error);
            let retry_at = match after_intent_failure(attempts, &error, now) {
                AfterFailure::RetryAt(at) => {
                    pass.retrying = pass.retrying.saturating_add(1);
                    Some(at)
                }
                AfterFailure::Park => {
                    pass.parked = pass.parked.saturating_add(1);
                    None
                }
            };
            self.store
                .intent_failed(intent.id, code, retry_at, now)
                .await?;
            pass.failures.push(IntentFailure {
                intent_id: intent.id,
                attempts,
                code,
                parked: retry_at.is_none(),
            });
        }
        Ok(pass)
    }

    async fn post_intent(&self, intent: &LedgerIntent) -> Result<(), CommerceError> {
        let posting = match intent.kind {
            IntentKind::Capture(payment_id) => {
                let payment = self
                    .store
                    .payment(payment_id)
                    .await?
                    .ok_or(CommerceError::NotFound("payment"))?;
                if payment.captured_late {
                    late_capture_posting(payment_id, &payment.provider, payment.amount)?
                } else {
                    let mut posting = Posting::default();
                    for line in self.store.capture_inputs(payment_id).await? {
                        posting.extend(line.capture_requests()?);
                    }
                    posting
                }
            }
            IntentKind::Refund(refund_id) => {
                let input = self.store.refund_inputs(refund_id).await?;
                let kind = if input.chargeback {
                    "chargeback"
                } else {
                    "refund"
                };
                if input.captured_late {
                    let amount = input
                        .after_minor
                        .checked_sub(input.before_minor)
                        .ok_or(CommerceError::Internal)?;
                    late_refund_posting(
                        refund_id,
                        input.line.payment_id,
                        &input.line.provider,
                        Money::from_minor(amount, input.line.total.currency()),
                        kind,
                    )?
                } else {
                    input.line.refund_requests(
                        refund_id,
                        input.before_minor,
                        input.after_minor,
                        kind,
                    )?
                }
            }
        };
        self.submit(posting).await?;
        self.store.intent_applied(intent.id, self.now()).await
    }

    async fn submit(&self, posting: Posting) -> Result<(), CommerceError> {
        posting.check_size()?;
        for account in posting.new_accounts()? {
            self.ledger
                .create_account(account)
                .await
                .map_err(ledger_unavailable)?
                .map_err(|_| CommerceError::Internal)?;
        }
        let batch = posting.into_batch()?;
        self.ledger
            .submit(batch)
            .await
            .map_err(ledger_unavailable)?
            .map_err(|error| CommerceError::LedgerRejected { code: error.code() })?;
        Ok(())
    }

    /// A seller's pending and available balances in its settlement currency.
    pub async fn seller_balances(
        &self,
        seller_id: SellerId,
    ) -> Result<SellerBalances, CommerceError> {
        let seller = self
            .store
            .seller(seller_id)
            .await?
            .ok_or(CommerceError::NotFound("seller"))?;
        let currency = seller.settlement_currency;
        let read = |account: ChartAccount| async move {
            let balance = self
                .ledger
                .account(account.id(currency))
                .await
                .map_err(ledger_unavailable)?;
            let net = match balance {
                Some((_, balance)) => balance
                    .credits_posted
                    .checked_sub(balance.debits_posted)
                    .ok_or(CommerceError::Internal)?,
                None => 0,
            };
            Ok::<_, CommerceError>(Money::from_minor(net, currency))
        };
        Ok(SellerBalances {
            pending: read(ChartAccount::SellerPending(seller_id)).await?,
            available: read(ChartAccount::SellerAvailable(seller_id)).await?,
        })
    }

    pub async fn move_order(
        &self,
        seller: SellerId,
        order: OrderId,
        to: OrderState,
    ) -> Result<(), CommerceError> {
        self.store.move_order(seller, order, to, self.now()).await
    }

    pub async fn review(&self, review: &Review) -> Result<(), CommerceError> {
        review.validate()?;
        self.store.add_review(review, self.now()).await
    }

    /// A seller, if it exists.
    pub async fn seller(&self, id: SellerId) -> Result<Option<Seller>, CommerceError> {
        self.store.seller(id).await
    }

    /// The sellers among `ids` that exist.
    pub async fn sellers(&self, ids: &[SellerId]) -> Result<Vec<Seller>, CommerceError> {
        self.store.sellers(ids).await
    }

    /// Every SKU of these products, with stock and prices.
    pub async fn product_skus(
        &self,
        products: &[ProductId],
    ) -> Result<Vec<SkuView>, CommerceError> {
        self.store.product_skus(products).await
    }

    /// One of the party's own orders; `None` for anyone else's, so ids cannot be probed.
    pub async fn order_for(
        &self,
        party: Party,
        order: OrderId,
    ) -> Result<Option<OrderView>, CommerceError> {
        self.store.order_for(party, order).await
    }

    /// A page of the party's orders, newest first (`limit` of 1 to 100, after `after`).
    pub async fn orders_page(
        &self,
        party: Party,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<OrderView>, CommerceError> {
        check_page_limit(limit)?;
        let fetched = self
            .store
            .orders_for(party, after, limit.saturating_add(1))
            .await?;
        Ok(Page::from_fetched(fetched, limit))
    }

    /// A page of a product's reviews, newest first (`limit` of 1 to 100, after `after`).
    pub async fn reviews_page(
        &self,
        product: ProductId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<ReviewView>, CommerceError> {
        check_page_limit(limit)?;
        let fetched = self
            .store
            .reviews(product, after, limit.saturating_add(1))
            .await?;
        Ok(Page::from_fetched(fetched, limit))
    }

    /// One of the buyer's own checkouts; `None` for anyone else's.
    pub async fn checkout_for(
        &self,
        buyer: BuyerId,
        id: CheckoutId,
    ) -> Result<Option<CheckoutRecord>, CommerceError> {
        Ok(self
            .store
            .checkout(id)
            .await?
            .filter(|record| record.plan.buyer_id == buyer))
    }
}

/// A page holds 1 to [`PAGE_LIMIT_MAX`] items.
fn check_page_limit(limit: u32) -> Result<(), CommerceError> {
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(CommerceError::InvalidInput("limit must be 1 to 100"));
    }
    Ok(())
}

impl<S: CommerceStore, L: LedgerStore + LedgerHistory, P: PaymentProvider> Marketplace<S, L, P> {
    /// A page of a seller's history on its pending or available account, newest first
    /// (`limit` of 1 to 100 entries, older than `before`), each with the balance after it.
    pub async fn seller_ledger(
        &self,
        seller_id: SellerId,
        account: SellerAccount,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Page<SellerLedgerEntry>, CommerceError> {
        check_page_limit(limit)?;
        let seller = self
            .store
            .seller(seller_id)
            .await?
            .ok_or(CommerceError::NotFound("seller"))?;
        let currency = seller.settlement_currency;
        let account_id = match account {
            SellerAccount::Pending => ChartAccount::SellerPending(seller_id),
            SellerAccount::Available => ChartAccount::SellerAvailable(seller_id),
        }
        .id(currency);
        // One entry more than the page tells whether another page follows.
        let fetched = self
            .ledger
            .history(account_id, before, limit.saturating_add(1))
            .await
            .map_err(ledger_unavailable)?;
        let page = Page::from_fetched(fetched, limit);
        Ok(Page {
            has_next: page.has_next,
            items: page
                .items
                .into_iter()
                .map(|entry| {
                    let balance = &entry.balance_after;
                    let net = balance.credits_posted.saturating_sub(balance.debits_posted);
                    SellerLedgerEntry {
                        credit: entry.transfer.credit_account_id == account_id,
                        balance_after: Money::from_minor(net, currency),
                        entry,
                    }
                })
                .collect(),
        })
    }
}
