-- Reading reminders (SEND_REMINDER): when and how each user wants to be reminded.
-- Times are fixed-width UTC text, so comparing text compares them.
CREATE TABLE IF NOT EXISTS reminder_preferences (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reminder_type    TEXT NOT NULL,
    method           TEXT NOT NULL,
    local_time       TEXT NOT NULL DEFAULT '08:00',
    weekday          INTEGER,
    cron             TEXT,
    time_zone        TEXT,
    enabled          INTEGER NOT NULL DEFAULT 1,
    next_reminder_at TEXT,
    last_sent_at     TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT reminder_type_known CHECK (reminder_type IN ('daily', 'weekly', 'custom')),
    CONSTRAINT reminder_method_known CHECK (method IN ('email', 'push', 'in_app')),
    CONSTRAINT reminder_local_time_hh_mm CHECK (
        local_time GLOB '[0-2][0-9]:[0-5][0-9]' AND local_time <= '23:59'
    ),
    CONSTRAINT reminder_weekday_in_range CHECK (weekday IS NULL OR weekday BETWEEN 0 AND 6),
    CONSTRAINT weekly_reminder_has_weekday
        CHECK (reminder_type <> 'weekly' OR weekday IS NOT NULL),
    CONSTRAINT custom_reminder_has_cron CHECK (reminder_type <> 'custom' OR cron IS NOT NULL),
    CONSTRAINT one_reminder_per_user_type_method UNIQUE (user_id, reminder_type, method)
);

CREATE INDEX IF NOT EXISTS reminder_preferences_due
    ON reminder_preferences (next_reminder_at)
    WHERE enabled;
