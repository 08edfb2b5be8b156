// Exchange rates and readiness: the rates worker against a local HTTP server that serves
// the ECB's daily file, stale rates refused with `fx_rate_stale`, the bundled rates of the
// demo, and `/readyz` answering from the connection pool and reporting rate freshness.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bazaar_domain::fx::calendar::Date;
use bazaar_ledger::Timestamp;
use diesel::RunQueryDsl;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::Server;

/// The ECB's daily file of 18 July 2022 (USD 1.0131).
const SAMPLE: &str =
    include_str!("../../../../adapters/fx/tests/data/eurofxref-daily-2022-07-18.xml");

const RATE: &str = "query($from: String!, $to: String!) {
    exchangeRate(from: $from, to: $to) { mid source effectiveAt } }";

/// The sample moved to another date, with another USD rate.
fn document(date: &str, usd: &str) -> Vec<u8> {
    SAMPLE
        .replace("time='2022-07-18'", &format!("time='{date}'"))
        .replace(
            "currency='USD' rate='1.0131'",
            &format!("currency='USD' rate='{usd}'"),
        )
        .into_bytes()
}

/// Today's UTC date.
fn today() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros();
    Date::of_instant(Timestamp::from_micros(i64::try_from(micros).unwrap()))
        .unwrap()
        .to_string()
}

/// A tiny HTTP server that answers every request with the document it currently holds.
struct EcbServer {
    url: String,
    document: Arc<Mutex<Vec<u8>>>,
}

impl EcbServer {
    fn start(document: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/stats/eurofxref/eurofxref-daily.xml",
            listener.local_addr().unwrap()
        );
        let document = Arc::new(Mutex::new(document));
        let serving = document.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let body = serving.lock().unwrap().clone();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self { url, document }
    }

    fn serve(&self, document: Vec<u8>) {
        *self.document.lock().unwrap() = document;
    }
}

async fn readyz(server: &Server) -> (u16, Value) {
    let response = server
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `/readyz` until its rates report satisfies `done`; returns that report.
async fn rates_when(server: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = readyz(server).await;
        assert_eq!(status, 200, "{body}");
        if done(&body["rates"]) {
            return body["rates"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "rates never became as expected: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A rate's `mid`, as a decimal (its string may carry trailing zeros).
fn mid(rate: &Value) -> Decimal {
    Decimal::from_str_exact(rate["mid"].as_str().unwrap()).unwrap()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

async fn rate(server: &Server, from: &str, to: &str) -> Value {
    server.ok(None, RATE, json!({"from": from, "to": to})).await["exchangeRate"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_refresh_from_the_ecb_url_and_stale_rates_are_refused() {
    // An old publication first: the worker takes it, and it is too old to quote.
    let ecb = EcbServer::start(document("2024-01-15", "1.0900"));
    let server = Server::start(&[
        ("BAZAAR_ECB_URL", ecb.url.as_str()),
        ("BAZAAR_FX_REFRESH_SECS", "1"),
    ])
    .await;
    let rates = rates_when(&server, |rates| rates["date"] == "2024-01-15").await;
    assert_eq!(rates["origin"], "url");
    assert_eq!(rates["stale"], true, "{rates}");
    assert_eq!(rates["max_age_secs"], 108_000);
    // Replaced on Tuesday 16 January 2024 at 16:00 in Frankfurt (15:00 UTC), then 30 hours.
    assert_eq!(rates["stale_from"], "2024-01-17T21:00:00.000000Z");
    assert!(rates["refresh_error"].is_null(), "{rates}");
    let variables = json!({"from": "EUR", "to": "USD"});
    assert_eq!(server.code(None, RATE, variables).await, "fx_rate_stale");
    // A currency into itself needs no rate.
    assert_eq!(mid(&rate(&server, "EUR", "EUR").await), Decimal::ONE);

    // The ECB publishes today's rates: the worker picks them up and quotes resume, the
    // table's KWD through the fresh USD rate.
    let today = today();
    ecb.serve(document(&today, "1.2345"));
    let rates = rates_when(&server, |rates| rates["date"] == today.as_str()).await;
    assert_eq!(rates["stale"], false, "{rates}");
    let usd = rate(&server, "EUR", "USD").await;
    assert_eq!(mid(&usd), dec("1.2345"));
    assert_eq!(usd["source"], "ecb");
    assert!(
        usd["effectiveAt"].as_str().unwrap().starts_with(&today),
        "{usd}"
    );
    let kwd = rate(&server, "EUR", "KWD").await;
    assert_eq!(mid(&kwd), dec("0.37960875"));
    assert_eq!(kwd["source"], "ecb+configured");

    // A broken file and an older one change nothing but the report.
    ecb.serve(b"<html><body>maintenance</body></html>".to_vec());
    let rates = rates_when(&server, |rates| {
        rates["refresh_error"]["code"] == "fx_source_invalid"
    })
    .await;
    assert_eq!(rates["date"], today.as_str());
    ecb.serve(document("2024-01-15", "1.0900"));
    rates_when(&server, |rates| rates["refresh_error"].is_null()).await;
    assert_eq!(mid(&rate(&server, "EUR", "USD").await), dec("1.2345"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_refresh_source_the_bundled_rates_quote_and_say_their_date() {
    let server = Server::start(&[]).await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    let rates = &body["rates"];
    assert_eq!(rates["date"], "2022-07-18", "{body}");
    assert_eq!(rates["origin"], "bundled");
    assert_eq!(rates["stale"], false);
    assert!(rates["max_age_secs"].is_null(), "{body}");
    assert!(rates["stale_from"].is_null(), "{body}");
    let usd = rate(&server, "EUR", "USD").await;
    assert_eq!(mid(&usd), dec("1.0131"));
    assert_eq!(usd["effectiveAt"], "2022-07-18T14:00:00.000000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_from_the_pool() {
    // Starting polled /readyz, so the pool holds a connection. From now on the database
    // refuses new connections: a check that opened its own would fail.
    let server = Server::start(&[]).await;
    let name = server.db().name().to_owned();
    let mut admin = bazaar_testdb::connect(&bazaar_testdb::admin_url()).unwrap();
    diesel::sql_query(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .unwrap();
    // Ask for longer than an answer is reused, so that fresh checks run too.
    let until = Instant::now() + Duration::from_millis(2_500);
    let mut answers = Vec::new();
    while Instant::now() < until {
        answers.push(readyz(&server).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    diesel::sql_query(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .unwrap();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ready");
    }
}
