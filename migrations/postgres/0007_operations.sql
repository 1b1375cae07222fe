-- Pool controls: an operator pauses, resumes or resizes the pool of a job type on every node.
-- Each node's pool reads its row on every poll tick; a change also sends
-- NOTIFY pool_controls, '<job_type>' so that it applies within milliseconds.
CREATE TABLE IF NOT EXISTS pool_controls (
    job_type    text PRIMARY KEY,
    -- A paused pool claims nothing new; its running jobs finish.
    paused      boolean NOT NULL DEFAULT false,
    -- Overrides the configured concurrency on every node; NULL keeps the configured one.
    concurrency integer,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT '',
    CONSTRAINT pool_concurrency_at_least_one CHECK (concurrency IS NULL OR concurrency >= 1)
);

-- Who did what to which job or pool: every operator action, in the transaction of the change.
CREATE TABLE IF NOT EXISTS audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    -- Token name for the HTTP API, `cli:<os user>` for the command line.
    actor    text NOT NULL,
    action   text NOT NULL,
    job_id   uuid,
    job_type text,
    detail   jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT audit_action_known CHECK (action IN (
        'job.create', 'job.retry', 'job.cancel', 'job.requeue_dead_letter',
        'pool.pause', 'pool.resume', 'pool.concurrency'
    ))
);

-- The API lists the newest entries first, and those of one job.
CREATE INDEX IF NOT EXISTS audit_log_newest ON audit_log (id DESC);
CREATE INDEX IF NOT EXISTS audit_log_of_job ON audit_log (job_id) WHERE job_id IS NOT NULL;
