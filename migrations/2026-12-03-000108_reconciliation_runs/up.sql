-- Reconciliation: providers' reports, and the three-way runs stored with their items.
-- Rules for every migration: docs/cockroachdb.md.

-- Imports now include providers' reports. PostgreSQL and CockroachDB name the old check
-- differently; whichever exists goes.
ALTER TABLE recon_imports DROP CONSTRAINT IF EXISTS recon_imports_kind_check;
ALTER TABLE recon_imports DROP CONSTRAINT IF EXISTS check_kind;
ALTER TABLE recon_imports ADD CONSTRAINT recon_imports_kind_known
    CHECK (kind IN ('camt053', 'settlement_report', 'itemized_report'));

-- A file's records are stored in chunks; its import is complete once all are. Records of
-- an import not complete are not read. Imports before this were stored whole.
ALTER TABLE recon_imports ADD COLUMN complete BOOL NOT NULL DEFAULT true;

-- One row per provider report row; its id derives from the provider, the batch and the
-- row, so a row imports once whichever file carries it.
CREATE TABLE recon_provider_rows (
    id UUID PRIMARY KEY,
    import_id UUID NOT NULL REFERENCES recon_imports (id),
    provider TEXT NOT NULL,
    batch TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund', 'chargeback',
        'chargeback_reversal', 'fee', 'payout', 'other')),
    reference TEXT,
    gross_currency CHAR(3) NOT NULL,
    gross_minor BIGINT NOT NULL,
    fees_minor BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    net_minor BIGINT NOT NULL,
    -- YYYY-MM-DD
    booked_on TEXT NOT NULL
);

CREATE INDEX recon_provider_rows_by_day ON recon_provider_rows (currency, booked_on, id);

-- One row per stored run.
CREATE TABLE recon_runs (
    id UUID PRIMARY KEY,
    created_at BIGINT NOT NULL,
    account_key CHAR(64) NOT NULL,
    account_hint TEXT NOT NULL,
    currency CHAR(3) NOT NULL,
    from_day TEXT NOT NULL,
    to_day TEXT NOT NULL,
    matched BIGINT NOT NULL,
    amount_differences BIGINT NOT NULL,
    unmatched_external BIGINT NOT NULL,
    unmatched_internal BIGINT NOT NULL,
    sha256 CHAR(64) NOT NULL
);

CREATE INDEX recon_runs_by_time ON recon_runs (created_at DESC, id);

-- A run's records, each in its bucket, in the run's order.
CREATE TABLE recon_run_items (
    run_id UUID NOT NULL REFERENCES recon_runs (id),
    seq INT4 NOT NULL,
    bucket TEXT NOT NULL CHECK (bucket IN ('matched', 'amount_difference',
        'unmatched_external', 'unmatched_internal')),
    side TEXT NOT NULL CHECK (side IN ('bank', 'provider', 'ledger')),
    item_id TEXT NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL,
    day BIGINT NOT NULL,
    reference TEXT,
    rule TEXT,
    match_no INT4,
    PRIMARY KEY (run_id, seq)
);
