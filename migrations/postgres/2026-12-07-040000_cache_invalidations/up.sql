-- The cache invalidation feed: a row per logout, account deletion or period edit, written in
-- the same transaction as the change, which every api instance polls (`id > last seen`) to
-- drop what its in-process caches hold about the key. Writers lock the table before they
-- insert (EXCLUSIVE: plain reads are not blocked), so ids commit in increasing order and a
-- reader that has seen id n has seen every id below it. Rows older than an hour are pruned.
CREATE TABLE cache_invalidations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX cache_invalidations_created_at ON cache_invalidations (created_at);
