-- The journal engine: a group of sales committed as one row, its transfer rows written
-- behind it. The clock row fences writers: a journal row is written only by the engine named
-- in `writer`, and only right after the sequence number it last wrote.
ALTER TABLE ledger_clock ADD COLUMN journal_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger_clock ADD COLUMN writer UUID;

-- One committed group whose effects are not yet in the ledger's tables: the clock before it,
-- the time it was committed at, how many of its batches were accepted, and its batches (a compact binary form, see
-- adapters/postgres/src/codec/body.rs).
CREATE TABLE ledger_journal (
    seq BIGINT PRIMARY KEY,
    prev_ts BIGINT NOT NULL,
    now_ts BIGINT NOT NULL,
    accepted INT4 NOT NULL,
    body BYTEA NOT NULL
);

-- How far the ledger's tables have caught up with the journal: every row up to `seq` is in
-- them. One row, created by the application.
CREATE TABLE ledger_applied (
    id BOOL PRIMARY KEY CHECK (id),
    seq BIGINT NOT NULL
);
