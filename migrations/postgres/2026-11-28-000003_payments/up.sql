-- Payments: WeChat Pay orders, the payment ledger, refunds, declared bank transfers.

-- WeChat JSAPI orders: at most one open per registration (a new one only after the last was
-- closed, e.g. it expired at a deadline an admin then extended); out_trade_no derives from the
-- order id, so a retry can never create a second order at WeChat.
CREATE TABLE payment_orders (
    id               TEXT PRIMARY KEY,
    registration_id  TEXT NOT NULL REFERENCES registrations (id),
    out_trade_no     TEXT NOT NULL UNIQUE,
    openid           TEXT NOT NULL,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen > 0),
    description      TEXT NOT NULL,
    time_expire      TIMESTAMP NOT NULL,
    prepay_id        TEXT,
    state            TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX payment_orders_one_open ON payment_orders (registration_id) WHERE state = 'open';
CREATE INDEX payment_orders_registration ON payment_orders (registration_id, created_at);

-- The ledger: every payment that arrived, whatever it did (paid a registration, flagged for
-- finance, or to be given back). source_key identifies the money at its source
-- (wechat:<out_trade_no>, transfer:<registration id>), so the same payment is recorded once.
CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    registration_id  TEXT NOT NULL REFERENCES registrations (id),
    method           TEXT NOT NULL,
    source_key       TEXT NOT NULL UNIQUE,
    out_trade_no     TEXT,
    transaction_id   TEXT,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen >= 0),
    disposition      TEXT NOT NULL,
    refund_cause     TEXT,
    transfer_batch   TEXT,
    received_at      TIMESTAMP NOT NULL,
    recorded_at      TIMESTAMP NOT NULL,
    recorded_by      TEXT,
    note             TEXT
);
CREATE INDEX payments_registration ON payments (registration_id);
CREATE INDEX payments_disposition ON payments (disposition, recorded_at);

-- Every distinct notification WeChat sent about a payment (its id), for reconciliation.
CREATE TABLE payment_notifications (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    event_type   TEXT NOT NULL,
    received_at  TIMESTAMP NOT NULL
);

-- One refund per payment, ever; out_refund_no derives from the refund id.
CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT NOT NULL UNIQUE REFERENCES payments (id),
    registration_id     TEXT NOT NULL REFERENCES registrations (id),
    method              TEXT NOT NULL,
    out_refund_no       TEXT UNIQUE,
    amount_fen          BIGINT NOT NULL CHECK (amount_fen > 0),
    reason              TEXT NOT NULL,
    state               TEXT NOT NULL,
    provider_refund_id  TEXT,
    provider_status     TEXT,
    last_error          TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX refunds_state ON refunds (state, created_at);

-- A declared employer bank transfer and the reference written on it.
CREATE TABLE bank_transfers (
    registration_id  TEXT PRIMARY KEY REFERENCES registrations (id),
    reference        TEXT NOT NULL UNIQUE,
    declared_at      TIMESTAMP NOT NULL
);
