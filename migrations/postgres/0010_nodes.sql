-- Nodes running against this database. Maintenance on each node upserts its row every tick, so
-- a node whose `last_seen_at` is a few ticks old has stopped (or lost the database).
CREATE TABLE IF NOT EXISTS nodes (
    name         text PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    CONSTRAINT nodes_seen_after_start CHECK (last_seen_at >= started_at)
);
