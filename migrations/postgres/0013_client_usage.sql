-- Per-client, per-day counts of tokens issued and of sign-ins (authorization codes issued,
-- devices authorized), added in batches by the token service and shown in the operator console.
CREATE TABLE IF NOT EXISTS client_usage (
    client_id     TEXT NOT NULL,
    day           TEXT NOT NULL,            -- YYYY-MM-DD, UTC
    tokens_issued BIGINT NOT NULL DEFAULT 0,
    logins        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, day)
);
