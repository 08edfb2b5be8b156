// The audit log against the real server: sign-ins (a wrong password among them) and a staff
// account made with bazaar-admin are recorded; a compliance user reads the log's page in
// Chromium, downloads an export and it verifies offline against the key the page shows, with
// the failed sign-in in it and no password anywhere; the API gives compliance the export's
// figures and refuses everyone else.

use bazaar_domain::audit::{AuditKey, ExportVerifier};
use serde_json::json;

use super::browser_support::Browser;
use super::finance::{admin, stdout};
use super::support::{PASSWORD, SIGN_IN, Server};

const EXPORT: &str = "query($from: String!, $to: String!) { auditExport(from: $from, to: $to) { count firstSeq lastSeq headHash checkpoints publicKey download } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_downloads_an_export_that_verifies_offline_with_every_sign_in_in_it() {
    let server = Server::start(&[("BAZAAR_AUDIT_CHECKPOINT_SECS", "1")]).await;
    let seller = server
        .sign_up("ada@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let wrong = "not the password at all";
    assert_eq!(
        server
            .code(
                None,
                SIGN_IN,
                json!({"email": "ada@shop.test", "password": wrong})
            )
            .await,
        "credentials_invalid"
    );
    stdout(&admin(
        &server,
        &["compliance-user", "audit@bazaar.test"],
        Some(PASSWORD),
    ));
    stdout(&admin(
        &server,
        &["finance-user", "books@bazaar.test"],
        Some(PASSWORD),
    ));
    let compliance = server.sign_in("audit@bazaar.test", PASSWORD).await;
    let finance = server.sign_in("books@bazaar.test", PASSWORD).await;

    // The API: figures for compliance only.
    let today = bazaar_domain::fx::calendar::Date::of_instant(bazaar_ledger::Clock::now(
        &bazaar_postgres::SystemClock,
    ))
    .unwrap()
    .to_string();
    let range = json!({"from": today, "to": today});
    for token in [&seller, &finance] {
        assert_eq!(
            server.code(Some(token), EXPORT, range.clone()).await,
            "forbidden"
        );
    }
    let figures = server.ok(Some(&compliance), EXPORT, range).await;
    let figures = &figures["auditExport"];
    assert!(figures["count"].as_i64().unwrap() >= 6, "{figures}");
    assert_eq!(figures["firstSeq"], 1);
    let key = figures["publicKey"].as_str().unwrap().to_owned();

    // The page, in the browser: the head, the key, the export.
    let browser = Browser::start().await;
    let base = &server.base;
    browser.sign_in(base, "audit@bazaar.test", PASSWORD).await;
    assert_eq!(browser.path().await, "/compliance");
    assert_eq!(browser.text("#key").await, key);
    let records: u64 = browser.text("#records").await.parse().unwrap();
    assert!(records >= 7, "{records}");
    // Checkpoints are signed every second here.
    let mut checkpoint = browser.text("#checkpoint").await;
    for _ in 0..50 {
        if checkpoint != "none yet" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        browser.goto(&format!("{base}/compliance")).await;
        checkpoint = browser.text("#checkpoint").await;
    }
    assert!(checkpoint.starts_with("record "), "{checkpoint}");
    browser.screenshot("compliance-audit").await;
    browser.click_download("#export button").await;
    let (name, export) = browser.downloaded().await;
    assert!(
        name.starts_with("bazaar-audit-") && name.ends_with(".jsonl"),
        "{name}"
    );

    // Offline: the export verifies against the key on the page.
    let trusted = AuditKey::from_hex(&key).unwrap();
    let mut lines = export.lines();
    let mut verifier = ExportVerifier::start(lines.next().unwrap(), Some(&trusted)).unwrap();
    for line in lines {
        verifier.record(line).unwrap();
    }
    let verified = verifier.finish().unwrap();
    assert!(verified.count >= 7);
    assert!(verified.checkpoints >= 1);
    // What it holds: the failed sign-in under the e-mail given, the staff accounts made by
    // the admin tool, compliance's own sign-in; never a password.
    assert!(
        export.contains(
            r#""actor":"email:ada@shop.test","action":"session.sign_in","outcome":"failure""#
        ),
        "{export}"
    );
    assert_eq!(export.matches(r#""action":"user.create""#).count(), 2);
    assert!(export.contains(r#"(compliance)","action":"session.sign_in","outcome":"success""#));
    assert!(!export.contains(wrong));
    assert!(!export.contains(PASSWORD));
}
