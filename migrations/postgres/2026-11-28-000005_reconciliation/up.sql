-- One report per day: yesterday's WeChat Pay trade bill compared with the payment ledger.
CREATE TABLE reconciliation_reports (
    bill_date     TEXT PRIMARY KEY,
    created_at    TIMESTAMP NOT NULL,
    bill_lines    INTEGER NOT NULL,
    ledger_lines  INTEGER NOT NULL,
    differences   TEXT NOT NULL
);
