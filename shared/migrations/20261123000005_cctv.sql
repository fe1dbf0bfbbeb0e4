-- CCTV people/vehicle counts (source system 001), rebuilt: counts per camera and interval,
-- one stats table instead of the original's 18, outliers flagged on arrival, and a ledger
-- of the periods the rollups have computed (so a run catches up on missed ones).
-- All instants are UTC DATETIMEs; days, weeks, months and years are local dates in the
-- cameras' time zone (CCTV_TIME_ZONE), as the rollup computed them.

-- Cameras, registered on their first count (or by hand when auto-registration is off).
CREATE TABLE cctv_camera (
    camera_id     VARCHAR(64) CHARACTER SET ascii NOT NULL,
    registered_at DATETIME(3) NOT NULL,
    PRIMARY KEY (camera_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per camera and interval; an interval is identified by its start (re-posting it
-- replaces the counts). The covering start index serves the day rollup and range reads.
CREATE TABLE cctv_count (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    camera_id   VARCHAR(64) CHARACTER SET ascii NOT NULL,
    start_utc   DATETIME NOT NULL,
    end_utc     DATETIME NOT NULL,
    people      INT UNSIGNED NOT NULL,
    vehicles    INT UNSIGNED NOT NULL,
    received_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_cctv_count_interval (camera_id, start_utc),
    KEY ix_cctv_count_start (start_utc, camera_id, people, vehicles),
    CONSTRAINT fk_cctv_count_camera FOREIGN KEY (camera_id) REFERENCES cctv_camera (camera_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every statistic: per camera, period kind and period start (the local date of its first
-- day), plus the ISO weekday (1 = Monday .. 7 = Sunday) for the per-weekday kinds (0 for
-- the others). avg = mean; ref = avg + 1.5 x population standard deviation for day rows,
-- the mean of the day rows' ref for the longer kinds (as the original's events do).
-- samples = counts averaged (day) or day rows averaged (the other kinds).
CREATE TABLE cctv_stats (
    camera_id     VARCHAR(64) CHARACTER SET ascii NOT NULL,
    period_kind   ENUM('day', 'week', 'month', 'year', 'weekday-of-month', 'weekday-of-year') NOT NULL,
    period_start  DATE NOT NULL,
    weekday       TINYINT UNSIGNED NOT NULL DEFAULT 0,
    period_end    DATE NOT NULL COMMENT 'last local day of the period (inclusive)',
    samples       INT UNSIGNED NOT NULL,
    people_avg    DOUBLE NOT NULL,
    people_ref    DOUBLE NOT NULL,
    vehicles_avg  DOUBLE NOT NULL,
    vehicles_ref  DOUBLE NOT NULL,
    computed_at   DATETIME(3) NOT NULL,
    PRIMARY KEY (camera_id, period_kind, period_start, weekday),
    KEY ix_cctv_stats_period (period_kind, period_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Counts above the camera's reference when they arrived, with the reference used.
-- One row per count interval: a re-post re-evaluates it (and removes it when no longer above).
CREATE TABLE cctv_outlier (
    camera_id         VARCHAR(64) CHARACTER SET ascii NOT NULL,
    start_utc         DATETIME NOT NULL,
    end_utc           DATETIME NOT NULL,
    people            INT UNSIGNED NOT NULL,
    vehicles          INT UNSIGNED NOT NULL,
    outlier           ENUM('people', 'vehicle', 'both') NOT NULL,
    reference_kind    ENUM('day', 'week', 'month', 'year') NOT NULL,
    people_reference  DOUBLE NOT NULL,
    vehicle_reference DOUBLE NOT NULL,
    detected_at       DATETIME(3) NOT NULL,
    PRIMARY KEY (camera_id, start_utc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The periods the rollups have computed (for every camera at once). A missing row is a
-- period still to compute: the scheduled run fills every complete one. Recomputing a day
-- removes the rows of the week, month and year around it; a count posted for a day
-- already computed removes that day's row.
CREATE TABLE cctv_rollup_done (
    period_kind  ENUM('day', 'week', 'month', 'year') NOT NULL,
    period_start DATE NOT NULL,
    computed_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (period_kind, period_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
