//! Dataloaders: a page of products loads its sellers and its SKUs (with their prices) in one
//! query each, whatever the page size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use bazaar_domain::catalog::SkuView;
use bazaar_domain::catalog::{ProductId, Seller};
use bazaar_domain::chart::SellerId;
use bazaar_domain::orders::presentment_price;
use bazaar_money::{Currency, Money};

use crate::state::App;

/// The loaders of one request: their own caches live as long as it does, so no tenant's data
/// outlives it there (the sellers they read are also kept in `App::sellers`, which listings
/// show to anyone).
pub struct Loaders {
    pub sellers: DataLoader<SellerLoader>,
    pub skus: Arc<DataLoader<SkuLoader>>,
    pub prices: DataLoader<PriceLoader>,
}

impl Loaders {
    pub fn new(app: &Arc<App>) -> Self {
        let skus = Arc::new(DataLoader::new(SkuLoader(app.clone()), tokio::spawn));
        Self {
            sellers: DataLoader::new(SellerLoader(app.clone()), tokio::spawn),
            prices: DataLoader::new(PriceLoader(app.clone(), skus.clone()), tokio::spawn),
            skus,
        }
    }
}

pub struct SellerLoader(Arc<App>);

impl Loader<SellerId> for SellerLoader {
    type Value = Seller;
    type Error = Arc<async_graphql::Error>;

    /// Sellers read within the read cache's lifetime come from memory (`App::sellers`).
    async fn load(&self, keys: &[SellerId]) -> Result<HashMap<SellerId, Seller>, Self::Error> {
        let (mut found, missing) = self.0.sellers.split(keys);
        if missing.is_empty() {
            return Ok(found);
        }
        let started = std::time::Instant::now();
        let sellers = self
            .0
            .market
            .sellers(&missing)
            .await
            .map_err(|e| Arc::new(super::commerce(e)))?;
        self.0
            .sellers
            .keep(started, sellers.iter().map(|s| (s.id, s.clone())));
        found.extend(sellers.into_iter().map(|s| (s.id, s)));
        Ok(found)
    }
}

/// Each product's SKUs, for all the products of a page in one query.
pub struct SkuLoader(Arc<App>);

impl Loader<ProductId> for SkuLoader {
    type Value = Vec<SkuView>;
    type Error = Arc<async_graphql::Error>;

    async fn load(
        &self,
        keys: &[ProductId],
    ) -> Result<HashMap<ProductId, Vec<SkuView>>, Self::Error> {
        let skus = self
            .0
            .market
            .product_skus(keys)
            .await
            .map_err(|e| Arc::new(super::commerce(e)))?;
        let mut by_product: HashMap<ProductId, Vec<SkuView>> = HashMap::with_capacity(keys.len());
        for sku in skus {
            by_product.entry(sku.product_id).or_default().push(sku);
        }
        for skus in by_product.values_mut() {
            skus.sort_by_key(|sku| sku.sku_id);
        }
        Ok(by_product)
    }
}

/// A product's lowest price in a currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PriceKey(pub ProductId, pub Currency);

/// Prices come from the SKUs the page loads anyway, so asking for both costs one query.
pub struct PriceLoader(Arc<App>, Arc<DataLoader<SkuLoader>>);

impl Loader<PriceKey> for PriceLoader {
    type Value = Money;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[PriceKey]) -> Result<HashMap<PriceKey, Money>, Self::Error> {
        let skus = self.1.load_many(keys.iter().map(|k| k.0)).await?;
        let rates = self.0.market.rates();
        let now = self.0.now();
        let mut prices = HashMap::with_capacity(keys.len());
        for key in keys {
            let lowest = skus
                .get(&key.0)
                .into_iter()
                .flatten()
                .filter_map(|sku| presentment_price(sku, key.1, &rates, now).ok())
                .min_by_key(|price| price.minor());
            if let Some(price) = lowest {
                prices.insert(*key, price);
            }
        }
        Ok(prices)
    }
}
