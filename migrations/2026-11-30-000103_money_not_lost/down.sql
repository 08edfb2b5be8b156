DROP TABLE notification_failures;
DROP INDEX ledger_intents_parked;
ALTER TABLE ledger_intents DROP COLUMN parked_at;
ALTER TABLE ledger_intents DROP COLUMN last_error;
ALTER TABLE ledger_intents DROP COLUMN next_attempt_at;
ALTER TABLE ledger_intents DROP COLUMN attempts;
ALTER TABLE payments DROP COLUMN captured_late;
