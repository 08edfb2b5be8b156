//! Background work, in-process: deliver the sandbox provider's notifications, post ledger
//! intents an interrupted request left, expire lapsed checkouts and ledger holds.

use std::sync::Arc;
use std::time::Duration;

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
        tokio::spawn(every(Duration::from_secs(5), stop, move || {
            housekeeping(app.clone())
        })),
    ]
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
/// its due notifications go through the same authenticated path.
async fn deliver_notifications(app: Arc<App>) {
    let Some(sandbox) = app.market.provider().sandbox() else {
        return;
    };
    for notification in sandbox.take_due_notifications() {
        if let Err(error) = app
            .market
            .handle_notifications(&notification.signature, &notification.body)
            .await
        {
            tracing::warn!(code = error.code(), %error, "a provider notification was not applied");
        }
    }
}

async fn housekeeping(app: Arc<App>) {
    match app.market.post_pending_intents().await {
        Ok(0) => {}
        Ok(posted) => tracing::info!(posted, "posted ledger intents left by interrupted requests"),
        Err(error) => tracing::warn!(code = error.code(), "posting pending ledger intents failed"),
    }
    match app.market.expire_checkouts(500).await {
        Ok(0) => {}
        Ok(expired) => tracing::info!(expired, "released the stock of lapsed checkouts"),
        Err(error) => tracing::warn!(code = error.code(), "expiring checkouts failed"),
    }
    if let Err(error) = app.market.ledger().expire_due().await {
        tracing::warn!(%error, "expiring ledger holds failed");
    }
}
