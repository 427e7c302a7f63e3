#!/usr/bin/env python3
"""Compares Clearsight's pipeline_metrics with duckdb_fast.py's, key by key.

    scripts/compare_duckdb_mart.py DUCKDB_CSV CLEARSIGHT_CSV

Keys are (month YYYY-MM, channel, campaign, attribution model); every count and amount must be
equal within 1e-6 (relative or absolute). Exit 0 when the marts are equal, 1 otherwise.
"""
import csv
import math
import sys

METRICS = ["spend", "sessions", "leads", "spam_leads", "mqls", "sqls", "opportunities",
           "won_deals", "pipeline", "revenue"]


def mart(path):
    rows = {}
    for r in csv.DictReader(open(path, newline="")):
        rows[(r["month"][:7], r["channel"], r["campaign"], r["attribution_model"])] = r
    return rows


duck, ours = mart(sys.argv[1]), mart(sys.argv[2])
problems = [f"only in duckdb_fast: {k}" for k in sorted(set(duck) - set(ours))]
problems += [f"only in clearsight: {k}" for k in sorted(set(ours) - set(duck))]
for k in sorted(set(duck) & set(ours)):
    for m in METRICS:
        a, b = float(duck[k][m] or 0), float(ours[k][m] or 0)
        if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6):
            problems.append(f"{k} {m}: duckdb_fast {a}, clearsight {b}")
if problems:
    print(f"marts differ in {len(problems)} places, first: " + "; ".join(problems[:5]))
    sys.exit(1)
print(f"marts equal: {len(ours)} rows, {len(METRICS)} metrics each")
