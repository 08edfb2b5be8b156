//! Bazaar's double-entry ledger, without I/O.
//!
//! - [`Account`]s hold one currency and keep debits and credits, pending and posted, apart;
//!   a [`BalanceConstraint`] keeps a balance from going where it must not.
//! - A [`TransferRequest`] moves one amount of one currency from a debit account to a credit
//!   account: at once, as a reservation (pending) that is later posted (fully or in part),
//!   voided or expires, or as a reversal of an earlier transfer. Requests are submitted in
//!   linked batches that apply all-or-nothing, so every batch balances per currency.
//! - Ids are chosen by clients and are idempotency keys; transfers are never changed.
//! - Every rejection is a [`TransferError`] or [`AccountError`] with a stable code.
//!
//! [`LedgerState`] holds the rules; [`ReferenceLedger`] keeps a whole ledger in memory with
//! its history; [`LedgerStore`] is the port every store implements, and [`InMemoryLedger`]
//! is the reference implementation of it. [`sim`] drives random operation sequences and
//! checks the ledger's invariants, for property tests and fuzzing.
#![warn(missing_docs)]
#![deny(clippy::float_arithmetic, clippy::float_cmp)]

mod account;
mod ids;
mod memory;
mod port;
mod reference;
pub mod sim;
mod state;
mod transfer;

pub use account::{
    Account, AccountCode, AccountError, Balance, BalanceConstraint, NewAccount, Owner, Side,
};
pub use bazaar_money::{Currency, Money};
pub use ids::{AccountId, Timestamp, TransferId};
pub use memory::InMemoryLedger;
pub use port::{
    Clock, HistoryCursor, HistoryEntry, LedgerHistory, LedgerStore, ManualClock, StoreError,
    accounts_after, walk_history,
};
pub use reference::{JournalEntry, ReferenceLedger};
pub use state::{AccountEntry, Effects, Expiration, Failure, LedgerState, Posting};
pub use transfer::{
    BATCH_LEGS_MAX, BatchError, METADATA_ENTRIES_MAX, METADATA_KEY_LEN_MAX, METADATA_VALUE_LEN_MAX,
    Metadata, PENDING_TIMEOUT_SECS_MAX, PendingState, Receipt, RequestKind, Transfer,
    TransferError, TransferKind, TransferRequest,
};
/// The UUID type ids are made of (for [`uuid_id!`] in other crates).
#[doc(hidden)]
pub use uuid::Uuid;
