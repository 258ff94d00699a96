DROP TABLE unmatched_notifications;
