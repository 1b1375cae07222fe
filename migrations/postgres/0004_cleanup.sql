-- CLEANUP_DATA: a log row per run, archive tables for the tables it may archive, and indexes
-- that let it read the oldest rows first.

-- One row per run. job_id has no foreign key: cleanup itself may later archive that job.
CREATE TABLE IF NOT EXISTS cleanup_log (
    id              uuid PRIMARY KEY,
    job_id          uuid NOT NULL,
    cleanup_type    text NOT NULL,
    older_than_days integer NOT NULL,
    -- Rows archived or deleted per table, e.g. {"glucose_readings": 120, "job_queue": 4}.
    counts          jsonb NOT NULL,
    duration_ms     bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cleanup_type_known CHECK (cleanup_type IN ('archive', 'delete')),
    CONSTRAINT older_than_days_positive CHECK (older_than_days >= 1),
    CONSTRAINT duration_ms_not_negative CHECK (duration_ms >= 0)
);

CREATE INDEX IF NOT EXISTS cleanup_log_by_created ON cleanup_log (created_at);

-- An archive has its source's columns plus archived_at. It keeps none of the source's foreign
-- keys, checks, unique constraints, triggers or NOT NULLs: archived rows outlive their users
-- and a row the source once accepted must never be refused here. The primary key on id makes
-- a replayed batch insert nothing twice. A column added to a source table must be added to its
-- archive and to src/store/cleanup/sql.rs (tests/cleanup.rs checks the first).
CREATE TABLE IF NOT EXISTS glucose_readings_archive (
    id          uuid PRIMARY KEY,
    user_id     uuid,
    value_mg_dl double precision,
    measured_at timestamptz,
    source      text,
    created_at  timestamptz,
    archived_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS job_queue_archive (
    id               uuid PRIMARY KEY,
    job_type         text,
    payload          jsonb,
    status           text,
    created_at       timestamptz,
    updated_at       timestamptz,
    processed_at     timestamptz,
    error            text,
    priority         smallint,
    attempts         integer,
    max_attempts     integer,
    run_at           timestamptz,
    started_at       timestamptz,
    locked_by        text,
    lease_id         uuid,
    lease_expires_at timestamptz,
    unique_key       text,
    result           jsonb,
    archived_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications_archive (
    id          uuid PRIMARY KEY,
    user_id     uuid,
    channel     text,
    kind        text,
    status      text,
    title       text,
    body        text,
    data        jsonb,
    dedupe_key  text,
    error       text,
    created_at  timestamptz,
    sent_at     timestamptz,
    archived_at timestamptz NOT NULL
);

-- Cleanup takes the oldest eligible rows first, a batch at a time; these indexes let each batch
-- stop after its last row instead of scanning the table.
CREATE INDEX IF NOT EXISTS glucose_readings_by_measured_at ON glucose_readings (measured_at);

CREATE INDEX IF NOT EXISTS job_queue_terminal_by_processed_at
    ON job_queue (processed_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'DEAD_LETTER');

CREATE INDEX IF NOT EXISTS notifications_by_created_at ON notifications (created_at);
