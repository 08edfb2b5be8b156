//! Each test database is separate, migrated, and gone once dropped.

use bazaar_testdb::{TestDatabase, admin_url, connect, schema_dump, template_name};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64, diesel::result::Error> {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .map(|row| row.n)
}

fn database_exists(name: &str) -> Result<bool, Box<dyn std::error::Error>> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        present: bool,
    }
    let mut admin = connect(&admin_url())?;
    Ok(
        diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS present",
        )
        .bind::<Text, _>(name)
        .get_result::<Exists>(&mut admin)?
        .present,
    )
}

const INSERT_ACCOUNT: &str = "INSERT INTO ledger_accounts
    (id, currency, code, owner, normal_side, balance_constraint, overdraft, created_at)
    VALUES (gen_random_uuid(), 'EUR', 'bank', 'platform', 'debit', 'none', 0, 0)";

#[test]
fn each_test_database_is_migrated_and_separate() {
    let a = TestDatabase::new().unwrap();
    let b = TestDatabase::new().unwrap();
    assert_ne!(a.name(), b.name());
    assert_ne!(a.url(), b.url());

    let mut conn_a = a.connect().unwrap();
    let mut conn_b = b.connect().unwrap();
    for (db, conn) in [(&a, &mut conn_a), (&b, &mut conn_b)] {
        let current: Name = diesel::sql_query("SELECT current_database()::text AS name")
            .get_result(conn)
            .unwrap();
        assert_eq!(current.name, db.name());
        assert!(bazaar_schema::migrations_are_current(conn).unwrap());
        assert_eq!(
            count(conn, "SELECT count(*) AS n FROM ledger_accounts").unwrap(),
            0
        );
    }

    diesel::sql_query(INSERT_ACCOUNT)
        .execute(&mut conn_a)
        .unwrap();
    assert_eq!(
        count(&mut conn_a, "SELECT count(*) AS n FROM ledger_accounts").unwrap(),
        1
    );
    assert_eq!(
        count(&mut conn_b, "SELECT count(*) AS n FROM ledger_accounts").unwrap(),
        0
    );
}

#[test]
fn dropping_removes_the_database_even_with_open_connections() {
    let db = TestDatabase::new().unwrap();
    let name = db.name().to_owned();
    let conn = db.connect().unwrap();
    assert!(database_exists(&name).unwrap());
    drop(db);
    assert!(!database_exists(&name).unwrap());
    drop(conn);
}

#[test]
fn databases_can_be_created_from_many_threads_at_once() {
    let databases: Vec<TestDatabase> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(TestDatabase::new)).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap().unwrap())
            .collect()
    });
    let mut names: Vec<&str> = databases.iter().map(TestDatabase::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 4);
    for db in &databases {
        let mut conn = db.connect().unwrap();
        assert!(bazaar_schema::migrations_are_current(&mut conn).unwrap());
    }
}

#[test]
fn empty_databases_have_no_tables() {
    let db = TestDatabase::empty().unwrap();
    let mut conn = db.connect().unwrap();
    assert_eq!(
        schema_dump::user_relations(&mut conn).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn the_template_is_closed_to_connections() {
    drop(TestDatabase::new().unwrap());
    let template = template_name();
    assert!(template.ends_with(bazaar_testdb::MIGRATIONS_HASH));
    assert!(database_exists(&template).unwrap());
    let url = bazaar_testdb::database_url(&admin_url(), &template).unwrap();
    assert!(connect(&url).is_err());
}
