//! Sellers, buyers, products and their SKUs.

use std::collections::BTreeMap;

use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use uuid::Uuid;

use crate::Country;
use crate::chart::SellerId;
use crate::error::CommerceError;
use crate::tax::code::TaxCode;

bazaar_ledger::uuid_id!(
    /// A buyer's id.
    BuyerId
);
bazaar_ledger::uuid_id!(
    /// A review's id: one per order and product ([`ReviewId::of`]).
    ReviewId
);

impl ReviewId {
    /// The review of `product` bought in `order`: a retried review names the same one.
    pub fn of(order: crate::orders::OrderId, product: ProductId) -> Self {
        Self::from_uuid(Uuid::new_v5(&order.as_uuid(), product.as_uuid().as_bytes()))
    }
}
bazaar_ledger::uuid_id!(
    /// A product's id.
    ProductId
);
bazaar_ledger::uuid_id!(
    /// A SKU's (sellable variant's) id.
    SkuId
);

/// The most characters in a product title.
pub const TITLE_LEN_MAX: usize = 200;
/// The most characters in a product description.
pub const DESCRIPTION_LEN_MAX: usize = 5_000;
/// The most SKUs one product may have.
pub const SKUS_PER_PRODUCT_MAX: usize = 100;
/// The most units of one SKU in stock.
pub const STOCK_MAX: u32 = 1_000_000;

/// A commission rate in basis points (1/100 of a percent): `1000` is 10%.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BasisPoints(u16);

impl BasisPoints {
    /// 0%: the tax rate of a country without one.
    pub const ZERO: Self = Self(0);
    /// The commission a new seller pays until told otherwise: 10%.
    pub const DEFAULT_COMMISSION: Self = Self(1_000);

    /// At most 10,000 (100%).
    pub fn new(value: u16) -> Result<Self, CommerceError> {
        if value > 10_000 {
            return Err(CommerceError::InvalidInput(
                "a rate must be at most 10000 basis points",
            ));
        }
        Ok(Self(value))
    }

    /// The rate, 0 to 10,000.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// A category slug such as `books` or `courses.programming`: `[a-z0-9_.-]{1,64}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Category(String);

impl Category {
    /// A slug of 1 to 64 characters from `[a-z0-9_.-]`; `invalid_input` otherwise.
    pub fn new(slug: &str) -> Result<Self, CommerceError> {
        let valid = (1..=64).contains(&slug.len())
            && slug.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        valid
            .then(|| Self(slug.to_owned()))
            .ok_or(CommerceError::InvalidInput(
                "category must match [a-z0-9_.-]{1,64}",
            ))
    }

    /// The slug as given, e.g. `courses.programming`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A data-residency region such as `eu`, `us` or `sa`; rows holding personal data carry it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Region(String);

impl Region {
    /// The region of rows whose party has no better-known home: `eu`.
    pub fn default_region() -> Self {
        Self("eu".to_owned())
    }

    /// A region name of 2 to 16 characters from `[a-z0-9-]`; `invalid_input` otherwise.
    pub fn new(name: &str) -> Result<Self, CommerceError> {
        let valid = (2..=16).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid
            .then(|| Self(name.to_owned()))
            .ok_or(CommerceError::InvalidInput(
                "region must match [a-z0-9-]{2,16}",
            ))
    }

    /// The region's name as stored with the rows it holds, e.g. `eu`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The commission a seller pays: a default rate, and rates for some categories.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommissionRule {
    /// The rate for every category without a rate of its own.
    pub default: BasisPoints,
    /// Rates for particular categories. A category matches only itself: a rate for
    /// `courses` does not cover `courses.programming`.
    pub by_category: BTreeMap<Category, BasisPoints>,
}

impl CommissionRule {
    /// The same rate for every category.
    pub fn flat(default: BasisPoints) -> Self {
        Self {
            default,
            by_category: BTreeMap::new(),
        }
    }

    /// The rate for a product in `category`: its own rate if it has one, else the default.
    pub fn rate_for(&self, category: &Category) -> BasisPoints {
        self.by_category
            .get(category)
            .copied()
            .unwrap_or(self.default)
    }
}

/// A seller: who lists products and earns from their sales.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Seller {
    /// Chosen when the seller signs up; names its ledger accounts.
    pub id: SellerId,
    /// The display name buyers see with the seller's products.
    pub name: String,
    /// The seller's home country, shown to buyers.
    pub country: Country,
    /// The data region of the seller's personal data, from its country.
    pub region: Region,
    /// The currency the seller earns in; ledger balances are kept in it.
    pub settlement_currency: Currency,
    /// What the seller pays the platform on each sale; each order line fixes its rate at
    /// checkout.
    pub commission: CommissionRule,
}

/// A buyer: who checks out and pays.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Buyer {
    /// Chosen when the buyer signs up.
    pub id: BuyerId,
    /// The buyer's display name.
    pub name: String,
    /// The buyer's country: it decides the tax rate of a checkout, the tax jurisdiction of
    /// its lines, and the payment methods offered.
    pub country: Country,
    /// The data region of the buyer's personal data, from its country; the buyer's
    /// checkouts, orders and reviews are stored with it.
    pub region: Region,
    /// Where the buyer is for tax when its country alone does not say: its US state,
    /// Canadian province or Indian state (`US-TX`), in its country; `None` elsewhere.
    pub tax_area: Option<crate::tax::Area>,
}

/// Physical goods have stock and ship; digital goods (courses) have no stock and are
/// delivered the moment they are paid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ProductKind {
    /// Goods with stock that ship: a paid order waits to be shipped.
    Physical,
    /// Goods without stock (courses, downloads), delivered the moment they are paid.
    Digital,
}

impl ProductKind {
    /// The kind's stored name: `physical` or `digital`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Physical => "physical",
            Self::Digital => "digital",
        }
    }

    /// The kind stored as `value`; `None` for any other string.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "physical" => Some(Self::Physical),
            "digital" => Some(Self::Digital),
            _ => None,
        }
    }

    /// The tax code of a product of this kind whose seller names none: general goods, or an
    /// e-service.
    pub fn default_tax_code(self) -> TaxCode {
        match self {
            Self::Physical => TaxCode::GeneralGoods,
            Self::Digital => TaxCode::EService,
        }
    }

    /// Whether a product of this kind can have `code`: goods codes are physical, services
    /// digital.
    pub fn fits(self, code: TaxCode) -> bool {
        code.is_goods() == (self == Self::Physical)
    }
}

/// A SKU of a [`NewProduct`], with its id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewSku {
    /// Derived from the product id and the SKU's code (see [`NewProduct::from_draft`]).
    pub id: SkuId,
    /// The seller's own code, unique within the product.
    pub code: String,
    /// The SKU's title (the variant: a size, a colour, an edition); order lines copy it.
    pub title: String,
    /// Units on hand; must be `None` for digital products and `Some` for physical ones.
    pub stock: Option<u32>,
    /// One price per currency, tax included.
    pub prices: Vec<Money>,
}

/// A SKU as a seller describes it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SkuDraft {
    /// The seller's own code, 1 to 64 bytes, unique within the product; the SKU's id is
    /// derived from it.
    pub code: String,
    /// The SKU's title (the variant: a size, a colour, an edition); order lines copy it.
    pub title: String,
    /// Units on hand; `None` for digital products.
    pub stock: Option<u32>,
    /// One price per currency, tax included.
    pub prices: Vec<Money>,
}

/// A product as a seller describes it, before it has ids.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProductDraft {
    /// 1 to [`TITLE_LEN_MAX`] characters.
    pub title: String,
    /// At most [`DESCRIPTION_LEN_MAX`] characters; searched with the title.
    pub description: String,
    /// Where the product is listed; it picks the seller's commission rate.
    pub category: Category,
    /// Physical or digital, for every SKU of the product.
    pub kind: ProductKind,
    /// What the product is, for tax; `None` takes its kind's default
    /// ([`ProductKind::default_tax_code`]).
    pub tax_code: Option<TaxCode>,
    /// 1 to [`SKUS_PER_PRODUCT_MAX`] variants.
    pub skus: Vec<SkuDraft>,
}

/// A product ready to store: a seller's [`ProductDraft`] with its ids (see
/// [`NewProduct::from_draft`]), checked by [`NewProduct::validate`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewProduct {
    /// Derived from the seller and the creation's idempotency key.
    pub id: ProductId,
    /// The seller who lists the product; the store refuses an unknown one.
    pub seller_id: SellerId,
    /// 1 to [`TITLE_LEN_MAX`] characters.
    pub title: String,
    /// At most [`DESCRIPTION_LEN_MAX`] characters.
    pub description: String,
    /// Where the product is listed; it picks the seller's commission rate.
    pub category: Category,
    /// Physical (every SKU has stock) or digital (none has).
    pub kind: ProductKind,
    /// What the product is, for tax: a goods code for a physical product, a service code for
    /// a digital one.
    pub tax_code: TaxCode,
    /// 1 to [`SKUS_PER_PRODUCT_MAX`] SKUs with distinct codes.
    pub skus: Vec<NewSku>,
}

impl NewProduct {
    /// The product a seller's draft creates. Its id is derived from the seller and the
    /// idempotency key, each SKU's from the product and the SKU's code, so a retry names the
    /// same rows and two sellers' keys never meet.
    pub fn from_draft(
        seller_id: SellerId,
        idempotency_key: &str,
        draft: ProductDraft,
    ) -> Result<Self, CommerceError> {
        crate::orders::validate_idempotency_key(idempotency_key)?;
        let id = ProductId::from_uuid(Uuid::new_v5(
            &seller_id.as_uuid(),
            format!("product:{idempotency_key}").as_bytes(),
        ));
        let skus = draft
            .skus
            .into_iter()
            .map(|sku| NewSku {
                id: SkuId::from_uuid(Uuid::new_v5(&id.0, format!("sku:{}", sku.code).as_bytes())),
                code: sku.code,
                title: sku.title,
                stock: sku.stock,
                prices: sku.prices,
            })
            .collect();
        Ok(Self {
            id,
            seller_id,
            title: draft.title,
            description: draft.description,
            category: draft.category,
            kind: draft.kind,
            tax_code: draft
                .tax_code
                .unwrap_or_else(|| draft.kind.default_tax_code()),
            skus,
        })
    }

    /// A digest of everything the seller asked for (title, description, category, kind, and
    /// each SKU's code, title, stock and prices, in a canonical order), to tell a retry of
    /// the same creation from a different product sent with the same idempotency key.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        // Each field is length-prefixed so that no two different products write the same
        // byte stream.
        fn field(hasher: &mut Sha256, bytes: &[u8]) {
            hasher.update(u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
            hasher.update(bytes);
        }
        let mut hasher = Sha256::new();
        field(&mut hasher, self.seller_id.as_uuid().as_bytes());
        field(&mut hasher, self.title.as_bytes());
        field(&mut hasher, self.description.as_bytes());
        field(&mut hasher, self.category.as_str().as_bytes());
        field(&mut hasher, self.kind.as_str().as_bytes());
        field(&mut hasher, self.tax_code.as_str().as_bytes());
        let mut skus: Vec<&NewSku> = self.skus.iter().collect();
        skus.sort_by(|a, b| a.code.cmp(&b.code));
        for sku in skus {
            field(&mut hasher, sku.code.as_bytes());
            field(&mut hasher, sku.title.as_bytes());
            let stock = sku.stock.map_or_else(|| "-".to_owned(), |n| n.to_string());
            field(&mut hasher, stock.as_bytes());
            let mut prices: Vec<(&str, i64)> = sku
                .prices
                .iter()
                .map(|p| (p.currency().code(), p.minor()))
                .collect();
            prices.sort_unstable();
            for (currency, minor) in prices {
                field(&mut hasher, currency.as_bytes());
                field(&mut hasher, &minor.to_be_bytes());
            }
            field(&mut hasher, b"/sku");
        }
        hex::encode(hasher.finalize())
    }

    /// Checks everything that does not need the database.
    pub fn validate(&self) -> Result<(), CommerceError> {
        let title_len = self.title.chars().count();
        if title_len == 0 || title_len > TITLE_LEN_MAX {
            return Err(CommerceError::InvalidInput(
                "title must have 1 to 200 characters",
            ));
        }
        if self.description.chars().count() > DESCRIPTION_LEN_MAX {
            return Err(CommerceError::InvalidInput("description is too long"));
        }
        if !self.kind.fits(self.tax_code) {
            return Err(CommerceError::InvalidInput(
                "a physical product needs a goods tax code, a digital one a service code",
            ));
        }
        if self.skus.is_empty() || self.skus.len() > SKUS_PER_PRODUCT_MAX {
            return Err(CommerceError::InvalidInput("a product has 1 to 100 SKUs"));
        }
        let mut codes = std::collections::BTreeSet::new();
        for sku in &self.skus {
            if sku.code.is_empty() || sku.code.len() > 64 || !codes.insert(sku.code.as_str()) {
                return Err(CommerceError::InvalidInput(
                    "SKU codes must be 1 to 64 bytes and unique within the product",
                ));
            }
            match (self.kind, sku.stock) {
                (ProductKind::Physical, Some(stock)) if stock <= STOCK_MAX => {}
                (ProductKind::Physical, _) => {
                    return Err(CommerceError::InvalidInput(
                        "physical SKUs need a stock of at most 1,000,000",
                    ));
                }
                (ProductKind::Digital, None) => {}
                (ProductKind::Digital, Some(_)) => {
                    return Err(CommerceError::InvalidInput("digital SKUs have no stock"));
                }
            }
            if sku.prices.is_empty() || sku.prices.iter().any(|price| !price.is_positive()) {
                return Err(CommerceError::InvalidInput(
                    "every SKU needs positive prices",
                ));
            }
            let mut currencies: Vec<Currency> = sku.prices.iter().map(|p| p.currency()).collect();
            currencies.sort();
            currencies.dedup();
            if currencies.len() != sku.prices.len() {
                return Err(CommerceError::InvalidInput("one price per currency"));
            }
        }
        Ok(())
    }
}

/// A SKU as checkout sees it: with its product, seller and prices.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SkuView {
    /// The SKU, as a cart line names it.
    pub sku_id: SkuId,
    /// The product the SKU belongs to.
    pub product_id: ProductId,
    /// The seller of the product; the SKU's line goes into this seller's order.
    pub seller_id: SellerId,
    /// The SKU's title, copied into the order line.
    pub title: String,
    /// The product's category, which picks the seller's commission rate.
    pub category: Category,
    /// The product's kind: only physical SKUs reserve stock.
    pub kind: ProductKind,
    /// The product's tax code, which the tax engine decides the line's tax from.
    pub tax_code: TaxCode,
    /// One price per currency, tax included; a currency without one is priced from the
    /// first by display conversion.
    pub prices: Vec<Money>,
    /// Units that can still be reserved; `None` for digital goods.
    pub available: Option<u32>,
}

/// One entry of the catalogue's change feed: `product` changed at `at` (its transaction's
/// `now`). A product changed by two transactions has two entries, unless at the same instant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CatalogChange {
    /// The product whose page changed.
    pub product: ProductId,
    /// When, by the writer's clock.
    pub at: Timestamp,
}

/// A product as a listing shows it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProductSummary {
    /// The product; a page ends with its highest id, which the next page starts after.
    pub id: ProductId,
    /// The seller who lists it.
    pub seller_id: SellerId,
    /// The product's title, as the seller wrote it.
    pub title: String,
    /// The category the product is listed in.
    pub category: Category,
    /// Physical or digital.
    pub kind: ProductKind,
    /// The lowest SKU price in the asked currency, if any SKU has one.
    pub price_from: Option<Money>,
    /// Average rating in hundredths (e.g. 450 is 4.50) and the number of reviews.
    pub rating_centi: Option<u16>,
    /// How many reviews the product has; 0 when `rating_centi` is `None`.
    pub review_count: u32,
}

/// The most products one search page returns.
pub const SEARCH_LIMIT_MAX: u32 = 100;

/// A product search: free text, filters and a page.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ProductQuery {
    /// Words that must all appear in the title or description (case-insensitive).
    pub text: Option<String>,
    /// Only products in exactly this category (its subcategories are not included).
    pub category: Option<Category>,
    /// Only this seller's products.
    pub seller_id: Option<SellerId>,
    /// Only physical, or only digital, products.
    pub kind: Option<ProductKind>,
    /// Only products with a SKU priced in this currency within the bounds (minor units).
    pub currency: Option<Currency>,
    /// The lowest price in `currency`, minor units, inclusive; needs `currency`.
    pub price_min_minor: Option<i64>,
    /// The highest price in `currency`, minor units, inclusive; needs `currency`.
    pub price_max_minor: Option<i64>,
    /// Only these products (at most 100), e.g. to load one product's details.
    pub ids: Option<Vec<ProductId>>,
    /// Products after this id (the previous page's last), in id order.
    pub after: Option<ProductId>,
    /// How many products to return, 1 to [`SEARCH_LIMIT_MAX`].
    pub limit: u32,
}

impl ProductQuery {
    /// Checks the query: `limit` 1 to [`SEARCH_LIMIT_MAX`], at most 100 `ids`, at most 200
    /// characters of `text`, and a `currency` with any price bound; `invalid_input`
    /// otherwise.
    pub fn validate(&self) -> Result<(), CommerceError> {
        if self.limit == 0 || self.limit > SEARCH_LIMIT_MAX {
            return Err(CommerceError::InvalidInput("limit must be 1 to 100"));
        }
        if self.ids.as_ref().is_some_and(|ids| ids.len() > 100) {
            return Err(CommerceError::InvalidInput("at most 100 product ids"));
        }
        if self.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(CommerceError::InvalidInput("search text is too long"));
        }
        if (self.price_min_minor.is_some() || self.price_max_minor.is_some())
            && self.currency.is_none()
        {
            return Err(CommerceError::InvalidInput(
                "a price filter needs a currency",
            ));
        }
        Ok(())
    }
}

/// A buyer's review of a product from a delivered order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Review {
    /// [`ReviewId::of`] the order and the product, so a retried review names the same one.
    pub id: ReviewId,
    /// The product reviewed; the order must hold it.
    pub product_id: ProductId,
    /// The reviewer: the buyer of the order.
    pub buyer_id: BuyerId,
    /// The delivered order the product was bought in; one review per order and product.
    pub order_id: crate::orders::OrderId,
    /// 1 to 5 stars.
    pub rating: u8,
    /// The review's text, at most 5,000 characters; may be empty.
    pub body: String,
}

impl Review {
    /// Checks what needs no database: a rating of 1 to 5 and a body of at most 5,000
    /// characters; `invalid_input` otherwise. The store checks the order.
    pub fn validate(&self) -> Result<(), CommerceError> {
        if !(1..=5).contains(&self.rating) {
            return Err(CommerceError::InvalidInput("rating must be 1 to 5"));
        }
        if self.body.chars().count() > 5_000 {
            return Err(CommerceError::InvalidInput("review is too long"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(title: &str) -> ProductDraft {
        ProductDraft {
            title: title.into(),
            description: "d".into(),
            category: Category::new("things").unwrap(),
            kind: ProductKind::Physical,
            tax_code: None,
            skus: vec![SkuDraft {
                code: "a".into(),
                title: "a".into(),
                stock: Some(3),
                prices: vec![Money::from_minor(999, Currency::EUR)],
            }],
        }
    }

    #[test]
    fn a_draft_gets_ids_from_its_seller_and_key_and_a_fingerprint_from_its_content() {
        let shop = SellerId::from_uuid(Uuid::from_u128(1));
        let other = SellerId::from_uuid(Uuid::from_u128(2));
        let first = NewProduct::from_draft(shop, "lamp", draft("Lamp")).unwrap();
        let retry = NewProduct::from_draft(shop, "lamp", draft("Lamp")).unwrap();
        assert_eq!(first, retry);
        assert_eq!(first.fingerprint(), retry.fingerprint());
        let changed = NewProduct::from_draft(shop, "lamp", draft("Floor lamp")).unwrap();
        assert_eq!(changed.id, first.id);
        assert_ne!(changed.fingerprint(), first.fingerprint());
        let theirs = NewProduct::from_draft(other, "lamp", draft("Lamp")).unwrap();
        assert_ne!(theirs.id, first.id);
        assert_ne!(theirs.skus[0].id, first.skus[0].id);
        assert_eq!(
            NewProduct::from_draft(shop, "", draft("Lamp"))
                .unwrap_err()
                .code(),
            "invalid_input"
        );
    }

    #[test]
    fn a_product_takes_its_kinds_tax_code_unless_it_names_one_that_fits() {
        let shop = SellerId::from_uuid(Uuid::from_u128(1));
        let lamp = NewProduct::from_draft(shop, "lamp", draft("Lamp")).unwrap();
        assert_eq!(lamp.tax_code, TaxCode::GeneralGoods);
        let mut book = draft("Lamp");
        book.tax_code = Some(TaxCode::Books);
        let book = NewProduct::from_draft(shop, "atlas", book).unwrap();
        assert_eq!(book.tax_code, TaxCode::Books);
        book.validate().unwrap();
        assert_ne!(book.fingerprint(), lamp.fingerprint());
        let mut webinar = draft("Webinar");
        webinar.tax_code = Some(TaxCode::LiveEvent);
        let webinar = NewProduct::from_draft(shop, "webinar", webinar).unwrap();
        assert_eq!(webinar.validate().unwrap_err().code(), "invalid_input");
    }
}
