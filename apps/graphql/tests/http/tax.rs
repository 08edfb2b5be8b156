// Tax over GraphQL against the real server: a business buyer's VAT number checked with the
// (sandbox) registry decides between reverse charge and VAT, the checkout keeps the
// registry's consultation number, and the seller is paid accordingly.

use super::support::Server;
use serde_json::json;

pub(super) const CARD: &str = r#"mutation($id: ID!) { pay(input: {checkoutId: $id, method: "scheme", returnUrl: "http://127.0.0.1/r",
    card: {number: "4111 1111 1111 1111", expiryMonth: 12, expiryYear: 2099}}) { state } }"#;

const CHECKOUT: &str = r#"mutation($sku: ID!, $key: String!, $vat: String) {
    checkout(idempotencyKey: $key, input: {currency: "EUR", vatId: $vat, lines: [{skuId: $sku, quantity: 1}]}) {
      id total { amount } taxId { number status consultation }
      orders { id lines { total { amount } tax { amount { amount } rate place liable scheme reverseCharge reason } } } } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_business_buying_a_french_course_is_reverse_charged_only_with_a_confirmed_vat_id()
{
    let server = Server::start(&[("BAZAAR_SANDBOX_VIES_REGISTERED", "DE136695976")]).await;
    let seller = server
        .sign_up("paris@courses.test", "SELLER", "FR", Some("EUR"))
        .await;
    let buyer = server.sign_up("gmbh@buyer.test", "BUYER", "DE", None).await;
    let (_, sku) = server
        .create_product(
            &seller,
            r#"mutation { createProduct(idempotencyKey: "course", input: {title: "Rust for teams", description: "Recorded lessons",
                 category: "courses", kind: DIGITAL, skus: [{code: "C1", title: "Course", prices: [{amount: "119.00", currency: "EUR"}]}]}) { id } }"#,
        )
        .await;

    // Confirmed by the registry: the German business accounts for the VAT itself.
    let confirmed = server
        .ok(
            Some(&buyer),
            CHECKOUT,
            json!({"sku": sku, "key": "b2b", "vat": "de 136 695 976"}),
        )
        .await;
    let checkout = &confirmed["checkout"];
    assert_eq!(checkout["taxId"]["number"], "DE136695976");
    assert_eq!(checkout["taxId"]["status"], "confirmed");
    assert!(
        checkout["taxId"]["consultation"]
            .as_str()
            .unwrap()
            .starts_with("WAPI")
    );
    let tax = &checkout["orders"][0]["lines"][0]["tax"];
    assert_eq!(tax["amount"]["amount"], "0.00");
    assert_eq!(tax["rate"], "0%");
    assert_eq!(tax["place"], "DE");
    assert_eq!(tax["liable"], "buyer");
    assert_eq!(tax["scheme"], "reverse_charge");
    assert_eq!(tax["reverseCharge"], true);
    assert_eq!(tax["reason"], "eu_reverse_charge_service");
    let id = checkout["id"].as_str().unwrap().to_owned();
    let paid = server.ok(Some(&buyer), CARD, json!({"id": id})).await;
    assert_eq!(paid["pay"]["state"], "CAPTURED");
    // No VAT in the price: the seller gets 119.00 less 10% commission.
    let balances = server
        .ok(
            Some(&seller),
            "{ sellerBalances { pending { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(balances["sellerBalances"]["pending"]["amount"], "107.10");
    // The invoice names both VAT numbers, charges nothing and says "Reverse charge".
    server
        .ok(
            Some(&seller),
            r#"mutation { registerTax(area: "FR", number: "40303265045") { number } }"#,
            json!({}),
        )
        .await;
    let order = checkout["orders"][0]["id"].as_str().unwrap().to_owned();
    let invoice = server
        .ok(
            Some(&buyer),
            r#"query($id: ID!) { invoice(orderId: $id) { seller { taxNumber } buyer { taxNumber }
                 marketplace { name } tax { amount } total { amount } notes html } }"#,
            json!({"id": order}),
        )
        .await;
    let invoice = &invoice["invoice"];
    assert_eq!(invoice["seller"]["taxNumber"], "FR40303265045");
    assert_eq!(invoice["buyer"]["taxNumber"], "DE136695976");
    assert_eq!(invoice["marketplace"], serde_json::Value::Null);
    assert_eq!(invoice["tax"]["amount"], "0.00");
    assert_eq!(invoice["total"]["amount"], "119.00");
    assert!(
        invoice["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("Reverse charge")
    );
    assert!(
        invoice["html"]
            .as_str()
            .unwrap()
            .contains("id=\"reverse-charge\"")
    );

    // A number with good check digits that the registry does not know: charged as a
    // consumer, and the checkout says why.
    let unknown = server
        .ok(
            Some(&buyer),
            CHECKOUT,
            json!({"sku": sku, "key": "unknown", "vat": "DE129273398"}),
        )
        .await;
    let checkout = &unknown["checkout"];
    assert_eq!(checkout["taxId"]["status"], "invalid");
    assert_eq!(checkout["taxId"]["consultation"], serde_json::Value::Null);
    let tax = &checkout["orders"][0]["lines"][0]["tax"];
    assert_eq!(tax["reverseCharge"], false);
    assert_eq!(tax["liable"], "seller");
    // Below the EU threshold: France's 20% of 119.00 tax included.
    assert_eq!(tax["place"], "FR");
    assert_eq!(tax["amount"]["amount"], "19.83");

    // Bad check digits are the buyer's to correct: refused, nothing written.
    let code = server
        .code(
            Some(&buyer),
            CHECKOUT,
            json!({"sku": sku, "key": "typo", "vat": "DE136695978"}),
        )
        .await;
    assert_eq!(code, "vat_id_check_digit");
    // The same key with another VAT number is a different request.
    let code = server
        .code(
            Some(&buyer),
            CHECKOUT,
            json!({"sku": sku, "key": "b2b", "vat": "DE129273398"}),
        )
        .await;
    assert_eq!(code, "idempotency_key_reused");
}
