#!/usr/bin/env python3
"""One model's rows before and after a change, as compare_marts.sh exports them (CSV, header).

    scripts/compare_csv.py BEFORE_CSV AFTER_CSV MODEL

Equal when both hold the same rows, in any order, with numbers equal to 1e-9 (relative or
absolute, as math.isclose). A column only AFTER has is named and left out; a column only BEFORE
has is a difference. The files are compared in DuckDB, which sorts and joins on disk when they
outgrow memory: the touchpoints mart of 10M events is 6M rows of 23 columns, which Python's own
lists held in 17.7 GB. Exit 0 when equal, 1 (with the first difference) otherwise.
"""
import csv
import os
import sys
import tempfile

import duckdb


def header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f), [])


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def table(con, name, path, columns):
    """The CSV as text columns (no type guessing: both sides are read alike)."""
    listed = ", ".join(quoted(c) for c in columns)
    con.execute(
        f"CREATE TABLE {name} AS SELECT {listed} FROM read_csv(?, header = true, all_varchar = true)",
        [path],
    )


def same(column):
    """Both values equal as text (NULL alike), or both numbers equal to 1e-9 (math.isclose).
    Never NULL: a text, or a NULL, against another value is a difference, not an unknown that
    `WHERE NOT (...)` would let pass."""
    a, b = f"a.{quoted(column)}", f"b.{quoted(column)}"
    x, y = f"TRY_CAST({a} AS DOUBLE)", f"TRY_CAST({b} AS DOUBLE)"
    return (f"({a} IS NOT DISTINCT FROM {b} OR "
            f"COALESCE(ABS({x} - {y}) <= GREATEST(1e-9, 1e-9 * GREATEST(ABS({x}), ABS({y}))), FALSE))")


def main(before, after, model):
    # DuckDB spills its sorts next to the files (they can outgrow memory), then the folder goes.
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(after))) as spill:
        return compare(before, after, model, spill)


def compare(before, after, model, spill):
    h1, h2 = header(before), header(after)
    missing = [c for c in h1 if c not in h2]
    if missing:
        return f"{model}: columns gone: {missing}"
    added = [c for c in h2 if c not in h1]
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '4GB'")
    table(con, "a", before, h1)
    table(con, "b", after, h1)
    n_a, n_b = (con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in "ab")
    if n_a != n_b:
        return f"{model}: {n_a} rows before, {n_b} after"
    # Equal text is the common case: the same rows, whatever their order.
    strays = con.execute(
        "SELECT COUNT(*) FROM ((SELECT * FROM a EXCEPT ALL SELECT * FROM b) "
        "UNION ALL (SELECT * FROM b EXCEPT ALL SELECT * FROM a))"
    ).fetchone()[0]
    if strays:
        # Numbers written with other last digits: pair the rows in sorted order, as text.
        order = ", ".join(quoted(c) for c in h1)
        for t in "ab":
            con.execute(f"CREATE TABLE s{t} AS SELECT *, ROW_NUMBER() OVER (ORDER BY {order}) AS rn__ FROM {t}")
        differ = " AND ".join(same(c) for c in h1)
        bad = con.execute(
            f"SELECT COUNT(*) FROM sa a JOIN sb b USING (rn__) WHERE NOT ({differ})"
        ).fetchone()[0]
        if bad:
            first = con.execute(
                f"SELECT a.*, b.* FROM sa a JOIN sb b USING (rn__) WHERE NOT ({differ}) ORDER BY rn__ LIMIT 1"
            ).fetchone()
            k = len(h1) + 1
            return (f"{model}: {bad} rows differ, first:\n  before {list(first[:len(h1)])}\n"
                    f"  after  {list(first[k:k + len(h1)])}")
    note = f" (new columns: {', '.join(added)})" if added else ""
    print(f"{model}: {n_a} rows equal" + (" (numbers to 1e-9)" if strays else "") + note)
    return None


if __name__ == "__main__":
    problem = main(*sys.argv[1:4])
    if problem:
        sys.exit(problem)
