-- Ad impression and click counters (source system 004), rebuilt.
--
-- Configuration: groups, images and styles (a style is one ad placed for one `system`,
-- the seed's word for a client site or app). Counting: the API sends one event per hit to
-- SQS; ad-counter-worker folds a batch in one transaction: its event ids into
-- `ad_event_seen` (a redelivered event is dropped), its counts into `ad_hour_count`, its
-- visitors into one HLL sketch row per style and hour in `ad_hour_visitors`. The daily
-- archive writes `ad_ctr` and records the day in `rollup_done` (system 'ads').
--
-- Instants are UTC DATETIMEs; `ad_ctr.day` is a local date in the business time zone
-- (AD_TIME_ZONE). Counts and `ad_ctr` carry the style id without a foreign key: removing
-- a style (admin delete with force) removes configuration only, never its history.

CREATE TABLE ad_group (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    `group`     VARCHAR(64) NOT NULL,
    note        VARCHAR(255) NOT NULL DEFAULT '',
    create_time DATETIME NOT NULL,
    update_time DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_ad_group_name (`group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ad_image (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    image_name  VARCHAR(128) NOT NULL,
    image_url   VARCHAR(2048) NOT NULL,
    note        VARCHAR(255) NOT NULL DEFAULT '',
    group_id    BIGINT UNSIGNED NOT NULL,
    create_time DATETIME NOT NULL,
    update_time DATETIME NOT NULL,
    PRIMARY KEY (id),
    KEY ix_ad_image_group (group_id),
    CONSTRAINT fk_ad_image_group FOREIGN KEY (group_id) REFERENCES ad_group (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- show_code / click_code: 22 characters of URL-safe base64 over 128 random bits, made once
-- and never changed (clients embed them in pages).
CREATE TABLE ad_style (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    `system`    VARCHAR(64) NOT NULL,
    image_id    BIGINT UNSIGNED NOT NULL,
    link_url    VARCHAR(2048) NOT NULL,
    weight      INT UNSIGNED NOT NULL DEFAULT 1,
    device      ENUM('all', 'pc', 'mobile') NOT NULL DEFAULT 'all',
    up_time     DATETIME NULL COMMENT 'UTC; NULL = live from creation',
    down_time   DATETIME NULL COMMENT 'UTC; NULL = never taken down',
    enabled     TINYINT(1) NOT NULL DEFAULT 1,
    show_code   CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    click_code  CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    note        VARCHAR(255) NOT NULL DEFAULT '',
    create_time DATETIME NOT NULL,
    update_time DATETIME NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_ad_style_show_code (show_code),
    UNIQUE KEY uq_ad_style_click_code (click_code),
    KEY ix_ad_style_system (`system`),
    KEY ix_ad_style_image (image_id),
    CONSTRAINT fk_ad_style_image FOREIGN KEY (image_id) REFERENCES ad_image (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The ids of the events already counted (UUID v7: the first 48 bits are the hit's
-- millisecond, so pruning by age is a primary-key range delete). Kept longer than any
-- message can live in the queue and its DLQ (SQS keeps a message at most 14 days from its
-- first enqueue), so a redrive cannot count twice.
CREATE TABLE ad_event_seen (
    event_id BINARY(16) NOT NULL,
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Shows and clicks per style and UTC hour. `shard` spreads one hot (style, hour) over a
-- few rows, so parallel workers adding to it do not queue on one row lock; readers sum
-- the shards.
CREATE TABLE ad_hour_count (
    style_id   BIGINT UNSIGNED NOT NULL,
    hour_utc   DATETIME NOT NULL,
    shard      TINYINT UNSIGNED NOT NULL,
    shows      BIGINT UNSIGNED NOT NULL,
    clicks     BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (style_id, hour_utc, shard),
    KEY ix_ad_hour_count_hour (hour_utc, style_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Unique visitors: one HLL sketch (Apache DataSketches binary format) per batch, style and
-- hour; merged when read and compacted into one row per style and hour when the day is
-- archived. Appending a row per batch keeps parallel workers from contending on one
-- read-modify-write row.
CREATE TABLE ad_hour_visitors (
    id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    style_id BIGINT UNSIGNED NOT NULL,
    hour_utc DATETIME NOT NULL,
    sketch   BLOB NOT NULL,
    PRIMARY KEY (id),
    KEY ix_ad_hour_visitors_hour (hour_utc, style_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The daily archive: one row per local day and style. ctr = clicks / shows, NULL when the
-- style had no shows that day.
CREATE TABLE ad_ctr (
    day         DATE NOT NULL,
    style_id    BIGINT UNSIGNED NOT NULL,
    shows       BIGINT UNSIGNED NOT NULL,
    clicks      BIGINT UNSIGNED NOT NULL,
    ctr         DOUBLE NULL,
    visitors    BIGINT UNSIGNED NOT NULL,
    archived_at DATETIME(3) NOT NULL,
    PRIMARY KEY (day, style_id),
    KEY ix_ad_ctr_style (style_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
