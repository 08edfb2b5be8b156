//! `bazaar-workers`: the outbox relay, the event consumers and webhook delivery, as a process
//! of their own. Run as many as you like; configuration: environment variables (README).

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match bazaar_workers::WorkerConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar-workers: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_env("BAZAAR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if config.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("stopping: finishing the work in hand");
        let _sent = stop.send(true);
    });
    match bazaar_workers::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "workers could not start");
            ExitCode::FAILURE
        }
    }
}
