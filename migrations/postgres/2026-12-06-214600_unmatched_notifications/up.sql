-- Verified WeChat Pay notifications the ledger could not apply (an order or refund we do not
-- know, another currency or payer, a refund notice that disagrees with our refund row): kept
-- once per notification for finance and reconciliation, and acknowledged to WeChat Pay.
CREATE TABLE unmatched_notifications (
    notification_id  TEXT PRIMARY KEY,
    event_type       TEXT NOT NULL,
    reason           TEXT NOT NULL,
    out_trade_no     TEXT NOT NULL,
    out_refund_no    TEXT,
    transaction_id   TEXT,
    amount_fen       BIGINT NOT NULL,
    currency         TEXT,
    occurred_at      TIMESTAMP,
    received_at      TIMESTAMP NOT NULL
);
CREATE INDEX unmatched_notifications_received ON unmatched_notifications (received_at);
