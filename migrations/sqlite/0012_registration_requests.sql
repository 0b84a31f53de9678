-- Partner onboarding: partners' requests for an OAuth client, reviewed by operators, and the
-- logos partners upload. `app` is the requested app as JSON text; `search_text` is the lower-cased
-- name, website and contact name the request list searches. `client_id` is set once a request is
-- approved (and kept while an approved app's scope change waits for review). No secret is ever
-- stored here: `secret_revealed` only records that the one-time reveal was used.
CREATE TABLE IF NOT EXISTS registration_requests (
    id               TEXT PRIMARY KEY,
    owner            TEXT NOT NULL,
    status           TEXT NOT NULL,
    app              TEXT NOT NULL,
    search_text      TEXT NOT NULL,
    review_reason    TEXT NOT NULL DEFAULT '',
    reviewed_by      TEXT NOT NULL DEFAULT '',
    client_id        TEXT,
    secret_revealed  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS registration_requests_owner ON registration_requests (owner, created_at, id);
CREATE INDEX IF NOT EXISTS registration_requests_status ON registration_requests (status, created_at, id);
CREATE INDEX IF NOT EXISTS registration_requests_created ON registration_requests (created_at, id);

-- Uploaded logos (PNG, JPEG or sanitised SVG, at most 256 KB each).
CREATE TABLE IF NOT EXISTS logos (
    id            TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    created_at    BIGINT NOT NULL
);
