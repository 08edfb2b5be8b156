//! Sign-in by session cookie, CSRF tokens, sign-out, and who may see a page.
//!
//! The session cookie carries the same session token the API takes as a bearer token
//! (stored only hashed): HttpOnly, SameSite=Lax, Secure unless the server listens on
//! loopback. Every form carries a CSRF token derived from the session token (or, for the
//! sign-in form, from a random pre-session cookie); a POST without the matching token, or
//! with an `Origin` of another site, is refused.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::chart::SellerId;
use bazaar_domain::identity::{Role, TokenHash, User};
use maud::{Markup, html};
use sha2::{Digest, Sha256};

use super::WebError;
use super::layout;
use crate::auth;
use crate::limits::{AuthLimits, AuthRequest};
use crate::sign_in::SignInError;
use crate::state::App;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bazaar_session";
/// The pre-session cookie the sign-in form's CSRF token derives from.
const SIGN_IN_COOKIE: &str = "bazaar_sign_in";
/// The form field every POST carries its CSRF token in.
pub const CSRF_FIELD: &str = "csrf";

/// A signed-in person, resolved from the session cookie.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    token: TokenHash,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl SignedIn {
    /// The seller this person acts for; [`WebError::Forbidden`] for any other role.
    pub fn seller(&self) -> Result<SellerId, WebError> {
        match self.user.role {
            Role::Seller(seller) => Ok(seller),
            Role::Buyer(_) | Role::Finance | Role::Compliance => Err(WebError::Forbidden),
        }
    }

    /// Nothing for a finance user; [`WebError::Forbidden`] for any other role.
    pub fn finance(&self) -> Result<(), WebError> {
        match self.user.role {
            Role::Finance => Ok(()),
            Role::Buyer(_) | Role::Seller(_) | Role::Compliance => Err(WebError::Forbidden),
        }
    }

    /// Nothing for a compliance user; [`WebError::Forbidden`] for any other role.
    pub fn compliance(&self) -> Result<(), WebError> {
        match self.user.role {
            Role::Compliance => Ok(()),
            Role::Buyer(_) | Role::Seller(_) | Role::Finance => Err(WebError::Forbidden),
        }
    }

    /// The signed-in person of `request`; [`WebError::SignIn`] without a live session.
    pub async fn of(app: &App, request: &HttpRequest) -> Result<Self, WebError> {
        let token = cookie(request, SESSION_COOKIE)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(WebError::SignIn)?;
        let hash = auth::token_hash(&token);
        match app.identity.session_user(&hash, app.now()).await {
            Ok(Some(user)) => Ok(Self {
                user,
                token: hash,
                csrf: csrf_token(&token),
            }),
            Ok(None) => Err(WebError::SignIn),
            Err(error) => {
                tracing::warn!(code = error.code(), "session lookup failed");
                Err(WebError::Unavailable)
            }
        }
    }

    /// The signed-in person of a form POST, after checking its CSRF token and origin.
    pub async fn form(app: &App, request: &HttpRequest, csrf: &str) -> Result<Self, WebError> {
        same_origin(request)?;
        let signed = Self::of(app, request).await?;
        if !crate::metrics::same_token(csrf, &signed.csrf) {
            tracing::warn!(user = %signed.user.id, "refused a form without its CSRF token");
            return Err(WebError::Csrf);
        }
        Ok(signed)
    }

    /// The signed-in seller of a form POST, after checking its CSRF token and origin.
    pub async fn posted(
        app: &App,
        request: &HttpRequest,
        csrf: &str,
    ) -> Result<(Self, SellerId), WebError> {
        let signed = Self::form(app, request, csrf).await?;
        let seller = signed.seller()?;
        Ok((signed, seller))
    }

    /// Where this person's pages start: `/finance` for finance, `/compliance` for
    /// compliance, `/dashboard` otherwise.
    pub fn home(&self) -> &'static str {
        home_of(self.user.role)
    }
}

/// Where a role's pages start.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Finance => "/finance",
        Role::Compliance => "/compliance",
        Role::Buyer(_) | Role::Seller(_) => "/dashboard",
    }
}

/// The hidden field that carries a form's CSRF token.
pub fn csrf_input(csrf: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(csrf); }
}

/// The CSRF token of a secret (a session token or a pre-session value): a hash only its
/// holder can compute, since the secret is in an HttpOnly cookie.
fn csrf_token(secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"bazaar-csrf\0");
    hasher.update(secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, the whole site, Secure unless served on
/// loopback; `max_age` 0 removes it.
fn set_cookie(app: &App, name: &str, value: &str, max_age: u32) -> String {
    let secure = if app.config.http_addr.ip().is_loopback() {
        ""
    } else {
        "; Secure"
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Refuses a POST whose `Origin` names another site (browsers send it on every POST).
fn same_origin(request: &HttpRequest) -> Result<(), WebError> {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let host = request.connection_info().host().to_owned();
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if origin_host == host {
        Ok(())
    } else {
        tracing::warn!(origin, host, "refused a form posted from another origin");
        Err(WebError::Csrf)
    }
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `/`: the dashboard when signed in, else the sign-in page.
pub async fn home(request: HttpRequest, app: web::Data<Arc<App>>) -> HttpResponse {
    match SignedIn::of(&app, &request).await {
        Ok(signed) => redirect(signed.home()),
        Err(_) => redirect("/sign-in"),
    }
}

/// The sign-in form.
pub async fn sign_in_page(request: HttpRequest, app: web::Data<Arc<App>>) -> HttpResponse {
    if let Ok(signed) = SignedIn::of(&app, &request).await {
        return redirect(signed.home());
    }
    sign_in_form(&app, &request, None, actix_web::http::StatusCode::OK)
}

fn sign_in_form(
    app: &App,
    request: &HttpRequest,
    problem: Option<&str>,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let secret = cookie(request, SIGN_IN_COOKIE)
        .filter(|v| v.len() == 43)
        .unwrap_or_else(|| auth::new_token().0);
    let body = layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to Bazaar" }
            @if let Some(problem) = problem {
                p.problem role="alert" { (problem) }
            }
            form method="post" action="/sign-in" {
                (csrf_input(&csrf_token(&secret)))
                label for="email" { "E-mail address" }
                input #email type="email" name="email" autocomplete="username" required;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    );
    let mut response = layout::html_response(status, body);
    if let Ok(value) =
        header::HeaderValue::from_str(&set_cookie(app, SIGN_IN_COOKIE, &secret, 3600))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// What the sign-in form posts.
#[derive(serde::Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the sign-in form's CSRF token and the password (within the API's limits), then
/// sets the session cookie.
pub async fn sign_in(
    request: HttpRequest,
    form: web::Form<SignInForm>,
    app: web::Data<Arc<App>>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, WebError> {
    same_origin(&request)?;
    let form = form.into_inner();
    let expected = cookie(&request, SIGN_IN_COOKIE).map(|secret| csrf_token(&secret));
    if !expected.is_some_and(|expected| crate::metrics::same_token(&form.csrf, &expected)) {
        return Err(WebError::Csrf);
    }
    let client =
        crate::limits::client_address(&request, app.config.auth.client_ip_header.as_deref());
    let attempt = AuthRequest::new(client);
    match crate::sign_in::sign_in(&app, &limits, &attempt, &form.email, form.password).await {
        Ok((token, user)) => {
            tracing::info!(user = %user.id, "signed in to the web pages");
            let mut response = redirect(home_of(user.role));
            let max_age = app.config.session_secs;
            for value in [
                set_cookie(&app, SESSION_COOKIE, &token, max_age),
                set_cookie(&app, SIGN_IN_COOKIE, "", 0),
            ] {
                if let Ok(value) = header::HeaderValue::from_str(&value) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        Err(SignInError::Identity(error)) => {
            tracing::warn!(code = error.code(), "sign-in failed in the identity store");
            Err(WebError::Unavailable)
        }
        Err(error @ SignInError::Refused(_)) => Ok(sign_in_form(
            &app,
            &request,
            Some(&error.to_string()),
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        )),
        Err(error @ SignInError::Invalid) => Ok(sign_in_form(
            &app,
            &request,
            Some(&error.to_string()),
            actix_web::http::StatusCode::UNAUTHORIZED,
        )),
    }
}

/// A form that carries only its CSRF token.
#[derive(serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub csrf: String,
}

/// Ends the session and removes the cookie.
pub async fn sign_out(
    request: HttpRequest,
    form: web::Form<TokenForm>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    same_origin(&request)?;
    let signed = SignedIn::of(&app, &request).await?;
    if !crate::metrics::same_token(&form.csrf, &signed.csrf) {
        return Err(WebError::Csrf);
    }
    app.identity
        .sign_out(&signed.token, app.now())
        .await
        .map_err(|error| {
            tracing::warn!(code = error.code(), "sign-out failed in the identity store");
            WebError::Unavailable
        })?;
    let mut response = redirect("/sign-in");
    if let Ok(value) = header::HeaderValue::from_str(&set_cookie(&app, SESSION_COOKIE, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
