-- Staff login reserves a guess before the password is verified (outside any transaction):
-- `login_in_flight` counts reservations not yet settled, `login_reserved_at` is the last one's
-- time (a reservation a crashed process never settled expires after a minute), and
-- `refused_logins` counts attempts refused while locked, written into the next audit row
-- instead of one row each.
ALTER TABLE staff_users ADD COLUMN login_in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_users ADD COLUMN login_reserved_at TIMESTAMP;
ALTER TABLE staff_users ADD COLUMN refused_logins INTEGER NOT NULL DEFAULT 0;
