-- CCTV fixes (issue 9) and the generic rollup ledger.
--
-- 1. Camera ids may be Korean: every camera_id column becomes utf8mb4, compared exactly
--    (utf8mb4_bin: the API normalises ids to NFC, so one name is one byte string; `CAM-1`
--    and `cam-1` are two cameras). The `ascii` columns made any comparison with a non-ASCII
--    id fail with "Illegal mix of collations". The connection's charset is utf8mb4 (sqlx
--    sets it), so parameters and columns share a character set and the column's collation
--    decides. The foreign key is dropped and re-added: both of its columns must change
--    together.
-- 2. Fractions of a second are stored to the millisecond: count and outlier instants
--    become DATETIME(3) (the API refuses finer instants), so `…:00.200` and `…:00.700` are
--    two intervals instead of one overwriting the other.
-- 3. `rollup_done` replaces `cctv_rollup_done`: one "period done" ledger for every system
--    that rolls data up by period (`system_name` = 'cctv' now, the ads' daily archive
--    next). Its rows are carried over.

ALTER TABLE cctv_count DROP FOREIGN KEY fk_cctv_count_camera;

ALTER TABLE cctv_camera
    MODIFY camera_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

ALTER TABLE cctv_count
    MODIFY camera_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY start_utc DATETIME(3) NOT NULL,
    MODIFY end_utc   DATETIME(3) NOT NULL;

ALTER TABLE cctv_count
    ADD CONSTRAINT fk_cctv_count_camera FOREIGN KEY (camera_id) REFERENCES cctv_camera (camera_id);

ALTER TABLE cctv_stats
    MODIFY camera_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

ALTER TABLE cctv_outlier
    MODIFY camera_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY start_utc DATETIME(3) NOT NULL,
    MODIFY end_utc   DATETIME(3) NOT NULL;

-- The periods a system's rollup has computed. A missing row is a period still to compute
-- (a scheduled catch-up fills every complete one); writing a period inserts its row in the
-- same transaction; late data deletes the rows of the periods it changes.
CREATE TABLE rollup_done (
    system_name  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    period_kind  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    period_start DATE NOT NULL COMMENT 'first local day of the period',
    computed_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (system_name, period_kind, period_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO rollup_done (system_name, period_kind, period_start, computed_at)
SELECT 'cctv', CAST(period_kind AS CHAR), period_start, computed_at FROM cctv_rollup_done;

DROP TABLE cctv_rollup_done;
