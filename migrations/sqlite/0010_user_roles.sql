-- What a user may do in the operator console: role names separated by one space, sorted
-- (`admin`, `reviewer`); '' for end users and for users created before roles existed.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
