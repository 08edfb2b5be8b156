//! Notifications the sandbox owes the receiver, redelivered until acknowledged.

use super::*;

/// A notification waiting for its time, or for its acknowledgement.
#[derive(Clone)]
pub(super) struct Outgoing {
    pub(super) notification: Notification,
    pub(super) method: MethodType,
    pub(super) card_last4: Option<String>,
    /// Deliveries so far.
    pub(super) deliveries: u32,
}

/// Notifications by due time, then by the order they were raised. A delivered
/// notification stays here, due again after a delay, until it is acknowledged.
#[derive(Default)]
pub(super) struct Outbox {
    pub(super) pending: BTreeMap<(Timestamp, u64), Outgoing>,
    /// Where each event id waits in `pending`.
    pub(super) by_event: HashMap<String, (Timestamp, u64)>,
    pub(super) next_sequence: u64,
    /// What the sandbox booked (captures, refunds, chargebacks), for its settlement reports.
    pub(super) books: Books,
}

/// The wait before delivering again a notification delivered `deliveries` times.
pub(super) fn redelivery_delay_secs(deliveries: u32) -> u32 {
    let index = usize::try_from(deliveries.saturating_sub(1)).unwrap_or(usize::MAX);
    REDELIVERY_DELAYS_SECS
        .get(index)
        .or(REDELIVERY_DELAYS_SECS.last())
        .copied()
        .unwrap_or(3_600)
}

impl Outbox {
    /// Raises `event` for `payment`, due at `at` (which is also when it happened).
    pub(super) fn raise(
        &mut self,
        reference: &PspReference,
        payment: &Payment,
        event: NotificationEvent,
        amount: Money,
        at: Timestamp,
    ) {
        if self.pending.len() >= MAX_PENDING_NOTIFICATIONS
            && let Some((_, dropped)) = self.pending.pop_first()
        {
            self.by_event.remove(&dropped.notification.event_id);
            tracing::warn!(
                psp_reference = %dropped.notification.psp_reference,
                payment_id = %dropped.notification.payment_id,
                "sandbox notification outbox full: oldest notification dropped"
            );
        }
        let notification = Notification {
            event_id: Uuid::new_v4().to_string(),
            payment_id: payment.payment_id,
            psp_reference: reference.clone(),
            event,
            amount,
            occurred_at: at,
        };
        tracing::debug!(
            psp_reference = %reference,
            payment_id = %payment.payment_id,
            method = payment.method.wire_name(),
            event = ?notification.event,
            "sandbox notification raised"
        );
        self.books.record(&notification, payment.method);
        self.insert(
            at,
            Outgoing {
                notification,
                method: payment.method,
                card_last4: payment.card_last4.clone(),
                deliveries: 0,
            },
        );
    }

    pub(super) fn insert(&mut self, at: Timestamp, outgoing: Outgoing) {
        let key = (at, self.next_sequence);
        self.by_event
            .insert(outgoing.notification.event_id.clone(), key);
        self.pending.insert(key, outgoing);
        self.next_sequence = self.next_sequence.wrapping_add(1);
    }

    /// Returns every notification due at `now`, oldest first, and schedules each to be
    /// delivered again after its redelivery delay unless it is acknowledged before.
    pub(super) fn take_due(&mut self, now: Timestamp) -> Vec<Outgoing> {
        let later = self.pending.split_off(&(now.next(), 0));
        let due = std::mem::replace(&mut self.pending, later);
        let mut delivered = Vec::with_capacity(due.len());
        for (_, mut outgoing) in due {
            outgoing.deliveries = outgoing.deliveries.saturating_add(1);
            let again = now.saturating_add_secs(redelivery_delay_secs(outgoing.deliveries));
            delivered.push(outgoing.clone());
            self.insert(again, outgoing);
        }
        delivered
    }

    /// Forgets an acknowledged notification; `false` if it is not waiting (acknowledged
    /// before, or never raised).
    pub(super) fn acknowledge(&mut self, event_id: &str) -> bool {
        let Some(key) = self.by_event.remove(event_id) else {
            return false;
        };
        self.pending.remove(&key).is_some()
    }
}
