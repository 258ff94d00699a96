-- Refused staff logins for a username that does not exist (or is disabled) are collapsed in the
-- audit log per source (the client address; the username when the address is unknown): the
-- first refusal of a window writes its `login_failed` row and opens the window, later ones
-- within it only count here, and the count goes into the entry of the source's next refusal
-- after the window (as `refused_logins` does for known accounts).
CREATE TABLE login_failure_windows (
    source        TEXT PRIMARY KEY,
    window_start  TIMESTAMP NOT NULL,
    suppressed    INTEGER NOT NULL DEFAULT 0
);
