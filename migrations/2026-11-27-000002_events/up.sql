-- Events and webhooks. Every change others must hear about writes a row to outbox_events in
-- the same transaction as the change; the relay publishes it to RabbitMQ and sets sent_at only
-- after the broker confirms. Consumers record each event they applied in processed_messages,
-- in the transaction of the effect, so a redelivery applies nothing twice.

CREATE TABLE outbox_events (
    id UUID PRIMARY KEY,
    event_type TEXT NOT NULL,
    version INT4 NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id UUID NOT NULL,
    seller_id UUID,
    payload JSONB NOT NULL,
    occurred_at BIGINT NOT NULL,
    lease_until BIGINT,
    sent_at BIGINT
);
CREATE INDEX outbox_events_unsent ON outbox_events (occurred_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_events_by_seller ON outbox_events (seller_id, occurred_at);

CREATE TABLE processed_messages (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- The activity consumer's projection: how many events of each type a seller has had.
CREATE TABLE event_counts (
    seller_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    events BIGINT NOT NULL CHECK (events >= 0),
    last_event_at BIGINT NOT NULL,
    PRIMARY KEY (seller_id, event_type)
);

-- Secrets are stored sealed (AES-256-GCM, nonce prepended); the key never reaches the
-- database.
CREATE TABLE webhook_endpoints (
    id UUID PRIMARY KEY,
    seller_id UUID NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT[] NOT NULL,
    secret_sealed BYTEA NOT NULL,
    previous_secret_sealed BYTEA,
    previous_secret_expires_at BIGINT,
    state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    disabled_reason TEXT,
    consecutive_failures INT4 NOT NULL CHECK (consecutive_failures >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    home_region TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_seller ON webhook_endpoints (seller_id);

-- One delivery per endpoint and event; next_attempt_at doubles as the lease of the worker
-- sending it.
CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY,
    endpoint_id UUID NOT NULL,
    event_id UUID NOT NULL,
    seller_id UUID NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts INT4 NOT NULL CHECK (attempts >= 0),
    first_attempt_at BIGINT,
    next_attempt_at BIGINT,
    last_status INT4,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id UUID NOT NULL,
    attempt INT4 NOT NULL,
    started_at BIGINT NOT NULL,
    status_code INT4,
    latency_ms INT4 NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'rejected')),
    error TEXT,
    next_attempt_at BIGINT,
    PRIMARY KEY (delivery_id, attempt)
);
