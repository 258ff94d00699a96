DROP INDEX registration_events_event;
DROP INDEX registrations_participant;
DROP TABLE rejection_templates;
DROP TRIGGER audit_log_no_update ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
