//! Recording sensitive actions in the audit log (`bazaar_domain::audit`): sign-ins, bank
//! details, payouts, payout schedules and webhook endpoints, loans, staff accounts. Each record
//! says who, what, when, how it went, from where, and the resource (PCI DSS 10.2.2); never a
//! card number, bank details or a secret.

use bazaar_domain::audit::{AuditEntry, AuditError, Outcome};
use bazaar_domain::identity::{Role, User};

use crate::state::App;

/// An entry: `actor` did `action` to the `resource_type` `resource_id`, from `origin`,
/// successfully.
pub fn entry(
    actor: impl Into<String>,
    action: &str,
    resource: (&str, String),
    origin: impl Into<String>,
) -> AuditEntry {
    AuditEntry {
        actor: actor.into(),
        action: action.to_owned(),
        outcome: Outcome::Success,
        origin: origin.into(),
        resource_type: resource.0.to_owned(),
        resource_id: resource.1,
        detail: String::new(),
    }
}

/// How a signed-in user is named in the log: `user:{id}` with the role.
pub fn actor(user: &User) -> String {
    let role = match user.role {
        Role::Buyer(_) => "buyer",
        Role::Seller(_) => "seller",
        Role::Finance => "finance",
        Role::Compliance => "compliance",
    };
    format!("user:{} ({role})", user.id.as_uuid())
}

/// Records `entry` now. A failure is logged with its cause and returned: the caller refuses
/// what it was about to do rather than do it unrecorded.
pub async fn record(app: &App, entry: AuditEntry) -> Result<(), AuditError> {
    let action = entry.action.clone();
    match app.audit.record(entry, app.now()).await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::error!(%action, code = error.code(), %error, "an action could not be recorded in the audit log");
            Err(error)
        }
    }
}

/// Records what `result` says of an action already taken by `actor` from `origin`: success,
/// or failure with the error's (client-safe) message. The action stands either way; a
/// record that cannot be written is logged at error level for operators to restore from the
/// request log.
pub async fn after<T, E: std::fmt::Display>(
    app: &App,
    who: (String, String),
    action: &str,
    resource: (&str, String),
    result: &Result<T, E>,
) {
    let (actor, origin) = who;
    let mut entry = entry(actor, action, resource, origin);
    if let Err(error) = result {
        entry.outcome = Outcome::Failure;
        // One line, short: a message with a line break would be refused by the log.
        entry.detail = error
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
    }
    // `record` logs the failure with its cause.
    let _ = record(app, entry).await;
}

/// Who a page request is: the signed-in user and the client's address.
pub fn of_page(app: &App, user: &User, request: &actix_web::HttpRequest) -> (String, String) {
    let client =
        crate::limits::client_address(request, app.config.auth.client_ip_header.as_deref());
    (actor(user), client.to_string())
}
