-- Users' second factors (TOTP, RFC 6238) and their single-use recovery codes. A TOTP secret must
-- be recoverable to check codes, so it is sealed with the system secret (AES-256-GCM), never
-- stored in clear; recovery codes are stored only as keyed hashes. A factor is usable once
-- confirmed (confirmed_at set); last_used_step is the last 30 s step whose code was accepted, so
-- a code is never accepted twice. Both go with their user.
CREATE TABLE IF NOT EXISTS user_factors (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    label          TEXT NOT NULL DEFAULT '',
    sealed_secret  BLOB NOT NULL,
    created_at     BIGINT NOT NULL,
    confirmed_at   BIGINT,
    last_used_step BIGINT
);
CREATE INDEX IF NOT EXISTS user_factors_user ON user_factors (user_id);

CREATE TABLE IF NOT EXISTS user_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
