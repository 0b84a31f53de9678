-- Gatehouse durable schema, SQLite flavour. The Postgres flavour in ../postgres/0001_init.sql has the
-- same tables, columns and indexes; only the column types differ (JSONB/TEXT, BYTEA/BLOB).
--
-- Timestamps: every point in time is a BIGINT holding whole seconds since the Unix epoch (UTC),
-- in both backends, so one row mapping serves both and comparisons are plain integer compares.
-- Sub-second precision is dropped on write. Booleans are declared BOOLEAN and hold 0 or 1.
--
-- Secrets: no column holds a bearer secret. Client secrets and refresh tokens are stored as keyed
-- hashes; signing keys are stored encrypted with the system secret.
--
-- Every statement is IF NOT EXISTS, so re-applying this file by hand is harmless. Once released,
-- never edit it: the migrator checksums applied files; add 0002_*.sql instead.

CREATE TABLE IF NOT EXISTS clients (
    id                         TEXT PRIMARY KEY,
    metadata                   TEXT NOT NULL,        -- RFC 7591 client metadata, JSON text
    secret_hash                TEXT,                 -- NULL for public clients
    previous_secret_hash       TEXT,                 -- still accepted until previous_secret_expires_at
    previous_secret_expires_at BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS scopes (
    name        TEXT PRIMARY KEY,                    -- RFC 6749 §3.3 scope token
    label       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    hidden      BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE IF NOT EXISTS users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL,               -- as typed
    username_normalized TEXT NOT NULL UNIQUE,        -- lower-cased: uniqueness is case-insensitive
    email               TEXT,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    name                TEXT,
    picture             TEXT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash       TEXT,                        -- argon2id PHC string
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS consents (
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,                        -- space-delimited, as granted
    granted_at BIGINT NOT NULL,
    expires_at BIGINT,                               -- NULL: does not expire
    PRIMARY KEY (subject, client_id)
);
CREATE INDEX IF NOT EXISTS consents_client_id_idx ON consents (client_id);

-- Refresh-token rotation families (RFC 9700 §4.14.2): revoking a family ends every token in it.
CREATE TABLE IF NOT EXISTS refresh_families (
    family_id  TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    revoked_at BIGINT,                               -- NULL while live
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_families_subject_client_idx ON refresh_families (subject, client_id);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,                     -- keyed hash; the token itself is never stored
    family_id  TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT                                -- set once, when exchanged for a successor
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_subject_client_idx ON refresh_tokens (subject, client_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE IF NOT EXISTS signing_keys (
    kid                   TEXT PRIMARY KEY,
    alg                   TEXT NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    public_jwk            TEXT NOT NULL,             -- JSON text, published in the JWKS
    created_at            BIGINT NOT NULL,
    retired_at            BIGINT                     -- NULL for the key that signs now
);
