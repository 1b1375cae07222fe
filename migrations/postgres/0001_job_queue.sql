-- The seed's job_queue table, extended. An existing seed table is adopted in place: every added
-- column has a default, so the app's plain INSERT (job_type, payload, status) keeps working.
CREATE TABLE IF NOT EXISTS job_queue (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_type     varchar(64) NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       varchar(16) NOT NULL DEFAULT 'PENDING',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    error        text
);

ALTER TABLE job_queue
    ADD COLUMN IF NOT EXISTS priority smallint NOT NULL DEFAULT 5,
    ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 4,
    ADD COLUMN IF NOT EXISTS run_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS started_at timestamptz,
    ADD COLUMN IF NOT EXISTS locked_by text,
    ADD COLUMN IF NOT EXISTS lease_id uuid,
    ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS unique_key text,
    ADD COLUMN IF NOT EXISTS result jsonb;

-- NOT VALID: rows an older system left behind are not judged, every new write is.
ALTER TABLE job_queue
    ADD CONSTRAINT job_status_known CHECK (status IN (
        'PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'RETRY', 'DEAD_LETTER', 'CANCELLED'
    )) NOT VALID,
    ADD CONSTRAINT priority_in_range CHECK (priority BETWEEN 0 AND 9) NOT VALID,
    ADD CONSTRAINT attempts_within_max
        CHECK (attempts >= 0 AND max_attempts >= 1 AND attempts <= max_attempts) NOT VALID,
    ADD CONSTRAINT processing_holds_lease
        CHECK (status <> 'PROCESSING' OR (lease_id IS NOT NULL AND lease_expires_at IS NOT NULL))
        NOT VALID,
    ADD CONSTRAINT processed_at_only_when_terminal CHECK (
        (processed_at IS NOT NULL)
        = (status IN ('COMPLETED', 'FAILED', 'DEAD_LETTER', 'CANCELLED'))
    ) NOT VALID;

-- The claim reads runnable rows of one type in (priority, run_at, id) order; the partial index
-- holds only those rows, so its size follows the backlog, not the table's history.
CREATE INDEX IF NOT EXISTS job_queue_runnable_by_type
    ON job_queue (job_type, priority, run_at, id)
    WHERE status IN ('PENDING', 'RETRY');

-- The seed's monitoring queries filter on status and created_at.
CREATE INDEX IF NOT EXISTS job_queue_status_created ON job_queue (status, created_at);

-- Rescue looks for expired leases among the (few) rows being processed.
CREATE INDEX IF NOT EXISTS job_queue_lease_expiry
    ON job_queue (lease_expires_at)
    WHERE status = 'PROCESSING';

-- At most one live job per unique_key.
CREATE UNIQUE INDEX IF NOT EXISTS job_queue_one_live_per_unique_key
    ON job_queue (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('PENDING', 'RETRY', 'PROCESSING');

-- One NOTIFY per job type per statement, so a bulk insert wakes each pool once.
CREATE OR REPLACE FUNCTION job_queue_notify_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserted_type text;
BEGIN
    FOR inserted_type IN SELECT DISTINCT job_type FROM inserted_jobs LOOP
        PERFORM pg_notify('job_queue', inserted_type);
    END LOOP;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS job_queue_notify_insert ON job_queue;
CREATE TRIGGER job_queue_notify_insert
    AFTER INSERT ON job_queue
    REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_queue_notify_inserted();

-- The app inserts CALCULATE_A1C rows with the default priority; its calculation_type decides
-- whether they are urgent (immediate) or background (batch) work.
CREATE OR REPLACE FUNCTION job_queue_a1c_priority() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.priority := CASE NEW.payload->>'calculation_type'
        WHEN 'immediate' THEN 3
        WHEN 'batch' THEN 7
        ELSE NEW.priority
    END;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS job_queue_a1c_priority ON job_queue;
CREATE TRIGGER job_queue_a1c_priority
    BEFORE INSERT ON job_queue
    FOR EACH ROW
    WHEN (NEW.job_type = 'CALCULATE_A1C' AND NEW.priority = 5)
    EXECUTE FUNCTION job_queue_a1c_priority();

-- One row per (schedule, fire time): written in the same transaction as the job it fires, so a
-- fire time produces one job however many nodes race for it.
CREATE TABLE IF NOT EXISTS schedule_runs (
    schedule   text NOT NULL,
    fire_at    timestamptz NOT NULL,
    job_id     uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, fire_at)
);
