DROP TABLE invoice_export_items;
DROP TABLE invoice_registrations;
DROP TABLE invoices;
DROP TABLE invoice_exports;
DROP TABLE invoice_settings;
-- Back to one refund per payment: retries are dropped.
DELETE FROM refunds WHERE retry_of IS NOT NULL;
DROP INDEX refunds_one_live;
DROP INDEX refunds_registration;
ALTER TABLE refunds DROP COLUMN settled_by;
ALTER TABLE refunds DROP COLUMN offline_note;
ALTER TABLE refunds DROP COLUMN superseded_by;
ALTER TABLE refunds DROP COLUMN retry_of;
ALTER TABLE refunds ADD CONSTRAINT refunds_payment_id_key UNIQUE (payment_id);
