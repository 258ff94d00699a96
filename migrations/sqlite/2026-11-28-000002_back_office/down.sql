DROP INDEX registration_events_event;
DROP INDEX registrations_participant;
DROP TABLE rejection_templates;
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
