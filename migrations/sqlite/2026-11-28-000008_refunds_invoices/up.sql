-- Refunds end to end and invoices (SQLite). Keep in step with ../../postgres/ and
-- crates/store/src/schema.rs.

-- Refunds: a refund WeChat Pay closed or reported abnormal is retried under a new number
-- linked to the old one (retry_of, unique: each refund is retried at most once), or finance
-- records that it was refunded offline (offline_note, settled_by). So a payment may have
-- several refund rows, of which at most one is live (not superseded by its retry). SQLite
-- cannot drop the old one-refund-per-payment constraint: the table is rebuilt.
CREATE TABLE refunds_new (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT NOT NULL REFERENCES payments (id),
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
    updated_at          TIMESTAMP NOT NULL,
    retry_of            TEXT UNIQUE REFERENCES refunds (id),
    superseded_by       TEXT UNIQUE,
    offline_note        TEXT,
    settled_by          TEXT
);
INSERT INTO refunds_new (id, payment_id, registration_id, method, out_refund_no, amount_fen,
        reason, state, provider_refund_id, provider_status, last_error, created_at, updated_at)
    SELECT id, payment_id, registration_id, method, out_refund_no, amount_fen, reason, state,
        provider_refund_id, provider_status, last_error, created_at, updated_at
    FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_state ON refunds (state, created_at);
CREATE INDEX refunds_registration ON refunds (registration_id);
CREATE UNIQUE INDEX refunds_one_live ON refunds (payment_id) WHERE superseded_by IS NULL;

-- The invoice line's settings (item name, tax classification code, VAT rate, whether prices
-- include tax …) as JSON: scope 'global', or a period id (the period's own settings win).
CREATE TABLE invoice_settings (
    scope       TEXT PRIMARY KEY,
    settings    TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    updated_by  TEXT
);

-- One bulk-issue workbook as finance downloaded it (kept, so it can be downloaded again),
-- with the filters and settings it was made with.
CREATE TABLE invoice_exports (
    id             TEXT PRIMARY KEY,
    period_id      TEXT NOT NULL REFERENCES periods (id),
    filters        TEXT NOT NULL,
    settings       TEXT NOT NULL,
    invoice_count  INTEGER NOT NULL,
    workbook       BLOB NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    created_by     TEXT
);
CREATE INDEX invoice_exports_period ON invoice_exports (period_id, created_at);

-- Invoices: one per exported invoice, under its stable serial (发票流水号); issued with the
-- number and date the tax bureau's workbook reports; flagged for red-letter reversal (冲红)
-- when money it covers went back after issue, and reversed when finance says so.
CREATE TABLE invoices (
    id                   TEXT PRIMARY KEY,
    serial               TEXT NOT NULL UNIQUE,
    period_id            TEXT NOT NULL REFERENCES periods (id),
    kind                 TEXT NOT NULL,
    invoice_type         TEXT NOT NULL,
    buyer                TEXT NOT NULL,
    amount_fen           BIGINT NOT NULL CHECK (amount_fen > 0),
    remark               TEXT NOT NULL,
    state                TEXT NOT NULL,
    number               TEXT UNIQUE,
    issued_on            TEXT,
    issued_recorded_at   TIMESTAMP,
    reversal_flagged_at  TIMESTAMP,
    reversed_at          TIMESTAMP,
    reversal_note        TEXT,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX invoices_period ON invoices (period_id, state);
CREATE INDEX invoices_to_reverse ON invoices (reversal_flagged_at)
    WHERE reversal_flagged_at IS NOT NULL AND reversed_at IS NULL;

-- The registrations an invoice covers. A registration is in at most one live invoice: its
-- row is released when the invoice is reversed or cancelled (it may then be invoiced anew).
CREATE TABLE invoice_registrations (
    invoice_id       TEXT NOT NULL REFERENCES invoices (id),
    registration_id  TEXT NOT NULL REFERENCES registrations (id),
    name             TEXT NOT NULL,
    paid_fen         BIGINT NOT NULL,
    left_at          TIMESTAMP,
    released_at      TIMESTAMP,
    PRIMARY KEY (invoice_id, registration_id)
);
CREATE UNIQUE INDEX invoice_registrations_live ON invoice_registrations (registration_id)
    WHERE released_at IS NULL;

-- Which invoices each export holds, in workbook order.
CREATE TABLE invoice_export_items (
    export_id   TEXT NOT NULL REFERENCES invoice_exports (id),
    invoice_id  TEXT NOT NULL REFERENCES invoices (id),
    position    INTEGER NOT NULL,
    PRIMARY KEY (export_id, invoice_id)
);
