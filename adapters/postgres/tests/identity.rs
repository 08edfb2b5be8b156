//! The identity store against the real PostgreSQL: unique e-mails, sessions that expire and
//! can be revoked, and nothing but hashes stored.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test drivers fail loudly"
)]

use bazaar_domain::Country;
use bazaar_domain::catalog::{BasisPoints, Buyer, BuyerId, CommissionRule, Region, Seller};
use bazaar_domain::chart::SellerId;
use bazaar_domain::identity::{
    Email, IdentityError, IdentityStore, NewParty, NewUser, Role, TokenHash, UserId,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use bazaar_postgres::{PostgresIdentity, RetryPolicy};
use bazaar_testdb::TestDatabase;
use uuid::Uuid;

fn new_user(n: u128, email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId::from_uuid(Uuid::from_u128(n)),
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
                Role::Buyer(BuyerId::from_uuid(Uuid::from_u128(7))),
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

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn parties(db: &TestDatabase) -> i64 {
    use diesel::RunQueryDsl;
    let mut conn = db.connect().unwrap();
    diesel::sql_query("SELECT (SELECT count(*) FROM buyers) + (SELECT count(*) FROM sellers) AS n")
        .load::<Count>(&mut conn)
        .unwrap()[0]
        .n
}

#[tokio::test]
async fn register_writes_the_party_and_the_user_together_or_not_at_all() {
    let db = TestDatabase::new().unwrap();
    let store = PostgresIdentity::new(db.url(), 2, RetryPolicy::default());
    let now = Timestamp::from_micros(1_000_000);
    let region = Region::new("eu").unwrap();
    let buyer = NewParty::Buyer(Buyer {
        id: BuyerId::from_uuid(Uuid::from_u128(7)),
        name: "Ana".into(),
        country: Country::new("DE").unwrap(),
        region: region.clone(),
        tax_area: None,
    });
    let seller = NewParty::Seller(Seller {
        id: SellerId::from_uuid(Uuid::from_u128(8)),
        name: "Shop".into(),
        country: Country::new("DE").unwrap(),
        region,
        settlement_currency: Currency::from_code("EUR").unwrap(),
        commission: CommissionRule::flat(BasisPoints::new(1_000).unwrap()),
    });
    let user = store
        .register(&new_user(1, "ana@example.com", buyer.role()), &buyer, now)
        .await
        .unwrap();
    assert_eq!(user.role, buyer.role());
    assert_eq!(parties(&db), 1);
    let taken = store
        .register(&new_user(2, "ana@example.com", seller.role()), &seller, now)
        .await;
    assert_eq!(taken.unwrap_err(), IdentityError::EmailTaken);
    assert_eq!(parties(&db), 1, "the refused sign-up left no seller behind");
    let mismatched = store
        .register(&new_user(3, "bo@example.com", buyer.role()), &seller, now)
        .await;
    assert_eq!(mismatched.unwrap_err(), IdentityError::Internal);
    assert_eq!(parties(&db), 1);
}

/// Signed-in requests that arrive together are answered by one read of their sessions, and
/// each still gets the answer for its own token at its own time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_reads_that_arrive_together_are_each_answered_at_their_own_time() {
    use diesel::RunQueryDsl;
    let db = TestDatabase::new().unwrap();
    let store = std::sync::Arc::new(PostgresIdentity::new(db.url(), 4, RetryPolicy::default()));
    let now = Timestamp::from_micros(1_000_000);
    let expires = now.saturating_add_secs(60);
    let mut users = Vec::new();
    for n in 0..4u128 {
        let role = Role::Buyer(BuyerId::from_uuid(Uuid::from_u128(100 + n)));
        let user = store
            .create_user(&new_user(n + 1, &format!("u{n}@example.com"), role), now)
            .await
            .unwrap();
        let token = TokenHash(format!("{n:064x}"));
        store
            .create_session(&token, user.id, expires, now)
            .await
            .unwrap();
        users.push((token, user));
    }
    store.revoke_session(&users[3].0, now).await.unwrap();
    let unknown = TokenHash("ef".repeat(32));
    // Each question, and its answer: the user, or none (revoked, unknown, or asked at or past
    // the session's expiry although other questions in the same read are earlier).
    let mut questions = Vec::new();
    for round in 0..10 {
        for (n, (token, user)) in users.iter().enumerate() {
            let late = (round + n) % 3 == 0;
            let at = if late {
                expires
            } else {
                now.saturating_add_secs(59)
            };
            let expected = (n != 3 && !late).then(|| user.clone());
            questions.push((token.clone(), at, expected));
        }
        questions.push((unknown.clone(), now, None));
    }

    // The reads wait behind this lock until every question has queued.
    let mut blocker = db.connect().unwrap();
    diesel::sql_query("BEGIN").execute(&mut blocker).unwrap();
    diesel::sql_query("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .unwrap();
    let tasks: Vec<_> = questions
        .iter()
        .map(|(token, at, _)| {
            let (store, token, at) = (store.clone(), token.clone(), *at);
            tokio::spawn(async move { store.session_user(&token, at).await })
        })
        .collect();
    let mut waiting = 0;
    for _ in 0..500 {
        waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation IS NOT NULL",
        )
        .get_result::<Count>(&mut blocker)
        .unwrap()
        .n;
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(waiting > 0, "no session read reached the lock");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    diesel::sql_query("COMMIT").execute(&mut blocker).unwrap();
    for ((token, at, expected), task) in questions.iter().zip(tasks) {
        let answer = task.await.unwrap().unwrap();
        assert_eq!(&answer, expected, "{token:?} at {at:?}");
    }
}
