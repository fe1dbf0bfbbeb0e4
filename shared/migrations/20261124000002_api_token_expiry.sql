-- Token expiry and last use (issue 9). `expires_at` NULL = no expiry; a token past it
-- answers 401 "expired token". `last_used_at` is written when an execution environment
-- (re)loads the token into its cache, so at most once per cache TTL per environment: it
-- says "used around then", not the last request. Both UTC, like the other columns.
ALTER TABLE api_token
    ADD COLUMN expires_at   DATETIME(3) NULL AFTER created_at,
    ADD COLUMN last_used_at DATETIME(3) NULL AFTER expires_at;
