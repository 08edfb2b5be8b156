//! Signing in with a password, for the API and the web pages alike: the same limits, the
//! same answer whether the e-mail or the password is wrong, the same timing either way.

use bazaar_domain::audit::Outcome;
use bazaar_domain::identity::{Email, IdentityError, User};

use crate::limits::{AuthLimits, AuthRequest, Refusal};
use crate::state::App;
use crate::{audit_trail, auth};

/// Why a sign-in did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The e-mail or the password is wrong (which one is not said).
    #[error("the e-mail address or the password is wrong")]
    Invalid,
    /// The attempt was refused by the limits.
    #[error("{}", .0.message())]
    Refused(Refusal),
    /// The identity store failed, or the sign-in could not be recorded in the audit log.
    #[error(transparent)]
    Identity(IdentityError),
}

/// Records a sign-in attempt: the user when the password was right, the e-mail given when
/// it was not (the password never). A sign-in that cannot be recorded does not start a
/// session.
async fn audit(
    app: &App,
    request: &AuthRequest,
    who: String,
    user: Option<&User>,
    refused: Option<&str>,
) -> Result<(), SignInError> {
    let mut entry = audit_trail::entry(
        who,
        "session.sign_in",
        (
            "user",
            user.map(|u| u.id.as_uuid().to_string()).unwrap_or_default(),
        ),
        request.client().to_string(),
    );
    if let Some(reason) = refused {
        entry.outcome = Outcome::Failure;
        reason.clone_into(&mut entry.detail);
    }
    audit_trail::record(app, entry)
        .await
        .map_err(|_| SignInError::Identity(IdentityError::Unavailable))
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
    let claimed = format!("email:{}", email.as_str());
    if let Err(refusal) = limits.admit(request, &email) {
        audit(
            app,
            request,
            claimed,
            None,
            Some("refused by the sign-in limits"),
        )
        .await?;
        return Err(SignInError::Refused(refusal));
    }
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
            audit(app, request, audit_trail::actor(&user), Some(&user), None).await?;
            let (token, hash) = auth::new_token();
            app.identity
                .start_session(&hash, user.id, app.now())
                .await
                .map_err(SignInError::Identity)?;
            Ok((token, user))
        }
        _ => {
            limits.failed(request, &email);
            audit(
                app,
                request,
                claimed,
                None,
                Some("wrong e-mail address or password"),
            )
            .await?;
            Err(SignInError::Invalid)
        }
    }
}
