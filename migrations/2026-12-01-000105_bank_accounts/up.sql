-- Sellers' bank accounts, for payouts. The full details and the micro-deposit amounts are
-- stored sealed (AES-256-GCM, nonce prepended, bound to the account id); only the masked
-- identifier is readable here.
CREATE TABLE bank_accounts (
    id UUID PRIMARY KEY,
    seller_id UUID NOT NULL,
    currency CHAR(3) NOT NULL,
    rail TEXT NOT NULL,
    kind TEXT NOT NULL,
    masked TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    details_sealed BYTEA NOT NULL,
    deposits_sealed BYTEA NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('unverified', 'verified', 'errored')),
    failed_attempts INT4 NOT NULL CHECK (failed_attempts >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    home_region TEXT NOT NULL
);
CREATE INDEX bank_accounts_by_seller ON bank_accounts (seller_id, created_at);
