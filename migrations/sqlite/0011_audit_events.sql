-- The audit log: every change made through the admin API (and so the operator console and the
-- CLI). Append-only; `at` is Unix seconds like every timestamp, and `id` a UUID v7, so
-- (at, id) orders events by time. `changes` is a JSON object as text, with the value of every
-- field that could hold a secret, password, hash, token or key replaced by "[redacted]".
CREATE TABLE IF NOT EXISTS audit_events (
    id           TEXT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_name   TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT,
    changes      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, at DESC);
CREATE INDEX IF NOT EXISTS audit_events_target ON audit_events (target_id, at DESC);
CREATE INDEX IF NOT EXISTS audit_events_action ON audit_events (action, at DESC);
