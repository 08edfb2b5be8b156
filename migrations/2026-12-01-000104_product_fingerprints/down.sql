ALTER TABLE products DROP COLUMN fingerprint;
