#!/usr/bin/env python3
"""Where a PostgreSQL run spends its backends' time, by statement: samples pg_stat_activity.

    crates/ucwa-bench/pg-activity.py "$UCWA_TEST_POSTGRES_URL" [SAMPLES] [INTERVAL_MS]

Run it while a benchmark drives the server (docs/BENCHMARKS.md, issue 9, "Third look"). Every
INTERVAL_MS (default 5) it reads what each client backend is doing; at the end it prints, per
state and statement, how many samples found a backend there. "CPU" is an active backend with
no wait event: on a core or waiting for one. pg_stat_statements times include lock waits;
these counts separate them. One psql session does all the reads, so sampling costs little.
"""
import collections
import subprocess
import sys
import time

url = sys.argv[1]
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 800
interval = (int(sys.argv[3]) if len(sys.argv) > 3 else 5) / 1000

QUERY = (
    "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '') || ' | '"
    " || left(regexp_replace(query, '\\s+', ' ', 'g'), 60)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " AND state = 'active';"
    " SELECT 'END';\n"
)
psql = subprocess.Popen(["psql", url, "-Atq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
counts = collections.Counter()
for _ in range(samples):
    psql.stdin.write(QUERY)
    psql.stdin.flush()
    while (line := psql.stdout.readline().strip()) != "END":
        counts[line] += 1
    time.sleep(interval)
psql.stdin.close()
for what, n in counts.most_common(30):
    print(f"{n:6} {what}")
