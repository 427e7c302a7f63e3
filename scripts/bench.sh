#!/usr/bin/env bash
# End-to-end benchmark of the release build: raw extracts -> published mart.
#
#   scripts/bench.sh [EVENTS] [MEMORY_LIMIT]
#
# EVENTS (default 1000000) is the size knob: about that many GA4 events, with leads,
# opportunities and spend in proportion (10M events ~ 500k leads). The demo generator writes
# the extracts in their real formats; the timed part is `load` (GA4 NDJSON, CRM CSVs, spend
# CSVs -> Parquet) and `run` (every model, tests, publish), each a separate process, with peak
# memory from /usr/bin/time. BENCH_DIR keeps the work folder (default: a temporary one).
#
# BENCH_ENGINE=ballista runs the models on a Ballista cluster on this machine instead: one
# `clearsight scheduler` and BENCH_EXECUTORS (default 2) `clearsight executor` processes on
# 127.0.0.1, started before `run` and stopped after it; their peak RSS is reported too.
#
# BENCH_DATA=DIR instead benchmarks against DuckDB on ../shared/bench/gen_extracts.py extracts
# (the realistic, heavy GA4 rows): a project over DIR (scripts/bench_project.py, settings from
# DIR/oracle_config.json), then ../shared/bench/duckdb_fast.py and `clearsight build` (raw files
# to published mart, one process) one after the other, each with its peak RSS, and their ratio.
# EVENTS is then ignored (the folder decides); BENCH_ROUNDS (default 1) repeats the pair.
# BENCH_NIGHTLY=1 then times a nightly build (scripts/bench_nightly.sh): the folder less its last
# GA4 day and second CRM snapshot, built, then those added and built again.
#
# BENCH_SERVE=1 then starts `clearsight serve` on the published mart and reports queries per
# second of a dashboard-like query from BENCH_SERVE_CLIENTS (default 8) psycopg clients over
# BENCH_SERVE_SECONDS (default 20) (scripts/bench_serve.py).
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-1000000}"
MEMORY="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearsight-target}"
# CLEARSIGHT_BIN: benchmark an already-built binary instead of building the release one.
if [ -z "${CLEARSIGHT_BIN:-}" ]; then
  cargo build --release --quiet
fi
BIN="${CLEARSIGHT_BIN:-$CARGO_TARGET_DIR/release/clearsight}"
WORK="${BENCH_DIR:-$(mktemp -d /tmp/clearsight-bench.XXXXXX)}"
MEM_ARGS=()
[ -n "$MEMORY" ] && MEM_ARGS=(--memory-limit "$MEMORY")

if [ -n "${BENCH_DATA:-}" ]; then
  DATA=$(cd "$BENCH_DATA" && pwd)
  python3 scripts/bench_project.py "$DATA" "$WORK" >/dev/null
  RAW_MB=$(du -sm "$DATA/ga4" | cut -f1)
  echo "GA4 NDJSON: ${RAW_MB} MB in $DATA/ga4"
  for round in $(seq "${BENCH_ROUNDS:-1}"); do
    rm -rf "$WORK/warehouse" "$WORK/duckdb"
    /usr/bin/time -f "%e %M" -o "$WORK/duckdb.time" \
      python3 "${DUCKDB_FAST:-../shared/bench/duckdb_fast.py}" --data "$DATA" --out "$WORK/duckdb" > "$WORK/duckdb.out"
    /usr/bin/time -f "%e %M" -o "$WORK/build.time" \
      "$BIN" -C "$WORK" --quiet --json "${MEM_ARGS[@]}" build > "$WORK/build.out"
    read -r d_s d_kb < "$WORK/duckdb.time"
    read -r c_s c_kb < "$WORK/build.time"
    python3 - "$WORK" "$round" "$d_s" "$d_kb" "$c_s" "$c_kb" "$RAW_MB" <<'PY'
import json, sys
work, rnd, d_s, d_kb, c_s, c_kb, raw_mb = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
# `build --json` prints the load summary, then the run's.
text, docs, at = open(f"{work}/build.out").read(), [], 0
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    doc, at = json.JSONDecoder().raw_decode(text, at)
    docs.append(doc)
load_s = next(d["seconds"] for d in docs if "files" in d)
nodes = next(d["nodes"] for d in docs if "nodes" in d)
run_s = sum(n["seconds"] for n in nodes)
print(f"round {rnd}: duckdb_fast.py {d_s:.1f}s (peak {d_kb / 1024:.0f} MB) | clearsight build "
      f"{c_s:.1f}s (peak {c_kb / 1024:.0f} MB; load {load_s:.1f}s = {raw_mb / load_s:.0f} MB/s, "
      f"models {run_s:.1f}s) | ratio {c_s / d_s:.2f}")
for n in sorted(nodes, key=lambda n: -n["seconds"])[:5]:
    share = 100 * n["seconds"] / run_s if run_s else 0
    print(f"   {n['name']:<28} {n['seconds']:7.2f}s {share:4.0f}%  {n['rows'] or 0:>10} rows")
PY
    "$BIN" -C "$WORK" --quiet query --format csv "SELECT * FROM pipeline_metrics" > "$WORK/pipeline_metrics.csv"
    python3 scripts/compare_duckdb_mart.py "$WORK/duckdb/pipeline_metrics.csv" "$WORK/pipeline_metrics.csv" || true
  done
  [ -n "${BENCH_NIGHTLY:-}" ] && scripts/bench_nightly.sh "$WORK" "$DATA" "$BIN"
  exit 0
fi
# BENCH_REUSE_DATA=1 keeps extracts already generated in BENCH_DIR (same seed, same files).
if [ -z "${BENCH_REUSE_DATA:-}" ] || [ ! -d "$WORK/demo-data" ]; then
  rm -rf "$WORK/demo-data"
  GENERATE=1
fi
rm -rf "$WORK/warehouse"
mkdir -p "$WORK"
cp -r config queries "$WORK/"

if [ -n "${GENERATE:-}" ]; then
  echo "generating ~$EVENTS GA events in $WORK/demo-data ..."
  "$BIN" -C "$WORK" --quiet demo --events "$EVENTS" --generate-only
fi
RAW_MB=$(du -sm "$WORK/demo-data" | cut -f1)

timed() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/$label.time" "$@" > "$WORK/$label.out"
  read -r secs kb < "$WORK/$label.time"
  echo "$label: ${secs}s, peak RSS $((kb / 1024)) MB"
}
timed load "$BIN" -C "$WORK" --quiet --json "${MEM_ARGS[@]}" load
ENGINE_ARGS=()
if [ "${BENCH_ENGINE:-local}" = ballista ]; then
  PORT=$((50000 + RANDOM % 10000))
  /usr/bin/time -f "%M" -o "$WORK/scheduler.rss" "$BIN" -C "$WORK" scheduler --bind "127.0.0.1:$PORT" \
    > "$WORK/scheduler.log" 2>&1 &
  sleep 1
  for i in $(seq "${BENCH_EXECUTORS:-2}"); do
    /usr/bin/time -f "%M" -o "$WORK/executor$i.rss" "$BIN" -C "$WORK" "${MEM_ARGS[@]}" executor \
      --scheduler "df://127.0.0.1:$PORT" --bind-host 127.0.0.1 --port $((PORT + 2 * i)) \
      --grpc-port $((PORT + 2 * i + 1)) > "$WORK/executor$i.log" 2>&1 &
  done
  stop_cluster() { pkill -TERM -f "^$BIN .* (scheduler|executor) .*127.0.0.1:$PORT" || true; wait || true; }
  trap stop_cluster EXIT
  ENGINE_ARGS=(--engine ballista --scheduler "df://127.0.0.1:$PORT")
fi
timed run "$BIN" -C "$WORK" --quiet --json "${MEM_ARGS[@]}" "${ENGINE_ARGS[@]}" run
if [ "${BENCH_ENGINE:-local}" = ballista ]; then
  stop_cluster
  trap - EXIT
  for f in "$WORK"/scheduler.rss "$WORK"/executor*.rss; do
    echo "$(basename "$f" .rss): peak RSS $(( $(tail -n1 "$f") / 1024 )) MB"
  done
fi
python3 - "$WORK" "$RAW_MB" <<'PY'
import json, sys
work, raw_mb = sys.argv[1], float(sys.argv[2])
load = json.load(open(f"{work}/load.out"))
run = json.load(open(f"{work}/run.out"))
t_load = float(open(f"{work}/load.time").read().split()[0])
t_run = float(open(f"{work}/run.time").read().split()[0])
rows = sum(f["rows_read"] for f in load["files"])
by_table = {}
for f in load["files"]:
    by_table[f["table"]] = by_table.get(f["table"], 0) + f["rows_loaded"]
print(f"raw extracts: {raw_mb:.0f} MB, {rows} rows ({by_table})")
print(f"load: {t_load:.2f}s  {rows / t_load:,.0f} rows/s  {raw_mb / t_load:.1f} MB/s")
print(f"run:  {t_run:.2f}s  published={run['published']}")
for n in sorted(run["nodes"], key=lambda n: -n["seconds"])[:6]:
    print(f"   {n['name']:<28} {n['seconds']:7.2f}s  {n['rows'] or 0:>10} rows")
print(f"end to end: {t_load + t_run:.2f}s")
PY

if [ -n "${BENCH_SERVE:-}" ]; then
  SPORT=$((40000 + RANDOM % 10000))
  "$BIN" -C "$WORK" serve --bind "127.0.0.1:$SPORT" > "$WORK/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null && break; sleep 0.2; done
  python3 scripts/bench_serve.py "host=127.0.0.1 port=$SPORT user=clearsight dbname=clearsight" \
    "${BENCH_SERVE_CLIENTS:-8}" "${BENCH_SERVE_SECONDS:-20}" || true
  kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
fi
