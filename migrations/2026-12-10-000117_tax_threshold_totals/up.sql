-- Running totals of the sales that count toward tax thresholds, so that a checkout reads a
-- few rows instead of summing every order since the start of last year:
--   threshold 'eu_distance': a seller's EU distance sales (subject: the seller's id);
--   threshold 'us_state': the marketplace's sales into a US state and their orders
--   (subject: the state, as order_lines.tax_place names it).
-- Amounts are minor units of the threshold's currency (EUR for eu_distance, USD for
-- us_state), as order_lines.tax_threshold_minor holds them; year is the UTC calendar year of
-- the order's creation. A total is the sum of its key's rows.
-- Rows are only ever inserted by checkouts, so that concurrent checkouts never read or update
-- a row another one writes: the transaction that creates orders with threshold lines inserts
-- one row per key with what they add (entry: the checkout's id), the one that cancels them
-- one row taking it away (entry: derived from the checkout's id). The row whose entry is the
-- nil UUID is the base: written the first time a checkout needs the total, as the orders'
-- sum minus the other rows of the key, both read in one statement; later, the entry rows are
-- folded into it and deleted, so that a key keeps few rows.
-- Rules for every migration: docs/cockroachdb.md.
CREATE TABLE tax_threshold_totals (
    threshold TEXT NOT NULL CHECK (threshold IN ('eu_distance', 'us_state')),
    subject TEXT NOT NULL,
    year INT NOT NULL,
    entry UUID NOT NULL,
    sales_minor BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (threshold, subject, year, entry)
);
