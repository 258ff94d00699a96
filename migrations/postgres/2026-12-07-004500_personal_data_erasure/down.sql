ALTER TABLE photos DROP COLUMN original_deleted_at;
DROP INDEX participants_erased;
ALTER TABLE participants DROP COLUMN erased_at;
