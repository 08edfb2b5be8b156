//! diesel's table definitions (`bazaar_schema::schema`) match the migrated database: every
//! table and column exists, with the same type and nullability, and nothing is missing from
//! them; every table that looks like personal data has a `home_region` column.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on a database error"
)]

use std::collections::BTreeMap;

use bazaar_schema::schema;
use bazaar_testdb::TestDatabase;
use bazaar_testdb::migration_lint::{HOME_REGION_COLUMN, is_personal_data_table};
use diesel::pg::{Pg, PgMetadataLookup};
use diesel::prelude::*;
use diesel::sql_types::is_nullable::{IsNullable, NotNull};
use diesel::sql_types::{Bool, HasSqlType, Oid, SqlType, Text};
use diesel::{Column, Expression, Table};

/// A column as diesel or the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ColumnDef {
    name: String,
    type_oid: u32,
    nullable: bool,
}

trait Nullability {
    const NULLABLE: bool;
}

impl Nullability for IsNullable {
    const NULLABLE: bool = true;
}

impl Nullability for NotNull {
    const NULLABLE: bool = false;
}

fn diesel_column<C>(lookup: &mut (dyn PgMetadataLookup + 'static)) -> ColumnDef
where
    C: Column + Expression,
    <C as Expression>::SqlType: SqlType,
    Pg: HasSqlType<<C as Expression>::SqlType>,
    <<C as Expression>::SqlType as SqlType>::IsNull: Nullability,
{
    let type_oid = <Pg as HasSqlType<<C as Expression>::SqlType>>::metadata(lookup)
        .oid()
        .unwrap_or(0);
    ColumnDef {
        name: C::NAME.to_owned(),
        type_oid,
        nullable: <<<C as Expression>::SqlType as SqlType>::IsNull as Nullability>::NULLABLE,
    }
}

/// The columns of a table's `all_columns` tuple.
trait Columns {
    fn describe(lookup: &mut (dyn PgMetadataLookup + 'static)) -> Vec<ColumnDef>;
}

macro_rules! tuple_columns {
    ($($c:ident),+) => {
        impl<$($c),+> Columns for ($($c,)+)
        where
            $(
                $c: Column + Expression,
                <$c as Expression>::SqlType: SqlType,
                Pg: HasSqlType<<$c as Expression>::SqlType>,
                <<$c as Expression>::SqlType as SqlType>::IsNull: Nullability,
            )+
        {
            fn describe(lookup: &mut (dyn PgMetadataLookup + 'static)) -> Vec<ColumnDef> {
                vec![$(diesel_column::<$c>(lookup)),+]
            }
        }
    };
}

/// Implements [`Columns`] for tuples of every length from 32 down to 1.
macro_rules! all_tuple_columns {
    ($first:ident $(, $rest:ident)*) => {
        tuple_columns!($first $(, $rest)*);
        all_tuple_columns!($($rest),*);
    };
    () => {};
}

all_tuple_columns!(
    C01, C02, C03, C04, C05, C06, C07, C08, C09, C10, C11, C12, C13, C14, C15, C16, C17, C18, C19,
    C20, C21, C22, C23, C24, C25, C26, C27, C28, C29, C30, C31, C32
);

fn describe_table<T>(lookup: &mut (dyn PgMetadataLookup + 'static)) -> Vec<ColumnDef>
where
    T: Table,
    T::AllColumns: Columns,
{
    <T::AllColumns as Columns>::describe(lookup)
}

/// Every table of `bazaar_schema::schema`, with its columns. A table added to schema.rs must be
/// added here too (`the_table_list_matches_schema_rs` fails until it is).
macro_rules! diesel_tables {
    ($lookup:expr; $($table:ident),+ $(,)?) => {
        vec![$((
            stringify!($table).to_owned(),
            describe_table::<schema::$table::table>($lookup),
        )),+]
    };
}

fn diesel_schema(conn: &mut PgConnection) -> Vec<(String, Vec<ColumnDef>)> {
    diesel_tables!(conn;
        ledger_accounts,
        ledger_transfers,
        ledger_pending,
        ledger_expirations,
        ledger_reversals,
        ledger_failures,
        ledger_clock,
        ledger_journal,
        ledger_applied,
        sellers,
        commission_rates,
        buyers,
        products,
        skus,
        sku_prices,
        checkouts,
        orders,
        order_lines,
        stock_reservations,
        payments,
        payment_events,
        refunds,
        reviews,
        ledger_intents,
        notification_failures,
        users,
        sessions,
        catalog_changes,
        tax_threshold_totals,
        outbox_events,
        processed_messages,
        event_counts,
        webhook_endpoints,
        webhook_deliveries,
        webhook_attempts,
        bank_accounts,
        payout_settings,
        payouts,
        payout_rail_events,
        payout_rail_cursor,
        sandbox_rail_submissions,
        sandbox_rail_events,
        sandbox_rail_clock,
        sandbox_bank_entries,
        payout_card_settlements,
        recon_imports,
        recon_bank_entries,
        recon_provider_rows,
        recon_runs,
        recon_run_items,
        seller_tax_registrations,
        tax_remittances,
        loan_offers,
        loans,
        audit_log,
        audit_head,
        audit_checkpoints,
    )
}

#[derive(QueryableByName)]
struct DbColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Oid)]
    type_oid: u32,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

/// The columns of every table in the `public` schema except diesel's bookkeeping.
fn database_schema(conn: &mut PgConnection) -> BTreeMap<String, Vec<ColumnDef>> {
    let rows: Vec<DbColumn> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name,
                a.atttypid AS type_oid, NOT a.attnotnull AS nullable
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND c.relname <> '__diesel_schema_migrations'
           AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY c.relname, a.attnum",
    )
    .load(conn)
    .unwrap();
    let mut tables: BTreeMap<String, Vec<ColumnDef>> = BTreeMap::new();
    for row in rows {
        tables.entry(row.table_name).or_default().push(ColumnDef {
            name: row.column_name,
            type_oid: row.type_oid,
            nullable: row.nullable,
        });
    }
    tables
}

/// `text`, `varchar` and `bpchar`: diesel's `Text`, `Varchar` and `Bpchar` are one type (OID
/// of `text`), which reads and writes all three.
const TEXT_LIKE_OIDS: [u32; 3] = [25, 1043, 1042];

fn compatible(diesel_oid: u32, database_oid: u32) -> bool {
    diesel_oid == database_oid
        || (TEXT_LIKE_OIDS.contains(&diesel_oid) && TEXT_LIKE_OIDS.contains(&database_oid))
}

/// Every difference between diesel's view and the database, one line each.
fn schema_problems(conn: &mut PgConnection) -> Vec<String> {
    let diesel = diesel_schema(conn);
    let mut database = database_schema(conn);
    let mut problems = Vec::new();
    for (table, columns) in diesel {
        let Some(db_columns) = database.remove(&table) else {
            problems.push(format!("table {table}: in schema.rs, not in the database"));
            continue;
        };
        for column in &columns {
            match db_columns.iter().find(|c| c.name == column.name) {
                None => problems.push(format!(
                    "column {table}.{}: in schema.rs, not in the database",
                    column.name
                )),
                Some(db) => {
                    if !compatible(column.type_oid, db.type_oid) {
                        problems.push(format!(
                            "column {table}.{}: schema.rs has type oid {}, the database {}",
                            column.name, column.type_oid, db.type_oid
                        ));
                    }
                    if column.nullable != db.nullable {
                        problems.push(format!(
                            "column {table}.{}: nullable in schema.rs {}, in the database {}",
                            column.name, column.nullable, db.nullable
                        ));
                    }
                }
            }
        }
        for db in db_columns {
            if !columns.iter().any(|c| c.name == db.name) {
                problems.push(format!(
                    "column {table}.{}: in the database, not in schema.rs",
                    db.name
                ));
            }
        }
    }
    for table in database.keys() {
        problems.push(format!(
            "table {table}: in the database, not in schema.rs (or not in this test's list)"
        ));
    }
    problems
}

/// Tables whose names suggest personal data but that have no `home_region` column.
fn personal_tables_without_home_region(conn: &mut PgConnection) -> Vec<String> {
    database_schema(conn)
        .into_iter()
        .filter(|(table, columns)| {
            is_personal_data_table(table) && !columns.iter().any(|c| c.name == HOME_REGION_COLUMN)
        })
        .map(|(table, _)| table)
        .collect()
}

#[test]
fn diesel_tables_match_the_migrated_database() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    assert!(
        diesel_schema(&mut conn)
            .iter()
            .all(|(_, columns)| !columns.is_empty())
    );
    let problems = schema_problems(&mut conn);
    assert!(
        problems.is_empty(),
        "schema.rs and migrations/ disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_schema_check_sees_differences() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    for statement in [
        "ALTER TABLE ledger_failures DROP COLUMN error",
        "ALTER TABLE ledger_clock ALTER COLUMN last_ts DROP NOT NULL",
        "ALTER TABLE ledger_reversals ALTER COLUMN reversed_total TYPE INT",
        "ALTER TABLE ledger_accounts ADD COLUMN extra TEXT",
        "CREATE TABLE ledger_unknown (id UUID PRIMARY KEY)",
        "DROP TABLE ledger_expirations",
    ] {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    }
    let problems = schema_problems(&mut conn);
    for expected in [
        "column ledger_failures.error: in schema.rs, not in the database",
        "column ledger_clock.last_ts: nullable in schema.rs false, in the database true",
        "column ledger_reversals.reversed_total: schema.rs has type oid 20, the database 23",
        "column ledger_accounts.extra: in the database, not in schema.rs",
        "table ledger_unknown: in the database",
        "table ledger_expirations: in schema.rs, not in the database",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn the_table_list_matches_schema_rs() {
    let source = [
        include_str!("../../../adapters/schema/src/schema.rs"),
        include_str!("../../../adapters/schema/src/schema/ledger.rs"),
    ]
    .concat();
    let mut in_source: Vec<String> = source
        .split("table! {")
        .skip(1)
        .filter_map(|rest| {
            rest.lines()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with("//"))
                .and_then(|line| line.split([' ', '(']).next())
                .map(str::to_owned)
        })
        .collect();
    in_source.sort();
    assert!(!in_source.is_empty());
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    let mut listed: Vec<String> = diesel_schema(&mut conn)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    listed.sort();
    assert_eq!(
        listed, in_source,
        "update diesel_schema() in tests/schema.rs"
    );
}

#[test]
fn personal_data_tables_have_a_home_region() {
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    assert_eq!(
        personal_tables_without_home_region(&mut conn),
        Vec::<String>::new()
    );

    // The check is not vacuous: a personal-data table without the column is caught.
    diesel::sql_query("CREATE TABLE buyer_addresses (id UUID PRIMARY KEY)")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "CREATE TABLE seller_profiles (id UUID PRIMARY KEY, home_region TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(
        personal_tables_without_home_region(&mut conn),
        vec!["buyer_addresses"]
    );
}
