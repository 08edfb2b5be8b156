//! The HTTP server end to end: each test starts the real `bazaar` binary on a free loopback
//! port against a database of its own and talks to it over HTTP.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects,
    reason = "test drivers fail loudly"
)]

mod auth_limits;
mod bad_input;
mod bank_accounts;
mod browser;
mod browser_support;
mod compliance;
mod dataloaders;
mod finance;
mod hardening;
mod introspection;
mod lending;
mod pages;
mod payouts;
mod products;
mod rates;
mod read_cache;
mod support;
mod tax;
mod tax_pages;
mod tenancy;
mod vault;
mod vault_keys;
mod walkthrough;
mod webhooks;
