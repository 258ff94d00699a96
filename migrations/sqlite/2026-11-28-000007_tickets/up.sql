-- Admission tickets (准考证): numbering, seats, rendering, publication (SQLite). Keep in step
-- with ../../postgres/ and crates/store/src/schema.rs.

-- Per period: the ticket-number scheme (crates/tickets, `NumberScheme`) and when its tickets
-- were published (participants see them from then on; NULL: not yet).
ALTER TABLE periods ADD COLUMN ticket_number_scheme TEXT NOT NULL
    DEFAULT '{yy}{region:2}{site:2}{room:2}{seat:2}';
ALTER TABLE periods ADD COLUMN tickets_published_at TIMESTAMP;

-- Per venue (考点): the layout of its exam rooms (seats per room, seats per row).
ALTER TABLE venues ADD COLUMN room_capacity INTEGER NOT NULL DEFAULT 30
    CHECK (room_capacity BETWEEN 1 AND 999);
ALTER TABLE venues ADD COLUMN room_columns INTEGER NOT NULL DEFAULT 5
    CHECK (room_columns BETWEEN 1 AND 999);

-- One admission ticket per checked-in registration: its number, where it sits, the seed and
-- algorithm of the plan that seated it, and what rendering made of it (the storage keys of the
-- PNG and the PDF, or why it failed: a code, a message and the characters no font has).
CREATE TABLE tickets (
    registration_id   TEXT PRIMARY KEY REFERENCES registrations (id),
    period_id         TEXT NOT NULL REFERENCES periods (id),
    number            TEXT NOT NULL,
    scheme            TEXT NOT NULL,
    venue_id          TEXT NOT NULL REFERENCES venues (id),
    site              INTEGER NOT NULL CHECK (site > 0),
    room              INTEGER NOT NULL CHECK (room > 0),
    seat              INTEGER NOT NULL CHECK (seat > 0),
    seat_row          INTEGER NOT NULL CHECK (seat_row > 0),
    seat_column       INTEGER NOT NULL CHECK (seat_column > 0),
    plan_seed         TEXT NOT NULL,
    plan_algorithm    INTEGER NOT NULL,
    assigned_at       TIMESTAMP NOT NULL,
    qr_text           TEXT,
    png_key           TEXT,
    pdf_key           TEXT,
    rendered_at       TIMESTAMP,
    render_error_code TEXT,
    render_error      TEXT,
    render_missing    TEXT,
    render_failed_at  TIMESTAMP,
    CHECK ((rendered_at IS NULL) = (png_key IS NULL)),
    CHECK ((rendered_at IS NULL) = (pdf_key IS NULL)),
    CHECK (rendered_at IS NULL OR render_error IS NULL)
);
CREATE UNIQUE INDEX tickets_number ON tickets (period_id, number);
CREATE UNIQUE INDEX tickets_seat ON tickets (period_id, site, room, seat);
CREATE INDEX tickets_venue_room ON tickets (venue_id, room, seat);
