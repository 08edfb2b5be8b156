-- The durable ledger. Rules for every migration: docs/cockroachdb.md.
-- Transfers, expirations and failures are insert-only. Balances, pending states and
-- reversal totals are derived state, updated in place by the posting engine.

CREATE TABLE ledger_accounts (
    id UUID PRIMARY KEY,
    currency CHAR(3) NOT NULL,
    code TEXT NOT NULL,
    owner TEXT NOT NULL,
    normal_side TEXT NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    balance_constraint TEXT NOT NULL CHECK (
        balance_constraint IN ('none', 'debits_must_not_exceed_credits', 'credits_must_not_exceed_debits')
    ),
    overdraft BIGINT NOT NULL CHECK (overdraft >= 0),
    created_at BIGINT NOT NULL,
    debits_pending BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0)
);

-- Every transfer, with the balances of both accounts right after it: the account history
-- is read from here (the latest row at or before an instant), without a separate table.
-- The account columns carry no foreign key: the posting engine reads and locks both accounts
-- in the transaction that inserts the transfer, and a per-row key check would cost more than
-- the insert itself on the hottest table.
CREATE TABLE ledger_transfers (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('direct', 'pending', 'post_pending', 'void_pending', 'reversal')),
    debit_account_id UUID NOT NULL,
    credit_account_id UUID NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency CHAR(3) NOT NULL,
    ts BIGINT NOT NULL,
    leg INT NOT NULL CHECK (leg >= 0),
    timeout_secs BIGINT,
    pending_id UUID,
    original_id UUID,
    metadata JSONB NOT NULL,
    debit_after_debits_pending BIGINT NOT NULL,
    debit_after_debits_posted BIGINT NOT NULL,
    debit_after_credits_pending BIGINT NOT NULL,
    debit_after_credits_posted BIGINT NOT NULL,
    credit_after_debits_pending BIGINT NOT NULL,
    credit_after_debits_posted BIGINT NOT NULL,
    credit_after_credits_pending BIGINT NOT NULL,
    credit_after_credits_posted BIGINT NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX ledger_transfers_debit_history ON ledger_transfers (debit_account_id, ts, leg);
CREATE INDEX ledger_transfers_credit_history ON ledger_transfers (credit_account_id, ts, leg);

-- Where each pending transfer stands.
CREATE TABLE ledger_pending (
    id UUID PRIMARY KEY REFERENCES ledger_transfers (id),
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'posted', 'voided', 'expired')),
    resolved_by UUID,
    posted_amount BIGINT,
    resolved_at BIGINT
);
CREATE INDEX ledger_pending_open_by_expiry ON ledger_pending (expires_at) WHERE state = 'open';

-- Releases of expired reservations, with the balances right after them.
CREATE TABLE ledger_expirations (
    pending_id UUID PRIMARY KEY REFERENCES ledger_pending (id),
    ts BIGINT NOT NULL,
    seq INT NOT NULL CHECK (seq >= 0),
    debit_account_id UUID NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id UUID NOT NULL REFERENCES ledger_accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    debit_after_debits_pending BIGINT NOT NULL,
    debit_after_debits_posted BIGINT NOT NULL,
    debit_after_credits_pending BIGINT NOT NULL,
    debit_after_credits_posted BIGINT NOT NULL,
    credit_after_debits_pending BIGINT NOT NULL,
    credit_after_debits_posted BIGINT NOT NULL,
    credit_after_credits_pending BIGINT NOT NULL,
    credit_after_credits_posted BIGINT NOT NULL
);
CREATE INDEX ledger_expirations_debit_history ON ledger_expirations (debit_account_id, ts, seq);
CREATE INDEX ledger_expirations_credit_history ON ledger_expirations (credit_account_id, ts, seq);

-- Running totals of what has been reversed of each transfer.
CREATE TABLE ledger_reversals (
    original_id UUID PRIMARY KEY REFERENCES ledger_transfers (id),
    reversed_total BIGINT NOT NULL CHECK (reversed_total > 0)
);

-- Requests that failed, remembered under their transfer id.
CREATE TABLE ledger_failures (
    id UUID PRIMARY KEY,
    request JSONB NOT NULL,
    error TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);

-- The last timestamp handed out: the ledger's clock. One row, created by the application.
CREATE TABLE ledger_clock (
    id BOOL PRIMARY KEY CHECK (id),
    last_ts BIGINT NOT NULL
);
