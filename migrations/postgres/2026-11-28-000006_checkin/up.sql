-- Check-in at the venue (签到/报到).

-- Each period has a secret its venue codes are derived from (HMAC-SHA256; 64 hex digits,
-- created on first use) and the length of a code's time slice.
ALTER TABLE periods ADD COLUMN checkin_secret TEXT;
ALTER TABLE periods ADD COLUMN checkin_slice_secs INTEGER NOT NULL DEFAULT 15
    CHECK (checkin_slice_secs BETWEEN 5 AND 300);
-- Periods created before: a random secret now (new periods get theirs when created).
UPDATE periods SET checkin_secret = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');

-- A venue's number (in its codes, and the site in ticket numbers), the region whose
-- participants check in there (NULL: everyone of the period), the printed static code, and an
-- optional geofence (GCJ-02 micro-degrees, radius in metres).
ALTER TABLE venues ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE venues ADD COLUMN region_id TEXT REFERENCES regions (id);
ALTER TABLE venues ADD COLUMN static_code BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE venues ADD COLUMN geofence_lat_e6 INTEGER;
ALTER TABLE venues ADD COLUMN geofence_lon_e6 INTEGER;
ALTER TABLE venues ADD COLUMN geofence_radius_m INTEGER;
UPDATE venues SET number = (
    SELECT COUNT(*) FROM venues AS v WHERE v.period_id = venues.period_id AND v.id <= venues.id
);
CREATE UNIQUE INDEX venues_number ON venues (period_id, number);

-- Where and how a registration was checked in (written with the transition).
ALTER TABLE registrations ADD COLUMN checked_in_at TIMESTAMP;
ALTER TABLE registrations ADD COLUMN checkin_venue_id TEXT REFERENCES venues (id);
ALTER TABLE registrations ADD COLUMN checkin_proof TEXT;
CREATE INDEX registrations_checkin ON registrations (period_id, state, region_id);

-- The last four characters of the ID number, so check-in staff can find a person by them
-- (the masked form shown to staff already has them); the number itself stays encrypted.
ALTER TABLE participants ADD COLUMN id_number_tail TEXT;
CREATE INDEX participants_id_tail ON participants (id_number_tail);
