-- Each order line keeps the tax decision checkout made for it: the amount, the decision
-- itself (place, liable party, scheme, rate, reverse charge, the rule that decided; one
-- line of text written and read by the tax context), and what the line counts toward a
-- threshold that later checkouts compare against.
-- Rules for every migration: docs/cockroachdb.md.

-- The tax charged, in the checkout's currency; part of total_minor.
ALTER TABLE order_lines ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0 CHECK (tax_minor >= 0);
-- NULL on lines taxed before the engine: their tax is tax_bps included in the total and
-- collected by the marketplace in the buyer's country.
ALTER TABLE order_lines ADD COLUMN tax_decision TEXT NULL;
-- Where and how the tax is declared, for the tax reports.
ALTER TABLE order_lines ADD COLUMN tax_place TEXT NULL;
ALTER TABLE order_lines ADD COLUMN tax_scheme TEXT NULL;
-- What the line counts toward: 'eu_distance' (its seller's cross-border sales to EU
-- consumers, in EUR cents) or 'us_state' (the marketplace's sales into tax_place, in US
-- cents).
ALTER TABLE order_lines ADD COLUMN tax_threshold_kind TEXT NULL
    CHECK (tax_threshold_kind IN ('eu_distance', 'us_state'));
ALTER TABLE order_lines ADD COLUMN tax_threshold_minor BIGINT NULL
    CHECK (tax_threshold_minor IS NULL OR tax_threshold_minor >= 0);
-- A business buyer's tax number as given at checkout, what the registry (VIES) answered
-- (confirmed, invalid, registry_unavailable) and its consultation number: the proof that
-- justifies a reverse charge.
ALTER TABLE checkouts ADD COLUMN buyer_tax_id TEXT NULL;
ALTER TABLE checkouts ADD COLUMN tax_id_status TEXT NULL
    CHECK (tax_id_status IN ('confirmed', 'invalid', 'registry_unavailable'));
ALTER TABLE checkouts ADD COLUMN tax_id_consultation TEXT NULL;
-- A buyer's US state, Canadian province or Indian state, where tax depends on it (US-TX).
ALTER TABLE buyers ADD COLUMN tax_area TEXT NULL;
-- The marketplace's sales into a US state, summed at every US checkout.
CREATE INDEX order_lines_by_threshold ON order_lines (tax_threshold_kind, tax_place);
