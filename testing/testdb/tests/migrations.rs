//! The migrations revert cleanly and follow the CockroachDB rules (docs/cockroachdb.md).

use std::path::Path;

use bazaar_schema::MIGRATIONS;
use bazaar_testdb::TestDatabase;
use bazaar_testdb::migration_lint::lint_migrations_dir;
use bazaar_testdb::schema_dump::{dump_schema, user_relations};
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_migrations::MigrationHarness;

fn migrations_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// The lines only in `left` and only in `right`, for a readable failure.
fn diff(left: &[String], right: &[String]) -> String {
    let only_left = left.iter().filter(|line| !right.contains(line));
    let only_right = right.iter().filter(|line| !left.contains(line));
    only_left
        .map(|line| format!("- {line}"))
        .chain(only_right.map(|line| format!("+ {line}")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn migrations_go_up_down_and_up_again_to_the_same_schema() {
    let db = TestDatabase::empty().unwrap();
    let mut conn = db.connect().unwrap();
    let count = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .unwrap()
        .len();
    assert!(count > 0, "no migrations embedded");

    // Before any migration: only diesel's bookkeeping table.
    assert_eq!(conn.applied_migrations().unwrap(), vec![]);
    let empty = dump_schema(&mut conn).unwrap();
    assert_eq!(
        user_relations(&mut conn).unwrap(),
        vec!["public.__diesel_schema_migrations"]
    );

    // One step at a time: each down.sql undoes exactly its up.sql.
    let mut before = empty.clone();
    for step in 0..count {
        conn.run_next_migration(MIGRATIONS).unwrap();
        let after = dump_schema(&mut conn).unwrap();
        assert_ne!(after, before, "migration {step} changed nothing");
        conn.revert_last_migration(MIGRATIONS).unwrap();
        let reverted = dump_schema(&mut conn).unwrap();
        assert!(
            reverted == before,
            "reverting migration {step} did not restore the schema:\n{}",
            diff(&before, &reverted)
        );
        conn.run_next_migration(MIGRATIONS).unwrap();
        before = after;
    }
    assert!(!conn.has_pending_migration(MIGRATIONS).unwrap());

    // All the way up, all the way down, all the way up.
    let first = dump_schema(&mut conn).unwrap();
    assert!(
        first
            .iter()
            .any(|line| line.starts_with("relation public.ledger_accounts kind=r")),
        "the dump does not show the ledger tables:\n{}",
        first.join("\n")
    );
    assert!(first.iter().any(|line| line.starts_with("constraint ")));
    assert!(first.iter().any(|line| line.starts_with("index ")));

    let reverted = conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert_eq!(reverted.len(), count);
    assert_eq!(
        user_relations(&mut conn).unwrap(),
        vec!["public.__diesel_schema_migrations"],
        "tables left behind by down.sql"
    );
    let down = dump_schema(&mut conn).unwrap();
    assert!(
        down == empty,
        "objects left behind by down.sql:\n{}",
        diff(&empty, &down)
    );

    assert_eq!(
        bazaar_schema::run_pending_migrations(&mut conn).unwrap(),
        count
    );
    let second = dump_schema(&mut conn).unwrap();
    assert!(
        first == second,
        "up, down, up gives another schema:\n{}",
        diff(&first, &second)
    );
}

/// Lints every migration under `dir` and checks it read as many as diesel embeds from
/// `embedded`, each with a `down.sql`, and that none breaks the CockroachDB rules.
#[expect(clippy::unwrap_used, reason = "a test helper fails loudly")]
fn assert_lint_clean(dir: &Path, embedded: &diesel_migrations::EmbeddedMigrations) {
    let report = lint_migrations_dir(dir).unwrap();
    let count = |suffix: &str| report.files.iter().filter(|f| f.ends_with(suffix)).count();
    let ups = count("up.sql");
    let embedded = MigrationSource::<Pg>::migrations(embedded).unwrap().len();
    assert!(ups > 0, "no migrations found in {}", dir.display());
    assert_eq!(
        ups, embedded,
        "the lint did not read every migration diesel embeds"
    );
    assert_eq!(count("down.sql"), ups, "every migration needs a down.sql");
    assert!(
        report.violations.is_empty(),
        "migrations break the CockroachDB rules (docs/cockroachdb.md):\n{}",
        report
            .violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn migrations_follow_the_cockroachdb_rules() {
    assert_lint_clean(&migrations_dir(), &MIGRATIONS);
}

#[test]
fn the_vault_database_migrations_follow_the_cockroachdb_rules_too() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../adapters/schema/vault_migrations");
    assert_lint_clean(&dir, &bazaar_schema::vault::VAULT_MIGRATIONS);
}
