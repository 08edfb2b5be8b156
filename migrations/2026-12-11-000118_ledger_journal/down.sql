DROP TABLE ledger_applied;
DROP TABLE ledger_journal;
ALTER TABLE ledger_clock DROP COLUMN writer;
ALTER TABLE ledger_clock DROP COLUMN journal_seq;
