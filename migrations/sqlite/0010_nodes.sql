-- Nodes running against this database. Maintenance on each node upserts its row every tick, so
-- a node whose `last_seen_at` is a few ticks old has stopped (or lost the database). Times are
-- the store's fixed-width UTC text.
CREATE TABLE IF NOT EXISTS nodes (
    name         TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    CONSTRAINT nodes_seen_after_start CHECK (last_seen_at >= started_at)
);
