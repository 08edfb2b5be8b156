//! Seller lending: offers computed from settled sales, loans repaid by withholding a share of
//! each settled sale with a minimum every 60 days, arrears, charge-off and early repayment,
//! and what each step posts.
//!
//! - `offer.rs`: eligibility, advance, fee by risk tier, withhold rate, minimum, expiry
//!   ([`offer()`]); `history.rs`: the settled sales read from the ledger.
//! - `loan.rs`: the loan's steps ([`Loan`]); `paid + remaining == advance + fee` after each.
//! - `postings.rs`: the transfers of each step.
//! - `store.rs`: the [`LendingStore`] port; `service.rs`: [`Lending`] (offers, acceptance
//!   and disbursement, loans, the portfolio).

mod history;
mod loan;
mod offer;
mod postings;
mod service;
mod store;
#[cfg(test)]
mod tests;

pub use history::*;
pub use loan::*;
pub use offer::*;
pub use postings::*;
pub use service::*;
pub use store::*;

bazaar_ledger::uuid_id!(
    /// A loan's id.
    LoanId
);

bazaar_ledger::uuid_id!(
    /// An offer's id.
    OfferId
);
