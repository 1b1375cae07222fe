#!/usr/bin/env bash
# Claim latency with a growing job_queue history: 10k runnable rows among 10k, 1M and 10M rows
# (the rest COMPLETED). Times the claim part of a pool's cycle statement (10 jobs, no prefetch)
# 50 times server-side on a fresh database each; needs PostgreSQL at 127.0.0.1:5432 and about
# 2 GB of disk for 10M rows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
B="$ROOT/target/release/a1c-jobs"
PSQL="psql -X -q -h 127.0.0.1 -U postgres"
for total in 10000 1000000 10000000; do
  db=a1c_scale
  $PSQL -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db $B migrate >/dev/null
  history=$((total - 10000))
  $PSQL -d $db -c "INSERT INTO job_queue (job_type, payload, status, attempts, processed_at, created_at)
      SELECT 'BENCH_NOOP', jsonb_build_object('i', g), 'COMPLETED', 1, now(), now() - interval '1 day'
      FROM generate_series(1, $history) g" \
    -c "INSERT INTO job_queue (job_type, payload) SELECT 'BENCH_NOOP', jsonb_build_object('i', g)
      FROM generate_series(1, 10000) g" -c "VACUUM ANALYZE job_queue" -c CHECKPOINT
  times=$($PSQL -d $db -At <<'SQL'
\timing off
CREATE TEMP TABLE t (ms float8);
DO $$
DECLARE i int; t0 timestamptz; n int;
BEGIN
  FOR i IN 1..50 LOOP
    t0 := clock_timestamp();
    WITH picked AS (
      SELECT id, status, priority, run_at FROM job_queue
      WHERE job_type = 'BENCH_NOOP' AND status IN ('PENDING', 'RETRY') AND run_at <= now()
        AND priority <= 9 AND attempts < max_attempts
      ORDER BY priority, run_at, id LIMIT 10 + 0 FOR UPDATE SKIP LOCKED
    ), ranked AS (
      SELECT id, status, row_number() OVER (ORDER BY priority, run_at, id) AS pos FROM picked
    ), chosen AS (
      SELECT id FROM ranked
      WHERE pos <= 10
         OR pos < (SELECT COALESCE(min(pos), 11) FROM ranked WHERE pos > 10 AND status = 'RETRY')
    ), claimed AS (
      UPDATE job_queue AS j SET status = 'PROCESSING', attempts = j.attempts + 1,
        started_at = now(), updated_at = now(), locked_by = 'scale', lease_id = gen_random_uuid(),
        lease_expires_at = now() + interval '30 seconds'
      FROM chosen WHERE j.id = chosen.id RETURNING j.id
    ) SELECT count(*) INTO n FROM claimed;
    INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
END $$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 3) FROM t;
SQL
)
  size=$($PSQL -d $db -At -c "SELECT pg_size_pretty(pg_total_relation_size('job_queue'))")
  echo "rows=$total claim_of_10_ms(p50|p95)=$times table=$size"
done
$PSQL -d postgres -c "DROP DATABASE IF EXISTS a1c_scale WITH (FORCE)"
