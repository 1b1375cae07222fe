-- A seed table adopted in place may lack columns the seed documents; add them with their
-- defaults so the service's statements find them.
ALTER TABLE job_queue
    ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS processed_at timestamptz,
    ADD COLUMN IF NOT EXISTS error text;
