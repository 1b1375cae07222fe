-- Rescue finds rows being processed through `job_queue_status_created` (status first), so the
-- lease index only cost work: every claim added an entry to it and every renewal, changing an
-- indexed column, could not be a heap-only update.
DROP INDEX IF EXISTS job_queue_lease_expiry;
