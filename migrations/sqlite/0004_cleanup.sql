-- CLEANUP_DATA: see the PostgreSQL migration. Ids are UUID text, times fixed-width UTC text.

-- One row per run. job_id has no foreign key: cleanup itself may later archive that job.
CREATE TABLE IF NOT EXISTS cleanup_log (
    id              TEXT PRIMARY KEY NOT NULL,
    job_id          TEXT NOT NULL,
    cleanup_type    TEXT NOT NULL,
    older_than_days INTEGER NOT NULL,
    -- Rows archived or deleted per table, as a JSON object.
    counts          TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT counts_is_json CHECK (json_valid(counts)),
    CONSTRAINT cleanup_type_known CHECK (cleanup_type IN ('archive', 'delete')),
    CONSTRAINT older_than_days_positive CHECK (older_than_days >= 1),
    CONSTRAINT duration_ms_not_negative CHECK (duration_ms >= 0)
);

CREATE INDEX IF NOT EXISTS cleanup_log_by_created ON cleanup_log (created_at);

-- Archives: the source's columns plus archived_at, with no constraint but the primary key (see
-- the PostgreSQL migration for why).
CREATE TABLE IF NOT EXISTS glucose_readings_archive (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT,
    value_mg_dl REAL,
    measured_at TEXT,
    source      TEXT,
    created_at  TEXT,
    archived_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS job_queue_archive (
    id               TEXT PRIMARY KEY NOT NULL,
    job_type         TEXT,
    payload          TEXT,
    status           TEXT,
    created_at       TEXT,
    updated_at       TEXT,
    processed_at     TEXT,
    error            TEXT,
    priority         INTEGER,
    attempts         INTEGER,
    max_attempts     INTEGER,
    run_at           TEXT,
    started_at       TEXT,
    locked_by        TEXT,
    lease_id         TEXT,
    lease_expires_at TEXT,
    unique_key       TEXT,
    result           TEXT,
    archived_at      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications_archive (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT,
    channel     TEXT,
    kind        TEXT,
    status      TEXT,
    title       TEXT,
    body        TEXT,
    data        TEXT,
    dedupe_key  TEXT,
    error       TEXT,
    created_at  TEXT,
    sent_at     TEXT,
    archived_at TEXT NOT NULL
);

-- Cleanup reads the oldest eligible rows first, a batch at a time.
CREATE INDEX IF NOT EXISTS glucose_readings_by_measured_at ON glucose_readings (measured_at);

CREATE INDEX IF NOT EXISTS job_queue_terminal_by_processed_at
    ON job_queue (processed_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'DEAD_LETTER');

CREATE INDEX IF NOT EXISTS notifications_by_created_at ON notifications (created_at);
