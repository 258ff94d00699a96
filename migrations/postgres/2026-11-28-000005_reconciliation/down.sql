DROP TABLE reconciliation_reports;
