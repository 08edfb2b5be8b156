//! Signing in with a password, for the API and the web pages alike: the same limits, the
//! same answer whether the e-mail or the password is wrong, the same timing either way.

use bazaar_domain::identity::{Email, IdentityError, User};

use crate::auth;
use crate::limits::{AuthLimits, AuthRequest, Refusal};
use crate::state::App;

/// Why a sign-in did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The e-mail or the password is wrong (which one is not said).
    #[error("the e-mail address or the password is wrong")]
    Invalid,
    /// The attempt was refused by the limits.
    #[error("{}", .0.message())]
    Refused(Refusal),
    /// The identity store failed.
    #[error(transparent)]
    Identity(IdentityError),
}

/// Checks `password` for `email` within the limits and starts a session: answers the new
/// session token (shown to the client once, stored hashed) and the user.
pub async fn sign_in(
    app: &App,
    limits: &AuthLimits,
    request: &AuthRequest,
    email: &str,
    password: String,
) -> Result<(String, User), SignInError> {
    let email = Email::new(email).map_err(|_| SignInError::Invalid)?;
    limits
        .admit(request, &email)
        .map_err(SignInError::Refused)?;
    let found = app
        .identity
        .credentials(&email)
        .await
        .map_err(SignInError::Identity)?;
    let (user, stored) = found.unzip();
    let ok = limits
        .hash(request, move || {
            // Verify against a fixed hash anyway, so timing does not reveal unknown e-mails.
            match stored.as_deref() {
                Some(stored) => auth::verify_password(&password, stored),
                None => auth::verify_password(&password, auth::decoy_hash()),
            }
        })
        .await
        .map_err(SignInError::Refused)?;
    match (ok, user) {
        (true, Some(user)) => {
            limits.succeeded(request, &email);
            let (token, hash) = auth::new_token();
            app.identity
                .start_session(&hash, user.id, app.now())
                .await
                .map_err(SignInError::Identity)?;
            Ok((token, user))
        }
        _ => {
            limits.failed(request, &email);
            Err(SignInError::Invalid)
        }
    }
}
