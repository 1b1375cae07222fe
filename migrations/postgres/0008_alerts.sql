-- The state of each alert rule, shared by every node. A node that finds a rule firing flips
-- `firing` with a conditional statement; only the node whose statement changed the row logs
-- the change and sends the notification, so several nodes never send one alert twice.
CREATE TABLE IF NOT EXISTS alerts (
    rule text PRIMARY KEY,
    kind text NOT NULL,
    job_type text,
    firing boolean NOT NULL,
    -- The reading that made the rule fire, and the limit it crossed.
    value double precision NOT NULL,
    threshold double precision NOT NULL,
    message text NOT NULL,
    fired_at timestamptz NOT NULL,
    resolved_at timestamptz,
    updated_at timestamptz NOT NULL,
    CONSTRAINT alerts_resolved_only_when_quiet CHECK (firing = (resolved_at IS NULL))
);
