-- The cache invalidation feed: a row per logout, account deletion or period edit, written in
-- the same transaction as the change, which every api instance polls (`id > last seen`) to
-- drop what its in-process caches hold about the key. SQLite has one writer at a time, so ids
-- commit in increasing order; AUTOINCREMENT never hands out an id again after the newest rows
-- were pruned. Rows older than an hour are pruned.
CREATE TABLE cache_invalidations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX cache_invalidations_created_at ON cache_invalidations (created_at);
