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
    register_german_buyers(market, buyers).await;
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
    await_lock_waiters(&mut blocker).await;
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

/// Waits until some session waits for a lock, asking on `conn`; returns how many statements
/// it sent.
async fn await_lock_waiters(conn: &mut PgConnection) -> u64 {
    let query = "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation IS NOT NULL";
    let mut sent = 0;
    let mut waiting = 0;
    while waiting == 0 && sent < 500 {
        if sent > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        sent += 1;
        waiting = sql_query(query).get_result::<Count>(conn).unwrap().n;
    }
    assert!(waiting > 0, "nothing reached the locked tables");
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_by_id_that_arrive_together_share_a_statement_and_each_gets_its_own_rows() {
    bazaar_postgres::count_queries();
    let world = world().await;
    let market = &world.market;
    let shops: Vec<Seller> = (0..8)
        .map(|n| seller(10 + n, "DE", Currency::EUR, 1_000))
        .collect();
    for (n, shop) in (0..).zip(&shops) {
        market.register_seller(shop).await.unwrap();
        let prices = vec![Money::from_minor(999, Currency::EUR)];
        market
            .add_product(&product(100 + 10 * n, shop, None, prices))
            .await
            .unwrap();
    }
    let requests: u128 = 40;
    register_german_buyers(market, requests).await;
    // Each request asks for two SKUs (one of them twice) and one that does not exist.
    let asked = |n: u128| {
        let (a, b) = (n % 8, (n + 3) % 8);
        let skus =
            [101 + 10 * a, 101 + 10 * b, 101 + 10 * a, 99_999].map(|s| SkuId::from_uuid(id(s)));
        (
            skus,
            SellerId::from_uuid(id(10 + a)),
            BuyerId::from_uuid(id(1_000 + n)),
        )
    };

    // The reads wait behind this lock until every request has queued.
    let mut blocker = world.db.connect().unwrap();
    sql_query("BEGIN").execute(&mut blocker).unwrap();
    sql_query("LOCK TABLE skus, sellers, commission_rates, buyers IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .unwrap();
    let before = bazaar_postgres::queries_executed();
    let tasks: Vec<_> = (0..requests)
        .map(|n| {
            let market = world.market.clone();
            tokio::spawn(async move {
                let store = market.store();
                let (skus, seller, buyer) = asked(n);
                let seller = [seller];
                let (skus, sellers, buyer) = tokio::join!(
                    store.sku_views(&skus),
                    store.sellers(&seller),
                    store.buyer(buyer)
                );
                (skus.unwrap(), sellers.unwrap(), buyer.unwrap())
            })
        })
        .collect();
    let mut own = await_lock_waiters(&mut blocker).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // 120 reads, and no more statements at the lock than the store runs at once.
    let at_the_lock = sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND datname = current_database()",
    )
    .get_result::<Count>(&mut blocker)
    .unwrap()
    .n;
    sql_query("COMMIT").execute(&mut blocker).unwrap();
    own += 2;
    let readers = i64::try_from(3 * bazaar_postgres::READERS).unwrap();
    assert!(
        (1..=readers).contains(&at_the_lock),
        "{at_the_lock} statements wait"
    );

    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    // The queued reads were answered by a few statements, not one each (the pool's
    // check-out probes of connections idle for a second count too).
    let statements = bazaar_postgres::queries_executed() - before - own;
    assert!(statements <= 30, "{statements} statements for 120 reads");
    for (n, (skus, sellers, buyer)) in (0..requests).zip(answers) {
        let (asked_skus, seller, buyer_id) = asked(n);
        let mut got: Vec<SkuId> = skus.iter().map(|s| s.sku_id).collect();
        got.sort();
        let mut expected: Vec<SkuId> = asked_skus[..2].to_vec();
        expected.sort();
        expected.dedup();
        assert_eq!(got, expected, "request {n}");
        assert_eq!(sellers.iter().map(|s| s.id).collect::<Vec<_>>(), [seller]);
        assert_eq!(buyer.map(|b| b.id), Some(buyer_id));
    }
}

/// Each page asks for two products (one of them twice) and one that does not exist; every
/// fourth asks for one product only, though both exist.
fn asked_page(n: u128) -> (Vec<ProductId>, u32) {
    let (a, b) = (n % 8, (n + 5) % 8);
    let ids = [100 + 10 * a, 100 + 10 * b, 100 + 10 * a, 99_999]
        .map(|p| ProductId::from_uuid(id(p)))
        .to_vec();
    let limit = if n.is_multiple_of(4) { 1 } else { 100 };
    (ids, limit)
}

fn page_query(n: u128, kind: Option<ProductKind>) -> ProductQuery {
    let (ids, limit) = asked_page(n);
    ProductQuery {
        ids: Some(ids),
        limit,
        kind,
        ..ProductQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_pages_read_together_share_a_statement_and_match_the_search() {
    bazaar_postgres::count_queries();
    let world = world().await;
    let market = &world.market;
    let shop = seller(1, "DE", Currency::EUR, 1_000);
    market.register_seller(&shop).await.unwrap();
    for n in 0u8..8 {
        let prices = vec![Money::from_minor(999 + i64::from(n), Currency::EUR)];
        market
            .add_product(&product(100 + 10 * u128::from(n), &shop, None, prices))
            .await
            .unwrap();
    }
    // The same reads through the search statement (every product here is digital), one
    // statement each, before any page waits.
    let mut searched = Vec::new();
    for n in 0..40 {
        let found = market
            .search(&page_query(n, Some(ProductKind::Digital)))
            .await
            .unwrap();
        searched.push(found);
    }

    let mut blocker = world.db.connect().unwrap();
    sql_query("BEGIN").execute(&mut blocker).unwrap();
    sql_query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .unwrap();
    let before = bazaar_postgres::queries_executed();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let market = world.market.clone();
            tokio::spawn(async move { market.search(&page_query(n, None)).await.unwrap() })
        })
        .collect();
    let mut own = await_lock_waiters(&mut blocker).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sql_query("COMMIT").execute(&mut blocker).unwrap();
    own += 1;
    let mut pages = Vec::new();
    for task in tasks {
        pages.push(task.await.unwrap());
    }
    let statements = bazaar_postgres::queries_executed() - before - own;
    assert!(
        statements <= 10,
        "{statements} statements for 40 product pages"
    );
    for (n, (page, searched)) in (0..).zip(pages.iter().zip(&searched)) {
        let (ids, limit) = asked_page(n);
        let mut expected: Vec<ProductId> = ids[..2].to_vec();
        expected.sort();
        expected.dedup();
        expected.truncate(usize::try_from(limit).unwrap());
        assert_eq!(
            page.iter().map(|p| p.id).collect::<Vec<_>>(),
            expected,
            "page {n}"
        );
        assert_eq!(page, searched, "page {n}");
    }
}
