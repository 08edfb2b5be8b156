//! Reconciliation: what banks and providers say happened, matched against the ledger.
//!
//! Pure: files are parsed from text handed in, matching works on values; stores and
//! importers live in the adapters.
//!
//! - [`parse_camt053`] (`camt053.rs`): ISO 20022 camt.053 bank statements, versions 001.02
//!   and 001.08, each checked to balance; [`join_pages`] joins a multi-page statement.
//! - [`reconcile`] (`matching.rs`): records from outside matched against records inside by
//!   rules, into four buckets.
//! - [`difference_posting`] (`postings.rs`): what a match's difference books, once.
//! - [`Reconciliations`] (`service.rs`): imports each file once through the
//!   [`ReconciliationStore`] port, and reconciles the stored bank entries against the
//!   ledger's `bank` account ([`bank_records`], [`ledger_records`] in `bank.rs`).
//!
//! - [`three_way`] (`three_way.rs`): the bank against the providers' payouts, the providers'
//!   rows against the ledger, and what is left of the bank against the ledger; imported
//!   provider rows ([`settlement_records`], [`itemized_records`] in `provider.rs`) and stored
//!   runs ([`Reconciliations::run`] in `runs.rs`).
//!
//! - [`trial_balances`], [`positions`], [`aged_items`] (`reports.rs`): what finance reads, and
//!   its CSV.
//!
//! The providers' reports are read in [`crate::payments`]: the settlement details report
//! ([`crate::payments::parse_settlement_report`]) and the itemized payout reconciliation
//! report ([`crate::payments::parse_itemized_report`]).

mod bank;
mod camt053;
mod matching;
mod postings;
mod provider;
mod reports;
mod runs;
mod service;
#[cfg(test)]
mod tests;
mod three_way;
#[cfg(test)]
mod three_way_tests;

pub use bank::*;
pub use camt053::*;
pub use matching::*;
pub use postings::*;
pub use provider::*;
pub use reports::*;
pub use runs::*;
pub use service::*;
pub use three_way::*;
