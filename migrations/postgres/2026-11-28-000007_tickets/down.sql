DROP TABLE tickets;
ALTER TABLE venues DROP COLUMN room_columns, DROP COLUMN room_capacity;
ALTER TABLE periods DROP COLUMN tickets_published_at, DROP COLUMN ticket_number_scheme;
