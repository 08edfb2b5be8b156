use crate::Currency;

/// Why an amount could not be read or computed.
///
/// Messages are safe to show a client: they never echo more than a short, sanitised
/// fragment of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The input was empty.
    #[error("amount is empty")]
    Empty,
    /// The input is not a plain decimal number such as `-12.50`.
    #[error("amount is not a decimal number (expected digits with an optional '-' and '.')")]
    Malformed,
    /// The input has more decimal places than the currency's minor unit allows.
    #[error("{currency} allows {allowed} decimal places, the amount has {found}")]
    TooManyDecimals {
        /// The currency the amount was read in.
        currency: Currency,
        /// The currency's exponent: the most decimal places an amount may have.
        allowed: u32,
        /// The number of decimal places written in the input.
        found: u32,
    },
    /// The amount does not fit in 64-bit minor units.
    #[error("amount is out of range")]
    OutOfRange,
    /// The code is not an ISO 4217 currency code.
    #[error("unknown currency code {code:?}")]
    UnknownCurrency {
        /// At most the first 8 characters of the input, with anything but printable ASCII
        /// removed.
        code: String,
    },
    /// The currency exists but has no minor unit to count in (gold, SDRs, test codes).
    #[error("currency {code} cannot hold money amounts")]
    UnsupportedCurrency {
        /// The ISO 4217 code of the refused currency, e.g. `XAU`.
        code: &'static str,
    },
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The currency of the amount the operation was called on.
        left: Currency,
        /// The currency of the other operand.
        right: Currency,
    },
    /// The result of an operation does not fit in 64-bit minor units.
    #[error("arithmetic overflow")]
    Overflow,
    /// A conversion rate was zero or negative.
    #[error("rate must be positive")]
    NonPositiveRate,
    /// An allocation was asked for with no weights, or with weights that add up to zero.
    #[error("allocation needs at least one non-zero weight")]
    NoWeights,
}

impl MoneyError {
    /// A stable, machine-readable code for clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "amount_empty",
            Self::Malformed => "amount_malformed",
            Self::TooManyDecimals { .. } => "amount_too_many_decimals",
            Self::OutOfRange => "amount_out_of_range",
            Self::UnknownCurrency { .. } => "currency_unknown",
            Self::UnsupportedCurrency { .. } => "currency_unsupported",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::Overflow => "amount_overflow",
            Self::NonPositiveRate => "rate_not_positive",
            Self::NoWeights => "allocation_without_weights",
        }
    }
}
