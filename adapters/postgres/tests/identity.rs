//! The identity store against the real PostgreSQL: unique e-mails, sessions that expire and
//! can be revoked, and nothing but hashes stored.
#![expect(clippy::unwrap_used, reason = "test drivers fail loudly")]

use bazaar_domain::catalog::{BuyerId, Region};
use bazaar_domain::chart::SellerId;
use bazaar_domain::identity::{
    Email, IdentityError, IdentityStore, NewUser, Role, TokenHash, UserId,
};
use bazaar_ledger::Timestamp;
use bazaar_postgres::{PostgresIdentity, RetryPolicy};
use bazaar_testdb::TestDatabase;
use uuid::Uuid;

fn new_user(n: u128, email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId(Uuid::from_u128(n)),
        email: Email::new(email).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        role,
        region: Region::new("eu").unwrap(),
    }
}

#[tokio::test]
async fn users_are_unique_by_email_and_sessions_expire_and_revoke() {
    let db = TestDatabase::new().unwrap();
    let store = PostgresIdentity::new(db.url(), 2, RetryPolicy::default());
    let now = Timestamp::from_micros(1_000_000);
    let buyer = store
        .create_user(
            &new_user(
                1,
                "ana@example.com",
                Role::Buyer(BuyerId(Uuid::from_u128(7))),
            ),
            now,
        )
        .await
        .unwrap();
    let taken = store
        .create_user(
            &new_user(
                2,
                "ANA@example.com",
                Role::Seller(SellerId::from_uuid(Uuid::from_u128(8))),
            ),
            now,
        )
        .await;
    assert_eq!(taken.unwrap_err(), IdentityError::EmailTaken);
    let (found, hash) = store
        .credentials(&Email::new("ana@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, buyer);
    assert!(hash.starts_with("$argon2id$"));
    assert!(
        store
            .credentials(&Email::new("bo@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let token = TokenHash("ab".repeat(32));
    let expires = now.saturating_add_secs(3_600);
    store
        .create_session(&token, buyer.id, expires, now)
        .await
        .unwrap();
    assert_eq!(
        store.session_user(&token, now).await.unwrap(),
        Some(buyer.clone())
    );
    assert_eq!(
        store.session_user(&token, expires).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store
            .session_user(&TokenHash("cd".repeat(32)), now)
            .await
            .unwrap(),
        None
    );
    store.revoke_session(&token, now).await.unwrap();
    store.revoke_session(&token, now).await.unwrap();
    assert_eq!(
        store.session_user(&token, now).await.unwrap(),
        None,
        "revoked"
    );
}
