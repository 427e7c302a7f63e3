#!/usr/bin/env python3
"""Queries per second of `clearsight serve` for a dashboard-like query (psycopg clients).

    scripts/bench_serve.py DSN [CLIENTS] [SECONDS]

Each client holds one connection and runs, for SECONDS, the query a channel dashboard sends
when its attribution-model filter changes: revenue, pipeline, spend and ROAS by month and
channel for one model (a parameter, so through the extended protocol, as BI drivers do).
"""
import statistics, sys, threading, time

import psycopg

DASHBOARD = (
    "SELECT month, channel, sum(spend) AS spend, sum(pipeline) AS pipeline, "
    "sum(revenue) AS revenue, sum(revenue) / nullif(sum(spend), 0) AS roas "
    "FROM pipeline_metrics WHERE attribution_model = %s "
    "GROUP BY month, channel ORDER BY month, channel"
)
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "data_driven"]


def client(dsn, seconds, latencies, errors, i):
    try:
        with psycopg.connect(dsn) as conn:
            deadline = time.monotonic() + seconds
            q = i
            while time.monotonic() < deadline:
                start = time.monotonic()
                conn.execute(DASHBOARD, (MODELS[q % len(MODELS)],)).fetchall()
                latencies.append(time.monotonic() - start)
                q += 1
    except Exception as e:  # reported, not hidden
        errors.append(repr(e))


def main():
    dsn = sys.argv[1]
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20
    latencies, errors = [], []
    threads = [threading.Thread(target=client, args=(dsn, seconds, latencies, errors, i)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    lat = sorted(latencies)
    if not lat:
        sys.exit(f"no query finished: {errors[:3]}")
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"serve: {clients} clients, {len(lat)} dashboard queries in {elapsed:.1f}s: "
          f"{len(lat) / elapsed:.1f} queries/s, latency p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
          f"mean {statistics.mean(lat) * 1000:.0f} ms, errors {len(errors)}")
    if errors:
        print("  first error:", errors[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
