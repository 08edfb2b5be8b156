//! Rows as the commerce queries read them, and their conversion into domain values.

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, Category, ProductKind, Region};
use bazaar_domain::chart::ProviderName;
use bazaar_domain::error::CommerceError;
use bazaar_domain::orders::{CheckoutState, OrderState, PaymentState};
use bazaar_domain::payments::{Action, MethodType, PspReference};
use bazaar_domain::store::RefundState;
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::Fail;

/// A stored value that does not parse: the data is corrupt or was written by a newer
/// version. Logged here, refused as an internal error.
pub(crate) fn corrupt(what: &'static str, value: &str) -> Fail {
    tracing::error!(
        column = what,
        value = value.chars().take(64).collect::<String>(),
        "unreadable stored value"
    );
    Fail::Domain(CommerceError::Internal)
}

pub(crate) fn currency(value: &str) -> Result<Currency, Fail> {
    Currency::from_code(value.trim()).map_err(|_| corrupt("currency", value))
}

pub(crate) fn country(value: &str) -> Result<Country, Fail> {
    Country::new(value.trim()).map_err(|_| corrupt("country", value))
}

pub(crate) fn region(value: &str) -> Result<Region, Fail> {
    Region::new(value).map_err(|_| corrupt("home_region", value))
}

pub(crate) fn category(value: &str) -> Result<Category, Fail> {
    Category::new(value).map_err(|_| corrupt("category", value))
}

pub(crate) fn kind(value: &str) -> Result<ProductKind, Fail> {
    ProductKind::parse(value).ok_or_else(|| corrupt("kind", value))
}

/// A stored tax code; a row from before tax codes takes its kind's default.
pub(crate) fn tax_code(
    value: Option<&str>,
    kind: ProductKind,
) -> Result<bazaar_domain::tax::TaxCode, Fail> {
    match value {
        None => Ok(kind.default_tax_code()),
        Some(value) => {
            bazaar_domain::tax::TaxCode::parse(value).ok_or_else(|| corrupt("tax_code", value))
        }
    }
}

pub(crate) fn bps(value: i32) -> Result<BasisPoints, Fail> {
    u16::try_from(value)
        .ok()
        .and_then(|v| BasisPoints::new(v).ok())
        .ok_or_else(|| corrupt("bps", &value.to_string()))
}

pub(crate) fn order_state(value: &str) -> Result<OrderState, Fail> {
    OrderState::parse(value).ok_or_else(|| corrupt("order state", value))
}

pub(crate) fn checkout_state(value: &str) -> Result<CheckoutState, Fail> {
    CheckoutState::parse(value).ok_or_else(|| corrupt("checkout state", value))
}

pub(crate) fn payment_state(value: &str) -> Result<PaymentState, Fail> {
    PaymentState::parse(value).ok_or_else(|| corrupt("payment state", value))
}

pub(crate) fn refund_state(value: &str) -> Result<RefundState, Fail> {
    RefundState::parse(value).ok_or_else(|| corrupt("refund state", value))
}

pub(crate) fn provider(value: &str) -> Result<ProviderName, Fail> {
    ProviderName::new(value).map_err(|_| corrupt("provider", value))
}

pub(crate) fn method(value: &str) -> Result<MethodType, Fail> {
    MethodType::from_wire_name(value).ok_or_else(|| corrupt("method", value))
}

pub(crate) fn reference(value: &str) -> Result<PspReference, Fail> {
    PspReference::new(value).map_err(|_| corrupt("psp_reference", value))
}

pub(crate) fn action_to_json(action: &Action) -> serde_json::Value {
    match action {
        Action::Redirect { url } => serde_json::json!({"type": "redirect", "url": url}),
        Action::ThreeDsChallenge { url } => {
            serde_json::json!({"type": "three_ds_challenge", "url": url})
        }
        Action::Voucher {
            reference,
            expires_at,
        } => serde_json::json!({
            "type": "voucher", "reference": reference, "expires_at": expires_at.as_micros()
        }),
        Action::QrCode { data, expires_at } => serde_json::json!({
            "type": "qr_code", "data": data, "expires_at": expires_at.as_micros()
        }),
    }
}

pub(crate) fn action_from_json(value: &serde_json::Value) -> Result<Action, Fail> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| corrupt("action", key))
    };
    let expires = || {
        value
            .get("expires_at")
            .and_then(serde_json::Value::as_i64)
            .map(Timestamp::from_micros)
            .ok_or_else(|| corrupt("action", "expires_at"))
    };
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some("redirect") => Ok(Action::Redirect { url: text("url")? }),
        Some("three_ds_challenge") => Ok(Action::ThreeDsChallenge { url: text("url")? }),
        Some("voucher") => Ok(Action::Voucher {
            reference: text("reference")?,
            expires_at: expires()?,
        }),
        Some("qr_code") => Ok(Action::QrCode {
            data: text("data")?,
            expires_at: expires()?,
        }),
        _ => Err(corrupt("action", "type")),
    }
}

/// A seller as stored, read through diesel's builder (columns checked by the compiler).
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::sellers, check_for_backend(diesel::pg::Pg))]
pub(crate) struct SellerRow {
    pub id: Uuid,
    pub name: String,
    pub country: String,
    pub home_region: String,
    pub settlement_currency: String,
    pub commission_bps: i32,
}

/// A seller's commission rate for one category.
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::commission_rates, check_for_backend(diesel::pg::Pg))]
pub(crate) struct RateRow {
    pub category: String,
    pub commission_bps: i32,
}

/// A buyer as stored.
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::buyers, check_for_backend(diesel::pg::Pg))]
pub(crate) struct BuyerRow {
    pub id: Uuid,
    pub name: String,
    pub country: String,
    pub home_region: String,
    pub tax_area: Option<String>,
}

/// A SKU with its product's seller, category and kind; fields in select order (and named as
/// the columns of a raw query).
#[derive(diesel::Queryable, QueryableByName)]
pub(crate) struct SkuRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub seller_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub tax_code: Option<String>,
    #[diesel(sql_type = Bool)]
    pub tracks_stock: bool,
    #[diesel(sql_type = Integer)]
    pub available: i32,
}

#[derive(QueryableByName)]
pub(crate) struct ProductRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub seller_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub price_from: Option<i64>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub rating_centi: Option<i32>,
    #[diesel(sql_type = Integer)]
    pub review_count: i32,
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::checkouts, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CheckoutRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub buyer_id: Uuid,
    #[diesel(sql_type = Text)]
    pub fingerprint: String,
    #[diesel(sql_type = Text)]
    pub country: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub buyer_tax_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub tax_id_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub tax_id_consultation: Option<String>,
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::orders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrderRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub seller_id: Uuid,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = Text)]
    pub settlement_currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub fx_mid: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub fx_source: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub fx_effective_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub fx_spread: Option<String>,
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::order_lines, check_for_backend(diesel::pg::Pg))]
pub(crate) struct LineRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub order_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub sku_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Integer)]
    pub quantity: i32,
    #[diesel(sql_type = BigInt)]
    pub unit_price_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = Integer)]
    pub commission_bps: i32,
    #[diesel(sql_type = Integer)]
    pub tax_bps: i32,
    #[diesel(sql_type = BigInt)]
    pub refund_requested_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub refund_posted_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub tax_minor: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub tax_decision: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub tax_threshold_minor: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub tax_code: Option<String>,
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::payments, check_for_backend(diesel::pg::Pg))]
pub(crate) struct PaymentRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub checkout_id: Uuid,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub method: String,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub psp_reference: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub action: Option<serde_json::Value>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub captured_late: bool,
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = bazaar_schema::schema::refunds, check_for_backend(diesel::pg::Pg))]
pub(crate) struct RefundRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub payment_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub line_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub idempotency_key: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Bool)]
    pub chargeback: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub psp_reference: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub posted_before_minor: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub posted_after_minor: Option<i64>,
}

#[derive(QueryableByName)]
pub(crate) struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
}
