-- Operators' metadata of a user: a JSON object as compact text (at most 16 KiB, checked by the
-- admin API), '{}' for users created before it existed.
ALTER TABLE users ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
