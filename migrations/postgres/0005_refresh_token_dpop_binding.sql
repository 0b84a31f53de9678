-- DPoP (RFC 9449 §5): a public client's refresh tokens are bound to the key of the DPoP proof
-- that obtained them; every token of a family keeps the thumbprint (RFC 7638) of that key.
-- Empty: not bound (confidential clients, requests without a proof, families of older releases).
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS dpop_jkt TEXT NOT NULL DEFAULT '';
