-- Initial access tokens for dynamic client registration (RFC 7591 §3): only a keyed hash of each
-- token is stored. `uses` counts the clients registered with it; a token with `max_uses` set
-- stops working when they are used up, one with `expires_at` set when it passes.
CREATE TABLE IF NOT EXISTS registration_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    max_uses    BIGINT,
    uses        BIGINT NOT NULL DEFAULT 0
);
