//! The GraphQL API: schema, request context, errors, cursors, query cost.

mod audit_ops;
mod cards;
mod cost;
mod depth;
mod finance;
mod lending_ops;
mod loaders;
mod mutation;
mod payout_ops;
mod payouts;
mod query;
mod tax;
mod tax_ops;
mod types;

use std::sync::Arc;

use async_graphql::{EmptySubscription, ErrorExtensions, Schema};
use base64::Engine;
use bazaar_domain::error::CommerceError;
use bazaar_domain::events::EventStoreError;
use bazaar_domain::identity::{IdentityError, Role, TokenHash, User};
use bazaar_domain::store::PageCursor;
use bazaar_ledger::Timestamp;
use uuid::Uuid;

use crate::state::App;

pub use cost::QueryLimits;
pub(crate) use payout_ops::next_payout_on;
pub(crate) use payouts::BankDetailsInput;
pub(crate) use types::instant;

/// Every query: the marketplace's, the payouts' and finance's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    query::Query,
    payout_ops::PayoutQuery,
    finance::FinanceQuery,
    tax_ops::TaxQuery,
    lending_ops::LendingQuery,
    audit_ops::AuditQuery,
);

/// Every mutation: the marketplace's, the payouts' and finance's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    mutation::Mutation,
    payout_ops::PayoutMutation,
    finance::FinanceMutation,
    tax_ops::TaxMutation,
    lending_ops::LendingMutation,
    cards::CardMutation,
);

pub type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema with its limits and its one extension. The depth limit is
/// `QueryLimits`'s rather than async-graphql's, which would refuse the standard introspection
/// query.
pub fn schema(app: Arc<App>, auth_limits: Arc<crate::limits::AuthLimits>) -> ApiSchema {
    let depth = app.config.query_depth_max;
    let cost_max = app.config.query_cost_max;
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(app)
        .data(auth_limits)
        .limit_recursive_depth(32)
        .limit_directives(8)
        .extension(QueryLimits::new(cost_max, depth))
        .finish()
}

/// The schema in the GraphQL schema definition language, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// The dataloaders of one request.
pub fn loaders_for(app: &Arc<App>) -> loaders::Loaders {
    loaders::Loaders::new(app)
}

/// Who is asking, resolved from the bearer token before the query runs.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<User>,
    pub token: Option<TokenHash>,
}

impl Viewer {
    pub fn anonymous() -> Self {
        Self {
            user: None,
            token: None,
        }
    }
}

/// A GraphQL error with a stable code in `extensions.code`.
pub fn error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// Maps a commerce error to its client form; causes were logged where they happened.
pub fn commerce(e: CommerceError) -> async_graphql::Error {
    if matches!(e, CommerceError::Internal | CommerceError::Unavailable) {
        tracing::warn!(code = e.code(), "request failed in a backing service");
    }
    error(e.code(), e.to_string())
}

/// Maps an event store error (webhooks, event counts) to its client form.
pub fn events(e: EventStoreError) -> async_graphql::Error {
    if matches!(e, EventStoreError::Internal | EventStoreError::Unavailable) {
        tracing::warn!(code = e.code(), "request failed in a backing service");
    }
    error(e.code(), e.to_string())
}

/// Maps a refused webhook setting (URL, event patterns) to its client form.
pub fn identity(e: IdentityError) -> async_graphql::Error {
    error(e.code(), e.to_string())
}

fn viewer<'a>(ctx: &'a async_graphql::Context<'_>) -> Option<&'a User> {
    ctx.data_opt::<Viewer>().and_then(|v| v.user.as_ref())
}

/// The signed-in buyer, or `unauthenticated` / `forbidden`.
pub fn buyer(
    ctx: &async_graphql::Context<'_>,
) -> async_graphql::Result<bazaar_domain::catalog::BuyerId> {
    match viewer(ctx).map(|u| u.role) {
        Some(Role::Buyer(id)) => Ok(id),
        Some(Role::Seller(_) | Role::Finance | Role::Compliance) => {
            Err(identity(IdentityError::Forbidden))
        }
        None => Err(identity(IdentityError::Unauthenticated)),
    }
}

/// The signed-in seller, or `unauthenticated` / `forbidden`.
pub fn seller(
    ctx: &async_graphql::Context<'_>,
) -> async_graphql::Result<bazaar_domain::chart::SellerId> {
    match viewer(ctx).map(|u| u.role) {
        Some(Role::Seller(id)) => Ok(id),
        Some(Role::Buyer(_) | Role::Finance | Role::Compliance) => {
            Err(identity(IdentityError::Forbidden))
        }
        None => Err(identity(IdentityError::Unauthenticated)),
    }
}

/// Checks that the signed-in user works in finance: `unauthenticated` / `forbidden`.
pub fn finance(ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
    match viewer(ctx).map(|u| u.role) {
        Some(Role::Finance) => Ok(()),
        Some(Role::Buyer(_) | Role::Seller(_) | Role::Compliance) => {
            Err(identity(IdentityError::Forbidden))
        }
        None => Err(identity(IdentityError::Unauthenticated)),
    }
}

/// Who a GraphQL request is: the signed-in user and the client's address.
pub fn audit_who(ctx: &async_graphql::Context<'_>) -> (String, String) {
    let actor = ctx
        .data_opt::<Viewer>()
        .and_then(|viewer| viewer.user.as_ref())
        .map_or_else(|| "anonymous".to_owned(), crate::audit_trail::actor);
    let origin = ctx
        .data_opt::<std::sync::Arc<crate::limits::AuthRequest>>()
        .map_or_else(
            || "unknown".to_owned(),
            |request| request.client().to_string(),
        );
    (actor, origin)
}

/// Checks that the signed-in user works in compliance: `unauthenticated` / `forbidden`.
pub fn compliance(ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
    match viewer(ctx).map(|u| u.role) {
        Some(Role::Compliance) => Ok(()),
        Some(Role::Buyer(_) | Role::Seller(_) | Role::Finance) => {
            Err(identity(IdentityError::Forbidden))
        }
        None => Err(identity(IdentityError::Unauthenticated)),
    }
}

pub fn app<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a Arc<App>> {
    ctx.data::<Arc<App>>()
        .map_err(|_| error("internal_error", "internal error"))
}

/// A UUID argument.
pub fn uuid(value: &async_graphql::ID, what: &'static str) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(value.as_str())
        .map_err(|_| error("invalid_input", format!("{what} is not a valid id")))
}

/// The most items one page may ask for.
pub const PAGE_MAX: i32 = 100;

/// `first` bounded to 1..=100 (default 20).
pub fn page_size(first: Option<i32>) -> async_graphql::Result<u32> {
    let first = first.unwrap_or(20);
    if !(1..=PAGE_MAX).contains(&first) {
        return Err(error("invalid_input", "first must be between 1 and 100"));
    }
    u32::try_from(first).map_err(|_| error("invalid_input", "first must be between 1 and 100"))
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode(cursor: &str) -> async_graphql::Result<String> {
    let invalid = || error("invalid_cursor", "the cursor is not one this API issued");
    if cursor.len() > 200 {
        return Err(invalid());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)
}

/// Cursor of a list paged by id alone (products in id order, webhook deliveries).
pub fn id_cursor(id: Uuid) -> String {
    encode(&format!("id:{id}"))
}

pub fn parse_id_cursor(cursor: &str) -> async_graphql::Result<Uuid> {
    let text = decode(cursor)?;
    text.strip_prefix("id:")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| error("invalid_cursor", "the cursor is not one this API issued"))
}

/// Cursor of a list newest first (orders, reviews).
pub fn time_cursor(created_at: Timestamp, id: Uuid) -> String {
    encode(&format!("t:{}:{id}", created_at.as_micros()))
}

pub fn parse_time_cursor(cursor: &str) -> async_graphql::Result<PageCursor> {
    let text = decode(cursor)?;
    let invalid = || error("invalid_cursor", "the cursor is not one this API issued");
    let rest = text.strip_prefix("t:").ok_or_else(invalid)?;
    let (micros, id) = rest.split_once(':').ok_or_else(invalid)?;
    Ok(PageCursor {
        created_at: Timestamp::from_micros(micros.parse().map_err(|_| invalid())?),
        id: Uuid::parse_str(id).map_err(|_| invalid())?,
    })
}

/// Cursor of a ledger history page.
pub fn ledger_cursor(timestamp: Timestamp, leg: i32) -> String {
    encode(&format!("l:{}:{leg}", timestamp.as_micros()))
}

pub fn parse_ledger_cursor(cursor: &str) -> async_graphql::Result<bazaar_ledger::HistoryCursor> {
    let text = decode(cursor)?;
    let invalid = || error("invalid_cursor", "the cursor is not one this API issued");
    let rest = text.strip_prefix("l:").ok_or_else(invalid)?;
    let (micros, leg) = rest.split_once(':').ok_or_else(invalid)?;
    Ok(bazaar_ledger::HistoryCursor {
        timestamp: Timestamp::from_micros(micros.parse().map_err(|_| invalid())?),
        leg: leg.parse().map_err(|_| invalid())?,
    })
}

/// The cost of a list field: its page size times the cost of one item.
pub fn list_cost(first: Option<i32>, child_complexity: usize) -> usize {
    usize::try_from(first.unwrap_or(20).clamp(1, PAGE_MAX))
        .unwrap_or(100)
        .saturating_mul(child_complexity.max(1))
}

#[cfg(test)]
mod tests {
    /// `schema.graphql` is the schema the code serves; `UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn committed_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let sdl = super::sdl();
        if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            std::fs::write(path, &sdl).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == sdl,
            "apps/graphql/schema.graphql differs from the schema the code serves; run \
             `UPDATE_SCHEMA=1 cargo test -p bazaar-graphql --lib committed_schema` and commit it"
        );
    }
}
