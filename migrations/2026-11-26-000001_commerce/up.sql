-- The commerce domain: sellers, buyers, catalog, checkouts, orders, payments, refunds and
-- reviews. Rules for every migration: docs/cockroachdb.md. Times are microseconds since the
-- Unix epoch (BIGINT), like the ledger's. Money is minor units (BIGINT) with its currency.

CREATE TABLE sellers (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    country CHAR(2) NOT NULL,
    home_region TEXT NOT NULL,
    settlement_currency CHAR(3) NOT NULL,
    commission_bps INT NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    created_at BIGINT NOT NULL
);

-- Per-category commission rates that override a seller's default.
CREATE TABLE commission_rates (
    seller_id UUID NOT NULL,
    category TEXT NOT NULL,
    commission_bps INT NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    PRIMARY KEY (seller_id, category)
);

CREATE TABLE buyers (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    country CHAR(2) NOT NULL,
    home_region TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE products (
    id UUID PRIMARY KEY,
    seller_id UUID NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('physical', 'digital')),
    created_at BIGINT NOT NULL
);
CREATE INDEX products_by_seller ON products (seller_id, id);
CREATE INDEX products_by_category ON products (category, id);

-- `reserved` counts units held by open checkouts; the CHECK makes overselling impossible
-- whatever the code above it does.
CREATE TABLE skus (
    id UUID PRIMARY KEY,
    product_id UUID NOT NULL,
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    tracks_stock BOOL NOT NULL,
    on_hand INT NOT NULL CHECK (on_hand >= 0),
    reserved INT NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    UNIQUE (product_id, code)
);

CREATE TABLE sku_prices (
    sku_id UUID NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (sku_id, currency)
);
CREATE INDEX sku_prices_by_currency ON sku_prices (currency, amount_minor);

CREATE TABLE checkouts (
    id UUID PRIMARY KEY,
    buyer_id UUID NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    country CHAR(2) NOT NULL,
    currency CHAR(3) NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor > 0),
    state TEXT NOT NULL CHECK (state IN ('open', 'payment_pending', 'paid', 'cancelled')),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    home_region TEXT NOT NULL,
    UNIQUE (buyer_id, idempotency_key)
);
CREATE INDEX checkouts_due ON checkouts (state, expires_at);

CREATE TABLE orders (
    id UUID PRIMARY KEY,
    checkout_id UUID NOT NULL,
    seller_id UUID NOT NULL,
    buyer_id UUID NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('awaiting_payment', 'paid', 'shipped', 'delivered', 'cancelled')),
    currency CHAR(3) NOT NULL,
    total_minor BIGINT NOT NULL,
    settlement_currency CHAR(3) NOT NULL,
    fx_mid TEXT,
    fx_source TEXT,
    fx_effective_at BIGINT,
    fx_spread TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    home_region TEXT NOT NULL
);
CREATE INDEX orders_by_checkout ON orders (checkout_id);
CREATE INDEX orders_by_seller ON orders (seller_id, created_at);
CREATE INDEX orders_by_buyer ON orders (buyer_id, created_at);

CREATE TABLE order_lines (
    id UUID PRIMARY KEY,
    order_id UUID NOT NULL,
    position INT NOT NULL,
    sku_id UUID NOT NULL,
    product_id UUID NOT NULL,
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity INT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor > 0),
    total_minor BIGINT NOT NULL CHECK (total_minor > 0),
    commission_bps INT NOT NULL,
    tax_bps INT NOT NULL,
    -- Refunds asked for (requested or succeeded) and refunds confirmed and posted.
    refund_requested_minor BIGINT NOT NULL DEFAULT 0,
    refund_posted_minor BIGINT NOT NULL DEFAULT 0,
    CHECK (refund_requested_minor BETWEEN 0 AND total_minor),
    CHECK (refund_posted_minor BETWEEN 0 AND refund_requested_minor)
);
CREATE INDEX order_lines_by_order ON order_lines (order_id, position);

CREATE TABLE stock_reservations (
    checkout_id UUID NOT NULL,
    sku_id UUID NOT NULL,
    quantity INT NOT NULL CHECK (quantity > 0),
    state TEXT NOT NULL CHECK (state IN ('held', 'consumed', 'released')),
    PRIMARY KEY (checkout_id, sku_id)
);

CREATE TABLE payments (
    id UUID PRIMARY KEY,
    checkout_id UUID NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    method TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'authorised', 'captured', 'refused', 'cancelled', 'expired')),
    psp_reference TEXT,
    action JSONB,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_by_reference ON payments (provider, psp_reference);

-- Provider events already applied: a redelivered notification finds its id here.
CREATE TABLE payment_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payment_id UUID NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE refunds (
    id UUID PRIMARY KEY,
    payment_id UUID NOT NULL,
    line_id UUID NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency CHAR(3) NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('requested', 'succeeded', 'failed')),
    chargeback BOOL NOT NULL,
    psp_reference TEXT,
    posted_before_minor BIGINT,
    posted_after_minor BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (payment_id, idempotency_key)
);
CREATE INDEX refunds_by_reference ON refunds (psp_reference);

CREATE TABLE reviews (
    id UUID PRIMARY KEY,
    product_id UUID NOT NULL,
    buyer_id UUID NOT NULL,
    order_id UUID NOT NULL,
    rating INT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    home_region TEXT NOT NULL,
    UNIQUE (order_id, product_id)
);
CREATE INDEX reviews_by_product ON reviews (product_id, created_at);

-- Ledger postings owed by committed changes (see docs/commerce.md).
CREATE TABLE ledger_intents (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('capture', 'refund')),
    subject_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    applied_at BIGINT
);
CREATE INDEX ledger_intents_open ON ledger_intents (applied_at, created_at);
