ALTER TABLE staff_users DROP COLUMN refused_logins;
ALTER TABLE staff_users DROP COLUMN login_reserved_at;
ALTER TABLE staff_users DROP COLUMN login_in_flight;
