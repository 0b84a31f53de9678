-- An external consent app's extra claims (Hydra's `session.id_token` and `session.access_token`)
-- as JSON: {"id_token": {...}, "access_token": {...}}. Every token of a family keeps them, so
-- the ID and access tokens a refresh mints carry them too. NULL: none (and families of older
-- releases).
ALTER TABLE refresh_tokens ADD COLUMN session_claims TEXT NULL;
