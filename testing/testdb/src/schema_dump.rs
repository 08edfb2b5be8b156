//! A canonical, sorted text dump of a database's schema, read from `pg_catalog` (no `pg_dump`
//! binary needed), for comparing two databases: one line per schema, relation, column,
//! constraint, index, view, sequence, type, function, trigger and extension.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::TestDbError;

/// Namespaces that belong to PostgreSQL itself, as a SQL condition on `n.nspname`.
const USER_NAMESPACE: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// The queries, each yielding one text column `line`.
fn queries() -> Vec<(&'static str, String)> {
    vec![
        (
            "schemas",
            format!("SELECT 'schema ' || n.nspname AS line FROM pg_namespace n WHERE {USER_NAMESPACE}"),
        ),
        (
            "relations",
            format!(
                "SELECT format('relation %s.%s kind=%s persistence=%s options=%s',
                        n.nspname, c.relname, c.relkind, c.relpersistence,
                        coalesce(array_to_string(c.reloptions, ','), '')) AS line
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_NAMESPACE}"
            ),
        ),
        (
            "columns",
            format!(
                "SELECT format('column %s.%s #%s %s %s not_null=%s default=%s identity=%s generated=%s collation=%s',
                        n.nspname, c.relname,
                        row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                        a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                        a.attidentity, a.attgenerated, coalesce(co.collname::text, '')) AS line
                 FROM pg_attribute a
                 JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
                 WHERE a.attnum > 0 AND NOT a.attisdropped
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
                   AND {USER_NAMESPACE}"
            ),
        ),
        (
            "constraints",
            format!(
                "SELECT format('constraint %s.%s %s type=%s %s', n.nspname,
                        coalesce(c.relname::text, format_type(con.contypid, NULL)),
                        con.conname, con.contype, pg_get_constraintdef(con.oid, true)) AS line
                 FROM pg_constraint con
                 JOIN pg_namespace n ON n.oid = con.connamespace
                 LEFT JOIN pg_class c ON c.oid = con.conrelid
                 WHERE {USER_NAMESPACE}"
            ),
        ),
        (
            "indexes",
            format!(
                "SELECT 'index ' || pg_get_indexdef(i.indexrelid) AS line
                 FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_NAMESPACE}"
            ),
        ),
        (
            "views",
            format!(
                "SELECT format('view %s.%s %s', n.nspname, c.relname, pg_get_viewdef(c.oid, true)) AS line
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('v', 'm') AND {USER_NAMESPACE}"
            ),
        ),
        (
            "sequences",
            format!(
                "SELECT format('sequence %s.%s type=%s start=%s increment=%s min=%s max=%s cycle=%s',
                        n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart,
                        s.seqincrement, s.seqmin, s.seqmax, s.seqcycle) AS line
                 FROM pg_sequence s
                 JOIN pg_class c ON c.oid = s.seqrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_NAMESPACE}"
            ),
        ),
        (
            "types",
            format!(
                "SELECT format('type %s.%s kind=%s base=%s labels=%s', n.nspname, t.typname, t.typtype,
                        CASE WHEN t.typbasetype <> 0 THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END,
                        coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                  FROM pg_enum e WHERE e.enumtypid = t.oid), '')) AS line
                 FROM pg_type t
                 JOIN pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_class c ON c.oid = t.typrelid
                 WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND c.relkind = 'c'))
                   AND {USER_NAMESPACE}"
            ),
        ),
        (
            "functions",
            format!(
                "SELECT format('function %s.%s(%s) kind=%s %s', n.nspname, p.proname,
                        pg_get_function_identity_arguments(p.oid), p.prokind,
                        CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE '' END) AS line
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE {USER_NAMESPACE}"
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT 'trigger ' || pg_get_triggerdef(tg.oid, true) AS line
                 FROM pg_trigger tg
                 JOIN pg_class c ON c.oid = tg.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT tg.tgisinternal AND {USER_NAMESPACE}"
            ),
        ),
        (
            "extensions",
            "SELECT format('extension %s %s', extname, extversion) AS line FROM pg_extension"
                .to_owned(),
        ),
    ]
}

/// Every schema object outside PostgreSQL's own namespaces, one sorted line each.
pub fn dump_schema(conn: &mut PgConnection) -> Result<Vec<String>, TestDbError> {
    let mut lines = Vec::new();
    for (what, query) in queries() {
        // raw SQL: queries against the system catalogs (pg_class, pg_constraint, ...)
        let rows: Vec<Line> =
            diesel::sql_query(query)
                .load(conn)
                .map_err(|source| TestDbError::Query {
                    action: format!("dumping {what}"),
                    source,
                })?;
        lines.extend(rows.into_iter().map(|row| row.line));
    }
    lines.sort();
    Ok(lines)
}

/// The user tables (and views, sequences, ...) in the database, as `schema.name`, sorted.
pub fn user_relations(conn: &mut PgConnection) -> Result<Vec<String>, TestDbError> {
    // raw SQL: a query against the system catalogs pg_class and pg_namespace
    let rows: Vec<Line> = diesel::sql_query(format!(
        "SELECT n.nspname || '.' || c.relname AS line
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {USER_NAMESPACE}
         ORDER BY 1"
    ))
    .load(conn)
    .map_err(|source| TestDbError::Query {
        action: "listing relations".to_owned(),
        source,
    })?;
    Ok(rows.into_iter().map(|row| row.line).collect())
}
