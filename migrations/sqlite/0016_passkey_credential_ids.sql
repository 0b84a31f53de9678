-- Passkeys (WebAuthn) are second factors of kind 'passkey' whose sealed_secret is the stored
-- credential. A discoverable sign-in names only the credential id (base64url), so it is
-- looked up by it, and it is unique: one credential belongs to one user. NULL for TOTP factors
-- (a unique index allows many NULLs in both dialects).
ALTER TABLE user_factors ADD COLUMN credential_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS user_factors_credential_id ON user_factors (credential_id);
