//! What the marketplace reads for buyers, sellers and the API: balances and ledger history
//! from the ledger, orders, reviews, checkouts and sellers from the store, always as their
//! owner may see them, and in pages of 1 to 100.

use std::future::Future;

use bazaar_ledger::{HistoryCursor, HistoryEntry, LedgerHistory, LedgerStore};
use bazaar_money::Money;

use super::{Marketplace, ledger_unavailable};
use crate::catalog::{BuyerId, ProductId, Seller, SkuView};
use crate::chart::{ChartAccount, SellerId};
use crate::error::CommerceError;
use crate::orders::{CheckoutId, OrderId};
use crate::payments::PaymentProvider;
use crate::store::{
    CheckoutRecord, CommerceStore, OrderView, PAGE_LIMIT_MAX, Page, PageCursor, Party, ReviewView,
};

/// A seller's balances, straight from the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SellerBalances {
    /// The pending account's posted credits less debits: earnings not yet available. Zero
    /// for an account not opened yet.
    pub pending: Money,
    /// The available account's posted credits less debits: earnings that can be paid out.
    /// Zero for an account not opened yet.
    pub available: Money,
}

/// Which of a seller's ledger accounts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SellerAccount {
    /// Earnings not yet available (hold period, risk).
    Pending,
    /// Earnings that can be paid out.
    Available,
}

/// One transfer on a seller's account, as the seller reads it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SellerLedgerEntry {
    /// The transfer as the ledger keeps it, with the account's raw balance after it.
    pub entry: HistoryEntry,
    /// Whether the transfer credited the account (money in).
    pub credit: bool,
    /// The account's balance (credits less debits) right after the transfer, in the
    /// seller's settlement currency.
    pub balance_after: Money,
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    /// The tax return of `scheme` for the checkouts paid that were placed from `from` to
    /// `to` (exclusive): per place, rate and currency, net of refunds.
    pub async fn tax_return(
        &self,
        scheme: crate::tax::Scheme,
        from: bazaar_ledger::Timestamp,
        to: bazaar_ledger::Timestamp,
    ) -> Result<Vec<crate::tax::ReturnRow>, CommerceError> {
        let lines = self.store.return_lines(scheme, from, to).await?;
        Ok(crate::tax::tax_return(&lines, scheme)?)
    }

    /// A seller's pending and available balances in its settlement currency.
    pub async fn seller_balances(
        &self,
        seller_id: SellerId,
    ) -> Result<SellerBalances, CommerceError> {
        let seller = self
            .store
            .seller(seller_id)
            .await?
            .ok_or(CommerceError::NotFound("seller"))?;
        let currency = seller.settlement_currency;
        let read = |account: ChartAccount| async move {
            let balance = self
                .ledger
                .account(account.id(currency))
                .await
                .map_err(ledger_unavailable)?;
            let net = match balance {
                Some((_, balance)) => balance
                    .credits_posted
                    .checked_sub(balance.debits_posted)
                    .ok_or(CommerceError::Internal)?,
                None => 0,
            };
            Ok::<_, CommerceError>(Money::from_minor(net, currency))
        };
        Ok(SellerBalances {
            pending: read(ChartAccount::SellerPending(seller_id)).await?,
            available: read(ChartAccount::SellerAvailable(seller_id)).await?,
        })
    }

    /// A seller, if it exists.
    pub async fn seller(&self, id: SellerId) -> Result<Option<Seller>, CommerceError> {
        self.store.seller(id).await
    }

    /// The buyer with this id.
    pub async fn buyer(&self, id: BuyerId) -> Result<Option<crate::catalog::Buyer>, CommerceError> {
        self.store.buyer(id).await
    }

    /// The sellers among `ids` that exist.
    pub async fn sellers(&self, ids: &[SellerId]) -> Result<Vec<Seller>, CommerceError> {
        self.store.sellers(ids).await
    }

    /// Every SKU of these products, with stock and prices.
    pub async fn product_skus(
        &self,
        products: &[ProductId],
    ) -> Result<Vec<SkuView>, CommerceError> {
        self.store.product_skus(products).await
    }

    /// One of the party's own orders; `None` for anyone else's, so ids cannot be probed.
    pub async fn order_for(
        &self,
        party: Party,
        order: OrderId,
    ) -> Result<Option<OrderView>, CommerceError> {
        self.store.order_for(party, order).await
    }

    /// A page of the party's orders, newest first (`limit` of 1 to 100, after `after`).
    pub async fn orders_page(
        &self,
        party: Party,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<OrderView>, CommerceError> {
        fetch_page(limit, |fetch| self.store.orders_for(party, after, fetch)).await
    }

    /// A page of a product's reviews, newest first (`limit` of 1 to 100, after `after`).
    pub async fn reviews_page(
        &self,
        product: ProductId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<ReviewView>, CommerceError> {
        fetch_page(limit, |fetch| self.store.reviews(product, after, fetch)).await
    }

    /// One of the buyer's own checkouts; `None` for anyone else's.
    pub async fn checkout_for(
        &self,
        buyer: BuyerId,
        id: CheckoutId,
    ) -> Result<Option<CheckoutRecord>, CommerceError> {
        Ok(self
            .store
            .checkout(id)
            .await?
            .filter(|record| record.plan.buyer_id == buyer))
    }
}

/// A page of `limit` items from a query asked for one more, which tells whether another
/// page follows.
async fn fetch_page<T, F>(
    limit: u32,
    query: impl FnOnce(u32) -> F,
) -> Result<Page<T>, CommerceError>
where
    F: Future<Output = Result<Vec<T>, CommerceError>>,
{
    check_page_limit(limit)?;
    Page::fetch(limit, query).await
}

/// A page holds 1 to [`PAGE_LIMIT_MAX`] items.
fn check_page_limit(limit: u32) -> Result<(), CommerceError> {
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(CommerceError::InvalidInput("limit must be 1 to 100"));
    }
    Ok(())
}

impl<S: CommerceStore, L: LedgerStore + LedgerHistory, P: PaymentProvider> Marketplace<S, L, P> {
    /// A page of a seller's history on its pending or available account, newest first
    /// (`limit` of 1 to 100 entries, older than `before`), each with the balance after it.
    pub async fn seller_ledger(
        &self,
        seller_id: SellerId,
        account: SellerAccount,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Page<SellerLedgerEntry>, CommerceError> {
        check_page_limit(limit)?;
        let seller = self
            .store
            .seller(seller_id)
            .await?
            .ok_or(CommerceError::NotFound("seller"))?;
        let currency = seller.settlement_currency;
        let account_id = match account {
            SellerAccount::Pending => ChartAccount::SellerPending(seller_id),
            SellerAccount::Available => ChartAccount::SellerAvailable(seller_id),
        }
        .id(currency);
        // One entry more than the page tells whether another page follows.
        let fetched = self
            .ledger
            .history(account_id, before, limit.saturating_add(1))
            .await
            .map_err(ledger_unavailable)?;
        let page = Page::from_fetched(fetched, limit);
        Ok(Page {
            has_next: page.has_next,
            items: page
                .items
                .into_iter()
                .map(|entry| {
                    let balance = &entry.balance_after;
                    let net = balance.credits_posted.saturating_sub(balance.debits_posted);
                    SellerLedgerEntry {
                        credit: entry.transfer.credit_account_id == account_id,
                        balance_after: Money::from_minor(net, currency),
                        entry,
                    }
                })
                .collect(),
        })
    }
}
