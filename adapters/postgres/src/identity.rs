//! Users and sessions on PostgreSQL, behind the `IdentityStore` port.

use std::sync::Arc;

use bazaar_domain::catalog::BuyerId;
use bazaar_domain::chart::SellerId;
use bazaar_domain::error::CommerceError;
use bazaar_domain::identity::{
    Email, IdentityError, IdentityStore, NewParty, NewUser, Role, TokenHash, User, UserId,
};
use bazaar_ledger::Timestamp;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl, sql_query};
use uuid::Uuid;

use crate::commerce::{Fail, Mode, StoreFailure, pool, run, tx};
use crate::retry::RetryPolicy;

impl StoreFailure for IdentityError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

type Result<T> = std::result::Result<T, Fail<IdentityError>>;

/// The identity store.
#[derive(Clone)]
pub struct PostgresIdentity {
    pool: Pool<ConnectionManager<PgConnection>>,
    retry: Arc<RetryPolicy>,
}

impl std::fmt::Debug for PostgresIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresIdentity").finish_non_exhaustive()
    }
}

impl PostgresIdentity {
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            pool: pool(database_url, pool_size, &retry),
            retry: Arc::new(retry),
        }
    }
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = SqlUuid)]
    subject_id: Uuid,
}

fn user(row: &UserRow) -> Result<User> {
    let corrupt = || {
        tracing::error!(user_id = %row.id, "unreadable user row");
        Fail::Domain(IdentityError::Internal)
    };
    let role = match row.role.as_str() {
        "buyer" => Role::Buyer(BuyerId::from_uuid(row.subject_id)),
        "seller" => Role::Seller(SellerId::from_uuid(row.subject_id)),
        _ => return Err(corrupt()),
    };
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: Email::new(&row.email).map_err(|_| corrupt())?,
        role,
    })
}

/// Inserts a user; `EmailTaken` (and nothing written) when the e-mail has an account.
fn insert_user(conn: &mut PgConnection, new: &NewUser, now: Timestamp) -> Result<User> {
    let (role, subject) = match new.role {
        Role::Buyer(buyer) => ("buyer", buyer.as_uuid()),
        Role::Seller(seller) => ("seller", seller.as_uuid()),
    };
    let inserted = sql_query(
        "INSERT INTO users (id, email, password_hash, role, subject_id, created_at, home_region) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
    )
    .bind::<SqlUuid, _>(new.id.as_uuid())
    .bind::<Text, _>(new.email.as_str())
    .bind::<Text, _>(&new.password_hash)
    .bind::<Text, _>(role)
    .bind::<SqlUuid, _>(subject)
    .bind::<BigInt, _>(now.as_micros())
    .bind::<Text, _>(new.region.as_str())
    .execute(conn)?;
    if inserted == 0 {
        return Err(Fail::Domain(IdentityError::EmailTaken));
    }
    Ok(User {
        id: new.id,
        email: new.email.clone(),
        role: new.role,
    })
}

/// A party insert that a commerce rule refused: nothing a sign-up can cause, so internal.
fn party_failure(fail: Fail<CommerceError>) -> Fail<IdentityError> {
    match fail {
        Fail::Db(error) => Fail::Db(error),
        Fail::Domain(error) => {
            tracing::error!(
                code = error.code(),
                "the party of a new account was refused"
            );
            Fail::Domain(IdentityError::Internal)
        }
    }
}

const USER_SELECT: &str =
    "SELECT u.id, u.email, u.password_hash, u.role, u.subject_id FROM users u";

impl IdentityStore for PostgresIdentity {
    async fn create_user(
        &self,
        new: &NewUser,
        now: Timestamp,
    ) -> std::result::Result<User, IdentityError> {
        let new = new.clone();
        run(
            &self.pool,
            &self.retry,
            "create_user",
            Mode::Write,
            move |conn| insert_user(conn, &new, now),
        )
        .await
    }

    async fn register(
        &self,
        new: &NewUser,
        party: &NewParty,
        now: Timestamp,
    ) -> std::result::Result<User, IdentityError> {
        if new.role != party.role() {
            tracing::error!(user_id = %new.id.as_uuid(), "a new user's role is not its party's");
            return Err(IdentityError::Internal);
        }
        let (new, party) = (new.clone(), party.clone());
        run(
            &self.pool,
            &self.retry,
            "register",
            Mode::Write,
            move |conn| {
                // The user first: a taken e-mail stops the transaction before the party is written.
                let user = insert_user(conn, &new, now)?;
                match &party {
                    NewParty::Buyer(buyer) => tx::create_buyer(conn, buyer, now),
                    NewParty::Seller(seller) => tx::create_seller(conn, seller, now),
                }
                .map_err(party_failure)?;
                Ok(user)
            },
        )
        .await
    }

    async fn credentials(
        &self,
        email: &Email,
    ) -> std::result::Result<Option<(User, String)>, IdentityError> {
        let email = email.clone();
        run(
            &self.pool,
            &self.retry,
            "credentials",
            Mode::Read,
            move |conn| -> Result<_> {
                let rows: Vec<UserRow> = sql_query(format!("{USER_SELECT} WHERE u.email = $1"))
                    .bind::<Text, _>(email.as_str())
                    .load(conn)?;
                rows.first()
                    .map(|row| Ok((user(row)?, row.password_hash.clone())))
                    .transpose()
            },
        )
        .await
    }

    async fn create_session(
        &self,
        token: &TokenHash,
        user: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> std::result::Result<(), IdentityError> {
        let token = token.clone();
        run(&self.pool, &self.retry, "create_session", Mode::Write, move |conn| -> Result<()> {
            sql_query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (token_hash) DO NOTHING",
            )
            .bind::<Text, _>(&token.0)
            .bind::<SqlUuid, _>(user.as_uuid())
            .bind::<BigInt, _>(now.as_micros())
            .bind::<BigInt, _>(expires_at.as_micros())
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> std::result::Result<Option<User>, IdentityError> {
        let token = token.clone();
        run(
            &self.pool,
            &self.retry,
            "session_user",
            Mode::Read,
            move |conn| -> Result<_> {
                let rows: Vec<UserRow> = sql_query(format!(
                    "{USER_SELECT} JOIN sessions s ON s.user_id = u.id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2"
                ))
                .bind::<Text, _>(&token.0)
                .bind::<BigInt, _>(now.as_micros())
                .load(conn)?;
                rows.first().map(user).transpose()
            },
        )
        .await
    }

    async fn revoke_session(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> std::result::Result<(), IdentityError> {
        let token = token.clone();
        run(&self.pool, &self.retry, "revoke_session", Mode::Write, move |conn| -> Result<()> {
            sql_query("UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind::<Text, _>(&token.0)
                .bind::<BigInt, _>(now.as_micros())
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
