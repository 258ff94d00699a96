DROP TABLE bank_transfers;
DROP TABLE refunds;
DROP TABLE payment_notifications;
DROP TABLE payments;
DROP TABLE payment_orders;
