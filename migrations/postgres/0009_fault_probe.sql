-- Every run of the FAULT_PROBE job type, the fault suite's test job (off unless a node
-- configures [pools.FAULT_PROBE]). No unique constraint on purpose: a job that runs twice
-- shows up as two rows. Empty on nodes that never run the probe.
CREATE TABLE IF NOT EXISTS fault_probe_runs (
    id         uuid PRIMARY KEY,
    job_id     uuid NOT NULL,
    attempt    integer NOT NULL,
    node       text NOT NULL,
    started_at timestamptz NOT NULL,
    -- Null while running, and forever for a run its process did not survive.
    ended_at   timestamptz
);

CREATE INDEX IF NOT EXISTS fault_probe_runs_by_job ON fault_probe_runs (job_id);
