//! Carts, checkouts and orders: pricing a cart, splitting it per seller, order states, and
//! how refunds are bounded.

use std::collections::{BTreeMap, BTreeSet};

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money, Rounding};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::Country;
use crate::catalog::{
    BasisPoints, BuyerId, Category, ProductId, ProductKind, Seller, SkuId, SkuView,
};
use crate::chart::SellerId;
use crate::error::CommerceError;
use crate::fx::{FxError, FxRate, RateBook, Spread};
use crate::tax::{Area, TaxCode};

mod taxing;

pub use taxing::{LineTax, TaxBuyer, TaxHistory, TaxSetup};

bazaar_ledger::uuid_id!(
    /// One checkout: one payment for the orders of several sellers.
    CheckoutId
);
bazaar_ledger::uuid_id!(
    /// One seller's part of a checkout.
    OrderId
);
bazaar_ledger::uuid_id!(
    /// One line of an order.
    LineId
);
bazaar_ledger::uuid_id!(
    /// One refund of part or all of a line.
    RefundId
);

/// The most lines a cart may have.
pub const CART_LINES_MAX: usize = 30;
/// The most units of one SKU per cart line.
pub const QUANTITY_MAX: u32 = 100;
/// The longest idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;

/// The namespace of ids derived from a checkout id (a fixed random UUID).
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x2f0c_8a41_73de_4b6a_9c15_e0d4_51a8_3b7e);

/// A cart line as the buyer sent it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CartLine {
    /// The SKU to buy; a cart names each SKU once.
    pub sku_id: SkuId,
    /// Units, 1 to [`QUANTITY_MAX`].
    pub quantity: u32,
}

/// Checks an idempotency key: 1 to 128 printable ASCII characters.
pub fn validate_idempotency_key(key: &str) -> Result<(), CommerceError> {
    if key.is_empty()
        || key.len() > IDEMPOTENCY_KEY_LEN_MAX
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(CommerceError::InvalidInput(
            "idempotency key must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Checks a cart: 1 to 30 lines (a line posts at most 7 transfers, so a checkout fits in
/// one ledger batch of 256), each SKU once, quantities 1 to 100.
pub fn validate_cart(lines: &[CartLine]) -> Result<(), CommerceError> {
    if lines.is_empty() {
        return Err(CommerceError::InvalidInput("the cart is empty"));
    }
    if lines.len() > CART_LINES_MAX {
        return Err(CommerceError::InvalidInput("a cart has at most 30 lines"));
    }
    let mut seen = BTreeSet::new();
    for line in lines {
        if line.quantity == 0 || line.quantity > QUANTITY_MAX {
            return Err(CommerceError::InvalidInput("quantity must be 1 to 100"));
        }
        if !seen.insert(line.sku_id) {
            return Err(CommerceError::InvalidInput(
                "each SKU may appear once in a cart",
            ));
        }
    }
    Ok(())
}

/// Tax rates by buyer country, tax included in prices. A country without a rate is
/// collected at zero: this is the placeholder that a tax engine replaces.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TaxRates(pub BTreeMap<Country, BasisPoints>);

impl TaxRates {
    /// The rate for a buyer in `country`; zero for a country without one.
    pub fn rate_for(&self, country: &Country) -> BasisPoints {
        self.0.get(country).copied().unwrap_or(BasisPoints::ZERO)
    }
}

/// The rate locked for a seller's order when its presentment and settlement currencies
/// differ; stored with the order and with every transfer that uses it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FxQuote {
    /// The mid rate from the presentment to the settlement currency, with its source and
    /// effective time.
    pub rate: FxRate,
    /// The fraction of the mid value the platform keeps on the conversion, from the
    /// marketplace's settings at checkout.
    pub spread: Spread,
}

/// A priced line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PricedLine {
    /// Derived from the checkout id and the SKU, so a retried checkout names the same line;
    /// the ids of its ledger transfers derive from it.
    pub id: LineId,
    /// The SKU bought; a physical line reserves its stock at checkout.
    pub sku_id: SkuId,
    /// The SKU's product; reviews name it.
    pub product_id: ProductId,
    /// The SKU's title at checkout.
    pub title: String,
    /// The product's category at checkout, which picked the commission rate.
    pub category: Category,
    /// Physical lines reserve stock and wait to be shipped; digital ones do neither.
    pub kind: ProductKind,
    /// The product's tax code at checkout.
    pub tax_code: TaxCode,
    /// Units, 1 to [`QUANTITY_MAX`].
    pub quantity: u32,
    /// Tax included, in the presentment currency.
    pub unit_price: Money,
    /// `unit_price` times `quantity`, with the tax (included in prices, or added to them
    /// where prices are quoted before tax), in the presentment currency; refunds of the line
    /// are bounded by it.
    pub total: Money,
    /// The seller's commission rate for the line's category, in basis points, fixed at
    /// checkout.
    pub commission: BasisPoints,
    /// The line's tax, decided at checkout: part of `total`.
    pub tax: LineTax,
}

/// One seller's order within a checkout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlannedOrder {
    /// Derived from the checkout id and the seller.
    pub id: OrderId,
    /// The seller of every line of the order.
    pub seller_id: SellerId,
    /// The seller's settlement currency at checkout: the seller's share and the commission
    /// are posted in it.
    pub settlement_currency: Currency,
    /// The sum of the lines' totals, tax included, in the presentment currency.
    pub total: Money,
    /// Present when the settlement currency differs from the presentment currency.
    pub quote: Option<FxQuote>,
    /// The seller's lines, in cart order.
    pub lines: Vec<PricedLine>,
}

/// A priced cart split into per-seller orders.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckoutPlan {
    /// Chosen by the caller; every order and line id is derived from it.
    pub id: CheckoutId,
    /// The buyer who checks out and pays.
    pub buyer_id: BuyerId,
    /// The buyer's country: it picks the tax rate, the tax jurisdiction of every line and
    /// the payment methods offered.
    pub country: Country,
    /// The presentment currency: what the buyer sees and pays in.
    pub currency: Currency,
    /// The sum of the orders' totals: what the payment charges.
    pub total: Money,
    /// One order per seller, in seller id order.
    pub orders: Vec<PlannedOrder>,
    /// Consumer or business, with its tax number and the registry's answer, as the lines
    /// were taxed.
    pub customer: crate::tax::Customer,
}

impl CheckoutPlan {
    /// A short fingerprint of what was asked for (buyer, currency, SKUs and quantities, and
    /// a business's tax number), to tell a retry of the same checkout from a different
    /// request with the same key.
    pub fn request_fingerprint(
        buyer: BuyerId,
        currency: Currency,
        lines: &[CartLine],
        customer: &crate::tax::Customer,
    ) -> String {
        let mut sorted: Vec<(SkuId, u32)> = lines.iter().map(|l| (l.sku_id, l.quantity)).collect();
        sorted.sort();
        let mut text = format!("{buyer}|{}", currency.code());
        for (sku, quantity) in sorted {
            text.push_str(&format!("|{sku}x{quantity}"));
        }
        if let Some(tax_id) = customer.tax_id() {
            text.push_str(&format!("|tax:{tax_id}"));
        }
        Uuid::new_v5(&ORDER_NAMESPACE, text.as_bytes()).to_string()
    }
}

/// What pricing needs besides the cart.
#[derive(Debug)]
pub struct PricingContext<'a> {
    /// Where the quotes of foreign-settlement orders, and the display conversion of prices,
    /// come from.
    pub rates: &'a RateBook,
    /// The spread every quote of this checkout carries.
    pub spread: Spread,
    /// How lines are taxed.
    pub tax: &'a TaxSetup,
    /// What earlier sales add to the thresholds.
    pub tax_history: &'a TaxHistory,
    /// The buyer, for tax.
    pub tax_buyer: &'a TaxBuyer,
    /// When the prices are quoted: a book with stale rates refuses to convert.
    pub now: Timestamp,
}

#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a distinct input of pricing; a struct would only rename them"
)]
/// Prices `lines` in `currency` for a buyer in `country` and splits them per seller.
///
/// A SKU's price in the presentment currency is used as listed; a SKU without one is
/// priced from its first listed price at the mid rate, rounded half-up (display
/// conversion). Each seller's order whose settlement currency differs gets an [`FxQuote`].
pub fn plan_checkout(
    id: CheckoutId,
    buyer_id: BuyerId,
    country: Country,
    currency: Currency,
    lines: &[CartLine],
    skus: &[SkuView],
    sellers: &BTreeMap<SellerId, Seller>,
    context: &PricingContext<'_>,
) -> Result<CheckoutPlan, CommerceError> {
    validate_cart(lines)?;
    let by_id: BTreeMap<SkuId, &SkuView> = skus.iter().map(|s| (s.sku_id, s)).collect();
    let mut per_seller: BTreeMap<SellerId, Vec<PricedLine>> = BTreeMap::new();
    for line in lines {
        let sku = by_id
            .get(&line.sku_id)
            .ok_or(CommerceError::UnknownSku(line.sku_id))?;
        if let Some(available) = sku.available
            && available < line.quantity
        {
            return Err(CommerceError::OutOfStock {
                sku: sku.sku_id,
                requested: line.quantity,
                available,
            });
        }
        let seller = sellers
            .get(&sku.seller_id)
            .ok_or(CommerceError::NotFound("seller"))?;
        let unit_price = presentment_price(sku, currency, context.rates, context.now)?;
        let total = unit_price
            .mul_decimal(Decimal::from(line.quantity), Rounding::HalfEven)?
            .value;
        per_seller.entry(seller.id).or_default().push(PricedLine {
            id: LineId::from_uuid(derive_id(id.0, &format!("line:{}", sku.sku_id))),
            sku_id: sku.sku_id,
            product_id: sku.product_id,
            title: sku.title.clone(),
            category: sku.category.clone(),
            kind: sku.kind,
            tax_code: sku.tax_code,
            quantity: line.quantity,
            unit_price,
            total,
            commission: seller.commission.rate_for(&sku.category),
            tax: LineTax::untaxed(Area::country_wide(country), currency),
        });
    }
    taxing::tax_checkout(
        &mut per_seller,
        sellers,
        &taxing::TaxContext {
            setup: context.tax,
            history: context.tax_history,
            buyer: context.tax_buyer,
            rates: context.rates,
            now: context.now,
        },
    )?;
    let mut orders = Vec::with_capacity(per_seller.len());
    let mut grand_total = Money::zero(currency);
    for (seller_id, lines) in per_seller {
        let seller = sellers
            .get(&seller_id)
            .ok_or(CommerceError::NotFound("seller"))?;
        let mut total = Money::zero(currency);
        for line in &lines {
            total = total.checked_add(line.total)?;
        }
        grand_total = grand_total.checked_add(total)?;
        let quote = if seller.settlement_currency == currency {
            None
        } else {
            Some(FxQuote {
                rate: context
                    .rates
                    .quote(currency, seller.settlement_currency, context.now)?,
                spread: context.spread,
            })
        };
        orders.push(PlannedOrder {
            id: OrderId::from_uuid(derive_id(id.0, &format!("order:{seller_id}"))),
            seller_id,
            settlement_currency: seller.settlement_currency,
            total,
            quote,
            lines,
        });
    }
    Ok(CheckoutPlan {
        id,
        buyer_id,
        country,
        currency,
        total: grand_total,
        orders,
        customer: context.tax_buyer.customer.clone(),
    })
}

/// A SKU's unit price in `currency`, quoted at `now`: `fx_rate_stale` when it needs a
/// conversion and the rates are too old.
pub fn presentment_price(
    sku: &SkuView,
    currency: Currency,
    rates: &RateBook,
    now: Timestamp,
) -> Result<Money, CommerceError> {
    if let Some(price) = sku.prices.iter().find(|p| p.currency() == currency) {
        return Ok(*price);
    }
    let listed = sku.prices.first().ok_or(CommerceError::NoPrice {
        sku: sku.sku_id,
        currency,
    })?;
    let rate = rates
        .quote(listed.currency(), currency, now)
        .map_err(|error| match error {
            FxError::Stale { .. } => CommerceError::Fx(error),
            _ => CommerceError::NoPrice {
                sku: sku.sku_id,
                currency,
            },
        })?;
    let converted = listed.convert(rate.mid, currency, Rounding::HalfUp)?.value;
    if !converted.is_positive() {
        return Err(CommerceError::NoPrice {
            sku: sku.sku_id,
            currency,
        });
    }
    Ok(converted)
}

/// A name-based id under a parent id, so retries derive the same ids.
pub fn derive_id(parent: Uuid, name: &str) -> Uuid {
    Uuid::new_v5(&parent, name.as_bytes())
}

/// Where a checkout stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CheckoutState {
    /// Stock reserved, no payment started.
    Open,
    /// A payment was started and has no final result yet.
    PaymentPending,
    /// The payment was captured: stock consumed, every order paid (or delivered, if digital
    /// only). Final.
    Paid,
    /// Payment refused, cancelled or expired, or the reservation lapsed; stock released.
    Cancelled,
}

impl CheckoutState {
    /// The state's stored name: `open`, `payment_pending`, `paid` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::PaymentPending => "payment_pending",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state stored as `value`; `None` for any other string.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Open,
            Self::PaymentPending,
            Self::Paid,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// An order's fulfilment state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderState {
    /// Placed; its checkout's payment has no result yet.
    AwaitingPayment,
    /// Paid, with a physical line to ship; the seller may move it to `Shipped`.
    Paid,
    /// The seller shipped it; the seller may move it to `Delivered`.
    Shipped,
    /// The seller confirmed delivery, or it holds digital goods only and was delivered when
    /// paid. Only delivered orders can be reviewed.
    Delivered,
    /// Its payment failed, or the reservation lapsed, before it was paid; its stock is
    /// released. Final.
    Cancelled,
}

impl OrderState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The state's stored name: `awaiting_payment`, `paid`, `shipped`, `delivered` or
    /// `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state stored as `value`; `None` for any other string.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Where an order awaiting payment goes when its payment is captured: an order with a
    /// physical line waits to be shipped (`Paid`); an order of digital goods only (courses,
    /// downloads) is delivered at once (`Delivered`).
    pub fn when_paid(has_physical_line: bool) -> Self {
        if has_physical_line {
            Self::Paid
        } else {
            Self::Delivered
        }
    }

    /// The moves a seller may make: ship a paid order, confirm its delivery. Payment and
    /// cancellation are driven by the payment's outcome.
    pub fn seller_may_move_to(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Paid, Self::Shipped) | (Self::Shipped, Self::Delivered)
        )
    }
}

/// Where a payment stands, as Bazaar records it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PaymentState {
    /// Sent to the provider, waiting for the buyer or the provider.
    Pending,
    /// Card authorised, capture requested.
    Authorised,
    /// The money was taken. Refunds and chargebacks leave the state as it is.
    Captured,
    /// The provider or the card issuer refused the payment.
    Refused,
    /// Withdrawn before capture: at the provider, or by Bazaar when the checkout's
    /// reservation lapsed.
    Cancelled,
    /// The buyer never completed the payment (a voucher or QR code not paid, a redirect
    /// abandoned, an authorisation not captured in time).
    Expired,
}

impl PaymentState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Authorised,
        Self::Captured,
        Self::Refused,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The state's stored name: `pending`, `authorised`, `captured`, `refused`, `cancelled`
    /// or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorised => "authorised",
            Self::Captured => "captured",
            Self::Refused => "refused",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// The state stored as `value`; `None` for any other string.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether the provider has given its result: captured, refused, cancelled or expired.
    /// A failure notice changes nothing in a final state; only a capture still can, as a
    /// [late capture](crate::payments::PaymentChange::CaptureLate).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Captured | Self::Refused | Self::Cancelled | Self::Expired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paid_orders_of_digital_goods_only_are_delivered() {
        assert_eq!(OrderState::when_paid(true), OrderState::Paid);
        assert_eq!(OrderState::when_paid(false), OrderState::Delivered);
        // Either way the seller can only move it forward from there.
        assert!(OrderState::when_paid(true).seller_may_move_to(OrderState::Shipped));
        assert!(!OrderState::when_paid(false).seller_may_move_to(OrderState::Shipped));
    }
    use crate::catalog::CommissionRule;
    use crate::catalog::Region;
    use crate::fx::RateSet;
    use bazaar_ledger::Timestamp;
    use std::str::FromStr;

    #[expect(clippy::arithmetic_side_effects, reason = "small test ids")]
    fn sku(n: u128, seller: u128, prices: Vec<Money>, available: Option<u32>) -> SkuView {
        SkuView {
            sku_id: SkuId::from_uuid(Uuid::from_u128(n)),
            product_id: ProductId::from_uuid(Uuid::from_u128(n + 1000)),
            seller_id: SellerId::from_uuid(Uuid::from_u128(seller)),
            title: format!("sku {n}"),
            category: Category::new("books").unwrap(),
            kind: ProductKind::Physical,
            tax_code: TaxCode::Books,
            prices,
            available,
        }
    }

    fn seller(n: u128, currency: Currency) -> Seller {
        Seller {
            id: SellerId::from_uuid(Uuid::from_u128(n)),
            name: format!("seller {n}"),
            country: Country::new("DE").unwrap(),
            region: Region::new("eu").unwrap(),
            settlement_currency: currency,
            commission: CommissionRule::flat(BasisPoints::new(1000).unwrap()),
        }
    }

    fn book() -> RateBook {
        RateBook::new(vec![RateSet {
            source: "test".into(),
            base: Currency::EUR,
            effective_at: Timestamp::from_micros(0),
            rates: [(Currency::BRL, Decimal::from_str("5.5").unwrap())]
                .into_iter()
                .collect(),
        }])
        .unwrap()
    }

    #[test]
    fn carts_are_validated() {
        let line = |n: u128, quantity| CartLine {
            sku_id: SkuId::from_uuid(Uuid::from_u128(n)),
            quantity,
        };
        assert!(validate_cart(&[]).is_err());
        assert!(validate_cart(&[line(1, 0)]).is_err());
        assert!(validate_cart(&[line(1, 101)]).is_err());
        assert!(validate_cart(&[line(1, 1), line(1, 2)]).is_err());
        assert!(validate_cart(&[line(1, 1), line(2, 100)]).is_ok());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key("a b").is_err());
        assert!(validate_idempotency_key(&"k".repeat(129)).is_err());
    }

    #[test]
    fn checkouts_split_per_seller_and_quote_foreign_settlement() {
        let skus = vec![
            sku(
                1,
                10,
                vec![Money::from_minor(1_000, Currency::BRL)],
                Some(5),
            ),
            sku(2, 20, vec![Money::from_minor(300, Currency::EUR)], Some(5)),
        ];
        let sellers: BTreeMap<_, _> = [seller(10, Currency::BRL), seller(20, Currency::EUR)]
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let rates = book();
        let tax = TaxSetup::flat(TaxRates::default());
        let history = TaxHistory::default();
        let buyer = TaxBuyer {
            area: Area::parse("BR").unwrap(),
            customer: crate::tax::Customer::Consumer,
        };
        let context = PricingContext {
            rates: &rates,
            spread: Spread::ZERO,
            tax: &tax,
            tax_history: &history,
            tax_buyer: &buyer,
            now: Timestamp::from_micros(0),
        };
        let lines = [
            CartLine {
                sku_id: SkuId::from_uuid(Uuid::from_u128(1)),
                quantity: 2,
            },
            CartLine {
                sku_id: SkuId::from_uuid(Uuid::from_u128(2)),
                quantity: 1,
            },
        ];
        let plan = plan_checkout(
            CheckoutId::from_uuid(Uuid::from_u128(99)),
            BuyerId::from_uuid(Uuid::from_u128(7)),
            Country::new("BR").unwrap(),
            Currency::BRL,
            &lines,
            &skus,
            &sellers,
            &context,
        )
        .unwrap();
        assert_eq!(plan.orders.len(), 2);
        // 3.00 EUR at 5.5 BRL/EUR is 16.50 BRL.
        assert_eq!(plan.total, Money::from_minor(2_000 + 1_650, Currency::BRL));
        let eur = plan
            .orders
            .iter()
            .find(|o| o.settlement_currency == Currency::EUR)
            .unwrap();
        assert!(eur.quote.is_some());
        let brl = plan
            .orders
            .iter()
            .find(|o| o.settlement_currency == Currency::BRL)
            .unwrap();
        assert!(brl.quote.is_none());
        let again = plan_checkout(
            CheckoutId::from_uuid(Uuid::from_u128(99)),
            BuyerId::from_uuid(Uuid::from_u128(7)),
            Country::new("BR").unwrap(),
            Currency::BRL,
            &lines,
            &skus,
            &sellers,
            &context,
        )
        .unwrap();
        assert_eq!(
            plan, again,
            "ids are derived, so a retry plans the same checkout"
        );

        let too_many = [CartLine {
            sku_id: SkuId::from_uuid(Uuid::from_u128(1)),
            quantity: 6,
        }];
        assert!(matches!(
            plan_checkout(
                CheckoutId::from_uuid(Uuid::from_u128(98)),
                BuyerId::from_uuid(Uuid::from_u128(7)),
                Country::new("BR").unwrap(),
                Currency::BRL,
                &too_many,
                &skus,
                &sellers,
                &context,
            ),
            Err(CommerceError::OutOfStock { available: 5, .. })
        ));
        let unknown = [CartLine {
            sku_id: SkuId::from_uuid(Uuid::from_u128(3)),
            quantity: 1,
        }];
        assert!(matches!(
            plan_checkout(
                CheckoutId::from_uuid(Uuid::from_u128(97)),
                BuyerId::from_uuid(Uuid::from_u128(7)),
                Country::new("BR").unwrap(),
                Currency::JPY,
                &unknown,
                &skus,
                &sellers,
                &context,
            ),
            Err(CommerceError::UnknownSku(_))
        ));
    }
}
