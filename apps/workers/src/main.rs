//! `bazaar-workers`: the outbox relay, the event consumers and webhook delivery, as a process
//! of their own. Run as many as you like; configuration: environment variables (README).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match bazaar_workers::WorkerConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar-workers: {error}");
            return ExitCode::from(2);
        }
    };
    bazaar_telemetry::init_logging(config.log_json);
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
