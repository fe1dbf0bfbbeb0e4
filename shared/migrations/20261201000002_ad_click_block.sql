-- The click-block window of the ad counters (AD_CLICK_BLOCK_SECS, Revive Adserver's
-- "block logging clicks"): the instant of the last click counted per style and visitor,
-- read and updated by ad-counter-worker in its batch transaction, so a visitor's repeated
-- clicks on one ad within the window count once. Rows older than the window are pruned
-- by the daily archive. Empty while the window is 0 (off).
CREATE TABLE ad_click_last (
    style_id      BIGINT UNSIGNED NOT NULL,
    visitor       BIGINT UNSIGNED NOT NULL,
    last_click_ms BIGINT NOT NULL COMMENT 'Unix milliseconds of the last counted click',
    PRIMARY KEY (style_id, visitor),
    KEY ix_ad_click_last_time (last_click_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
