//! Bazaar's marketplace rules, without I/O. Ports (traits) for what the rules need from the
//! outside world live here too; adapters implement them.
//!
//! So far: the [`chart`] of accounts that every money flow posts to.
#![deny(clippy::float_arithmetic, clippy::float_cmp)]

pub mod chart;
