-- The app may write SQLite's own time format ('YYYY-MM-DD HH:MM:SS', CURRENT_TIMESTAMP,
-- datetime('now', ...)) into job_queue. Claims compare times as text, so every time is
-- rewritten to the fixed-width UTC form on insert; text that is no time is refused.
CREATE TRIGGER IF NOT EXISTS job_queue_times_refused
    BEFORE INSERT ON job_queue
    FOR EACH ROW
    WHEN strftime('%s', NEW.run_at) IS NULL
        OR strftime('%s', NEW.created_at) IS NULL
        OR strftime('%s', NEW.updated_at) IS NULL
BEGIN
    SELECT RAISE(ABORT, 'job_queue: run_at, created_at and updated_at must be times');
END;

CREATE TRIGGER IF NOT EXISTS job_queue_times_normalized
    AFTER INSERT ON job_queue
    FOR EACH ROW
    WHEN NEW.run_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'
        OR NEW.created_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'
        OR NEW.updated_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'
        OR length(NEW.run_at) <> 24
        OR length(NEW.created_at) <> 24
        OR length(NEW.updated_at) <> 24
BEGIN
    UPDATE job_queue
    SET run_at = strftime('%Y-%m-%dT%H:%M:%fZ', NEW.run_at),
        created_at = strftime('%Y-%m-%dT%H:%M:%fZ', NEW.created_at),
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', NEW.updated_at)
    WHERE id = NEW.id;
END;
