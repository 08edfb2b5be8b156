//! Work that must never be lost, retried on its own until it is done or parked: provider
//! notifications, the ledger intents a committed change owes, and the platform's own
//! refunds of late captures. The rules are in [`crate::recovery`]; this applies them.

use bazaar_ledger::LedgerStore;
use bazaar_money::Money;

use super::{INTENTS_PER_PASS_MAX, Marketplace, REFUNDS_PER_PASS_MAX};
use crate::error::CommerceError;
use crate::orders::{PaymentState, RefundId};
use crate::payments::{NotificationEvent, PaymentProvider, ProviderError};
use crate::postings::{Posting, late_capture_posting, late_refund_posting};
use crate::recovery::{AfterFailure, after_intent_failure, after_notification_failure};
use crate::store::{
    CommerceStore, IntentKind, LedgerIntent, NotificationFailure, PaymentEvent, RefundRecord,
};

/// What one pass over the pending ledger intents did; the caller logs the failures.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct IntentsPass {
    /// Posted to the ledger and marked applied.
    pub posted: usize,
    /// Failed this time, to be tried again after a backoff.
    pub retrying: usize,
    /// Failed for the last time: parked with their error code for finance.
    pub parked: usize,
    /// Each failed intent, retrying or parked.
    pub failures: Vec<IntentFailure>,
}

/// One failed attempt at posting an intent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IntentFailure {
    /// The intent's id ([`LedgerIntent::id`]).
    pub intent_id: crate::store::IntentId,
    /// Failed attempts so far, this one included.
    pub attempts: u32,
    /// The code stored with it: the ledger's rejection code, or the commerce error code.
    pub code: &'static str,
    /// Whether this failure parked it: no more attempts until a person resolves it.
    pub parked: bool,
}

/// What one pass over the unsent platform refunds did; the caller logs the failures.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RefundsPass {
    /// Refunds the provider took; their references are recorded.
    pub sent: usize,
    /// Refunds the provider did not take, with the error code. Those it refused outright
    /// (`refused`) are marked failed and need a person; the others are sent again.
    pub failures: Vec<(RefundId, &'static str, bool)>,
}

/// What became of one delivery of a provider notification; the caller logs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Delivery {
    /// Applied (or a repeat of one applied before): acknowledge it.
    Applied,
    /// Failed `attempts` times so far with `code`: do not acknowledge it, so the provider
    /// delivers it again.
    Failed {
        /// Failed deliveries of this notification so far, this one included.
        attempts: u32,
        /// Why this one failed: the ledger's rejection code, or the commerce error's code.
        code: &'static str,
    },
    /// Failed, and recording the failure failed too (`code` is the store's): do not
    /// acknowledge it.
    Unrecorded {
        /// The code of the store's error.
        code: &'static str,
    },
    /// Failed too often: stored for operators with its signed body; acknowledge it so the
    /// provider stops.
    Parked {
        /// Failed deliveries of this notification, this one included.
        attempts: u32,
        /// Why the last one failed: the ledger's rejection code, or the commerce error's
        /// code.
        code: &'static str,
    },
}

impl Delivery {
    /// Whether the provider may forget the notification: its effect, or the notification
    /// itself, is committed in Bazaar's database.
    pub fn acknowledge(self) -> bool {
        matches!(self, Self::Applied | Self::Parked { .. })
    }

    /// `applied`, `failed` or `parked`.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Failed { .. } | Self::Unrecorded { .. } => "failed",
            Self::Parked { .. } => "parked",
        }
    }
}

/// The code kept for a failure: the ledger's own reason where the ledger refused.
fn failure_code(error: &CommerceError) -> &'static str {
    match error {
        CommerceError::LedgerRejected { code } => code,
        other => other.code(),
    }
}

impl<S: CommerceStore, L: LedgerStore, P: PaymentProvider> Marketplace<S, L, P> {
    /// Asks the provider to refund a platform refund (of a late capture) and records its
    /// reference. A refund the provider refuses outright is marked failed (`Ok(false)`): the
    /// money stays in the captured-but-unfulfilled account for support to return.
    pub(super) async fn send_platform_refund(
        &self,
        refund: &RefundRecord,
    ) -> Result<bool, CommerceError> {
        let payment = self
            .store
            .payment(refund.payment_id)
            .await?
            .ok_or(CommerceError::NotFound("payment"))?;
        let reference = payment.psp_reference.ok_or(CommerceError::InvalidState(
            "the payment has no provider reference",
        ))?;
        let answer = self
            .provider
            .refund(
                &reference,
                refund.amount,
                &format!("refund:{}", refund.id.as_uuid()),
            )
            .await;
        match answer {
            Ok(answer) => {
                self.store
                    .set_refund_reference(refund.id, &answer.refund_reference)
                    .await?;
                Ok(true)
            }
            Err(error @ ProviderError::Unavailable(_)) => Err(error.into()),
            Err(_) => {
                self.store
                    .apply_payment_event(
                        payment.id,
                        None,
                        &PaymentEvent::RefundFailed(refund.id),
                        self.now(),
                    )
                    .await?;
                Ok(false)
            }
        }
    }

    /// Sends the platform refunds (of late captures) that the provider has not accepted
    /// yet.
    pub async fn send_platform_refunds(&self) -> Result<RefundsPass, CommerceError> {
        let refunds = self
            .store
            .unsent_platform_refunds(REFUNDS_PER_PASS_MAX)
            .await?;
        let mut pass = RefundsPass::default();
        for refund in &refunds {
            match self.send_platform_refund(refund).await {
                Ok(true) => pass.sent = pass.sent.saturating_add(1),
                Ok(false) => pass
                    .failures
                    .push((refund.id, "payment_state_invalid", true)),
                Err(error) => pass.failures.push((refund.id, error.code(), false)),
            }
        }
        Ok(pass)
    }

    /// Receives one notification delivery from the provider (`event_id` as the provider
    /// sent it with the request): applies it, or counts its failure and, once it keeps
    /// failing, parks it with its signed body for operators. The answer says whether to
    /// acknowledge it; a delivery whose failure could not even be recorded is not
    /// acknowledged, so the provider delivers it again.
    pub async fn receive_notification(
        &self,
        event_id: &str,
        signature: &str,
        body: &[u8],
    ) -> Delivery {
        let error = match self.handle_notifications(signature, body).await {
            Ok(_) => return Delivery::Applied,
            Err(error) => error,
        };
        let failure = NotificationFailure {
            provider: self.provider.name().clone(),
            event_id: event_id.to_owned(),
            signature: signature.to_owned(),
            body: body.to_vec(),
            error_code: failure_code(&error),
        };
        let now = self.now();
        let code = failure.error_code;
        let attempts = match self.store.notification_failed(&failure, now).await {
            Ok(attempts) => attempts,
            Err(store_error) => {
                return Delivery::Unrecorded {
                    code: store_error.code(),
                };
            }
        };
        match after_notification_failure(attempts, &error, now) {
            AfterFailure::RetryAt(_) => Delivery::Failed { attempts, code },
            AfterFailure::Park => {
                match self
                    .store
                    .park_notification(&failure.provider, event_id, now)
                    .await
                {
                    Ok(()) => Delivery::Parked { attempts, code },
                    Err(store_error) => Delivery::Unrecorded {
                        code: store_error.code(),
                    },
                }
            }
        }
    }

    /// Authenticates and applies a provider notification request. Returns how many events
    /// were new; repeated deliveries apply nothing.
    pub async fn handle_notifications(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<usize, CommerceError> {
        let notifications = self.provider.parse_notifications(signature, body)?;
        let mut applied: usize = 0;
        for notification in notifications {
            let event = match &notification.event {
                NotificationEvent::Authorised => PaymentEvent::Authorised,
                NotificationEvent::Captured => PaymentEvent::Captured,
                NotificationEvent::Refused { .. } => PaymentEvent::Failed(PaymentState::Refused),
                NotificationEvent::Cancelled => PaymentEvent::Failed(PaymentState::Cancelled),
                NotificationEvent::Expired => PaymentEvent::Failed(PaymentState::Expired),
                NotificationEvent::Chargeback => PaymentEvent::Chargeback,
                NotificationEvent::Refunded { refund_reference }
                | NotificationEvent::RefundFailed { refund_reference } => {
                    let refund = self
                        .store
                        .refund_by_reference(refund_reference)
                        .await?
                        .ok_or(CommerceError::NotFound("refund"))?;
                    if matches!(notification.event, NotificationEvent::Refunded { .. }) {
                        PaymentEvent::RefundSucceeded(refund.id)
                    } else {
                        PaymentEvent::RefundFailed(refund.id)
                    }
                }
            };
            if self
                .apply(notification.payment_id, Some(&notification.event_id), event)
                .await?
            {
                applied = applied.saturating_add(1);
            }
        }
        Ok(applied)
    }

    /// Posts the ledger intents that a crash, an outage or a refusal left unposted and
    /// whose retry time has come. Each stands alone: one that fails is retried later with
    /// backoff, then parked with its error code ([`crate::recovery`]); the others go on.
    pub async fn post_pending_intents(&self) -> Result<IntentsPass, CommerceError> {
        let intents = self
            .store
            .pending_intents(INTENTS_PER_PASS_MAX, self.now())
            .await?;
        let mut pass = IntentsPass::default();
        for intent in &intents {
            let error = match self.post_intent(intent).await {
                Ok(()) => {
                    pass.posted = pass.posted.saturating_add(1);
                    continue;
                }
                Err(error) => error,
            };
            let attempts = intent.attempts.saturating_add(1);
            let now = self.now();
            let code = failure_code(&error);
            let retry_at = match after_intent_failure(attempts, &error, now) {
                AfterFailure::RetryAt(at) => {
                    pass.retrying = pass.retrying.saturating_add(1);
                    Some(at)
                }
                AfterFailure::Park => {
                    pass.parked = pass.parked.saturating_add(1);
                    None
                }
            };
            self.store
                .intent_failed(intent.id, code, retry_at, now)
                .await?;
            pass.failures.push(IntentFailure {
                intent_id: intent.id,
                attempts,
                code,
                parked: retry_at.is_none(),
            });
        }
        Ok(pass)
    }

    pub(super) async fn post_intent(&self, intent: &LedgerIntent) -> Result<(), CommerceError> {
        let posting = match intent.kind {
            IntentKind::Capture(payment_id) => {
                let payment = self
                    .store
                    .payment(payment_id)
                    .await?
                    .ok_or(CommerceError::NotFound("payment"))?;
                if payment.captured_late {
                    late_capture_posting(payment_id, &payment.provider, payment.amount)?
                } else {
                    let mut posting = Posting::default();
                    for line in self.store.capture_inputs(payment_id).await? {
                        posting.extend(line.capture_requests()?);
                    }
                    posting
                }
            }
            IntentKind::Refund(refund_id) => {
                let input = self.store.refund_inputs(refund_id).await?;
                let kind = if input.chargeback {
                    "chargeback"
                } else {
                    "refund"
                };
                if input.captured_late {
                    let amount = input
                        .after_minor
                        .checked_sub(input.before_minor)
                        .ok_or(CommerceError::Internal)?;
                    late_refund_posting(
                        refund_id,
                        input.line.payment_id,
                        &input.line.provider,
                        Money::from_minor(amount, input.line.total.currency()),
                        kind,
                    )?
                } else {
                    input.line.refund_requests(
                        refund_id,
                        input.before_minor,
                        input.after_minor,
                        kind,
                    )?
                }
            }
        };
        self.submit(posting).await?;
        self.store.intent_applied(intent.id, self.now()).await
    }
}
