-- baoming: the initial schema (SQLite). Keep in step with ../../postgres/ (same tables,
-- same columns, dialect tweaks only) and with crates/store/src/schema.rs.
-- IDs are UUID v7 as text, timestamps are UTC `timestamp`, money is bigint fen, JSON is text.

CREATE TABLE participants (
    id                TEXT PRIMARY KEY,
    openid            TEXT NOT NULL UNIQUE,
    unionid           TEXT,
    name              TEXT,
    gender            TEXT,
    id_kind           TEXT,
    id_number_enc     BLOB,
    id_number_index   TEXT UNIQUE,
    phone             TEXT,
    employer          TEXT,
    education         TEXT,
    job_title         TEXT,
    profile_locked    BOOLEAN NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    CHECK ((id_kind IS NULL) = (id_number_enc IS NULL) AND (id_kind IS NULL) = (id_number_index IS NULL))
);

CREATE TABLE staff_users (
    id                TEXT PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE,
    display_name      TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    roles             TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT 1,
    failed_logins     INTEGER NOT NULL DEFAULT 0,
    locked_until      TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    token_hash        TEXT NOT NULL UNIQUE,
    participant_id    TEXT REFERENCES participants (id),
    staff_id          TEXT REFERENCES staff_users (id),
    csrf_hash         TEXT,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    revoked_at        TIMESTAMP,
    CHECK ((participant_id IS NULL) <> (staff_id IS NULL))
);
CREATE INDEX sessions_participant ON sessions (participant_id);
CREATE INDEX sessions_staff ON sessions (staff_id);

CREATE TABLE periods (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    exam_name             TEXT NOT NULL,
    registration_opens    TIMESTAMP NOT NULL,
    registration_closes   TIMESTAMP NOT NULL,
    payment_deadline      TIMESTAMP NOT NULL,
    checkin_opens         TIMESTAMP NOT NULL,
    checkin_closes        TIMESTAMP NOT NULL,
    exam_ends             TIMESTAMP NOT NULL,
    closed_at             TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

CREATE TABLE regions (
    id                TEXT PRIMARY KEY,
    period_id         TEXT NOT NULL REFERENCES periods (id),
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    capacity          INTEGER NOT NULL CHECK (capacity >= 0),
    seats_taken       INTEGER NOT NULL DEFAULT 0 CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    UNIQUE (period_id, code)
);

CREATE TABLE subjects (
    id                TEXT PRIMARY KEY,
    period_id         TEXT NOT NULL REFERENCES periods (id),
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    specialties       TEXT NOT NULL DEFAULT '[]',
    exam_starts_at    TIMESTAMP NOT NULL,
    exam_ends_at      TIMESTAMP NOT NULL,
    sort_order        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (period_id, code)
);

CREATE TABLE exam_types (
    id                TEXT PRIMARY KEY,
    period_id         TEXT NOT NULL REFERENCES periods (id),
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    subject_codes     TEXT NOT NULL DEFAULT '[]',
    min_subjects      INTEGER NOT NULL,
    max_subjects      INTEGER NOT NULL,
    sort_order        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (period_id, code),
    CHECK (min_subjects >= 1 AND max_subjects >= min_subjects)
);

CREATE TABLE fees (
    period_id         TEXT NOT NULL REFERENCES periods (id),
    exam_type_id      TEXT NOT NULL REFERENCES exam_types (id),
    subject_count     INTEGER NOT NULL,
    amount_fen        BIGINT NOT NULL CHECK (amount_fen >= 0),
    PRIMARY KEY (exam_type_id, subject_count)
);

CREATE TABLE venues (
    id                TEXT PRIMARY KEY,
    period_id         TEXT NOT NULL REFERENCES periods (id),
    name              TEXT NOT NULL,
    address           TEXT NOT NULL
);

CREATE TABLE invoice_titles (
    id                TEXT PRIMARY KEY,
    participant_id    TEXT NOT NULL REFERENCES participants (id),
    kind              TEXT NOT NULL,
    invoice_type      TEXT NOT NULL,
    name              TEXT NOT NULL,
    tax_id            TEXT,
    address           TEXT,
    phone             TEXT,
    bank              TEXT,
    bank_account      TEXT,
    email             TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX invoice_titles_participant ON invoice_titles (participant_id);

CREATE TABLE photos (
    id                TEXT PRIMARY KEY,
    participant_id    TEXT NOT NULL REFERENCES participants (id),
    original_key      TEXT NOT NULL,
    normalized_key    TEXT NOT NULL,
    original_bytes    BIGINT NOT NULL,
    width             INTEGER NOT NULL,
    height            INTEGER NOT NULL,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX photos_participant ON photos (participant_id);

CREATE TABLE registrations (
    id                    TEXT PRIMARY KEY,
    participant_id        TEXT NOT NULL REFERENCES participants (id),
    period_id             TEXT NOT NULL REFERENCES periods (id),
    region_id             TEXT NOT NULL REFERENCES regions (id),
    exam_type_id          TEXT NOT NULL REFERENCES exam_types (id),
    subjects              TEXT NOT NULL,
    invoice_snapshot      TEXT,
    joint_invoice_remark  TEXT,
    photo_id              TEXT REFERENCES photos (id),
    fee_fen               BIGINT NOT NULL CHECK (fee_fen >= 0),
    state                 TEXT NOT NULL,
    flag                  TEXT,
    version               INTEGER NOT NULL,
    live_period_id        TEXT,
    rejection_reason      TEXT,
    payment_method        TEXT,
    submitted_at          TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    UNIQUE (participant_id, live_period_id)
);
CREATE INDEX registrations_period_state ON registrations (period_id, state, submitted_at);
CREATE INDEX registrations_region ON registrations (region_id);

CREATE TABLE registration_events (
    id                TEXT PRIMARY KEY,
    registration_id   TEXT NOT NULL REFERENCES registrations (id),
    version           INTEGER NOT NULL,
    at                TIMESTAMP NOT NULL,
    actor             TEXT NOT NULL,
    actor_ref         TEXT,
    event             TEXT NOT NULL,
    from_state        TEXT,
    to_state          TEXT NOT NULL,
    to_flag           TEXT,
    reason            TEXT,
    request_id        TEXT,
    details           TEXT,
    UNIQUE (registration_id, version)
);

-- The event log is append-only: the database itself refuses to rewrite it.
CREATE TRIGGER registration_events_no_update BEFORE UPDATE ON registration_events
BEGIN
    SELECT RAISE(ABORT, 'registration_events is append-only');
END;
CREATE TRIGGER registration_events_no_delete BEFORE DELETE ON registration_events
BEGIN
    SELECT RAISE(ABORT, 'registration_events is append-only');
END;

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL,
    unique_key        TEXT UNIQUE,
    run_at            TIMESTAMP NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    last_error        TEXT,
    locked_until      TIMESTAMP,
    failed_at         TIMESTAMP,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE failed_at IS NULL;
