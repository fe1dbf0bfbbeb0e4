-- Retention cleanup (source system 000): dimension rows that may have lost their last
-- reference. The cleanup adds the actor, action, cookie and tanet_info ids of the events it
-- deletes, in the same transaction as the delete, and later removes each candidate that
-- nothing references any more. Kept in a table (not in memory) so a run stopped by its time
-- budget, or killed, loses nothing: the next run carries on from here.

CREATE TABLE cleanup_candidate (
    dimension VARCHAR(16) CHARACTER SET ascii NOT NULL COMMENT 'actor | action | cookie | tanet_info',
    id        BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (dimension, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
