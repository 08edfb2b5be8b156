//! Seller lending: offers computed from settled sales, loans repaid by withholding a share of
//! each settled sale with a minimum every 60 days, arrears, charge-off and early repayment,
//! and what each step posts.
//!
//! - `offer.rs`: eligibility, advance, fee by risk tier, withhold rate, minimum, expiry
//!   ([`offer()`]); `history.rs`: the settled sales read from the ledger.
//! - `loan.rs`: the loan's steps ([`Loan`]); `paid + remaining == advance + fee` after each.
//! - `postings.rs`: the transfers of each step.
//! - `store.rs`: the [`LendingStore`] port; `service.rs`: [`Lending`] (offers, acceptance
//!   and disbursement, loans, the portfolio); `servicing.rs`: the loan as the ledger has
//!   it, withholding at settlement (the payouts' [`crate::payouts::Withholding`]), due
//!   dates, charge-off, early repayment, the daily run.

mod history;
mod loan;
mod offer;
mod postings;
mod service;
mod servicing;
mod store;
#[cfg(test)]
mod tests;

pub use history::*;
pub use loan::*;
pub use offer::*;
pub use postings::*;
pub use service::*;
pub use servicing::*;
pub use store::*;

pub use crate::chart::LoanId;

bazaar_ledger::uuid_id!(
    /// An offer's id.
    OfferId
);
