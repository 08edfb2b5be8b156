// Finance end to end against the real server, database and ledger: `bazaar-admin` creates a
// finance user and imports a bank statement (once); in a real headless Chromium, finance
// reads cash against what is owed, reconciles a day (booking the bank's charge), reads what
// is left open with its age, downloads it and the trial balance; a seller is kept out. The
// same through GraphQL, where a seller is refused.

use std::process::{Command, Output};
use std::sync::Arc;

use bazaar_domain::chart::{ChartAccount, Expense, ProviderName, SellerId};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payments::PaymentId;
use bazaar_domain::postings::{settlement_posting, submit};
use bazaar_domain::reconciliation::{
    BalanceType, BankEntry, BankStatement, CamtVersion, EntryPart, EntryStatus, StatementBalance,
    write_camt053,
};
use bazaar_ledger::{Clock, LedgerStore};
use bazaar_money::{Currency, Money};
use bazaar_postgres::{LedgerConfig, PostgresLedger, SystemClock};
use serde_json::json;
use uuid::Uuid;

use super::browser::sale;
use super::browser_support::Browser;
use super::support::{PASSWORD, Server};

const IBAN: &str = "DE89370400440532013000";
const FINANCE: &str = "finance@bazaar.test";

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

pub(super) fn admin(server: &Server, args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar-admin"));
    command
        .args(args)
        .env("BAZAAR_DATABASE_URL", server.db().url())
        .env("BAZAAR_LOG", "warn");
    if let Some(password) = password {
        command.env("BAZAAR_ADMIN_PASSWORD", password);
    }
    command.output().unwrap()
}

pub(super) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn entry(id: &str, minor: i64, text: &str, code: &str, day: Date) -> BankEntry {
    BankEntry {
        reference: Some(id.to_owned()),
        amount: eur(minor),
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: Some(day),
        value_date: Some(day),
        servicer_reference: Some(format!("SVC-{id}")),
        transaction_code: Some(code.to_owned()),
        batches: Vec::new(),
        parts: vec![EntryPart {
            end_to_end_id: None,
            servicer_reference: None,
            amount: Some(eur(minor)),
            remittance: Some(text.to_owned()),
            creditor_reference: None,
        }],
    }
}

/// A seller's sale of 100.00 EUR (90.00 its share), settled by the provider (98.80 to the
/// bank after a 1.20 fee), and yesterday's bank statement: the settlement, a 0.35 charge,
/// and 12.00 nobody can place. Answers the statement's path and its day.
async fn a_day_of_business(server: &Server, seller: SellerId) -> (std::path::PathBuf, Date) {
    let ledger =
        PostgresLedger::connect(LedgerConfig::new(server.db().url()), Arc::new(SystemClock))
            .await
            .unwrap();
    sale(&ledger, seller, 7, 9_000, 1_000).await;
    for account in [
        ChartAccount::Bank,
        ChartAccount::Expense(Expense::PspFees),
        ChartAccount::Expense(Expense::BankCharges),
    ] {
        ledger
            .create_account(account.new_account(Currency::EUR).unwrap())
            .await
            .unwrap()
            .unwrap();
    }
    let payment = PaymentId::from_uuid(Uuid::new_v4());
    let provider = ProviderName::new("sandbox").unwrap();
    let posting = settlement_posting(payment, &provider, eur(10_000), eur(120)).unwrap();
    submit(&ledger, posting).await.unwrap();

    let day = Date::of_instant(SystemClock.now())
        .unwrap()
        .add_days(-1)
        .unwrap();
    let balance = |kind, minor| StatementBalance {
        kind,
        amount: eur(minor),
        date: day,
    };
    let statement = BankStatement {
        version: CamtVersion::V08,
        id: format!("STMT-{day}"),
        sequence: Some(1),
        created_at: format!("{day}T18:00:00"),
        account: IBAN.to_owned(),
        currency: Currency::EUR,
        page: None,
        last_page: None,
        balances: vec![
            balance(BalanceType::OpeningBooked, 0),
            balance(BalanceType::ClosingBooked, 9_880 - 35 + 1_200),
        ],
        entries: vec![
            entry(
                "1",
                9_880,
                &format!("Settlement {payment}"),
                "PMNT/RCDT/ESCT",
                day,
            ),
            entry("2", -35, "Account charges", "ACMT/MDOP/CHRG", day),
            entry("3", 1_200, "UNKNOWN PAYER", "PMNT/RCDT/ESCT", day),
        ],
    };
    let path = std::env::temp_dir().join(format!("statement-{}.xml", Uuid::new_v4()));
    std::fs::write(
        &path,
        write_camt053("MSG-1", &format!("{day}T18:00:00"), &[statement]),
    )
    .unwrap();
    (path, day)
}

#[tokio::test]
async fn finance_reconciles_a_day_reads_what_is_open_and_downloads_the_trial_balance() {
    let server = Server::start(&[]).await;
    let token = server
        .sign_up("ada@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let me = server
        .ok(Some(&token), "{ me { partyId } }", json!({}))
        .await;
    let seller = SellerId::from_uuid(me["me"]["partyId"].as_str().unwrap().parse().unwrap());
    let (statement, day) = a_day_of_business(&server, seller).await;
    let statement = statement.to_str().unwrap();

    // The command line: a finance user; the statement imported once; a bad command refused.
    let created = stdout(&admin(&server, &["finance-user", FINANCE], Some(PASSWORD)));
    assert!(
        created.contains("finance user finance@bazaar.test created"),
        "{created}"
    );
    let args = ["reconcile", "import", "--kind", "camt053", statement];
    assert!(stdout(&admin(&server, &args, None)).contains("3 records stored"));
    assert!(stdout(&admin(&server, &args, None)).contains("imported before: nothing stored"));
    assert_eq!(
        admin(&server, &["reconcile", "nonsense"], None)
            .status
            .code(),
        Some(2)
    );
    let day_text = day.to_string();
    let dry = stdout(&admin(
        &server,
        &[
            "reconcile",
            "run",
            "--account",
            IBAN,
            "--currency",
            "EUR",
            "--from",
            &day_text,
            "--to",
            &day_text,
            "--dry-run",
        ],
        None,
    ));
    assert!(
        dry.contains("matched=2 amount_differences=0 unmatched_external=2"),
        "{dry}"
    );
    assert!(dry.contains("dry_run=true"), "{dry}");

    let browser = Browser::start().await;
    let base = &server.base;
    browser.sign_in(base, FINANCE, PASSWORD).await;
    assert_eq!(browser.path().await, "/finance");
    // Cash 98.80 at the bank; 90.00 owed to the seller.
    let eur_row = "#positions tr[data-currency='EUR']";
    assert_eq!(browser.attr(eur_row, "data-coverage-minor").await, "880");
    let row = browser.text(eur_row).await;
    assert!(
        row.contains("98.80 EUR") && row.contains("90.00 EUR"),
        "{row}"
    );
    assert!(browser.text("#runs, .empty").await.contains("No run yet"));
    browser.screenshot("finance").await;

    // Reconcile yesterday for real, booking the charge.
    browser.fill("#reconcile input[name=account]", IBAN).await;
    browser
        .click_download("#reconcile input[name=dry_run]")
        .await;
    browser.click_download("#reconcile input[name=book]").await;
    browser.click("#reconcile button").await;
    assert!(browser.path().await.starts_with("/finance/runs/"));
    assert!(browser.text("#booked").await.contains("Booked 1 postings"));
    let buckets = browser.attrs("#open tbody tr", "data-bucket").await;
    assert_eq!(buckets, ["unmatched_external", "unmatched_external"]);
    assert_eq!(
        browser.attrs("#open tbody tr", "data-age").await,
        ["1", "1"]
    );
    assert!(browser.text("#ages").await.contains("0-2 days: 2"));
    browser.screenshot("finance-run").await;
    browser.click_download("#open-csv").await;
    let (name, csv) = browser.downloaded().await;
    assert!(
        name.starts_with("open-items-") && name.ends_with(".csv"),
        "{name}"
    );
    assert!(csv.starts_with("bucket,side,id,currency,amount,date,age_days,reference\r\n"));
    assert!(
        csv.contains(",EUR,12.00,") && csv.contains("UNKNOWN PAYER"),
        "{csv}"
    );

    // Reconciled again, the booked charge is matched: only the unknown credit is left.
    browser.goto(&format!("{base}/finance")).await;
    browser.fill("#reconcile input[name=account]", IBAN).await;
    browser
        .click_download("#reconcile input[name=dry_run]")
        .await;
    browser.click("#reconcile button").await;
    assert_eq!(browser.attrs("#open tbody tr", "data-age").await, ["1"]);

    // The trial balance balances, with the charge booked; its CSV says the same.
    browser.goto(&format!("{base}/finance/trial-balance")).await;
    assert_eq!(
        browser.attr("span[data-balanced]", "data-balanced").await,
        "true"
    );
    let charges = "table[data-currency='EUR'] tr[data-code='expense_bank_charges']";
    assert_eq!(browser.attr(charges, "data-debit-minor").await, "35");
    browser.screenshot("trial-balance").await;
    browser.click_download("#trial-csv").await;
    let (name, csv) = browser.downloaded().await;
    assert_eq!(name, "trial-balance.csv");
    assert!(csv.contains("EUR,seller_pending,1,0.00,90.00\r\n"), "{csv}");
    assert!(
        csv.contains("EUR,expense_bank_charges,1,0.35,0.00\r\n"),
        "{csv}"
    );

    // A seller is kept out.
    browser.click("form.sign-out button").await;
    browser.sign_in(base, "ada@shop.test", PASSWORD).await;
    browser.goto(&format!("{base}/finance")).await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    let _ = std::fs::remove_file(statement);
}

#[tokio::test]
async fn finance_reads_and_reconciles_through_graphql_and_a_seller_is_refused() {
    let server = Server::start(&[]).await;
    let seller_token = server
        .sign_up("ada@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let me = server
        .ok(Some(&seller_token), "{ me { partyId } }", json!({}))
        .await;
    let seller = SellerId::from_uuid(me["me"]["partyId"].as_str().unwrap().parse().unwrap());
    let (statement, day) = a_day_of_business(&server, seller).await;
    stdout(&admin(&server, &["finance-user", FINANCE], Some(PASSWORD)));
    let token = server.sign_in(FINANCE, PASSWORD).await;
    let xml = std::fs::read_to_string(&statement).unwrap();
    let _ = std::fs::remove_file(&statement);

    let import = "mutation($xml: String!) { importBankStatement(name: \"s.xml\", xml: $xml) { imported stored } }";
    let first = server.ok(Some(&token), import, json!({"xml": xml})).await;
    assert_eq!(
        first["importBankStatement"],
        json!({"imported": true, "stored": 3})
    );
    let again = server.ok(Some(&token), import, json!({"xml": xml})).await;
    assert_eq!(
        again["importBankStatement"],
        json!({"imported": false, "stored": 0})
    );

    let reconcile = "mutation($input: ReconcileInput!) { reconcile(input: $input) { stored booked toBook run { id matched unmatchedExternal sha256 } } }";
    let input = |dry: bool| {
        json!({"input": {"account": IBAN, "currency": "EUR", "from": day.to_string(),
            "to": day.to_string(), "dryRun": dry, "book": true}})
    };
    let dry = server.ok(Some(&token), reconcile, input(true)).await["reconcile"].clone();
    assert_eq!(dry["stored"], false);
    assert_eq!(dry["booked"], 0);
    assert_eq!(dry["toBook"], 1);
    let stored = server.ok(Some(&token), reconcile, input(false)).await["reconcile"].clone();
    assert_eq!(
        stored["run"]["sha256"], dry["run"]["sha256"],
        "same inputs, same result"
    );
    assert_eq!(stored["booked"], 1);

    let runs = server
        .ok(
            Some(&token),
            "{ reconciliationRuns(first: 5) { id matched } }",
            json!({}),
        )
        .await;
    assert_eq!(runs["reconciliationRuns"][0]["id"], stored["run"]["id"]);
    let open = server
        .ok(
            Some(&token),
            "query($id: ID!) { openItems(runId: $id) { bucket side ageDays amount { amount currency } } }",
            json!({"id": stored["run"]["id"]}),
        )
        .await;
    assert_eq!(open["openItems"].as_array().unwrap().len(), 2);
    assert_eq!(open["openItems"][0]["ageDays"], 1);

    let trial = server
        .ok(
            Some(&token),
            "{ trialBalance { currency balanced lines { code debit { amount } credit { amount } } } positions { currency coverage { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(trial["trialBalance"][0]["balanced"], true);
    assert_eq!(trial["positions"][0]["coverage"]["amount"], "8.45");
    let before = server
        .ok(
            Some(&token),
            "query($at: String) { trialBalance(at: $at) { lines { code } } }",
            json!({"at": day.add_days(-2).unwrap().to_string()}),
        )
        .await;
    assert_eq!(
        before["trialBalance"],
        json!([]),
        "nothing existed two days ago"
    );

    for query in [
        "{ trialBalance { currency } }",
        "{ reconciliationRuns { id } }",
    ] {
        assert_eq!(
            server.code(Some(&seller_token), query, json!({})).await,
            "forbidden"
        );
        assert_eq!(server.code(None, query, json!({})).await, "unauthenticated");
    }
}
