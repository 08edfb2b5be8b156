//! Background work, in-process: deliver the sandbox provider's notifications, post ledger
//! intents an interrupted request left, expire lapsed checkouts and ledger holds, sign
//! checkpoints of the audit log and purge it past the retention.

use std::sync::Arc;
use std::time::Duration;

use bazaar_domain::service::Delivery;
use bazaar_ledger::LedgerStore;
use tokio::sync::watch;

use crate::state::App;

/// Starts the workers; they stop when `stop` turns true.
pub fn start(app: Arc<App>, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(crate::rates::run(app.clone(), stop.clone())),
        tokio::spawn(every(Duration::from_millis(500), stop.clone(), {
            let app = app.clone();
            move || deliver_notifications(app.clone())
        })),
        tokio::spawn(every(
            Duration::from_secs(u64::from(app.config.audit_checkpoint_secs)),
            stop.clone(),
            {
                let app = app.clone();
                move || audit_checkpoint(app.clone())
            },
        )),
        tokio::spawn(every(Duration::from_secs(5), stop, move || {
            housekeeping(app.clone())
        })),
    ]
}

/// Signs a checkpoint of the audit log when records were added since the last, and purges
/// records past the retention.
async fn audit_checkpoint(app: Arc<App>) {
    match app.audit.checkpoint(app.now()).await {
        Ok(Some(checkpoint)) => {
            tracing::info!(seq = checkpoint.seq, key = %checkpoint.key_id, "audit checkpoint signed");
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(code = error.code(), %error, "the audit checkpoint could not be signed");
        }
    }
    match app
        .audit
        .purge(app.config.audit_retention_days, app.now())
        .await
    {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "audit records past the retention purged"),
        Err(error) => tracing::warn!(code = error.code(), %error, "audit purge failed"),
    }
}

async fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => work().await,
            _ = stop.changed() => return,
        }
    }
}

/// The sandbox stands in for a provider that would POST to `/webhooks/payments/sandbox`;
/// its due notifications go through the same authenticated path. A notification is
/// acknowledged only once its effect (or, when it keeps failing, the parked notification)
/// is committed; the sandbox delivers the others again with backoff.
async fn deliver_notifications(app: Arc<App>) {
    let Some(sandbox) = app.market.provider().sandbox() else {
        return;
    };
    for notification in sandbox.take_due_notifications() {
        let delivery = app
            .market
            .receive_notification(
                &notification.event_id,
                &notification.signature,
                &notification.body,
            )
            .await;
        let event_id = notification.event_id.as_str();
        match delivery {
            Delivery::Applied => {}
            Delivery::Failed { attempts, code } => {
                app.metrics.recovery_inc("notification_failed");
                tracing::warn!(
                    event_id,
                    attempts,
                    code,
                    "a provider notification was not applied; the provider will deliver it again"
                );
            }
            Delivery::Unrecorded { code } => {
                app.metrics.recovery_inc("notification_failed");
                tracing::warn!(
                    event_id,
                    code,
                    "a provider notification was not applied and its failure not recorded"
                );
            }
            Delivery::Parked { attempts, code } => {
                app.metrics.recovery_inc("notification_parked");
                tracing::error!(
                    event_id,
                    attempts,
                    code,
                    "a provider notification kept failing and was parked for operators"
                );
            }
        }
        if delivery.acknowledge() {
            sandbox.acknowledge(&notification.event_id);
        }
    }
}

async fn housekeeping(app: Arc<App>) {
    match app.market.post_pending_intents().await {
        Ok(pass) => {
            if pass.posted > 0 {
                tracing::info!(posted = pass.posted, "posted ledger intents left unposted");
            }
            for failure in &pass.failures {
                let intent_id = failure.intent_id.to_string();
                if failure.parked {
                    app.metrics.recovery_inc("intent_parked");
                    tracing::error!(
                        intent_id,
                        attempts = failure.attempts,
                        code = failure.code,
                        "a ledger intent kept failing and was parked for finance"
                    );
                } else {
                    app.metrics.recovery_inc("intent_failed");
                    tracing::warn!(
                        intent_id,
                        attempts = failure.attempts,
                        code = failure.code,
                        "a ledger intent failed to post; it will be retried"
                    );
                }
            }
        }
        Err(error) => tracing::warn!(code = error.code(), "posting pending ledger intents failed"),
    }
    match app.market.send_platform_refunds().await {
        Ok(pass) => {
            if pass.sent > 0 {
                tracing::info!(sent = pass.sent, "sent automatic refunds of late captures");
            }
            for (refund, code, refused) in &pass.failures {
                let refund_id = refund.as_uuid().to_string();
                if *refused {
                    tracing::error!(
                        refund_id,
                        code,
                        "the provider refused an automatic refund; return the money by hand"
                    );
                } else {
                    tracing::warn!(
                        refund_id,
                        code,
                        "an automatic refund was not sent; it will be retried"
                    );
                }
            }
        }
        Err(error) => tracing::warn!(code = error.code(), "sending automatic refunds failed"),
    }
    match app.market.expire_checkouts(500).await {
        Ok(0) => {}
        Ok(expired) => tracing::info!(expired, "released the stock of lapsed checkouts"),
        Err(error) => tracing::warn!(code = error.code(), "expiring checkouts failed"),
    }
    if let Err(error) = app.market.ledger().expire_due().await {
        tracing::warn!(%error, "expiring ledger holds failed");
    }
    settle_reports(&app).await;
    crate::finance::daily_statements(&app).await;
}

/// The sandbox stands in for a provider whose daily settlement report the platform fetches:
/// each report (one batch a day, for what was booked before midnight UTC) is settled, then
/// acknowledged; one that fails stays to be fetched again.
async fn settle_reports(app: &App) {
    let Some(sandbox) = app.market.provider().sandbox() else {
        return;
    };
    let micros_per_day = bazaar_domain::time::MICROS_PER_DAY;
    let today = app.now().as_micros().div_euclid(micros_per_day);
    let midnight = bazaar_ledger::Timestamp::from_micros(today.saturating_mul(micros_per_day));
    for (batch, report) in sandbox.settlement_reports(midnight) {
        match app.market.settle_report(&report).await {
            Ok(settled) => {
                let recorded = app
                    .payouts
                    .record_settled_card_funds(settled.card_funds.clone(), app.now())
                    .await;
                if let Err(error) = recorded {
                    tracing::warn!(
                        batch,
                        code = error.code(),
                        "recording settled card funds failed"
                    );
                    continue;
                }
                tracing::info!(
                    batch,
                    rows = settled.rows,
                    posted = settled.posted,
                    unknown = settled.unknown.len(),
                    "settlement report settled"
                );
                crate::finance::provider_report(app, "sandbox", batch, &report).await;
                sandbox.acknowledge_settlement(batch);
            }
            Err(error) => {
                tracing::warn!(
                    batch,
                    code = error.code(),
                    "settling a settlement report failed"
                );
            }
        }
    }
}
