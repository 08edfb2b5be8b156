// Sign-in and sign-up abuse over HTTP: one password hash per request, a bounded hashing
// queue (503), token buckets per address and per account (429 with the RateLimit fields),
// a back-off that slows one address and never locks the owner out, a sign-up that does not
// tell whether an e-mail has an account, and a sign-up race that leaves no orphan party.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{Value, json};

use super::support::{PASSWORD, SIGN_IN, Server};

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { email } }";

/// One HTTP answer: status, the headers the limits set, and the JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    rate_limit: Option<String>,
    rate_limit_policy: Option<String>,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }
}

/// A client whose connections come from `address` (any of 127.0.0.0/8 reaches the server).
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .build()
        .unwrap()
}

async fn post(server: &Server, client: &reqwest::Client, query: &str, variables: Value) -> Answer {
    let response = client
        .post(format!("{}/graphql", server.base))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let retry_after = header("retry-after").map(|v| v.parse().unwrap());
    let rate_limit = header("ratelimit");
    let rate_limit_policy = header("ratelimit-policy");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap();
    Answer {
        status,
        retry_after,
        rate_limit,
        rate_limit_policy,
        body,
    }
}

async fn sign_in(server: &Server, client: &reqwest::Client, email: &str, password: &str) -> Answer {
    post(
        server,
        client,
        SIGN_IN,
        json!({"email": email, "password": password}),
    )
    .await
}

fn sign_up_input(email: &str, password: &str, role: &str) -> Value {
    let currency = (role == "SELLER").then_some("EUR");
    json!({"input": {"email": email, "password": password, "name": "Someone", "country": "DE",
        "role": role, "settlementCurrency": currency}})
}

/// Limits high enough that only the one a test is about comes into play.
const ROOMY: [(&str, &str); 5] = [
    ("BAZAAR_WORKERS", "0"),
    ("BAZAAR_AUTH_IP_BURST", "1000"),
    ("BAZAAR_AUTH_ACCOUNT_BURST", "1000"),
    ("BAZAAR_AUTH_BACKOFF_AFTER", "1000"),
    ("BAZAAR_AUTH_HASH_QUEUE", "64"),
];

fn env<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = ROOMY
        .iter()
        .filter(|(name, _)| overrides.iter().all(|(o, _)| o != name))
        .copied()
        .collect();
    env.extend_from_slice(overrides);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_may_sign_in_or_up_only_once() {
    let server = Server::start(&env(&[])).await;
    let client = reqwest::Client::new();
    let attempt = |alias: &str| {
        format!(
            "{alias}: signIn(email: \"ana@example.com\", password: \"{alias} password\") {{ token }}"
        )
    };
    let aliased = format!("mutation {{ {} {} }}", attempt("a"), attempt("b"));
    let fragments = format!(
        "mutation {{ ...F ...G }} fragment F on Mutation {{ {} }} fragment G on Mutation {{ {} }}",
        attempt("a"),
        attempt("b")
    );
    let mixed = format!(
        "mutation($input: SignUpInput!) {{ signUp(input: $input) {{ email }} {} }}",
        attempt("a")
    );
    for query in [aliased, fragments, mixed] {
        let answer = post(
            &server,
            &client,
            &query,
            sign_up_input("bo@example.com", PASSWORD, "BUYER"),
        )
        .await;
        assert_eq!(
            answer.code(),
            "one_sign_in_per_request",
            "{query}: {answer:?}"
        );
        assert!(answer.body["data"].is_null(), "nothing ran: {answer:?}");
    }
    // Nothing was signed up by the refused request; one field alone still works.
    let one = sign_in(&server, &client, "bo@example.com", PASSWORD).await;
    assert_eq!(one.code(), "credentials_invalid", "{one:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    let server = Server::start(&env(&[
        ("BAZAAR_AUTH_HASH_CONCURRENCY", "1"),
        ("BAZAAR_AUTH_HASH_QUEUE", "1"),
    ]))
    .await;
    let client = reqwest::Client::new();
    // Sixteen sign-ins at once, each a password hash of tens of milliseconds: one runs, one
    // waits, the others find the queue full.
    let attempts = (0..16).map(|n| {
        let (server, client) = (&server, &client);
        async move {
            sign_in(
                server,
                client,
                &format!("u{n}@example.com"),
                "wrong password",
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let busy: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(!busy.is_empty(), "{answers:?}");
    for answer in &busy {
        assert_eq!(answer.code(), "busy");
        assert_eq!(answer.retry_after, Some(1));
    }
    for answer in answers.iter().filter(|a| a.status != 503) {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.code(), "credentials_invalid");
    }
    assert!(answers.iter().any(|a| a.status == 200), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_and_an_account_each_have_a_bucket() {
    let server = Server::start(&env(&[
        ("BAZAAR_AUTH_IP_BURST", "3"),
        ("BAZAAR_AUTH_IP_REFILL_MS", "60000"),
        ("BAZAAR_AUTH_ACCOUNT_BURST", "4"),
        ("BAZAAR_AUTH_ACCOUNT_REFILL_MS", "60000"),
    ]))
    .await;
    let first = client_from([127, 0, 0, 1]);
    let second = client_from([127, 0, 0, 2]);

    // Address bucket: three attempts, then 429 until a token returns in a minute.
    for remaining in [2, 1, 0] {
        let answer = sign_in(&server, &first, "ana@example.com", "wrong password").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.code(), "credentials_invalid");
        assert_eq!(
            answer.rate_limit_policy.as_deref(),
            Some("\"ip\";q=3;w=180, \"account\";q=4;w=240")
        );
        let current = answer.rate_limit.unwrap();
        assert!(
            current.starts_with(&format!("\"ip\";r={remaining};t=")),
            "{current}"
        );
    }
    let refused = sign_in(&server, &first, "ana@example.com", "wrong password").await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.code(), "rate_limited");
    let wait = refused.retry_after.unwrap();
    assert!((59..=60).contains(&wait), "{wait}");
    assert!(refused.rate_limit.unwrap().starts_with("\"ip\";r=0;t="));

    // Account bucket: a fourth attempt on the account from another address is the last.
    let answer = sign_in(&server, &second, "ana@example.com", "wrong password").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let refused = sign_in(&server, &second, "ANA@example.com", "wrong password").await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.code(), "rate_limited");
    assert!(
        refused
            .rate_limit
            .unwrap()
            .ends_with("\"account\";r=0;t=240")
    );
    // Another account from that address is not affected.
    let other = sign_in(&server, &second, "bo@example.com", "wrong password").await;
    assert_eq!(other.status, 200, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_slow_the_failing_address_and_never_lock_the_owner_out() {
    let server = Server::start(&env(&[
        ("BAZAAR_AUTH_BACKOFF_AFTER", "2"),
        ("BAZAAR_AUTH_BACKOFF_BASE_MS", "1000"),
        ("BAZAAR_AUTH_BACKOFF_MAX_MS", "2000"),
    ]))
    .await;
    let owner = client_from([127, 0, 0, 1]);
    let attacker = client_from([127, 0, 0, 3]);
    let email = "owner@example.com";
    let signed_up = post(
        &server,
        &owner,
        SIGN_UP,
        sign_up_input(email, PASSWORD, "BUYER"),
    )
    .await;
    assert_eq!(signed_up.status, 200, "{signed_up:?}");

    let mut waits = Vec::new();
    for _ in 0..3 {
        for _ in 0..2 {
            let answer = sign_in(&server, &attacker, email, "guess password").await;
            if answer.status == 429 {
                break;
            }
            assert_eq!(answer.code(), "credentials_invalid", "{answer:?}");
        }
        let refused = sign_in(&server, &attacker, email, "guess password").await;
        assert_eq!(refused.status, 429, "{refused:?}");
        assert_eq!(refused.code(), "rate_limited");
        let wait = refused.retry_after.unwrap();
        waits.push(wait);
        // The owner, from another address, signs in at once.
        let answer = sign_in(&server, &owner, email, PASSWORD).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            answer.body["data"]["signIn"]["token"].is_string(),
            "{answer:?}"
        );
        // The attacker is only slowed: after the wait it may try again.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let answer = sign_in(&server, &attacker, email, "guess password").await;
            if answer.status == 200 {
                assert_eq!(answer.code(), "credentials_invalid");
                break;
            }
            assert_eq!(answer.status, 429, "{answer:?}");
            assert!(Instant::now() < deadline, "the back-off did not end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // One second after the second failure, then two, and never more than the cap.
    assert!(waits.iter().all(|w| (1..=2).contains(w)), "{waits:?}");
    assert_eq!(waits.last(), Some(&2), "{waits:?}");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(server: &Server, sql: &str) -> i64 {
    let mut conn = server.db().connect().unwrap();
    diesel::sql_query(sql).load::<Count>(&mut conn).unwrap()[0].n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_does_not_tell_whether_an_email_has_an_account() {
    let server = Server::start(&env(&[])).await;
    let client = reqwest::Client::new();
    let new = post(
        &server,
        &client,
        SIGN_UP,
        sign_up_input("Ana@Example.com", PASSWORD, "BUYER"),
    )
    .await;
    let existing = post(
        &server,
        &client,
        SIGN_UP,
        sign_up_input("ana@example.com", "another long password", "SELLER"),
    )
    .await;
    assert_eq!(new.status, 200);
    assert_eq!(existing.status, 200);
    assert_eq!(
        new.body["data"],
        json!({"signUp": {"email": "ana@example.com"}})
    );
    assert_eq!(new.body["data"], existing.body["data"], "{existing:?}");
    assert_eq!(existing.body.get("errors"), None, "{existing:?}");
    // The account is the first one, untouched; the second sign-up wrote nothing.
    server.sign_in("ana@example.com", PASSWORD).await;
    let second = sign_in(&server, &client, "ana@example.com", "another long password").await;
    assert_eq!(second.code(), "credentials_invalid");
    assert_eq!(count(&server, "SELECT count(*) AS n FROM sellers"), 0);
    assert_eq!(count(&server, "SELECT count(*) AS n FROM buyers"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_race_leaves_one_user_and_one_party() {
    let server = Server::start(&env(&[])).await;
    let client = reqwest::Client::new();
    let attempts = (0..8).map(|n| {
        let (server, client) = (&server, &client);
        let role = if n % 2 == 0 { "BUYER" } else { "SELLER" };
        async move {
            post(
                server,
                client,
                SIGN_UP,
                sign_up_input("race@example.com", &format!("password number {n}"), role),
            )
            .await
        }
    });
    for answer in futures_util::future::join_all(attempts).await {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body.get("errors"), None, "{answer:?}");
    }
    assert_eq!(count(&server, "SELECT count(*) AS n FROM users"), 1);
    assert_eq!(
        count(
            &server,
            "SELECT (SELECT count(*) FROM buyers) + (SELECT count(*) FROM sellers) AS n"
        ),
        1
    );
}
