-- Loans to sellers: the offers their sales earned and the loans that accepted them.
-- Days are days since 1970-01-01 (UTC). Rules for every migration: docs/cockroachdb.md.

CREATE TABLE loan_offers (
    id UUID PRIMARY KEY,
    seller_id UUID NOT NULL REFERENCES sellers (id),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    advance_minor BIGINT NOT NULL CHECK (advance_minor > 0),
    fee_minor BIGINT NOT NULL CHECK (fee_minor >= 0),
    withhold_bps INT NOT NULL CHECK (withhold_bps BETWEEN 1 AND 10000),
    minimum_minor BIGINT NOT NULL CHECK (minimum_minor > 0),
    tier TEXT NOT NULL CHECK (tier IN ('a', 'b', 'c')),
    offered_on BIGINT NOT NULL,
    expires_on BIGINT NOT NULL,
    -- The loan that accepted it.
    loan_id UUID NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX loan_offers_by_seller ON loan_offers (seller_id);

CREATE TABLE loans (
    id UUID PRIMARY KEY,
    offer_id UUID NOT NULL UNIQUE REFERENCES loan_offers (id),
    seller_id UUID NOT NULL REFERENCES sellers (id),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    advance_minor BIGINT NOT NULL,
    fee_minor BIGINT NOT NULL,
    withhold_bps INT NOT NULL,
    minimum_minor BIGINT NOT NULL,
    paid_advance_minor BIGINT NOT NULL CHECK (paid_advance_minor >= 0),
    paid_fee_minor BIGINT NOT NULL CHECK (paid_fee_minor >= 0),
    -- active, past_due, charged_off, paid_off; state_day is the day it became so (the
    -- missed due date for past_due).
    state TEXT NOT NULL CHECK (state IN ('active', 'past_due', 'charged_off', 'paid_off')),
    state_day BIGINT NULL,
    interval_start BIGINT NOT NULL,
    interval_paid_minor BIGINT NOT NULL,
    arrears_minor BIGINT NOT NULL CHECK (arrears_minor >= 0),
    ever_past_due BOOL NOT NULL,
    written_off_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (paid_advance_minor <= advance_minor AND paid_fee_minor <= fee_minor)
);
CREATE INDEX loans_by_seller ON loans (seller_id, created_at);
