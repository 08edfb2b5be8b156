DROP TABLE ledger_clock;
DROP TABLE ledger_failures;
DROP TABLE ledger_reversals;
DROP TABLE ledger_expirations;
DROP TABLE ledger_pending;
DROP TABLE ledger_transfers;
DROP TABLE ledger_accounts;
