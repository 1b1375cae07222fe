-- Periodic glucose reports (GENERATE_REPORT): the statistics as JSON and the HTML document.
CREATE TABLE IF NOT EXISTS reports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    report_type  text NOT NULL,
    -- First and last local day covered, both inclusive, in the user's time zone.
    period_start date NOT NULL,
    period_end   date NOT NULL,
    time_zone    text NOT NULL,
    stats        jsonb NOT NULL,
    html         text NOT NULL,
    -- The job that wrote the report last; no foreign key, since cleanup prunes old jobs.
    job_id       uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT report_type_known CHECK (report_type IN ('weekly', 'monthly', 'quarterly')),
    CONSTRAINT report_period_ordered CHECK (period_end >= period_start),
    -- Generating a report again replaces it: one report per user, type and period start.
    CONSTRAINT one_report_per_user_type_period UNIQUE (user_id, report_type, period_start)
);

-- Listing a user's reports, newest period first.
CREATE INDEX IF NOT EXISTS reports_by_user_period ON reports (user_id, period_start DESC);
