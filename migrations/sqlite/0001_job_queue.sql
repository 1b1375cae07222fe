-- The seed's job_queue table on SQLite. Ids are hyphenated UUID text, timestamps are UTC text
-- 'YYYY-MM-DDTHH:MM:SS.sssZ' (fixed width, so text order is time order), payloads JSON text.
CREATE TABLE IF NOT EXISTS job_queue (
    id               TEXT PRIMARY KEY NOT NULL DEFAULT (lower(
                         hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                         || substr(hex(randomblob(2)), 2) || '-'
                         || substr('89ab', 1 + (abs(random()) % 4), 1)
                         || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    job_type         TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL DEFAULT 'PENDING',
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    processed_at     TEXT,
    error            TEXT,
    priority         INTEGER NOT NULL DEFAULT 5,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 4,
    run_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at       TEXT,
    locked_by        TEXT,
    lease_id         TEXT,
    lease_expires_at TEXT,
    unique_key       TEXT,
    result           TEXT,
    CONSTRAINT payload_is_json CHECK (json_valid(payload)),
    CONSTRAINT job_status_known CHECK (status IN (
        'PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'RETRY', 'DEAD_LETTER', 'CANCELLED'
    )),
    CONSTRAINT priority_in_range CHECK (priority BETWEEN 0 AND 9),
    CONSTRAINT attempts_within_max
        CHECK (attempts >= 0 AND max_attempts >= 1 AND attempts <= max_attempts),
    CONSTRAINT processing_holds_lease
        CHECK (status <> 'PROCESSING' OR (lease_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT processed_at_only_when_terminal CHECK (
        (processed_at IS NOT NULL)
        = (status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER', 'CANCELLED'))
    )
);

CREATE INDEX IF NOT EXISTS job_queue_runnable_by_type
    ON job_queue (job_type, priority, run_at, id)
    WHERE status IN ('PENDING', 'RETRY');

CREATE INDEX IF NOT EXISTS job_queue_status_created ON job_queue (status, created_at);

CREATE INDEX IF NOT EXISTS job_queue_lease_expiry
    ON job_queue (lease_expires_at)
    WHERE status = 'PROCESSING';

CREATE UNIQUE INDEX IF NOT EXISTS job_queue_one_live_per_unique_key
    ON job_queue (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('PENDING', 'RETRY', 'PROCESSING');

-- See the PostgreSQL migration: the app's default-priority CALCULATE_A1C rows take their
-- priority from calculation_type.
CREATE TRIGGER IF NOT EXISTS job_queue_a1c_priority
    AFTER INSERT ON job_queue
    FOR EACH ROW
    WHEN NEW.job_type = 'CALCULATE_A1C' AND NEW.priority = 5
        AND json_extract(NEW.payload, '$.calculation_type') IN ('immediate', 'batch')
BEGIN
    UPDATE job_queue
    SET priority = CASE json_extract(NEW.payload, '$.calculation_type')
        WHEN 'immediate' THEN 3
        ELSE 7
    END
    WHERE id = NEW.id;
END;

CREATE TABLE IF NOT EXISTS schedule_runs (
    schedule   TEXT NOT NULL,
    fire_at    TEXT NOT NULL,
    job_id     TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (schedule, fire_at)
);
