//! Why a statement file is refused.

use bazaar_money::{Currency, Money, MoneyError};

use super::CAMT053_BYTES_MAX;

/// Why a statement file was refused. Nothing of a refused file is used. Messages name a
/// statement by its id only, never by its account.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CamtError {
    /// The document is larger than [`CAMT053_BYTES_MAX`].
    #[error("the statement file is larger than {CAMT053_BYTES_MAX} bytes")]
    TooLarge,
    /// Not well-formed XML, or a required element is missing or unreadable.
    #[error("the statement file is malformed: {reason}")]
    Malformed {
        /// What is wrong, safe to show.
        reason: String,
    },
    /// The document is not camt.053.001.02 or camt.053.001.08.
    #[error("the document's namespace {namespace:?} is not camt.053.001.02 or camt.053.001.08")]
    VersionUnsupported {
        /// The namespace found, shortened to printable characters.
        namespace: String,
    },
    /// An amount or currency code that cannot be read.
    #[error("statement {statement}: {reason}")]
    AmountInvalid {
        /// The statement's id.
        statement: String,
        /// Why the amount was refused.
        reason: MoneyError,
    },
    /// An amount in a currency other than the statement's.
    #[error("statement {statement} is in {expected}, but has an amount in {found}")]
    CurrencyMismatch {
        /// The statement's id.
        statement: String,
        /// The statement's currency.
        expected: Currency,
        /// The other currency.
        found: Currency,
    },
    /// A statement without an opening or closing booked balance.
    #[error("statement {statement} has no {balance} booked balance")]
    MissingBalance {
        /// The statement's id.
        statement: String,
        /// `opening` or `closing`.
        balance: &'static str,
    },
    /// The opening balance plus the booked entries is not the closing balance.
    #[error("statement {statement} closes at {expected}, but its opening and entries make {found}")]
    DoesNotBalance {
        /// The statement's id.
        statement: String,
        /// The closing balance the statement states.
        expected: Money,
        /// The opening balance plus the booked entries.
        found: Money,
    },
    /// An entry's parts (or batches) do not add up to the entry's amount.
    #[error("entry {entry} of statement {statement} is {expected}, but its parts make {found}")]
    PartsDoNotAddUp {
        /// The statement's id.
        statement: String,
        /// The entry's position in the statement, from 1.
        entry: usize,
        /// The entry's (or the batch's) amount.
        expected: Money,
        /// What its parts add up to.
        found: Money,
    },
    /// A batch holds another number of transactions than it says.
    #[error("entry {entry} of statement {statement} has a batch of {declared} with {found} parts")]
    BatchCountMismatch {
        /// The statement's id.
        statement: String,
        /// The entry's position in the statement, from 1.
        entry: usize,
        /// What the batch's `NbOfTxs` says.
        declared: u32,
        /// How many transactions it gives.
        found: usize,
    },
    /// A page of a paginated statement is missing.
    #[error("statement {statement} lacks page {missing}")]
    PagesIncomplete {
        /// The statement's id.
        statement: String,
        /// The first page missing.
        missing: u32,
    },
    /// A page of a paginated statement came twice.
    #[error("statement {statement} has page {page} twice")]
    PageDuplicate {
        /// The statement's id.
        statement: String,
        /// The page.
        page: u32,
    },
    /// The pages of a statement do not fit together.
    #[error("the pages of statement {statement} do not fit together: {reason}")]
    PagesInconsistent {
        /// The statement's id.
        statement: String,
        /// What does not fit.
        reason: &'static str,
    },
}

impl CamtError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "camt_too_large",
            Self::Malformed { .. } => "camt_malformed",
            Self::VersionUnsupported { .. } => "camt_version_unsupported",
            Self::AmountInvalid { .. } => "camt_amount_invalid",
            Self::CurrencyMismatch { .. } => "camt_currency_mismatch",
            Self::MissingBalance { .. } => "camt_missing_balance",
            Self::DoesNotBalance { .. } => "camt_does_not_balance",
            Self::PartsDoNotAddUp { .. } => "camt_parts_do_not_add_up",
            Self::BatchCountMismatch { .. } => "camt_batch_count_mismatch",
            Self::PagesIncomplete { .. } => "camt_pages_incomplete",
            Self::PageDuplicate { .. } => "camt_page_duplicate",
            Self::PagesInconsistent { .. } => "camt_pages_inconsistent",
        }
    }
}
