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
//! [`PayoutRails`]: bazaar_domain::payouts::PayoutRails

mod configured;
mod sandbox;

pub use configured::ConfiguredRails;
pub use sandbox::{RETURN_AFTER_SECS, SandboxRails, Script, TEST_ACCOUNTS};
