-- Periodic glucose reports (GENERATE_REPORT): the statistics as JSON and the HTML document.
-- Dates are 'YYYY-MM-DD' text, times fixed-width UTC text, so comparing text compares them.
CREATE TABLE IF NOT EXISTS reports (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    report_type  TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    stats        TEXT NOT NULL,
    html         TEXT NOT NULL,
    job_id       TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT report_type_known CHECK (report_type IN ('weekly', 'monthly', 'quarterly')),
    CONSTRAINT report_period_ordered CHECK (period_end >= period_start),
    CONSTRAINT report_dates_iso CHECK (
        period_start GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
        AND period_end GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
    ),
    CONSTRAINT one_report_per_user_type_period UNIQUE (user_id, report_type, period_start)
);

CREATE INDEX IF NOT EXISTS reports_by_user_period ON reports (user_id, period_start DESC);
