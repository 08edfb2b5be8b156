-- Running totals of the sales that count toward tax thresholds, so that a checkout reads a
-- few rows instead of summing every order since the start of last year:
--   threshold 'eu_distance': a seller's EU distance sales (subject: the seller's id);
--   threshold 'us_state': the marketplace's sales into a US state and their orders
--   (subject: the state, as order_lines.tax_place names it).
-- Amounts are minor units of the threshold's currency (EUR for eu_distance, USD for
-- us_state), as order_lines.tax_threshold_minor holds them; year is the UTC calendar year of
-- the order's creation.
-- The row with shard -1 is the base: the sum over the orders that existed when it was
-- computed from them (the first time a checkout needed the total). After that, every
-- transaction that creates or cancels an order adds its part to one of the rows 0..15,
-- chosen from the checkout's or order's id, so that concurrent checkouts seldom update the
-- same row; a key without a base gets no increments (its base, computed later, counts them).
-- A total is the sum of a key's rows.
-- Rules for every migration: docs/cockroachdb.md.
CREATE TABLE tax_threshold_totals (
    threshold TEXT NOT NULL CHECK (threshold IN ('eu_distance', 'us_state')),
    subject TEXT NOT NULL,
    year INT NOT NULL,
    shard INT NOT NULL CHECK (shard BETWEEN -1 AND 15),
    sales_minor BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (threshold, subject, year, shard)
);
