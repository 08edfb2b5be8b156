-- A payment captured after its checkout was cancelled: posted to the unfulfilled-captures
-- account and refunded in full, never to the sellers.
ALTER TABLE payments ADD COLUMN captured_late BOOL NOT NULL DEFAULT FALSE;

-- A ledger intent that fails is retried with backoff, then parked with its error for finance.
ALTER TABLE ledger_intents ADD COLUMN attempts INT4 NOT NULL DEFAULT 0;
ALTER TABLE ledger_intents ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE ledger_intents ADD COLUMN last_error TEXT;
ALTER TABLE ledger_intents ADD COLUMN parked_at BIGINT;
CREATE INDEX ledger_intents_parked ON ledger_intents (parked_at);

-- Provider notifications that failed to apply: counted per event, and parked (kept with their
-- signed body, for operators to inspect and replay) once they keep failing.
CREATE TABLE notification_failures (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    attempts INT4 NOT NULL,
    last_error TEXT NOT NULL,
    signature TEXT NOT NULL,
    body BYTEA NOT NULL,
    first_failed_at BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL,
    parked_at BIGINT,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX notification_failures_parked ON notification_failures (parked_at);
