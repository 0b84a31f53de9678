-- RFC 8707 resource indicators: the resources a refresh-token family was authorized for
-- (space-separated URIs, empty for none), so every access token it yields keeps that audience.
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '';
