-- Custom claims per catalogue scope: the names (space-separated, empty for none) of the claims a
-- granted scope releases from the user's metadata into userinfo and the ID token.
ALTER TABLE scopes ADD COLUMN claims TEXT NOT NULL DEFAULT '';
