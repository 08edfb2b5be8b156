//! Seller lending: offers computed from settled sales, loans repaid by withholding a share of
//! each settled sale with a minimum every 60 days, arrears, charge-off and early repayment,
//! and what each step posts. Rules only so far: no store, service or API yet.
//!
//! - `offer.rs`: eligibility, advance, fee by risk tier, withhold rate, minimum, expiry
//!   ([`offer()`]).
//! - `loan.rs`: the loan's steps ([`Loan`]); `paid + remaining == advance + fee` after each.
//! - `postings.rs`: the transfers of each step.

mod loan;
mod offer;
mod postings;
#[cfg(test)]
mod tests;

pub use loan::*;
pub use offer::*;
pub use postings::*;

bazaar_ledger::uuid_id!(
    /// A loan's id.
    LoanId
);
