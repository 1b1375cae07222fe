CREATE TABLE IF NOT EXISTS users (
    id         TEXT PRIMARY KEY NOT NULL,
    email      TEXT,
    timezone   TEXT NOT NULL DEFAULT 'UTC',
    a1c_target REAL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS glucose_readings (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    value_mg_dl REAL NOT NULL,
    measured_at TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'manual',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT value_mg_dl_plausible CHECK (value_mg_dl > 0 AND value_mg_dl <= 1000),
    CONSTRAINT one_reading_per_user_time_source UNIQUE (user_id, measured_at, source)
);

CREATE INDEX IF NOT EXISTS glucose_readings_by_user_time
    ON glucose_readings (user_id, measured_at);

CREATE TABLE IF NOT EXISTS a1c_estimates (
    id                    TEXT PRIMARY KEY NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_start          TEXT NOT NULL,
    window_end            TEXT NOT NULL,
    reading_count         INTEGER NOT NULL,
    mean_glucose_mg_dl    REAL NOT NULL,
    gmi_percent           REAL NOT NULL,
    estimated_a1c_percent REAL NOT NULL,
    days_with_data        INTEGER NOT NULL,
    coverage_percent      REAL NOT NULL,
    is_sufficient         INTEGER NOT NULL,
    job_id                TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT one_estimate_per_user_window_end UNIQUE (user_id, window_end)
);

CREATE TABLE IF NOT EXISTS notifications (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'PENDING',
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    data       TEXT,
    dedupe_key TEXT,
    error      TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at    TEXT,
    CONSTRAINT notification_channel_known CHECK (channel IN ('email', 'push', 'in_app')),
    CONSTRAINT notification_status_known
        CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED')),
    CONSTRAINT one_notification_per_dedupe_key UNIQUE (dedupe_key)
);

CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (user_id, created_at);
