-- Bearer tokens of the HTTP APIs: the SHA-256 of the token (never the token), a name and
-- space-separated scopes (e.g. "cctv:write cctv:read"). Revoked tokens are kept, marked.
CREATE TABLE api_token (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name       VARCHAR(128) NOT NULL,
    token_hash CHAR(64) CHARACTER SET ascii NOT NULL,
    scopes     VARCHAR(512) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    revoked_at DATETIME(3) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_api_token_name (name),
    UNIQUE KEY uq_api_token_hash (token_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
