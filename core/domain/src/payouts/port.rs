//! The payout-rail port: what every connector to a payment system MUST do.

use std::future::Future;

use bazaar_ledger::Timestamp;
use bazaar_money::Money;

use super::{BankDetails, FailureCode, PayoutId, PayoutsError, Rail};
use crate::chart::SellerId;
use crate::fx::calendar::Date;
use crate::postings::Leg;

/// What a seller owes out of its settled funds (a loan's repayment), taken in the release's
/// own ledger batch so that funds are never released without it. An implementation MUST:
/// - return legs whose debits of the seller's `seller_pending` account add up to at most
///   `net`, named other than `available` and `reserve` and unique among themselves, and no
///   legs when nothing is owed;
/// - compute the same legs for the same state, so that two workers releasing the same funds
///   post the same batch;
/// - fail with `PayoutsError::Store(PayoutStoreError::Unavailable)` when it cannot tell what
///   is owed: the release then waits for the next pass rather than going out whole.
pub trait Withholding: Send + Sync {
    /// The legs taking what `seller` owes out of `net`, its funds in `net`'s currency
    /// released on its local `day`.
    fn withhold(
        &self,
        seller: SellerId,
        net: Money,
        day: Date,
    ) -> impl Future<Output = Result<Vec<Leg>, PayoutsError>> + Send;
}

/// Nothing is withheld.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NoWithholding;

impl Withholding for NoWithholding {
    async fn withhold(&self, _: SellerId, _: Money, _: Date) -> Result<Vec<Leg>, PayoutsError> {
        Ok(Vec::new())
    }
}

/// A payout handed to a rail.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RailSubmission {
    /// The payout; the rail's idempotency key.
    pub payout: PayoutId,
    /// The rail to send it on.
    pub rail: Rail,
    /// What the seller receives, in the rail's currency.
    pub amount: Money,
    /// Where it goes, opened from the sealed store for this call only.
    pub destination: BankDetails,
    /// The account holder's name, which banks compare.
    pub holder_name: String,
    /// A reference the seller sees on the bank statement.
    pub statement_reference: String,
}

/// The rail's answer to a submission.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RailAcceptance {
    /// Taken: the payout is in transit, and the rail's own reference names it.
    Accepted {
        /// The rail's reference for the payout.
        reference: String,
        /// When the rail expects the money to arrive.
        expected_at: Timestamp,
    },
    /// Refused at once, with the reason the rail gave.
    Refused(FailureCode),
}

impl RailAcceptance {
    /// The payout's move this answer asks for, and for an accepted payout the rail's
    /// reference and expected arrival.
    pub fn event(self) -> (super::PayoutEvent, Option<(String, Timestamp)>) {
        match self {
            Self::Accepted {
                reference,
                expected_at,
            } => (
                super::PayoutEvent::Submitted,
                Some((reference, expected_at)),
            ),
            Self::Refused(code) => (super::PayoutEvent::Failed(code), None),
        }
    }
}

/// Something the rail reports about a payout after accepting it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RailEvent {
    /// The rail's event id, unique per rail: a repeated report is recognised by it.
    pub event_id: String,
    /// The payout it is about.
    pub payout: PayoutId,
    /// What happened.
    pub outcome: RailOutcome,
    /// When the rail says it happened.
    pub at: Timestamp,
}

/// What a rail reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RailOutcome {
    /// The money arrived.
    Paid,
    /// The payout failed before arriving.
    Failed(FailureCode),
    /// The receiving bank sent a paid payout back.
    Returned(FailureCode),
}

/// Why a rail call did not answer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RailError {
    /// The rail could not be reached or did not answer in time; the outcome of a submission
    /// is unknown and it MUST be retried with the same payout id.
    #[error("the payout rail is unavailable")]
    Unavailable,
    /// The rail refused the request as malformed: a bug on this side, not the seller's.
    #[error("the payout rail refused the request: {0}")]
    Rejected(String),
    /// No rail connector is configured: payouts are switched off.
    #[error("no payout rail is configured")]
    NotConfigured,
}

/// A connector to one or more payout rails. Adding a rail connection is implementing this.
///
/// Every implementation MUST:
/// - treat the payout id as the idempotency key: submitting the same payout again answers
///   the first answer and sends no money twice;
/// - answer [`RailError::Unavailable`] only when the outcome is unknown, never for a
///   refusal (a closed account is `Ok(Refused(AccountClosed))` or a later `Failed` event);
/// - report each payout's outcome through `events` exactly as the rail decided it, each
///   event with a stable id, in the order the rail produced them, from `after` (the last
///   event id the caller has handled, `None` for the beginning);
/// - never log or return the full bank details; only [`BankDetails::masked`] forms.
pub trait PayoutRails: Send + Sync {
    /// Hands a payout to its rail.
    fn submit(
        &self,
        submission: RailSubmission,
        now: Timestamp,
    ) -> impl Future<Output = Result<RailAcceptance, RailError>> + Send;

    /// Hands several payouts to their rails: one answer per submission, in order. Connectors
    /// that can send a batch override this; by default they go one by one. An error for the
    /// whole call means no answer is known for any of them (retry each with its id).
    fn submit_many(
        &self,
        submissions: Vec<RailSubmission>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Result<RailAcceptance, RailError>>, RailError>> + Send
    {
        async move {
            let mut answers = Vec::with_capacity(submissions.len());
            for submission in submissions {
                answers.push(self.submit(submission, now).await);
            }
            Ok(answers)
        }
    }

    /// Events after `after`, at most `limit`, that the rails have produced by `now`.
    fn events(
        &self,
        after: Option<String>,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<RailEvent>, RailError>> + Send;

    /// Sends two small deposits (each 1 to 99 minor units) to verify a new bank account, and
    /// answers their amounts: the platform keeps them and the seller confirms the amounts
    /// seen on the statement.
    fn micro_deposits(
        &self,
        rail: Rail,
        destination: BankDetails,
        now: Timestamp,
    ) -> impl Future<Output = Result<[Money; 2], RailError>> + Send;
}

/// Several services (or workers in one process) may share one connector.
impl<T: PayoutRails> PayoutRails for std::sync::Arc<T> {
    fn submit(
        &self,
        submission: RailSubmission,
        now: Timestamp,
    ) -> impl Future<Output = Result<RailAcceptance, RailError>> + Send {
        T::submit(self, submission, now)
    }

    fn submit_many(
        &self,
        submissions: Vec<RailSubmission>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Result<RailAcceptance, RailError>>, RailError>> + Send
    {
        T::submit_many(self, submissions, now)
    }

    fn events(
        &self,
        after: Option<String>,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<RailEvent>, RailError>> + Send {
        T::events(self, after, limit, now)
    }

    fn micro_deposits(
        &self,
        rail: Rail,
        destination: BankDetails,
        now: Timestamp,
    ) -> impl Future<Output = Result<[Money; 2], RailError>> + Send {
        T::micro_deposits(self, rail, destination, now)
    }
}
