//! HTTP routes: GraphQL (and GraphiQL), provider webhooks, sandbox controls, health,
//! readiness and metrics.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::payments::PspReference;
use futures_util::StreamExt;
use serde_json::json;

use crate::api::{ApiSchema, Viewer};
use crate::auth;
use crate::read_cache;
use crate::state::App;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/graphql", web::post().to(graphql))
        .route("/graphql", web::get().to(graphql_get))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// The sandbox provider's notification endpoint and controls, mounted only when the sandbox
/// is the configured provider: the controls let whoever calls them pay or decline a payment.
pub fn sandbox_routes(config: &mut web::ServiceConfig) {
    config
        .route("/webhooks/payments/sandbox", web::post().to(webhook))
        .route(
            "/sandbox/payments/{reference}/{action}",
            web::post().to(sandbox_action),
        );
}

/// A GraphQL-shaped error response for failures before execution.
fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "data": null,
        "errors": [{"message": message, "extensions": {"code": code}}],
    }))
}

/// Reads the body up to the limit, refusing more with 413 without reading it all.
async fn body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, HttpResponse> {
    let mut buffer = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
            )
        })?;
        if buffer.len().saturating_add(chunk.len()) > limit {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than the limit",
            ));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

async fn viewer(app: &App, request: &HttpRequest) -> Result<Viewer, HttpResponse> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(Viewer::anonymous());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    let hash = auth::token_hash(token);
    match app.identity.session_user(&hash, app.now()).await {
        Ok(Some(user)) => Ok(Viewer {
            user: Some(user),
            token: Some(hash),
        }),
        Ok(None) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the session has expired or was signed out; sign in again",
        )),
        Err(error) => {
            tracing::warn!(code = error.code(), "session lookup failed");
            Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "retry later",
            ))
        }
    }
}

async fn graphql(
    request: HttpRequest,
    payload: web::Payload,
    schema: web::Data<ApiSchema>,
    app: web::Data<Arc<App>>,
) -> HttpResponse {
    let started = Instant::now();
    let bytes = match body(payload, app.config.body_limit_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let graphql_request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(parsed) => parsed,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body must be JSON: {\"query\": \"...\", \"variables\": {...}}",
            );
        }
    };
    run(
        &request,
        graphql_request,
        cache_key(b'P', &bytes),
        &schema,
        &app,
        started,
    )
    .await
}

/// `GET /graphql`: a query (never a mutation) in the query string, as persisted queries and
/// CDNs use it; GraphiQL without one.
async fn graphql_get(
    request: HttpRequest,
    schema: web::Data<ApiSchema>,
    app: web::Data<Arc<App>>,
) -> HttpResponse {
    let started = Instant::now();
    let query_string = request.query_string();
    if query_string.is_empty() {
        return crate::pages::graphiql_page(app).await;
    }
    if query_string.len() > app.config.body_limit_bytes {
        return refuse(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the query string is longer than the request body limit",
        );
    }
    let graphql_request = match async_graphql::http::parse_query_string(query_string) {
        Ok(parsed) => parsed,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the query string must carry query, and may carry operationName, variables and extensions (JSON)",
            );
        }
    };
    let key = cache_key(b'G', query_string.as_bytes());
    run(&request, graphql_request, key, &schema, &app, started).await
}

fn cache_key(method: u8, request: &[u8]) -> web::Bytes {
    let mut key = Vec::with_capacity(request.len().saturating_add(1));
    key.push(method);
    key.extend_from_slice(request);
    web::Bytes::from(key)
}

/// Runs a GraphQL request: an anonymous query through the read cache, anything else as is.
async fn run(
    request: &HttpRequest,
    mut graphql_request: async_graphql::Request,
    key: web::Bytes,
    schema: &ApiSchema,
    app: &Arc<App>,
    started: Instant,
) -> HttpResponse {
    if let Err(error) = app.persisted.resolve(&mut graphql_request) {
        // 200, as the persisted query protocol's clients expect for `PERSISTED_QUERY_NOT_FOUND`.
        return refuse(StatusCode::OK, error.code(), &error.to_string());
    }
    let operation_name = graphql_request.operation_name.clone();
    let get = request.method() == actix_web::http::Method::GET;
    // The document is parsed at most once (or its text's kept parse taken), when the first of
    // the questions below or the execution needs it; a request answered from the cache is
    // never parsed.
    let parsed = std::cell::Cell::new(false);
    let parse = |graphql_request: &mut async_graphql::Request| {
        if !parsed.replace(true) {
            app.documents.prepare(graphql_request);
        }
    };
    if get {
        parse(&mut graphql_request);
    }
    if get && !read_cache::is_query(&mut graphql_request) {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "GET carries one query operation; send mutations with POST",
        );
    }
    let viewer = match viewer(app, request).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let anonymous = viewer.user.is_none();
    let slot = match (&app.read_cache, anonymous) {
        (Some(cache), true) => cache
            .slot(key, || {
                parse(&mut graphql_request);
                read_cache::is_query(&mut graphql_request)
            })
            .map(|slot| (cache, slot)),
        _ => None,
    };
    let client =
        crate::limits::client_address(request, app.config.auth.client_ip_header.as_deref());
    let auth = Arc::new(crate::limits::AuthRequest::new(client));
    let products_read = Arc::new(read_cache::ProductsRead::default());
    if slot.is_none() {
        parse(&mut graphql_request);
    }
    let mut graphql_request = graphql_request
        .data(viewer)
        .data(crate::api::loaders_for(app))
        .data(auth.clone())
        .data(products_read.clone());
    let (response, succeeded) = match slot {
        None => {
            let response = schema.execute(graphql_request).await;
            let succeeded = response.errors.is_empty();
            // 200, or 429 / 503 when a sign-in or sign-up was refused by its limits.
            let mut answer = auth.respond(&response);
            answer.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            (answer, succeeded)
        }
        Some((cache, slot)) => {
            let fill = async {
                let only_products = read_cache::reads_only_products(&mut graphql_request);
                let response = schema.execute(graphql_request).await;
                let succeeded = response.errors.is_empty();
                let body = serde_json::to_vec(&response).unwrap_or_else(|error| {
                    tracing::error!(%error, "a GraphQL response did not serialize");
                    br#"{"data":null,"errors":[{"message":"internal error","extensions":{"code":"internal"}}]}"#.to_vec()
                });
                let answer = read_cache::Answer::new(web::Bytes::from(body), succeeded);
                if only_products {
                    answer.reading_only(products_read.taken())
                } else {
                    answer
                }
            };
            let (answer, lookup) = cache.answer(&slot, fill).await;
            app.metrics
                .read_cache
                .with_label_values(&[lookup.label()])
                .inc();
            (cached_response(request, &answer), answer.succeeded)
        }
    };
    count(app, operation_name.as_deref(), succeeded, started);
    response
}

/// Counts a GraphQL request in the metrics, with its outcome and latency.
fn count(app: &App, operation_name: Option<&str>, succeeded: bool, started: Instant) {
    let outcome = if succeeded { "ok" } else { "error" };
    let operation = app.metrics.operation_label(operation_name, succeeded);
    app.metrics
        .requests
        .with_label_values(&[&*operation, outcome])
        .inc();
    app.metrics
        .latency
        .with_label_values(&[&*operation])
        .observe(started.elapsed().as_secs_f64());
}

/// An answer of the read cache: public, revalidated with its `ETag` (304 when it matches) so
/// that a CDN in front never holds it past the cache's own lifetime.
fn cached_response(request: &HttpRequest, answer: &read_cache::Answer) -> HttpResponse {
    let matches = request.method() == actix_web::http::Method::GET
        && request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .map(str::trim)
                    .any(|tag| tag == "*" || tag.trim_start_matches("W/") == answer.etag)
            });
    let mut builder = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header((header::ETAG, answer.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=0, must-revalidate"))
        .insert_header((header::VARY, "Authorization"));
    if matches {
        return builder.finish();
    }
    builder
        .content_type("application/json")
        .body(answer.body.clone())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// Ready when the database answers on a pooled connection and has every migration this
/// build knows (the answer is reused for a second); the body also says how fresh the
/// exchange rates are, which does not change the status.
async fn readyz(app: web::Data<Arc<App>>) -> HttpResponse {
    let rates = crate::rates::report(&app);
    match app.ready.answer(&app).await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "rates": rates})),
        Err(reason) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "not_ready", "reason": reason, "rates": rates})),
    }
}

/// The Prometheus exposition; with `BAZAAR_METRICS_TOKEN` set, only for its bearer.
async fn metrics(request: HttpRequest, app: web::Data<Arc<App>>) -> HttpResponse {
    if let Some(token) = &app.config.metrics_token {
        let offered = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !offered.is_some_and(|offered| crate::metrics::same_token(offered, token)) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .json(json!({"code": "unauthenticated"}));
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(app.metrics.render(app.market.ledger()))
}

/// A provider's notification POST: authenticated by its signature header, applied once.
async fn webhook(
    request: HttpRequest,
    payload: web::Payload,
    app: web::Data<Arc<App>>,
) -> HttpResponse {
    let bytes = match body(payload, bazaar_payments::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let signature = request
        .headers()
        .get(bazaar_payments::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match app.market.handle_notifications(signature, &bytes).await {
        // Adyen-style acknowledgement.
        Ok(_) => HttpResponse::Ok().body("[accepted]"),
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "refused a provider notification");
            let status = match error.code() {
                "notification_signature_invalid" => StatusCode::UNAUTHORIZED,
                "unavailable" | "internal_error" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            HttpResponse::build(status).json(json!({"code": error.code()}))
        }
    }
}

/// What a shopper does at the sandbox provider: pay a QR code or voucher, approve or decline
/// a redirect, pass or fail a 3-D Secure challenge.
async fn sandbox_action(
    path: web::Path<(String, String)>,
    app: web::Data<Arc<App>>,
) -> HttpResponse {
    let (reference, action) = path.into_inner();
    let Some(provider) = app.market.provider().sandbox() else {
        return HttpResponse::NotFound().json(json!({"code": "not_found"}));
    };
    let Ok(reference) = PspReference::new(&reference) else {
        return HttpResponse::BadRequest().json(json!({"code": "payment_request_invalid"}));
    };
    let outcome = match action.as_str() {
        "pay-qr" => provider.pay_qr(&reference).map(|_| ()),
        "pay-voucher" => provider.pay_voucher(&reference).map(|_| ()),
        "approve-redirect" => provider.complete_redirect(&reference, true).map(|_| ()),
        "decline-redirect" => provider.complete_redirect(&reference, false).map(|_| ()),
        "pass-challenge" => provider.complete_challenge(&reference, true).map(|_| ()),
        "fail-challenge" => provider.complete_challenge(&reference, false).map(|_| ()),
        _ => return HttpResponse::NotFound().json(json!({"code": "not_found"})),
    };
    match outcome {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "done"})),
        Err(error) => HttpResponse::BadRequest()
            .json(json!({"code": error.code(), "message": error.to_string()})),
    }
}

/// Adds a request id (the client's `X-Request-Id` if sane, otherwise a new one) to the log
/// span and the response.
pub fn request_id(request: &actix_web::dev::ServiceRequest) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

pub fn header_value(id: &str) -> HeaderValue {
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
