-- createProduct replayed with a different product under the same idempotency key is refused:
-- each product keeps a digest of what was asked for. Products created before have none and
-- are taken as retries.
ALTER TABLE products ADD COLUMN fingerprint TEXT;
