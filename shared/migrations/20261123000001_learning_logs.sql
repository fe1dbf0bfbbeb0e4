-- Learning logs (source system 000): the import ledger and the nine learning tables.
-- Runs on MySQL 8.0 and MariaDB 10.11. Times are UTC; log_date is the business-zone date.
-- Dimension tables (actor, action, cookie, tanet_info) use a 64-bit id derived from their
-- natural key, so the importer never needs a round trip to learn an id. Per-statement
-- details (event_info, result, video_info, sentences) are keyed by the statement id.
-- References are logical (no FOREIGN KEY constraints): the importer writes a file in one
-- transaction and the cleanup deletes facts before the dimensions nothing references.

CREATE TABLE import_file (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    source_hash     CHAR(64) CHARACTER SET ascii NOT NULL COMMENT 'sha256 of bucket, key and ETag',
    bucket          VARCHAR(255) NOT NULL,
    object_key      VARCHAR(1024) NOT NULL,
    etag            VARCHAR(128) NOT NULL,
    size_bytes      BIGINT UNSIGNED NULL,
    log_date        DATE NULL COMMENT 'date in the object name, if any',
    status          VARCHAR(16) NOT NULL COMMENT 'processing | completed | failed',
    attempts        INT UNSIGNED NOT NULL DEFAULT 0,
    deliveries      INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'events seen for this object version',
    entries         INT UNSIGNED NOT NULL DEFAULT 0,
    skipped_entries INT UNSIGNED NOT NULL DEFAULT 0,
    statements_read BIGINT UNSIGNED NOT NULL DEFAULT 0,
    inserted        BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'statements newly stored',
    already_present BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'statements stored before',
    rejected        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    rows_written    BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'rows added across all tables',
    error           TEXT NULL,
    report_key      VARCHAR(1024) NULL,
    moved_to        VARCHAR(1024) NULL,
    first_seen_at   DATETIME(3) NOT NULL,
    started_at      DATETIME(3) NULL,
    finished_at     DATETIME(3) NULL,
    duration_ms     BIGINT UNSIGNED NULL,
    purged_at       DATETIME(3) NULL COMMENT 'set by the cleanup when its rows are gone',
    PRIMARY KEY (id),
    UNIQUE KEY uq_import_file_source (source_hash),
    KEY ix_import_file_status (status, first_seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE actor (
    id          BIGINT UNSIGNED NOT NULL COMMENT 'hash of uid, category, filename',
    uid         VARCHAR(512) NOT NULL COMMENT 'homePage|name, mailto:, sha1:, or openid',
    ifi         VARCHAR(16) NOT NULL COMMENT 'account | mbox | mbox_sha1sum | openid',
    object_type VARCHAR(8) NOT NULL COMMENT 'Agent | Group',
    name        VARCHAR(255) NULL,
    category    VARCHAR(32) NULL COMMENT 'student level: 國小, 國中, 普高, 技高, 大專',
    filename    VARCHAR(255) NOT NULL COMMENT 'log file (zip entry) the actor was seen in',
    PRIMARY KEY (id),
    KEY ix_actor_category (category)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE action (
    id           BIGINT UNSIGNED NOT NULL COMMENT 'hash of verb, object and course',
    verb_id      VARCHAR(512) NOT NULL,
    verb_display VARCHAR(255) NULL,
    object_id    VARCHAR(1024) NOT NULL,
    object_type  VARCHAR(255) NULL COMMENT 'activity type IRI, or Agent / StatementRef / SubStatement',
    object_name  VARCHAR(512) NULL,
    course_id    VARCHAR(128) NULL,
    PRIMARY KEY (id),
    KEY ix_action_course (course_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE cookie (
    id         BIGINT UNSIGNED NOT NULL COMMENT 'hash of the session fields',
    session_id VARCHAR(128) NULL,
    cookie_id  VARCHAR(128) NULL,
    user_agent VARCHAR(512) NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tanet_info (
    id          BIGINT UNSIGNED NOT NULL COMMENT 'hash of the network fields',
    client_ip   VARCHAR(45) NULL,
    region      VARCHAR(64) NULL COMMENT 'TANet regional network centre',
    school_code VARCHAR(32) NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE client_event (
    statement_id  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    import_id     BIGINT UNSIGNED NOT NULL COMMENT 'import_file.id of the file that first brought it',
    entry_name    VARCHAR(512) NOT NULL COMMENT 'zip entry the statement came from',
    log_date      DATE NOT NULL COMMENT 'business-zone date of the log',
    event_time    DATETIME(3) NOT NULL COMMENT 'statement timestamp, UTC',
    actor_id      BIGINT UNSIGNED NOT NULL,
    action_id     BIGINT UNSIGNED NOT NULL,
    cookie_id     BIGINT UNSIGNED NULL,
    tanet_info_id BIGINT UNSIGNED NULL,
    PRIMARY KEY (statement_id),
    KEY ix_client_event_log_date (log_date, action_id, actor_id),
    KEY ix_client_event_import (import_id),
    KEY ix_client_event_actor (actor_id),
    KEY ix_client_event_action (action_id),
    KEY ix_client_event_cookie (cookie_id),
    KEY ix_client_event_tanet (tanet_info_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE event_info (
    statement_id       CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    platform           VARCHAR(255) NULL,
    language           VARCHAR(35) NULL,
    registration       CHAR(36) CHARACTER SET ascii NULL,
    event_time         DATETIME(3) NULL COMMENT 'timestamp as sent; NULL when the statement had none',
    stored_time        DATETIME(3) NULL,
    version            VARCHAR(16) NULL,
    context_activities JSON NULL,
    extensions         JSON NULL COMMENT 'every extension not mapped to a column',
    PRIMARY KEY (statement_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE result (
    statement_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    score_scaled DOUBLE NULL,
    score_raw    DOUBLE NULL,
    score_min    DOUBLE NULL,
    score_max    DOUBLE NULL,
    success      TINYINT(1) NULL,
    completion   TINYINT(1) NULL,
    duration     VARCHAR(64) NULL COMMENT 'ISO 8601 duration as sent',
    duration_ms  BIGINT NULL,
    response     TEXT NULL,
    PRIMARY KEY (statement_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE video_info (
    statement_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    video_time      DOUBLE NULL COMMENT 'seconds',
    time_from       DOUBLE NULL,
    time_to         DOUBLE NULL,
    progress        DOUBLE NULL COMMENT '0..1',
    length          DOUBLE NULL COMMENT 'seconds',
    played_segments TEXT NULL,
    speed           VARCHAR(16) NULL,
    PRIMARY KEY (statement_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sentences (
    statement_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    seq          SMALLINT UNSIGNED NOT NULL,
    sentence     TEXT NOT NULL,
    score        DOUBLE NULL,
    detail       JSON NULL COMMENT 'other fields of the assessment',
    PRIMARY KEY (statement_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
