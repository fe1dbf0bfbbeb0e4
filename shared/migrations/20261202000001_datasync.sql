-- Data-sync platform (source system 003), rebuilt: datasources, DataX job configs and
-- their runs, under the original's table names.
--
-- `datasource.password` is AES-256-GCM ciphertext (version byte, 12-byte nonce, ciphertext
-- and tag; the key is SYNC_ENCRYPTION_KEY / its secret), never the password itself. A job
-- config's `content` holds DataX job JSON whose readers and writers name a datasource by
-- `datasourceId` instead of carrying a jdbcUrl, username and password; the two foreign
-- keys make deleting a datasource that a config uses fail (the API answers 409), with no
-- window between a check and the delete. Deletes are physical (the original's to-do).
-- Times are UTC DATETIMEs.

CREATE TABLE datasource (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    source_name  VARCHAR(128) NOT NULL,
    description  VARCHAR(512) NOT NULL DEFAULT '',
    project_name VARCHAR(128) NOT NULL DEFAULT '',
    db_type      VARCHAR(16) NOT NULL,
    host         VARCHAR(255) NOT NULL,
    port         SMALLINT UNSIGNED NOT NULL,
    db_name      VARCHAR(128) NOT NULL,
    username     VARCHAR(128) NOT NULL,
    password     VARBINARY(1024) NOT NULL,
    owner        VARCHAR(128) NOT NULL,
    insert_time  DATETIME NOT NULL,
    update_time  DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_datasource_name (source_name),
    KEY ix_datasource_type (db_type, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The original kept the per-type catalogue SQL in a table; these rows say what the API
-- runs (with bound parameters), for an operator reading the database. The code does not
-- read SQL from here: a table of statements to execute would be an injection point.
CREATE TABLE columns_query (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    db_type     VARCHAR(16) NOT NULL,
    query_sql   TEXT NOT NULL,
    ping        VARCHAR(255) NOT NULL,
    insert_time DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_columns_query_type (db_type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO columns_query (db_type, query_sql, ping, insert_time) VALUES
    ('mysql',
     'SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
     'SELECT VERSION()', UTC_TIMESTAMP()),
    ('postgresql',
     'SELECT column_name, data_type, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
     'SHOW server_version', UTC_TIMESTAMP());

CREATE TABLE json_config (
    id                   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    config_name          VARCHAR(128) NOT NULL,
    -- The S3 key the job JSON is also written to (the original's "file address").
    config_path          VARCHAR(512) NOT NULL,
    content              MEDIUMTEXT NOT NULL,
    reader_datasource_id BIGINT UNSIGNED NULL,
    writer_datasource_id BIGINT UNSIGNED NULL,
    owner                VARCHAR(128) NOT NULL,
    insert_time          DATETIME NOT NULL,
    update_time          DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_json_config_name (config_name),
    KEY ix_json_config_reader (reader_datasource_id),
    KEY ix_json_config_writer (writer_datasource_id),
    CONSTRAINT fk_json_config_reader FOREIGN KEY (reader_datasource_id) REFERENCES datasource (id),
    CONSTRAINT fk_json_config_writer FOREIGN KEY (writer_datasource_id) REFERENCES datasource (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per run: queued by POST /api/config/exec, claimed and finished by sync-worker.
-- exec_result is the run's log (the DataX summary block at its end); a log longer than
-- the row keeps goes to S3 at log_key, and exec_result keeps its head and the summary.
-- config_id has no foreign key: a run's record outlives neither its config (deleting a
-- config deletes its runs, as the original did) nor needs one to be read.
CREATE TABLE exec_log (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    config_id       BIGINT UNSIGNED NOT NULL,
    exec_name       VARCHAR(512) NOT NULL,
    exec_result     MEDIUMTEXT NULL,
    status          VARCHAR(16) NOT NULL,
    summary         JSON NULL,
    records_read    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    records_written BIGINT UNSIGNED NOT NULL DEFAULT 0,
    records_failed  BIGINT UNSIGNED NOT NULL DEFAULT 0,
    bytes_read      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    log_lines       INT UNSIGNED NOT NULL DEFAULT 0,
    log_key         VARCHAR(512) NULL,
    error           TEXT NULL,
    owner           VARCHAR(128) NOT NULL,
    insert_date     DATETIME NOT NULL,
    started_at      DATETIME(3) NULL,
    finished_at     DATETIME(3) NULL,
    PRIMARY KEY (id),
    KEY ix_exec_log_config (config_id, id),
    KEY ix_exec_log_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
