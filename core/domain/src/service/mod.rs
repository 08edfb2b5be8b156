//! The marketplace service: checkout, payment, notifications, refunds and settlement,
//! composed from the commerce store, the ledger and a payment provider.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use bazaar_ledger::{Clock, LedgerStore, StoreError, Timestamp};
use bazaar_money::{Currency, Money};

use crate::Country;
use crate::catalog::{
    Buyer, BuyerId, NewProduct, ProductDraft, ProductQuery, ProductSummary, Review, Seller,
};
use crate::chart::{ChartAccount, SellerId};
use crate::error::CommerceError;
use crate::fx::{RateBook, Spread};
use crate::orders::{
    CartLine, CheckoutId, CheckoutPlan, LineId, OrderId, OrderState, PaymentState, PricingContext,
    RefundId, TaxBuyer, TaxHistory, TaxSetup, plan_checkout, validate_idempotency_key,
};
use crate::payments::{
    AuthorizeRequest, MethodDetails, MethodOffer, PaymentId, PaymentProvider, PaymentStatus,
    Settlement,
};
use crate::payments::{event_of_answer, reservation_until};
use crate::postings::{Posting, settlement_posting};
use crate::store::{
    CheckoutRecord, CommerceStore, NewPayment, NewRefund, Page, PaymentEvent, PaymentRecord,
    RefundRecord, Requester,
};

/// How long stock stays reserved for a checkout that has no payment result yet.
pub const RESERVATION_SECS_DEFAULT: u32 = 30 * 60;
/// The most ledger intents one recovery pass posts.
const INTENTS_PER_PASS_MAX: u32 = 500;
/// The most platform refunds one recovery pass sends.
const REFUNDS_PER_PASS_MAX: u32 = 100;

mod reads;
mod recovering;
mod settling;

pub use reads::{SellerAccount, SellerBalances, SellerLedgerEntry};
pub use recovering::{Delivery, IntentFailure, IntentsPass, RefundsPass};
pub use settling::SettledReport;

/// The marketplace's settings.
#[derive(Clone, Debug)]
pub struct MarketplaceConfig {
    /// The spread kept when an order is converted into its seller's settlement currency;
    /// locked into the order's quote at checkout.
    pub spread: Spread,
    /// How checkouts tax their lines: the tax engine, and rates configured for destinations
    /// it has no rules for.
    pub tax: TaxSetup,
    /// How long a new checkout's stock stays reserved while it has no payment result, in
    /// seconds; usually [`RESERVATION_SECS_DEFAULT`].
    pub reservation_secs: u32,
}

/// What a buyer asks to check out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckoutCommand {
    /// The checkout's id, chosen by the caller (the API derives it from the buyer and the
    /// idempotency key).
    pub id: CheckoutId,
    /// The buyer checking out; one that does not exist is `NotFound("buyer")`.
    pub buyer_id: BuyerId,
    /// The presentment currency: the one the buyer sees prices in and pays.
    pub currency: Currency,
    /// The cart: 1 to 30 lines, each SKU once, quantities 1 to 100.
    pub lines: Vec<CartLine>,
    /// 1 to 128 printable ASCII characters. The same key with the same currency, cart and
    /// tax number returns the same checkout; with anything different,
    /// `idempotency_key_reused`.
    pub idempotency_key: String,
    /// A consumer, or a business with the outcome of checking its tax number (the caller
    /// asks the registry through [`crate::tax::confirm`]).
    pub customer: crate::tax::Customer,
}

/// How a buyer pays a checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PayCommand {
    /// The checkout to pay.
    pub checkout_id: CheckoutId,
    /// The buyer paying; another buyer's checkout is `NotFound("checkout")`.
    pub buyer_id: BuyerId,
    /// The method and what it needs; the provider must offer the method for the checkout's
    /// country, currency and total.
    pub details: MethodDetails,
    /// Where the provider sends the buyer back after a redirect.
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

/// Opens a seller's ledger accounts (pending, available, reserve) in its settlement currency.
/// Idempotent; a posting also opens the accounts it touches, so a seller whose opening failed
/// is not stuck.
pub async fn open_seller_accounts<L: LedgerStore>(
    ledger: &L,
    seller: &Seller,
) -> Result<(), CommerceError> {
    let accounts = [
        ChartAccount::SellerPending(seller.id),
        ChartAccount::SellerAvailable(seller.id),
        ChartAccount::SellerReserve(seller.id),
    ];
    for account in accounts {
        let new = account
            .new_account(seller.settlement_currency)
            .map_err(|_| CommerceError::Internal)?;
        ledger
            .create_account(new)
            .await
            .map_err(ledger_unavailable)?
            .map_err(|_| CommerceError::Internal)?;
    }
    Ok(())
}

/// The ledger adapter logs the cause where it happens; callers get the commerce code.
pub(crate) fn ledger_unavailable(error: StoreError) -> CommerceError {
    match error {
        StoreError::Unavailable(_) => CommerceError::Unavailable,
        StoreError::Internal(_) => CommerceError::Internal,
    }
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    /// The service over these ports, quoting from `rates` until [`Self::set_rates`]
    /// replaces them; `clock` gives the time of every change it makes.
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

    /// The commerce store it runs on.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The ledger it posts to.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The payment provider it pays and refunds through.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The spread kept on conversions.
    pub fn spread(&self) -> Spread {
        self.config.spread
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

    /// Stores a seller and opens its ledger accounts (see [`open_seller_accounts`]).
    pub async fn register_seller(&self, seller: &Seller) -> Result<(), CommerceError> {
        self.store.create_seller(seller, self.now()).await?;
        self.open_seller_accounts(seller).await
    }

    /// Opens a stored seller's ledger accounts (see [`open_seller_accounts`]).
    pub async fn open_seller_accounts(&self, seller: &Seller) -> Result<(), CommerceError> {
        open_seller_accounts(&self.ledger, seller).await
    }

    /// Stores a buyer. Accounts that sign up go through
    /// [`Identity::sign_up`](crate::identity::Identity::sign_up) instead.
    pub async fn register_buyer(&self, buyer: &Buyer) -> Result<(), CommerceError> {
        if buyer
            .tax_area
            .is_some_and(|area| area.country() != buyer.country)
        {
            return Err(CommerceError::InvalidInput(
                "the buyer's tax area must lie in its country",
            ));
        }
        self.store.create_buyer(buyer, self.now()).await
    }

    /// Checks a product ([`NewProduct::validate`]) and stores it; a product of a seller the
    /// store does not know is `NotFound("seller")`.
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

    /// The products matching `query` (`query.limit` of 1 to 100), without saying whether
    /// more follow; [`Self::search_page`] says.
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
        let now = self.now();
        let tax_buyer = TaxBuyer {
            area: buyer
                .tax_area
                .unwrap_or(crate::tax::Area::country_wide(buyer.country)),
            customer: command.customer.clone(),
        };
        // Only the thresholds this checkout can cross are read: an EU buyer's sellers' EU
        // sales, a US buyer's state; anything else skips the store.
        let eu_sellers: Vec<SellerId> = if crate::tax::in_eu(tax_buyer.area) {
            sellers
                .values()
                .filter(|s| s.country != buyer.country && crate::tax::in_eu(s.country.into()))
                .map(|s| s.id)
                .collect()
        } else {
            Vec::new()
        };
        let us_state = (tax_buyer.area.country().as_str() == "US").then_some(tax_buyer.area);
        // India's rules split TCS by the seller's state, which its GSTIN names.
        let registered: &[SellerId] = if tax_buyer.area.country().as_str() == "IN" {
            &seller_ids
        } else {
            &[]
        };
        let tax_history = if eu_sellers.is_empty() && us_state.is_none() && registered.is_empty() {
            TaxHistory::default()
        } else {
            self.store
                .tax_history(&eu_sellers, us_state, registered, now)
                .await?
        };
        let context = PricingContext {
            rates: &rates,
            spread: self.config.spread,
            tax: &self.config.tax,
            tax_history: &tax_history,
            tax_buyer: &tax_buyer,
            now,
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
        let fingerprint = CheckoutPlan::request_fingerprint(
            buyer.id,
            command.currency,
            &command.lines,
            &command.customer,
        );
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
        let payment_id =
            PaymentId::from_uuid(crate::orders::derive_id(plan.id.as_uuid(), "payment"));
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
        let hold_until = reservation_until(&answer.status, checkout.expires_at);
        let action = match &answer.status {
            PaymentStatus::ActionRequired(action) => Some(action),
            _ => None,
        };
        self.store
            .record_provider_reference(payment_id, &answer.psp_reference, action, hold_until)
            .await?;
        if let Some(event) = event_of_answer(&answer.status) {
            self.apply(payment_id, None, event).await?;
        }
        if answer.status == PaymentStatus::Authorised {
            self.capture(payment_id, &answer.psp_reference, plan.total)
                .await?;
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
        let refund_id = RefundId::from_uuid(crate::orders::derive_id(
            payment_id.as_uuid(),
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

    async fn submit(&self, posting: Posting) -> Result<(), CommerceError> {
        crate::postings::submit(&self.ledger, posting).await
    }

    /// A seller moves one of its own orders on: paid to shipped, or shipped to delivered
    /// ([`OrderState::seller_may_move_to`]). Another seller's order is `NotFound("order")`;
    /// a move those rules do not allow is `InvalidState`.
    pub async fn move_order(
        &self,
        seller: SellerId,
        order: OrderId,
        to: OrderState,
    ) -> Result<(), CommerceError> {
        self.store.move_order(seller, order, to, self.now()).await
    }

    /// Checks a review (rating 1 to 5, a body of at most 5,000 characters) and stores it.
    /// Only the buyer of a delivered order that holds the product may review it, once
    /// (`AlreadyReviewed` after that).
    pub async fn review(&self, review: &Review) -> Result<(), CommerceError> {
        review.validate()?;
        self.store.add_review(review, self.now()).await
    }
}
