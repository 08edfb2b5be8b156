//! The VAT registry port (the EU's VIES), and how its answer becomes a [`Customer`].
//!
//! Reverse charge needs proof that the customer is a taxable person: a valid answer from
//! the registry, whose consultation number Bazaar keeps with the order. A number that fails
//! its check digits never reaches the registry; a registry that does not answer means VAT is
//! charged, never zero-rated.

use std::future::Future;

use bazaar_ledger::Timestamp;

use super::{Customer, Unconfirmed, VatId};

/// The registry's answer about one number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RegistryAnswer {
    /// Whether the number is registered and active on the day asked.
    pub valid: bool,
    /// The registry's consultation number (VIES `requestIdentifier`): proof of the check,
    /// given when the requester identified itself.
    pub consultation: Option<String>,
    /// When the registry answered.
    pub checked_at: Timestamp,
}

/// Why the registry gave no answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry, or the member state's own database behind it, is down, busy or timed
    /// out; asking again later may work.
    #[error("the VAT registry is unavailable: {0}")]
    Unavailable(String),
    /// The registry refused the request as malformed: a bug on this side.
    #[error("the VAT registry refused the request: {0}")]
    Rejected(String),
}

/// A connection to a VAT registry. Implementing this is adding a registry connector.
///
/// Every implementation MUST:
/// - answer `valid: false` only when the registry says the number is not valid, and
///   [`RegistryError::Unavailable`] whenever it cannot tell (member state down, timeout,
///   too many requests), so that callers charge VAT rather than zero-rate;
/// - pass `requester` so the registry issues a consultation number, and return it;
/// - never retry on its own beyond a bounded number of quick attempts (the checkout waits).
pub trait VatRegistry: Send + Sync {
    /// Asks whether `number` is valid, on behalf of `requester` (Bazaar's own VAT number).
    fn check(
        &self,
        number: &VatId,
        requester: &VatId,
        now: Timestamp,
    ) -> impl Future<Output = Result<RegistryAnswer, RegistryError>> + Send;
}

/// What a registry check makes of a customer's number: a confirmed business with its
/// consultation number, or an unconfirmed one taxed as a consumer.
pub fn customer_from(number: &VatId, answer: Result<RegistryAnswer, RegistryError>) -> Customer {
    let tax_id = number.as_str().to_owned();
    match answer {
        Ok(RegistryAnswer {
            valid: true,
            consultation,
            ..
        }) => Customer::Business {
            tax_id,
            consultation,
        },
        Ok(RegistryAnswer { valid: false, .. }) => Customer::Unconfirmed {
            tax_id,
            why: Unconfirmed::Invalid,
        },
        Err(_) => Customer::Unconfirmed {
            tax_id,
            why: Unconfirmed::RegistryUnavailable,
        },
    }
}

/// Checks a customer's number: the check digits offline first (a number that fails them is
/// an error for the buyer to correct), then the registry.
pub async fn confirm<R: VatRegistry>(
    registry: &R,
    text: &str,
    requester: &VatId,
    now: Timestamp,
) -> Result<(Customer, Option<RegistryError>), super::VatIdError> {
    let number = VatId::parse(text)?;
    let answer = registry.check(&number, requester, now).await;
    let failure = answer.as_ref().err().cloned();
    Ok((customer_from(&number, answer), failure))
}
