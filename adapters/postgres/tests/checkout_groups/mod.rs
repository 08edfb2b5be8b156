//! Checkouts stored in groups: a burst held back until it has queued, with stock running
//! out, idempotent retries and a reused key inside it.

use super::*;

fn command(n: u128, lines: Vec<CartLine>) -> CheckoutCommand {
    CheckoutCommand {
        id: CheckoutId::from_uuid(id(5_000 + n)),
        buyer_id: BuyerId::from_uuid(id(1_000 + n)),
        currency: Currency::EUR,
        lines,
        idempotency_key: format!("burst-{n}"),
        customer: bazaar_domain::tax::Customer::Consumer,
    }
}

/// Every fourth buyer also takes a unit of the physical product.
fn cart(n: u128) -> Vec<CartLine> {
    if n.is_multiple_of(4) {
        vec![line(101, 1), line(201, 1)]
    } else {
        vec![line(101, 1)]
    }
}

/// Waits until `backends` sessions wait for a lock.
async fn await_lock_waiters(db: &TestDatabase, backends: i64) {
    let query = "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation IS NOT NULL";
    let mut waiting = count(db, query);
    for _ in 0..500 {
        if waiting >= backends {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waiting = count(db, query);
    }
    assert!(waiting >= backends, "no checkout reached the locked table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_checkouts_is_stored_in_groups_and_each_is_answered_as_if_alone() {
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "DE", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    let eur = |minor| vec![Money::from_minor(minor, Currency::EUR)];
    market
        .add_product(&product(100, &shop, None, eur(999)))
        .await
        .unwrap();
    market
        .add_product(&product(200, &shop, Some(10), eur(1_500)))
        .await
        .unwrap();
    let buyers: u128 = 48;
    for n in 0..buyers {
        market
            .register_buyer(&buyer(1_000 + n, "DE"))
            .await
            .unwrap();
    }
    // Buyer 1's checkout is stored first, so that the burst can retry it and reuse its key.
    let first = market.checkout(&command(1, cart(1))).await.unwrap();

    // Inserting checkouts waits behind this lock until every request has queued.
    let mut blocker = world.db.connect().unwrap();
    sql_query("BEGIN").execute(&mut blocker).unwrap();
    sql_query("LOCK TABLE checkouts IN SHARE MODE")
        .execute(&mut blocker)
        .unwrap();
    let mut requests: Vec<CheckoutCommand> = (0..buyers)
        .filter(|n| *n != 1)
        .map(|n| command(n, cart(n)))
        .collect();
    // Retries of a new checkout and of the stored one, and buyer 1's key with another cart.
    requests.push(command(0, cart(0)));
    requests.push(command(1, cart(1)));
    let mut reused = command(1, vec![line(101, 2)]);
    reused.id = CheckoutId::from_uuid(id(9_001));
    requests.push(reused);
    let tasks: Vec<_> = requests
        .iter()
        .cloned()
        .map(|request| {
            let market = world.market.clone();
            tokio::spawn(async move { market.checkout(&request).await })
        })
        .collect();
    await_lock_waiters(&world.db, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sql_query("COMMIT").execute(&mut blocker).unwrap();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    let mut stored = BTreeMap::new();
    let mut sold_out = 0;
    for (request, answer) in requests.iter().zip(&answers) {
        match answer {
            Ok(record) => {
                assert_eq!(record.plan.id, request.id);
                assert_eq!(record.plan.buyer_id, request.buyer_id);
                let skus: Vec<SkuId> = record.plan.orders[0]
                    .lines
                    .iter()
                    .map(|l| l.sku_id)
                    .collect();
                let asked: Vec<SkuId> = request.lines.iter().map(|l| l.sku_id).collect();
                assert_eq!(skus, asked);
                // What the store reads back is what the request was answered.
                let read = market.store().checkout(record.plan.id).await.unwrap();
                assert_eq!(read.as_ref(), Some(record));
                stored.insert(request.id, record.clone());
            }
            Err(CommerceError::OutOfStock { .. }) => {
                assert!(request.lines.len() == 2, "{request:?}");
                sold_out += 1;
            }
            Err(CommerceError::IdempotencyKeyReused) => {
                assert_eq!(request.id, CheckoutId::from_uuid(id(9_001)));
            }
            Err(other) => panic!("unexpected error {other:?} for {request:?}"),
        }
    }
    // Twelve carts want the physical product's ten units, so two are refused. Buyer 0's retry
    // (request 47) is answered as its first request was, whichever of the two came first;
    // buyer 1's (request 48) with the checkout stored before the burst.
    let (buyer_0, retry_0) = (&answers[0], &answers[47]);
    assert_eq!(buyer_0.is_ok(), retry_0.is_ok());
    assert_eq!(answers[48].as_ref().ok(), Some(&first));
    assert!(matches!(
        answers[49],
        Err(CommerceError::IdempotencyKeyReused)
    ));
    let answered = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(answered, 46 + usize::from(buyer_0.is_ok()));
    assert_eq!(stored.len(), 46);
    assert_eq!(sold_out, 2 + usize::from(buyer_0.is_err()));
    assert_eq!(count(&world.db, "SELECT count(*) AS n FROM checkouts"), 46);
    assert_eq!(
        count(
            &world.db,
            "SELECT reserved::INT8 AS n FROM skus WHERE on_hand > 0"
        ),
        10
    );
    assert_eq!(
        count(
            &world.db,
            "SELECT sum(quantity)::INT8 AS n FROM stock_reservations WHERE state = 'held'"
        ),
        10
    );
    assert_eq!(outbox(&world.db), events(&[("order.created", 46)]));
    // Checkouts stored by one transaction share its id; the burst took fewer transactions
    // than checkouts (buyer 1's, stored alone before, is one of them).
    let transactions = count(
        &world.db,
        "SELECT count(DISTINCT xmin::TEXT) AS n FROM checkouts",
    );
    assert!(
        transactions < 46,
        "{transactions} transactions for 46 checkouts"
    );
}
