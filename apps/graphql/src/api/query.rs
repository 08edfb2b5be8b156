//! Queries: catalog, currencies and rates, payment methods, a buyer's orders, and the
//! seller back office (with its webhook endpoints, deliveries and event counts). Every seller or buyer field reads only the signed-in party's data.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use bazaar_domain::Country;
use bazaar_domain::catalog::{Category, ProductId, ProductQuery};
use bazaar_domain::chart::SellerId;
use bazaar_domain::orders::{CheckoutId, OrderId};
use bazaar_domain::service::SellerAccount;
use bazaar_domain::store::{Page, Party};
use bazaar_domain::webhooks::{DeliveryId, EndpointId};
use bazaar_money::{Currency, Money};

use super::payouts::BankAccountNode;
use super::types::{
    BalancesNode, CheckoutNode, CurrencyNode, EventCountNode, Kind, LedgerEntryNode, MoneyNode,
    OrderNode, PaymentMethodNode, ProductNode, RateNode, ReviewNode, UserNode, WebhookDeliveryNode,
    WebhookEndpointNode, instant,
};
use super::{
    app, buyer, commerce, error, events, id_cursor, ledger_cursor, list_cost, page_size,
    parse_id_cursor, parse_ledger_cursor, parse_time_cursor, seller, time_cursor, uuid,
};

#[derive(Default)]
pub struct Query;

/// Filters of a product listing.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Words that must all appear in the title or description.
    pub text: Option<String>,
    pub category: Option<String>,
    pub kind: Option<Kind>,
    pub seller_id: Option<ID>,
    /// Bounds on a SKU's listed price in the query's currency, as decimal strings.
    pub min_price: Option<String>,
    pub max_price: Option<String>,
}

/// Which of the seller's ledger accounts.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum LedgerAccount {
    Pending,
    Available,
}

pub fn currency(code: &str) -> Result<Currency> {
    Currency::from_code(code.trim()).map_err(|e| error(e.code(), e.to_string()))
}

fn country(code: &str) -> Result<Country> {
    Country::new(code.trim()).map_err(|_| {
        error(
            "invalid_input",
            "country must be an ISO 3166 alpha-2 code such as BR",
        )
    })
}

pub(super) fn money(amount: &str, currency: Currency) -> Result<Money> {
    Money::parse(amount.trim(), currency).map_err(|e| error(e.code(), e.to_string()))
}

/// A connection from a page of items.
pub(super) fn page<T, N: async_graphql::OutputType>(
    found: Page<T>,
    has_previous: bool,
    edge: impl Fn(&T) -> (String, N),
) -> Connection<String, N> {
    let mut connection = Connection::new(has_previous, found.has_next);
    connection.edges.extend(found.items.iter().map(|item| {
        let (cursor, node) = edge(item);
        Edge::new(cursor, node)
    }));
    connection
}

/// Runs a product query and wraps it as a connection.
async fn product_page(
    ctx: &Context<'_>,
    mut query: ProductQuery,
    after: Option<String>,
    currency: Currency,
) -> Result<Connection<String, ProductNode>> {
    let app = app(ctx)?;
    query.after = after
        .as_deref()
        .map(parse_id_cursor)
        .transpose()?
        .map(ProductId::from_uuid);
    let found = app.market.search_page(&query).await.map_err(commerce)?;
    Ok(page(found, query.after.is_some(), |p| {
        (id_cursor(p.id.as_uuid()), ProductNode::new(p, currency))
    }))
}

pub async fn reviews(
    ctx: &Context<'_>,
    product: ProductId,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, ReviewNode>> {
    let app = app(ctx)?;
    let limit = page_size(first)?;
    let after = after.as_deref().map(parse_time_cursor).transpose()?;
    let found = app
        .market
        .reviews_page(product, after, limit)
        .await
        .map_err(commerce)?;
    Ok(page(found, after.is_some(), |r| {
        let node = ReviewNode {
            id: ID(r.review.id.to_string()),
            rating: i32::from(r.review.rating),
            body: r.review.body.clone(),
            created_at: instant(r.created_at),
        };
        (time_cursor(r.created_at, r.review.id.as_uuid()), node)
    }))
}

async fn order_page(
    ctx: &Context<'_>,
    party: Party,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, OrderNode>> {
    let app = app(ctx)?;
    let limit = page_size(first)?;
    let after = after.as_deref().map(parse_time_cursor).transpose()?;
    let found = app
        .market
        .orders_page(party, after, limit)
        .await
        .map_err(commerce)?;
    Ok(page(found, after.is_some(), |o| {
        (
            time_cursor(o.created_at, o.id.as_uuid()),
            OrderNode::from(o),
        )
    }))
}

#[Object(name = "MarketplaceQuery")]
impl Query {
    /// Products, in a stable order, with prices in `currency` (default EUR).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProductFilter>,
        currency: Option<String>,
    ) -> Result<Connection<String, ProductNode>> {
        let currency = self::currency(currency.as_deref().unwrap_or("EUR"))?;
        let filter = filter.unwrap_or_default();
        let price = |value: &Option<String>| {
            value
                .as_deref()
                .map(|v| money(v, currency).map(Money::minor))
                .transpose()
        };
        let query = ProductQuery {
            text: filter.text.clone(),
            category: filter
                .category
                .as_deref()
                .map(Category::new)
                .transpose()
                .map_err(commerce)?,
            seller_id: filter
                .seller_id
                .as_ref()
                .map(|id| uuid(id, "seller id").map(SellerId::from_uuid))
                .transpose()?,
            kind: filter.kind.map(Into::into),
            currency: (filter.min_price.is_some() || filter.max_price.is_some())
                .then_some(currency),
            price_min_minor: price(&filter.min_price)?,
            price_max_minor: price(&filter.max_price)?,
            ids: None,
            after: None,
            limit: page_size(first)?,
        };
        product_page(ctx, query, after, currency).await
    }

    /// One product; null if it does not exist.
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        currency: Option<String>,
    ) -> Result<Option<ProductNode>> {
        let currency = self::currency(currency.as_deref().unwrap_or("EUR"))?;
        let product = uuid(&id, "product id")?;
        if let Some(read) = ctx.data_opt::<std::sync::Arc<crate::read_cache::ProductsRead>>() {
            read.note(product);
        }
        let query = ProductQuery {
            ids: Some(vec![ProductId::from_uuid(product)]),
            limit: 1,
            ..ProductQuery::default()
        };
        let page = product_page(ctx, query, None, currency).await?;
        Ok(page.edges.into_iter().next().map(|edge| edge.node))
    }

    /// The currencies Bazaar has exchange rates for.
    async fn currencies(&self, ctx: &Context<'_>) -> Result<Vec<CurrencyNode>> {
        let app = app(ctx)?;
        Ok(app
            .market
            .rates()
            .currencies()
            .into_iter()
            .map(|c| CurrencyNode {
                code: c.code().to_owned(),
                decimals: i32::try_from(c.exponent()).unwrap_or(0),
            })
            .collect())
    }

    /// The mid-market rate between two currencies, with its source and effective time;
    /// `fx_rate_stale` when the rates are too old to quote.
    async fn exchange_rate(&self, ctx: &Context<'_>, from: String, to: String) -> Result<RateNode> {
        let app = app(ctx)?;
        let rate = app
            .market
            .rates()
            .quote(currency(&from)?, currency(&to)?, app.now())
            .map_err(|e| error(e.code(), e.to_string()))?;
        Ok(RateNode {
            from: rate.from.code().to_owned(),
            to: rate.to.code().to_owned(),
            mid: rate.mid.to_string(),
            source: rate.source,
            effective_at: instant(rate.effective_at),
        })
    }

    /// The payment methods a buyer in `country` can pay `amount` (a decimal string) of
    /// `currency` with, in display order.
    async fn payment_methods(
        &self,
        ctx: &Context<'_>,
        country: String,
        currency: String,
        amount: String,
    ) -> Result<Vec<PaymentMethodNode>> {
        let app = app(ctx)?;
        let amount = money(&amount, self::currency(&currency)?)?;
        if !amount.is_positive() {
            return Err(error("invalid_input", "amount must be positive"));
        }
        Ok(app
            .market
            .payment_methods(&self::country(&country)?, amount)
            .into_iter()
            .map(|m| PaymentMethodNode {
                r#type: m.method.wire_name().to_owned(),
                name: m.name.to_owned(),
            })
            .collect())
    }

    /// The signed-in user; null when signed out.
    async fn me(&self, ctx: &Context<'_>) -> Option<UserNode> {
        ctx.data_opt::<super::Viewer>()
            .and_then(|v| v.user.as_ref())
            .map(UserNode::from)
    }

    /// The signed-in buyer's orders, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, OrderNode>> {
        let buyer = buyer(ctx)?;
        order_page(ctx, Party::Buyer(buyer), first, after).await
    }

    /// One of the signed-in buyer's or seller's orders; null for anyone else's.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<OrderNode>> {
        let party = match (buyer(ctx), seller(ctx)) {
            (Ok(buyer), _) => Party::Buyer(buyer),
            (_, Ok(seller)) => Party::Seller(seller),
            (Err(error), _) => return Err(error),
        };
        let app = app(ctx)?;
        let order = app
            .market
            .order_for(party, OrderId::from_uuid(uuid(&id, "order id")?))
            .await
            .map_err(commerce)?;
        Ok(order.as_ref().map(OrderNode::from))
    }

    /// One of the signed-in buyer's checkouts; null for anyone else's.
    async fn checkout(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CheckoutNode>> {
        let buyer = buyer(ctx)?;
        let app = app(ctx)?;
        let record = app
            .market
            .checkout_for(buyer, CheckoutId::from_uuid(uuid(&id, "checkout id")?))
            .await
            .map_err(commerce)?;
        Ok(record.as_ref().map(CheckoutNode::from))
    }

    /// The signed-in seller's pending and available balances, straight from the ledger.
    async fn seller_balances(&self, ctx: &Context<'_>) -> Result<BalancesNode> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let balances = app.market.seller_balances(seller).await.map_err(commerce)?;
        Ok(BalancesNode {
            pending: balances.pending.into(),
            available: balances.available.into(),
        })
    }

    /// The signed-in seller's orders, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn seller_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, OrderNode>> {
        let seller = seller(ctx)?;
        order_page(ctx, Party::Seller(seller), first, after).await
    }

    /// The signed-in seller's products with their prices in `currency` (default: the
    /// seller's settlement currency).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn seller_products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        currency: Option<String>,
    ) -> Result<Connection<String, ProductNode>> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let currency = match currency {
            Some(code) => self::currency(&code)?,
            None => {
                app.market
                    .seller(seller_id)
                    .await
                    .map_err(commerce)?
                    .ok_or_else(|| error("not_found", "seller not found"))?
                    .settlement_currency
            }
        };
        let query = ProductQuery {
            seller_id: Some(seller_id),
            limit: page_size(first)?,
            ..ProductQuery::default()
        };
        product_page(ctx, query, after, currency).await
    }

    /// The signed-in seller's ledger history on its pending or available account, newest
    /// first, with the balance after each transfer and the FX rate used.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn seller_ledger(
        &self,
        ctx: &Context<'_>,
        account: LedgerAccount,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, LedgerEntryNode>> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let limit = page_size(first)?;
        let before = after.as_deref().map(parse_ledger_cursor).transpose()?;
        let account = match account {
            LedgerAccount::Pending => SellerAccount::Pending,
            LedgerAccount::Available => SellerAccount::Available,
        };
        let page = app
            .market
            .seller_ledger(seller_id, account, before, limit)
            .await
            .map_err(commerce)?;
        let mut connection = Connection::new(before.is_some(), page.has_next);
        connection.edges.extend(page.items.iter().map(|item| {
            let transfer = &item.entry.transfer;
            let meta = |key: &str| transfer.metadata.get(key).cloned();
            let node = LedgerEntryNode {
                transfer_id: ID(transfer.id.to_string()),
                kind: meta("kind"),
                direction: if item.credit { "credit" } else { "debit" }.to_owned(),
                amount: MoneyNode::from(transfer.amount),
                balance_after: MoneyNode::from(item.balance_after),
                at: instant(transfer.timestamp),
                order_id: meta("order_id"),
                fx_rate: meta("fx_rate"),
                fx_pair: meta("fx_pair"),
                fx_source: meta("fx_source"),
            };
            Edge::new(ledger_cursor(transfer.timestamp, item.entry.leg), node)
        }));
        Ok(connection)
    }

    /// The signed-in seller's bank accounts, oldest first, masked.
    async fn bank_accounts(&self, ctx: &Context<'_>) -> Result<Vec<BankAccountNode>> {
        let seller = seller(ctx)?;
        let accounts = app(ctx)?
            .payouts
            .bank_accounts(seller)
            .await
            .map_err(super::payouts::payouts)?;
        Ok(accounts.into_iter().map(BankAccountNode::from).collect())
    }

    /// The signed-in seller's webhook endpoints, oldest first (never their secrets).
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpointNode>> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let endpoints = app
            .webhooks
            .endpoints(seller, app.now())
            .await
            .map_err(events)?;
        Ok(endpoints.iter().map(WebhookEndpointNode::from).collect())
    }

    /// The deliveries to one of the signed-in seller's endpoints, newest first, each with
    /// its attempts. Another seller's endpoint is `not_found`.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDeliveryNode>> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let endpoint = EndpointId::from_uuid(uuid(&endpoint_id, "endpoint id")?);
        let limit = page_size(first)?;
        let before = after.as_deref().map(parse_id_cursor).transpose()?;
        let found = app
            .webhooks
            .deliveries(
                seller,
                endpoint,
                before.map(DeliveryId::from_uuid),
                limit,
                app.now(),
            )
            .await
            .map_err(events)?;
        Ok(page(found, before.is_some(), |d| {
            (id_cursor(d.id.as_uuid()), WebhookDeliveryNode::from(d))
        }))
    }

    /// How many events of each type the signed-in seller has had, by type.
    async fn event_counts(&self, ctx: &Context<'_>) -> Result<Vec<EventCountNode>> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let counts = app.webhooks.event_counts(seller).await.map_err(events)?;
        Ok(counts
            .into_iter()
            .map(|(event_type, count)| EventCountNode {
                event_type,
                count: i32::try_from(count).unwrap_or(i32::MAX),
            })
            .collect())
    }
}
