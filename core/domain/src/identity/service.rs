//! The identity service: sign-up, sign-in's lookup, and sessions.

use bazaar_ledger::{LedgerStore, Timestamp};
use bazaar_money::Currency;

use super::rules::{party_name, region_for};
use super::{
    Email, IdentityError, IdentityStore, NewParty, NewUser, PartyId, TokenHash, User, UserId,
};
use crate::Country;
use crate::catalog::{BasisPoints, Buyer, BuyerId, CommissionRule, Seller};
use crate::chart::SellerId;
use crate::service::open_seller_accounts;

/// How the identity service behaves.
#[derive(Clone, Copy, Debug)]
pub struct IdentityPolicy {
    /// How long a session lasts.
    pub session_secs: u32,
    /// The commission a new seller pays.
    pub default_commission: BasisPoints,
}

impl Default for IdentityPolicy {
    /// Sessions of 24 hours; a 10% commission.
    fn default() -> Self {
        Self {
            session_secs: 24 * 3600,
            default_commission: BasisPoints::DEFAULT_COMMISSION,
        }
    }
}

/// What kind of account a sign-up opens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountKind {
    /// A buyer's account.
    Buyer,
    /// A seller's account.
    Seller {
        /// The currency the seller is settled in: its ledger accounts hold its earnings in
        /// it, and orders in other currencies are converted into it.
        settlement_currency: Currency,
    },
}

/// A sign-up, as the API parsed it. Ids and the password hash come from the caller: the core
/// has no random source and does not hash passwords.
#[derive(Clone, Debug)]
pub struct SignUp {
    /// The new user's id, drawn by the caller.
    pub user_id: UserId,
    /// The id of the buyer or seller the account acts for, drawn by the caller.
    pub party_id: PartyId,
    /// The address to sign in with.
    pub email: Email,
    /// The password's argon2id hash (a PHC string), made after
    /// [`validate_password`](super::validate_password) accepted the password.
    pub password_hash: String,
    /// The buyer's or seller's name as given; sign-up trims it and checks it with
    /// [`party_name`].
    pub name: String,
    /// The party's country; it decides the data region ([`region_for`]).
    pub country: Country,
    /// A buyer's state or province where tax depends on it (`US-TX`), in `country`.
    pub tax_area: Option<crate::tax::Area>,
    /// Whether the account is a buyer's or a seller's.
    pub kind: AccountKind,
}

/// What a sign-up came to. The API answers both the same, so that signing up does not tell
/// who has an account.
#[derive(Clone, Debug)]
pub enum SignedUp {
    /// A new account, with the party it acts for, and whether a seller's ledger accounts
    /// opened (for the caller to log when they did not: the seller's first posting opens
    /// them as well).
    New {
        /// The user created.
        user: User,
        /// The buyer or seller created with it.
        party: Box<NewParty>,
        /// Whether a seller's ledger accounts opened; always `Ok` for a buyer.
        ledger_accounts: Result<(), crate::error::CommerceError>,
    },
    /// The e-mail address already had an account, which is left as it was.
    Existing,
}

/// The identity service.
#[derive(Debug)]
pub struct Identity<S, L> {
    store: S,
    ledger: L,
    policy: IdentityPolicy,
}

impl<S, L> Identity<S, L> {
    /// The service over `store` and `ledger`, behaving as `policy` says.
    pub fn new(store: S, ledger: L, policy: IdentityPolicy) -> Self {
        Self {
            store,
            ledger,
            policy,
        }
    }
}

impl<S: IdentityStore, L: LedgerStore> Identity<S, L> {
    /// Opens an account: the buyer or seller (its name checked, its data region decided by
    /// its country, a seller on the default commission) and its user, in one store
    /// transaction; then a seller's ledger accounts.
    pub async fn sign_up(
        &self,
        request: SignUp,
        now: Timestamp,
    ) -> Result<SignedUp, IdentityError> {
        let name = party_name(&request.name)?;
        let region = region_for(&request.country);
        let party = match request.kind {
            AccountKind::Buyer => NewParty::Buyer(Buyer {
                id: BuyerId::from_uuid(request.party_id.as_uuid()),
                name,
                country: request.country,
                region: region.clone(),
                tax_area: request.tax_area,
            }),
            AccountKind::Seller {
                settlement_currency,
            } => NewParty::Seller(Seller {
                id: SellerId::from_uuid(request.party_id.as_uuid()),
                name,
                country: request.country,
                region: region.clone(),
                settlement_currency,
                commission: CommissionRule::flat(self.policy.default_commission),
            }),
        };
        let user = NewUser {
            id: request.user_id,
            email: request.email,
            password_hash: request.password_hash,
            role: party.role(),
            region,
        };
        match self.store.register(&user, &party, now).await {
            Ok(user) => {
                let ledger_accounts = match &party {
                    NewParty::Seller(seller) => open_seller_accounts(&self.ledger, seller).await,
                    NewParty::Buyer(_) => Ok(()),
                };
                Ok(SignedUp::New {
                    user,
                    party: Box::new(party),
                    ledger_accounts,
                })
            }
            Err(IdentityError::EmailTaken) => Ok(SignedUp::Existing),
            Err(e) => Err(e),
        }
    }

    /// Creates a user for an existing party (demo data and operators).
    pub async fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<User, IdentityError> {
        self.store.create_user(user, now).await
    }

    /// The user with this e-mail and its password hash, to verify a sign-in.
    pub async fn credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(User, String)>, IdentityError> {
        self.store.credentials(email).await
    }

    /// Starts a session for `user` under the token whose hash is `token`; answers when it
    /// expires.
    pub async fn start_session(
        &self,
        token: &TokenHash,
        user: UserId,
        now: Timestamp,
    ) -> Result<Timestamp, IdentityError> {
        let expires_at = now.saturating_add_secs(self.policy.session_secs);
        self.store
            .create_session(token, user, expires_at, now)
            .await?;
        Ok(expires_at)
    }

    /// The user of a live session.
    pub async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<User>, IdentityError> {
        self.store.session_user(token, now).await
    }

    /// Ends a session; ending it again changes nothing.
    pub async fn sign_out(&self, token: &TokenHash, now: Timestamp) -> Result<(), IdentityError> {
        self.store.revoke_session(token, now).await
    }
}
