-- Grants are bound to the client's internal identity, not only to its client_id (RFC 7592 §2.3):
-- a client deleted and registered again under the same id is a new *incarnation* and inherits
-- nothing. Each client gets a random incarnation; each refresh token records the incarnation its
-- family was granted to.
ALTER TABLE clients ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';
UPDATE clients SET incarnation = lower(hex(randomblob(16))) WHERE incarnation = '';

ALTER TABLE refresh_tokens ADD COLUMN client_incarnation TEXT NOT NULL DEFAULT '';

-- The first release left the refresh-token families of a deleted client alive, so a client
-- registered again under the same id could redeem them. A family with no client, or older than its
-- client (granted to an earlier incarnation), is revoked now.
UPDATE refresh_families SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER)
WHERE revoked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM clients c
                  WHERE c.id = refresh_families.client_id AND c.created_at <= refresh_families.created_at);

UPDATE refresh_tokens
SET client_incarnation = COALESCE((SELECT c.incarnation FROM clients c WHERE c.id = refresh_tokens.client_id), '');
