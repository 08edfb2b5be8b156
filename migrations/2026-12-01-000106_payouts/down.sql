DROP TABLE payout_card_settlements;
DROP TABLE sandbox_rail_clock;
DROP TABLE sandbox_rail_events;
DROP TABLE sandbox_rail_submissions;
DROP TABLE payout_rail_cursor;
DROP TABLE payout_rail_events;
DROP TABLE payouts;
DROP TABLE payout_settings;
