//! Payout rail connectors, behind the domain's [`PayoutRails`] port.
//!
//! [`SandboxRails`] stands in for the payment systems that cannot be reached from a test
//! machine (SEPA, Faster Payments, ACH, RTP, Pix, IMPS, UPI, Zengin, SPEI and the Gulf
//! transfers). It behaves as they do: it checks the bank details and the amount against the
//! rail, takes the payout id as its idempotency key, settles at the rail's expected arrival
//! (cut-offs, business days and holidays of the destination's country), and reports each
//! outcome once as an event with a stable id. Destinations whose identifier ends in one of
//! the [`TEST_ACCOUNTS`] suffixes fail, are refused or come back, as real banks do.
//!
//! [`SandboxBank`] is the platform's bank account behind them: it books the provider's
//! payouts in, the payouts the sandbox rails pay out (and those that come back), and writes
//! each day's camt.053 statement for the reconciliation to read.
//!
//! [`PayoutRails`]: bazaar_domain::payouts::PayoutRails

mod bank;
mod configured;
mod sandbox;

pub use bank::{BankError, PROVIDER_CHARS_MAX, SandboxBank};
pub use configured::ConfiguredRails;
pub use sandbox::{RETURN_AFTER_SECS, SandboxRails, Script, TEST_ACCOUNTS};

/// The connection pool the sandbox rails and bank keep their records through: at most
/// `pool_size` connections (at least one), none kept idle, five seconds to get one.
fn pool(
    database_url: &str,
    pool_size: u32,
) -> diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::pg::PgConnection>> {
    let manager = diesel::r2d2::ConnectionManager::new(database_url);
    diesel::r2d2::Pool::builder()
        .max_size(pool_size.max(1))
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_secs(5))
        .build_unchecked(manager)
}
