"""Ratios of a1c-jobs against each peer, from the harness's RESULTS.md (medians)."""
import re
import sys


def number(text):
    text = text.replace(",", "").strip()
    match = re.match(r"^-?[0-9.]+", text)
    return float(match.group(0)) if match else None


def rows(path):
    peers, raw = {}, {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| **") and len(cells) >= 12:
            name = cells[0].strip("*")
            peers[name] = {
                "enqueue": number(cells[3]), "processed": number(cells[4]),
                "p50": number(cells[5]), "p95": number(cells[6]), "p99": number(cells[7]),
                "rss": number(cells[8]), "worker_cpu": number(cells[9]),
                "pg_cpu": number(cells[10]),
            }
        elif re.match(r"^\| on \| (1|10|100) \|", line):
            raw[int(cells[1])] = number(cells[3])
    return peers, raw


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "?"


def main():
    peers, raw = rows(sys.argv[1])
    ours = peers.get("a1c-jobs")
    if not ours:
        sys.exit("no a1c-jobs row in " + sys.argv[1])
    print("\n| against | processed jobs/s ratio | enqueue ratio | p50 ratio (lower is better) "
          "| PostgreSQL CPU ratio (lower is better) |")
    print("|---|---:|---:|---:|---:|")
    for name, peer in sorted(peers.items()):
        if name == "a1c-jobs":
            continue
        print(f"| {name} | {ratio(ours['processed'], peer['processed'])} "
              f"| {ratio(ours['enqueue'], peer['enqueue'])} | {ratio(ours['p50'], peer['p50'])} "
              f"| {ratio(ours['pg_cpu'], peer['pg_cpu'])} |")
    for batch, rate in sorted(raw.items()):
        print(f"| raw SQL claim+complete, batch {batch} | {ratio(ours['processed'], rate)} "
              "| | | |")


if __name__ == "__main__":
    main()
