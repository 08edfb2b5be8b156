-- Reconciliation: the files finance imported and the bank entries they carried.
-- Rules for every migration: docs/cockroachdb.md.

-- One row per imported file; its id derives from its content, so a file imports once.
CREATE TABLE recon_imports (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('camt053')),
    sha256 CHAR(64) NOT NULL UNIQUE,
    name TEXT NOT NULL,
    entries INT4 NOT NULL CHECK (entries >= 0),
    imported_at BIGINT NOT NULL
);

-- One row per bank entry; its id derives from the account, the statement and the bank's
-- reference, so an entry imports once whichever file carries it. The platform's account
-- number is kept only as a SHA-256 hash (with a fixed label) and its last four characters.
CREATE TABLE recon_bank_entries (
    id UUID PRIMARY KEY,
    import_id UUID NOT NULL REFERENCES recon_imports (id),
    account_key CHAR(64) NOT NULL,
    account_hint TEXT NOT NULL,
    statement_id TEXT NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- YYYY-MM-DD
    booking_date TEXT,
    value_date TEXT,
    servicer_reference TEXT,
    end_to_end_ids TEXT,
    remittance TEXT,
    transaction_code TEXT,
    parts INT4 NOT NULL CHECK (parts >= 0)
);

CREATE INDEX recon_bank_entries_by_account
    ON recon_bank_entries (account_key, currency, booking_date, id);
