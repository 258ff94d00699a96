DROP INDEX participants_id_tail;
ALTER TABLE participants DROP COLUMN id_number_tail;
DROP INDEX registrations_checkin;
ALTER TABLE registrations DROP COLUMN checkin_proof, DROP COLUMN checkin_venue_id, DROP COLUMN checked_in_at;
DROP INDEX venues_number;
ALTER TABLE venues DROP COLUMN geofence_radius_m, DROP COLUMN geofence_lon_e6, DROP COLUMN geofence_lat_e6,
    DROP COLUMN static_code, DROP COLUMN region_id, DROP COLUMN number;
ALTER TABLE periods DROP COLUMN checkin_slice_secs, DROP COLUMN checkin_secret;
