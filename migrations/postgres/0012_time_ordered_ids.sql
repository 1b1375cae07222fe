-- Job ids in time order (UUID version 7: a millisecond timestamp, then random bits), as the
-- service makes its own. A new row's keys then land at the right edge of the primary key and of
-- the runnable index (which ends in id) instead of on a random page of each.
CREATE OR REPLACE FUNCTION job_queue_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(
            set_bit(
                overlay(uuid_send(gen_random_uuid())
                        PLACING substring(int8send(
                            floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                        FROM 1 FOR 6),
                52, 1),
            53, 1),
        'hex')::uuid
$$;

ALTER TABLE job_queue ALTER COLUMN id SET DEFAULT job_queue_uuid_v7();
