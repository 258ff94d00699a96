-- Back office: the audit log of staff actions and the rejection-reason templates of a period.

CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    at            TIMESTAMP NOT NULL,
    staff_id      TEXT REFERENCES staff_users (id),
    username      TEXT,
    role          TEXT,
    action        TEXT NOT NULL,
    target_kind   TEXT,
    target_id     TEXT,
    summary       TEXT,
    request_id    TEXT,
    client_ip     TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_staff ON audit_log (staff_id, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE rejection_templates (
    id            TEXT PRIMARY KEY,
    period_id     TEXT NOT NULL REFERENCES periods (id),
    text          TEXT NOT NULL,
    sort_order    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rejection_templates_period ON rejection_templates (period_id);

CREATE INDEX registrations_participant ON registrations (participant_id);
CREATE INDEX registration_events_event ON registration_events (registration_id, event);
