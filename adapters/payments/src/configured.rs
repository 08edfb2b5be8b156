//! The provider a deployment runs with, chosen by configuration: the sandbox for local use
//! and tests, or none at all, which offers no method and takes no payment.

use bazaar_domain::Country;
use bazaar_domain::chart::ProviderName;
use bazaar_domain::payments::{
    AuthorizeRequest, MethodOffer, Notification, NotificationError, PaymentProvider, ProviderError,
    ProviderPayment, ProviderRefund, PspReference,
};
use bazaar_money::Money;

use crate::SandboxProvider;

/// One of the connectors this build has, behind the one port.
#[derive(Debug)]
pub enum ConfiguredProvider {
    /// The in-process sandbox, with its controls.
    Sandbox(Box<SandboxProvider>),
    /// No provider: `payment_methods` is empty, `authorize` answers `MethodNotAvailable`,
    /// every other call `NotFound` (there are no payments), and every notification is
    /// refused as unsigned.
    Disabled(ProviderName),
}

impl ConfiguredProvider {
    /// The sandbox, when it is the configured provider.
    pub fn sandbox(&self) -> Option<&SandboxProvider> {
        match self {
            Self::Sandbox(sandbox) => Some(sandbox),
            Self::Disabled(_) => None,
        }
    }
}

impl PaymentProvider for ConfiguredProvider {
    fn name(&self) -> &ProviderName {
        match self {
            Self::Sandbox(sandbox) => sandbox.name(),
            Self::Disabled(name) => name,
        }
    }

    fn payment_methods(&self, country: &Country, amount: Money) -> Vec<MethodOffer> {
        match self {
            Self::Sandbox(sandbox) => sandbox.payment_methods(country, amount),
            Self::Disabled(_) => Vec::new(),
        }
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<ProviderPayment, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.authorize(request).await,
            Self::Disabled(_) => Err(ProviderError::MethodNotAvailable),
        }
    }

    async fn capture(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => {
                sandbox
                    .capture(psp_reference, amount, idempotency_key)
                    .await
            }
            Self::Disabled(_) => Err(ProviderError::NotFound),
        }
    }

    async fn cancel(
        &self,
        psp_reference: &PspReference,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.cancel(psp_reference, idempotency_key).await,
            Self::Disabled(_) => Err(ProviderError::NotFound),
        }
    }

    async fn refund(
        &self,
        psp_reference: &PspReference,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.refund(psp_reference, amount, idempotency_key).await,
            Self::Disabled(_) => Err(ProviderError::NotFound),
        }
    }

    async fn status(&self, psp_reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.status(psp_reference).await,
            Self::Disabled(_) => Err(ProviderError::NotFound),
        }
    }

    fn parse_notifications(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<Vec<Notification>, NotificationError> {
        match self {
            Self::Sandbox(sandbox) => sandbox.parse_notifications(signature, body),
            Self::Disabled(_) => Err(NotificationError::BadSignature),
        }
    }
}
