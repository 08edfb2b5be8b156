//! Starts the real `bazaar` binary on a free loopback port against a test database, and
//! talks GraphQL to it over HTTP.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bazaar_testdb::TestDatabase;
use serde_json::{Value, json};

/// The password `Server::sign_up` gives every account.
pub const PASSWORD: &str = "long enough secret";

pub const SIGN_IN: &str = "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { token } }";

pub struct Server {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    _db: TestDatabase,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub async fn start(extra_env: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().unwrap();
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
        command
            .env("BAZAAR_DATABASE_URL", db.url())
            .env("BAZAAR_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("BAZAAR_HTTP_WORKERS", "2")
            .env("BAZAAR_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _db: db,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(response) = server
                .client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                && response.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server
    }

    /// POSTs a GraphQL request; returns the HTTP status and the JSON body.
    pub async fn raw(&self, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = serde_json::to_vec(&json!({"query": query, "variables": variables})).unwrap();
        let (status, value) = self.raw(token, body).await;
        assert_eq!(status, 200, "{value}");
        value
    }

    /// Runs a query that must succeed; returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let value = self.gql(token, query, variables).await;
        assert!(value.get("errors").is_none(), "{value}");
        value["data"].clone()
    }

    /// Runs a query that must fail; returns the first error's code.
    pub async fn code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let value = self.gql(token, query, variables).await;
        value["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {value}"))
            .to_owned()
    }

    /// Runs a `createProduct` mutation (selecting `id`) as `seller`; returns the product's
    /// id and its first SKU's id.
    pub async fn create_product(&self, seller: &str, mutation: &str) -> (String, String) {
        let product = self.ok(Some(seller), mutation, json!({})).await;
        let product_id = product["createProduct"]["id"].as_str().unwrap().to_owned();
        let detail = self
            .ok(
                None,
                "query($id: ID!) { product(id: $id) { skus { id } } }",
                json!({"id": product_id}),
            )
            .await;
        let sku = detail["product"]["skus"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (product_id, sku)
    }

    /// Signs up (with the password `PASSWORD`) and signs in; returns the session token.
    pub async fn sign_up(
        &self,
        email: &str,
        role: &str,
        country: &str,
        currency: Option<&str>,
    ) -> String {
        self.ok(
            None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { email } }",
            json!({"input": {"email": email, "password": PASSWORD, "name": email,
                "country": country, "role": role, "settlementCurrency": currency}}),
        )
        .await;
        self.sign_in(email, PASSWORD).await
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let data = self
            .ok(None, SIGN_IN, json!({"email": email, "password": password}))
            .await;
        data["signIn"]["token"].as_str().unwrap().to_owned()
    }

    /// GETs `path` on the server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The server's database, for checking what it stored.
    pub fn db(&self) -> &TestDatabase {
        &self._db
    }

    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing"))
    }
}
