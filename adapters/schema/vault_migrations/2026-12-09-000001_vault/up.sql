-- The card vault's own database: nothing here is readable without the master key, which
-- only the running vault holds (the XOR of two custodians' shares).

-- The master key's check value: tells whether two shares make this vault's master key.
CREATE TABLE vault_master (
    id INT PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL,
    key_use TEXT NOT NULL CHECK (key_use IN ('test', 'live')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each tenant's data keys, wrapped under the master. The newest seals; older ones only open.
CREATE TABLE vault_keys (
    tenant TEXT NOT NULL,
    version INT NOT NULL CHECK (version > 0),
    wrapped BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, version)
);

-- Tokenized cards: the number and expiry sealed under the tenant's data key `key_version`,
-- the tenant's keyed hash of the number, and only what may be shown in the clear.
CREATE TABLE vault_cards (
    token TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key_version INT NOT NULL CHECK (key_version > 0),
    sealed BYTEA NOT NULL,
    bin TEXT NOT NULL CHECK (length(bin) IN (6, 8)),
    last4 TEXT NOT NULL CHECK (length(last4) = 4),
    brand TEXT NOT NULL,
    expiry_month SMALLINT NOT NULL CHECK (expiry_month BETWEEN 1 AND 12),
    expiry_year SMALLINT NOT NULL CHECK (expiry_year BETWEEN 2000 AND 2099),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT vault_cards_fingerprint UNIQUE (tenant, fingerprint)
);

-- Re-encryption finds cards sealed under a tenant's older key.
CREATE INDEX vault_cards_key_version ON vault_cards (tenant, key_version);
