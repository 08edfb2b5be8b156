//! Reconciliation: what banks and providers say happened, matched against the ledger.
//!
//! Pure: files are parsed from text handed in, matching works on values; stores and
//! importers live in the adapters.

mod camt053;
pub use camt053::*;
