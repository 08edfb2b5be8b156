-- The sandbox bank: the platform's bank account, one per currency, as the bank keeps it on
-- its side. Only the sandbox bank reads or writes this table; production uses a real bank,
-- and the table stays empty there.
-- Rules for every migration: docs/cockroachdb.md.

-- One row per booked entry. Its id derives from what booked it (a provider's payout batch, a
-- payout paid or returned, a payout's bank charge), so booking it again changes nothing.
CREATE TABLE sandbox_bank_entries (
    id UUID PRIMARY KEY,
    currency CHAR(3) NOT NULL,
    -- Signed: a credit (money in) positive, a debit negative.
    amount_minor BIGINT NOT NULL CHECK (amount_minor <> 0),
    -- The UTC day of booked_at, as days since 1970-01-01.
    booked_day BIGINT NOT NULL,
    booked_at BIGINT NOT NULL,
    end_to_end_id TEXT NOT NULL,
    remittance TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('provider_batch', 'payout', 'payout_return', 'charge'))
);
-- A day's statement: the entries before it (the opening balance) and the day's, in order.
CREATE INDEX sandbox_bank_entries_by_day
    ON sandbox_bank_entries (currency, booked_day, booked_at, id);
