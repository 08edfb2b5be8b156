//! The rail connector a deployment runs with: the sandbox, or none (payouts switched off,
//! as production has until a real connector exists).

use bazaar_domain::payouts::{
    BankDetails, PayoutRails, Rail, RailAcceptance, RailError, RailEvent, RailSubmission,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Money;

use crate::SandboxRails;

/// The configured connector.
#[derive(Clone, Debug)]
pub enum ConfiguredRails {
    /// The sandbox rails: for local use and tests.
    Sandbox(SandboxRails),
    /// No connector: every request answers [`RailError::NotConfigured`] and no event comes.
    Disabled,
}

impl PayoutRails for ConfiguredRails {
    async fn submit(
        &self,
        submission: RailSubmission,
        now: Timestamp,
    ) -> Result<RailAcceptance, RailError> {
        match self {
            Self::Sandbox(rails) => rails.submit(submission, now).await,
            Self::Disabled => Err(RailError::NotConfigured),
        }
    }

    async fn submit_many(
        &self,
        submissions: Vec<RailSubmission>,
        now: Timestamp,
    ) -> Result<Vec<Result<RailAcceptance, RailError>>, RailError> {
        match self {
            Self::Sandbox(rails) => rails.submit_many(submissions, now).await,
            Self::Disabled => Err(RailError::NotConfigured),
        }
    }

    async fn events(
        &self,
        after: Option<String>,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<RailEvent>, RailError> {
        match self {
            Self::Sandbox(rails) => rails.events(after, limit, now).await,
            Self::Disabled => Ok(Vec::new()),
        }
    }

    async fn micro_deposits(
        &self,
        rail: Rail,
        destination: BankDetails,
        now: Timestamp,
    ) -> Result<[Money; 2], RailError> {
        match self {
            Self::Sandbox(rails) => rails.micro_deposits(rail, destination, now).await,
            Self::Disabled => Err(RailError::NotConfigured),
        }
    }
}
