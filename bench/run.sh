#!/usr/bin/env bash
# Runs the a1c-jobs benchmark side by side with the peers' harness (graphile-worker, pg-boss,
# procrastinate, apalis, raw SQL): the same workload, interleaved repetitions, a fresh
# database each, then one table of ratios.
#
#   bench/run.sh                                   every peer, 3 repetitions (long)
#   bench/run.sh --peer rawsql,graphile-worker-tuned,apalis,a1c-jobs --reps 1
#   bench/run.sh --report-only                     rebuild the tables from the last results
#
# Options are the harness's own (see its run.sh). PEERS_SRC names the harness (default:
# ../shared/bench/peers beside the repository); it is copied to target/bench-peers, where it
# installs its tools and writes results/ and RESULTS.md. Needs PostgreSQL at 127.0.0.1:5432.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/bench/peers}"
WORK="${BENCH_WORK:-$ROOT/target/bench-peers}"
[ -f "$PEERS_SRC/run.sh" ] || { echo "no peers harness at $PEERS_SRC (set PEERS_SRC)" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/a1c-jobs"
VERSION="$("$BIN" --version | cut -d' ' -f2)"

# Copy the harness, keeping what it installed before (node_modules, venvs, builds, results).
mkdir -p "$WORK"
(cd "$PEERS_SRC" && find . -type d \( -name node_modules -o -name .venv -o -name target \
    -o -name results -o -name .tools \) -prune -o -type f -print) |
  while read -r f; do mkdir -p "$WORK/$(dirname "$f")"; cp -f "$PEERS_SRC/$f" "$WORK/$f"; done
chmod -R u+w "$WORK"

# Our driver: the harness's five modes are `a1c-jobs bench MODE`.
mkdir -p "$WORK/a1c-jobs"
printf '#!/bin/sh\nexec "%s" bench "$@"\n' "$BIN" >"$WORK/a1c-jobs/driver"
chmod +x "$WORK/a1c-jobs/driver"

# Register it with the harness and its report.
sed -i 's/^PEERS_ALL="\(.*\)"$/PEERS_ALL="\1 a1c-jobs"/' "$WORK/run.sh"
sed -i '/^    rawsql) .*PEER_DIR=rawsql/i\    a1c-jobs)              PEER_DIR=a1c-jobs; CMD=(./driver) ;;' "$WORK/run.sh"
python3 - "$WORK/lib/report.py" "$VERSION" <<'PY'
import sys
path, version = sys.argv[1], sys.argv[2]
text = open(path).read()
entry = '    ("a1c-jobs", "a1c-jobs", "pool concurrency 10, batch 500, prefetch 1000, LISTEN/NOTIFY + 1 s poll"),\n'
text = text.replace("QUEUE_PEERS = [\n", "QUEUE_PEERS = [\n" + entry, 1)
text = text.replace(
    "    return v, detail\n",
    f'    v["a1c-jobs"] = "{version}"\n'
    f'    detail["a1c-jobs"] = "a1c-jobs {version}, " + cmd(["rustc", "--version"]) + ", release build"\n'
    "    return v, detail\n", 1)
text = text.replace('("graphile-worker", "pg-boss", "procrastinate", "apalis", "rawsql")',
                    '("a1c-jobs", "graphile-worker", "pg-boss", "procrastinate", "apalis", "rawsql")')
open(path, "w").write(text)
PY

(cd "$WORK" && ./run.sh "$@")
python3 "$ROOT/bench/ratios.py" "$WORK/RESULTS.md"
