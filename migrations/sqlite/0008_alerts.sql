-- The state of each alert rule, shared by every node. A node that finds a rule firing flips
-- `firing` with a conditional statement; only the node whose statement changed the row logs
-- the change and sends the notification, so several nodes never send one alert twice.
CREATE TABLE IF NOT EXISTS alerts (
    rule TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    job_type TEXT,
    firing INTEGER NOT NULL CHECK (firing IN (0, 1)),
    -- The reading that made the rule fire, and the limit it crossed.
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    message TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    resolved_at TEXT,
    updated_at TEXT NOT NULL,
    CONSTRAINT alerts_resolved_only_when_quiet CHECK (firing = (resolved_at IS NULL))
);
