-- Payouts: sellers' payout settings, the payouts themselves, and the rail events applied.
-- Rules for every migration: docs/cockroachdb.md.

-- One row per seller and currency once the seller set a schedule, the platform set a
-- reserve, or the release found the first capture. No row means the defaults.
CREATE TABLE payout_settings (
    seller_id UUID NOT NULL,
    currency CHAR(3) NOT NULL,
    schedule TEXT NOT NULL,
    delay_days INT4 NOT NULL CHECK (delay_days >= 0),
    minimum_minor BIGINT NOT NULL CHECK (minimum_minor >= 0),
    paused BOOL NOT NULL,
    reserve_bps INT4 CHECK (reserve_bps BETWEEN 0 AND 10000),
    reserve_days INT4 CHECK (reserve_days >= 0),
    -- The seller's local date (YYYY-MM-DD) of its first capture in the currency.
    first_capture_on TEXT,
    updated_at BIGINT NOT NULL,
    home_region TEXT NOT NULL,
    PRIMARY KEY (seller_id, currency),
    CHECK ((reserve_bps IS NULL) = (reserve_days IS NULL))
);

CREATE TABLE payouts (
    id UUID PRIMARY KEY,
    seller_id UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('standard', 'instant')),
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    fee_minor BIGINT CHECK (fee_minor > 0),
    bank_account_id UUID NOT NULL,
    rail TEXT NOT NULL,
    state TEXT NOT NULL CHECK (
        state IN ('pending', 'in_transit', 'paid', 'failed', 'canceled', 'returned')
    ),
    failure_code TEXT,
    paid_at BIGINT,
    -- The ledger change the last move asked for, until it is posted.
    ledger_due TEXT CHECK (
        ledger_due IN ('post_pending', 'post_paid', 'void_pending', 'reverse_paid')
    ),
    canceled_reason TEXT,
    rail_reference TEXT,
    expected_at BIGINT,
    -- The seller's local date (YYYY-MM-DD) of the scheduled run that made it.
    scheduled_for TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    home_region TEXT NOT NULL,
    CHECK ((state IN ('failed', 'returned')) = (failure_code IS NOT NULL))
);
CREATE INDEX payouts_by_seller ON payouts (seller_id, created_at DESC, id DESC);
-- The payouts with work left: few at any time, so the partial index stays small.
CREATE INDEX payouts_with_work ON payouts (created_at)
    WHERE ledger_due IS NOT NULL OR state = 'pending';

-- Rail events applied, so that a report seen twice moves nothing the second time.
CREATE TABLE payout_rail_events (
    event_id TEXT PRIMARY KEY,
    payout_id UUID NOT NULL,
    applied_at BIGINT NOT NULL
);

-- How far the rails' event feed has been read.
CREATE TABLE payout_rail_cursor (
    name TEXT PRIMARY KEY,
    last_event_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The sandbox rails' own records, as a real rail keeps them on its side: what was submitted
-- and what was reported. Only the sandbox connector reads or writes these; production
-- refuses the sandbox, and the tables stay empty there.
CREATE TABLE sandbox_rail_submissions (
    payout_id UUID PRIMARY KEY,
    rail TEXT NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL,
    destination_masked TEXT NOT NULL,
    script TEXT NOT NULL,
    refused_code TEXT,
    reference TEXT,
    expected_at BIGINT,
    outcome_reported BOOL NOT NULL,
    return_reported BOOL NOT NULL,
    submitted_at BIGINT NOT NULL
);
CREATE INDEX sandbox_rail_open ON sandbox_rail_submissions (expected_at)
    WHERE NOT outcome_reported OR NOT return_reported;

CREATE TABLE sandbox_rail_events (
    seq BIGINT PRIMARY KEY,
    payout_id UUID NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('paid', 'failed', 'returned')),
    code TEXT,
    at BIGINT NOT NULL
);

-- One row (written by the sandbox on first use), locked while events are recorded, so that
-- event numbers follow commit order.
CREATE TABLE sandbox_rail_clock (
    id INT4 PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL
);

-- Sellers' shares of card payments the provider settled: what instant payouts may take.
CREATE TABLE payout_card_settlements (
    payment_id UUID NOT NULL,
    seller_id UUID NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    settled_at BIGINT NOT NULL,
    home_region TEXT NOT NULL,
    PRIMARY KEY (payment_id, seller_id)
);
CREATE INDEX payout_card_settlements_by_seller ON payout_card_settlements (seller_id, currency);
