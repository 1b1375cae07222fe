-- Reading reminders (SEND_REMINDER): when and how each user wants to be reminded.
CREATE TABLE IF NOT EXISTS reminder_preferences (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reminder_type    text NOT NULL,
    method           text NOT NULL,
    -- Local wall-clock time 'HH:MM' of a daily or weekly reminder.
    local_time       text NOT NULL DEFAULT '08:00',
    -- Day of a weekly reminder, Sunday 0 to Saturday 6.
    weekday          smallint,
    -- The 5-field cron expression of a custom reminder, read in the reminder's zone.
    cron             text,
    -- IANA zone; null means the user's own (users.timezone).
    time_zone        text,
    enabled          boolean NOT NULL DEFAULT true,
    -- The next slot; the sweep enqueues SEND_REMINDER once it has come.
    next_reminder_at timestamptz,
    last_sent_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reminder_type_known CHECK (reminder_type IN ('daily', 'weekly', 'custom')),
    CONSTRAINT reminder_method_known CHECK (method IN ('email', 'push', 'in_app')),
    CONSTRAINT reminder_local_time_hh_mm CHECK (local_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    CONSTRAINT reminder_weekday_in_range CHECK (weekday IS NULL OR weekday BETWEEN 0 AND 6),
    CONSTRAINT weekly_reminder_has_weekday
        CHECK (reminder_type <> 'weekly' OR weekday IS NOT NULL),
    CONSTRAINT custom_reminder_has_cron CHECK (reminder_type <> 'custom' OR cron IS NOT NULL),
    -- One reminder per user, type and method; the seed's payload names exactly these.
    CONSTRAINT one_reminder_per_user_type_method UNIQUE (user_id, reminder_type, method)
);

-- The sweep reads enabled reminders whose slot has come, every minute.
CREATE INDEX IF NOT EXISTS reminder_preferences_due
    ON reminder_preferences (next_reminder_at)
    WHERE enabled;
