//! Mutations: sign-up and sign-in (under the limits of `crate::limits`), catalog, checkout and payment, refunds, fulfilment, reviews, webhook
//! endpoints. Where
//! money or stock moves, the request carries an idempotency key (or is keyed by the
//! checkout it pays), so a retried request does its work once.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use bazaar_domain::Country;
use bazaar_domain::catalog::{
    Category, ProductDraft, ProductId, Review, ReviewId, SkuDraft, SkuId,
};
use bazaar_domain::events::EventStoreError;
use bazaar_domain::identity::{
    AccountKind, Email, IdentityError, PartyId, SignUp, SignedUp, UserId, validate_password,
};
use bazaar_domain::orders::{CartLine, CheckoutId, LineId, OrderId, OrderState};
use bazaar_domain::payments::{MethodDetails, MethodType};
use bazaar_domain::payouts::{AddBankAccount, BankAccountId, Rail};
use bazaar_domain::service::{CheckoutCommand, PayCommand};
use bazaar_domain::store::{Party, Requester};
use bazaar_domain::webhooks::{DeliveryId, EndpointId, EndpointSecret, WebhookEndpoint};
use bazaar_money::Money;
use uuid::Uuid;

use super::payouts::{
    BankAccountNode, BankAccountVerification, BankDetailsInput, deposit_answer, payouts,
};
use super::query::currency;
use super::types::{
    AuthPayload, CheckoutNode, Kind, OrderNode, PaymentNode, ProductNode, RefundNode, UserNode,
    WebhookDeliveryNode, WebhookEndpointNode, WebhookSecretPayload,
};
use super::{app, buyer, commerce, error, events, identity, seller, uuid};
use crate::limits::{AuthLimits, AuthRequest, refused};
use crate::sign_in::SignInError;
use crate::{audit_trail, auth};

#[derive(Default)]
pub struct Mutation;

/// `overlapHours` (default 24) as a duration; the service bounds it.
fn secret_overlap(hours: Option<i32>) -> Result<std::time::Duration> {
    let hours = u64::try_from(hours.unwrap_or(24))
        .map_err(|_| error("invalid_input", "overlapHours must not be negative"))?;
    Ok(std::time::Duration::from_secs(hours.saturating_mul(3_600)))
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AccountRole {
    Buyer,
    Seller,
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// 10 to 128 characters.
    pub password: String,
    pub name: String,
    /// ISO 3166-1 alpha-2, e.g. `BR`.
    pub country: String,
    pub role: AccountRole,
    /// Sellers only: the currency they earn in.
    pub settlement_currency: Option<String>,
    /// Buyers only, where tax depends on it: the US state, Canadian province or Indian state
    /// (ISO 3166-2, e.g. `US-TX`), in `country`.
    pub tax_area: Option<String>,
}

/// The answer to `signUp`: the same whether the e-mail address was new or already had an
/// account, so that it does not tell which. Sign in next.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    /// The e-mail address as stored (trimmed, lower-case): the one to sign in with.
    pub email: String,
}

#[derive(InputObject)]
pub struct PriceInput {
    /// A decimal string with at most the currency's decimals, e.g. `19.90`.
    pub amount: String,
    pub currency: String,
}

#[derive(InputObject)]
pub struct SkuInput {
    pub code: String,
    pub title: String,
    /// Units on hand; omit for digital goods.
    pub stock: Option<i32>,
    pub prices: Vec<PriceInput>,
}

#[derive(InputObject)]
pub struct ProductInput {
    pub title: String,
    pub description: String,
    pub category: String,
    pub kind: Kind,
    /// What the product is, for tax; omitted, general goods for a physical product and an
    /// e-service for a digital one.
    pub tax_code: Option<super::tax::TaxCodeInput>,
    pub skus: Vec<SkuInput>,
}

#[derive(InputObject)]
pub struct CartLineInput {
    pub sku_id: ID,
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct CheckoutInput {
    /// What the buyer pays in, e.g. `BRL`.
    pub currency: String,
    pub lines: Vec<CartLineInput>,
    /// A business buyer's VAT number (`DE136695976`): checked offline, then with the VAT
    /// registry; only a confirmed number is reverse-charged.
    pub vat_id: Option<String>,
}

#[derive(InputObject)]
pub struct CardInput {
    /// Never stored or logged by the API: with the card vault running, it goes to the vault
    /// and the API keeps its token.
    pub number: String,
    pub expiry_month: i32,
    pub expiry_year: i32,
}

#[derive(InputObject)]
pub struct PayInput {
    pub checkout_id: ID,
    /// A payment method's `type` from `paymentMethods`, e.g. `pix` or `scheme` (cards).
    pub method: String,
    pub card: Option<CardInput>,
    /// A card token from `tokenizeCard` (the signed-in buyer's own), instead of `card`.
    pub card_token: Option<String>,
    /// What the method needs besides (an iDEAL issuer, a BLIK code, a UPI id).
    pub extra: Option<String>,
    pub return_url: String,
}

/// The sign-in limits and this request's view of them.
fn auth_limits<'a>(ctx: &'a Context<'_>) -> Result<(&'a AuthLimits, &'a AuthRequest)> {
    let internal = |_| error("internal_error", "internal error");
    let limits = ctx.data::<Arc<AuthLimits>>().map_err(internal)?;
    let request = ctx.data::<Arc<AuthRequest>>().map_err(internal)?;
    Ok((limits.as_ref(), request.as_ref()))
}

/// The account a sign-up asks for.
fn account_kind(input: &SignUpInput) -> Result<AccountKind> {
    Ok(match input.role {
        AccountRole::Buyer => AccountKind::Buyer,
        AccountRole::Seller => {
            let code = input
                .settlement_currency
                .as_deref()
                .ok_or_else(|| error("invalid_input", "a seller needs a settlement currency"))?;
            AccountKind::Seller {
                settlement_currency: currency(code)?,
            }
        }
    })
}

#[Object(name = "MarketplaceMutation")]
impl Mutation {
    /// Creates a buyer or seller account; sign in with it next. The answer is the same
    /// whether the e-mail address was new or already had an account (which is left as it
    /// was), so that signing up does not tell who has an account.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<SignUpPayload> {
        let app = app(ctx)?;
        let (limits, request) = auth_limits(ctx)?;
        let email = Email::new(&input.email).map_err(identity)?;
        validate_password(&input.password).map_err(identity)?;
        let kind = account_kind(&input)?;
        let country = Country::new(input.country.trim())
            .map_err(|_| error("invalid_input", "country must be an ISO 3166 alpha-2 code"))?;
        let tax_area = match input.tax_area.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(
                bazaar_domain::tax::Area::parse(code)
                    .ok()
                    .filter(|area| area.country() == country && area.subdivision().is_some())
                    .ok_or_else(|| {
                        error(
                            "invalid_input",
                            "taxArea must be a subdivision of the country, e.g. US-TX",
                        )
                    })?,
            ),
        };
        limits.admit(request, &email).map_err(refused)?;
        let password = input.password;
        let password_hash = limits
            .hash(request, move || auth::hash_password(&password))
            .await
            .map_err(refused)?
            .map_err(identity)?;
        let signed_up = app
            .identity
            .sign_up(
                SignUp {
                    user_id: UserId::from_uuid(Uuid::new_v4()),
                    party_id: PartyId::from_uuid(Uuid::new_v4()),
                    email: email.clone(),
                    password_hash,
                    name: input.name,
                    country,
                    tax_area,
                    kind,
                },
                app.now(),
            )
            .await
            .map_err(identity)?;
        if let SignedUp::New {
            ledger_accounts: Err(e),
            ..
        } = signed_up
        {
            // The seller's first posting opens them as well.
            tracing::warn!(code = e.code(), "could not open a new seller's accounts");
        }
        Ok(SignUpPayload {
            email: email.as_str().to_owned(),
        })
    }

    /// Signs in; the same error whether the e-mail or the password is wrong.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let app = app(ctx)?;
        let (limits, request) = auth_limits(ctx)?;
        match crate::sign_in::sign_in(app, limits, request, &email, password).await {
            Ok((token, user)) => Ok(AuthPayload {
                token,
                user: UserNode::from(&user),
            }),
            Err(SignInError::Invalid) => Err(identity(IdentityError::InvalidCredentials)),
            Err(SignInError::Refused(refusal)) => Err(refused(refusal)),
            Err(SignInError::Identity(e)) => Err(identity(e)),
        }
    }

    /// Revokes the session of the token this request carries.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let app = app(ctx)?;
        let viewer = ctx.data::<super::Viewer>()?;
        match &viewer.token {
            Some(token) => {
                app.identity
                    .sign_out(token, app.now())
                    .await
                    .map_err(identity)?;
                Ok(true)
            }
            None => Err(identity(IdentityError::Unauthenticated)),
        }
    }

    /// Lists a product for the signed-in seller. The same idempotency key returns the same
    /// product.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: ProductInput,
        idempotency_key: String,
    ) -> Result<ProductNode> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let mut skus = Vec::with_capacity(input.skus.len());
        for sku in input.skus {
            let mut prices = Vec::with_capacity(sku.prices.len());
            for price in &sku.prices {
                let currency = currency(&price.currency)?;
                prices.push(
                    Money::parse(price.amount.trim(), currency)
                        .map_err(|e| error(e.code(), e.to_string()))?,
                );
            }
            let stock = sku
                .stock
                .map(|s| {
                    u32::try_from(s)
                        .map_err(|_| error("invalid_input", "stock must not be negative"))
                })
                .transpose()?;
            skus.push(SkuDraft {
                code: sku.code,
                title: sku.title,
                stock,
                prices,
            });
        }
        // Shown in the currency of its first price.
        let currency = skus
            .first()
            .and_then(|s| s.prices.first())
            .map(|p| p.currency())
            .ok_or_else(|| error("invalid_input", "a product needs a price"))?;
        let draft = ProductDraft {
            title: input.title,
            description: input.description,
            category: Category::new(&input.category).map_err(commerce)?,
            kind: input.kind.into(),
            tax_code: input.tax_code.map(Into::into),
            skus,
        };
        let summary = app
            .market
            .create_product(seller_id, &idempotency_key, draft)
            .await
            .map_err(commerce)?;
        Ok(ProductNode::new(&summary, currency))
    }

    /// Prices the cart in `currency`, splits it per seller and reserves the stock. The same
    /// idempotency key returns the same checkout.
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        input: CheckoutInput,
        idempotency_key: String,
    ) -> Result<CheckoutNode> {
        let buyer = buyer(ctx)?;
        let app = app(ctx)?;
        let mut lines = Vec::with_capacity(input.lines.len());
        for line in &input.lines {
            lines.push(CartLine {
                sku_id: SkuId::from_uuid(uuid(&line.sku_id, "SKU id")?),
                quantity: u32::try_from(line.quantity)
                    .map_err(|_| error("invalid_input", "quantity must be 1 to 100"))?,
            });
        }
        let id = CheckoutId::from_uuid(Uuid::new_v5(
            &buyer.as_uuid(),
            format!("checkout:{idempotency_key}").as_bytes(),
        ));
        let customer = match input.vat_id.as_deref().map(str::trim) {
            None | Some("") => bazaar_domain::tax::Customer::Consumer,
            Some(text) => {
                let (customer, failure) =
                    bazaar_domain::tax::confirm(&app.vies, text, &app.vat_number, app.now())
                        .await
                        .map_err(|e| error(e.code(), e.to_string()))?;
                if let Some(failure) = failure {
                    tracing::warn!(error = %failure, "the VAT registry gave no answer; VAT is charged");
                }
                customer
            }
        };
        let record = app
            .market
            .checkout(&CheckoutCommand {
                id,
                buyer_id: buyer,
                currency: currency(&input.currency)?,
                lines,
                idempotency_key,
                customer,
            })
            .await
            .map_err(commerce)?;
        Ok(CheckoutNode::from(&record))
    }

    /// Pays a checkout with a local payment method. Paying the same checkout again returns
    /// its payment; nothing is charged twice.
    async fn pay(&self, ctx: &Context<'_>, input: PayInput) -> Result<PaymentNode> {
        let buyer = buyer(ctx)?;
        let app = app(ctx)?;
        let method = MethodType::from_wire_name(input.method.trim())
            .ok_or_else(|| error("payment_method_not_available", "unknown payment method"))?;
        let details = match method {
            MethodType::Card => {
                super::cards::card_details(
                    app,
                    buyer,
                    input.card.as_ref(),
                    input.card_token.as_deref(),
                )
                .await?
            }
            method => MethodDetails::Other {
                method,
                extra: input.extra.unwrap_or_default(),
            },
        };
        let payment = app
            .market
            .pay(&PayCommand {
                checkout_id: CheckoutId::from_uuid(uuid(&input.checkout_id, "checkout id")?),
                buyer_id: buyer,
                details,
                return_url: input.return_url,
            })
            .await
            .map_err(commerce)?;
        Ok(PaymentNode::from(&payment))
    }

    /// The signed-in seller refunds `amount` (in the currency the buyer paid) of one line.
    async fn refund_line(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        line_id: ID,
        amount: String,
        idempotency_key: String,
    ) -> Result<RefundNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let order_id = OrderId::from_uuid(uuid(&order_id, "order id")?);
        let order = app
            .market
            .order_for(Party::Seller(seller), order_id)
            .await
            .map_err(commerce)?
            .ok_or_else(|| error("not_found", "order not found"))?;
        let amount = Money::parse(amount.trim(), order.total.currency())
            .map_err(|e| error(e.code(), e.to_string()))?;
        let refund = app
            .market
            .refund(
                Requester::Seller(seller),
                order_id,
                LineId::from_uuid(uuid(&line_id, "line id")?),
                amount,
                &idempotency_key,
            )
            .await
            .map_err(commerce)?;
        Ok(RefundNode::from(&refund))
    }

    /// The signed-in seller marks a paid order shipped.
    async fn ship_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderNode> {
        move_order(ctx, order_id, OrderState::Shipped).await
    }

    /// The signed-in seller marks a shipped order delivered.
    async fn confirm_delivery(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderNode> {
        move_order(ctx, order_id, OrderState::Delivered).await
    }

    /// The signed-in buyer reviews a product of one of its delivered orders, once.
    async fn review(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        product_id: ID,
        rating: i32,
        body: String,
    ) -> Result<bool> {
        let buyer = buyer(ctx)?;
        let app = app(ctx)?;
        let order_id = OrderId::from_uuid(uuid(&order_id, "order id")?);
        let product_id = ProductId::from_uuid(uuid(&product_id, "product id")?);
        let review = Review {
            id: ReviewId::of(order_id, product_id),
            product_id,
            buyer_id: buyer,
            order_id,
            rating: u8::try_from(rating)
                .map_err(|_| error("invalid_input", "rating must be 1 to 5"))?,
            body,
        };
        app.market.review(&review).await.map_err(commerce)?;
        Ok(true)
    }

    /// Registers a webhook endpoint for the signed-in seller: an https URL of a public host,
    /// and the event patterns it receives (`*`, `order.*`, `order.paid`, ...). The signing
    /// secret is in this answer only.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        url: String,
        event_types: Vec<String>,
    ) -> Result<WebhookSecretPayload> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let now = app.now();
        with_new_secret(ctx, "webhook_endpoint.create", |secret| {
            app.webhooks
                .create_endpoint(seller, &url, &event_types, secret, now)
        })
        .await
    }

    /// Gives one of the signed-in seller's endpoints a new signing secret, shown in this
    /// answer only. The old secret keeps signing beside the new one for `overlapHours`
    /// (0 to 168), so receivers can switch without missing a delivery.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 24)] overlap_hours: Option<i32>,
    ) -> Result<WebhookSecretPayload> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let id = EndpointId::from_uuid(uuid(&id, "endpoint id")?);
        let overlap = secret_overlap(overlap_hours)?;
        let now = app.now();
        with_new_secret(ctx, "webhook_endpoint.rotate_secret", |secret| {
            app.webhooks.rotate_secret(seller, id, secret, overlap, now)
        })
        .await
    }

    /// Disables one of the signed-in seller's endpoints, or enables it again (which resets
    /// its run of failures).
    async fn set_webhook_endpoint_enabled(
        &self,
        ctx: &Context<'_>,
        id: ID,
        enabled: bool,
    ) -> Result<WebhookEndpointNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let id = EndpointId::from_uuid(uuid(&id, "endpoint id")?);
        let set = app
            .webhooks
            .set_endpoint_enabled(seller, id, enabled, app.now())
            .await;
        let action = if enabled {
            "webhook_endpoint.enable"
        } else {
            "webhook_endpoint.disable"
        };
        let resource = ("webhook_endpoint", id.to_string());
        crate::audit_trail::after(app, super::audit_who(ctx), action, resource, &set).await;
        Ok(WebhookEndpointNode::from(&set.map_err(events)?))
    }

    /// Sends one of the signed-in seller's deliveries again, now, whatever became of it;
    /// its endpoint must be enabled.
    async fn replay_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookDeliveryNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let id = DeliveryId::from_uuid(uuid(&id, "delivery id")?);
        let delivery = app
            .webhooks
            .replay(seller, id, app.now())
            .await
            .map_err(events)?;
        Ok(WebhookDeliveryNode::from(&delivery))
    }

    /// Adds a bank account for the signed-in seller's payouts on `rail` (e.g. `sepa_credit`,
    /// `ach`, `pix`): the details are checked for the rail, two micro-deposits are sent, and
    /// the account stays `unverified` until `verifyBankAccount` answers them. The same
    /// `idempotencyKey` adds nothing twice.
    async fn add_bank_account(
        &self,
        ctx: &Context<'_>,
        rail: String,
        details: BankDetailsInput,
        holder_name: String,
        idempotency_key: String,
    ) -> Result<BankAccountNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let request = AddBankAccount {
            id: BankAccountId::for_key(seller, &idempotency_key),
            seller,
            rail: Rail::parse(&rail).ok_or_else(|| error("invalid_input", "unknown rail"))?,
            details: details.parse()?,
            holder_name,
        };
        let resource = ("bank_account", request.id.to_string());
        let added = app.payouts.add_bank_account(request, app.now()).await;
        let who = super::audit_who(ctx);
        audit_trail::after(app, who, "bank_account.add", resource, &added).await;
        Ok(added.map_err(payouts)?.into())
    }

    /// Answers one of the signed-in seller's unverified bank accounts' micro-deposits, as two
    /// amounts in minor units (`[32, 45]` for 0.32 and 0.45), in either order. Three wrong
    /// answers leave the account errored.
    async fn verify_bank_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
        amounts_minor: Vec<i32>,
    ) -> Result<BankAccountVerification> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let id = BankAccountId::from_uuid(uuid(&id, "bank account id")?);
        let verification = app
            .payouts
            .verify_bank_account(seller, id, deposit_answer(&amounts_minor)?, app.now())
            .await;
        let who = super::audit_who(ctx);
        let resource = ("bank_account", id.to_string());
        audit_trail::after(app, who, "bank_account.verify", resource, &verification).await;
        Ok(verification.map_err(payouts)?.into())
    }

    /// Removes one of the signed-in seller's bank accounts and its sealed details.
    async fn remove_bank_account(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let id = BankAccountId::from_uuid(uuid(&id, "bank account id")?);
        let removed = app.payouts.remove_bank_account(seller, id).await;
        let who = super::audit_who(ctx);
        let resource = ("bank_account", id.to_string());
        audit_trail::after(app, who, "bank_account.remove", resource, &removed).await;
        removed.map_err(payouts)?;
        Ok(true)
    }
}

/// Makes a fresh signing secret, has `save` store it (sealed) on an endpoint, and answers
/// with the endpoint and the secret: the only place the secret is ever shown.
async fn with_new_secret<Saved>(
    ctx: &Context<'_>,
    action: &str,
    save: impl FnOnce(EndpointSecret) -> Saved,
) -> Result<WebhookSecretPayload>
where
    Saved: Future<Output = std::result::Result<WebhookEndpoint, EventStoreError>>,
{
    let secret = auth::new_endpoint_secret();
    let saved = save(secret.clone()).await;
    let resource = (
        "webhook_endpoint",
        saved
            .as_ref()
            .map(|endpoint| endpoint.id.to_string())
            .unwrap_or_default(),
    );
    crate::audit_trail::after(app(ctx)?, super::audit_who(ctx), action, resource, &saved).await;
    let endpoint = saved.map_err(events)?;
    Ok(WebhookSecretPayload {
        endpoint: WebhookEndpointNode::from(&endpoint),
        secret: secret.as_str().to_owned(),
    })
}

async fn move_order(ctx: &Context<'_>, order_id: ID, to: OrderState) -> Result<OrderNode> {
    let seller = seller(ctx)?;
    let app = app(ctx)?;
    let order_id = OrderId::from_uuid(uuid(&order_id, "order id")?);
    app.market
        .move_order(seller, order_id, to)
        .await
        .map_err(commerce)?;
    let order = app
        .market
        .order_for(Party::Seller(seller), order_id)
        .await
        .map_err(commerce)?
        .ok_or_else(|| error("not_found", "order not found"))?;
    Ok(OrderNode::from(&order))
}
