DROP TABLE payout_rail_cursor;
DROP TABLE payout_rail_events;
DROP TABLE payouts;
DROP TABLE payout_settings;
UPDATE ledger_accounts SET balance_constraint = 'debits_must_not_exceed_credits', overdraft = 0
WHERE code = 'seller_pending';
