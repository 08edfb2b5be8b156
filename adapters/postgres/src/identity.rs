//! Users and sessions on PostgreSQL, behind the `IdentityStore` port.

use bazaar_domain::catalog::BuyerId;
use bazaar_domain::chart::SellerId;
use bazaar_domain::error::CommerceError;
use bazaar_domain::identity::{
    Email, IdentityError, IdentityStore, NewParty, NewUser, Role, TokenHash, User, UserId,
};
use bazaar_ledger::Timestamp;
use bazaar_schema::schema::{sessions, users};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use std::sync::Arc;

use crate::batch::{Batcher, Limits, Unanswered};
use crate::commerce::{Db, Fail, Mode, StoreFailure, tx};
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

/// One signed-in request's question: whose session is this token's at `now`?
type SessionAsked = (TokenHash, Timestamp);
type SessionAnswer = std::result::Result<Option<User>, IdentityError>;

/// The identity store.
#[derive(Clone)]
pub struct PostgresIdentity {
    db: Db,
    /// Session reads waiting to be answered together: every signed-in request makes one.
    sessions: Arc<Batcher<SessionAsked, SessionAnswer>>,
}

impl std::fmt::Debug for PostgresIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresIdentity").finish_non_exhaustive()
    }
}

impl PostgresIdentity {
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
            sessions: Arc::new(Batcher::new("sessions", Limits::READS)),
        }
    }
}

/// A user as stored; every query here goes through diesel's builder, so the compiler checks
/// these columns against the schema and the statements are prepared once per connection.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: Uuid,
    email: String,
    password_hash: String,
    role: String,
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
        "finance" => Role::Finance,
        "compliance" => Role::Compliance,
        _ => return Err(corrupt()),
    };
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: Email::new(&row.email).map_err(|_| corrupt())?,
        role,
    })
}

/// The users whose sessions these tokens are at the times asked, read in one statement: the
/// sessions neither revoked nor expired at the earliest time asked, each then checked against
/// its own request's time.
async fn sessions_users(db: &Db, asked: Vec<SessionAsked>) -> Vec<SessionAnswer> {
    let tokens: Vec<String> = asked.iter().map(|(token, _)| token.0.clone()).collect();
    let earliest = asked
        .iter()
        .map(|(_, now)| *now)
        .min()
        .unwrap_or(Timestamp::from_micros(0));
    let read = db
        .run("session_user", Mode::Statement, move |conn| -> Result<_> {
            let rows: Vec<(String, i64, UserRow)> = users::table
                .inner_join(sessions::table.on(sessions::user_id.eq(users::id)))
                .filter(sessions::token_hash.eq_any(&tokens))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(earliest.as_micros()))
                .select((
                    sessions::token_hash,
                    sessions::expires_at,
                    UserRow::as_select(),
                ))
                .load(conn)?;
            Ok(rows)
        })
        .await;
    let rows = match read {
        Ok(rows) => rows,
        Err(error) => return vec![Err(error); asked.len()],
    };
    asked
        .iter()
        .map(|(token, now)| {
            rows.iter()
                .find(|(hash, expires_at, _)| *hash == token.0 && *expires_at > now.as_micros())
                .map(|(_, _, row)| user(row).map_err(|_| IdentityError::Internal))
                .transpose()
        })
        .collect()
}

/// Inserts a user; `EmailTaken` (and nothing written) when the e-mail has an account.
fn insert_user(conn: &mut PgConnection, new: &NewUser, now: Timestamp) -> Result<User> {
    let (role, subject) = match new.role {
        Role::Buyer(buyer) => ("buyer", buyer.as_uuid()),
        Role::Seller(seller) => ("seller", seller.as_uuid()),
        // A finance user acts for no party: its subject is itself.
        Role::Finance => ("finance", new.id.as_uuid()),
        Role::Compliance => ("compliance", new.id.as_uuid()),
    };
    let inserted = diesel::insert_into(users::table)
        .values((
            users::id.eq(new.id.as_uuid()),
            users::email.eq(new.email.as_str()),
            users::password_hash.eq(&new.password_hash),
            users::role.eq(role),
            users::subject_id.eq(subject),
            users::created_at.eq(now.as_micros()),
            users::home_region.eq(new.region.as_str()),
        ))
        .on_conflict(users::email)
        .do_nothing()
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

impl IdentityStore for PostgresIdentity {
    async fn create_user(
        &self,
        new: &NewUser,
        now: Timestamp,
    ) -> std::result::Result<User, IdentityError> {
        let new = new.clone();
        self.db
            .run("create_user", Mode::Write, move |conn| {
                insert_user(conn, &new, now)
            })
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
        self.db
            .run("register", Mode::Write, move |conn| {
                // The user first: a taken e-mail stops the transaction before the party is written.
                let user = insert_user(conn, &new, now)?;
                match &party {
                    NewParty::Buyer(buyer) => tx::create_buyer(conn, buyer, now),
                    NewParty::Seller(seller) => tx::create_seller(conn, seller, now),
                }
                .map_err(party_failure)?;
                Ok(user)
            })
            .await
    }

    async fn credentials(
        &self,
        email: &Email,
    ) -> std::result::Result<Option<(User, String)>, IdentityError> {
        let email = email.clone();
        self.db
            .run("credentials", Mode::Read, move |conn| -> Result<_> {
                let rows: Vec<UserRow> = users::table
                    .filter(users::email.eq(email.as_str()))
                    .select(UserRow::as_select())
                    .load(conn)?;
                rows.first()
                    .map(|row| Ok((user(row)?, row.password_hash.clone())))
                    .transpose()
            })
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
        self.db
            .run("create_session", Mode::Write, move |conn| -> Result<()> {
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::token_hash.eq(&token.0),
                        sessions::user_id.eq(user.as_uuid()),
                        sessions::created_at.eq(now.as_micros()),
                        sessions::expires_at.eq(expires_at.as_micros()),
                    ))
                    .on_conflict(sessions::token_hash)
                    .do_nothing()
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
        let db = self.db.clone();
        let work = move |asked: Vec<SessionAsked>| {
            let db = db.clone();
            async move { sessions_users(&db, asked).await }
        };
        self.sessions
            .submit((token.clone(), now), work)
            .await
            .map_err(Unanswered::failure::<IdentityError>)?
    }

    async fn revoke_session(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> std::result::Result<(), IdentityError> {
        let token = token.clone();
        self.db
            .run("revoke_session", Mode::Write, move |conn| -> Result<()> {
                diesel::update(
                    sessions::table
                        .filter(sessions::token_hash.eq(&token.0))
                        .filter(sessions::revoked_at.is_null()),
                )
                .set(sessions::revoked_at.eq(now.as_micros()))
                .execute(conn)?;
                Ok(())
            })
            .await
    }
}
