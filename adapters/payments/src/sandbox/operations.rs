//! The provider's operations on payments, and the buyer's and the test's controls.

use super::*;

impl SandboxProvider {
    pub(super) fn authorize_now(
        &self,
        request: AuthorizeRequest,
    ) -> Result<ProviderPayment, ProviderError> {
        let (mut inner, now) = self.lock_api()?;
        check_idempotency_key(&request.idempotency_key)?;
        let fingerprint = inner.fingerprint(&authorize_fields(&request));
        if let Some(answer) = inner
            .idempotency
            .recall(&request.idempotency_key, &fingerprint)?
        {
            return match answer {
                Answer::Payment(payment) => Self::deliver(inner.outage, payment),
                Answer::Refund(_) => Err(ProviderError::InvalidRequest(
                    "idempotency key already used for a different request",
                )),
            };
        }
        let method = self.check_authorize(&request)?;

        let reference = inner.new_reference()?;
        let (state, card_last4, raised) = initial_state(&request, &reference, now)?;
        let answer = ProviderPayment {
            psp_reference: reference.clone(),
            status: state.status(),
        };
        let payment = Payment {
            payment_id: request.payment_id,
            method,
            amount: request.amount,
            card_last4,
            state,
            refunded: Money::zero(request.amount.currency()),
            refund_count: 0,
            charged_back: false,
        };
        tracing::info!(
            psp_reference = %reference,
            payment_id = %request.payment_id,
            method = method.wire_name(),
            status = ?answer.status,
            "sandbox payment authorisation"
        );
        if let Some(event) = raised {
            inner
                .outbox
                .raise(&reference, &payment, event, request.amount, now);
        }
        inner.payments.insert(reference, payment);
        inner.idempotency.remember(
            &request.idempotency_key,
            fingerprint,
            Answer::Payment(answer.clone()),
        );
        Self::deliver(inner.outage, answer)
    }

    /// Refuses a request the provider would refuse before creating anything; answers the
    /// method asked for.
    fn check_authorize(&self, request: &AuthorizeRequest) -> Result<MethodType, ProviderError> {
        if !request.amount.is_positive() {
            return Err(ProviderError::InvalidRequest("amount must be positive"));
        }
        let url_valid = (1..=MAX_RETURN_URL_LEN).contains(&request.return_url.len())
            && (request.return_url.starts_with("https://")
                || request.return_url.starts_with("http://"));
        if !url_valid {
            return Err(ProviderError::InvalidRequest(
                "return URL must be an http or https URL of at most 2048 characters",
            ));
        }
        let method = request.details.method();
        if !self
            .offer(method)
            .is_some_and(|offer| offer.accepts(&request.country, request.amount))
        {
            return Err(ProviderError::MethodNotAvailable);
        }
        if let MethodDetails::Other { method, .. } = &request.details
            && *method == MethodType::Card
        {
            return Err(ProviderError::InvalidRequest(
                "card payments need the card's details",
            ));
        }

        Ok(method)
    }

    /// Runs a mutating call on one payment under an idempotency key: recalls the first
    /// answer, or runs `operation` and remembers what it answers.
    pub(super) fn modify(
        &self,
        operation: &str,
        reference: &PspReference,
        amount: Option<Money>,
        key: &str,
        run: impl FnOnce(&mut Inner, Timestamp) -> Result<Answer, ProviderError>,
    ) -> Result<Answer, ProviderError> {
        let (mut inner, now) = self.lock_api()?;
        check_idempotency_key(key)?;
        let currency = amount.map(|a| a.currency().code()).unwrap_or_default();
        let minor = amount.map(|a| a.minor().to_string()).unwrap_or_default();
        let fingerprint =
            inner.fingerprint(&[operation, reference.as_str(), currency, minor.as_str()]);
        if let Some(answer) = inner.idempotency.recall(key, &fingerprint)? {
            return Self::deliver(inner.outage, answer);
        }
        let answer = run(&mut inner, now)?;
        inner.idempotency.remember(key, fingerprint, answer.clone());
        Self::deliver(inner.outage, answer)
    }

    pub(super) fn capture_now(
        &self,
        reference: &PspReference,
        amount: Money,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let answer = self.modify("capture", reference, Some(amount), key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            if payment.method.flow().captures_on_authorisation() {
                return Err(ProviderError::InvalidState(
                    "the method captures on authorisation",
                ));
            }
            check_amount(amount, payment.amount)?;
            if !matches!(payment.state, State::Authorised { .. }) {
                return Err(ProviderError::InvalidState(payment.state.refusal()));
            }
            if amount.minor() > payment.amount.minor() {
                return Err(ProviderError::InvalidState(
                    "capture exceeds the authorised amount",
                ));
            }
            inner
                .payments
                .transition(reference, State::Captured { amount })?;
            let payment = inner.payments.get(reference)?;
            log_change(reference, payment, "sandbox payment captured");
            inner
                .outbox
                .raise(reference, payment, NotificationEvent::Captured, amount, now);
            Ok(Answer::Payment(ProviderPayment {
                psp_reference: reference.clone(),
                status: payment.state.status(),
            }))
        })?;
        expect_payment(answer)
    }

    pub(super) fn cancel_now(
        &self,
        reference: &PspReference,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let answer = self.modify("cancel", reference, None, key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            match payment.state {
                State::Challenge { .. }
                | State::Redirect { .. }
                | State::Voucher { .. }
                | State::Qr { .. }
                | State::Authorised { .. } => {}
                State::Confirming { .. }
                | State::Captured { .. }
                | State::Refused { .. }
                | State::Cancelled
                | State::Expired => {
                    return Err(ProviderError::InvalidState(payment.state.refusal()));
                }
            }
            inner.payments.transition(reference, State::Cancelled)?;
            let payment = inner.payments.get(reference)?;
            log_change(reference, payment, "sandbox payment cancelled");
            inner.outbox.raise(
                reference,
                payment,
                NotificationEvent::Cancelled,
                payment.amount,
                now,
            );
            Ok(Answer::Payment(ProviderPayment {
                psp_reference: reference.clone(),
                status: PaymentStatus::Cancelled,
            }))
        })?;
        expect_payment(answer)
    }

    pub(super) fn refund_now(
        &self,
        reference: &PspReference,
        amount: Money,
        key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let answer = self.modify("refund", reference, Some(amount), key, |inner, now| {
            let payment = inner.payments.get(reference)?;
            check_amount(amount, payment.amount)?;
            let State::Captured { amount: captured } = payment.state else {
                return Err(ProviderError::InvalidState(
                    "only a captured payment can be refunded",
                ));
            };
            if payment.charged_back {
                return Err(ProviderError::InvalidState("the payment is charged back"));
            }
            if payment.refund_count >= MAX_REFUNDS_PER_PAYMENT {
                return Err(ProviderError::InvalidState(
                    "the payment has had too many refunds",
                ));
            }
            let refunded = payment
                .refunded
                .checked_add(amount)
                .map_err(|_| ProviderError::InvalidState("refunds exceed the captured amount"))?;
            if refunded.minor() > captured.minor() {
                return Err(ProviderError::InvalidState(
                    "refunds exceed the captured amount",
                ));
            }
            let refund_reference = inner.new_reference()?;
            let fails = amount.minor() == FAILING_REFUND_MINOR;
            let payment = inner.payments.get_mut(reference)?;
            payment.refund_count = payment.refund_count.saturating_add(1);
            let event = if fails {
                NotificationEvent::RefundFailed {
                    refund_reference: refund_reference.clone(),
                }
            } else {
                payment.refunded = refunded;
                NotificationEvent::Refunded {
                    refund_reference: refund_reference.clone(),
                }
            };
            tracing::info!(
                psp_reference = %reference,
                payment_id = %payment.payment_id,
                method = payment.method.wire_name(),
                refund_reference = %refund_reference,
                amount = %amount,
                fails,
                "sandbox refund accepted"
            );
            let payment = inner.payments.get(reference)?;
            inner.outbox.raise(reference, payment, event, amount, now);
            Ok(Answer::Refund(ProviderRefund { refund_reference }))
        })?;
        match answer {
            Answer::Refund(refund) => Ok(refund),
            Answer::Payment(_) => Err(ProviderError::InvalidRequest(
                "idempotency key already used for a different request",
            )),
        }
    }

    pub(super) fn status_now(
        &self,
        reference: &PspReference,
    ) -> Result<ProviderPayment, ProviderError> {
        let (inner, _) = self.lock_api()?;
        let payment = inner.payments.get(reference)?;
        let answer = ProviderPayment {
            psp_reference: reference.clone(),
            status: payment.state.status(),
        };
        Self::deliver(inner.outage, answer)
    }

    /// Moves a payment from one waiting state on the buyer's action: `accept` says whether
    /// the payment's state is the one the action applies to, `next` gives the new state.
    pub(super) fn buyer_action(
        &self,
        reference: &PspReference,
        accept: impl Fn(&State) -> bool,
        next: impl FnOnce(&Payment, Timestamp) -> (State, Option<NotificationEvent>),
        what: &'static str,
    ) -> Result<ProviderPayment, ProviderError> {
        let (mut guard, now) = self.lock_control();
        let inner = &mut *guard;
        let payment = inner.payments.get(reference)?;
        if !accept(&payment.state) {
            return Err(ProviderError::InvalidState(payment.state.refusal()));
        }
        let (state, event) = next(payment, now);
        inner.payments.transition(reference, state)?;
        let payment = inner.payments.get(reference)?;
        log_change(reference, payment, what);
        if let Some(event) = event {
            let amount = match payment.state {
                State::Captured { amount } => amount,
                _ => payment.amount,
            };
            inner.outbox.raise(reference, payment, event, amount, now);
        }
        Ok(ProviderPayment {
            psp_reference: reference.clone(),
            status: payment.state.status(),
        })
    }

    /// The buyer answers a 3-D Secure challenge: `passed` authorises the payment, otherwise
    /// it is refused ("3-D Secure authentication failed"). Either way a notification is
    /// raised. `InvalidState` unless the payment waits for a challenge.
    pub fn complete_challenge(
        &self,
        reference: &PspReference,
        passed: bool,
    ) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Challenge { .. }),
            |_, now| {
                if passed {
                    (
                        State::Authorised {
                            expires_at: now.saturating_add_secs(AUTHORISATION_VALIDITY_SECS),
                        },
                        Some(NotificationEvent::Authorised),
                    )
                } else {
                    refusal("3-D Secure authentication failed")
                }
            },
            "sandbox 3-D Secure challenge answered",
        )
    }

    /// The buyer comes back from a bank or wallet redirect: `approved` captures the payment
    /// (`CAPTURE` notification), otherwise it is refused. `InvalidState` unless the payment
    /// waits for a redirect.
    pub fn complete_redirect(
        &self,
        reference: &PspReference,
        approved: bool,
    ) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Redirect { .. }),
            |payment, _| {
                if approved {
                    (
                        State::Captured {
                            amount: payment.amount,
                        },
                        Some(NotificationEvent::Captured),
                    )
                } else if payment.method.flow() == Flow::Wallet {
                    refusal("declined in the wallet")
                } else {
                    refusal("declined at the bank")
                }
            },
            "sandbox redirect completed",
        )
    }

    /// The buyer pays a voucher before it expires: the payment is captured (`CAPTURE`
    /// notification). `InvalidState` if it expired or is not an unpaid voucher.
    pub fn pay_voucher(&self, reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Voucher { .. }),
            |payment, _| {
                (
                    State::Captured {
                        amount: payment.amount,
                    },
                    Some(NotificationEvent::Captured),
                )
            },
            "sandbox voucher paid",
        )
    }

    /// The buyer pays a QR code before it expires. The payment is `Pending` until the
    /// confirmation, [`QR_CONFIRMATION_DELAY_SECS`] later by the clock, captures it and
    /// raises the `CAPTURE` notification. `InvalidState` if the code expired or is not an
    /// unpaid QR code.
    pub fn pay_qr(&self, reference: &PspReference) -> Result<ProviderPayment, ProviderError> {
        self.buyer_action(
            reference,
            |state| matches!(state, State::Qr { .. }),
            |_, now| {
                (
                    State::Confirming {
                        confirm_at: now.saturating_add_secs(QR_CONFIRMATION_DELAY_SECS),
                    },
                    None,
                )
            },
            "sandbox QR code paid",
        )
    }

    /// The buyer disputes a captured payment with their bank: raises a `CHARGEBACK`
    /// notification for the captured amount not refunded, and returns that amount.
    /// `InvalidState` if the payment is not captured, is already charged back, or is fully
    /// refunded.
    pub fn chargeback(&self, reference: &PspReference) -> Result<Money, ProviderError> {
        let (mut guard, now) = self.lock_control();
        let inner = &mut *guard;
        let payment = inner.payments.get(reference)?;
        let State::Captured { amount: captured } = payment.state else {
            return Err(ProviderError::InvalidState(
                "only a captured payment can be charged back",
            ));
        };
        if payment.charged_back {
            return Err(ProviderError::InvalidState(
                "the payment is already charged back",
            ));
        }
        let disputed = captured
            .checked_sub(payment.refunded)
            .map_err(|_| ProviderError::InvalidState("nothing left to charge back"))?;
        if !disputed.is_positive() {
            return Err(ProviderError::InvalidState("nothing left to charge back"));
        }
        let payment = inner.payments.get_mut(reference)?;
        payment.charged_back = true;
        log_change(reference, payment, "sandbox chargeback");
        let payment = inner.payments.get(reference)?;
        inner.outbox.raise(
            reference,
            payment,
            NotificationEvent::Chargeback,
            disputed,
            now,
        );
        Ok(disputed)
    }
}

pub(super) fn refusal(reason: &str) -> (State, Option<NotificationEvent>) {
    (
        State::Refused {
            reason: reason.to_owned(),
        },
        Some(NotificationEvent::Refused {
            reason: reason.to_owned(),
        }),
    )
}

pub(super) fn log_change(reference: &PspReference, payment: &Payment, message: &'static str) {
    tracing::info!(
        psp_reference = %reference,
        payment_id = %payment.payment_id,
        method = payment.method.wire_name(),
        status = ?payment.state.status(),
        "{message}"
    );
}

pub(super) fn expect_payment(answer: Answer) -> Result<ProviderPayment, ProviderError> {
    match answer {
        Answer::Payment(payment) => Ok(payment),
        Answer::Refund(_) => Err(ProviderError::InvalidRequest(
            "idempotency key already used for a different request",
        )),
    }
}

/// The fields that make an authorisation request what it is, for its digest.
pub(super) fn authorize_fields(request: &AuthorizeRequest) -> Vec<String> {
    let mut fields = vec![
        "authorize".to_owned(),
        request.payment_id.to_string(),
        request.amount.currency().code().to_owned(),
        request.amount.minor().to_string(),
        request.country.as_str().to_owned(),
        request.return_url.clone(),
    ];
    match &request.details {
        MethodDetails::Card {
            number,
            expiry_month,
            expiry_year,
        } => {
            fields.push("card".to_owned());
            fields.push(number.expose().to_owned());
            fields.push(expiry_month.to_string());
            fields.push(expiry_year.to_string());
        }
        MethodDetails::CardToken { token } => {
            fields.push("card_token".to_owned());
            fields.push(token.as_str().to_owned());
        }
        MethodDetails::Other { method, extra } => {
            fields.push(method.wire_name().to_owned());
            fields.push(extra.clone());
        }
    }
    fields
}

/// The state a new payment starts in, decided by its method (and, for a card, by its expiry
/// and test number); with the card's last four digits and the notification it raises now.
fn initial_state(
    request: &AuthorizeRequest,
    reference: &PspReference,
    now: Timestamp,
) -> Result<(State, Option<String>, Option<NotificationEvent>), ProviderError> {
    let mut card_last4 = None;
    let mut raised = None;
    let state = match &request.details {
        MethodDetails::Card {
            number,
            expiry_month,
            expiry_year,
        } => {
            if !(1..=12).contains(expiry_month) {
                return Err(ProviderError::InvalidRequest(
                    "expiry month must be 1 to 12",
                ));
            }
            if !(2000..=2099).contains(expiry_year) {
                return Err(ProviderError::InvalidRequest(
                    "expiry year must have four digits",
                ));
            }
            card_last4 = Some(number.last4().to_owned());
            let refused = |reason: &str| State::Refused {
                reason: reason.to_owned(),
            };
            let state = if time::card_expired(*expiry_month, *expiry_year, now) {
                refused("expired card")
            } else {
                match number.expose() {
                    test_cards::INSUFFICIENT_FUNDS => refused("insufficient funds"),
                    test_cards::DO_NOT_HONOUR => refused("do not honour"),
                    test_cards::CHALLENGE => State::Challenge {
                        url: format!("{SANDBOX_ORIGIN}/threeds2/challenge/{reference}"),
                        expires_at: now.saturating_add_secs(CHALLENGE_VALIDITY_SECS),
                    },
                    _ => State::Authorised {
                        expires_at: now.saturating_add_secs(AUTHORISATION_VALIDITY_SECS),
                    },
                }
            };
            raised = match &state {
                State::Authorised { .. } => Some(NotificationEvent::Authorised),
                State::Refused { reason } => Some(NotificationEvent::Refused {
                    reason: reason.clone(),
                }),
                _ => None,
            };
            state
        }
        MethodDetails::CardToken { .. } => {
            // `authorize` detokenizes before it gets here.
            return Err(ProviderError::InvalidRequest(
                "a card token was not detokenized",
            ));
        }
        MethodDetails::Other { method, .. } => match method.flow() {
            // Cards never get here (refused above); treat them as a redirect to stay total.
            Flow::BankRedirect | Flow::Wallet | Flow::Card => State::Redirect {
                url: format!(
                    "{SANDBOX_ORIGIN}/redirect/{}/{reference}",
                    method.wire_name()
                ),
                expires_at: now.saturating_add_secs(REDIRECT_VALIDITY_SECS),
            },
            Flow::Voucher => State::Voucher {
                reference: Inner::voucher_reference()?,
                expires_at: now
                    .saturating_add_secs(voucher_validity_secs(*method).unwrap_or(86_400)),
            },
            Flow::RealTime => State::Qr {
                data: format!(
                    "sandbox:{}:{reference}:{}:{}",
                    method.wire_name(),
                    request.amount.currency(),
                    request.amount.minor()
                ),
                expires_at: now.saturating_add_secs(QR_VALIDITY_SECS),
            },
        },
    };
    Ok((state, card_last4, raised))
}
