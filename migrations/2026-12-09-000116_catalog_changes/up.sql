-- The catalogue's change feed. Every transaction that changes what a product's page shows (a
-- new product, stock reserved, sold or released, a new review) writes a row for that product
-- here, in the same transaction; every API process reads the rows of the last few seconds
-- several times a second and stops serving the answers it kept for those products
-- (apps/graphql/src/read_cache.rs). Rows older than a minute are deleted.
-- A product changed twice in the same microsecond needs one row: writers insert with
-- ON CONFLICT DO NOTHING. On CockroachDB the index on changed_at is declared hash-sharded
-- (`USING HASH`), so that inserts at the newest time do not all land on one range.
-- Rules for every migration: docs/cockroachdb.md.
CREATE TABLE catalog_changes (
    product_id UUID NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, changed_at)
);
CREATE INDEX catalog_changes_by_time ON catalog_changes (changed_at);
