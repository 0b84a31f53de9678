-- Offline access is granted only when the user was told (OpenID Connect Core §11).
--
-- Before this release the consent page hid `offline` and `offline_access` and still recorded them
-- in the remembered consent, so a later request could get a refresh token under prompt=none for
-- something the user never saw. The consent page now says in plain words that the app keeps
-- access while the user is away, and a remembered consent holds offline access only after that.
-- Consents recorded before it lose the two scopes: the next request for offline access shows the
-- consent page once more. Everything else a consent holds is kept.
--
-- Scopes are space-delimited tokens; padding with spaces makes each a whole-word match.
UPDATE consents
SET scope = TRIM(REPLACE(REPLACE(' ' || scope || ' ', ' offline_access ', ' '), ' offline ', ' '))
WHERE scope LIKE '%offline%';
