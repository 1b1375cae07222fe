CREATE TABLE IF NOT EXISTS users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text,
    timezone   text NOT NULL DEFAULT 'UTC',
    a1c_target double precision,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS glucose_readings (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    value_mg_dl double precision NOT NULL,
    measured_at timestamptz NOT NULL,
    source      text NOT NULL DEFAULT 'manual',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT value_mg_dl_plausible CHECK (value_mg_dl > 0 AND value_mg_dl <= 1000),
    CONSTRAINT one_reading_per_user_time_source UNIQUE (user_id, measured_at, source)
);

-- The A1C window reads one user's readings by time.
CREATE INDEX IF NOT EXISTS glucose_readings_by_user_time
    ON glucose_readings (user_id, measured_at);

CREATE TABLE IF NOT EXISTS a1c_estimates (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_start          timestamptz NOT NULL,
    window_end            timestamptz NOT NULL,
    reading_count         integer NOT NULL,
    mean_glucose_mg_dl    double precision NOT NULL,
    gmi_percent           double precision NOT NULL,
    estimated_a1c_percent double precision NOT NULL,
    days_with_data        integer NOT NULL,
    coverage_percent      double precision NOT NULL,
    is_sufficient         boolean NOT NULL,
    job_id                uuid,
    created_at            timestamptz NOT NULL DEFAULT now(),
    -- Running the same calculation twice leaves one estimate.
    CONSTRAINT one_estimate_per_user_window_end UNIQUE (user_id, window_end)
);

CREATE TABLE IF NOT EXISTS notifications (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel    text NOT NULL,
    kind       text NOT NULL,
    status     text NOT NULL DEFAULT 'PENDING',
    title      text NOT NULL,
    body       text NOT NULL,
    data       jsonb,
    dedupe_key text,
    error      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    CONSTRAINT notification_channel_known CHECK (channel IN ('email', 'push', 'in_app')),
    CONSTRAINT notification_status_known
        CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED')),
    -- A notification with a dedupe key is sent at most once.
    CONSTRAINT one_notification_per_dedupe_key UNIQUE (dedupe_key)
);

CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (user_id, created_at);
