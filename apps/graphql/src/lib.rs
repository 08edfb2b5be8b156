//! Bazaar's HTTP server: the GraphQL API for storefronts and the seller back office,
//! provider webhooks, health, readiness and metrics, with the background workers running
//! in-process. `cargo run --release -p bazaar-graphql` starts it; see the README.

pub mod admin;
mod api;
mod audit_trail;
mod auth;
mod catalog_feed;
pub mod config;
mod demo;
mod documents;
mod finance;
mod http;
mod invoice;
mod limits;
mod metrics;
mod pages;
mod rates;
mod read_cache;
mod ready;
mod setup;
mod sign_in;
mod state;
mod workers;

use actix_web::dev::Service;
use actix_web::{App as ActixApp, HttpServer, web};
use tracing::Instrument;

pub use api::sdl as schema_sdl;
pub use config::Config;
pub use state::StartError;

/// Prepares the database, loads demo data if asked, starts the workers and serves HTTP
/// until SIGINT or SIGTERM; in-flight requests finish before it returns.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let app = state::App::build(config).await?;
    if app.config.demo {
        demo::load(&app).await.map_err(StartError::Demo)?;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = if app.config.workers {
        workers::start(app.clone(), stopped.clone())
    } else {
        Vec::new()
    };
    // Every process keeps its own read cache, so every process reads the change feed.
    workers.push(tokio::spawn(catalog_feed::run(app.clone(), stopped)));
    // One set of sign-in limits for the API and the web pages.
    let auth_limits = std::sync::Arc::new(limits::AuthLimits::new(&app.config.auth));
    let schema = api::schema(app.clone(), auth_limits.clone());
    let address = app.config.http_addr;
    let threads = app.config.http_workers;
    let sandbox = app.config.payment_provider == config::PaymentProviderKind::Sandbox;
    let app_data = web::Data::new(app.clone());
    let schema_data = web::Data::new(schema);
    let limits_data = web::Data::from(auth_limits);
    let server = HttpServer::new(move || {
        ActixApp::new()
            .app_data(app_data.clone())
            .app_data(schema_data.clone())
            .app_data(limits_data.clone())
            .wrap_fn(|request, service| {
                let id = http::request_id(&request);
                let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.path());
                let future = service.call(request);
                async move {
                    let started = std::time::Instant::now();
                    let mut response = future.await?;
                    tracing::info!(status = response.status().as_u16(), duration_ms = started.elapsed().as_millis(), "served");
                    response
                        .headers_mut()
                        .insert(actix_web::http::header::HeaderName::from_static("x-request-id"), http::header_value(&id));
                    Ok(response)
                }
                .instrument(span)
            })
            .configure(http::routes)
            .configure(pages::routes)
            .configure(|routes| {
                if sandbox {
                    http::sandbox_routes(routes);
                }
            })
    })
    .workers(threads)
    .shutdown_timeout(30)
    .bind(address)
    .map_err(StartError::Bind)?;
    tracing::info!(%address, graphiql = app.config.graphiql, sandbox, "Bazaar is listening");
    let result = server.run().await.map_err(StartError::Server);
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    tracing::info!("Bazaar stopped");
    result
}
