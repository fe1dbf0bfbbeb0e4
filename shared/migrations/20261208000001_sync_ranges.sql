-- Data sync, part 2: one job across many sync-worker invocations.
--
-- A run is planned once (its preSql done, its tasks cut): the job JSON it runs is kept in
-- exec_log.job_content, so an edit of the config during the run changes nothing of it.
-- Each task ("range": a splitPk range, the NULL slice, a table, a querySql, a stream
-- slice) is one exec_range row and one SQS message at a time. A range moves
-- pending -> queued (its message sent) -> running (leased by one invocation) -> done or
-- failed; near the deadline a running range records its checkpoint (resume_after, the
-- last key written) and goes back to queued with a new message. The last range to finish
-- assembles the run's result. exactly_once says how a rewrite is kept harmless:
-- 'ledger' (a checkpoint table in the target, written in each batch's transaction),
-- 'rewrite' (writeMode replace/update on a keyed target) or 'none' (insert: a range whose
-- worker died midway fails the run instead of being written twice).
--
-- The incremental columns: json_config.incremental is the setting ({kind, column, table,
-- start}), high_water_mark the upper bound of the last successful run; a run keeps its
-- window in inc_from / inc_to and moves the mark only when it succeeds.

ALTER TABLE exec_log
    ADD COLUMN job_content MEDIUMTEXT NULL,
    ADD COLUMN run_token CHAR(32) NULL,
    ADD COLUMN exactly_once VARCHAR(8) NULL,
    ADD COLUMN ranges INT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN lanes INT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN assembled_at DATETIME(3) NULL,
    ADD COLUMN inc_from VARCHAR(64) NULL,
    ADD COLUMN inc_to VARCHAR(64) NULL;

CREATE TABLE exec_range (
    exec_log_id      BIGINT UNSIGNED NOT NULL,
    task_index       INT UNSIGNED NOT NULL,
    task             TEXT NOT NULL,
    status           VARCHAR(16) NOT NULL,
    lease            CHAR(32) NULL,
    heartbeat_at     DATETIME(3) NULL,
    dispatched_by    INT UNSIGNED NULL,
    resume_after     BIGINT NULL,
    invocations      INT UNSIGNED NOT NULL DEFAULT 0,
    restarts         INT UNSIGNED NOT NULL DEFAULT 0,
    read_ok          BIGINT UNSIGNED NOT NULL DEFAULT 0,
    read_ok_bytes    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    read_failed      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    write_failed     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    written          BIGINT UNSIGNED NOT NULL DEFAULT 0,
    transfer_started DATETIME(3) NULL,
    transfer_ended   DATETIME(3) NULL,
    log              MEDIUMTEXT NULL,
    error            TEXT NULL,
    PRIMARY KEY (exec_log_id, task_index),
    KEY ix_exec_range_status (exec_log_id, status, task_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE json_config
    ADD COLUMN incremental JSON NULL,
    ADD COLUMN high_water_mark VARCHAR(64) NULL;

-- The owner's consent to a bookkeeping table (datax_sync_checkpoint) in this datasource's
-- database when it is a writer's target: what makes writeMode insert exactly once.
ALTER TABLE datasource
    ADD COLUMN checkpoint_table TINYINT(1) NOT NULL DEFAULT 0;
