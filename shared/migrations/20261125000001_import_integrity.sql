-- Import integrity (issue 10): a statement's content hash, so a second copy of a statement
-- id with different content is reported as a conflict instead of dropped; and the ledger
-- counts that make read = inserted + already_present + duplicates_in_file + rejected +
-- lost + discarded hold for every file. Both are instant column additions on MySQL 8.0
-- and MariaDB 10.11 (trailing nullable / defaulted columns): no table copy.

ALTER TABLE client_event
    ADD COLUMN content_hash BINARY(16) NULL
        COMMENT 'first 16 bytes of SHA-256 over the canonical statement; NULL for rows imported before it existed';

ALTER TABLE import_file
    ADD COLUMN duplicates_in_file BIGINT UNSIGNED NOT NULL DEFAULT 0
        COMMENT 'exact repeats of a statement earlier in the same file',
    ADD COLUMN lost BIGINT UNSIGNED NOT NULL DEFAULT 0
        COMMENT 'parts of an entry that could not be split into statements; 0 when completed',
    ADD COLUMN discarded BIGINT UNSIGNED NOT NULL DEFAULT 0
        COMMENT 'valid statements not kept because the file failed; 0 when completed';
