-- The review queue and the console read a period's registrations in submission order, in any
-- state: walked in this index's order, a page of 50 is found without sorting the period.
CREATE INDEX registrations_period_submitted ON registrations (period_id, submitted_at, id);
