//! Demo data: sellers in seven countries and currencies, a few thousand products, buyers,
//! and some orders, loaded once into an empty database (`--demo`). Every demo account's
//! password is [`DEMO_PASSWORD`].

use std::sync::Arc;

use bazaar_domain::Country;
use bazaar_domain::catalog::{
    BasisPoints, Buyer, BuyerId, Category, CommissionRule, NewProduct, NewSku, ProductId,
    ProductKind, Region, Seller, SkuId,
};
use bazaar_domain::chart::SellerId;
use bazaar_domain::identity::{Email, IdentityError, NewUser, Role, UserId};
use bazaar_domain::orders::{CartLine, CheckoutId, OrderState};
use bazaar_domain::payments::{CardNumber, MethodDetails};
use bazaar_domain::service::{CheckoutCommand, PayCommand};
use bazaar_money::{Currency, Money};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::state::App;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "bazaar-demo-password";

const NAMESPACE: Uuid = Uuid::from_u128(0x5e3b_0c2d_91aa_4f07_8d6e_1b2c_3d4e_5f60);

fn id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

struct DemoSeller {
    key: &'static str,
    name: &'static str,
    country: &'static str,
    region: &'static str,
    currency: Currency,
    /// A typical price in minor units.
    base_price: i64,
    category: &'static str,
    digital: bool,
}

const SELLERS: [DemoSeller; 7] = [
    DemoSeller {
        key: "berlin",
        name: "Berlin Books",
        country: "DE",
        region: "eu",
        currency: Currency::EUR,
        base_price: 1_800,
        category: "books",
        digital: false,
    },
    DemoSeller {
        key: "austin",
        name: "Austin Audio",
        country: "US",
        region: "us",
        currency: Currency::USD,
        base_price: 4_900,
        category: "audio",
        digital: false,
    },
    DemoSeller {
        key: "rio",
        name: "Rio Crafts",
        country: "BR",
        region: "sa",
        currency: Currency::BRL,
        base_price: 8_900,
        category: "crafts",
        digital: false,
    },
    DemoSeller {
        key: "tokyo",
        name: "Tokyo Tea",
        country: "JP",
        region: "apac",
        currency: Currency::JPY,
        base_price: 1_200,
        category: "tea",
        digital: false,
    },
    DemoSeller {
        key: "kuwait",
        name: "Kuwait Gold",
        country: "KW",
        region: "me",
        currency: Currency::KWD,
        base_price: 45_500,
        category: "jewellery",
        digital: false,
    },
    DemoSeller {
        key: "london",
        name: "London Learning",
        country: "GB",
        region: "eu",
        currency: Currency::GBP,
        base_price: 2_900,
        category: "courses",
        digital: true,
    },
    DemoSeller {
        key: "mumbai",
        name: "Mumbai Textiles",
        country: "IN",
        region: "apac",
        currency: Currency::INR,
        base_price: 99_900,
        category: "textiles",
        digital: false,
    },
];

/// Key, name, country, data region, and the state where tax depends on it.
const BUYERS: [(&str, &str, &str, &str, Option<&str>); 5] = [
    ("ana", "Ana Souza", "BR", "sa", None),
    ("joost", "Joost de Vries", "NL", "eu", None),
    ("yuki", "Yuki Tanaka", "JP", "apac", None),
    ("sam", "Sam Carter", "US", "us", Some("US-TX")),
    ("fatima", "Fatima Al-Sabah", "KW", "me", None),
];

const ADJECTIVES: [&str; 10] = [
    "Handmade", "Vintage", "Classic", "Organic", "Deluxe", "Compact", "Modern", "Rustic",
    "Premium", "Everyday",
];

fn err(context: &str) -> impl Fn(bazaar_domain::error::CommerceError) -> String + '_ {
    move |e| format!("{context}: {e}")
}

fn region(name: &str) -> Result<Region, String> {
    Region::new(name).map_err(|e| e.to_string())
}

fn country(code: &str) -> Result<Country, String> {
    Country::new(code).map_err(|_| format!("bad country {code}"))
}

async fn user(app: &App, key: &str, role: Role, region: Region) -> Result<(), String> {
    let password_hash = tokio::task::spawn_blocking(|| crate::auth::hash_password(DEMO_PASSWORD))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let email = Email::new(&format!("{key}@demo.bazaar")).map_err(|e| e.to_string())?;
    let created = app
        .identity
        .create_user(
            &NewUser {
                id: UserId::from_uuid(id(&format!("user:{key}"))),
                email,
                password_hash,
                role,
                region,
            },
            app.now(),
        )
        .await;
    match created {
        Ok(_) | Err(IdentityError::EmailTaken) => Ok(()),
        Err(e) => Err(format!("user {key}: {e}")),
    }
}

fn product(index: u32, seller: &DemoSeller) -> Result<NewProduct, String> {
    let adjective = ADJECTIVES
        .get(usize::try_from(index % 10).unwrap_or(0))
        .copied()
        .unwrap_or("Fine");
    let product_id = ProductId::from_uuid(id(&format!("product:{index}")));
    let step = i64::from(index % 17);
    let price = seller
        .base_price
        .saturating_add(seller.base_price.saturating_mul(step) / 10);
    let mut prices = vec![Money::from_minor(price, seller.currency)];
    if index.is_multiple_of(3) && seller.currency != Currency::EUR {
        // Some products also carry a EUR price of their own.
        prices.push(Money::from_minor(
            1_500_i64.saturating_add(step.saturating_mul(100)),
            Currency::EUR,
        ));
    }
    let variants: u32 = if seller.digital {
        1
    } else {
        (index % 2).saturating_add(1)
    };
    let skus = (0..variants)
        .map(|v| NewSku {
            id: SkuId::from_uuid(id(&format!("sku:{index}:{v}"))),
            code: format!("V{v}"),
            title: format!(
                "{adjective} {} #{index} ({})",
                seller.category,
                if v == 0 { "standard" } else { "large" }
            ),
            stock: (!seller.digital).then_some((index % 80).saturating_add(20)),
            prices: prices.clone(),
        })
        .collect();
    Ok(NewProduct {
        id: product_id,
        seller_id: SellerId::from_uuid(id(&format!("seller:{}", seller.key))),
        title: format!("{adjective} {} #{index}", seller.category),
        description: format!(
            "{} from {}: item {index} of the demo catalogue.",
            seller.category, seller.name
        ),
        category: Category::new(seller.category).map_err(|e| e.to_string())?,
        kind: if seller.digital {
            ProductKind::Digital
        } else {
            ProductKind::Physical
        },
        tax_code: if seller.digital {
            bazaar_domain::tax::TaxCode::EService
        } else {
            bazaar_domain::tax::TaxCode::GeneralGoods
        },
        skus,
    })
}

/// Loads the demo data unless it is there already.
pub async fn load(app: &Arc<App>) -> Result<(), String> {
    let marker = SellerId::from_uuid(id("seller:berlin"));
    if app
        .market
        .seller(marker)
        .await
        .map_err(err("seller"))?
        .is_some()
    {
        tracing::info!("demo data already loaded");
        return Ok(());
    }
    let count = app.config.demo_products;
    tracing::info!(products = count, "loading demo data");
    for seller in &SELLERS {
        let record = Seller {
            id: SellerId::from_uuid(id(&format!("seller:{}", seller.key))),
            name: seller.name.to_owned(),
            country: country(seller.country)?,
            region: region(seller.region)?,
            settlement_currency: seller.currency,
            commission: CommissionRule::flat(BasisPoints::new(1_000).map_err(|e| e.to_string())?),
        };
        app.market
            .register_seller(&record)
            .await
            .map_err(err("seller"))?;
        user(
            app,
            seller.key,
            Role::Seller(record.id),
            record.region.clone(),
        )
        .await?;
    }
    for (key, name, code, home, tax_area) in BUYERS {
        let buyer = Buyer {
            id: BuyerId::from_uuid(id(&format!("buyer:{key}"))),
            name: name.to_owned(),
            country: country(code)?,
            region: region(home)?,
            tax_area: tax_area
                .map(|area| bazaar_domain::tax::Area::parse(area).map_err(|_| "bad tax area"))
                .transpose()?,
        };
        app.market
            .register_buyer(&buyer)
            .await
            .map_err(err("buyer"))?;
        user(app, key, Role::Buyer(buyer.id), buyer.region.clone()).await?;
    }
    // Finance: reconciliation and its reports.
    user(app, "finance", Role::Finance, Region::default_region()).await?;
    // Compliance: the audit log and its exports.
    user(
        app,
        "compliance",
        Role::Compliance,
        Region::default_region(),
    )
    .await?;
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..count)
        .map(|index| async move {
            let seller = SELLERS
                .get(usize::try_from(index % 7).unwrap_or(0))
                .ok_or_else(|| "no seller".to_owned())?;
            let product = product(index, seller)?;
            app.market
                .add_product(&product)
                .await
                .map_err(err("product"))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    orders(app).await?;
    tracing::info!("demo data loaded");
    Ok(())
}

/// A few paid orders, so sellers have balances and a delivered order to review.
async fn orders(app: &Arc<App>) -> Result<(), String> {
    let sam = BuyerId::from_uuid(id("buyer:sam"));
    for n in 0..6_u32 {
        // Products 1, 8, 15, ... belong to Austin Audio (USD); 0, 7, ... to Berlin Books.
        let index = n.saturating_mul(7).saturating_add(n % 2);
        let checkout = app
            .market
            .checkout(&CheckoutCommand {
                id: CheckoutId::from_uuid(id(&format!("checkout:{n}"))),
                buyer_id: sam,
                currency: Currency::USD,
                lines: vec![CartLine {
                    sku_id: SkuId::from_uuid(id(&format!("sku:{index}:0"))),
                    quantity: 1,
                }],
                idempotency_key: format!("demo-{n}"),
                customer: bazaar_domain::tax::Customer::Consumer,
            })
            .await
            .map_err(err("checkout"))?;
        app.market
            .pay(&PayCommand {
                checkout_id: checkout.plan.id,
                buyer_id: sam,
                details: MethodDetails::Card {
                    number: CardNumber::new("4111 1111 1111 1111").map_err(|e| e.to_string())?,
                    expiry_month: 12,
                    expiry_year: 2099,
                },
                return_url: "http://127.0.0.1:8080/return".to_owned(),
            })
            .await
            .map_err(err("payment"))?;
        if n == 0 {
            let order = checkout.plan.orders.first().ok_or("no order")?;
            for state in [OrderState::Shipped, OrderState::Delivered] {
                app.market
                    .move_order(order.seller_id, order.id, state)
                    .await
                    .map_err(err("fulfilment"))?;
            }
        }
    }
    Ok(())
}
