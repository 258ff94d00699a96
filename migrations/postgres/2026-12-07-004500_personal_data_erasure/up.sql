-- Personal data (PIPL): erasure and retention (crates/store/src/privacy.rs).
-- When a participant's personal data was erased (the retention job, or their own account
-- deletion): the name is then a placeholder, the ID number, gender, phone and the other
-- profile fields are NULL. NULL: never erased.
ALTER TABLE participants ADD COLUMN erased_at TIMESTAMP;
CREATE INDEX participants_erased ON participants (erased_at);
-- When the original upload of a photo was deleted (its registration was decided; the
-- normalised JPEG is what reviews and tickets use). NULL: the original file is kept.
ALTER TABLE photos ADD COLUMN original_deleted_at TIMESTAMP;
