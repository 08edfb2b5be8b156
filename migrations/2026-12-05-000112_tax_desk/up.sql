-- Products carry a tax code; order lines keep the one they were sold under. Sellers keep
-- their tax registrations; each remittance of a tax payable for a return period is kept.
-- Rules for every migration: docs/cockroachdb.md.

-- general_goods, books, food, e_service, live_event; NULL on products created before tax
-- codes: their kind's default (general_goods for physical, e_service for digital).
ALTER TABLE products ADD COLUMN tax_code TEXT NULL
    CHECK (tax_code IN ('general_goods', 'books', 'food', 'e_service', 'live_event'));
ALTER TABLE order_lines ADD COLUMN tax_code TEXT NULL
    CHECK (tax_code IN ('general_goods', 'books', 'food', 'e_service', 'live_event'));

-- One registration per seller and area (FR, US-TX, IN-MH), the number compact and checked.
-- A sole trader's number is personal data: the row lives in its seller's home region.
CREATE TABLE seller_tax_registrations (
    seller_id UUID NOT NULL REFERENCES sellers (id),
    area TEXT NOT NULL CHECK (length(area) BETWEEN 2 AND 6),
    number TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 30),
    home_region TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (seller_id, area)
);

-- What was paid from the bank to an authority for one payable, currency and period; the
-- ledger transfer's id derives from the three. posted_at is the ledger's timestamp.
CREATE TABLE tax_remittances (
    jurisdiction TEXT NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    period TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    posted_at BIGINT NOT NULL,
    PRIMARY KEY (jurisdiction, currency, period)
);
