-- Retire the legacy tables once the new ones are filled.
CREATE TABLE IF NOT EXISTS archive_note (id bigint PRIMARY KEY, body text);

INSERT INTO archive_note SELECT id, note FROM legacy_notes;
DROP TABLE legacy_notes;
