-- Pool controls: an operator pauses, resumes or resizes the pool of a job type. The pool
-- reads its row on every poll tick.
CREATE TABLE IF NOT EXISTS pool_controls (
    job_type    TEXT PRIMARY KEY NOT NULL,
    -- A paused pool claims nothing new; its running jobs finish.
    paused      INTEGER NOT NULL DEFAULT 0,
    -- Overrides the configured concurrency; NULL keeps the configured one.
    concurrency INTEGER,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_by  TEXT NOT NULL DEFAULT '',
    CONSTRAINT pool_concurrency_at_least_one CHECK (concurrency IS NULL OR concurrency >= 1)
);

-- Who did what to which job or pool: every operator action, in the transaction of the change.
CREATE TABLE IF NOT EXISTS audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- Token name for the HTTP API, `cli:<os user>` for the command line.
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    job_id   TEXT,
    job_type TEXT,
    detail   TEXT NOT NULL DEFAULT '{}',
    CONSTRAINT audit_action_known CHECK (action IN (
        'job.create', 'job.retry', 'job.cancel', 'job.requeue_dead_letter',
        'pool.pause', 'pool.resume', 'pool.concurrency'
    ))
);

CREATE INDEX IF NOT EXISTS audit_log_of_job ON audit_log (job_id) WHERE job_id IS NOT NULL;
