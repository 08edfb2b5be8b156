//! Dataloaders: a page of products loads its sellers and prices in one query each, whatever
//! the page size.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use bazaar_domain::catalog::{ProductId, Seller};
use bazaar_domain::chart::SellerId;
use bazaar_domain::orders::presentment_price;
use bazaar_domain::store::CommerceStore;
use bazaar_money::{Currency, Money};

use crate::state::App;

/// The loaders of one request (so nothing is cached across requests or tenants).
pub struct Loaders {
    pub sellers: DataLoader<SellerLoader>,
    pub prices: DataLoader<PriceLoader>,
}

impl Loaders {
    pub fn new(app: &Arc<App>) -> Self {
        Self {
            sellers: DataLoader::new(SellerLoader(app.clone()), tokio::spawn),
            prices: DataLoader::new(PriceLoader(app.clone()), tokio::spawn),
        }
    }
}

pub struct SellerLoader(Arc<App>);

impl Loader<SellerId> for SellerLoader {
    type Value = Seller;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[SellerId]) -> Result<HashMap<SellerId, Seller>, Self::Error> {
        let sellers = self
            .0
            .market
            .store()
            .sellers(keys)
            .await
            .map_err(|e| Arc::new(super::commerce(e)))?;
        Ok(sellers.into_iter().map(|s| (s.id, s)).collect())
    }
}

/// A product's lowest price in a currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PriceKey(pub ProductId, pub Currency);

pub struct PriceLoader(Arc<App>);

impl Loader<PriceKey> for PriceLoader {
    type Value = Money;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[PriceKey]) -> Result<HashMap<PriceKey, Money>, Self::Error> {
        let mut products: Vec<ProductId> = keys.iter().map(|k| k.0).collect();
        products.sort();
        products.dedup();
        let skus = self
            .0
            .market
            .store()
            .product_skus(&products)
            .await
            .map_err(|e| Arc::new(super::commerce(e)))?;
        let rates = self.0.market.rates();
        let now = self.0.now();
        let mut prices = HashMap::with_capacity(keys.len());
        for key in keys {
            let lowest = skus
                .iter()
                .filter(|sku| sku.product_id == key.0)
                .filter_map(|sku| presentment_price(sku, key.1, &rates, now).ok())
                .min_by_key(|price| price.minor());
            if let Some(price) = lowest {
                prices.insert(*key, price);
            }
        }
        Ok(prices)
    }
}
