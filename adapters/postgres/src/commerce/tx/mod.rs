//! The SQL of each commerce operation; every function runs inside one transaction. One file
//! per decision area; the decisions themselves are the domain's, and these functions persist
//! what they decided.

use std::str::FromStr;

use bazaar_domain::catalog::{
    Buyer, BuyerId, CommissionRule, NewProduct, ProductId, ProductKind, ProductQuery,
    ProductSummary, Review, ReviewId, Seller, SkuId, SkuView,
};
use bazaar_domain::chart::{Jurisdiction, SellerId};
use bazaar_domain::error::CommerceError;
use bazaar_domain::events::EventType;
use bazaar_domain::fx::{FxRate, Spread};
use bazaar_domain::orders::{
    CheckoutId, CheckoutPlan, CheckoutState, FxQuote, LineId, OrderId, OrderState, PaymentState,
    PlannedOrder, PricedLine, RefundId, derive_id,
};
use bazaar_domain::payments::{Action, PaymentChange, PaymentId, PspReference, payment_change};
use bazaar_domain::postings::{
    LineCapture, LineTaxTerms, Withheld, collector_of, payable_jurisdiction,
};
use bazaar_domain::store::{
    CheckoutRecord, EventOutcome, IntentId, IntentKind, LedgerIntent, NewPayment, NewRefund,
    NotificationFailure, OrderView, PageCursor, Party, PaymentEvent, PaymentRecord,
    RefundPostingInput, RefundRecord, RefundState, Requester, ReviewView,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Money;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Fail;
use super::emit;
use super::rows::{self, *};

pub(crate) type Result<T> = std::result::Result<T, Fail>;

pub(crate) fn refuse<T>(error: CommerceError) -> Result<T> {
    Err(Fail::Domain(error))
}

pub(crate) fn int(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| Fail::Domain(CommerceError::InvalidInput("number too large")))
}

pub(crate) fn unsigned(value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| rows::corrupt("count", &value.to_string()))
}

mod catalog;
mod changes;
mod checkouts;
mod fulfilment;
mod intents;
mod parties;
mod payment_events;
mod reads;
mod refunds;
mod tax;
mod thresholds;

pub(crate) use catalog::*;
pub(crate) use changes::*;
pub(crate) use checkouts::*;
pub(crate) use fulfilment::*;
pub(crate) use intents::*;
pub(crate) use parties::*;
pub(crate) use payment_events::*;
pub(crate) use reads::*;
pub(crate) use refunds::*;
pub(crate) use tax::*;
pub(crate) use thresholds::*;
