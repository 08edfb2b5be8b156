//! Who is signed in: users (each a buyer or a seller), their sessions, and the store port.
//!
//! Passwords never reach this layer in plain form beyond validation: the app hashes them
//! (argon2id) and the store keeps only the hash. Session tokens are random; the store keeps
//! only their SHA-256 hash, so a leaked table signs no one in.

use std::fmt;
use std::future::Future;

use bazaar_ledger::Timestamp;

use crate::catalog::{Buyer, BuyerId, Region, Seller};
use crate::chart::SellerId;

mod rules;
mod service;

pub use rules::{NAME_LEN_MAX, party_name, region_for};
pub use service::{AccountKind, Identity, IdentityPolicy, SignUp, SignedUp};

bazaar_ledger::uuid_id!(
    /// A user's id.
    UserId
);
bazaar_ledger::uuid_id!(
    /// The id of the buyer or seller a new account acts for; it becomes a [`BuyerId`] or a
    /// [`SellerId`].
    PartyId
);

/// The tenant a user acts for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Role {
    /// The user acts for this buyer.
    Buyer(BuyerId),
    /// The user acts for this seller.
    Seller(SellerId),
    /// The user works in the platform's finance team: reconciliation and its reports, across
    /// every tenant, and nothing of a buyer's or a seller's own.
    Finance,
    /// The user works in compliance: the audit log's exports, and nothing else.
    Compliance,
}

/// An e-mail address, trimmed and lower-cased: `local@domain`, at most 254 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases `input`; [`IdentityError::InvalidEmail`] unless the result is
    /// at most 254 bytes of printable ASCII with exactly one `@`, a local part of 1 to 64
    /// bytes before it, and after it a domain that contains a dot but neither starts nor
    /// ends with one.
    pub fn new(input: &str) -> Result<Self, IdentityError> {
        let email = input.trim().to_ascii_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && email.bytes().all(|b| b.is_ascii_graphic());
        valid
            .then_some(Self(email))
            .ok_or(IdentityError::InvalidEmail)
    }

    /// The normalised address, e.g. `ana@example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: logs get the domain only.
        let domain = self.0.split_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(…@{domain})")
    }
}

/// The shortest password accepted, in characters.
pub const PASSWORD_LEN_MIN: usize = 10;
/// The longest password accepted, in characters.
pub const PASSWORD_LEN_MAX: usize = 128;

/// Checks a new password's length; the app hashes it afterwards.
pub fn validate_password(password: &str) -> Result<(), IdentityError> {
    let length = password.chars().count();
    if (PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&length) {
        Ok(())
    } else {
        Err(IdentityError::WeakPassword)
    }
}

/// A user as the store answers it; never with its password hash.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct User {
    /// Its id, drawn by the caller when the user was created.
    pub id: UserId,
    /// The address it signs in with; no other user has it.
    pub email: Email,
    /// The buyer or seller it acts for.
    pub role: Role,
}

/// A user to create; `password_hash` is a PHC string (argon2id).
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Its id, drawn by the caller (the core has no random source).
    pub id: UserId,
    /// The address it will sign in with; one that has a user is refused with
    /// [`IdentityError::EmailTaken`].
    pub email: Email,
    /// The password's hash; `Debug` does not print it.
    pub password_hash: String,
    /// The buyer or seller it acts for; [`IdentityStore::register`] refuses a role that is
    /// not its party's.
    pub role: Role,
    /// The data region that keeps its personal data, its party's ([`region_for`]).
    pub region: Region,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The buyer or seller a new account acts for, written with its user in one transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NewParty {
    /// A buyer account's buyer.
    Buyer(Buyer),
    /// A seller account's seller; its ledger accounts are opened after the transaction.
    Seller(Seller),
}

impl NewParty {
    /// The role a user of this party has.
    pub fn role(&self) -> Role {
        match self {
            Self::Buyer(buyer) => Role::Buyer(buyer.id),
            Self::Seller(seller) => Role::Seller(seller.id),
        }
    }

    /// The data region that keeps the party's personal data, and its user's.
    pub fn region(&self) -> &Region {
        match self {
            Self::Buyer(buyer) => &buyer.region,
            Self::Seller(seller) => &seller.region,
        }
    }
}

/// The SHA-256 hash of a session token, lower-case hex.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TokenHash(pub String);

/// Why an identity operation did not happen. Messages are safe to show a client.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum IdentityError {
    /// The e-mail address is not of the form [`Email::new`] accepts.
    #[error("e-mail address is not valid")]
    InvalidEmail,
    /// The password has fewer than [`PASSWORD_LEN_MIN`] or more than [`PASSWORD_LEN_MAX`]
    /// characters.
    #[error("password must have 10 to 128 characters")]
    WeakPassword,
    /// A user with this e-mail address exists; nothing was written. Sign-up answers
    /// [`SignedUp::Existing`] instead, so that it does not tell who has an account.
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    /// Wrong e-mail or password; which one is not said.
    #[error("e-mail or password is wrong")]
    InvalidCredentials,
    /// No session, or an expired or revoked one.
    #[error("sign in first")]
    Unauthenticated,
    /// Signed in, but the resource belongs to someone else or needs another role.
    #[error("not allowed")]
    Forbidden,
    /// An argument is out of its range or form; the text says which and how.
    #[error("{0}")]
    InvalidInput(&'static str),
    /// A backing service did not answer; the request may be retried.
    #[error("a backing service is unavailable; retry later")]
    Unavailable,
    /// A bug or corrupted data (an unreadable stored user, a new user whose role is not its
    /// party's); logged where it happened.
    #[error("internal error")]
    Internal,
}

impl IdentityError {
    /// A stable, machine-readable code, e.g. `email_taken`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidEmail => "email_invalid",
            Self::WeakPassword => "password_weak",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "credentials_invalid",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::InvalidInput(_) => "invalid_input",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
        }
    }
}

/// Users and sessions.
///
/// Every implementation MUST: refuse a second user with the same e-mail with `EmailTaken`;
/// write `register`'s party and user in one transaction (both or neither, so a sign-up that
/// loses a race for its e-mail leaves no party behind), refusing a user whose role is not
/// its party's with `Internal`;
/// return from `session_user` only a session that exists, is not revoked and expires after
/// `now`; make `revoke_session` idempotent; never store or log a password or a token.
pub trait IdentityStore: Send + Sync {
    /// Creates a user for a party that exists already.
    fn create_user(
        &self,
        user: &NewUser,
        now: Timestamp,
    ) -> impl Future<Output = Result<User, IdentityError>> + Send;

    /// Creates a new account: its buyer or seller and its user, in one transaction.
    fn register(
        &self,
        user: &NewUser,
        party: &NewParty,
        now: Timestamp,
    ) -> impl Future<Output = Result<User, IdentityError>> + Send;

    /// The user and its password hash, to verify a sign-in.
    fn credentials(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<(User, String)>, IdentityError>> + Send;

    /// Stores a session of `user` under its token's hash, live until `expires_at`.
    fn create_session(
        &self,
        token: &TokenHash,
        user: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;

    /// The user of the session with this token hash, if that session exists, is not revoked
    /// and expires after `now`.
    fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<User>, IdentityError>> + Send;

    /// Revokes the session with this token hash as of `now`; revoking it again, or a token
    /// that has no session, changes nothing.
    fn revoke_session(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::new(" Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@.com",
        ] {
            assert_eq!(Email::new(bad), Err(IdentityError::InvalidEmail), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Email::new("ana@example.com").unwrap()),
            "Email(…@example.com)"
        );
    }

    #[test]
    fn passwords_have_bounded_length() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pass").is_ok());
        assert!(validate_password(&"x".repeat(129)).is_err());
    }
}
