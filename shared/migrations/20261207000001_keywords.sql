-- Keyword batches over chat logs (source system 002), rebuilt under the original's names.
--
-- `chattings` is the chat system's own table (its questions, `created_at` in the chat
-- system's local time zone, KEYWORD_TIME_ZONE). It is created here only where it does not
-- exist yet (local runs, tests); the function reads it by `created_at` ranges, so the chat
-- system's table needs an index on `created_at` as below.
CREATE TABLE IF NOT EXISTS chattings (
    chatting_pk BIGINT NOT NULL AUTO_INCREMENT,
    input_text  TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (chatting_pk),
    KEY ix_chattings_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per (chat date, question): the question's category and keywords.
-- `created_at` is the chat's date (the original's missing query joins on
-- `DATE(created_at)`); when the classifier answered is `classified_at`. A long text cannot
-- be indexed whole, so uniqueness is on the date and the SHA-256 of the normalised text:
-- a redelivered message or a second run never inserts a question twice.
-- `query_text` is the normalised text the classifier saw (with KEYWORD_NORMALIZE=off,
-- the chat's own text, so the original's missing query still matches it).
-- `status` is `ok`, or `invalid` when the model's answer was not the JSON asked for even
-- after one repair request: `model_answer` keeps that answer for review.
CREATE TABLE admin_chat_keywords (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    query_text     TEXT NOT NULL,
    query_hash     BINARY(32) NOT NULL,
    category       VARCHAR(64) NULL,
    keywords       JSON NOT NULL,
    total_count    INT UNSIGNED NOT NULL,
    status         VARCHAR(16) NOT NULL,
    model_answer   TEXT NULL,
    provider       VARCHAR(32) NOT NULL,
    model          VARCHAR(128) NOT NULL,
    prompt_version VARCHAR(32) NOT NULL,
    -- Set when the result was reused from this earlier day's row of the same question.
    cached_from    DATE NULL,
    created_at     DATE NOT NULL,
    classified_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_chat_keywords_date_hash (created_at, query_hash),
    KEY ix_chat_keywords_hash (query_hash),
    KEY ix_chat_keywords_category (created_at, category)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The work ledger: every question the batch has put on the work queue, keyed like the
-- keyword rows. `queued` until the worker stores its row (`done`) or gives it up
-- (`failed`, with the reason: a permanent refusal such as context too long, or the last
-- receive before the dead-letter queue). A run sends a question only when it has no keyword
-- row and no ledger row, or a `queued` row older than KEYWORD_REQUEUE_AFTER_SECS (its
-- message was lost); so running any mode twice sends nothing twice.
CREATE TABLE keyword_work (
    chat_date   DATE NOT NULL,
    query_hash  BINARY(32) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    total_count INT UNSIGNED NOT NULL,
    -- Times the batch put the question on the queue, and classification attempts.
    sends       INT UNSIGNED NOT NULL,
    attempts    INT UNSIGNED NOT NULL DEFAULT 0,
    reason      VARCHAR(512) NULL,
    queued_at   DATETIME(3) NOT NULL,
    updated_at  DATETIME(3) NOT NULL,
    -- The send that last (re)queued it: a run reads back which of its rows it claimed, so
    -- two runs over the same date at once never both send a question.
    claim       CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (chat_date, query_hash),
    KEY ix_keyword_work_claim (claim)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The built-in classifier's rules table, which an operator edits: a keyword (normalised:
-- NFC, lower case) that points to a category with a weight. The category of a question is
-- the one with the highest sum of weights over its keywords; none matching is `other`.
CREATE TABLE keyword_category_rule (
    keyword  VARCHAR(100) NOT NULL,
    category VARCHAR(64) NOT NULL,
    weight   DOUBLE NOT NULL DEFAULT 1,
    PRIMARY KEY (keyword, category)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
